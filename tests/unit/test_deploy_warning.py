"""`deploy` of a DOCKER app to the stack's own Marathon warns, in one line, when the stack's
agents' engine gives their Docker containerizer no ContainerConfig; it asks no engine otherwise
(fake Marathon and engine, no network)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from clirun import run
from fakes import FakeEngine
from fakes import engine_facts as facts

DOCKER_AGENT = "slave:\n  image: mesosphere/mesos-slave:1.7.1\n  env: {MESOS_CONTAINERIZERS: " \
               "'docker,mesos'}\n"


class FakeMarathon:
    url = "http://127.0.0.1:8080"

    def submit(self, request: Any, *, force: bool) -> SimpleNamespace:
        return SimpleNamespace(created=True, deployment_ids=("d-1",), app_ids=("/web",))


DOCKER_APP = '{"id": "web", "cmd": "x", "container": {"type": "DOCKER", "docker": {"image": "n"}}}'


def deploy(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
           app: str, *extra: str) -> tuple[int, str, list[FakeEngine]]:
    """`mesostack deploy --no-wait` of `app` on the stack's own Marathon (faked), its agents on
    a Docker 28.5 engine with the containerd image store; the engines it connected."""
    from mesostack.api import Stack
    from mesostack.runtime import Engines as Connected

    stack = tmp_path / "stack.yaml"
    stack.write_text("host_ip: 127.0.0.1\n" + DOCKER_AGENT)
    (tmp_path / "web.json").write_text(app)
    engine = FakeEngine(info=facts(server_version="28.5.1", api_version="1.51",
                                   containerd_store=True))
    connected: list[FakeEngine] = []

    def connect(cls: type, /, endpoints: list[str | None], **_: Any) -> Connected:
        connected.append(engine)
        return Connected({None: engine})

    monkeypatch.delenv("MARATHON_URL", raising=False)
    monkeypatch.setattr(Stack, "marathon_client", lambda _s: FakeMarathon())
    monkeypatch.setattr(Stack, "_master_endpoint", lambda *_: "127.0.0.1:5050")
    monkeypatch.setattr("mesostack.mesos.agent_containerizers",
                        lambda _master: [("127.0.0.1:5051", "docker,mesos")])
    monkeypatch.setattr(Connected, "connect", classmethod(connect))
    code, _, err = run(["-f", str(stack), "deploy", "--no-wait", *extra,
                        str(tmp_path / "web.json")], capsys)
    return code, err, connected


def test_deploy_of_a_docker_app_warns_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    code, err, connected = deploy(tmp_path, capsys, monkeypatch, DOCKER_APP)
    assert code == 0 and len(connected) == 1
    warned = [line for line in err.splitlines() if "ContainerConfig" in line]
    assert len(warned) == 1
    assert "web.json: app /web has a DOCKER container: mesostack-slave: " \
           "mesosphere/mesos-slave:1.7.1's Docker containerizer" in warned[0]
    assert "leaves out with its containerd image store: its DOCKER apps fail" in warned[0]


def test_deploy_without_docker_apps_or_to_another_marathon_asks_no_engine(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    code, err, connected = deploy(tmp_path, capsys, monkeypatch,
                                  '{"id": "web", "cmd": "x", "cpus": 0.1, "mem": 16}')
    assert code == 0 and connected == [] and "ContainerConfig" not in err
    code, err, connected = deploy(tmp_path, capsys, monkeypatch, DOCKER_APP,
                                  "--marathon", "http://127.0.0.1:9")
    assert code == 0 and connected == [] and "ContainerConfig" not in err
