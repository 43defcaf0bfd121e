"""mesostack against a standby or leaderless Marathon, as the stand-in answers after Marathon's
leader proxy filter (v0.11.1, v1.10.26): readiness and errors name the leader, never Jetty's
HTML; the event stream follows a standby's redirect to its leader with the credentials only
where they belong, and says why it polls otherwise.

The client's requests reach the stand-ins in-process through a requests transport (no server,
the filter's waits on a fake clock); a standby's forwarding reaches nothing on loopback."""

from __future__ import annotations

import io
import json
import sys
import threading
from collections.abc import Callable, Iterator
from http import HTTPStatus
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from standin_loader import free_port, load_standin
from test_marathon_client import everything_said, request_for
from test_standins_shapes import FakeZk, leading

from clirun import run
from fakemesos import MASTER
from fakes import FakeClock, FakeEngine, container
from mesostack import console
from mesostack.marathon import (
    Credentials,
    EventWatch,
    Marathon,
    MarathonError,
    MarathonUnreachable,
)
from mesostack.probes import Http, MarathonProbe, NotYet
from mesostack.runtime import Engines

NO_LEADER = "Could not determine the current leader"
STANDBY, LEADER, ELSEWHERE = "127.0.0.1:8080", "127.0.0.1:8081", "10.9.9.9:8080"
AUTH = "Basic YWRtaW46czNjcmV0"  # admin:s3cret
ADMIN = Credentials("admin", "s3cret")


