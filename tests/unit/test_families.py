"""Image families: what each image takes and what it can't do, through the real command line
(`config`, `up --dry-run` refuse with exit 2; `down` and `status` only warn)."""

from __future__ import annotations

from pathlib import Path

import pytest

from clirun import run
from mesostack.config import parse
from mesostack.families import refusals, version_of
from mesostack.plan import Role, build

HOSTS_ON_ONE_ENGINE = """\
hosts:
  - {name: a, ip: 127.0.0.1}
  - {name: b, ip: 127.0.0.2}
  - {name: c, ip: 127.0.0.3}
zookeeper: {count: 3%s}
"""
MESOSCLOUD_ZK = "mesoscloud/zookeeper:3.4.6-ubuntu-14.04"
MESOSCLOUD_2182 = ("name: s\nhost_ip: 10.0.0.5\nzookeeper:\n  port: 2182\n"
                   f"  image: {MESOSCLOUD_ZK}\n")
ROOT = Path(__file__).resolve().parents[2]


def env_of(text: str, role: Role) -> dict[str, str]:
    return dict(build(parse(text), "10.0.0.5").spec(role).env)


@pytest.mark.parametrize(("tag", "version"), [
    ("zookeeper:3.4.13", (3, 4, 13)), ("mesosphere/marathon:v1.11.24", (1, 11, 24)),
    ("mesoscloud/mesos-master:0.23.0-ubuntu-14.04", (0, 23, 0)), ("zookeeper", None),
    ("zookeeper:latest", None), ("x@sha256:" + "a" * 64, None)])
def test_a_tag_names_its_release(tag: str, version: tuple[int, ...] | None) -> None:
    assert version_of(tag) == version


def test_official_zookeeper_3_4_gets_server_lines_it_can_parse_and_its_port() -> None:
    """3.4's QuorumPeerConfig splits a server at ':' (`3888;2181` is no number); its client
    port is ZOO_PORT (3.4.13's entrypoint writes clientPort=$ZOO_PORT)."""
    env = env_of("zookeeper: {image: 'zookeeper:3.4.13', port: 2182}\n", Role.ZOOKEEPER)
    assert env["ZOO_SERVERS"] == "server.1=10.0.0.5:2888:3888"
    assert env["ZOO_PORT"] == "2182"
    assert "ZOO_ADMINSERVER_ENABLED" not in env  # 3.4 has no AdminServer
    modern = env_of("zookeeper: {image: 'zookeeper:3.9.3', port: 2182}\n", Role.ZOOKEEPER)
    assert modern["ZOO_SERVERS"] == "server.1=10.0.0.5:2888:3888;10.0.0.5:2182"
    assert "ZOO_PORT" not in modern


def test_an_official_3_4_ensemble_on_one_engine_is_refused() -> None:
    plan = build(parse(HOSTS_ON_ONE_ENGINE % ", image: 'zookeeper:3.4.13'"), "")
    [refusal] = refusals(plan)
    assert refusal.path == ("zookeeper", "count")
    assert "zookeeper:3.4.13 binds its client port on every address" in refusal.why


