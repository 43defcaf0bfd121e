"""`mesostack ls`: the stacks on this engine."""

from __future__ import annotations

import click

from mesostack.cli._common import engine


@click.command(name="ls")
def ls() -> None:
    """List the stacks on the Docker engine (name, components, ready or not)."""
    from mesostack import console, orchestrator

    stacks = orchestrator.list_stacks(engine=engine())
    if not stacks:
        console.info("no stacks on this engine")
        return
    console.stacks_table(stacks)


COMMANDS = [ls]
