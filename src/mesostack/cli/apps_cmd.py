"""`mesostack apps`, `remove`, `scale` and `task-logs`: the apps Marathon runs."""

from __future__ import annotations

import click

from mesostack.cli import completion
from mesostack.cli._common import Options
from mesostack.cli._marathon import marathon_options, settle_option, wait_options


@click.command()
@marathon_options
@click.option("--output", "-o", type=click.Choice(("table", "json")), default="table",
              show_default=True)
@click.pass_obj
def apps(options: Options, marathon_url: str | None, credentials: str | None,
         output: str) -> None:
    """List Marathon's apps: instances, running, healthy, deployments."""
    import json
    from dataclasses import asdict

    from mesostack import console

    stack = options.stack(marathon_url=marathon_url, credentials=credentials)
    rows = [asdict(row) for row in stack.apps()]
    if output == "json":
        console.result(json.dumps(rows, indent=2))
    elif not rows:
        console.info("no apps")
    else:
        console.apps_table(rows)


@click.command()
@click.argument("app_id", shell_complete=completion.app_ids)
@marathon_options
@wait_options
@click.pass_obj
def remove(  # noqa: PLR0913 (click passes each option as a parameter)
    options: Options, app_id: str, marathon_url: str | None, credentials: str | None,
    wait: bool, timeout: float, force: bool,
) -> None:
    """Remove APP_ID from Marathon (and wait until its tasks are gone)."""
    from mesostack import console

    stack = options.stack(marathon_url=marathon_url, credentials=credentials)
    done = stack.remove(app_id, wait=wait, timeout=timeout, force=force)
    if done.followed:
        console.info(f"removed {app_id} in {done.seconds:.1f} s")


@click.command()
@click.argument("app_id", shell_complete=completion.app_ids)
@click.argument("instances", type=click.IntRange(min=0))
@marathon_options
@wait_options
@settle_option
@click.pass_obj
def scale(  # noqa: PLR0913 (click passes each option as a parameter)
    options: Options, app_id: str, instances: int, marathon_url: str | None,
    credentials: str | None, wait: bool, timeout: float, settle: float, force: bool,
) -> None:
    """Run INSTANCES tasks of APP_ID."""
    from mesostack import console

    stack = options.stack(marathon_url=marathon_url, credentials=credentials)
    done = stack.scale(app_id, instances, wait=wait, timeout=timeout, settle=settle, force=force)
    if done.followed:
        console.info(f"{done.app_id}: {instances} running")


@click.command(name="task-logs")
@click.argument("app_id", shell_complete=completion.app_ids)
@marathon_options
@click.option("-f", "--follow", is_flag=True, help="Keep printing new output.")
@click.option("--stderr", "stream", flag_value="stderr", help="The tasks' stderr.")
@click.option("--stdout", "stream", flag_value="stdout", default=True,
              help="The tasks' stdout. [default]")
@click.pass_obj
def task_logs(options: Options, app_id: str, marathon_url: str | None, credentials: str | None,
              follow: bool, stream: str) -> None:
    """Print the output of APP_ID's tasks, read from their sandboxes on the agents."""
    from mesostack import console

    stack = options.stack(marathon_url=marathon_url, credentials=credentials)
    for text in stack.task_logs(app_id, stream=stream, follow=follow):
        console.result(text)
