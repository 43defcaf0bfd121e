"""`mesostack logs`: a component's container log (all of them, prefixed, without one)."""

from __future__ import annotations

import click

from mesostack.cli._common import Options, engines
from mesostack.errors import InputError, MesostackError

ROLES = ("zookeeper", "master", "slave", "marathon")


@click.command()
@click.argument("component", required=False, metavar="[COMPONENT]")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines.")
@click.option("--tail", default="all", show_default=True, metavar="N",
              help="Only the last N lines of each log.")
@click.pass_obj
def logs(options: Options, component: str | None, follow: bool, tail: str) -> None:
    """Print the log of COMPONENT (zookeeper, master, slave or agent, marathon)."""
    from mesostack import console, masking

    if tail != "all" and not tail.isdigit():
        raise InputError(f"--tail {tail}: expected a number of lines or `all`")
    lines: int | str = int(tail) if tail.isdigit() else "all"
    role = "slave" if component == "agent" else component
    if role is not None and role.rstrip("0123456789").rstrip("-") not in ROLES:
        raise InputError(f"no component {component!r}: choose one of {', '.join(ROLES)}, agent")
    stack = options.stack_name()
    docker = engines(options)
    containers = [c for c in docker.containers(stack=stack)
                  if role is None or c.name == f"{stack}-{role}"
                  or (c.role == role and not role[-1].isdigit())]
    if not containers:
        what = f"a {component} container" if component else "containers"
        raise MesostackError(f"stack {stack} has no {what}", hint="run `mesostack up` first")
    containers.sort(key=lambda c: (ROLES.index(c.role) if c.role in ROLES else len(ROLES),
                                   c.name))
    prefix = len(containers) > 1
    # Components print their own flags (Marathon its credentials): mask every secret value the
    # stack's containers were given, wherever a log line shows it.
    secrets = set().union(*(masking.secret_values(c.env) for c in docker.containers(stack=stack)))
    if not follow:
        for c in containers:
            text = masking.mask_text(docker.engine_of(c).logs(c.name, tail=lines), secrets)
            console.result("".join(f"{c.name} | {line}\n" for line in text.splitlines())
                           if prefix else text)
        return
    for name, line in docker.follow_many(containers, tail=lines):
        line = masking.mask_text(line, secrets)
        console.result(f"{name} | {line}" if prefix else line)
