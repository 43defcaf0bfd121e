"""`mesostack logs`: a component's container log (all of them, prefixed, without one)."""

from __future__ import annotations

import queue
import threading

import click

from mesostack.cli._common import Options, engine
from mesostack.errors import InputError

ROLES = ("zookeeper", "master", "slave", "marathon")


@click.command()
@click.argument("component", required=False, metavar="[COMPONENT]")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines.")
@click.option("--tail", default="all", show_default=True, metavar="N",
              help="Only the last N lines of each log.")
@click.pass_obj
def logs(options: Options, component: str | None, follow: bool, tail: str) -> None:
    """Print the log of COMPONENT (zookeeper, master, slave or agent, marathon)."""
    from mesostack import console

    if tail != "all" and not tail.isdigit():
        raise InputError(f"--tail {tail}: expected a number of lines or `all`")
    lines: int | str = int(tail) if tail.isdigit() else "all"
    role = "slave" if component == "agent" else component
    if role is not None and role.rstrip("0123456789").rstrip("-") not in ROLES:
        raise InputError(f"no component {component!r}: choose one of {', '.join(ROLES)}, agent")
    stack = options.stack_name()
    docker = engine()
    containers = [c for c in docker.containers(stack=stack)
                  if role is None or c.role == role or c.name == f"{stack}-{role}"]
    if not containers:
        what = f"a {component} container" if component else "containers"
        raise InputError(f"stack {stack} has no {what}", hint="run `mesostack up` first")
    containers.sort(key=lambda c: ROLES.index(c.role) if c.role in ROLES else len(ROLES))
    prefix = len(containers) > 1
    if not follow:
        for c in containers:
            text = docker.logs(c.name, tail=lines)
            console.result("".join(f"{c.name} | {line}\n" for line in text.splitlines())
                           if prefix else text)
        return
    merged: queue.Queue[str | None] = queue.Queue()

    def pump(name: str) -> None:
        for line in docker.follow_logs(name, tail=lines):
            merged.put(f"{name} | {line}" if prefix else line)
        merged.put(None)

    for c in containers:
        threading.Thread(target=pump, args=(c.name,), daemon=True).start()
    open_streams = len(containers)
    while open_streams:
        line = merged.get()
        if line is None:
            open_streams -= 1
        else:
            console.result(line)


COMMANDS = [logs]
