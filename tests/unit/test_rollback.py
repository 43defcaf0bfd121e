"""`mesostack rollback` and the client calls under it: the versions Marathon keeps of an app,
which one is "the one before", the `PUT {id, version}` that rolls back, and one-line errors
naming the app and the version. The in-memory Marathon of the client's tests, keeping
versions as Marathon does (the stand-ins pin Marathon's own answers); no network."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from test_marathon_client import FakeMarathon, Reply, connect, missing

from clirun import run
from mesostack.cli.rollback import version_lines
from mesostack.errors import ExitCode, InputError
from mesostack.marathon import Marathon, MarathonError, newest_first, rollback_target

V1, V2, V3 = "2024-05-01T10:00:00.000Z", "2024-05-01T10:05:00.000Z", "2024-05-01T10:09:30.250Z"


class VersionedMarathon(FakeMarathon):
    """Keeps each app's versions (listed oldest first, as a 1.x Marathon may: unsorted) and
    answers `{id, version}` as a rollback: the stored app as a new version, or 404."""

    def __init__(self) -> None:
        super().__init__()
        self.versions: dict[str, dict[str, dict[str, Any]]] = {}
        self.next_version = "2024-05-01T11:00:00.000Z"

    def keep(self, app_id: str, version: str, **definition: Any) -> None:
        app = {"id": app_id, "instances": 1, **definition, "version": version}
        self.versions.setdefault(app_id, {})[version] = app
        self.apps[app_id] = {**app, "tasksRunning": 1, "tasksStaged": 0, "tasksHealthy": 0}

    def route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Reply:
        listed = re.fullmatch(r"/v2/apps(/.+)/versions", path)
        if method == "GET" and listed:
            app_id = listed[1]
            if app_id not in self.apps:
                return missing(app_id)
            return 200, {"versions": list(self.versions.get(app_id, {}))}
        if method == "PUT" and isinstance(body, dict) and "version" in body:
            return self.roll_back(path.removeprefix("/v2/apps"), str(body["version"]), query)
        return super().route(method, path, query, body)

    def roll_back(self, app_id: str, version: str, query: dict[str, list[str]]) -> Reply:
        stored = self.versions.get(app_id, {}).get(version)
        if stored is None:
            return missing(app_id)
        locked = self.locked([app_id], query.get("force") == ["true"])
        if locked:
            return locked
        deployment = self.deploy([app_id])
        self.keep(app_id, self.next_version, **{k: v for k, v in stored.items()
                                                 if k not in ("id", "version")})
        self.apps[app_id]["tasksRunning"] = 0

        def done(fake: FakeMarathon) -> None:  # the first look sees it finished
            fake.finish(deployment)
            fake.set(app_id, tasksRunning=fake.apps[app_id]["instances"])

        self.ticks.append(done)
        return 200, {"version": self.next_version, "deploymentId": deployment}


@pytest.fixture
def fake() -> VersionedMarathon:
    made = VersionedMarathon()
    made.keep("/web", V1, cmd="sleep 10")
    made.keep("/web", V2, cmd="sleep 20", instances=2)
    made.keep("/web", V3, cmd="sleep 30")
    return made


@pytest.fixture
def marathon(fake: VersionedMarathon) -> Marathon:
    return connect(fake)


# --- the client --------------------------------------------------------------------------------


def test_versions_come_newest_first_whatever_order_marathon_lists(
        fake: VersionedMarathon, marathon: Marathon) -> None:
    assert list(fake.versions["/web"]) == [V1, V2, V3]
    assert marathon.app_versions("web") == [V3, V2, V1]
    assert marathon.app_versions("/nope") is None
    assert newest_first(["2024-05-01T12:00:00+02:00", V2, "junk"]) == [
        V2, "2024-05-01T12:00:00+02:00", "junk"]


def test_rollback_puts_the_id_and_the_version_alone(fake: VersionedMarathon,
                                                    marathon: Marathon) -> None:
    deployment = marathon.rollback("web", V1)
    (put,) = fake.requests_to("PUT", "/v2/apps/web")
    assert put.body == {"id": "/web", "version": V1} and "force" not in put.query
    assert deployment == fake.deployments[-1]["id"]
    assert fake.apps["/web"]["cmd"] == "sleep 10"


def test_rollback_is_forced_when_told(fake: VersionedMarathon, marathon: Marathon) -> None:
    fake.deploy(["/web"])
    with pytest.raises(MarathonError, match="locked by deployment"):
        marathon.rollback("web", V1)
    marathon.rollback("web", V1, force=True)
    assert fake.requests_to("PUT", "/v2/apps/web")[-1].query == {"force": ["true"]}


def test_an_unknown_version_is_bad_input_naming_the_app_and_the_version(
        fake: VersionedMarathon, marathon: Marathon) -> None:
    with pytest.raises(InputError) as raised:
        marathon.rollback("web", "2020-01-01T00:00:00.000Z")
    assert raised.value.exit_code is ExitCode.BAD_INPUT
    assert raised.value.message == (
        "app /web: Marathon at http://127.0.0.1:8080 keeps no version 2020-01-01T00:00:00.000Z "
        "of it (404: App '/web' does not exist)")
    assert raised.value.hint == "see `mesostack rollback web --list`"


def test_the_target_is_the_version_before_the_current_or_the_one_asked_for() -> None:
    listed = [V1, V3, V2]
    assert rollback_target("/web", listed, V3, None) == V2
    assert rollback_target("/web", listed, V2, None) == V1
    assert rollback_target("/web", listed, V3, V1) == V1
    # another ISO form of the same instant is that version, as Marathon parses it
    assert rollback_target("/web", listed, V3, "2024-05-01T12:05:00+02:00") == V2


@pytest.mark.parametrize(("listed", "current", "wanted", "said"), [
    ([V1], V1, None, "app /web: Marathon keeps no version before its current one "
                     f"({V1})"),
    ([V1, V2], V2, "2024-05-02T00:00:00Z",
     "app /web: Marathon keeps no version 2024-05-02T00:00:00Z of it"),
    ([V1, V2], V2, "yesterday",
     "app /web: version 'yesterday' is not a time such as 2015-09-25T15:13:48.343Z"),
])
def test_no_such_version_is_one_line_of_bad_input(listed: list[str], current: str,
                                                   wanted: str | None, said: str) -> None:
    with pytest.raises(InputError) as raised:
        rollback_target("/web", listed, current, wanted)
    assert raised.value.message == said
    assert raised.value.hint == "see `mesostack rollback web --list`"


def test_the_listing_is_newest_first_with_ages_and_the_current_one() -> None:
    now = datetime(2024, 5, 1, 10, 10, tzinfo=UTC).timestamp()
    assert version_lines([V1, V3, V2], V3, now=now) == (
        f"{V3}  30 s ago  current\n{V2}  5 min ago\n{V1}  10 min ago\n")
    assert version_lines([V1], V1, now=now + 2 * 86400) == f"{V1}  2 d ago  current\n"


# --- the command -------------------------------------------------------------------------------


@pytest.fixture
def cli(fake: VersionedMarathon, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """`mesostack rollback ...` against `fake`, its exit code, stdout and stderr."""
    from mesostack.api import Stack

    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent")
    for name in ("MARATHON_URL", "MARATHON_CREDENTIALS", "MESOSTACK_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(Stack, "marathon_client", lambda _s: connect(fake))
    monkeypatch.setattr(Stack, "_master_endpoint", lambda *_: "127.0.0.1:5050")

    def invoke(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
        return run(["rollback", *args], capsys)

    return invoke


def test_rollback_goes_to_the_version_before_and_follows_it(
        cli: Any, fake: VersionedMarathon, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "web")
    assert code == 0, err
    assert out == "/web: running\n"
    assert f"rolling back /web to version {V2} (deployment " in err
    assert "rolled back in " in err
    (put,) = fake.requests_to("PUT", "/v2/apps/web")
    assert put.body == {"id": "/web", "version": V2}
    assert fake.apps["/web"]["cmd"] == "sleep 20" and fake.deployments == []
    assert fake.requests_to("GET", "/v2/deployments"), "the deployment was followed"


def test_rollback_to_a_version_without_waiting(
        cli: Any, fake: VersionedMarathon, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "/web", V1, "--no-wait")
    assert code == 0, err
    assert out == "" and f"rolling back /web to version {V1}" in err
    assert fake.requests_to("GET", "/v2/deployments") == []
    assert fake.requests_to("PUT", "/v2/apps/web")[0].body == {"id": "/web", "version": V1}


def test_list_prints_the_versions_newest_first_and_changes_nothing(
        cli: Any, fake: VersionedMarathon, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "web", "--list")
    assert code == 0, err
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == [V3, V2, V1]
    assert lines[0].endswith("  current") and not lines[1].endswith("current")
    assert re.fullmatch(r"\S+  \d+ (s|min|h|d) ago", lines[2])
    assert fake.requests_to("PUT", "/v2/apps/web") == []


@pytest.mark.parametrize(("args", "code", "said"), [
    (["nope"], 1, "Marathon at http://127.0.0.1:8080 has no app /nope (see `mesostack apps`)"),
    (["web", "2020-01-01T00:00:00Z"], 2,
     "app /web: Marathon keeps no version 2020-01-01T00:00:00Z of it (see `mesostack rollback "
     "web --list`)"),
    (["web", "soon"], 2, "app /web: version 'soon' is not a time such as "
                         "2015-09-25T15:13:48.343Z (see `mesostack rollback web --list`)"),
])
def test_failures_are_one_line_naming_the_app_and_the_version(
        cli: Any, fake: VersionedMarathon, capsys: pytest.CaptureFixture[str],
        args: list[str], code: int, said: str) -> None:
    exit_code, out, err = cli(capsys, *args)
    assert (exit_code, out) == (code, "")
    assert err == f"mesostack: error: {said}\n"
    assert fake.requests_to("PUT", "/v2/apps/web") == []


def test_an_app_with_one_version_has_nothing_to_roll_back_to(
        cli: Any, fake: VersionedMarathon, capsys: pytest.CaptureFixture[str]) -> None:
    fake.keep("/solo", V1, cmd="sleep 1")
    code, _, err = cli(capsys, "solo")
    assert code == 2
    assert err == (f"mesostack: error: app /solo: Marathon keeps no version before its current "
                   f"one ({V1}) (see `mesostack rollback solo --list`)\n")


def test_list_takes_no_version(cli: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "web", V1, "--list")
    assert code == 2 and out == "" and "--list takes no VERSION" in err
