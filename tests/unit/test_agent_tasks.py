"""`tasks: auto`: what an agent gets on each kind of host (pure: the engine's facts in, the
choice and its reason out), and what each choice gives the agent's container."""

from __future__ import annotations

import pytest

from fakes import engine_facts
from mesostack.agent_tasks import choose
from mesostack.config import AgentTasks, parse
from mesostack.families import AGENT, family_for
from mesostack.plan import Role, build

MESOSCLOUD = family_for(Role.SLAVE, "mesoscloud/mesos-slave:0.23.0-ubuntu-14.04")
MESOSPHERE = family_for(Role.SLAVE, "mesosphere/mesos-slave:1.7.1")


@pytest.mark.parametrize(("facts", "privileged", "expected"), [
    ({"cgroup_version": "1"}, True, AgentTasks.DOCKER),
    ({"cgroup_version": "1"}, False, AgentTasks.COMMAND),
    ({"cgroup_version": "1"}, None, AgentTasks.DOCKER),  # doctor, image not there: not tried
    ({"cgroup_version": "2"}, True, AgentTasks.COMMAND),
])
def test_cgroups_and_privileges_decide(facts: dict[str, str], privileged: bool | None,
                                       expected: AgentTasks) -> None:
    tasks, why = choose(MESOSPHERE, engine_facts(**facts), privileged=privileged)  # type: ignore[arg-type]
    assert tasks is expected and why


def test_an_engine_that_refuses_the_agents_docker_client_gives_command_tasks() -> None:
    docker26 = engine_facts(server_version="26.1.5", min_api_version="1.24")
    assert choose(MESOSCLOUD, docker26, privileged=True) == (
        AgentTasks.COMMAND, "its image's Docker client speaks API 1.20, and Docker 26.1.5 "
        "accepts 1.24 and later")
    docker20 = engine_facts(server_version="20.10.24", min_api_version="1.12")
    assert choose(MESOSCLOUD, docker20, privileged=True)[0] is AgentTasks.DOCKER


def test_privileged_false_in_the_file_does_not_need_the_trial() -> None:
    tasks, why = choose(MESOSPHERE, engine_facts(), privileged=None, unprivileged=True)
    assert tasks is AgentTasks.DOCKER and "unprivileged" in why


def test_what_each_choice_gives_the_agent() -> None:
    config = parse("slave: {image: 'mesosphere/mesos-slave:1.7.1'}\n")
    docker = build(config, "10.0.0.5", tasks={None: (AgentTasks.DOCKER, "why")}).spec(Role.SLAVE)
    command = build(config, "10.0.0.5", tasks={None: (AgentTasks.COMMAND, "why")}).spec(
        Role.SLAVE)
    assert dict(docker.env)["MESOS_CONTAINERIZERS"] == "docker,mesos" and docker.privileged
    assert [m.target for m in docker.mounts] == ["/sys/fs/cgroup", "/var/run/docker.sock"]
    assert {k: v for k, v in command.env if k.startswith(("MESOS_C", "MESOS_L", "MESOS_IS",
                                                          "MESOS_S"))} == {
        "MESOS_CONTAINERIZERS": "mesos", "MESOS_LAUNCHER": "posix",
        "MESOS_ISOLATION": "posix/cpu,posix/mem", "MESOS_SYSTEMD_ENABLE_SUPPORT": "false"}
    assert not command.privileged and command.mounts == ()
    assert docker.config_hash != command.config_hash  # a host that changes gets a new agent
    mine = parse("slave: {tasks: command, privileged: true, env: {MESOS_LAUNCHER: linux}}\n")
    spec = build(mine, "10.0.0.5").spec(Role.SLAVE)
    assert spec.privileged and dict(spec.env)["MESOS_LAUNCHER"] == "linux"  # the file wins
    assert not spec.tasks_unresolved and spec.tasks == "command"


def test_the_tutorials_agent_keeps_its_images_containerizers() -> None:
    """mesoscloud/mesos-slave's ENV already says docker,mesos: the tutorial's line is as it was."""
    spec = build(parse("slave: {image: 'mesoscloud/mesos-slave:0.23.0-ubuntu-14.04', "
                       "tasks: docker}\n"), "10.0.0.5").spec(Role.SLAVE)
    assert "MESOS_CONTAINERIZERS" not in dict(spec.env)
    assert MESOSCLOUD in AGENT


def test_dry_runs_comment_says_the_condition_the_file_leaves() -> None:
    from mesostack.plan import dry_run

    default = dry_run(build(parse("{}\n"), "10.0.0.5"))
    assert "# tasks: auto gives the line above on a host with cgroup v1 whose engine allows " \
           "--privileged and accepts the agent's Docker client; elsewhere: docker run" in default
    unprivileged = dry_run(build(parse("slave: {privileged: false}\n"), "10.0.0.5"))
    assert "whose engine accepts the agent's Docker client; elsewhere: docker run" in unprivileged
    assert "--privileged and" not in unprivileged
