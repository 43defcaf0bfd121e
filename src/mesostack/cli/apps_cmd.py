"""`mesostack apps`, `remove`, `scale` and `task-logs`: the apps Marathon runs."""

from __future__ import annotations

import codecs
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import click

from mesostack.cli import completion
from mesostack.cli._common import Options
from mesostack.cli._marathon import (
    Limits,
    client,
    follow_live,
    marathon_options,
    master_endpoint,
    settle_option,
    wait_options,
)
from mesostack.errors import MesostackError
from mesostack.waiting import SYSTEM, Clock, Pending, Poll, wait

if TYPE_CHECKING:
    from mesostack.mesos import Http, Sandbox


@click.command()
@marathon_options
@click.option("--output", "-o", type=click.Choice(("table", "json")), default="table",
              show_default=True)
@click.pass_obj
def apps(options: Options, marathon_url: str | None, credentials: str | None,
         output: str) -> None:
    """List Marathon's apps: instances, running, healthy, deployments."""
    import json

    from mesostack import console

    api = client(options, marathon_url, credentials)
    rows = [{
        "id": app.get("id", "?"),
        "instances": int(app.get("instances", 0)),
        "running": int(app.get("tasksRunning", 0)),
        "staged": int(app.get("tasksStaged", 0)),
        "healthy": int(app.get("tasksHealthy", 0)),
        "deployments": [d.get("id") for d in app.get("deployments") or []],
    } for app in api.apps()]
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
    from mesostack.marathon import wait_removed

    api = client(options, marathon_url, credentials)
    deployment = api.remove(app_id, force=force)
    console.info(f"removing {app_id} (deployment {deployment or 'none'})")
    if wait:
        started = time.monotonic()
        wait_removed(api, app_id, deployment, timeout=timeout)
        console.info(f"removed {app_id} in {time.monotonic() - started:.1f} s")


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
    from mesostack.marathon import Submitted

    api = client(options, marathon_url, credentials)
    started = time.time()
    deployment = api.scale(app_id, instances, force=force)
    console.info(f"scaling {app_id} to {instances} (deployment {deployment or 'none'})")
    if wait:
        app = "/" + app_id.strip("/")
        follow_live(options, api, Submitted((deployment,) if deployment else (), (app,), False,
                                            started), limits=Limits(timeout, settle),
                    title=f"mesostack scale: {app}")
        console.info(f"{app}: {instances} running")


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
    from mesostack import console, mesos

    api = client(options, marathon_url, credentials)
    tasks = api.tasks(app_id)
    if not tasks:
        raise MesostackError(f"app {app_id} has no tasks yet", hint="see `mesostack apps`")
    master = master_endpoint(options, api)
    sandboxes = []
    for task in tasks:
        try:
            sandbox = mesos.task_sandbox(master, str(task.get("slaveId", "")),
                                         str(task.get("id", "")))
        except mesos.Unanswered as exc:
            raise MesostackError(f"task {task.get('id')}: can't find its sandbox: waiting for "
                                 f"{exc.message}", hint="is the agent up? see `mesostack status`"
                                 ) from None
        sandboxes.append((str(task.get("id")), sandbox))
    print_logs(sandboxes, stream, follow=follow, show=console.result)


LOG_INTERVAL = 0.5  # seconds between reads of the sandboxes with --follow


class TaskOutput:
    """One task's stream as read so far: where the next read starts (in bytes of the file),
    the bytes of a character a read cut (held by the decoder until the rest comes) and the
    line not finished yet, so that nothing is garbled, skipped or split where reads end."""

    def __init__(self, task_id: str, sandbox: Sandbox, *, prefix: bool) -> None:
        self.task_id, self.sandbox, self.prefix = task_id, sandbox, prefix
        self.offset = 0
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.line = ""  # the start of a line whose end has not come yet

    def read(self, stream: str, *, http: Http | None) -> str:
        """The whole lines that came since the last read (each ending in a newline, prefixed
        with the task's id when there are several tasks): reads until the agent has no more."""
        from mesostack import mesos

        while True:
            try:
                data, self.offset = mesos.read_sandbox(self.sandbox, stream, self.offset,
                                                       http=http)
            except mesos.Unanswered as exc:
                raise MesostackError(f"task {self.task_id}: can't read its {stream}: "
                                     f"{exc.message}") from None
            self.line += self.decoder.decode(data)
            if len(data) < mesos.READ_CHUNK:
                break
        done, newline, self.line = self.line.rpartition("\n")
        return "".join(self._shown(line) + "\n" for line in done.split("\n")) if newline else ""

    def rest(self) -> str:
        """The last line, not ended by a newline (without a character the task has only
        begun to write)."""
        return self._shown(self.line) if self.line else ""

    def _shown(self, line: str) -> str:
        return f"{self.task_id} | {line}" if self.prefix else line


def print_logs(
    sandboxes: Sequence[tuple[str, Sandbox]],
    stream: str,
    *,
    follow: bool,
    show: Callable[[str], None],
    http: Http | None = None,
    clock: Clock = SYSTEM,
) -> None:
    """Each task's `stream` (stdout, stderr) from its sandbox, its lines prefixed with the
    task's id when there are several; with `follow`, new output as it comes, without end
    (a line is shown once it is whole)."""
    outputs = [TaskOutput(task_id, sandbox, prefix=len(sandboxes) > 1)
               for task_id, sandbox in sandboxes]

    def read() -> None:
        for output in outputs:
            text = output.read(stream, http=http) + ("" if follow else output.rest())
            if text:
                show(text)
        if follow:
            raise Pending(f"more of the tasks' {stream}")

    wait(read, deadline=None, poll=Poll(LOG_INTERVAL), clock=clock)
