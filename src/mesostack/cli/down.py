"""`mesostack down`: remove the stack's containers and the task containers its agents run."""

from __future__ import annotations

import click

from mesostack.cli._common import Options, engines


@click.command()
@click.option("--purge", is_flag=True, help="Also delete persistent state (the data_dirs).")
@click.option("--grace", type=click.IntRange(min=0), default=5, show_default=True,
              metavar="SECONDS",
              help="How long a container with a data_dir, or a task container, gets after "
              "SIGTERM; the others hold no state and are killed at once.")
@click.pass_obj
def down(options: Options, purge: bool, grace: int) -> None:
    """Stop and remove the stack (found by its labels), then its task containers."""
    from mesostack import console, orchestrator

    config = options.load().config
    stack = config.name
    data_dirs = [d for d in (config.component(r).data_dir for r in config.ROLES) if d]
    docker = engines(options)
    with console.progress(f"mesostack down: {stack}") as report:
        done = orchestrator.down(stack, engines=docker, purge=purge, data_dirs=data_dirs,
                                 grace=grace, report=report)
    for agent in done.unreachable_agents:
        console.warn(f"agent {agent} was not running or did not answer; its task containers "
                     "(named mesos-*) may remain")
    for directory in done.purged:
        console.info(f"deleted {directory}")
    if not done.removed:
        console.info(f"stack {stack}: nothing to remove")
        return
    tasks = len(done.task_containers)
    console.info(f"stack {stack}: removed {len(done.removed)} containers and {tasks} task "
                 f"container{'s' if tasks != 1 else ''} in {done.seconds:.1f} s")
