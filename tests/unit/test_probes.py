"""Readiness probes over a fake HTTP: what each answer of the masters, the agent and Marathon
means, and the polling loop. No sockets: `FakeHttp` answers from a table of URLs."""

from __future__ import annotations

from typing import Any

import pytest

from fakemesos import (
    AGENT,
    AGENT_ID,
    FRAMEWORK_ID,
    LEADER_PID,
    MARATHON,
    MASTER,
    FakeHttp,
    FakeResponse,
    Route,
    a_framework,
    agent_state,
    an_agent,
    answer,
    legacy_master,
    master_state,
    modern_master,
)
from fakes import FakeClock
from mesostack import mesos, probes
from mesostack.probes import (
    AgentProbe,
    MarathonLeaderProbe,
    MarathonProbe,
    MasterProbe,
    NotYet,
    Ready,
    TimedOut,
)


def not_yet(probe: Any) -> str:
    with pytest.raises(NotYet) as raised:
        probe.check()
    return str(raised.value)


# --- the fake itself -----------------------------------------------------------------------


def test_fake_http_refuses_unknown_hosts_and_404s_unknown_paths() -> None:
    http = FakeHttp(modern_master(master_state()))
    with pytest.raises(mesos.Unanswered, match=r"^waiting$"):
        http.get("http://127.0.0.9:5050/master/state", waiting="waiting")
    assert http.get(f"http://{MASTER}/nope", waiting="w").status_code == 404


# --- what readiness reads from mesos ----------------------------------------------------------


def test_what_status_and_down_read_through_probes_is_not_yet_when_unanswered() -> None:
    with pytest.raises(NotYet, match=rf"^the agent on {AGENT} to answer /state$"):
        probes.agent_task_containers(AGENT, http=FakeHttp())
    with pytest.raises(NotYet, match=r"^a leading master via 127\.0\.0\.1:5050$"):
        probes.leading_state(FakeHttp(), MASTER)
    http = FakeHttp(modern_master(master_state(slaves=[an_agent()])))
    assert [a["id"] for a in probes.leading_state(http, MASTER)["slaves"]] == [AGENT_ID]


def test_zookeeper_mode_and_its_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    def srvr(host: str, port: int, word: str, **_: Any) -> str:
        if host == "10.0.0.1":
            return "Zookeeper version: 3.8.4\nLatency min/avg/max: 0/0.0/0\nMode: follower\n"
        raise mesos.Unanswered(f"ZooKeeper on {host}:{port} does not answer: Connection refused")

    monkeypatch.setattr(mesos, "four_letter_word", srvr)
    assert probes.zookeeper_mode("10.0.0.1", 2181) == "follower"
    assert probes.ZooKeeperProbe("10.0.0.1", 2181).check() == Ready("mode follower")
    assert probes.zookeeper_mode("10.0.0.2", 2181) is None
    assert not_yet(probes.ZooKeeperProbe("10.0.0.2", 2181)) == (
        "ZooKeeper on 10.0.0.2:2181 to answer `srvr` with a mode")


# --- master --------------------------------------------------------------------------------


def test_master_ready_modern() -> None:
    http = FakeHttp(modern_master(master_state()))
    ready = MasterProbe(MASTER, http=http).check()
    assert ready == Ready(f"leader {LEADER_PID}, Mesos 1.4.0")
    assert f"http://{MASTER}/master/state.json" not in http.calls


def test_master_ready_legacy() -> None:
    http = FakeHttp(legacy_master(master_state(version="0.23.0")))
    ready = MasterProbe(MASTER, http=http).check()
    assert ready.detail == f"leader {LEADER_PID}, Mesos 0.23.0"
    assert http.calls == [f"http://{MASTER}/master/health", f"http://{MASTER}/master/state",
                          f"http://{MASTER}/master/state.json"]


def test_master_refused() -> None:
    message = not_yet(MasterProbe(MASTER, http=FakeHttp()))
    assert message == f"the master on {MASTER} to answer /master/health"


