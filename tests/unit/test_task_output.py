"""Bytes in task output: what a real agent's /files/read(.json) serves (pinned to apache/mesos at
0.23.0 and 1.7.1-1.11.0, as the agent stand-in's rules have it), and `task-logs` reading it back
exactly, with and without -f, counting offsets in bytes, where a read ends inside a character.

No sockets: a fake agent answers mesostack's requests with the stand-in's own rules over an
in-memory file, and records the byte ranges it served."""

from __future__ import annotations

import importlib
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cut_characters import BOUNDARY, TEXT, expected_output, straddling_command
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from standin_loader import json_at, master_and_agent

from fakemesos import print_logs
from fakes import FakeClock
from mesostack import mesos
from mesostack.errors import MesostackError
from mesostack.mesos import Http, Sandbox
from testbed import wait_until

GENERATIONS = (True, False)  # legacy (0.23.0), modern (1.x)
PAGE = 4096  # the test machine's page size: 16 pages a read are 64 KiB
CHUNK = 65536  # what task-logs asks of each read
LINE = TEXT + "\n"
AGENT = "127.0.0.1:5051"
DIRECTORY = "/tmp/mesos/slaves/S0/frameworks/F0/executors/x.1/runs/c1"


@pytest.fixture
def rules(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "standins"))
    return importlib.import_module("agent_rules")


# --- what the agent serves (the stand-in's rules, pinned to the sources) ------------------------


@pytest.mark.parametrize(("offset", "length", "size", "legacy", "expected"), [
    # 0.23.0 files.cpp l.261-371: no offset (or -1) = the size; no length = the rest; 16 pages
    (None, None, 100, True, (0, 0, 100)),
    ("-1", "10", 100, True, (0, 0, 100)),
    ("0", None, 100, True, (0, 100, 0)),
    ("0", "-1", 200000, True, (0, 65536, 0)),
    ("10", "70000", 200000, True, (10, 65536, 10)),
    ("150", "10", 100, True, (0, 0, 100)),  # past the end: the size
    ("100", "10", 100, True, (0, 0, 100)),
    # 1.7.1 files.cpp l.521-732 (1.11.0 alike): -1 reads nothing and answers the size
    (None, None, 100, False, (0, 0, 100)),
    ("-1", "10", 100, False, (0, 0, 100)),
    ("0", None, 100, False, (0, 100, 0)),
    ("0", "-1", 200000, False, (0, 65536, 0)),
    ("10", "70000", 200000, False, (10, 65536, 10)),
    ("150", "10", 100, False, (0, 0, 150)),  # past the end: the offset asked for
    ("5", "0", 100, False, (0, 0, 5)),
])
def test_the_agent_serves_bytes_by_offset_and_length_capped_at_16_pages(
        rules: ModuleType, offset: str | None, length: str | None, size: int, legacy: bool,
        expected: tuple[int, int, int]) -> None:
    chosen = rules.file_range(offset, length, size, path="/f", legacy=legacy, page_size=PAGE)
    assert (chosen.status, (chosen.start, chosen.length, chosen.offset)) == (200, expected)
    big = rules.file_range("0", "-1", 10**7, path="/f", legacy=legacy, page_size=65536)
    assert big.length == 16 * 65536  # 16 of the machine's pages, whatever their size


@pytest.mark.parametrize(("offset", "length", "legacy", "status", "error"), [
    ("x", None, True, 400, "Failed to parse offset: Failed to convert 'x' to number.\n"),
    ("0", "1.5", False, 400, "Failed to parse length: Failed to convert '1.5' to number.\n"),
    ("-2", None, False, 400, "Negative offset provided: -2.\n"),
    ("0", "-5", False, 400, "Negative length provided: -5.\n"),
    ("-2", "10", True, 500, "Failed to seek file at '/f': Invalid argument"),
])
def test_the_agent_refuses_as_each_generation_does(
        rules: ModuleType, offset: str, length: str | None, legacy: bool, status: int,
        error: str) -> None:
    chosen = rules.file_range(offset, length, 100, path="/f", legacy=legacy, page_size=PAGE)
    assert (chosen.status, chosen.error) == (status, error)