def test_mesoscloud_zookeeper_refuses_another_port(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_text(MESOSCLOUD_2182)
    for args in (["config"], ["up", "--dry-run"], ["doctor"]):
        code, out, err = run(["-f", str(stack), *args], capsys)
        assert code == 2, (args, err)
        assert out == ""
        assert err.splitlines() == [
            f"mesostack: error: {stack}:4: zookeeper.port: 2182: "
            "mesoscloud/zookeeper:3.4.6-ubuntu-14.04 always listens on 2181 (its entrypoint "
            "writes clientPort=2181 for every address); use 2181"], args


def test_mesoscloud_ensemble_on_one_engine_is_refused(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_text(HOSTS_ON_ONE_ENGINE % f", image: '{MESOSCLOUD_ZK}'")
    code, _, err = run(["-f", str(stack), "config"], capsys)
    assert code == 2
    assert err.startswith(f"mesostack: error: {stack}:5: zookeeper.count: "
                          "mesoscloud/zookeeper:3.4.6-ubuntu-14.04 binds its client port on "
                          "every address, so two of its servers can't share an engine")
    own_engines = HOSTS_ON_ONE_ENGINE.replace(
        "127.0.0.2}", "127.0.0.2, docker: 'ssh://root@127.0.0.2'}").replace(
        "127.0.0.3}", "127.0.0.3, docker: 'tcp://127.0.0.3:2376'}") % f", image: '{MESOSCLOUD_ZK}'"
    assert refusals(build(parse(own_engines), "")) == []


def test_a_refused_stack_can_still_be_taken_down(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """`down` warns and goes on to the engine (here: none answers, so exit 1, not 2)."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    stack = tmp_path / "stack.yaml"
    stack.write_text(MESOSCLOUD_2182)
    code, _, err = run(["-f", str(stack), "down"], capsys)
    lines = err.splitlines()
    assert lines[0].startswith(f"mesostack: warning: {stack}:4: zookeeper.port: 2182: ")
    assert code == 1 and "cannot reach the Docker engine" in err


def test_marathon_1_7_and_later_tasks_run_as_root_unless_the_file_says() -> None:
    """The 1.7+ image runs as `nobody`, and --mesos_user defaults to the user Marathon runs
    as (MarathonConf.scala), so its tasks would run as nobody."""
    modern = "master: {image: 'mesosphere/mesos-master:1.7.1'}\n"
    env = env_of(modern + "marathon: {image: 'mesosphere/marathon:v1.11.24'}\n", Role.MARATHON)
    assert env["MARATHON_MESOS_USER"] == "root"
    chosen = env_of(modern + "marathon:\n  image: mesosphere/marathon:v1.11.24\n"
                    "  env: {MARATHON_MESOS_USER: app}\n", Role.MARATHON)
    assert chosen["MARATHON_MESOS_USER"] == "app"
    legacy = env_of("marathon: {image: 'mesosphere/marathon:v0.11.1'}\n", Role.MARATHON)  # root
    assert "MARATHON_MESOS_USER" not in legacy


def test_marathon_1_7_and_later_with_a_mesos_before_1_5_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_text("host_ip: 10.0.0.5\nmarathon:\n  image: mesosphere/marathon:v1.11.24\n"
                     "master: {image: 'mesoscloud/mesos-master:0.23.0-ubuntu-14.04'}\n")
    code, _, err = run(["-f", str(stack), "up", "--dry-run"], capsys)
    assert code == 2
    assert err.splitlines()[-1] == (
        f"mesostack: error: {stack}:3: marathon.image: mesosphere/marathon:v1.11.24 is "
        "Marathon 1.11.24, which needs Mesos 1.5 or later; master.image "
        "mesoscloud/mesos-master:0.23.0-ubuntu-14.04 is Mesos 0.23.0")


def test_the_family_key_overrides_the_name_and_is_checked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mirrored = ("zookeeper: {image: 'mirror.example/zk:3.9', family: official}\n")
    assert "ZOO_SERVERS" in env_of(mirrored, Role.ZOOKEEPER)
    stack = tmp_path / "stack.yaml"
    stack.write_text("zookeeper: {family: bitnami}\n")
    code, _, err = run(["-f", str(stack), "config"], capsys)
    assert code == 2
    assert err.strip() == (f"mesostack: error: {stack}:1: zookeeper.family: no family "
                           "'bitnami' for zookeeper; choose one of official, official-3.4, "
                           "mesoscloud, conventions")


def test_the_tutorial_and_the_default_stacks_are_not_refused() -> None:
    plan = build(parse((ROOT / "examples" / "tutorial.yaml").read_text()), "10.0.0.5")
    assert refusals(plan) == []
    assert [s.family for s in plan.specs] == ["mesoscloud", "mesoscloud", "mesoscloud",
                                              "mesosphere-legacy"]
    default = build(parse("{}\n"), "10.0.0.5")
    assert refusals(default) == []
    assert [s.family for s in default.specs] == ["official", "mesosphere", "mesosphere",
                                                 "mesosphere"]
