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
