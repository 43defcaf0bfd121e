"""PURE: what an agent's `tasks: auto` becomes on its host, decided from its engine's facts.

`docker` (the tutorial's agent: the Docker containerizer, privileged) needs all three of: a
cgroup v1 host (released agents' Docker containerizer needs the v1 `cpu` hierarchy), an engine
that runs privileged containers, and an engine that accepts the API version of the Docker client
the agent's image bundles. Anywhere else the agent gets `command` tasks, which run on any host.
"""

from __future__ import annotations

from collections.abc import Callable

from mesostack.config import AgentTasks
from mesostack.families import Family, family_for
from mesostack.plan import ContainerSpec, Plan
from mesostack.roles import Role
from mesostack.runtime import EngineFacts, api_version


def choose(family: Family, facts: EngineFacts, *, privileged: bool | None,
           unprivileged: bool = False) -> tuple[AgentTasks, str]:
    """The tasks and why, in words for `up`'s first line and `status`. `privileged` is whether
    the engine ran a privileged container (None: not tried, e.g. the image isn't there yet);
    `unprivileged`: the stack file says `privileged: false`, so that doesn't matter."""
    engine = f"Docker {facts.server_version}"
    if facts.cgroup_version != "1":
        return AgentTasks.COMMAND, (f"the host has cgroup v{facts.cgroup_version} only (Docker "
                                    "tasks need cgroup v1)")
    floor, speaks = api_version(facts.min_api_version), family.docker_api
    if floor is not None and speaks is not None and speaks < floor:
        return AgentTasks.COMMAND, (f"its image's Docker client speaks API {speaks[0]}."
                                    f"{speaks[1]}, and {engine} accepts "
                                    f"{facts.min_api_version} and later")
    if unprivileged:
        return AgentTasks.DOCKER, "cgroup v1, and the stack file runs it unprivileged"
    if privileged is False:
        return AgentTasks.COMMAND, f"{engine} refuses --privileged containers"
    if privileged is None:
        return AgentTasks.DOCKER, ("cgroup v1; --privileged not tried yet (`up` tries it: "
                                   "refused, the agent gets command tasks)")
    return AgentTasks.DOCKER, f"cgroup v1, and {engine} runs privileged containers"


def resolve(plan: Plan, facts: Callable[[str | None], EngineFacts],
            privileged: Callable[[ContainerSpec], bool | None] | None) -> Plan:
    """`plan` with each engine's auto agents given their tasks; `privileged` tells whether an
    agent's engine runs it privileged (None: not asked, the facts alone decide)."""
    auto = [spec for spec in plan.of(Role.SLAVE) if spec.tasks_unresolved]
    choices = {}
    for endpoint in dict.fromkeys(spec.docker for spec in auto):
        spec = next(s for s in auto if s.docker == endpoint)
        family = family_for(spec.role, spec.image, spec.family or None)
        unprivileged = not spec.privileged  # the file's `privileged: false`
        chosen = choose(family, facts(endpoint), privileged=None, unprivileged=unprivileged)
        if chosen[0] is AgentTasks.DOCKER and not unprivileged and privileged is not None:
            chosen = choose(family, facts(endpoint), privileged=privileged(spec))
        choices[endpoint] = chosen
    return plan.resolved(choices) if choices else plan
