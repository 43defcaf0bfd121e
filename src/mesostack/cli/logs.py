"""`mesostack logs`: a component's container log (all of them, prefixed, without one)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

import click

from mesostack.cli import completion
from mesostack.cli._common import Options, engines
from mesostack.errors import InputError, MesostackError
from mesostack.roles import Role, order_of, role_named

if TYPE_CHECKING:
    from mesostack.runtime import ContainerInfo


@click.command()
@click.argument("component", required=False, metavar="[COMPONENT]",
                shell_complete=completion.components)
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
    wanted = _wanted(component)
    stack = options.stack_name()
    docker = engines(options)
    containers = sorted(_chosen(docker.containers(stack=stack), wanted, stack),
                        key=lambda c: (order_of(c.role), c.name))
    if not containers:
        what = f"a {component} container" if component else "containers"
        raise MesostackError(f"stack {stack} has no {what}", hint="run `mesostack up` first")
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


def _wanted(component: str | None) -> tuple[Role, str] | None:
    """COMPONENT as a role and an instance suffix (`master-2`: master, "-2"); None for all."""
    if component is None:
        return None
    found = re.fullmatch(r"(.*?)(-?\d+)?", component)
    role = role_named(found.group(1)) if found else None
    if found is None or role is None:
        names = ", ".join(name for r in Role for name in (r.value, *r.aliases))
        raise InputError(f"no component {component!r}: choose one of {names}")
    return role, found.group(2) or ""


def _chosen(containers: Iterable[ContainerInfo], wanted: tuple[Role, str] | None,
            stack: str) -> list[ContainerInfo]:
    """All of them, one role's, or one numbered instance's (`master-2`)."""
    if wanted is None:
        return list(containers)
    role, suffix = wanted
    if suffix:
        return [c for c in containers if c.name == f"{stack}-{role.value}{suffix}"]
    return [c for c in containers if c.role == role.value]
