"""The one vocabulary of component roles, from the stack file's sections to the CLI's words.

A role's value is its stack-file section and its `io.mesostack.role` label; its aliases are
other names users may type for it (Mesos renamed the slave to agent in 1.0)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ZOOKEEPER = "zookeeper"
    MASTER = "master"
    SLAVE = "slave"
    MARATHON = "marathon"

    @property
    def aliases(self) -> tuple[str, ...]:
        return ALIASES.get(self, ())

    @property
    def order(self) -> int:
        """Its place in start order (and in listings)."""
        return list(Role).index(self)


ALIASES: dict[Role, tuple[str, ...]] = {Role.SLAVE: ("agent",)}


def role_named(name: str) -> Role | None:
    """The role called `name` (its value or an alias); None for anything else."""
    for role in Role:
        if name == role.value or name in role.aliases:
            return role
    return None


def order_of(label: str) -> int:
    """Where a container with role label `label` sorts; unknown labels last."""
    role = role_named(label)
    return role.order if role is not None else len(Role)
