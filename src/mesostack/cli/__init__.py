"""The `mesostack` command: click commands, thin; every exit happens here."""

from __future__ import annotations

import sys

import click

from mesostack import __version__
from mesostack.errors import ExitCode, MesostackError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mesostack")
def cli() -> None:
    """Stand up ZooKeeper + Apache Mesos + Marathon as Docker containers from one stack.yaml."""


def main(argv: list[str] | None = None) -> None:
    """Run the command line; map domain errors to one stderr line and an exit code."""
    try:
        rc = cli.main(args=argv, prog_name="mesostack", standalone_mode=False)
    except MesostackError as exc:
        click.echo(f"mesostack: error: {exc}", err=True)
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