def test_master_unhealthy() -> None:
    routes = modern_master(master_state())
    routes[f"http://{MASTER}/master/health"] = FakeResponse(503, "")
    message = not_yet(MasterProbe(MASTER, http=FakeHttp(routes)))
    assert message == f"the master on {MASTER} to be healthy (/master/health: HTTP 503)"


def test_master_no_leader_elected() -> None:
    """Modern masters answer 503 "No leader elected" for /master/state until there is one."""
    routes = modern_master(master_state())
    routes[f"http://{MASTER}/master/state"] = FakeResponse(503, "No leader elected")
    message = not_yet(MasterProbe(MASTER, http=FakeHttp(routes)))
    assert message.endswith("(No leader elected)")
    assert MASTER in message


def test_master_503_without_text() -> None:
    routes = modern_master(master_state())
    routes[f"http://{MASTER}/master/state"] = FakeResponse(503, "  ")
    assert not_yet(MasterProbe(MASTER, http=FakeHttp(routes))).endswith("(unavailable)")


def test_master_legacy_knows_no_leader_yet() -> None:
    """Legacy masters answer their state at once, without `leader` until one is elected."""
    http = FakeHttp(legacy_master(master_state(leader=None)))
    message = not_yet(MasterProbe(MASTER, http=http))
    assert message == f"a leading master (the master on {MASTER} knows none yet)"


@pytest.mark.parametrize(
    ("response", "expected"),
    [(FakeResponse(500, "boom"), "(HTTP 500 from /master/state)"),
     (FakeResponse(200, "<html>"), "(/master/state is not JSON)"),
     (answer([1, 2]), "(not an object)")],
)
def test_master_odd_state_answers(response: FakeResponse, expected: str) -> None:
    routes = modern_master(master_state())
    routes[f"http://{MASTER}/master/state"] = response
    assert not_yet(MasterProbe(MASTER, http=FakeHttp(routes))).endswith(expected)


def test_master_neither_state_endpoint() -> None:
    http = FakeHttp({f"http://{MASTER}/master/health": FakeResponse(200)})
    message = not_yet(MasterProbe(MASTER, http=http))
    assert message.endswith("(none of /master/state, /master/state.json answered)")


# --- agent ---------------------------------------------------------------------------------


def agent_routes(agent: dict[str, Any], leader: dict[str, Any], *,
                 legacy: bool = False) -> dict[str, Route]:
    path = "/state.json" if legacy else "/state"
    master = legacy_master(leader) if legacy else modern_master(leader)
    return {**master, f"http://{AGENT}{path}": answer(agent)}


def test_agent_ready() -> None:
    http = FakeHttp(agent_routes(agent_state(), master_state(slaves=[an_agent()])))
    assert AgentProbe(AGENT, MASTER, http=http).check() == Ready(f"agent {AGENT_ID}")


def test_agent_ready_legacy() -> None:
    leader = master_state(version="0.23.0", slaves=[an_agent("other-S1"), an_agent()])
    http = FakeHttp(agent_routes(agent_state(), leader, legacy=True))
    assert AgentProbe(AGENT, MASTER, http=http).check().detail == f"agent {AGENT_ID}"


def test_agent_refused() -> None:
    http = FakeHttp(modern_master(master_state()))
    assert not_yet(AgentProbe(AGENT, MASTER, http=http)) == (
        f"the agent on {AGENT} to answer /state")


def test_agent_without_id() -> None:
    """Agents answer `id` "" until a master has registered them."""
    http = FakeHttp(agent_routes(agent_state(""), master_state(slaves=[an_agent()])))
    message = not_yet(AgentProbe(AGENT, MASTER, http=http))
    assert "no id" in message
    assert message == f"the agent on {AGENT} to register (it has no id yet)"
    assert not any(MASTER in url for url in http.calls)


def test_agent_registered_but_not_listed() -> None:
    http = FakeHttp(agent_routes(agent_state(), master_state(slaves=[an_agent("other-S1")])))
    message = not_yet(AgentProbe(AGENT, MASTER, http=http))
    assert message == f"the leading master to list agent {AGENT_ID} as active"


