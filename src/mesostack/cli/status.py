"""`mesostack status`: each component's container, readiness and role; exit 0 only when ready."""

from __future__ import annotations

import click

from mesostack.cli._common import Options


@click.command()
@click.option("--output", "-o", type=click.Choice(("table", "json")), default="table",
              show_default=True)
@click.pass_obj
def status(options: Options, output: str) -> int:
    """Show the stack's state; exit 1 unless every component is ready (a CI check)."""
    from mesostack import console

    stack = options.stack()
    look = stack.status()
    if output == "json":
        console.status_json(look)
    elif not look.components:
        console.info(f"stack {stack.name}: no containers (run `mesostack up`)")
    else:
        console.status_table(look)
    return 0 if look.ready else 1
