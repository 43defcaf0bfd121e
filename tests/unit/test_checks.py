"""Doctor's and up's preflight checks, on a fake engine (no Docker)."""

from __future__ import annotations

import pytest

from fakes import FakeEngine, container, tutorial
from fakes import engine_facts as facts
from mesostack import checks
from mesostack.checks import Verdict
from mesostack.config import StackConfig, parse
from mesostack.plan import Plan, Role, build
from mesostack.runtime import SCHEMA1_FIX, ContainerInfo, is_schema1_refusal

# The engine's refusal of a schema-1 image, recorded verbatim (moby's
# DeprecatedSchema1ImageError, returned by pulls and by registry look-ups alike).
# Docker 26.0-28.1 (github.com/docker/cli docs/deprecated.md, "Pushing and pulling with image
# manifest v2 schema 1"; github.com/sameersbn/docker-squid/issues/84):
SCHEMA1_DEPRECATED = (
    "[DEPRECATION NOTICE] Docker Image Format v1 and Docker Image manifest version 2, schema 1 "
    "support is disabled by default and will be removed in an upcoming release. Suggest the "
    "author of docker.io/mesoscloud/mesos-slave:0.23.0-ubuntu-14.04 to upgrade the image to the "
    "OCI Format or Docker Image manifest v2, schema 2. More information at "
    "https://docs.docker.com/go/deprecated-image-specs/"
)
# Docker 28.2 and later (github.com/moby/moby daemon/internal/distribution/errors.go):
SCHEMA1_REMOVED = (
    "Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been "
    "removed. Suggest the author of docker.io/mesoscloud/mesos-slave:0.23.0-ubuntu-14.04 to "
    "upgrade the image to the OCI Format or Docker Image manifest v2, schema 2. More "
    "information at https://docs.docker.com/go/deprecated-image-specs/"
)
# As docker/cli's deprecated.md prints the daemon's answer, wrapped over several lines:
SCHEMA1_WRAPPED = SCHEMA1_DEPRECATED.replace(" release. ", " release.\n").replace(
    " schema 2. ", " schema 2.\n")
SCHEMA1_TEXTS = [SCHEMA1_DEPRECATED, SCHEMA1_REMOVED, SCHEMA1_WRAPPED]
SCHEMA1 = SCHEMA1_DEPRECATED


def agent(stack: str, *, kill_orphans: str | None = None, name: str = "",
          status: str = "running") -> ContainerInfo:
    """Another stack's agent container, with MESOS_DOCKER_KILL_ORPHANS as given (or unset)."""
    env = {} if kill_orphans is None else {"MESOS_DOCKER_KILL_ORPHANS": kill_orphans}
    return container(name or f"{stack}-slave", stack=stack, role="slave", status=status, env=env)


def plan(text: str = "") -> Plan:
    """The tutorial's stack (its agent with Docker tasks), changed as `text` says."""
    return build(parse(tutorial(text)), "127.0.0.1")


def test_cgroup_v1_passes_every_agent() -> None:
    [row] = checks.cgroups(facts(), plan(), checks.family_env)
    assert row.verdict is Verdict.OK