class Stream(io.RawIOBase):
    """A stand-in's event stream as a socket would give it, read as far as asked."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks, self.pending = chunks, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self.pending:
            self.pending = next(self.chunks, b"")
            if not self.pending:
                return 0
        size = min(len(buffer), len(self.pending))
        buffer[:size], self.pending = self.pending[:size], self.pending[size:]
        return size

    def close(self) -> None:
        close = getattr(self.chunks, "close", None)
        if close is not None:
            close()
        super().close()


class Standins(BaseAdapter):
    """Marathon stand-ins by host:port, asked in-process as their server would ask them; a
    host:port without one refuses the connection. Records (host:port, path, Authorization,
    timeout) of every request."""

    def __init__(self, marathons: dict[str, Any]) -> None:
        super().__init__()
        self.marathons = marathons
        self.calls: list[tuple[str, str, str | None, Any]] = []

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        split = urlsplit(request.url or "")
        self.calls.append((split.netloc, split.path, request.headers.get("Authorization"),
                           timeout))
        m = self.marathons.get(split.netloc)
        if m is None:
            raise requests.ConnectionError(f"connection refused by {split.netloc}")
        common = sys.modules["common"]
        values = parse_qs(split.query, keep_blank_values=True)
        body = request.body or b""
        answer = m.handle(common.Request(
            str(request.method), split.path, {k: v[-1] for k, v in values.items()},
            body.encode() if isinstance(body, str) else body,
            {k.lower(): v for k, v in request.headers.items()}, values))
        return respond(request, answer)

    def close(self) -> None:
        pass


def respond(request: requests.PreparedRequest, answer: Any) -> requests.Response:
    response = requests.Response()
    response.status_code = answer.status
    response.reason = answer.reason or HTTPStatus(answer.status).phrase
    response.headers = CaseInsensitiveDict(answer.headers)
    response.url, response.request = request.url or "", request
    if answer.stream is not None:
        response.raw = io.BufferedReader(Stream(answer.stream))
    else:
        body = answer.body
        raw = body if isinstance(body, bytes) else (
            body.encode() if isinstance(body, str) else json.dumps(body).encode())
        response.raw = io.BytesIO(raw)
    response.encoding = "utf-8"
    return response


def standin(monkeypatch: pytest.MonkeyPatch, generation: str, **env: str) -> ModuleType:
    monkeypatch.setenv("MARATHON_MASTER", "127.0.0.1:5050")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_standin(monkeypatch, "marathon", generation)


def marathon_at(module: ModuleType, endpoint: str, *, leader: str | None) -> Any:
    """A stand-in Marathon on `endpoint`: the elected leader when `leader` is itself, else a
    standby that knows `leader` (None: no leader); its waits on a fake clock."""
    m = leading(module) if leader == endpoint else module.Marathon()
    m.zk, m.me, m.leader, m.sleep = FakeZk(), endpoint, leader, FakeClock().sleep
    return m


def connected(client: Marathon | Http, standins: Standins) -> Standins:
    client.session.mount("http://", standins)
    return standins


@pytest.fixture(params=["legacy", "modern"])
def generation(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --- readiness -------------------------------------------------------------------------------


def not_yet(probe: MarathonProbe) -> str:
    with pytest.raises(NotYet) as raised:
        probe.check()
    return str(raised.value)


def test_a_marathon_without_a_leader_is_not_ready_saying_so_in_one_line(
        monkeypatch: pytest.MonkeyPatch, generation: str) -> None:
    """No leader: /ping waits 2.75 s and answers 503 (0.11.1) or 502 (1.10.26) with Jetty's
    HTML page."""
    http = Http()
    connected(http, Standins({STANDBY: marathon_at(standin(monkeypatch, generation), STANDBY,
                                                   leader=None)}))
    status = 503 if generation == "legacy" else 502
    assert not_yet(MarathonProbe(STANDBY, MASTER, http=http)) == (
        f"Marathon on {STANDBY} to have a leader elected (none yet: /ping answered {status})")


def test_a_standby_that_cannot_reach_its_leader_is_not_ready_saying_so(
        monkeypatch: pytest.MonkeyPatch, generation: str) -> None:
    http = Http()
    gone = f"127.0.0.1:{free_port()}"  # the leader it knows, where nothing listens
    connected(http, Standins({STANDBY: marathon_at(standin(monkeypatch, generation), STANDBY,
                                                   leader=gone)}))
    assert not_yet(MarathonProbe(STANDBY, MASTER, http=http)) == (
        f"Marathon on {STANDBY} to reach its leader (/ping answered 502: Connection to leader "
        "refused.)")


def test_ping_waits_out_the_filters_wait_for_a_leader(monkeypatch: pytest.MonkeyPatch) -> None:
    """2.75 s of waiting and then the answer must fit in the read timeout of /ping, or a
    Marathon without a leader reads as one that does not answer."""
    http = Http()
    standins = connected(http, Standins({STANDBY: marathon_at(standin(monkeypatch, "modern"),
                                                              STANDBY, leader=None)}))
    not_yet(MarathonProbe(STANDBY, MASTER, http=http))
    (ping,) = [timeout for _, path, _, timeout in standins.calls if path == "/ping"]
    assert ping[1] >= 2.75 + 2


# --- errors ----------------------------------------------------------------------------------


def test_no_leader_errors_give_jettys_reason_not_its_page(monkeypatch: pytest.MonkeyPatch,
                                                          generation: str) -> None:
    client = Marathon(f"http://{STANDBY}")
    connected(client, Standins({STANDBY: marathon_at(standin(monkeypatch, generation), STANDBY,
                                                     leader=None)}))
    status = 503 if generation == "legacy" else 502
    for call in (client.apps, client.info, lambda: client.submit(request_for(
            {"id": "/web", "cmd": "sleep 100", "cpus": 0.1, "mem": 16}))):
        with pytest.raises(MarathonUnreachable) as caught:
            call()
        assert caught.value.message == (
            f"Marathon at http://{STANDBY} has no leader ({status}: {NO_LEADER})")
        assert "<" not in everything_said(caught.value)


@pytest.mark.parametrize("change", ["scale", "remove"])
def test_a_put_or_delete_without_a_page_is_named_after_the_status_line(
        monkeypatch: pytest.MonkeyPatch, generation: str, change: str) -> None:
    """Jetty sends no page for PUT and DELETE; its status line carries the reason."""
    client = Marathon(f"http://{STANDBY}")
    connected(client, Standins({STANDBY: marathon_at(standin(monkeypatch, generation), STANDBY,
                                                     leader=None)}))
    with pytest.raises(MarathonUnreachable) as caught:
        client.scale("/web", 2) if change == "scale" else client.remove("/web")
    assert caught.value.message.endswith(f"has no leader ({caught.value.status}: {NO_LEADER})")


def test_a_standby_cut_off_from_its_leader_says_so(monkeypatch: pytest.MonkeyPatch,
                                                   generation: str) -> None:
    client = Marathon(f"http://{STANDBY}")
    gone = f"127.0.0.1:{free_port()}"
    connected(client, Standins({STANDBY: marathon_at(standin(monkeypatch, generation), STANDBY,
                                                     leader=gone)}))
    with pytest.raises(MarathonUnreachable) as caught:
        client.apps()
    assert caught.value.message == (
        f"Marathon at http://{STANDBY} can't reach its leader (502: Connection to leader "
        "refused.)")


def test_any_html_answer_is_told_by_its_words(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 500 page of 0.11.1 (the forwarder's failure) or of a proxy in front: no markup."""
    module = standin(monkeypatch, "legacy")
    client = Marathon(f"http://{STANDBY}")
    common = sys.modules["common"]
    request = common.Request("POST", "/v2/apps", {}, b"", {})
    page = module.not_forwarded(request, ConnectionResetError("reset"))
    fake = Standins({})
    fake.send = lambda prepared, **_: respond(prepared, page)  # type: ignore[method-assign]
    connected(client, fake)
    with pytest.raises(MarathonError) as caught:
        client.submit(request_for({"id": "/web", "cmd": "sleep 100", "cpus": 0.1, "mem": 16}))
    assert caught.value.message == (
        "web.json: Marathon answered 500: java.lang.RuntimeException: while proxying")