def test_legacy_writes_each_byte_from_0x80_as_its_own_code_point(rules: ModuleType) -> None:
    """0.23.0 stout json.hpp l.499-534: \\u00XX per byte, `/` escaped, 0x7F and controls too."""
    data = 'Grüße, 世界\n/"\\\t\x7f\x01'.encode()
    assert rules.files_body(data, 7, legacy=True) == (
        b'{"data":"Gr\\u00C3\\u00BC\\u00C3\\u009Fe, \\u00E4\\u00B8\\u0096\\u00E7\\u0095\\u008C'
        b'\\n\\/\\"\\\\\\t\\u007F\\u0001","offset":7}')
    assert rules.files_body("世".encode()[:1], 0, legacy=True) == b'{"data":"\\u00E4","offset":0}'


def test_modern_writes_the_raw_bytes_even_of_a_cut_character(rules: ModuleType) -> None:
    """rapidjson 1.1.0 Writer::WriteString without validation: bytes as they are, only `"`,
    `\\` and controls escaped (upper-case hex)."""
    data = 'Grüße, 世界\n/"\\\t\x7f\x01'.encode()
    assert rules.files_body(data, 7, legacy=False) == (
        b'{"data":"' + "Grüße, 世界".encode() + b'\\n/\\"\\\\\\t\x7f\\u0001","offset":7}')
    cut = rules.files_body("世".encode()[:2], 0, legacy=False)
    assert cut == b'{"data":"\xe4\xb8","offset":0}'
    with pytest.raises(UnicodeDecodeError):
        cut.decode()  # not UTF-8: what requests' .json() would garble


def test_a_read_ends_inside_a_character_when_a_continuation_byte_follows(
        rules: ModuleType) -> None:
    word = "世".encode()
    assert [rules.ends_inside_character(word[i:i + 1]) for i in range(4)] == [
        False, True, True, False]  # before it, inside it twice, after it (nothing follows)
    assert not rules.ends_inside_character(b"a")


# --- an agent answering with those rules ---------------------------------------------------------


class FakeAgent(BaseAdapter):
    """One sandbox file on an agent of either generation, served by the stand-in's rules; the
    file can grow (`write`), and `before_read` runs before each read is answered. Records the
    offsets asked and the ranges served, and whether each ended inside a character."""

    def __init__(self, rules: ModuleType, *, legacy: bool, content: bytes = b"") -> None:
        super().__init__()
        self.rules, self.legacy = rules, legacy
        self.content = bytearray(content)
        self.asked: list[int] = []
        self.reads: list[tuple[int, int, bool]] = []
        self.before_read: Callable[[FakeAgent], None] = lambda _: None

    def write(self, data: bytes) -> None:
        self.content += data

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        split = urlsplit(request.url or "")
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        route = "/files/read.json" if self.legacy else "/files/read"
        if split.path != route or query.get("path") != f"{DIRECTORY}/stdout":
            return answer(request, 404, b"")
        self.before_read(self)
        self.asked.append(int(query["offset"]))
        chosen = self.rules.file_range(query.get("offset"), query.get("length"),
                                       len(self.content), path=query["path"],
                                       legacy=self.legacy, page_size=PAGE)
        end = chosen.start + chosen.length
        data = bytes(self.content[chosen.start:end])
        if data:
            following = bytes(self.content[end:end + 1])
            self.reads.append((chosen.start, len(data),
                               self.rules.ends_inside_character(following)))
        return answer(request, 200, self.rules.files_body(data, chosen.offset,
                                                          legacy=self.legacy))

    def close(self) -> None:
        pass


