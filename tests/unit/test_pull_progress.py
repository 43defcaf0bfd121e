"""A pull's progress: its true total from the registry's manifest from the first report (layers
already there counting as done), today's growing total when the registry doesn't say, and the
plain progress lines written without a terminal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from fakeregistry import FakeRegistry, digest, index, manifest, running

from fakes import FakeClock, FakeEngine
from mesostack import console, hostinfo
from mesostack.events import Event, Phase
from mesostack.orchestrator import Readiness, UpSettings, up
from mesostack.plan import ContainerSpec, Plan, Role, build
from mesostack.probes import LeaderState, Probe, Ready
from mesostack.runtime import Engine, Engines, PullProgress

MB = 1_000_000
A, B, C = digest("a"), digest("b"), digest("c")  # 10, 200 and 100 MB
SIZES = {A: 10 * MB, B: 200 * MB, C: 100 * MB}


def short(layer: str) -> str:
    return layer.removeprefix("sha256:")[:12]


def stream(repo: str, tag: str) -> list[dict[str, Any]]:
    """What the engine's pull stream says for an image of SIZES whose first layer is already
    there (Docker 20.10-28's classic store): downloads side by side, then extraction."""
    a, b, c = short(A), short(B), short(C)

    def at(layer: str, status: str, current: int = 0, total: int = 0) -> dict[str, Any]:
        return {"status": status, "id": layer,
                "progressDetail": {"current": current, "total": total} if total else {}}

    return [
        {"status": f"Pulling from {repo}", "id": tag},
        at(a, "Already exists"), at(b, "Pulling fs layer"), at(c, "Pulling fs layer"),
        at(c, "Waiting"),
        at(b, "Downloading", 50 * MB, 200 * MB), at(b, "Downloading", 200 * MB, 200 * MB),
        at(b, "Verifying Checksum"), at(b, "Download complete"),
        at(c, "Downloading", 10 * MB, 100 * MB),
        at(b, "Extracting", 32768, 200 * MB),  # extraction counts the same layer's bytes again
        at(c, "Downloading", 100 * MB, 100 * MB), at(c, "Download complete"),
        at(b, "Extracting", 200 * MB, 200 * MB), at(b, "Pull complete"),
        at(c, "Extracting", 100 * MB, 100 * MB), at(c, "Pull complete"),
        {"status": "Digest: " + digest("9")},
        {"status": f"Status: Downloaded newer image for {repo}:{tag}"},
    ]


class PullingDocker:
    """docker-py's client as a pull uses it: the engine's platform, its pull stream, the image."""

    def __init__(self, machine: str = "x86_64") -> None:
        self.machine = machine
        self.api = SimpleNamespace(pull=self._pull)
        self.images = SimpleNamespace(get=lambda ref: SimpleNamespace(id="sha256:" + "1" * 64))

    def info(self) -> dict[str, Any]:
        return {"OSType": "linux", "Architecture": self.machine}

    def _pull(self, repo: str, *, tag: str, stream: bool, decode: bool
              ) -> Iterator[dict[str, Any]]:
        yield from globals()["stream"](repo, tag)


@pytest.fixture
def fake() -> Iterator[FakeRegistry]:
    with running(FakeRegistry()) as served:
        yield served


def pulled(ref: str, *, endpoint: str = "unix:///fake/docker.sock", machine: str = "x86_64"
           ) -> list[PullProgress]:
    reports: list[PullProgress] = []
    Engine(PullingDocker(machine), endpoint).pull(ref, reports.append)
    return reports


def test_the_total_is_the_manifest_s_from_the_first_report(fake: FakeRegistry) -> None:
    fake.serve("team/app", "1.0", manifest(SIZES))
    reports = pulled(f"{fake.host}/team/app:1.0")
    assert {p.total for p in reports} == {310 * MB}
    assert all(p.exact for p in reports)
    currents = [p.current for p in reports]
    assert currents[:3] == [0, 10 * MB, 10 * MB]  # the layer already there counts as done
    assert 60 * MB in currents  # 10 there + 50 of 200 downloaded
    assert currents == sorted(currents) and currents[-1] == 310 * MB


def test_an_index_gives_the_engine_s_platform_s_total(fake: FakeRegistry) -> None:
    fake.serve("team/app", "1.0", index({digest("d"): {"os": "linux", "architecture": "amd64"},
                                         digest("e"): {"os": "linux", "architecture": "arm64"}}))
    fake.serve("team/app", digest("d"), manifest({A: 1, B: 2, C: 3}))
    fake.serve("team/app", digest("e"), manifest(SIZES))
    assert pulled(f"{fake.host}/team/app:1.0", machine="aarch64")[0].total == 310 * MB


def test_without_the_registry_s_sizes_the_total_grows_and_never_goes_back(fake: FakeRegistry
                                                                          ) -> None:
    reports = pulled(f"{fake.host}/team/app:1.0")  # the registry has no such manifest
    currents = [p.current for p in reports]
    assert currents == sorted(currents)  # extraction does not set a layer's bytes back
    assert [p.total for p in reports][:5] == [0] * 5  # nothing known before the first download
    assert not any(p.exact for p in reports)
    assert (reports[-1].current, reports[-1].total) == (300 * MB, 300 * MB)  # a: size unknown


def test_a_manifest_other_than_the_one_pulled_is_not_believed(fake: FakeRegistry) -> None:
    fake.serve("team/app", "1.0", manifest({A: 10 * MB, digest("d"): 5 * MB}))
    reports = pulled(f"{fake.host}/team/app:1.0")
    assert reports[0].total == 15 * MB and reports[-1].total == 300 * MB
    assert reports[0].exact and not reports[-1].exact


def test_a_remote_engine_s_loopback_registry_is_not_asked(fake: FakeRegistry) -> None:
    fake.serve("team/app", "1.0", manifest(SIZES))
    reports = pulled(f"{fake.host}/team/app:1.0", endpoint="tcp://10.1.2.3:2376")
    assert not reports[0].exact and fake.asked == []


class Unhelpful(PullingDocker):
    """An engine whose facts can't be read (so no platform, and no registry to ask)."""

    def info(self) -> dict[str, Any]:
        raise OSError("the engine's info went missing")


def test_a_failing_look_up_never_fails_the_pull(fake: FakeRegistry) -> None:
    fake.serve("team/app", "1.0", manifest(SIZES))
    reports: list[PullProgress] = []
    assert Engine(Unhelpful(), "unix:///fake/docker.sock").pull(
        f"{fake.host}/team/app:1.0", reports.append) == "sha256:" + "1" * 64
    assert reports[-1].total == 300 * MB and not reports[-1].exact and fake.asked == []


# --- what a pull looks like without a terminal --------------------------------------------------

MARATHON = "mesosphere/marathon:v1.10.26"
ZK = "zookeeper:3.8"


def plain_lines(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                feed: Callable[[Callable[[Event], None], FakeClock], None]) -> list[str]:
    monkeypatch.setenv("NO_COLOR", "1")
    clock = FakeClock()
    with console.progress("up", clock=clock.now) as report:
        feed(report, clock)
    return capsys.readouterr().err.splitlines()


def test_a_plain_line_per_image_at_most_every_five_seconds(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def feed(report: Callable[[Event], None], clock: FakeClock) -> None:
        for name in ("s-slave-1", "s-slave-2"):
            report(Event(name, Phase.PULLING, MARATHON))
        report(Event("s-zk", Phase.PULLING, ZK))
        for tick in range(1, 25):  # a report every half second, to each image's users
            clock.advance(0.5)
            for name in ("s-slave-1", "s-slave-2"):
                report(Event(name, Phase.PULLING, f"{MARATHON} {tick * 10}/310 MB"))
            if tick <= 4:
                report(Event("s-zk", Phase.PULLING, f"{ZK} {tick}/4 MB (25 %)"))
        report(Event("s-zk", Phase.PULLED, ZK))
        for name in ("s-slave-1", "s-slave-2"):
            report(Event(name, Phase.PULLED, MARATHON))

    assert plain_lines(monkeypatch, capsys, feed) == [
        f"s-slave-1  pulling: {MARATHON}", f"s-slave-2  pulling: {MARATHON}",
        f"s-zk  pulling: {ZK}",
        f"pulling {MARATHON}: 100/310 MB",  # 5 s after it started
        f"pulling {MARATHON}: 200/310 MB",
        f"s-zk  pulled: {ZK}",  # done within 5 s: its start and end alone
        f"s-slave-1  pulled: {MARATHON}", f"s-slave-2  pulled: {MARATHON}"]


def test_a_pull_without_news_writes_nothing_more(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def feed(report: Callable[[Event], None], clock: FakeClock) -> None:
        report(Event("s-zk", Phase.PULLING, ZK))
        clock.advance(30)
        report(Event("s-zk", Phase.PULLING, ZK))  # a tick without a size yet

    assert plain_lines(monkeypatch, capsys, feed) == [f"s-zk  pulling: {ZK}"]


# --- through `up` ---------------------------------------------------------------------------------


@pytest.fixture
def _no_host_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hostinfo, "is_local_address", lambda _ip: True)
    monkeypatch.setattr(hostinfo, "port_in_use", lambda _ip, _port: False)


class AtOnce:
    awaited = "nothing"

    def check(self) -> Ready:
        return Ready("at once")


class AllReady(Readiness):
    def one(self, spec: ContainerSpec, master: str, leader: LeaderState | None) -> Probe:
        return AtOnce()

    def whole(self, plan: Plan, role: Role) -> tuple[str, Probe] | None:
        return None

    def shared_leader(self, master: str, *, ttl: float) -> LeaderState | None:
        return None


class SlowPulls(FakeEngine):
    """An engine that pulls Marathon's image in 12 s of the fake clock, reporting every 0.5 s
    against the registry's total; every other image is there."""

    def __init__(self, clock: FakeClock, plan: Plan) -> None:
        super().__init__(images={s.image: "sha256:x" for s in plan.specs
                                 if s.role is not Role.MARATHON})
        self.clock = clock

    def pull(self, ref: str, progress: Callable[[PullProgress], None]) -> str:
        for tick in range(25):
            progress(PullProgress(ref, "Downloading", tick * 12 * MB, 300 * MB, exact=True))
            self.clock.advance(0.5)
        return super().pull(ref, lambda _p: None)


@pytest.mark.usefixtures("_no_host_checks")
def test_up_without_a_terminal_says_how_far_each_pull_is(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from mesostack.config import StackConfig

    plan = build(StackConfig.model_validate({
        "name": "pulls", "host_ip": "127.0.0.1", "zookeeper": {"port": 42181},
        "master": {"port": 45050}, "slave": {"port": 45051, "privileged": False},
        "marathon": {"port": 48080}}), "127.0.0.1")
    image = plan.spec(Role.MARATHON).image

    def feed(report: Callable[[Event], None], clock: FakeClock) -> None:
        up(plan, engines=Engines({None: SlowPulls(clock, plan)}), report=report,
           settings=UpSettings(timeout=60, clock=clock, readiness=AllReady()))

    lines = plain_lines(monkeypatch, capsys, feed)
    pulling = [line for line in lines if image in line]
    assert pulling == [f"pulls-marathon  pulling: {image}",
                       f"pulling {image}: 120/300 MB (40 %)",
                       f"pulling {image}: 240/300 MB (80 %)",
                       f"pulls-marathon  pulled: {image}"]
