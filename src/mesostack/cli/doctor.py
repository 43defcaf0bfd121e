"""`mesostack doctor`: the preflight checks as a table, each failure with its fix."""

from __future__ import annotations

import click

from mesostack.cli._common import Options


@click.command()
@click.pass_obj
def doctor(options: Options) -> int:
    """Check this host and engine for the stack; exit 1 when a blocking check fails."""
    from mesostack import console

    stack = options.stack()
    stack.plan(strict=True)
    console.info(stack.where)
    found = stack.doctor()
    console.checks_table([(c.name, c.verdict.value, c.found, c.fix) for c in found])
    failed = [c for c in found if c.blocking]
    if failed:
        console.info(f"{len(failed)} blocking problem{'s' if len(failed) > 1 else ''}: "
                     f"{failed[0].found}")
        return 1
    return 0
