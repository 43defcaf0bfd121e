"""Commands that need no engine, and failures that must be one line with the right exit code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from test_checks import SCHEMA1_TEXTS

from clirun import run
from fakes import FakeEngine, container
from mesostack.api import Stack
from mesostack.runtime import Engines

NO_ENGINE = "unix:///nonexistent/docker.sock"


@pytest.fixture(autouse=True)
def no_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No Docker engine answers, and no stack.yaml is around unless a test writes one."""
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("MESOSTACK_FILE", raising=False)
    monkeypatch.chdir(tmp_path)


def test_dry_run_needs_no_engine(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text("name: demo\nhost_ip: 192.0.2.10\n")
    code, out, err = run(["up", "--dry-run"], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert [line.split()[4] for line in lines if not line.startswith("#")] == [
        "demo-zookeeper", "demo-master", "demo-slave", "demo-marathon"]
    assert all(line.startswith(("docker run -d --name ", "# tasks: auto")) for line in lines)
    assert err.startswith("stack demo from stack.yaml; host_ip 192.0.2.10") and err.count("\n") == 1


def test_engine_unreachable_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["up"], ["down"], ["status"], ["ls"], ["doctor"], ["logs"]):
        code, out, err = run(command, capsys)
        errors = [line for line in err.splitlines() if line.startswith("mesostack: error:")]
        assert code == 1, command
        assert len(errors) == 1 and "is Docker running? try `docker ps`" in errors[0], err
        assert "Traceback" not in err and out == ""


def test_file_option_and_env(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "other.yaml"
    other.write_text("name: other\n")
    code, out, _ = run(["-f", str(other), "config"], capsys)
    assert code == 0 and yaml.safe_load(out)["name"] == "other"
    monkeypatch.setenv("MESOSTACK_FILE", str(other))
    code, out, _ = run(["config"], capsys)
    assert code == 0 and yaml.safe_load(out)["name"] == "other"


def test_config_prints_the_effective_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["config"], capsys)
    effective = yaml.safe_load(out)
    assert code == 0
    assert effective["name"] == "mesostack" and effective["host_ip"] == "auto"
    assert effective["slave"]["privileged"] is None and effective["slave"]["tasks"] == "auto"
    assert effective["marathon"]["image"] == "mesosphere/marathon:v1.11.24"


def test_schema_is_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["schema"], capsys)
    schema = json.loads(out)
    assert code == 0 and {"name", "host_ip", "slave", "agent"} <= set(schema["properties"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("master:\n  quroum: 1\n", "stack.yaml:2: unknown key `master.quroum`; did you mean"),
        ("host_ip: 300.1.1.1\n", "stack.yaml:1: host_ip: '300.1.1.1' is not an IPv4 address"),
        ("zookeeper: [\n", "stack.yaml:2:1: YAML syntax error"),
        ("master:\n  quorum: 3\n", "stack.yaml:2: master.quorum: 3 doesn't fit 1 master(s)"),
    ],
)
def test_bad_stack_file_exits_2(text: str, expected: str, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "stack.yaml").write_text(text)
    for command in (["up", "--dry-run"], ["config"], ["down"]):
        code, out, err = run(command, capsys)
        assert code == 2
        assert err.startswith(f"mesostack: error: {expected}"), err
        assert len(err.strip().splitlines()) == 1 and out == ""


def test_missing_file_names_it(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["-f", "nope/stack.yaml", "up", "--dry-run"], capsys)
    assert code == 2 and "nope/stack.yaml: no such file" in err


def test_bad_options_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["up", "--pull", "sometimes"], capsys)[0] == 2
    assert run(["up", "--timeout", "0"], capsys)[0] == 2
    code, _, err = run(["logs", "zookeper"], capsys)
    assert code == 2 and "no component 'zookeper'" in err