def test_too_many_deployments_does_not_offer_force(monkeypatch: pytest.MonkeyPatch) -> None:
    """1.10.26 checks the limit on every change, ?force=true or not; only a deployment
    cancelled with force (no new deployment) or one that ends makes room."""
    leader = marathon_at(standin(monkeypatch, "modern", MARATHON_MAX_RUNNING_DEPLOYMENTS="1"),
                         LEADER, leader=LEADER)
    client = Marathon(f"http://{LEADER}")
    connected(client, Standins({LEADER: leader}))
    client.submit(request_for({"id": "/web", "cmd": "sleep 100", "cpus": 0.1, "mem": 16}))
    with pytest.raises(MarathonError) as caught:
        client.scale("/web", 2, force=True)
    assert "Max number (1) of running deployments is achieved (403)" in caught.value.message
    assert "--force" not in (caught.value.hint or "")
    assert "--max_running_deployments" in (caught.value.hint or "")


# --- the event stream ------------------------------------------------------------------------


def first_event(client: Marathon, said: list[str] | None = None) -> dict[str, Any] | None:
    """The stream's first event (None: it ended without any); what it said about where it is
    into `said`, when given."""
    on_elsewhere: Callable[[str], None] = (lambda _: None) if said is None else said.append
    for event in client.events(("deployment_success",), stop=threading.Event(),
                               on_elsewhere=on_elsewhere):
        return event
    return None


def ha(monkeypatch: pytest.MonkeyPatch, leader_at: str = LEADER, **env: str) -> dict[str, Any]:
    """A 1.10 standby on STANDBY and its leader on `leader_at`, both asking for admin:s3cret."""
    module = standin(monkeypatch, "modern", MARATHON_HTTP_CREDENTIALS="admin:s3cret", **env)
    marathons = {STANDBY: marathon_at(module, STANDBY, leader=leader_at),
                 leader_at: marathon_at(module, leader_at, leader=leader_at)}
    # the standby's forwarding, in-process too (its own is tested with the stand-in)
    marathons[STANDBY].forward = lambda request, to: marathons[to].handle(request)
    return marathons


