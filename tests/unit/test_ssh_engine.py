"""An ssh:// engine as mesostack reaches it: docker-py shelling out to `ssh HOST docker system
dial-stdio`. Here `ssh` is a stand-in on PATH that records each start and pipes its stdin and
stdout to a fake engine on a unix socket (HTTP/1.1 with keep-alive, as dockerd answers)."""

from __future__ import annotations

import json
import socketserver
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from mesostack.runtime import Engine
from testbed import wait_until

FAKE_SSH = """#!{python}
import os, socket, sys, threading
with open(os.environ["FAKE_SSH_LOG"], "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
engine = socket.socket(socket.AF_UNIX)
engine.connect(os.environ["FAKE_ENGINE_SOCKET"])
def up():
    while data := os.read(0, 65536):
        engine.sendall(data)
    engine.shutdown(socket.SHUT_WR)
threading.Thread(target=up, daemon=True).start()
while data := engine.recv(65536):
    os.write(1, data)
os.close(1)  # the session's end, seen by the client before "ended" is logged
with open(os.environ["FAKE_SSH_LOG"], "a") as log:
    log.write("ended\\n")
"""


class KeepAliveEngine:
    """Answers /_ping, /version and /containers/json; with `closing`, closes the connection
    after each /containers/json answer, as an engine restarting or a dropped ssh session
    would (the ssh process then ends)."""

    def __init__(self, path: Path, *, closing: bool = False) -> None:
        self.requests: list[str] = []
        engine = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                engine.requests.append(self.path)
                if self.path.endswith("/_ping"):
                    body, kind = b"OK", "text/plain"
                elif "/containers/json" in self.path:
                    body, kind = b"[]", "application/json"
                else:
                    body = json.dumps({"ApiVersion": "1.41", "Version": "20.10.24"}).encode()
                    kind = "application/json"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Api-Version", "1.41")
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = closing and "/containers/json" in self.path

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def address_string(self) -> str:
                return "unix"

        self.server = socketserver.ThreadingUnixStreamServer(str(path), Handler)
        self.server.daemon_threads = True


@pytest.fixture
def ssh_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
               request: pytest.FixtureRequest) -> Iterator[tuple[KeepAliveEngine, Path]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ssh = bin_dir / "ssh"
    ssh.write_text(FAKE_SSH.format(python=sys.executable))
    ssh.chmod(0o755)
    log = tmp_path / "ssh.log"
    log.touch()
    engine = KeepAliveEngine(tmp_path / "engine.sock",
                             closing=getattr(request, "param", False))
    monkeypatch.setenv("PATH", f"{bin_dir}:{__import__('os').environ['PATH']}")
    monkeypatch.setenv("FAKE_SSH_LOG", str(log))
    monkeypatch.setenv("FAKE_ENGINE_SOCKET", str(tmp_path / "engine.sock"))
    thread = threading.Thread(target=engine.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield engine, log
    finally:
        engine.server.shutdown()
        engine.server.server_close()


def ssh_starts(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if line != "ended"]


def ended(log: Path, count: int) -> None:
    """Until `count` fake ssh processes have ended (their session closed by the engine)."""
    wait_until(lambda: log.read_text().splitlines().count("ended") >= count, timeout=10,
               what=f"{count} ssh sessions ended")


def test_requests_to_an_ssh_engine_share_one_ssh_session(
        ssh_engine: tuple[KeepAliveEngine, Path]) -> None:
    """Each request used to start ssh anew (a handshake each: 0.5-0.8 s to a test-bed host)."""
    fake, log = ssh_engine
    engine = Engine.connect("ssh://root@node1.test", timeout=10)
    for _ in range(5):
        assert engine.containers(stack="s", inspect=False) == []

    assert len(fake.requests) >= 6
    assert len(ssh_starts(log)) == 1, ssh_starts(log)
    assert ssh_starts(log)[0].endswith("node1.test docker system dial-stdio")


@pytest.mark.parametrize("ssh_engine", [True], indirect=True)
def test_an_ssh_session_that_ended_is_dialled_again(
        ssh_engine: tuple[KeepAliveEngine, Path]) -> None:
    """The engine ends the session after each listing: the pooled connection is not reused
    once its session is over, and no request is lost to it."""
    fake, log = ssh_engine
    engine = Engine.connect("ssh://root@node1.test", timeout=10)  # session 1
    for session in (1, 2, 3):
        assert engine.containers(stack="s", inspect=False) == [], session
        ended(log, session)

    assert len(ssh_starts(log)) == 3
    assert sum("/containers/json" in r for r in fake.requests) == 3
