"""Mesos and ZooKeeper documents over a fake HTTP: the leading master's state, what agents run
and have free, tasks' sandboxes, whole state documents for bundles; each one that does not come
is an `Unanswered` (a domain error) saying what was asked."""

from __future__ import annotations

import errno
import json
import socket
from typing import Any

import pytest

from fakemesos import (
    AGENT,
    AGENT_ID,
    FRAMEWORK_ID,
    LEADER_PID,
    MASTER,
    FakeHttp,
    FakeResponse,
    agent_state,
    an_agent,
    answer,
    legacy_master,
    master_state,
    modern_master,
)
from mesostack import mesos
from mesostack.errors import MesostackError
from mesostack.mesos import AgentFree, Sandbox, Unanswered
from testbed import fixture


def test_unanswered_is_a_domain_error() -> None:
    assert issubclass(Unanswered, MesostackError)


# --- the leading master ------------------------------------------------------------------------


def test_leading_state_follows_the_leader_legacy() -> None:
    """A legacy non-leader answers its own state: `pid` is not `leader`."""
    other = "127.0.0.2:5050"
    routes = {
        **legacy_master(master_state(pid=LEADER_PID, leader=f"master@{other}", version="0.23.0")),
        **legacy_master(master_state(pid=f"master@{other}", leader=f"master@{other}",
                                     version="0.23.0", slaves=[an_agent()]), other),
    }
    http = FakeHttp(routes)
    state = mesos.leading_state(http, MASTER)
    assert state["pid"] == f"master@{other}"
    assert [a["id"] for a in state["slaves"]] == [AGENT_ID]
    assert http.calls[-1] == f"http://{other}/master/state.json"


def test_leading_state_leader_unreachable() -> None:
    http = FakeHttp(legacy_master(master_state(leader="master@127.0.0.2:5050")))
    with pytest.raises(Unanswered, match=r"127\.0\.0\.2:5050") as raised:
        mesos.leading_state(http, MASTER)
    assert "(" not in str(raised.value)  # refused, not an answer


def test_leading_state_tries_each_master_in_turn() -> None:
    http = FakeHttp(modern_master(master_state(), "127.0.0.2:5050"))
    assert mesos.leading_state(http, "127.0.0.9:5050,127.0.0.2:5050")["pid"] == LEADER_PID
    with pytest.raises(Unanswered) as raised:
        mesos.leading_state(FakeHttp(), "127.0.0.8:5050,127.0.0.9:5050")
    assert raised.value.message == "a leading master via 127.0.0.9:5050"


def test_leading_state_real_payloads() -> None:
    """Real answers: a Mesos 0.28 non-leader pointing at the leader, a Mesos 1.1 leader."""
    follower = json.loads(
        fixture("mesos/master-state.non-leader.mesos-0.28.0.banno-vault.json").read_text())
    leader = json.loads(
        fixture("mesos/master-state.leader.mesos-1.1.0.huawei-common.json").read_text())
    follower_at = follower["pid"].rsplit("@", 1)[-1]
    follower["leader"] = leader["pid"]  # the two samples come from different clusters
    leader_at = leader["pid"].rsplit("@", 1)[-1]
    http = FakeHttp({**legacy_master(follower, follower_at), **modern_master(leader, leader_at)})
    state = mesos.leading_state(http, follower_at)
    assert state["pid"] == state["leader"] == leader["pid"]
    assert len(state["slaves"]) == 2


def test_master_role_from_the_masters_own_answer() -> None:
    follower = FakeHttp({f"http://{MASTER}/master/state": FakeResponse(
        307, "", {"Location": "//127.0.0.2:5050/master/state"})})
    assert mesos.master_role(follower, MASTER) == "follower"
    assert mesos.master_role(FakeHttp(legacy_master(master_state())), MASTER) == "leader"
    other = master_state(pid="master@127.0.0.2:5050")
    assert mesos.master_role(FakeHttp(modern_master(other)), MASTER) == "follower"
    assert mesos.master_role(FakeHttp(), MASTER) == ""


# --- agents: what they run and have free -------------------------------------------------------


def executor(container: str | None, *, directory: str = "",
             tasks: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"id": "app.1234", "source": "app.1234", "container": container,
            "directory": directory, "tasks": [{"id": t} for t in tasks], "completed_tasks": []}


def test_agent_task_containers() -> None:
    state = agent_state(
        frameworks=[{"id": FRAMEWORK_ID, "executors": [executor("c1"), executor("")],
                     "completed_executors": [executor("c2")]}],
        completed_frameworks=[{"id": "old", "executors": [],
                               "completed_executors": [executor("c3"), executor(None)]}],
    )
    http = FakeHttp({f"http://{AGENT}/state": answer(state)})
    assert mesos.agent_task_containers(AGENT, http=http) == (AGENT_ID, ["c1", "c2", "c3"])


def test_agent_task_containers_legacy_and_empty() -> None:
    http = FakeHttp({f"http://{AGENT}/state.json": answer(agent_state())})
    assert mesos.agent_task_containers(AGENT, http=http) == (AGENT_ID, [])


def test_agent_task_containers_unregistered_agent() -> None:
    http = FakeHttp({f"http://{AGENT}/state": answer({"id": ""})})
    assert mesos.agent_task_containers(AGENT, http=http) == ("", [])


def test_agent_task_containers_agent_down() -> None:
    with pytest.raises(Unanswered) as raised:
        mesos.agent_task_containers(AGENT, http=FakeHttp())
    assert raised.value.message == f"the agent on {AGENT} to answer /state"


