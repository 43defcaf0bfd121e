"""`mesostack down`: remove the stack's containers and the task containers its agents run."""

from __future__ import annotations

import click

from mesostack.cli._common import Options


@click.command()
@click.option("--purge", is_flag=True, help="Also delete persistent state (the data_dirs).")
@click.option("--grace", type=click.IntRange(min=0), default=5, show_default=True,
              metavar="SECONDS",
              help="How long a container with a data_dir, or a task container, gets after "
              "SIGTERM; the others hold no state and are killed at once.")
@click.pass_obj
def down(options: Options, purge: bool, grace: int) -> None:
    """Stop and remove the stack (found by its labels), then its task containers."""
    from mesostack import console

    stack = options.stack()
    done = stack.down(purge=purge, grace=grace)
    for directory in done.purged:
        console.info(f"deleted {directory}")
    if not done.removed:
        console.info(f"stack {stack.name}: nothing to remove")
        return
    tasks = len(done.task_containers)
    console.info(f"stack {stack.name}: removed {len(done.removed)} containers and {tasks} task "
                 f"container{'s' if tasks != 1 else ''} in {done.seconds:.1f} s")