def test_the_event_stream_follows_a_standby_to_the_stacks_leader_with_credentials(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The stack's own Marathons on one host: the leader is another port, where requests
    would drop the Authorization header (and the leader answer 401)."""
    from mesostack.api import Stack
    from mesostack.cli._common import Options

    (tmp_path / "stack.yaml").write_text(
        "name: demo\nhost_ip: 127.0.0.1\nmarathon:\n  env:\n"
        "    MARATHON_HTTP_CREDENTIALS: admin:s3cret\n")
    held = [container(f"demo-marathon-{i}", stack="demo", role="marathon",
                      labels={"io.mesostack.endpoint": endpoint, "io.mesostack.index": str(i)})
            for i, endpoint in enumerate((STANDBY, LEADER), start=1)]
    monkeypatch.setattr(Stack, "engines", lambda _s, **_: Engines({None: FakeEngine(held=held)}))
    monkeypatch.delenv("MARATHON_CREDENTIALS", raising=False)
    api = Options(str(tmp_path / "stack.yaml")).stack().marathon_client()
    standins = connected(api, Standins(ha(monkeypatch)))

    event = first_event(api)

    assert event is not None and event["eventType"] == "event_stream_attached"
    assert [(host, auth) for host, path, auth, _ in standins.calls if path == "/v2/events"] == [
        (STANDBY, AUTH), (LEADER, AUTH)]


def test_the_marathon_host_the_user_named_is_trusted_on_any_port(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from mesostack.cli._common import Options

    api = Options(str(tmp_path / "none.yaml")).stack(
        marathon_url=f"http://{STANDBY}", credentials="admin:s3cret").marathon_client()
    standins = connected(api, Standins(ha(monkeypatch)))
    assert first_event(api) is not None
    assert standins.calls[-1][:3] == (LEADER, "/v2/events", AUTH)


def test_credentials_never_follow_a_redirect_elsewhere_and_the_stream_says_why(
        monkeypatch: pytest.MonkeyPatch) -> None:
    api = Marathon(f"http://{STANDBY}", credentials=ADMIN)
    standins = connected(api, Standins(ha(monkeypatch, leader_at=ELSEWHERE)))
    said: list[str] = []

    assert first_event(api, said) is None

    assert [host for host, *_ in standins.calls] == [STANDBY]  # nothing sent to 10.9.9.9
    assert said == [f"Marathon at http://{STANDBY} sends its event stream to its leader at "
                    f"http://{ELSEWHERE}, neither one of the stack's Marathons nor the "
                    "--marathon host: the credentials are not sent there; following by polling"]


def test_without_credentials_the_stream_follows_the_redirect_anywhere(
        monkeypatch: pytest.MonkeyPatch) -> None:
    module = standin(monkeypatch, "modern")
    api = Marathon(f"http://{STANDBY}")
    standins = connected(api, Standins({
        STANDBY: marathon_at(module, STANDBY, leader=ELSEWHERE),
        ELSEWHERE: marathon_at(module, ELSEWHERE, leader=ELSEWHERE)}))
    assert first_event(api) is not None
    assert [host for host, *_ in standins.calls] == [STANDBY, ELSEWHERE]


def test_the_event_watch_says_once_why_it_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    api = Marathon(f"http://{STANDBY}", credentials=ADMIN)
    connected(api, Standins(ha(monkeypatch, leader_at=ELSEWHERE)))
    said: list[str] = []
    with EventWatch(api, say=said.append):
        pass
    assert len(said) == 1 and "following by polling" in said[0] and "\n" not in said[0]


def test_deploy_warns_in_one_line_that_it_follows_by_polling(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from mesostack.api import Stack

    api = Marathon(f"http://{STANDBY}", credentials=ADMIN)
    marathons = ha(monkeypatch, leader_at=ELSEWHERE)
    connected(api, Standins(marathons))
    monkeypatch.setattr(Stack, "marathon_client", lambda _s: api)
    monkeypatch.setattr(Stack, "_follow", lambda *_a, **_k: None)
    monkeypatch.setattr(console, "_plain", lambda: True)
    app = tmp_path / "web.json"
    app.write_text('{"id": "web", "cmd": "sleep 100", "cpus": 0.1, "mem": 16}')
    (tmp_path / "stack.yaml").write_text("host_ip: 127.0.0.1\n")

    code, _, err = run(["-f", str(tmp_path / "stack.yaml"), "deploy", str(app)], capsys)

    assert code == 0, err
    warned = [line for line in err.splitlines() if "polling" in line]
    assert warned == [f"mesostack: warning: Marathon at http://{STANDBY} sends its event stream "
                      f"to its leader at http://{ELSEWHERE}, neither one of the stack's "
                      "Marathons nor the --marathon host: the credentials are not sent there; "
                      "following by polling"]