def test_agent_listed_but_inactive() -> None:
    http = FakeHttp(agent_routes(agent_state(), master_state(slaves=[an_agent(active=False)])))
    assert "as active" in not_yet(AgentProbe(AGENT, MASTER, http=http))


def test_agent_master_without_leader() -> None:
    http = FakeHttp(agent_routes(agent_state(), master_state(leader=None), legacy=True))
    assert not_yet(AgentProbe(AGENT, MASTER, http=http)).startswith("a leading master")


# --- Marathon ------------------------------------------------------------------------------


def marathon_routes(info: Any, leader: dict[str, Any], *,
                    ping: FakeResponse | None = None) -> dict[str, Route]:
    return {
        **modern_master(leader),
        f"http://{MARATHON}/ping": ping or FakeResponse(200, "pong\n"),
        f"http://{MARATHON}/v2/info": answer(info),
    }


def test_marathon_ready() -> None:
    info = {"name": "marathon", "version": "1.4.0", "frameworkId": FRAMEWORK_ID}
    http = FakeHttp(marathon_routes(info, master_state(frameworks=[a_framework()])))
    ready = MarathonProbe(MARATHON, MASTER, http=http).check()
    assert ready == Ready(f"framework {FRAMEWORK_ID}, Marathon 1.4.0")


def test_marathon_refused() -> None:
    http = FakeHttp(modern_master(master_state()))
    assert not_yet(MarathonProbe(MARATHON, MASTER, http=http)) == (
        f"Marathon on {MARATHON} to answer /ping")


def test_marathon_ping_503() -> None:
    ping = FakeResponse(503, "Marathon is not the leader " + "x" * 200)
    http = FakeHttp(marathon_routes({}, master_state(), ping=ping))
    message = not_yet(MarathonProbe(MARATHON, MASTER, http=http))
    assert message.startswith(f"Marathon on {MARATHON} to answer /ping (HTTP 503: Marathon is")
    assert len(message) < 160


@pytest.mark.parametrize("info", [{"name": "marathon", "version": "1.4.0"},
                                  {"frameworkId": None}, {"frameworkId": ""}, []])
def test_marathon_without_framework_id(info: Any) -> None:
    http = FakeHttp(marathon_routes(info, master_state(frameworks=[a_framework()])))
    message = not_yet(MarathonProbe(MARATHON, MASTER, http=http))
    assert message == "Marathon to register with the master (no frameworkId yet)"


def test_marathon_info_not_ready() -> None:
    routes = marathon_routes({}, master_state())
    routes[f"http://{MARATHON}/v2/info"] = FakeResponse(503, "")
    message = not_yet(MarathonProbe(MARATHON, MASTER, http=FakeHttp(routes)))
    assert message == f"Marathon on {MARATHON} /v2/info (HTTP 503)"


@pytest.mark.parametrize("frameworks", [[], [a_framework("another")],
                                        [a_framework(active=False)]])
def test_marathon_framework_not_active(frameworks: list[dict[str, Any]]) -> None:
    info = {"frameworkId": FRAMEWORK_ID}
    http = FakeHttp(marathon_routes(info, master_state(frameworks=frameworks)))
    message = not_yet(MarathonProbe(MARATHON, MASTER, http=http))
    assert message == f"the leading master to list framework {FRAMEWORK_ID} as active"


def test_marathon_refuses_our_credentials() -> None:
    http = FakeHttp(marathon_routes({}, master_state(), ping=FakeResponse(401, "")))
    assert not_yet(MarathonProbe(MARATHON, MASTER, http=http)) == (
        f"Marathon on {MARATHON} to accept our credentials (401: set MARATHON_HTTP_CREDENTIALS "
        "in marathon.env to the ones it uses)")