def test_on_cgroup_v2_the_agent_is_judged_by_its_effective_settings_not_privileged() -> None:
    """The tutorial's agent, unprivileged as the presets' comment invites: its image's ENV still
    says docker,mesos (mesoscloud/mesos-slave's Dockerfile), and without MESOS_LAUNCHER=posix a
    root agent picks the Linux launcher (flags.cpp: LinuxLauncher::available())."""
    v2 = facts(cgroup_version="2")
    rows = checks.cgroups(v2, plan("slave: {privileged: false}"), checks.family_env)
    assert [r.verdict for r in rows] == [Verdict.FAIL, Verdict.FAIL]
    assert rows[0].found == (
        "mesostack-slave: MESOS_CONTAINERIZERS=docker,mesos (its image's ENV): the Docker "
        "containerizer needs a cgroup v1 `cpu` hierarchy and this engine's host has cgroup v2 "
        "only")
    assert rows[0].fix.startswith("set `slave.tasks: command` (or "
                                  "`slave.env.MESOS_CONTAINERIZERS: mesos`")
    assert "MESOS_LAUNCHER=linux (Mesos' default)" in rows[1].found
    assert rows[1].fix == "set `slave.tasks: command` (or `slave.env.MESOS_LAUNCHER: posix`)"
    fixed = plan("slave:\n  privileged: true\n  env: {MESOS_CONTAINERIZERS: mesos, "
                 "MESOS_LAUNCHER: posix}\n")
    [ok] = checks.cgroups(v2, fixed, checks.family_env)
    assert ok.verdict is Verdict.OK and "command tasks" in ok.found


def test_the_images_own_env_counts_where_the_engine_has_the_image() -> None:
    home_built = plan("slave: {image: 'me/agent:1', env: {MESOS_CONTAINERIZERS: mesos}}\n")
    [row] = checks.cgroups(facts(cgroup_version="2"), home_built, checks.family_env)
    assert row.verdict is Verdict.FAIL  # nothing known of it: Mesos' default launcher
    assert "MESOS_LAUNCHER=linux (Mesos' default)" in row.found
    engine = FakeEngine(images={"me/agent:1": "sha256:a"},
                        image_envs={"me/agent:1": {"MESOS_LAUNCHER": "posix"}})
    [row] = checks.cgroups(facts(cgroup_version="2"), home_built, checks.engine_env(engine))
    assert row.verdict is Verdict.OK
    isolated = plan("slave:\n  image: me/agent:1\n  env: {MESOS_CONTAINERIZERS: mesos, "
                    "MESOS_LAUNCHER: posix, MESOS_ISOLATION: 'cgroups/cpu,cgroups/mem'}\n")
    [row] = checks.cgroups(facts(cgroup_version="2"), isolated, checks.engine_env(engine))
    assert row.fix == ("set `slave.tasks: command` (or `slave.env.MESOS_ISOLATION: "
                       "posix/cpu,posix/mem`)")


def test_rootless_and_desktop_engines_are_flagged() -> None:
    rows = checks.engine_facts(facts(security_options=("name=seccomp", "name=rootless")))
    assert rows[1].verdict is Verdict.WARN and "rootless" in rows[1].found
    rows = checks.engine_facts(facts(os="Docker Desktop"))
    assert rows[1].verdict is Verdict.WARN and "host networking" in rows[1].fix
    assert checks.engine_facts(facts())[1].verdict is Verdict.OK


def test_host_ip_must_be_local() -> None:
    assert checks.host_ip(plan()).verdict is Verdict.OK
    remote = build(StackConfig(), "192.0.2.1")  # TEST-NET-1: never an address of this host
    assert checks.host_ip(remote).verdict is Verdict.FAIL


def test_images_present_pullable_missing_and_schema1() -> None:
    stack = plan()
    refs = [s.image for s in stack.specs]
    engine = FakeEngine(images={refs[0]: "sha256:1"}, registry={
        refs[1]: "manifest for mesoscloud/mesos-master:nope not found: manifest unknown",
        refs[2]: SCHEMA1,
    })
    rows = checks.images(stack, engine)
    assert [r.verdict for r in rows] == [Verdict.OK, Verdict.FAIL, Verdict.FAIL, Verdict.OK]
    assert "manifest unknown" in rows[1].found
    assert rows[2].found == (f"image {refs[2]} is in the old schema-1 format, which this engine "
                             "pulls only when its daemon runs with "
                             "DOCKER_ENABLE_DEPRECATED_PULL_SCHEMA_1_IMAGE=1")
    assert rows[2].fix == f"set it in dockerd's environment, or {SCHEMA1_FIX}"
    assert SCHEMA1_FIX == (
        "use the built-in default's images (`mesostack init` writes them), or another image")
    assert "can be pulled" in rows[3].found


