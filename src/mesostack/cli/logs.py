"""`mesostack logs`: a component's container log (all of them, prefixed, without one)."""

from __future__ import annotations

import click

from mesostack.cli import completion
from mesostack.cli._common import Options


@click.command()
@click.argument("component", required=False, metavar="[COMPONENT]",
                shell_complete=completion.components)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines.")
@click.option("--tail", default="all", show_default=True, metavar="N",
              help="Only the last N lines of each log.")
@click.pass_obj
def logs(options: Options, component: str | None, follow: bool, tail: str) -> None:
    """Print the log of COMPONENT (zookeeper, master, slave or agent, marathon)."""
    from mesostack import console

    for text in options.stack().logs(component, follow=follow, tail=tail):
        console.result(text)
