"""The `mesostack` command: click commands, thin; every exit happens here.

Each command's module is imported only when that command runs (`mesostack --help` imports none
of them), so a command pays only for the libraries it uses."""

from __future__ import annotations

import atexit
import gc
import importlib
import os
import sys

import click

from mesostack import __version__
from mesostack.cli._common import Options
from mesostack.errors import ExitCode, MesostackError

# name -> (module under mesostack.cli, function, the help's first line). The first line is
# what `mesostack --help` lists; a unit test checks it against each command's docstring.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "up": ("up", "up",
           "Create and start the stack; each stage waits until the previous one is ready."),
    "down": ("down", "down",
             "Stop and remove the stack (found by its labels), then its task containers."),
    "status": ("status", "status",
               "Show the stack's state; exit 1 unless every component is ready (a CI check)."),
    "logs": ("logs", "logs",
             "Print the log of COMPONENT (zookeeper, master, slave or agent, marathon)."),
    "ls": ("ls", "ls", "List the stacks on the Docker engine (name, components, ready or not)."),
    "doctor": ("doctor", "doctor",
               "Check this host and engine for the stack; exit 1 when a blocking check fails."),
    "deploy": ("deploy", "deploy",
               "Create or update the apps or groups in FILE... (JSON or YAML) and follow them."),
    "apps": ("apps_cmd", "apps", "List Marathon's apps: instances, running, healthy, deployments."),
    "remove": ("apps_cmd", "remove",
               "Remove APP_ID from Marathon (and wait until its tasks are gone)."),
    "scale": ("apps_cmd", "scale", "Run INSTANCES tasks of APP_ID."),
    "rollback": ("rollback", "rollback",
                 "Roll APP back to VERSION (by default the one before the current) and follow it."),
    "task-logs": ("apps_cmd", "task_logs",
                  "Print the output of APP_ID's tasks, read from their sandboxes on the agents."),
    "bundle": ("bundle_cmd", "bundle",
               "Collect the stack's logs, state and config into one .tar.gz, secrets masked."),
    "smoke": ("smoke", "smoke",
              "Smoke-test the stack: doctor, up, deploy, each app's output, status, then down."),
    "init": ("init_cmd", "init",
             "Write a commented stack file (-f PATH, else ./stack.yaml) for a preset."),
    "config": ("config_cmd", "config", "Print the effective stack.yaml, every default filled in."),
    "schema": ("config_cmd", "schema", "Print the JSON Schema of stack.yaml (for editors)."),
}


class LazyGroup(click.Group):
    """click's lazily loading group (its documentation's "LazyGroup"), with the commands'
    short help taken from COMMANDS so that `--help` loads no command either."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module, function, _ = COMMANDS[cmd_name]
            command = getattr(importlib.import_module(f"mesostack.cli.{module}"), function)
            if not isinstance(command, click.Command):
                raise TypeError(f"mesostack.cli.{module}.{function} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's own listing, over stand-ins that carry only each unloaded command's help."""
        listed = [self.commands.get(name) or click.Command(name, help=COMMANDS[name][2])
                  for name in self.list_commands(ctx)]
        click.Group(commands=listed).format_commands(ctx, formatter)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mesostack")
@click.option(
    "-f",
    "--file",
    "file",
    envvar="MESOSTACK_FILE",
    metavar="PATH",
    help="The stack file. [default: ./stack.yaml when present, else the tutorial's stack]",
)
@click.option(
    "--host-ip",
    "host_ip",
    envvar="MESOSTACK_HOST_IP",
    metavar="IP",
    help="The address the stack binds and advertises, over the file's `host_ip` (an IPv4 "
         "address or `auto`; env MESOSTACK_HOST_IP).",
)
@click.pass_context
def cli(ctx: click.Context, file: str | None, host_ip: str | None) -> None:
    """Stand up ZooKeeper + Apache Mesos + Marathon as Docker containers from one stack.yaml."""
    ctx.obj = Options(file=file, host_ip=host_ip, command=ctx.invoked_subcommand)


# At exit the interpreter's last garbage collections walk every object still alive: about
# 0.15 s here once pydantic and requests are loaded, against 0.01 s for a bare interpreter.
# Nothing needs collecting then (files are flushed and sockets closed by the exit itself), so
# the last exit handler moves every object out of the collector's sight.
atexit.register(gc.freeze)


def main(argv: list[str] | None = None) -> None:
    """Run the command line; map domain errors to one stderr line and an exit code."""
    # pydantic looks for its plugins (every installed distribution's entry points) before it
    # builds the stack file's model: a few ms of every command, for plugins that observe the
    # validation of a program's own models, not a command's stack file.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    try:
        rc = cli.main(args=argv, prog_name="mesostack", standalone_mode=False)
    except MesostackError as exc:
        from mesostack import console

        console.error(str(exc), detail=exc.detail)
        sys.exit(int(exc.exit_code))
    except (click.exceptions.Abort, KeyboardInterrupt):
        from mesostack import console

        console.note("mesostack: interrupted")
        sys.exit(int(ExitCode.INTERRUPTED))
    except click.ClickException as exc:
        exc.show()  # click's usage message, as click prints it
        sys.exit(exc.exit_code)
    sys.exit(rc if isinstance(rc, int) else int(ExitCode.OK))