def test_agents_free_subtracts_what_is_used_from_each_active_agent() -> None:
    busy = {**an_agent("S1"), "hostname": "10.0.0.5",
            "resources": {"cpus": 2.0, "mem": 1024.0, "disk": 100.0},
            "used_resources": {"cpus": 0.5, "mem": 1000.0}}
    gone = an_agent("S2", active=False)
    http = FakeHttp(modern_master(master_state(slaves=[busy, gone])))
    assert mesos.agents_free(MASTER, http=http) == [AgentFree("10.0.0.5", 1.5, 24.0, 100.0)]
    assert mesos.agents_free(MASTER, http=FakeHttp()) is None


# --- tasks' sandboxes --------------------------------------------------------------------------


def sandbox_routes(*, legacy: bool = False) -> dict[str, Any]:
    agent = agent_state(frameworks=[{"id": FRAMEWORK_ID, "executors": [
        executor("c1", directory="/var/lib/mesos/slaves/S0/runs/1", tasks=("web.1",))]}])
    path = "/state.json" if legacy else "/state"
    return {**modern_master(master_state(slaves=[an_agent()])),
            f"http://{AGENT}{path}": answer(agent)}


@pytest.mark.parametrize("legacy", [False, True])
def test_task_sandbox_is_its_executors_directory_on_its_agent(legacy: bool) -> None:
    http = FakeHttp(sandbox_routes(legacy=legacy))
    assert mesos.task_sandbox(MASTER, AGENT_ID, "web.1", http=http) == Sandbox(
        AGENT, "/var/lib/mesos/slaves/S0/runs/1", legacy)


def test_task_sandbox_says_what_it_did_not_find() -> None:
    http = FakeHttp(sandbox_routes())
    with pytest.raises(Unanswered, match=r"^agent S9 in the master's state$"):
        mesos.task_sandbox(MASTER, "S9", "web.1", http=http)
    with pytest.raises(Unanswered, match=rf"^task web.2 on the agent {AGENT}$"):
        mesos.task_sandbox(MASTER, AGENT_ID, "web.2", http=http)


# "héllo\n" as each generation's agent writes it: 0.23.0 each byte from 0x80 as its own
# \u00XX (stout json.hpp), 1.x the raw UTF-8 bytes (rapidjson); keys sorted, both.
HELLO = {True: '{"data":"h\\u00C3\\u00A9llo\\n","offset":3}',
         False: '{"data":"héllo\\n","offset":3}'}


@pytest.mark.parametrize(("legacy", "route"), [(False, "/files/read"),
                                               (True, "/files/read.json")])
def test_read_sandbox_returns_the_bytes_and_the_next_offset(legacy: bool, route: str) -> None:
    sandbox = Sandbox(AGENT, "/run/1", legacy)
    url = f"http://{AGENT}{route}?path=%2Frun%2F1%2Fstdout&offset=3&length=65536"
    http = FakeHttp({url: FakeResponse(200, HELLO[legacy])})
    assert mesos.read_sandbox(sandbox, "stdout", 3, http=http) == ("héllo\n".encode(), 3 + 7)
    with pytest.raises(Unanswered, match=r"^/run/1/stderr on the agent 127\.0\.0\.1:5051"):
        mesos.read_sandbox(sandbox, "stderr", 0, http=http)


# --- whole documents, for bundles --------------------------------------------------------------


def test_component_state_finds_the_generation_and_keeps_a_followers_redirect() -> None:
    legacy = FakeHttp({f"http://{MASTER}/master/state.json": answer(master_state())})
    path, state = mesos.component_state(MASTER, mesos.MASTER_STATE, http=legacy)
    assert path == "/master/state.json" and state["pid"] == LEADER_PID
    follower = FakeHttp({f"http://{MASTER}/master/state": FakeResponse(
        307, "", {"Location": "//127.0.0.2:5050/master/state"})})
    assert mesos.component_state(MASTER, mesos.MASTER_STATE, http=follower) == (
        "/master/state", {"redirect": "//127.0.0.2:5050/master/state"})


def test_component_state_says_why_there_is_none() -> None:
    no_leader = FakeHttp({f"http://{MASTER}/master/state": FakeResponse(503, "No leader elected")})
    cases = [(no_leader, MASTER, mesos.MASTER_STATE,
              "127.0.0.1:5050/master/state answered HTTP 503: No leader elected"),
             (FakeHttp(), AGENT, mesos.AGENT_STATE, "127.0.0.1:5051 does not answer"),
             (FakeHttp({f"http://{AGENT}/health": FakeResponse(200)}), AGENT,
              mesos.AGENT_STATE, "127.0.0.1:5051 answers none of /state, /state.json")]
    for http, endpoint, paths, why in cases:
        with pytest.raises(Unanswered) as caught:
            mesos.component_state(endpoint, paths, http=http)
        assert str(caught.value) == why


# --- ZooKeeper's four-letter words -------------------------------------------------------------


def test_a_four_letter_word_nobody_answers_names_the_server(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(address: tuple[str, int], timeout: float) -> socket.socket:
        raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")

    monkeypatch.setattr(socket, "create_connection", refused)
    with pytest.raises(Unanswered) as raised:
        mesos.four_letter_word("127.0.0.1", 2181, "srvr")
    assert raised.value.message == "ZooKeeper on 127.0.0.1:2181 does not answer: Connection refused"
