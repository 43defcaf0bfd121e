"""`mesostack ls`: the stacks on this engine."""

from __future__ import annotations

import click

from mesostack.cli._common import Options, engines


@click.command(name="ls")
@click.pass_obj
def ls(options: Options) -> None:
    """List the stacks on the Docker engine (name, components, ready or not)."""
    from mesostack import console, discovery, orchestrator

    docker = engines(options, also_default=True)
    stacks = orchestrator.list_stacks(engines=docker)
    if not stacks:
        console.info("no stacks on this engine")
        return
    console.stacks_table(stacks, files=discovery.files(docker.containers(inspect=False)))