def answer(request: requests.PreparedRequest, status: int, body: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.url = request.url or ""
    response.request = request
    response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
    response.encoding = get_encoding_from_headers(response.headers)  # as requests does: utf-8
    response._content = body
    response.raw = io.BytesIO(body)
    return response


def over(agent: FakeAgent) -> Http:
    http = Http()
    http.session.mount("http://", agent)
    return http


def sandbox(legacy: bool) -> Sandbox:
    return Sandbox(AGENT, DIRECTORY, legacy)


# --- reading it back --------------------------------------------------------------------------


@pytest.mark.parametrize("legacy", GENERATIONS)
def test_read_sandbox_gives_the_files_bytes_and_counts_offsets_in_bytes(
        rules: ModuleType, legacy: bool) -> None:
    content = expected_output(boundary=CHUNK)
    agent = FakeAgent(rules, legacy=legacy, content=content)
    first, after = mesos.read_sandbox(sandbox(legacy), "stdout", 0, http=over(agent))
    assert (first, after) == (content[:65536], 65536)
    assert first.endswith("世".encode()[:1])  # the read stopped inside 世
    second, end = mesos.read_sandbox(sandbox(legacy), "stdout", after, http=over(agent))
    assert (first + second, end) == (content, len(content))
    assert mesos.read_sandbox(sandbox(legacy), "stdout", end, http=over(agent)) == (b"", end)
    assert agent.reads == [(0, 65536, True), (65536, len(content) - 65536, False)]


@pytest.mark.parametrize("legacy", GENERATIONS)
def test_task_logs_prints_a_character_split_across_reads_exactly(
        rules: ModuleType, legacy: bool) -> None:
    content = expected_output(boundary=CHUNK)
    agent = FakeAgent(rules, legacy=legacy, content=content)
    shown: list[str] = []
    clock = FakeClock()
    print_logs([("x.1", sandbox(legacy))], "stdout", follow=False, show=shown.append,
               http=over(agent), clock=clock)
    assert "".join(shown) == content.decode()
    assert shown[0].endswith("Grüße, 世界\n")
    assert agent.asked == [0, 65536]  # until a read comes back short: the file's end
    assert [inside for _, _, inside in agent.reads] == [True, False]
    assert clock.sleeps == []


@pytest.mark.parametrize("legacy", GENERATIONS)
def test_a_line_split_across_reads_stays_one_line_and_blank_lines_stay(
        rules: ModuleType, legacy: bool) -> None:
    content = b"-" * 65530 + b" tail of a long line\n\n\nlast"
    agent = FakeAgent(rules, legacy=legacy, content=content)
    shown: list[str] = []
    print_logs([("x.1", sandbox(legacy)), ("x.2", Sandbox("127.0.0.2:5051", DIRECTORY,
                                                          legacy))],
               "stdout", follow=False, show=shown.append, http=Http(
                   session=mounted(agent, "http://127.0.0.1:5051", "http://127.0.0.2:5051")))
    one = f"x.1 | {'-' * 65530} tail of a long line\nx.1 | \nx.1 | \nx.1 | last"
    assert shown == [one, one.replace("x.1", "x.2")]


def mounted(agent: FakeAgent, *prefixes: str) -> requests.Session:
    session = requests.Session()
    for prefix in prefixes:
        session.mount(prefix, agent)
    return session


@pytest.mark.parametrize("legacy", GENERATIONS)
def test_follow_keeps_a_cut_characters_bytes_for_the_next_read(
        rules: ModuleType, legacy: bool) -> None:
    """-f: the task writes its line a few bytes at a time, cutting ü, ß, 世 and 界; each read
    gets what is there, and nothing is garbled, skipped or printed twice."""
    line = LINE.encode()
    pieces = [line[:3], line[3:5], line[5:11], line[11:13], line[13:]]
    agent = FakeAgent(rules, legacy=legacy)
    rounds = {"n": 0}

    def task_writes(fake: FakeAgent) -> None:  # one read a round: each is short
        rounds["n"] += 1
        if pieces:
            fake.write(pieces.pop(0))
        elif rounds["n"] > 8:
            raise requests.ConnectionError("refused")  # the agent goes away at last

    agent.before_read = task_writes
    shown: list[str] = []
    clock = FakeClock()
    with pytest.raises(MesostackError, match="can't read its stdout"):
        print_logs([("x.1", sandbox(legacy))], "stdout", follow=True, show=shown.append,
                   http=over(agent), clock=clock)
    assert shown == [LINE]
    assert agent.asked == [0, 3, 5, 11, 13, 16, 16, 16]  # bytes of the file, each once
    cut = [rules.ends_inside_character(bytes(agent.content[start + length:][:1]))
           for start, length, _ in agent.reads]
    assert cut == [True, True, True, True, False]  # ü, ß, 世 and 界 each cut by a read
    assert clock.sleeps == [0.5] * 8  # eight rounds, then the agent is gone


@pytest.mark.parametrize("legacy", GENERATIONS)
def test_follow_reads_a_big_backlog_at_once_and_then_what_comes(
        rules: ModuleType, legacy: bool) -> None:
    content = expected_output(boundary=CHUNK)
    agent = FakeAgent(rules, legacy=legacy, content=content)
    calls = {"n": 0}

    def later(fake: FakeAgent) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            fake.write("¡olé!\n".encode())
        if calls["n"] > 4:
            raise requests.ConnectionError("refused")

    agent.before_read = later
    shown: list[str] = []
    clock = FakeClock()
    with pytest.raises(MesostackError):
        print_logs([("x.1", sandbox(legacy))], "stdout", follow=True, show=shown.append,
                   http=over(agent), clock=clock)
    assert shown == [content.decode(), "¡olé!\n"]
    assert agent.asked[:3] == [0, 65536, len(content)]
    assert agent.reads[0] == (0, 65536, True)
    assert len(clock.sleeps) == 3  # the backlog took one round, not one per 64 KiB


def test_a_file_read_by_0_23_keeps_its_bytes_where_the_data_is_json_escaped() -> None:
    """0.23's data is ASCII: each character of the decoded string is one byte of the file."""
    body = json.loads('{"data":"\\u00C3\\u00BC\\u00E4\\u00B8","offset":0}')["data"]
    assert mesos.file_bytes(body, legacy=True) == "ü".encode() + "世".encode()[:2]
    assert mesos.file_bytes("ü", legacy=False) == "ü".encode()
    assert mesos.file_bytes("\udce4\udcb8", legacy=False) == "世".encode()[:2]
    assert mesos.file_bytes("ü世", legacy=True) == "ü".encode("latin-1") + "世".encode()


# --- the agent stand-in itself, as a process (no Docker) -----------------------------------------


class Seen(Exception):
    """The text came: ends a `task-logs -f` under test."""


@pytest.fixture(params=["legacy", "modern"])
def running(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A master and an agent stand-in on loopback, running the straddling task."""
    with master_and_agent(request.param, tmp_path) as bed:
        framework = requests.post(f"http://{bed.master}/standin/frameworks",
                                  json={"name": "marathon"}, timeout=5).json()["id"]
        task = {"id": "cut.1", "name": "cut", "framework_id": framework,
                "slave_id": bed.agent_id, "resources": {"cpus": 0.1, "mem": 10.0, "disk": 0.0},
                "command": straddling_command()}
        assert requests.post(f"http://{bed.master}/standin/launch", json={"task": task},
                             timeout=10).status_code == 200
        directory = wait_until(lambda: next((e["directory"] for f in json_at(bed.state_url).get(
            "frameworks", []) for e in f["executors"]), None), timeout=10, what="the executor")
        stdout = Path(directory) / "stdout"
        wait_until(lambda: stdout.read_bytes().endswith(TEXT.encode() + b"\n"), timeout=10,
                   what="the task's output")
        yield {"agent": f"http://{bed.agent}", "sandbox": Sandbox(bed.agent, directory,
                                                                bed.legacy), "stdout": stdout}




def reads_served(agent_url: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = requests.get(f"{agent_url}/standin/reads",
                                               timeout=5).json()["reads"]
    return found


def test_the_agent_stand_in_serves_a_cut_character_and_task_logs_reads_it_back(
        running: dict[str, Any]) -> None:
    content = running["stdout"].read_bytes()
    assert content == expected_output()  # nothing else in a stand-in's stdout
    shown: list[str] = []
    print_logs([("cut.1", running["sandbox"])], "stdout", follow=False, show=shown.append)
    assert "".join(shown).encode() == content
    served = reads_served(running["agent"])
    assert [(r["offset"], r["length"], r["ends_inside_character"]) for r in served] == [
        (0, BOUNDARY, True), (BOUNDARY, len(content) - BOUNDARY, False)]

    followed: list[str] = []

    def show(text: str) -> None:
        followed.append(text)
        if "".join(followed).endswith(TEXT + "\n"):
            raise Seen

    with pytest.raises(Seen):
        print_logs([("cut.1", running["sandbox"])], "stdout", follow=True, show=show,
                   clock=FakeClock())
    assert "".join(followed).encode() == content
    assert reads_served(running["agent"])[len(served)]["ends_inside_character"]