@pytest.mark.parametrize("text", SCHEMA1_TEXTS, ids=["deprecated", "removed", "wrapped"])
def test_every_recorded_schema1_refusal_is_recognised(text: str) -> None:
    stack = plan()
    ref = stack.spec(Role.ZOOKEEPER).image
    engine = FakeEngine(images={s.image: "sha256:1" for s in stack.specs if s.image != ref},
                        registry={ref: text})
    (row,) = [r for r in checks.images(stack, engine) if r.verdict is Verdict.FAIL]
    assert "old schema-1 format" in row.found and "\n" not in row.found
    assert "`mesostack init`" in row.fix


def test_other_registry_answers_are_not_taken_for_schema1() -> None:
    for text in ("manifest unknown", "unauthorized: authentication required",
                 "no matching manifest for linux/arm64 in the manifest list entries"):
        assert not is_schema1_refusal(text)


def test_privileged_is_tried_only_when_needed() -> None:
    stack = plan()
    engine = FakeEngine(images={stack.specs[2].image: "sha256:1"}, refusal="unable to apply caps")
    rows = checks.privileged(stack, engine, {}, needs_test=False)
    assert [r.verdict for r in rows] == [Verdict.FAIL]
    assert "`slave.privileged: false`" in rows[0].fix
    running = {stack.specs[2].name: container(stack.specs[2].name, dict(stack.specs[2].labels))}
    engine.calls.clear()
    rows = checks.privileged(stack, engine, running, needs_test=True)
    assert rows[0].verdict is Verdict.OK and engine.called("try_privileged") == []
    absent = FakeEngine()
    rows = checks.privileged(stack, absent, {}, needs_test=False)
    assert rows[0].verdict is Verdict.INFO and absent.called("try_privileged") == []
    assert checks.privileged(plan("slave: {privileged: false}"), absent, {},
                             needs_test=True) == []


def test_neighbours_foreign_mesos_containers_and_other_agents() -> None:
    stack = plan()
    others = [
        container("mesos-1234"),
        container("mesos-stopped", status="exited"),
        agent("other"),
        agent("mesostack"),  # this stack's own
    ]
    rows = checks.neighbours(stack, others)
    assert [r.verdict for r in rows] == [Verdict.WARN, Verdict.FAIL]
    assert "1 running: mesos-1234" in rows[0].found
    assert rows[1].found.startswith("stack other's agent other-slave runs")
    assert "MESOS_DOCKER_KILL_ORPHANS" in rows[1].fix
    assert checks.neighbours(stack, [])[0].verdict is Verdict.OK


OFF = 'slave: {env: {MESOS_DOCKER_KILL_ORPHANS: "false"}}'


def test_kill_orphans_is_on_unless_set_false() -> None:
    assert checks.kills_orphans({})
    assert checks.kills_orphans({"MESOS_DOCKER_KILL_ORPHANS": "true"})
    assert checks.kills_orphans({"MESOS_DOCKER_KILL_ORPHANS": "1"})
    assert not checks.kills_orphans({"MESOS_DOCKER_KILL_ORPHANS": "false"})
    assert not checks.kills_orphans({"MESOS_DOCKER_KILL_ORPHANS": " False "})
    assert not checks.kills_orphans({"MESOS_DOCKER_KILL_ORPHANS": "0"})
    # YAML's boolean false in stack.yaml reaches the plan as "false"
    off = plan("slave: {env: {MESOS_DOCKER_KILL_ORPHANS: false}}")
    assert not checks.kills_orphans(dict(off.spec(Role.SLAVE).env))


def test_the_tutorial_stack_keeps_the_agents_default() -> None:
    assert "MESOS_DOCKER_KILL_ORPHANS" not in dict(plan().spec(Role.SLAVE).env)
    assert checks.shared_engine(plan(), []) == []