def test_marathon_info_not_json() -> None:
    routes = marathon_routes({}, master_state())
    routes[f"http://{MARATHON}/v2/info"] = FakeResponse(200, "<html>")
    message = not_yet(MarathonProbe(MARATHON, MASTER, http=FakeHttp(routes)))
    assert message == f"Marathon on {MARATHON} /v2/info (not JSON)"


def test_marathon_checks_go_through_the_client_with_short_timeouts_and_credentials() -> None:
    info = {"version": "1.4.0", "frameworkId": FRAMEWORK_ID}
    http = FakeHttp(marathon_routes(info, master_state(frameworks=[a_framework()])))
    http.session.auth = ("admin", "s3cret")  # as Http.with_credentials sets it
    MarathonProbe(MARATHON, MASTER, http=http).check()
    asked = [(url, timeout, auth) for url, timeout, auth in zip(
        http.calls, http.transport.timeouts, http.transport.authorizations, strict=True)
        if MARATHON in url]
    assert [url for url, _, _ in asked] == [f"http://{MARATHON}/ping",
                                           f"http://{MARATHON}/v2/info"]
    # /ping waits out a leaderless Marathon's 2.75 s before its answer
    assert [timeout for _, timeout, _ in asked] == [(1.0, 5.75), (1.0, 3.0)]
    assert {auth for _, _, auth in asked} == {"Basic YWRtaW46czNjcmV0"}


def leaders(*named: FakeResponse) -> FakeHttp:
    return FakeHttp({f"http://127.0.0.{i}:8080/v2/leader": response
                     for i, response in enumerate(named, start=1)})


def test_marathon_leader_probe_wants_one_leader_named_by_all() -> None:
    one = answer({"leader": "127.0.0.2:8080"})
    endpoints = ["127.0.0.1:8080", "127.0.0.2:8080"]
    assert MarathonLeaderProbe(endpoints, leaders(one, one)).check() == Ready(
        "leader 127.0.0.2:8080")
    split = leaders(one, answer({"leader": "127.0.0.1:8080"}))
    assert not_yet(MarathonLeaderProbe(endpoints, split)) == (
        "one leader among the Marathons ({'127.0.0.1:8080': '127.0.0.2:8080', "
        "'127.0.0.2:8080': '127.0.0.1:8080'})")
    none_yet = leaders(one, FakeResponse(404, '{"message": "There is no leader"}'))
    assert not_yet(MarathonLeaderProbe(endpoints, none_yet)) == (
        "Marathon on 127.0.0.2:8080 to name its leader (HTTP 404)")
    assert not_yet(MarathonLeaderProbe(["127.0.0.9:8080"], leaders())) == (
        "Marathon on 127.0.0.9:8080 to name its leader")


def test_marathon_leader_for_status() -> None:
    http = leaders(answer({"leader": "127.0.0.1:8080"}), FakeResponse(503, ""))
    assert probes.marathon_leader("127.0.0.1:8080", http=http) == "127.0.0.1:8080"
    assert probes.marathon_leader("127.0.0.2:8080", http=http) is None
    assert probes.marathon_leader("127.0.0.9:8080", http=http) is None


# --- wait ----------------------------------------------------------------------------------


class ScriptedProbe:
    """Raises NotYet with each message of `script` in turn, then is ready."""

    awaited = "the thing to be ready"

    def __init__(self, *script: str, ready: bool = True) -> None:
        self.script = list(script)
        self.ready = ready
        self.checks = 0

    def check(self) -> Ready:
        self.checks += 1
        if self.script:
            message = self.script.pop(0) if len(self.script) > 1 or self.ready else self.script[0]
            raise NotYet(message)
        return Ready("done")


def test_wait_ready_at_once() -> None:
    seen: list[str] = []
    probe = ScriptedProbe()
    clock = FakeClock()
    assert probes.wait(probe, deadline=clock.now() + 5, on_wait=seen.append,
                       clock=clock) == Ready("done")
    assert seen == []
    assert probe.checks == 1
    assert clock.sleeps == []


