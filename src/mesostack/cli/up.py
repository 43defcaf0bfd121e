"""`mesostack up`: the stack, created in dependency order, ready when it says so."""

from __future__ import annotations

import click

from mesostack.cli._common import Options

PULL_POLICIES = ("missing", "always", "never")


@click.command()
@click.option("--dry-run", is_flag=True,
              help="Print the equivalent `docker run` lines, in start order; touch nothing.")
@click.option("--show-secrets", is_flag=True,
              help="With --dry-run: show secret-looking variables' values instead of ***.")
@click.option("--pull", type=click.Choice(PULL_POLICIES), default="missing", show_default=True,
              help="When to pull images (credentials from `docker login`).")
@click.option("--timeout", type=click.FloatRange(min=1), default=300.0, show_default=True,
              metavar="SECONDS", help="Bound for the whole `up`, pulls included.")
@click.pass_obj
def up(options: Options, dry_run: bool, show_secrets: bool, pull: str, timeout: float) -> None:
    """Create and start the stack; each stage waits until the previous one is ready."""
    from mesostack import console

    stack = options.stack()
    if dry_run:  # no engine, no host checks: only the plan (and no heavy imports)
        text = stack.dry_run(show_secrets=show_secrets)
        console.note(stack.where)
        console.result(text)
        return
    done = stack.up(pull=pull, timeout=timeout)
    changed = f"{len(done.changed)} changed" if done.changed else "nothing changed"
    console.info(f"stack {done.plan.stack} ready in {done.seconds:.1f} s ({changed})")
    console.result("".join(f"{name}: {url}\n" for name, url in done.urls.items()))