def test_shared_engine_fails_when_either_side_kills_orphans() -> None:
    where = "unix:///var/run/docker.sock"
    cases = [  # (this stack's file, the other agent's env value, failing side or None)
        ("", None, "both stacks"),
        ("", "false", "stack mesostack"),
        (OFF, None, "stack a"),
        (OFF, "true", "stack a"),
        (OFF, "false", None),
    ]
    for text, theirs, side in cases:
        rows = checks.shared_engine(plan(text), [agent("a", kill_orphans=theirs)], where=where)
        assert len(rows) == 1, (text, theirs)
        if side is None:
            assert rows[0].verdict is Verdict.OK
            assert "off on both sides" in rows[0].found
            continue
        assert rows[0].verdict is Verdict.FAIL, (text, theirs)
        found, fix = rows[0].found, rows[0].fix
        assert found == (f"stack a's agent a-slave runs on the Docker engine at {where}, where "
                         f"this stack's mesostack-slave would run, and docker_kill_orphans is "
                         f"on in {side}: a starting agent removes the other stack's task "
                         "containers")
        assert fix.startswith('set `slave.env.MESOS_DOCKER_KILL_ORPHANS: "false"` in both '
                              "stacks' files")
        assert ("`mesostack up` stack a again" in fix) == (theirs != "false")
        assert "\n" not in found + fix


def test_shared_engine_names_each_other_stack_and_its_stopped_agents() -> None:
    rows = checks.shared_engine(plan(OFF), [
        agent("b", kill_orphans="false"),
        agent("a", name="a-slave-1", kill_orphans="false"),
        agent("a", name="a-slave-2", status="exited"),  # restarts with the engine
        container("mesos-1"),  # not an agent of any stack
        container("a-master", stack="a", role="master"),
    ])
    assert [(r.verdict, r.found.split(" ")[1]) for r in rows] == [
        (Verdict.FAIL, "a's"), (Verdict.OK, "(stack")]
    assert rows[0].found.startswith("stack a's agents a-slave-1, a-slave-2 run on")
    assert rows[1].found.startswith("b-slave (stack b)")


def test_only_the_engines_both_stacks_use_matter() -> None:
    remote = "tcp://10.0.0.2:2376"
    stack = plan("""
hosts:
  - {name: n1, ip: 127.0.0.1}
  - {name: n2, ip: 127.0.0.2, docker: "tcp://10.0.0.2:2376"}
slave: {on: [n2]}
""")
    other = [agent("a")]
    # the local engine runs no agent of this stack: the other stack's agent there is harmless
    local = checks.shared_engine(stack, other, endpoint=None)
    assert [r.verdict for r in local] == [Verdict.OK]
    assert "this stack runs no agent" in local[0].found
    # on the remote engine (where this stack's agent runs) the same agent would be a failure
    assert checks.shared_engine(stack, other, endpoint=remote)[0].verdict is Verdict.FAIL


def test_several_agents_of_one_stack_on_one_engine_are_a_warning() -> None:
    text = """
hosts: [{name: n1, ip: 127.0.0.1}, {name: n2, ip: 127.0.0.2}]
slave: {on: [n1, n2]%s}
"""
    rows = checks.shared_engine(plan(text % ""), [])
    assert [r.verdict for r in rows] == [Verdict.WARN]
    assert rows[0].found.startswith("mesostack-slave-1, mesostack-slave-2 share")
    off = ', env: {MESOS_DOCKER_KILL_ORPHANS: "false"}'
    assert checks.shared_engine(plan(text % off), []) == []


