"""The Marathon stand-in's leader proxy filter and the 1.x refusals, pinned to the sources
(legacy = mesosphere/marathon v0.11.1 on Jetty 9.3.2, modern = v1.10.26 on Jetty 9.4.8):
what a standby does with /ping, /v2/* and /v2/events, what a Marathon without a leader answers
after how long, the 403 for too many running deployments and the 503 of a task tracker that
does not answer.

In-process, the waits on a fake clock; a standby forwards to a leader served on loopback."""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
import requests
from standin_loader import free_port, load_standin
from test_standins_shapes import FakeZk, leading

from fakes import FakeClock

GENERATIONS = ("legacy", "modern")
NO_LEADER = "Could not determine the current leader"
# The page Jetty's ErrorHandler writes for sendError (9.3.2 and 9.4.8 writeErrorPage; 0.11.1's
# Jetty signs it, 1.10.26 switches that off).
PAGE = ('<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>\n'
        "<title>Error {status} {message}</title>\n</head>\n<body><h2>HTTP ERROR {status}</h2>\n"
        "<p>Problem accessing {uri}. Reason:\n<pre>    {message}</pre></p>{signed}\n</body>\n"
        "</html>\n")
SIGNED = ('<hr><a href="http://eclipse.org/jetty">Powered by Jetty:// 9.3.2.v20150730</a>'
          "<hr/>\n")
TOO_MANY = ("Max number (1) of running deployments is achieved. Wait for existing deployments "
            "to complete or cancel oneusing force=true parameter. You can increase max "
            "deployment number by using --max_running_deployments parameter but be advised that "
            "this can have negative effects on the performance.")
TIMED_OUT = ("timeout while calling instancesBySpec() (current value = 10000 millisecondsms.If "
             "you know what you are doing, you can adjust the timeout with "
             "--task_tracker_request_timeout.")
APP = {"id": "web", "cmd": "sleep 100", "cpus": 0.1, "mem": 16}


def page(status: int, message: str, uri: str, generation: str) -> bytes:
    signed = SIGNED if generation == "legacy" else ""
    return PAGE.format(status=status, message=message, uri=uri, signed=signed).encode()


def load(monkeypatch: pytest.MonkeyPatch, generation: str, **env: str) -> ModuleType:
    monkeypatch.setenv("MARATHON_MASTER", "127.0.0.1:5050")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_standin(monkeypatch, "marathon", generation)


def ask(m: Any, method: str, path: str, body: Any = None, **headers: str) -> Any:
    """One request through the stand-in's handler, as its server hands it over."""
    common = sys.modules["common"]
    path, _, query = path.partition("?")
    pairs = [p.split("=", 1) for p in query.split("&") if p]
    return m.handle(common.Request(
        method, path, {k: v for k, v in pairs}, json.dumps(body).encode() if body else b"",
        {k.lower().replace("_", "-"): v for k, v in headers.items()},
        {k: [v for key, v in pairs if key == k] for k, _ in pairs}))


def leaderless(module: ModuleType, clock: FakeClock, *, named: str | None = None) -> Any:
    """A Marathon that is not elected, ZooKeeper naming `named` as leader (None: no one)."""
    m = module.Marathon()
    m.zk, m.sleep, m.leader = FakeZk(), clock.sleep, named
    return m


