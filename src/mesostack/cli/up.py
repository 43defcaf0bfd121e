"""`mesostack up`: the stack, created in dependency order, ready when it says so."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mesostack.cli._common import Options, engines, tasks_said

if TYPE_CHECKING:
    from mesostack.plan import Plan

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
    from mesostack.plan import dry_run as render

    plan, where = options.plan(strict=True)
    if dry_run:  # no engine, no host checks: only the plan (and no heavy imports)
        console.note(where)
        console.result(render(plan, show_secrets=show_secrets))
        return
    from mesostack import orchestrator
    from mesostack.events import PullPolicy

    said: list[Plan] = []

    def first_line(resolved: Plan) -> None:  # the agents' `tasks: auto` chosen, then again
        if said:  # when a --privileged trial after the pulls changed it
            console.info(tasks_said(resolved).removeprefix("; "))
        else:
            console.note(where + tasks_said(resolved))
        said.append(resolved)

    settings = orchestrator.UpSettings(pull=PullPolicy(pull), timeout=timeout,
                                       on_resolved=first_line)
    try:
        docker = engines(options)
        with console.progress(f"mesostack up: {plan.stack}") as report:
            done = orchestrator.up(plan, engines=docker, report=report, settings=settings)
    except BaseException:
        if not said:  # failed before that: still say which stack it was
            console.note(where)
        raise
    changed = f"{len(done.changed)} changed" if done.changed else "nothing changed"
    console.info(f"stack {plan.stack} ready in {done.seconds:.1f} s ({changed})")
    console.result("".join(f"{name}: {url}\n" for name, url in done.urls.items()))
