"""`mesostack bundle`: one .tar.gz with the stack's logs, state and config, secrets masked."""

from __future__ import annotations

import click

from mesostack.cli._common import Options


@click.command()
@click.option("-o", "--output", metavar="PATH",
              help="The file to write, or a directory to write it in; never overwritten. "
                   "[default: ./mesostack-bundle-<stack>-<UTC time>.tar.gz]")
@click.option("--timeout", type=click.FloatRange(min=1), default=120.0, show_default=True,
              metavar="SECONDS", help="Bound for collecting; what is not done by then is "
                                      "named in the bundle's manifest.")
@click.pass_obj
def bundle(options: Options, output: str | None, timeout: float) -> None:
    """Collect the stack's logs, state and config into one .tar.gz, secrets masked.

    Every container's log and inspect data (task containers too), the masters' and agents'
    state, Marathon's apps, deployments and queue, the ZooKeeper tree, the effective stack.yaml
    and versions. Best effort: what can't be collected is named in the bundle's README.txt."""
    from mesostack import console

    stack = options.stack()
    console.note(stack.where)
    made = stack.bundle(output, timeout=timeout)
    console.info(made.summary)
    console.result(f"{made.path}\n")
