"""The Marathon stand-in's app and group versions, answered as each generation's source does
(legacy = mesosphere/marathon v0.11.1, modern = v1.10.26): `version` in an update, rollback,
`GET /v2/apps/{id}/versions[/{version}]`, and what a `POST` does with what `GET` reports.

In-process, over an in-memory ZooKeeper; no sockets, no Docker."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from test_standins_shapes import elected

VERSION_WITH_ID = "The 'version' field may only be combined with the 'id' field."
NEEDS_COMMAND = ("AppDefinition must either contain one of 'cmd' or 'args', and/or a "
                 "'container'.")
NOT_ALONE = "not allowed in conjunction with other properties"
OLD = "2015-09-25T15:13:48.343Z"  # a version no app has here


@pytest.fixture(params=["legacy", "modern"])
def marathon(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    return elected(monkeypatch, request.param)


def call(m: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    common = sys.modules["common"]
    raw = json.dumps(body).encode() if body is not None else b""
    path, _, query = path.partition("?")
    response = m.handle(common.Request(method, path, dict(
        pair.split("=") for pair in query.split("&") if pair), raw, {}))
    answer = response.body
    if isinstance(answer, bytes | str):
        return response.status, json.loads(answer) if answer else None
    return response.status, json.loads(json.dumps(answer))  # as sent, not the live state


def settle(m: Any) -> None:
    """Every deployment done, so that nothing holds the apps."""
    m.deployments.clear()


def two_versions(m: Any) -> tuple[str, str]:
    """/web created with `sleep 10`, then changed to `sleep 20`: its two versions."""
    status, created = call(m, "POST", "/v2/apps", {"id": "web", "cmd": "sleep 10",
                                                   "cpus": 0.1, "mem": 16})
    assert status == 201
    settle(m)
    status, changed = call(m, "PUT", "/v2/apps/web", {"cmd": "sleep 20"})
    assert status == 200
    settle(m)
    assert created["version"] < changed["version"]
    return created["version"], changed["version"]


def test_put_with_version_and_another_field_is_422_in_each_generations_words(
        marathon: Any) -> None:
    first, _ = two_versions(marathon)
    status, answer = call(marathon, "PUT", "/v2/apps/web",
                          {"id": "/web", "version": first, "cmd": "sleep 30"})
    assert status == 422
    if marathon.generation == "legacy":  # V2AppUpdate.scala l.72: Scala's `require`
        assert answer == {"message": f"requirement failed: {VERSION_WITH_ID}"}
    else:  # AppValidation.validateAppUpdateVersion
        assert answer == {"message": "Object is not valid",
                          "details": [{"path": "/", "errors": [VERSION_WITH_ID]}]}
    assert call(marathon, "GET", "/v2/apps/web")[1]["app"]["cmd"] == "sleep 20"


def test_an_exported_app_put_back_as_it_is_is_422(marathon: Any) -> None:
    two_versions(marathon)
    _, shown = call(marathon, "GET", "/v2/apps/web")
    exported = {**shown["app"], "cmd": "sleep 30"}
    assert {"version", "versionInfo", "tasks", "deployments", "tasksRunning"} <= exported.keys()
    status, _ = call(marathon, "PUT", "/v2/apps/web", exported)
    assert status == 422


def test_only_the_fields_an_update_reads_count_against_version(marathon: Any) -> None:
    """An update ignores fields it doesn't read: 0.11.1's V2AppUpdate has no versionInfo,
    1.10.26's AppUpdate (every field of the RAML App, optional) has one; neither reads the
    task counts."""
    first, _ = two_versions(marathon)
    status, _ = call(marathon, "PUT", "/v2/apps/web",
                     {"id": "/web", "version": first, "tasksRunning": 1, "cmd": None})
    assert status == 200
    settle(marathon)
    status, _ = call(marathon, "PUT", "/v2/apps/web",
                     {"version": first, "versionInfo": {"lastScalingAt": first,
                                                        "lastConfigChangeAt": first}})
    assert status == (200 if marathon.generation == "legacy" else 422)


def test_version_with_id_alone_rolls_back_as_a_new_version(marathon: Any) -> None:
    first, second = two_versions(marathon)
    status, answer = call(marathon, "PUT", "/v2/apps/web", {"id": "/web", "version": first})
    assert status == 200 and answer["deploymentId"] in marathon.deployments
    assert answer["version"] > second
    _, shown = call(marathon, "GET", "/v2/apps/web")
    assert (shown["app"]["cmd"], shown["app"]["version"]) == ("sleep 10", answer["version"])
    assert shown["app"]["versionInfo"]["lastConfigChangeAt"] == answer["version"]
    _, listed = call(marathon, "GET", "/v2/apps/web/versions")
    assert sorted(listed["versions"]) == [first, second, answer["version"]]


def test_an_unknown_version_is_404_app_does_not_exist(marathon: Any) -> None:
    two_versions(marathon)
    status, answer = call(marathon, "PUT", "/v2/apps/web", {"id": "/web", "version": OLD})
    assert (status, answer) == (404, {"message": "App '/web' does not exist"})


def test_a_rollback_waits_for_the_deployment_holding_the_app(marathon: Any) -> None:
    first, _ = two_versions(marathon)
    call(marathon, "PUT", "/v2/apps/web", {"instances": 2})
    status, answer = call(marathon, "PUT", "/v2/apps/web", {"id": "/web", "version": first})
    assert status == 409 and answer["deployments"]


def test_put_with_version_to_a_missing_app(marathon: Any) -> None:
    """0.11.1 checks the version rule while reading the body and can't create an app from
    `{id, version}`; 1.10.26 creates an app missing so from the body as a whole app, throwing
    its version away."""
    status, answer = call(marathon, "PUT", "/v2/apps/new", {"id": "/new", "version": OLD})
    assert status == 422
    assert NEEDS_COMMAND in json.dumps(answer)
    status, answer = call(marathon, "PUT", "/v2/apps/new",
                          {"id": "/new", "version": OLD, "cmd": "sleep 5"})
    if marathon.generation == "legacy":
        assert (status, answer) == (422, {"message": f"requirement failed: {VERSION_WITH_ID}"})
    else:
        assert status == 201
        assert call(marathon, "GET", "/v2/apps/new")[1]["app"]["version"] != OLD


def test_post_ignores_version_and_what_get_reports(marathon: Any) -> None:
    two_versions(marathon)
    _, shown = call(marathon, "GET", "/v2/apps/web")
    exported = {**shown["app"], "id": "/copy", "version": OLD,
                "lastTaskFailure": {"state": "TASK_FAILED", "taskId": "web.1", "message": "x",
                                    "timestamp": OLD, "appId": "/web", "host": "h",
                                    "version": OLD}}
    status, created = call(marathon, "POST", "/v2/apps", exported)
    assert status == 201 and created["version"] != OLD
    stored = marathon.apps["/copy"]
    assert not {"tasks", "deployments", "tasksRunning", "lastTaskFailure"} & stored.keys()
    assert stored["versionInfo"]["lastConfigChangeAt"] == created["version"]
    assert "lastTaskFailure" not in call(marathon, "GET", "/v2/apps/copy")[1]["app"]


def test_versions_are_listed_in_each_generations_order(marathon: Any) -> None:
    """0.11.1 sorts them newest first (EntityRepository.listVersions); 1.10.26 lists them in
    its store's order, unsorted (ZkPersistenceStore.rawVersions): the stand-in, oldest first."""
    first, second = two_versions(marathon)
    status, listed = call(marathon, "GET", "/v2/apps/web/versions")
    assert status == 200
    expected = [second, first] if marathon.generation == "legacy" else [first, second]
    assert listed == {"versions": expected}