@pytest.fixture(params=GENERATIONS)
def generation(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --- no leader -------------------------------------------------------------------------------


def test_without_a_leader_ping_waits_2_75_s_and_gets_jettys_page(
        monkeypatch: pytest.MonkeyPatch, generation: str) -> None:
    """LeaderProxyFilter: 11 looks 250 ms apart, then sendError(503) in 0.11.1, (502) in
    1.10.26, with "Could not determine the current leader"; /ping is not exempt."""
    clock = FakeClock()
    m = leaderless(load(monkeypatch, generation), clock)

    answer = ask(m, "GET", "/ping", Accept="*/*")

    status = 503 if generation == "legacy" else 502
    assert (answer.status, answer.reason) == (status, NO_LEADER)
    assert answer.body == page(status, NO_LEADER, "/ping", generation)
    assert answer.headers == {"Content-Type": "text/html;charset=iso-8859-1",
                              "Cache-Control": "must-revalidate,no-cache,no-store"}
    assert clock.sleeps == [0.25] * 11 and sum(clock.sleeps) == 2.75


def test_the_wait_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    m = leaderless(load(monkeypatch, "modern", STANDIN_LEADER_RETRY_INTERVAL="0.01"), clock)
    assert ask(m, "GET", "/v2/apps").status == 502
    assert clock.sleeps == [0.01] * 11


@pytest.mark.parametrize("path", ["/v2/leader", "/v2/info", "/v2/apps", "/metrics"])
def test_no_path_is_exempt_from_the_filter(monkeypatch: pytest.MonkeyPatch, generation: str,
                                           path: str) -> None:
    m = leaderless(load(monkeypatch, generation), FakeClock())
    answer = ask(m, "GET", path)
    assert answer.status == (503 if generation == "legacy" else 502)
    assert NO_LEADER.encode() in answer.body


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_a_put_or_delete_gets_no_page_only_the_status_line(
        monkeypatch: pytest.MonkeyPatch, generation: str, method: str) -> None:
    """Jetty's ErrorHandler writes its page for GET, POST and HEAD only."""
    m = leaderless(load(monkeypatch, generation), FakeClock())
    answer = ask(m, method, "/v2/apps/web", {"cmd": "sleep 1"})
    assert (answer.body, answer.reason) == (b"", NO_LEADER)


def test_1_10_writes_the_page_only_for_an_accept_that_admits_html(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Jetty 9.4.8 ErrorHandler.generateAcceptableResponse; 9.3.2 always writes it."""
    modern = leaderless(load(monkeypatch, "modern"), FakeClock())
    assert ask(modern, "GET", "/v2/events", Accept="text/event-stream").body == b""
    assert ask(modern, "GET", "/ping", Accept="application/json").body == b""
    assert ask(modern, "GET", "/ping", Accept="application/json, text/*;q=0.5").body != b""
    assert ask(modern, "GET", "/ping", Accept="text/html;q=0").body == b""
    assert ask(modern, "GET", "/ping").body == page(502, NO_LEADER, "/ping", "modern")
    legacy = leaderless(load(monkeypatch, "legacy"), FakeClock())
    assert ask(legacy, "GET", "/v2/events", Accept="text/event-stream").body == page(
        503, NO_LEADER, "/v2/events", "legacy")


def test_itself_named_but_not_elected_is_no_leader(monkeypatch: pytest.MonkeyPatch,
                                                   generation: str) -> None:
    """`leaderDataOpt.forall(_ == myHostPort)`: its own election record from before a
    restart does not make it the leader."""
    clock = FakeClock()
    module = load(monkeypatch, generation)
    m = leaderless(module, clock)
    m.leader = m.me
    assert ask(m, "GET", "/ping").reason == NO_LEADER
    assert len(clock.sleeps) == 11


def test_a_leader_elected_during_the_wait_answers(monkeypatch: pytest.MonkeyPatch,
                                                  generation: str) -> None:
    m = leaderless(load(monkeypatch, generation), FakeClock())

    def elected_on_the_third(_: float) -> None:
        looks.append(1)
        if len(looks) == 3:
            m.elected, m.leader = True, m.me

    looks: list[int] = []
    m.sleep = elected_on_the_third
    answer = ask(m, "GET", "/ping")
    assert answer.status == 200 and len(looks) == 3


def test_a_page_escapes_what_it_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    """StringUtil.sanitizeXmlString."""
    module = load(monkeypatch, "legacy")
    assert module.sanitize("<a href='x'>&\"\x07\t") == (
        "&lt;a href=&apos;x&apos;&gt;&amp;&quot;?\t")


# --- the leader ------------------------------------------------------------------------------


def test_the_leader_names_itself_and_pongs(monkeypatch: pytest.MonkeyPatch,
                                           generation: str) -> None:
    m = leading(load(monkeypatch, generation))
    answer = ask(m, "GET", "/ping")
    assert answer.status == 200
    assert answer.headers["X-Marathon-Leader"] == f"http://{m.me}"
    if generation == "legacy":  # chaos v0.7.0 PingServlet: println("pong")
        assert answer.body == "pong\n"
        assert "X-Frame-Options" not in answer.headers
    else:  # SystemResource.ping; LeaderProxyFilter's two headers
        assert (answer.body, answer.headers["Content-Type"]) == ("pong", "text/plain")
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["X-XSS-Protection"] == "1; mode=block"


def test_1_10_ping_answers_after_accept(monkeypatch: pytest.MonkeyPatch) -> None:
    m = leading(load(monkeypatch, "modern"))
    json_ping = ask(m, "GET", "/ping", Accept="application/json")
    assert (json_ping.body, json_ping.headers["Content-Type"]) == ('"pong"', "application/json")
    assert ask(m, "GET", "/ping", Accept="text/html").headers["Content-Type"] == "text/html"
    assert ask(m, "GET", "/ping", Accept="text/csv").headers["Content-Type"] == "text/plain"
    assert ask(m, "GET", "/ping", Accept="image/png").status == 204


# --- a standby -------------------------------------------------------------------------------


class Served:
    """A Marathon stand-in's handler on a loopback port, recording each request it got."""

    def __init__(self, m: Any) -> None:
        self.m = m
        self.requests: list[Any] = []
        common = sys.modules["common"]
        self.server = common.serve("marathon", "127.0.0.1", int(m.me.rsplit(":", 1)[1]),
                                   self.handle)

    def handle(self, request: Any) -> Any:
        self.requests.append(request)
        return self.m.handle(request)

    def close(self) -> None:
        """Stopped at once: each connection wakes the server's poll (every 0.5 s else)."""
        stopper = threading.Thread(target=self.server.shutdown)
        stopper.start()
        while stopper.is_alive():
            with contextlib.suppress(OSError):
                socket.create_connection(self.server.server_address[:2], timeout=1).close()
            stopper.join(0.01)
        self.server.server_close()


@pytest.fixture
def pair(monkeypatch: pytest.MonkeyPatch, generation: str) -> Iterator[tuple[Any, Served]]:
    """A standby and the leader it knows from ZooKeeper, both with the same credentials."""
    module = load(monkeypatch, generation, MARATHON_HTTP_CREDENTIALS="admin:s3cret")
    monkeypatch.setenv("MARATHON_HTTP_PORT", str(free_port()))
    leader = Served(leading(module))
    monkeypatch.setenv("MARATHON_HTTP_PORT", str(free_port()))
    standby = leaderless(module, FakeClock(), named=leader.m.me)
    try:
        yield standby, leader
    finally:
        leader.close()


AUTH = "Basic YWRtaW46czNjcmV0"  # admin:s3cret


def test_a_standby_forwards_to_the_leader_with_every_header(pair: tuple[Any, Served]) -> None:
    """0.11.1 JavaUrlConnectionRequestForwarder, 1.10.26 AsyncUrlConnectionRequestForwarder:
    all headers but Host and Connection, X-Marathon-Via added both ways."""
    standby, leader = pair
    created = ask(standby, "POST", "/v2/apps", APP, Authorization=AUTH, Accept="*/*",
                  Content_Type="application/json", X_Custom="kept")
    assert created.status == 201
    assert json.loads(created.body)["id"] == "/web"
    assert created.headers["X-Marathon-Leader"] == f"http://{leader.m.me}"
    assert created.headers["X-Marathon-Via"] == f"1.1 {standby.me}"
    (seen,) = leader.requests
    assert seen.headers["authorization"] == AUTH and seen.headers["x-custom"] == "kept"
    assert seen.headers["x-marathon-via"] == f"1.1 {standby.me}"
    assert seen.headers["host"] == leader.m.me  # the leader's, not the standby's

    assert ask(standby, "GET", "/ping", Authorization=AUTH).status == 200  # /ping too
    assert ask(standby, "GET", "/v2/leader", Authorization=AUTH).body == json.dumps(
        {"leader": leader.m.me}).encode()


def test_the_leaders_refusals_come_back_as_they_are(pair: tuple[Any, Served]) -> None:
    standby, leader = pair
    leader.m.credentials = "admin:other"
    refused = ask(standby, "GET", "/v2/apps", Authorization=AUTH)
    assert refused.status == 401 and json.loads(refused.body) == {
        "message": "Invalid username or password."}
    standby.credentials = "admin:other"
    assert ask(standby, "GET", "/v2/apps", Authorization=AUTH).status == 401  # its own check
    assert len(leader.requests) == 1


def test_a_standby_redirects_or_forwards_the_event_stream(pair: tuple[Any, Served],
                                                          generation: str) -> None:
    """1.10.26 (and releases/1.11): 302 to the same path and query on the leader; 0.11.1
    forwards the stream as it flows."""
    standby, leader = pair
    answer = ask(standby, "GET", "/v2/events?event_type=a&event_type=b", Authorization=AUTH,
                 Accept="text/event-stream")
    if generation == "modern":
        assert (answer.status, answer.body) == (302, b"")
        assert answer.headers["Location"] == (
            f"http://{leader.m.me}/v2/events?event_type=a&event_type=b")
        assert leader.requests == []
        return
    assert answer.status == 200 and answer.stream is not None
    first = next(answer.stream)
    assert b"event_stream_attached" in first
    answer.stream.close()
    assert leader.requests[0].query_all == {"event_type": ["a", "b"]}


def test_a_request_that_went_through_this_standby_is_a_loop(pair: tuple[Any, Served]) -> None:
    standby, leader = pair
    answer = ask(standby, "GET", "/v2/apps", Authorization=AUTH,
                 X_Marathon_Via=f"1.1 other:8080, 1.1 {standby.me}")
    assert (answer.status, answer.reason) == (502, "Detected proxying loop.")
    assert leader.requests == []


def test_a_leader_that_refuses_the_connection_is_502(monkeypatch: pytest.MonkeyPatch,
                                                     generation: str) -> None:
    module = load(monkeypatch, generation)
    standby = leaderless(module, FakeClock(), named=f"127.0.0.1:{free_port()}")
    answer = ask(standby, "GET", "/v2/apps")
    assert (answer.status, answer.reason) == (502, "Connection to leader refused.")


def test_a_leader_that_hangs_up_is_500_on_0_11_and_502_on_1_10(
        monkeypatch: pytest.MonkeyPatch, generation: str) -> None:
    """0.11.1 answers only a ConnectException with 502; anything else escapes its filter
    (Jetty's 500 page). 1.10.26 reports any TCP failure as 502."""
    listener = socket.create_server(("127.0.0.1", 0))
    threading.Thread(target=lambda: listener.accept()[0].close(), daemon=True).start()
    module = load(monkeypatch, generation)
    standby = leaderless(module, FakeClock(), named=f"127.0.0.1:{listener.getsockname()[1]}")
    try:
        answer = ask(standby, "GET", "/v2/apps")
    finally:
        listener.close()
    if generation == "modern":
        assert (answer.status, answer.reason) == (502, "Connection to leader refused.")
    else:
        assert (answer.status, answer.reason) == (500, None)
        assert b"<title>Error 500 java.lang.RuntimeException: while proxying</title>" in (
            answer.body)


def test_a_standby_over_http_answers_as_jetty_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """The status line carries the reason (the server writes `Response.reason`)."""
    module = load(monkeypatch, "modern")
    monkeypatch.setenv("MARATHON_HTTP_PORT", str(free_port()))
    served = Served(leaderless(module, FakeClock()))
    try:
        answer = requests.put(f"http://{served.m.me}/v2/apps/web", json={}, timeout=5)
    finally:
        served.close()
    assert (answer.status_code, answer.reason, answer.text) == (502, NO_LEADER, "")


# --- 1.x's refusals --------------------------------------------------------------------------


def test_1_10_refuses_changes_at_max_running_deployments_with_403(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """GroupManagerImpl.checkMaxRunningDeployments, before any change, force or not."""
    m = leading(load(monkeypatch, "modern", MARATHON_MAX_RUNNING_DEPLOYMENTS="1"))
    created = ask(m, "POST", "/v2/apps", APP)
    assert created.status == 201
    deployment = created.body["deployments"][0]["id"]
    for method, path, body in [("POST", "/v2/apps", {**APP, "id": "db"}),
                               ("PUT", "/v2/apps/web?force=true", {"cmd": "sleep 200"}),
                               ("DELETE", "/v2/apps/web?force=true", None),
                               ("DELETE", "/v2/apps/missing", None),
                               ("POST", "/v2/groups", {"id": "shop", "apps": [APP]}),
                               ("DELETE", f"/v2/deployments/{deployment}", None)]:
        refused = ask(m, method, path, body)
        assert (refused.status, refused.body) == (403, {"message": TOO_MANY}), (method, path)
    assert ask(m, "POST", "/v2/apps", {"id": "db"}).status == 422  # read before the limit
    assert ask(m, "DELETE", f"/v2/deployments/{deployment}?force=true").status == 200
    assert ask(m, "POST", "/v2/apps", {**APP, "id": "db"}).status == 201


def test_0_11_has_no_deployment_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    m = leading(load(monkeypatch, "legacy", MARATHON_MAX_RUNNING_DEPLOYMENTS="1"))
    assert ask(m, "POST", "/v2/apps", APP).status == 201
    assert ask(m, "POST", "/v2/apps", {**APP, "id": "db"}).status == 201


def test_1_10_answers_503_when_its_task_tracker_does_not_answer_in_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """InstanceTrackerDelegate.instancesBySpec: an ask within --task_tracker_request_timeout
    (10000 ms), else a TimeoutException, 503 with its message."""
    clock = FakeClock()
    m = leading(load(monkeypatch, "modern", STANDIN_TASK_TRACKER_DELAY="30"))
    m.sleep = clock.sleep
    ask(m, "POST", "/v2/apps", APP)
    for path in ("/v2/apps", "/v2/apps/web", "/v2/apps/web/tasks", "/v2/tasks"):
        answer = ask(m, "GET", path)
        assert (answer.status, answer.body) == (503, {"message": TIMED_OUT}), path
    assert clock.sleeps == [10.0] * 4
    assert ask(m, "GET", "/v2/queue").status == 200  # no ask of the tracker
    assert ask(m, "GET", "/v2/apps/web/versions").status == 200
    m.tracker_delay = 2.0
    assert ask(m, "GET", "/v2/apps").status == 200 and clock.sleeps[-1] == 2.0


def test_the_tracker_timeout_is_marathons_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    m = leading(load(monkeypatch, "modern", STANDIN_TASK_TRACKER_DELAY="1",
                     MARATHON_TASK_TRACKER_REQUEST_TIMEOUT="500"))
    m.sleep = FakeClock().sleep
    assert ask(m, "GET", "/v2/tasks").body["message"].startswith(
        "timeout while calling instancesBySpec() (current value = 500 millisecondsms.If")


def test_0_11_has_no_tracker_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    m = leading(load(monkeypatch, "legacy", STANDIN_TASK_TRACKER_DELAY="30"))
    m.sleep = clock.sleep
    assert ask(m, "GET", "/v2/apps").status == 200 and clock.sleeps == []
