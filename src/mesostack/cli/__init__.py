"""The `mesostack` command: click commands, thin; every exit happens here."""

from __future__ import annotations

import sys

import click

from mesostack import __version__
from mesostack.cli._common import Options
from mesostack.errors import ExitCode, MesostackError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mesostack")
@click.option(
    "-f",
    "--file",
    "file",
    envvar="MESOSTACK_FILE",
    metavar="PATH",
    help="The stack file. [default: ./stack.yaml when present, else the tutorial's stack]",
)
@click.pass_context
def cli(ctx: click.Context, file: str | None) -> None:
    """Stand up ZooKeeper + Apache Mesos + Marathon as Docker containers from one stack.yaml."""
    ctx.obj = Options(file=file)


def _register() -> None:
    from mesostack.cli import (
        apps_cmd,
        bundle_cmd,
        config_cmd,
        deploy,
        doctor,
        down,
        init_cmd,
        logs,
        ls,
        status,
        up,
    )

    for module in (init_cmd, up, down, status, logs, bundle_cmd, ls, doctor, deploy, apps_cmd,
                   config_cmd):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> None:
    """Run the command line; map domain errors to one stderr line and an exit code."""
    try:
        rc = cli.main(args=argv, prog_name="mesostack", standalone_mode=False)
    except MesostackError as exc:
        click.echo(f"mesostack: error: {exc}", err=True)
        if exc.detail:
            click.echo(exc.detail, err=True)
        sys.exit(int(exc.exit_code))
    except click.exceptions.Abort:
        click.echo("mesostack: interrupted", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("mesostack: interrupted", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    sys.exit(rc if isinstance(rc, int) else int(ExitCode.OK))
