"""`mesostack task-logs`' reading of the tasks' sandboxes: what it prints, and `-f`, which reads
on every LOG_INTERVAL of its clock without a deadline, until an agent stops answering."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
import requests

from fakemesos import AGENT, FakeHttp, FakeResponse, Route, answer, print_logs
from fakes import FakeClock
from mesostack.errors import MesostackError
from mesostack.mesos import Sandbox
from mesostack.task_output import LOG_INTERVAL

WEB1 = Sandbox(AGENT, "/runs/1", legacy=False)
WEB2 = Sandbox(AGENT, "/runs/2", legacy=True)


def url(sandbox: Sandbox, offset: int, name: str = "stdout") -> str:
    route = "/files/read.json" if sandbox.legacy else "/files/read"
    query = urlencode({"path": f"{sandbox.directory}/{name}", "offset": offset,
                       "length": 65536})
    return f"http://{sandbox.agent}{route}?{query}"


def test_each_tasks_output_once_prefixed_when_there_are_several() -> None:
    http = FakeHttp({url(WEB1, 0): answer({"data": "hello\nworld\n"}),
                     url(WEB2, 0): answer({"data": "legacy\n"})})
    shown: list[str] = []
    clock = FakeClock()
    print_logs([("web.1", WEB1), ("web.2", WEB2)], "stdout", follow=False, show=shown.append,
               http=http, clock=clock)
    assert shown == ["web.1 | hello\nweb.1 | world\n", "web.2 | legacy\n"]
    assert clock.sleeps == []
    print_logs([("web.1", WEB1)], "stdout", follow=False, show=shown.append, http=http)
    assert shown[-1] == "hello\nworld\n"


def test_follow_reads_new_output_from_where_it_left_off_without_a_deadline() -> None:
    asked = {2: 0, 4: 0}

    def at(offset: int, data: str, *, after: int, gone_after: int = 0) -> Route:
        def read() -> FakeResponse:
            asked[offset] += 1
            if gone_after and asked[offset] > gone_after:  # the agent goes away at last
                raise requests.ConnectionError("refused")
            return answer({"data": data if asked[offset] > after else ""})
        return read

    http = FakeHttp({url(WEB1, 0): answer({"data": "a\n"}),
                     url(WEB1, 2): at(2, "b\n", after=2),
                     url(WEB1, 4): at(4, "", after=0, gone_after=1000)})
    shown: list[str] = []
    clock = FakeClock()
    began = clock.now()
    with pytest.raises(MesostackError) as ended:
        print_logs([("web.1", WEB1)], "stdout", follow=True, show=shown.append, http=http,
                   clock=clock)
    assert shown == ["a\n", "b\n"]
    assert ended.value.message == (f"task web.1: can't read its stdout: /runs/1/stdout on the "
                                   f"agent {AGENT}")
    assert asked == {2: 3, 4: 1001}
    rounds = 1 + 3 + 1001  # minutes of fake time: no deadline ends it
    assert clock.sleeps == [LOG_INTERVAL] * (rounds - 1)
    assert clock.now() - began == (rounds - 1) * LOG_INTERVAL
