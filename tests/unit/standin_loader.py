"""Helpers for the stand-ins' unit tests: load a stand-in module in one generation, run one as
a process on loopback, and a fake Docker engine on a unix socket of a temporary folder (so no
test reaches the machine's engine)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

STANDINS = Path(__file__).resolve().parents[1] / "standins"
# What Docker 25+ answer a client below API 1.24 (measured on Docker 26.1: issue 14).
TOO_OLD = ("client version {version} is too old. Minimum supported API version is 1.24, please "
           "upgrade your client to a newer version")


def load_standin(monkeypatch: pytest.MonkeyPatch, program: str, generation: str) -> ModuleType:
    """`agent.py`, `master.py` or `marathon.py` as a fresh module of that generation (the
    generation is read when `common` is imported, so common and its users are loaded anew)."""
    monkeypatch.setenv("STANDIN_GENERATION", generation)
    for name in ("common", "agent_rules", "marathon_api", "validation"):
        # put back (or drop) whatever was there when the test ends, load anew now
        monkeypatch.setitem(sys.modules, name, sys.modules.get(name))
        del sys.modules[name]
    monkeypatch.syspath_prepend(str(STANDINS))
    spec = importlib.util.spec_from_file_location(f"standin_{program}_{generation}",
                                                  STANDINS / f"{program}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start(program: str, generation: str, *args: str, **env: str) -> subprocess.Popen[str]:
    """A stand-in as a process; never with docker_kill_orphans on (it would list the engine)."""
    return subprocess.Popen(
        [sys.executable, str(STANDINS / program), *args],
        env={**os.environ, "STANDIN_GENERATION": generation, "MESOS_DOCKER_KILL_ORPHANS": "false",
             **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def ended(process: subprocess.Popen[str], timeout: float = 15) -> tuple[int | None, str]:
    """The process's exit code and stderr, or None and its stderr so far if it still runs."""
    try:
        _, err = process.communicate(timeout=timeout)
        return process.returncode, err
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
        return None, err


class FakeEngine:
    """A Docker engine's API on a unix socket: refuses clients below `minimum` as Docker 25+
    do (in plain text below API 1.24, moby's MakeErrorHandler), lists no containers, knows no
    image, and records every request's method and path."""

    def __init__(self, path: Path, minimum: tuple[int, int] = (1, 24)) -> None:
        self.path = path
        self.requests: list[tuple[str, str]] = []
        engine = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                engine.requests.append((self.command, self.path))
                version = re.match(r"/v(\d+)\.(\d+)/", self.path)
                if version and (int(version[1]), int(version[2])) < minimum:
                    self._send(400, TOO_OLD.format(version=f"{version[1]}.{version[2]}"),
                               "text/plain; charset=utf-8")
                elif "/containers/json" in self.path:
                    self._send(200, "[]", "application/json")
                else:
                    self._send(404, json.dumps({"message": "No such image"}),
                               "application/json")

            def _send(self, status: int, body: str, kind: str) -> None:
                raw = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def address_string(self) -> str:
                return "unix"

        self.server = socketserver.ThreadingUnixStreamServer(str(path), Handler)
        self.server.daemon_threads = True

    @contextmanager
    def running(self) -> Iterator[FakeEngine]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()


def json_at(url: str) -> dict[str, Any]:
    """A stand-in's JSON answer at `url`; {} while it doesn't answer (yet)."""
    import requests

    try:
        found: dict[str, Any] = requests.get(url, timeout=2).json()
    except (requests.RequestException, ValueError):
        return {}
    return found


@dataclass(frozen=True)
class Loopback:
    """A master and an agent stand-in running on loopback, the agent registered."""

    generation: str
    master: str  # host:port
    agent: str  # host:port
    agent_id: str

    @property
    def legacy(self) -> bool:
        return self.generation == "legacy"

    @property
    def state_url(self) -> str:
        return f"http://{self.agent}" + ("/state.json" if self.legacy else "/state")


@contextmanager
def master_and_agent(generation: str, work_dir: Path, **agent_env: str) -> Iterator[Loopback]:
    """Both stand-ins as processes (the agent with `agent_env`), yielded once the agent has
    registered, killed at the end."""
    from testbed import wait_until

    master_port, agent_port = free_port(), free_port()
    master = start("master.py", generation, MESOS_IP="127.0.0.1", MESOS_PORT=str(master_port))
    agent = start("agent.py", generation, MESOS_IP="127.0.0.1", MESOS_PORT=str(agent_port),
                  MESOS_MASTER=f"127.0.0.1:{master_port}", MESOS_WORK_DIR=str(work_dir),
                  MESOS_RESOURCES="cpus:2;mem:1024", **agent_env)
    try:
        bed = Loopback(generation, f"127.0.0.1:{master_port}", f"127.0.0.1:{agent_port}", "")
        agent_id = wait_until(lambda: json_at(bed.state_url).get("id"), timeout=15,
                              what="the agent registered")
        yield Loopback(generation, bed.master, bed.agent, str(agent_id))
    finally:
        for process in (agent, master):
            process.kill()
            process.communicate()
