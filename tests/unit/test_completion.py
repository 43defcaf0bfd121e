"""Shell completion through click's own environment variable: component names for `logs`, the
running stack's app ids for task-logs, scale, remove and rollback; nothing (and exit 0) when no
stack answers, and no hang on a listener that never answers (each request's timeout at most
completion.TIMEOUT, read off the requests themselves)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from fakes import FakeEngine, container
from mesostack import runtime
from mesostack.cli import completion
from mesostack.plan import LABEL_ENDPOINT

ROOT = Path(__file__).resolve().parents[2]
NO_CANDIDATES = "\n"  # click's bash_complete with no item: one empty line, no candidate


def complete(words: str, *, env: dict[str, str] | None = None, cwd: Path | None = None
             ) -> subprocess.CompletedProcess[str]:
    """What bash's completion asks `mesostack` for `words` (the last one being completed)."""
    parts = words.split(" ")
    return subprocess.run(
        [sys.executable, "-m", "mesostack"], capture_output=True, text=True, timeout=30,
        cwd=cwd, env={**os.environ, "_MESOSTACK_COMPLETE": "bash_complete",
                      "COMP_WORDS": words, "COMP_CWORD": str(len(parts) - 1),
                      "PYTHONPATH": str(ROOT / "src"), **(env or {})})


def test_logs_completes_component_names(tmp_path: Path) -> None:
    done = complete("mesostack logs ma", cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "plain,marathon\nplain,master\n", "")


@pytest.fixture
def silent() -> Iterator[int]:
    """A listener on loopback that takes connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    try:
        yield int(server.getsockname()[1])
    finally:
        server.close()


@pytest.mark.parametrize("command", ["task-logs", "scale", "remove", "rollback"])
def test_no_stack_reachable_completes_nothing_and_exits_0(tmp_path: Path, command: str) -> None:
    done = complete(f"mesostack {command} ", cwd=tmp_path,
                    env={"DOCKER_HOST": "tcp://127.0.0.1:9"})  # nothing listens there
    assert (done.returncode, done.stdout, done.stderr) == (0, NO_CANDIDATES, "")


@pytest.mark.parametrize("where", ["engine", "marathon"])
def test_a_listener_that_never_answers_does_not_hang_the_shell(
        tmp_path: Path, silent: int, where: str) -> None:
    env = ({"DOCKER_HOST": f"tcp://127.0.0.1:{silent}"} if where == "engine"
           else {"MARATHON_URL": f"http://127.0.0.1:{silent}"})
    started = time.monotonic()
    done = complete("mesostack task-logs ", cwd=tmp_path, env=env)
    took = time.monotonic() - started
    assert (done.returncode, done.stdout, done.stderr) == (0, NO_CANDIDATES, "")
    assert took < 5, f"completion took {took:.1f} s"


def test_app_ids_come_from_the_running_stacks_marathon_each_request_timed(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MESOSTACK_FILE", raising=False)
    monkeypatch.delenv("MARATHON_URL", raising=False)
    (tmp_path / "stack.yaml").write_text("name: shop\nhost_ip: 127.0.0.1\n")
    engine = FakeEngine([container("shop-marathon", role="marathon", stack="shop",
                                   labels={LABEL_ENDPOINT: "127.0.0.9:8080"})])
    connects: list[float] = []

    def connect(cls: Any, endpoints: Any, *, timeout: float = 60) -> Any:
        connects.append(timeout)
        return runtime.Engines({None: engine})

    monkeypatch.setattr(runtime.Engines, "connect", classmethod(connect))
    sent: list[tuple[str, Any]] = []

    def send(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any
             ) -> requests.Response:
        sent.append((str(request.url), kwargs.get("timeout")))
        answer = requests.Response()
        answer.status_code, answer.request, answer.url = 200, request, str(request.url)
        answer._content = b'{"apps": [{"id": "/shop/web"}, {"id": "/basic-0"}, {"id": "/db"}]}'
        return answer

    monkeypatch.setattr(requests.Session, "send", send)
    with pytest.raises(SystemExit) as exited:
        from mesostack.cli import main

        monkeypatch.setenv("_MESOSTACK_COMPLETE", "bash_complete")
        monkeypatch.setenv("COMP_WORDS", "mesostack scale sh")
        monkeypatch.setenv("COMP_CWORD", "2")
        main([])
    out, err = capsys.readouterr()
    assert (exited.value.code, out, err) == (0, "plain,shop/web\n", "")
    assert connects and all(t <= completion.TIMEOUT for t in connects)
    assert [url for url, _ in sent] == ["http://127.0.0.9:8080/v2/apps"]
    assert all(t is not None and max(t) <= completion.TIMEOUT for _, t in sent)