def test_wait_reports_changes_only() -> None:
    seen: list[str] = []
    alive_calls: list[None] = []
    probe = ScriptedProbe("a", "a", "b", "b", "b", "a")
    clock = FakeClock()
    ready = probes.wait(probe, deadline=clock.now() + 5, on_wait=seen.append,
                        alive=lambda: alive_calls.append(None), clock=clock)
    assert ready == Ready("done")
    assert seen == ["a", "b", "a"]
    assert probe.checks == 7
    assert len(alive_calls) == 6


def test_wait_reports_the_awaited_text_once() -> None:
    seen: list[str] = []
    probe = ScriptedProbe(*[ScriptedProbe.awaited] * 4)
    clock = FakeClock()
    probes.wait(probe, deadline=clock.now() + 5, on_wait=seen.append, clock=clock)
    assert seen == [ScriptedProbe.awaited]


def test_wait_times_out_with_the_last_awaited_text() -> None:
    seen: list[str] = []
    probe = ScriptedProbe("first", "second", ready=False)
    clock = FakeClock()
    start = clock.now()
    with pytest.raises(TimedOut) as raised:
        probes.wait(probe, deadline=start + 1, interval=0.25, on_wait=seen.append, clock=clock)
    assert raised.value.waiting_for == "second"
    assert str(raised.value) == "second"
    assert raised.value.waited == clock.now() - start == 1
    assert clock.sleeps == [0.25] * 4
    assert seen == ["first", "second"]
    assert probe.checks == 5  # at 0, 0.25, 0.5, 0.75 and at the deadline


def test_wait_past_deadline_checks_once() -> None:
    probe = ScriptedProbe("not yet", ready=False)
    clock = FakeClock()
    with pytest.raises(TimedOut, match=r"^not yet$"):
        probes.wait(probe, deadline=clock.now() - 1, clock=clock)
    assert probe.checks == 1


def test_wait_ready_even_past_deadline() -> None:
    clock = FakeClock()
    assert probes.wait(ScriptedProbe(), deadline=clock.now() - 1, clock=clock) == Ready("done")


def test_wait_stops_when_alive_raises() -> None:
    class Exited(Exception):
        pass

    calls = 0

    def alive() -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise Exited("the container exited")

    probe = ScriptedProbe("x", ready=False)
    clock = FakeClock()
    with pytest.raises(Exited, match="the container exited"):
        probes.wait(probe, deadline=clock.now() + 5, alive=alive, clock=clock)
    assert probe.checks == 3


def test_wait_with_fake_http_probe() -> None:
    """A master that elects a leader on the third look."""
    looks = 0

    def state() -> FakeResponse:
        nonlocal looks
        looks += 1
        return FakeResponse(503, "No leader elected") if looks < 3 else answer(master_state())

    routes = modern_master(master_state())
    routes[f"http://{MASTER}/master/state"] = state
    seen: list[str] = []
    clock = FakeClock()
    ready = probes.wait(MasterProbe(MASTER, http=FakeHttp(routes)), deadline=clock.now() + 5,
                        on_wait=seen.append, clock=clock)
    assert ready.detail.startswith(f"leader {LEADER_PID}")
    assert len(seen) == 1
    assert MASTER in seen[0]
    assert seen[0].endswith("(No leader elected)")


def test_a_shared_leader_state_asks_the_master_once_per_ttl() -> None:
    http = FakeHttp(modern_master(master_state(slaves=[an_agent()])))
    shared = probes.LeaderState(MASTER, ttl=60, http=http)
    agents = [AgentProbe(AGENT, MASTER, http=FakeHttp(
        {f"http://{AGENT}/state": answer({"id": AGENT_ID})}), leader=shared)
        for _ in range(5)]
    assert {a.check().detail for a in agents} == {f"agent {AGENT_ID}"}
    assert http.calls == [f"http://{MASTER}/master/state"]  # one look for the five
    refused = probes.LeaderState("127.0.0.9:5050", ttl=60, http=FakeHttp())
    for _ in range(2):
        with pytest.raises(NotYet, match=r"a leading master via 127\.0\.0\.9:5050"):
            refused.get()