def test_a_purge_never_deletes_another_stacks_data_dir() -> None:
    def zk(stack: str, directory: str) -> ContainerInfo:
        return container(f"{stack}-zookeeper", {"io.mesostack.data-dir": directory},
                         stack=stack, role="zookeeper")

    others = [zk("a", "/srv/a/zk"), zk("b", "/srv/shared/zk"), container("x")]
    assert checks.shared_data_dirs("a", ["/srv/a/zk", "/srv/a/master"], others) == []
    for mine in ("/srv/shared/zk", "/srv/shared", "/srv/shared/zk/version-2", "/srv/shared/zk/"):
        rows = checks.shared_data_dirs("a", [mine], others)
        assert [r.verdict for r in rows] == [Verdict.FAIL], mine
        assert rows[0].found == (f"data_dir {mine}: stack b's container b-zookeeper keeps its "
                                 "state in /srv/shared/zk; `down --purge` would delete it")
    assert checks.shared_data_dirs("a", ["/srv/sharedzk"], others) == []


def test_disk_only_for_a_local_engine() -> None:
    assert checks.disk(facts(), local=False).verdict is Verdict.INFO
    assert checks.disk(facts(root_dir="/nonexistent/docker"), local=True).verdict is Verdict.INFO
    assert checks.disk(facts(root_dir="/"), local=True).verdict in (
        Verdict.OK, Verdict.WARN, Verdict.FAIL)


def test_an_agent_whose_docker_client_the_engine_refuses_fails_with_the_fix() -> None:
    """The tutorial's agent runs its image's 2015 Docker client (API 1.20); Docker 25 and later
    accept 1.24 and up ("client version 1.20 is too old", measured on Docker 26.1)."""
    docker26 = facts(server_version="26.1.5", api_version="1.45", min_api_version="1.24")
    tutorial = plan("slave: {privileged: false}")
    [row] = checks.agent_clients(docker26, tutorial, checks.family_env)
    assert row.verdict is Verdict.FAIL
    assert row.found.startswith(
        "mesostack-slave: mesoscloud/mesos-slave:0.23.0-ubuntu-14.04's Docker client speaks API "
        "1.20; the engine at unix:///var/run/docker.sock (Docker 26.1.5) accepts 1.24 and later")
    assert row.fix.startswith("set `slave.tasks: command` (or "
                              "`slave.env.MESOS_CONTAINERIZERS: mesos`")
    command_only = plan("slave: {env: {MESOS_CONTAINERIZERS: mesos}}")
    assert checks.agent_clients(docker26, command_only, checks.family_env) == []
    docker20 = facts(server_version="20.10.24", api_version="1.41", min_api_version="1.12")
    assert checks.agent_clients(docker20, tutorial, checks.family_env) == []
    modern = plan("slave: {image: 'mesosphere/mesos-slave:1.7.1'}")
    assert checks.agent_clients(docker26, modern, checks.family_env) == []  # not known: no word


def test_doctor_judges_an_auto_agent_as_what_it_becomes_on_its_host() -> None:
    """The built-in default on a cgroup-v2-only host: command tasks, and so no cgroup failure;
    on cgroup v1 with the agent's image there, --privileged is tried and decides."""
    from mesostack.runtime import Engines

    default = build(StackConfig(), "127.0.0.1")
    v2 = FakeEngine(info=facts(cgroup_version="2"))
    rows = checks.doctor(default, Engines({None: v2}))
    [tasks] = [r for r in rows if r.name == "agent tasks"]
    assert tasks.found == ("mesostack-slave: command tasks (auto: the host has cgroup v2 only "
                           "(Docker tasks need cgroup v1))")
    assert not [r for r in rows if r.name == "cgroups" and r.blocking]
    images = {s.image: "sha256:1" for s in default.specs}
    refusing = FakeEngine(images=images, refusal="unable to apply caps")
    [tasks] = [r for r in checks.doctor(default, Engines({None: refusing}))
               if r.name == "agent tasks"]
    assert "command tasks (auto: Docker" in tasks.found and "refuses --privileged" in tasks.found
    [tasks] = [r for r in checks.doctor(default, Engines({None: FakeEngine(images=images)}))
               if r.name == "agent tasks"]
    assert tasks.verdict is Verdict.OK and "docker tasks (auto: cgroup v1, and" in tasks.found