def test_deploy_dry_run_uses_no_network(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARATHON_URL", "http://admin:hunter2@127.0.0.1:9")
    app = tmp_path / "basic-0.json"
    app.write_text('{"id": "basic-0", "cmd": "sleep 1", "cpus": 0.1, "mem": 10, "new": 1}')
    code, out, err = run(["deploy", "--dry-run", str(app)], capsys)
    assert code == 0, err
    sent = json.loads(out)
    assert sent["method"] == "POST" and sent["url"] == "http://127.0.0.1:9/v2/apps"
    assert sent["body"]["new"] == 1  # unknown fields pass through
    assert "unknown field `new`" in err and "hunter2" not in out + err
    app.write_text('{"id": "basic-0"}')
    code, out, err = run(["deploy", "--dry-run", str(app)], capsys)
    assert code == 2 and out == ""
    assert "AppDefinition must either contain one of 'cmd' or 'args'" in err


class FakeDocker:
    """docker-py's client as `up` and `doctor` use it, on an engine that has every image but
    `missing`, whose registry answers `refusal` for it (in the pull's stream or at once)."""

    def __init__(self, missing: str, refusal: str, *, at_once: bool) -> None:
        import docker.errors

        self.errors = docker.errors
        self.missing, self.refusal, self.at_once = missing, refusal, at_once
        self.containers = SimpleNamespace(list=lambda **_: [], get=self._no_container)
        self.images = SimpleNamespace(get=self._image, get_registry_data=self._registry)
        self.api = SimpleNamespace(pull=self._pull, containers=lambda **_: [],
                                   inspect_image=self._inspect_image)

    def _no_container(self, name: str) -> None:
        raise self.errors.NotFound(f"No such container: {name}")

    def _image(self, ref: str) -> SimpleNamespace:
        if ref == self.missing:
            raise self.errors.ImageNotFound(f"No such image: {ref}")
        return SimpleNamespace(id="sha256:" + "0" * 64)

    def _inspect_image(self, ref: str) -> dict[str, Any]:
        self._image(ref)
        return {"Config": {"Env": ["PATH=/usr/bin"]}}

    def _registry(self, ref: str) -> None:
        if ref == self.missing:
            raise self.errors.APIError("400 Client Error", explanation=self.refusal)

    def _pull(self, repo: str, *, tag: str, stream: bool, decode: bool) -> Iterator[dict[str, Any]]:
        if self.at_once:
            raise self.errors.APIError("400 Client Error", explanation=self.refusal)
        yield {"status": f"Pulling from {repo}", "id": tag}
        yield {"errorDetail": {"message": self.refusal}, "error": self.refusal}

    def info(self) -> dict[str, Any]:
        return {"OperatingSystem": "Debian GNU/Linux 12", "CgroupVersion": "1",
                "SecurityOptions": ["name=seccomp"], "DockerRootDir": ""}

    def version(self) -> dict[str, Any]:
        return {"Version": "28.2.0", "ApiVersion": "1.50"}


# Ports nothing else here uses (below the ephemeral range, 32768 and up, that any client
# connection may hold for a moment), so the preflight's port checks pass.
FAKE_ENGINE_STACK = """\
name: schema1
host_ip: 127.0.0.1
zookeeper:  # the tutorial's image, on a port of its own
  {image: "mesoscloud/zookeeper:3.4.6-ubuntu-14.04", port: 29181, family: conventions}
master: {port: 29050}
slave: {port: 29051, privileged: false}
marathon: {port: 29080}
"""
TUTORIAL_ZOOKEEPER = "mesoscloud/zookeeper:3.4.6-ubuntu-14.04"


@pytest.mark.parametrize("at_once", [False, True], ids=["in-stream", "at-once"])
@pytest.mark.parametrize("refusal", SCHEMA1_TEXTS, ids=["deprecated", "removed", "wrapped"])
def test_up_and_doctor_name_a_schema1_image_in_one_line(
    refusal: str, at_once: bool, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mesostack import runtime

    fake = FakeDocker(TUTORIAL_ZOOKEEPER, refusal, at_once=at_once)
    monkeypatch.setattr(runtime.Engine, "connect", classmethod(
        lambda cls, endpoint=None, **_: cls(fake, "unix:///fake/docker.sock", endpoint)))
    (tmp_path / "stack.yaml").write_text(FAKE_ENGINE_STACK)
    # The engine's answer says which: pulls turned off in its daemon (26.0-28.1), or gone (28.2+)
    removed = "has been removed" in refusal
    problem = f"image {TUTORIAL_ZOOKEEPER} is in the old schema-1 format, which " + (
        "this engine can no longer pull (removed in Docker 28.2)" if removed else
        "this engine pulls only when its daemon runs with "
        "DOCKER_ENABLE_DEPRECATED_PULL_SCHEMA_1_IMAGE=1")
    fix = "" if removed else "set it in dockerd's environment, or "

    code, out, err = run(["up"], capsys)
    errors = [line for line in err.splitlines() if line.startswith("mesostack: error:")]
    assert code == 1 and out == ""
    assert errors == [f"mesostack: error: {problem} ({fix}use the built-in default's images "
                      "(`mesostack init` writes them), or another image)"], err
    assert "DEPRECATION" not in err and "Traceback" not in err

    code, out, err = run(["doctor"], capsys)
    assert code == 1
    assert err.splitlines()[-1] == f"1 blocking problem: {problem}", err
    assert "`mesostack init`" in out


def log_engines() -> Engines:
    """Two containers of stack `demo`; Marathon prints its own flags, credentials included."""
    return Engines({None: FakeEngine(held=[
        container("demo-zookeeper", stack="demo", role="zookeeper",
                  env={"DB_PASSWORD": "hunter2-db"}),
        container("demo-marathon", stack="demo", role="marathon",
                  env={"MARATHON_HTTP_CREDENTIALS": "admin:s3cr3t-pa55"}),
    ], log_texts={
        "demo-zookeeper": "binding to port 0.0.0.0/0.0.0.0:2181\n",
        "demo-marathon": "Starting Marathon with --http_credentials admin:s3cr3t-pa55 "
                         "--master zk://u:hunter2-db@127.0.0.1:2181/mesos\n"
                         "Authorization: Basic YWRtaW46czNjcjN0LXBhNTU=\n"})})


@pytest.mark.parametrize("follow", [[], ["-f"]])
def test_logs_never_show_the_stack_s_secrets(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             follow: list[str]) -> None:
    (tmp_path / "stack.yaml").write_text("name: demo\nhost_ip: 127.0.0.1\n")
    monkeypatch.setattr(Stack, "engines", lambda _s, **_: log_engines())
    code, out, err = run(["logs", *follow], capsys)
    assert code == 0, err
    assert "demo-marathon | Starting Marathon with --http_credentials *** --master" in out
    assert "demo-zookeeper | binding to port" in out
    for secret in ("s3cr3t-pa55", "hunter2-db", "YWRtaW46czNjcjN0LXBhNTU="):
        assert secret not in out + err


def test_host_ip_option_and_variable_override_the_files(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_text("host_ip: 10.0.0.5\n")
    code, out, err = run(["-f", str(stack), "--host-ip", "10.1.2.3", "up", "--dry-run"], capsys)
    assert code == 0, err
    assert "MESOS_IP=10.1.2.3" in out and "10.0.0.5" not in out
    assert "host_ip 10.1.2.3 (from --host-ip)" in err
    monkeypatch.setenv("MESOSTACK_HOST_IP", "10.9.8.7")
    code, out, _ = run(["-f", str(stack), "up", "--dry-run"], capsys)
    assert code == 0 and "MARATHON_HOSTNAME=10.9.8.7" in out
    code, _, err = run(["-f", str(stack), "--host-ip", "10.0.0", "up", "--dry-run"], capsys)
    assert code == 2
    assert err.splitlines()[-1].startswith("mesostack: error: --host-ip '10.0.0': not an IPv4 "
                                           "address or `auto`")
    stack.write_text("hosts: [{name: a, ip: 10.0.0.1}]\n")
    code, _, err = run(["-f", str(stack), "--host-ip", "10.1.2.3", "config"], capsys)
    assert code == 2 and "the stack lists `hosts:`" in err


def test_commands_on_a_running_stack_take_its_endpoints_from_its_labels(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`up` bound Marathon to 127.0.0.9; the file now says another address (or --host-ip
    does): the running stack's label wins, and without a running stack the plan's address."""
    from mesostack.cli._common import Options
    from mesostack.plan import Role

    (tmp_path / "stack.yaml").write_text("name: demo\nhost_ip: 192.0.2.10\n")
    held = [container("demo-marathon", stack="demo", role="marathon",
                      labels={"io.mesostack.endpoint": "127.0.0.9:8080"}),
            container("demo-master", stack="demo", role="master", status="exited",
                      labels={"io.mesostack.endpoint": "127.0.0.9:5050"})]
    monkeypatch.setattr(Stack, "engines", lambda _s, **_: Engines({None: FakeEngine(held=held)}))
    stack = Options(str(tmp_path / "stack.yaml")).stack()
    assert stack.marathon_url == "http://127.0.0.9:8080"
    assert stack._marathon_url(running=False) == "http://192.0.2.10:8080"  # --dry-run
    assert stack.endpoints(Role.MASTER) == ["192.0.2.10:5050"]  # that one doesn't run
    elsewhere = Options(str(tmp_path / "stack.yaml")).stack(marathon_url="http://elsewhere:8080")
    assert elsewhere.marathon_url == "http://elsewhere:8080"
    monkeypatch.setattr(Stack, "engines", lambda _s, **_: Engines({None: FakeEngine()}))
    assert Options(str(tmp_path / "stack.yaml")).stack().marathon_url == "http://192.0.2.10:8080"
