"""Mesos (and Marathon's checks) as the unit tests see them, without sockets: a requests
transport answering from a table of URLs, mounted on an `Http`'s session so that the code under
test makes its real requests calls (timeouts, redirects, JSON decoding), and the documents that
masters and agents answer, trimmed to what matters."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from mesostack import mesos
from mesostack.mesos import Sandbox
from mesostack.probes import Http
from mesostack.task_output import read_output
from mesostack.waiting import SYSTEM, Clock


@dataclass
class FakeResponse:
    status_code: int = 200
    text: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def answer(payload: Any, status: int = 200) -> FakeResponse:
    return FakeResponse(status, json.dumps(payload))


Route = FakeResponse | Callable[[], FakeResponse]


def host_of(url: str) -> str:
    scheme, rest = url.split("//", 1)
    return f"{scheme}//{rest.split('/', 1)[0]}"


class Routes(BaseAdapter):
    """Answers from `routes` (full URL -> response, or a function making one). A URL on a
    host:port with no route at all is refused, as a host where nothing listens is; another
    path on a known host:port is 404. Every URL asked is recorded in `calls`, with its timeouts
    and its Authorization header."""

    def __init__(self, routes: Mapping[str, Route]) -> None:
        super().__init__()
        self.routes = dict(routes)
        self.calls: list[str] = []
        self.timeouts: list[Any] = []  # each call's (connect, read)
        self.authorizations: list[str | None] = []

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        url = request.url or ""
        self.calls.append(url)
        self.timeouts.append(timeout)
        self.authorizations.append(request.headers.get("Authorization"))
        route = self.routes.get(url)
        if route is None:
            if any(known.startswith(host_of(url) + "/") for known in self.routes):
                return respond(request, FakeResponse(404, ""))
            raise requests.ConnectionError(f"connection refused by {host_of(url)}")
        return respond(request, route() if callable(route) else route)

    def close(self) -> None:
        pass


def respond(request: requests.PreparedRequest, fake: FakeResponse) -> requests.Response:
    response = requests.Response()
    response.status_code = fake.status_code
    response.headers = CaseInsensitiveDict(fake.headers)
    response.url = request.url or ""
    response.request = request
    response.encoding = "utf-8"
    response._content = fake.text.encode()
    response.raw = io.BytesIO(response._content)
    return response


class FakeHttp(Http):
    """An `Http` whose session answers from `routes` (see `Routes`)."""

    def __init__(self, routes: Mapping[str, Route] | None = None) -> None:
        super().__init__()
        self.transport = Routes(routes or {})
        self.session.mount("http://", self.transport)

    @property
    def calls(self) -> list[str]:
        return self.transport.calls


# --- what masters and agents answer ------------------------------------------------------------

MASTER = "127.0.0.1:5050"
AGENT = "127.0.0.1:5051"
MARATHON = "127.0.0.1:8080"
LEADER_PID = "master@127.0.0.1:5050"
AGENT_ID = "0b7a4c2e-5b2d-4e0a-9a43-8f1d6a1c0d11-S0"
FRAMEWORK_ID = "0b7a4c2e-5b2d-4e0a-9a43-8f1d6a1c0d11-0000"


def master_state(*, pid: str = LEADER_PID, leader: str | None = LEADER_PID,
                 version: str = "1.4.0", slaves: list[dict[str, Any]] | None = None,
                 frameworks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A master's state as the stand-ins (and real Mesos) answer it, trimmed to what matters."""
    state: dict[str, Any] = {
        "version": version, "id": "0b7a4c2e-5b2d-4e0a-9a43-8f1d6a1c0d11", "pid": pid,
        "hostname": pid.rsplit("@", 1)[-1].split(":")[0], "activated_slaves": 0.0,
        "slaves": slaves or [], "frameworks": frameworks or [], "completed_frameworks": [],
    }
    if leader is not None:
        state["leader"] = leader
    return state


def an_agent(agent_id: str = AGENT_ID, *, active: bool = True) -> dict[str, Any]:
    return {"id": agent_id, "pid": f"slave(1)@{AGENT}", "hostname": "127.0.0.1",
            "active": active, "resources": {"cpus": 2.0, "mem": 1024.0}}


def a_framework(framework_id: str = FRAMEWORK_ID, *, active: bool = True) -> dict[str, Any]:
    return {"id": framework_id, "name": "marathon", "active": active, "tasks": [],
            "completed_tasks": []}


def modern_master(state: dict[str, Any], endpoint: str = MASTER) -> dict[str, Route]:
    return {f"http://{endpoint}/master/health": FakeResponse(200),
            f"http://{endpoint}/master/state": answer(state)}


def legacy_master(state: dict[str, Any], endpoint: str = MASTER) -> dict[str, Route]:
    return {f"http://{endpoint}/master/health": FakeResponse(200),
            f"http://{endpoint}/master/state.json": answer(state)}


def agent_state(agent_id: str = AGENT_ID, **extra: Any) -> dict[str, Any]:
    return {"version": "1.4.0", "id": agent_id, "pid": f"slave(1)@{AGENT}",
            "hostname": "127.0.0.1", "frameworks": [], "completed_frameworks": [], **extra}


def print_logs(sandboxes: Sequence[tuple[str, Sandbox]], stream: str, *, follow: bool,
               show: Callable[[str], None], http: mesos.Http | None = None,
               clock: Clock = SYSTEM) -> None:
    """`task-logs` as it prints: each piece the tasks' output is read in, shown as it comes."""
    for text in read_output(sandboxes, stream, follow=follow, http=http, clock=clock):
        show(text)