def test_one_version_is_the_app_as_it_was_then(marathon: Any) -> None:
    first, _ = two_versions(marathon)
    status, shown = call(marathon, "GET", f"/v2/apps/web/versions/{first}")
    assert status == 200
    assert (shown["id"], shown["cmd"], shown["version"]) == ("/web", "sleep 10", first)
    assert "app" not in shown and "tasks" not in shown
    status, answer = call(marathon, "GET", f"/v2/apps/web/versions/{OLD}")
    assert (status, answer) == (404, {"message": f"App '/web' does not exist in version {OLD}"})
    status, answer = call(marathon, "GET", "/v2/apps/nope/versions")
    assert (status, answer) == (404, {"message": "App '/nope' does not exist"})


def test_a_removed_app_takes_its_versions_along(marathon: Any) -> None:
    two_versions(marathon)
    assert call(marathon, "DELETE", "/v2/apps/web")[0] == 200
    assert call(marathon, "GET", "/v2/apps/web/versions")[0] == 404
    settle(marathon)
    call(marathon, "POST", "/v2/apps", {"id": "web", "cmd": "sleep 5"})
    assert len(call(marathon, "GET", "/v2/apps/web/versions")[1]["versions"]) == 1


def test_versions_are_kept_in_zookeeper_and_capped(marathon: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """--zk_max_versions: 25 in 0.11.1 (ZookeeperConf.scala), 50 in 1.10.26 (StorageConf)."""
    assert marathon.max_versions == (25 if marathon.generation == "legacy" else 50)
    first, second = two_versions(marathon)
    monkeypatch.setenv("MARATHON_ZK_MAX_VERSIONS", "2")
    successor = type(marathon)()
    successor.zk = marathon.zk
    successor.load_state()
    assert successor.max_versions == 2
    assert sorted(a["version"] for a in successor.versions["/web"]) == [first, second]
    successor.elected = successor.registered = True
    successor.leader = successor.me
    status, third = call(successor, "PUT", "/v2/apps/web?force=true", {"cmd": "sleep 30"})
    assert status == 200
    _, listed = call(successor, "GET", "/v2/apps/web/versions")
    assert sorted(listed["versions"]) == [second, third["version"]]


def group_with_two_versions(m: Any) -> tuple[str, str]:
    """/shop with web and db, then web changed and an app added: the group's two versions."""
    status, _ = call(m, "POST", "/v2/groups", {"id": "/shop", "apps": [
        {"id": "web", "cmd": "sleep 10"}, {"id": "db", "cmd": "sleep 11"}]})
    assert status == 201
    settle(m)
    first = call(m, "GET", "/v2/groups/shop")[1]["version"]
    status, changed = call(m, "PUT", "/v2/groups/shop", {"id": "/shop", "apps": [
        {"id": "web", "cmd": "sleep 20"}, {"id": "db", "cmd": "sleep 11"}]})
    assert status == 200
    settle(m)
    assert call(m, "POST", "/v2/apps", {"id": "/shop/extra", "cmd": "sleep 12"})[0] == 201
    settle(m)
    return first, changed["version"]


def test_a_group_version_must_stand_alone_even_without_the_id(marathon: Any) -> None:
    first, _ = group_with_two_versions(marathon)
    status, answer = call(marathon, "PUT", "/v2/groups/shop", {"id": "/shop", "version": first})
    assert status == 422
    if marathon.generation == "legacy":  # ModelValidation.checkGroupUpdate
        assert answer == {"message": "Bean is not valid",
                          "errors": [{"attribute": "version", "error": NOT_ALONE}]}
    else:  # Group.validNestedGroupUpdateWithBase, Validation.theOnlyDefinedOptionIn
        assert answer == {"message": "Object is not valid",
                          "details": [{"path": "/version", "errors": [NOT_ALONE + "."]}]}
    status, answer = call(marathon, "PUT", "/v2/groups/shop", {"version": first, "scaleBy": 2})
    assert status == 422 and json.dumps(answer).count(NOT_ALONE) == 2


def test_a_group_rolls_back_to_a_stored_version(marathon: Any) -> None:
    first, second = group_with_two_versions(marathon)
    status, answer = call(marathon, "PUT", "/v2/groups/shop", {"version": first})
    assert status == 200 and answer["version"] > second
    assert {a: app["cmd"] for a, app in marathon.apps.items()} == {
        "/shop/web": "sleep 10", "/shop/db": "sleep 11"}
    assert set(marathon.deployments[answer["deploymentId"]]["affectedApps"]) == {
        "/shop/web", "/shop/db", "/shop/extra"}


def test_an_unknown_group_version_is_422_not_available(marathon: Any) -> None:
    group_with_two_versions(marathon)
    status, answer = call(marathon, "PUT", "/v2/groups/shop", {"version": OLD})
    assert (status, answer) == (422, {"message": f"Group /shop not available in version {OLD}"})
    status, answer = call(marathon, "POST", "/v2/groups", {"version": OLD})
    assert status == 409 and answer["message"] == (
        "Group / is already created. Use PUT to change this group.")
