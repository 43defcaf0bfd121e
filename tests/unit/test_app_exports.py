"""App files exported from Marathon (`GET /v2/apps/x`, `GET /v2/apps`, `GET /v2/groups/x`):
their wrappers are accepted, and what Marathon reports but does not take is left out of what is
sent, named in one warning. No network: parsing, the command line's `--dry-run`, and the client
against the in-memory Marathon of the client's tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_marathon_client import FakeMarathon, Reply, connect, request_for

from clirun import run
from mesostack.apps import REPORTED_FIELDS, parse_text

VERSION = "2015-09-25T15:13:48.343Z"
# `GET /v2/apps/web` of a running app, as 1.10 answers it (the RAML AppInfo: the definition,
# its version and versionInfo, and what the tasks are doing).
SHOWN: dict[str, Any] = {
    "id": "/web", "cmd": "python3 -m http.server $PORT0", "cpus": 0.1, "mem": 32.0,
    "instances": 2, "env": {}, "labels": {}, "portDefinitions": [{"port": 10000,
                                                                  "protocol": "tcp"}],
    "version": VERSION,
    "versionInfo": {"lastScalingAt": VERSION, "lastConfigChangeAt": VERSION},
    "tasksStaged": 0, "tasksRunning": 2, "tasksHealthy": 0, "tasksUnhealthy": 0,
    "deployments": [],
    "tasks": [{"id": "web.instance-1._app.1", "appId": "/web", "host": "127.0.0.1",
               "state": "TASK_RUNNING", "version": VERSION}],
    "lastTaskFailure": {"appId": "/web", "host": "127.0.0.1", "message": "boom",
                        "state": "TASK_FAILED", "taskId": "web.instance-0._app.1",
                        "timestamp": VERSION, "version": VERSION},
}
DROPPED = ["version", "versionInfo", "tasksStaged", "tasksRunning", "tasksHealthy",
           "tasksUnhealthy", "deployments", "tasks", "lastTaskFailure"]


def definition(app: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in app.items() if k not in DROPPED}


def test_an_exported_app_is_sent_without_what_marathon_reports() -> None:
    loaded = parse_text(json.dumps(SHOWN), source="web.json")
    (request,) = loaded.requests
    assert (request.method, request.path, request.app_ids) == ("POST", "/v2/apps", ("/web",))
    assert request.body == definition(SHOWN)
    assert loaded.warnings == (
        f"web.json: dropped {', '.join(DROPPED)}: Marathon reports them but does not take "
        "them (to go back to an earlier version: `mesostack rollback`)",)


def test_the_reported_fields_are_every_one_either_generation_reports() -> None:
    """0.11.1 Formats.ExtendedAppInfoWrites (`taskStats`), 1.10.26's RAML AppInfo
    (`tasksStats`, `readinessCheckResults`), and the version an update takes only alone."""
    assert set(REPORTED_FIELDS) == {*DROPPED, "taskStats", "tasksStats",
                                    "readinessCheckResults"}


def test_the_get_app_wrapper_is_the_app_it_wraps() -> None:
    loaded = parse_text(json.dumps({"app": SHOWN}, indent=2), source="web.json")
    (request,) = loaded.requests
    assert request.body == definition(SHOWN) and request.source == "web.json"
    assert len(loaded.warnings) == 1


def test_the_get_apps_wrapper_is_a_list_of_apps() -> None:
    other = {**SHOWN, "id": "/shop/db", "cmd": "sleep 100"}
    loaded = parse_text(json.dumps({"apps": [SHOWN, other]}), source="apps.json")
    assert [(r.path, r.source, r.app_ids) for r in loaded.requests] == [
        ("/v2/apps", "apps.json[0]", ("/web",)), ("/v2/apps", "apps.json[1]", ("/shop/db",))]
    assert [r.body for r in loaded.requests] == [definition(SHOWN), definition(other)]
    assert len(loaded.warnings) == 1 and loaded.warnings[0].startswith("apps.json: dropped ")


def test_a_problem_inside_a_wrapper_is_placed_in_the_file() -> None:
    text = '{"app": {\n  "id": "/web",\n  "cmd": "x",\n  "cpus": -1\n}}'
    with pytest.raises(Exception, match=r"^web\.json:4:11: /app/cpus: must be a number >= 0"):
        parse_text(text, source="web.json")
    text = '{"apps": [\n  {"id": "/a", "cmd": "x"},\n  {"id": "/b", "mem": "lots", "cmd": "y"}]}'
    with pytest.raises(Exception, match=r"^apps\.json:3:23: /apps/1/mem: must be a number"):
        parse_text(text, source="apps.json")


def test_a_group_without_its_id_is_still_refused() -> None:
    """Only GET /v2/apps's shape is a list of apps: `apps` alone, every id absolute. A group
    whose id was forgotten has relative ids, or more than `apps`."""
    for text in ('{"apps": [{"id": "web", "cmd": "x"}]}',
                 '{"apps": [{"id": "/web", "cmd": "x"}], "dependencies": []}',
                 '{"apps": []}'):
        with pytest.raises(Exception, match="/id: missing; every group needs an id"):
            parse_text(text, source="g.json")


def test_an_exported_group_is_sent_without_its_versions() -> None:
    group = {"id": "/shop", "version": VERSION, "dependencies": [],
             "apps": [{**SHOWN, "id": "/shop/web"}],
             "groups": [{"id": "/shop/jobs", "version": VERSION, "apps": [
                 {"id": "/shop/jobs/cron", "cmd": "sleep 9", "version": VERSION}]}]}
    loaded = parse_text(json.dumps(group), source="shop.json")
    (request,) = loaded.requests
    assert request.path == "/v2/groups"
    assert request.body == {"id": "/shop", "dependencies": [],
                            "apps": [definition({**SHOWN, "id": "/shop/web"})],
                            "groups": [{"id": "/shop/jobs", "apps": [
                                {"id": "/shop/jobs/cron", "cmd": "sleep 9"}]}]}
    assert loaded.warnings == (
        f"shop.json: dropped {', '.join(DROPPED)}: Marathon reports them but does not take "
        "them (to go back to an earlier version: `mesostack rollback`)",)


def test_a_file_of_definitions_alone_warns_of_nothing() -> None:
    loaded = parse_text(json.dumps(definition(SHOWN)), source="web.json")
    assert loaded.warnings == ()
    (request,) = parse_text('{"id": "/w", "cmd": "x", "tasks": []}', source="w.json").requests
    assert request.body == {"id": "/w", "cmd": "x"}


def test_dry_run_shows_the_body_sent_and_the_one_warning(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent")
    monkeypatch.delenv("MESOSTACK_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "web.json").write_text(json.dumps({"app": SHOWN}, indent=2))
    code, out, err = run(["deploy", "--dry-run", "--marathon", "http://m:8080", "web.json"],
                         capsys)
    assert code == 0, err
    (line,) = out.splitlines()
    assert json.loads(line)["body"] == definition(SHOWN)
    assert err.splitlines() == [
        f"mesostack: warning: web.json: dropped {', '.join(DROPPED)}: Marathon reports them "
        "but does not take them (to go back to an earlier version: `mesostack rollback`)"]


class VersionRuleMarathon(FakeMarathon):
    """Answers an app update as both generations do when `version` stands beside another
    field (the stand-ins pin the exact bodies)."""

    def route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Reply:
        if method == "PUT" and isinstance(body, dict) and body.get("version") is not None and (
                set(body) - {"id", "version"}):
            return 422, {"message": "Object is not valid", "details": [{"path": "/", "errors": [
                "The 'version' field may only be combined with the 'id' field."]}]}
        return super().route(method, path, query, body)


def test_an_exported_app_updates_an_app_that_exists() -> None:
    fake = VersionRuleMarathon()
    marathon = connect(fake)
    fake.apps["/web"] = {"id": "/web", "cmd": "old", "instances": 1}
    done = marathon.submit(request_for({**SHOWN, "cmd": "new"}))
    assert not done.created
    (put,) = fake.requests_to("PUT", "/v2/apps/web")
    assert put.body == definition({**SHOWN, "cmd": "new"})
    assert fake.apps["/web"]["cmd"] == "new"
