"""`mesostack init`: the presets' files, how they load and plan, and no overwriting by accident."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from clirun import run
from mesostack import hostinfo
from mesostack.config import AgentTasks, StackConfig, parse
from mesostack.plan import Role, build, dry_run
from mesostack.presets import TUTORIAL_IMAGES, Preset, render

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_IMAGES = {
    "zookeeper": "zookeeper:3.9.3", "master": "mesosphere/mesos-master:1.7.1",
    "slave": "mesosphere/mesos-slave:1.7.1", "marathon": "mesosphere/marathon:v1.11.24"}

HOST = "192.0.2.7"  # TEST-NET-1: what the default route's interface is made to say here


@pytest.fixture(autouse=True)
def workspace(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("MESOSTACK_FILE", raising=False)
    monkeypatch.setattr(hostinfo, "default_route_ip", lambda: HOST)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("preset", list(Preset))
def test_init_writes_a_file_that_loads_without_warnings(
    preset: Preset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["init", "--preset", preset.value], capsys)
    assert code == 0 and out == "", err
    assert err.splitlines() == [
        f"wrote stack.yaml: preset {preset.value}, host_ip {HOST}",
        "next: `mesostack up` (`mesostack up --dry-run` shows what it would run)"]
    text = (tmp_path / "stack.yaml").read_text()
    config = parse(text)
    assert config.host_ip == HOST and config.warnings() == []
    code, _, err = run(["config"], capsys)  # the loader the commands use, warnings and all
    assert code == 0 and err == ""
    assert [p.name for p in tmp_path.iterdir()] == ["stack.yaml"]  # no temporary file left


def test_the_default_preset_plans_exactly_the_built_in_default() -> None:
    for preset in (Preset.DEFAULT, Preset.MODERN):  # `modern`: the default's earlier name
        for host_ip in (HOST, "10.0.0.5"):
            written = parse(render(preset, host_ip=host_ip))
            assert build(written, host_ip) == build(StackConfig(), host_ip)
            assert dry_run(build(written, host_ip)) == dry_run(build(StackConfig(), host_ip))
        unresolved = parse(render(preset, host_ip=None))
        assert unresolved.host_ip == "auto" and unresolved == StackConfig()


def test_the_repositorys_files_are_the_presets_written_out() -> None:
    assert (ROOT / "stack.yaml").read_text() == render(Preset.DEFAULT, host_ip="auto")
    assert (ROOT / "examples" / "tutorial.yaml").read_text() == render(Preset.TUTORIAL,
                                                                      host_ip="auto")


def test_the_default_images_and_what_they_need() -> None:
    config = parse(render(Preset.DEFAULT, host_ip=HOST))
    assert {role: config.component(role).image for role in StackConfig.ROLES} == DEFAULT_IMAGES
    assert config.slave.tasks is AgentTasks.AUTO and config.slave.privileged is None
    plan = build(config, HOST)
    zk = dict(plan.spec(Role.ZOOKEEPER).env)
    assert zk["ZOO_MY_ID"] == "1"
    assert zk["ZOO_SERVERS"] == f"server.1={HOST}:2888:3888;{HOST}:2181"  # bound to host_ip
    assert zk["ZOO_ADMINSERVER_ENABLED"] == "false"  # :8080 stays Marathon's
    assert {"srvr", "ruok"} <= set(zk["ZOO_4LW_COMMANDS_WHITELIST"].split(","))
    assert dict(plan.spec(Role.MARATHON).env)["MARATHON_MESOS_USER"] == "root"


def test_the_tutorial_preset_is_the_tutorials_stack() -> None:
    config = parse(render(Preset.TUTORIAL, host_ip=HOST))
    assert {role: config.component(role).image for role in StackConfig.ROLES} == TUTORIAL_IMAGES
    assert config.slave.tasks is AgentTasks.DOCKER and config.slave.privileged is True
    assert dry_run(build(config, HOST)).count("docker run") == 4  # no `auto` comment line


def test_an_ensemble_of_the_default_plans() -> None:
    text = render(Preset.DEFAULT, host_ip=None).replace("host_ip: auto", "host_ip: 127.0.0.1")
    text = text.replace("  port: 2181\n", "  port: 2181\n  count: 3\n")
    text = text.replace("name: mesostack", "hosts:\n" + "".join(
        f"  - {{name: n{i}, ip: 127.0.0.{i}}}\n" for i in (1, 2, 3)) + "name: mesostack")
    text = text.replace("host_ip: 127.0.0.1", "")
    plan = build(parse(text), "ignored")
    assert [dict(s.env)["ZOO_MY_ID"] for s in plan.of(Role.ZOOKEEPER)] == ["1", "2", "3"]
    assert dict(plan.spec(Role.ZOOKEEPER).env)["ZOO_SERVERS"].count(":2888:3888;127.0.0.") == 3


def test_the_files_say_the_known_limits_beside_the_images() -> None:
    default = render(Preset.DEFAULT, host_ip=HOST)
    assert "Marathon 1.7+ needs Mesos 1.5+" in default
    assert "tasks: auto" in default and "cgroup v1" in default
    for role, image in DEFAULT_IMAGES.items():
        line = next(line for line in default.splitlines() if f"image: {image}" in line)
        assert "#" in line or role in ("zookeeper", "slave"), role
    tutorial = render(Preset.TUTORIAL, host_ip=HOST)
    assert "old schema-1 image format" in tutorial and "API 1.20" in tutorial
    assert "`mesostack init`" in tutorial
    image_lines = [line for line in tutorial.splitlines() if line.strip().startswith("image:")]
    assert len(image_lines) == 4 and all("schema 1" in line for line in image_lines)
    for knob in ("data_dir:", "resources:", "privileged:", "port:", "MARATHON_HTTP_CREDENTIALS",
                 "tasks:"):
        assert knob in tutorial and knob in default


def test_an_existing_file_is_kept_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "stack.yaml"
    existing.write_text("name: mine\n")
    before = existing.stat()
    code, out, err = run(["init"], capsys)
    assert code == 2 and out == ""
    assert err == "mesostack: error: stack.yaml exists; pass --force to overwrite it\n"
    assert existing.read_text() == "name: mine\n"
    assert existing.stat().st_mtime_ns == before.st_mtime_ns
    assert [p.name for p in tmp_path.iterdir()] == ["stack.yaml"]
    code, _, err = run(["init", "--force"], capsys)
    assert code == 0, err
    assert parse(existing.read_text()).marathon.image == DEFAULT_IMAGES["marathon"]


def test_host_ip_option_and_no_default_route(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(["init", "--host-ip", "10.1.2.3"], capsys)[0] == 0
    assert parse((tmp_path / "stack.yaml").read_text()).host_ip == "10.1.2.3"
    code, _, err = run(["init", "--host-ip", "300.1.1.1", "--force"], capsys)
    assert code == 2 and "'300.1.1.1' is not an IPv4 address" in err
    assert run(["init", "--host-ip", "auto", "--force"], capsys)[0] == 0
    assert parse((tmp_path / "stack.yaml").read_text()).host_ip == "auto"
    monkeypatch.setattr(hostinfo, "default_route_ip", lambda: hostinfo.LOOPBACK)
    code, _, err = run(["init", "--force"], capsys)
    text = (tmp_path / "stack.yaml").read_text()
    assert code == 0 and "host_ip auto" in err
    assert "host_ip: auto" in text and "no default route was found" in text
    assert parse(text).host_ip == "auto"


def test_file_option_chooses_the_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "stacks" / "dev.yaml"
    code, _, err = run(["-f", str(target), "init"], capsys)
    assert code == 2 and err.startswith(f"mesostack: error: {target}: can't write it")
    target.parent.mkdir()
    code, _, err = run(["-f", str(target), "init", "--preset", "tutorial"], capsys)
    assert code == 0, err
    assert f"next: `mesostack -f {target} up`" in err
    assert parse(target.read_text()).zookeeper.image == TUTORIAL_IMAGES["zookeeper"]
    assert not (tmp_path / "stack.yaml").exists()
    assert oct(os.stat(target).st_mode & 0o777) == "0o644"


def test_up_dry_run_of_the_default_preset_is_the_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, default, _ = run(["up", "--dry-run"], capsys)  # no stack file: the built-in default
    assert code == 0
    assert run(["init", "--host-ip", HOST], capsys)[0] == 0
    code, written, err = run(["up", "--dry-run"], capsys)
    assert code == 0 and err.startswith(f"stack mesostack from stack.yaml; host_ip {HOST}")
    # the same containers; only the written file's stack records where that file is
    recorded = f" --label io.mesostack.file={Path.cwd() / 'stack.yaml'}"
    assert written.count(recorded) == 5 and "io.mesostack.file" not in default
    assert written.replace(recorded, "") == default and default.count("docker run") == 5
    assert default.count("\n# tasks: auto") == 1
