"""What the Marathon stand-in makes of relative ids in a group update, row by row as each
generation's source has it (legacy = mesosphere/marathon v0.11.1, modern = v1.10.26, the same in
releases/1.11): the body's own id against the URL's path on POST and PUT, nested groups' and
apps' ids against their group, dependencies, and what each answers when it refuses.

In-process, over an in-memory ZooKeeper; no sockets, no Docker."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from test_standins_shapes import elected
from test_standins_versions import call, settle

HINT = "Hint: use relative paths."


def department(cmd: str = "sleep 100") -> dict[str, Any]:
    """The id structure of Marathon's examples/Group.json (v0.11.1), its dependencies inside it:
    a relative group id, a relative nested group, relative apps."""
    app = {"cpus": 0.1, "mem": 32, "cmd": cmd}
    return {"id": "department-a", "apps": [{"id": "service-common", **app}], "groups": [{
        "id": "product-a", "dependencies": ["../service-common"], "apps": [
            {"id": "service-a", **app},
            {"id": "service-b", **app, "dependencies": ["service-a"]}]}]}


FIRST = {"/department-a/service-common", "/department-a/product-a/service-a",
         "/department-a/product-a/service-b"}


@pytest.fixture(params=["legacy", "modern"])
def marathon(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    return elected(monkeypatch, request.param)


def posted(m: Any, path: str = "/v2/groups", body: Any = None) -> None:
    status, _ = call(m, "POST", path, department() if body is None else body)
    assert status == 201
    settle(m)


# --- POST /v2/groups -------------------------------------------------------------------------


def test_post_to_groups_resolves_the_body_id_against_the_root(marathon: Any) -> None:
    """0.11.1 GroupsResource.create l.73-76 -> createWithPath("") l.93; 1.10.26 create
    l.130-136 -> createWithPath("/") l.161: `/department-a`; nested groups and apps below it
    (V2GroupUpdate.toGroup l.44-50; GroupNormalization l.56, l.115)."""
    status, answer = call(marathon, "POST", "/v2/groups", department())
    assert status == 201 and set(answer) == {"version", "deploymentId"}
    assert set(marathon.apps) == FIRST
    _, shown = call(marathon, "GET", "/v2/groups/department-a")
    assert [g["id"] for g in shown["groups"]] == ["/department-a/product-a"]


def test_post_to_groups_refuses_a_group_that_exists_with_409(marathon: Any) -> None:
    """0.11.1 GroupsResource l.94-96; 1.10.26 l.172-175."""
    posted(marathon)
    status, answer = call(marathon, "POST", "/v2/groups", department("sleep 200"))
    assert (status, answer) == (409, {"message": "Group /department-a is already created. Use "
                                                 "PUT to change this group."})


def test_post_without_an_id_is_422_in_legacy_and_the_root_in_modern(marathon: Any) -> None:
    """0.11.1 ModelValidation.checkGroupUpdate(needsId = true) l.82-86 (BeanValidation.notSet);
    1.10.26: no id is the URL's path, `/`, which always exists (l.161, l.172-175)."""
    status, answer = call(marathon, "POST", "/v2/groups", {"apps": [{"id": "x", "cmd": "a"}]})
    if marathon.generation == "legacy":
        assert (status, answer) == (422, {"message": "Bean is not valid", "errors": [
            {"attribute": "id", "error": "Property missing which is mandatory"}]})
    else:
        assert (status, answer) == (409, {"message": "Group / is already created. Use PUT to "
                                                     "change this group."})
    assert marathon.apps == {}


def test_post_where_an_app_is_is_409_in_modern(marathon: Any) -> None:
    """1.10.26 GroupsResource l.177; 0.11.1 checks only for a group there (l.94-96)."""
    assert call(marathon, "POST", "/v2/apps", {"id": "/solo", "cmd": "sleep 1"})[0] == 201
    settle(marathon)
    status, answer = call(marathon, "POST", "/v2/groups", {"id": "solo", "apps": []})
    if marathon.generation == "modern":
        assert (status, answer) == (409, {"message": "An app with the path /solo already "
                                                     "exists."})
    else:
        assert status == 201


# --- POST /v2/groups/{id} --------------------------------------------------------------------


def test_post_to_a_group_path_puts_a_relative_body_id_below_it(marathon: Any) -> None:
    """0.11.1 createWithPath l.93 and updateOrCreate l.188; 1.10.26 l.161 and l.335
    (GroupsResourceTest "Creation of a relative group path inside of a specified parent group
    creates the group in the parent group", l.341-356)."""
    status, _ = call(marathon, "POST", "/v2/groups/department-a", department())
    assert status == 201
    assert set(marathon.apps) == {"/department-a" + a for a in FIRST}


def test_post_to_a_group_path_with_an_absolute_body_id_ignores_the_path(marathon: Any) -> None:
    body = {**department(), "id": "/department-a"}
    assert call(marathon, "POST", "/v2/groups/elsewhere", body)[0] == 201
    assert set(marathon.apps) == FIRST


def test_legacy_validates_a_post_against_the_root_not_the_url(marathon: Any) -> None:
    """0.11.1 checkGroupUpdate runs with the root as parent (GroupsResource l.92): `sub` is
    /sub there, so the right absolute app id /foo/sub/bibi is refused (checkPath l.155-164);
    1.10.26 validates against the URL's path (l.163) and takes it."""
    body = {"id": "sub", "apps": [{"id": "/foo/sub/bibi", "cmd": "sleep 1"}]}
    status, answer = call(marathon, "POST", "/v2/groups/foo", body)
    if marathon.generation == "legacy":
        assert (status, answer) == (422, {"message": "Bean is not valid", "errors": [{
            "attribute": "apps[0].id",
            "error": f"identifier /foo/sub/bibi is not child of /sub. {HINT}"}]})
    else:
        assert status == 201 and set(marathon.apps) == {"/foo/sub/bibi"}


def test_an_app_id_below_a_subgroup_is_refused_by_both(marathon: Any) -> None:
    """1.10.26 GroupsResourceTest "Rejects group updates with apps that don't belong directly to
    a group" (l.358-381); 0.11.1 checkPath (l.155-164), against the root's /sub."""
    body = {"id": "sub", "apps": [{"id": "lol/bibi", "cmd": "sleep 1"}]}
    status, answer = call(marathon, "POST", "/v2/groups/foo", body)
    assert status == 422
    if marathon.generation == "legacy":
        assert answer["errors"] == [{"attribute": "apps[0].id",
                                     "error": f"identifier lol/bibi is not child of /sub. {HINT}"}]
    else:
        assert answer == {"message": "Object is not valid", "details": [
            {"path": "/apps(0)/id", "errors": ["Identifier is not child of '/foo/sub'"]}]}


# --- PUT /v2/groups/{id} ---------------------------------------------------------------------


def test_put_of_the_same_relative_body_nests_a_copy_in_legacy_and_is_422_in_modern(
        marathon: Any) -> None:
    """The body's id against the URL's path: /department-a/department-a (0.11.1 updateOrCreate
    l.188; 1.10.26 l.256). 0.11.1 validates against the root (l.124), finds nothing wrong and
    creates the copy beside the untouched originals; 1.10.26 validates against the resolved
    path, where the relative id is resolved once more (Group.validNestedGroupUpdateWithBase
    l.320-342 from l.258), and no normalized app is a child there."""
    posted(marathon)
    before = copy.deepcopy(marathon.apps)
    status, answer = call(marathon, "PUT", "/v2/groups/department-a", department("sleep 200"))
    if marathon.generation == "legacy":
        assert status == 200
        assert set(marathon.apps) == FIRST | {"/department-a" + a for a in FIRST}
        assert {a: marathon.apps[a] for a in FIRST} == before
        assert marathon.apps["/department-a/department-a/service-common"]["cmd"] == "sleep 200"
    else:
        triple = "/department-a/department-a/department-a"
        assert (status, answer) == (422, {"message": "Object is not valid", "details": [
            {"path": "/apps(0)/id", "errors": [f"Identifier is not child of '{triple}'"]},
            {"path": "/groups(0)/apps(0)/id",
             "errors": [f"Identifier is not child of '{triple}/product-a'"]},
            {"path": "/groups(0)/apps(1)/id",
             "errors": [f"Identifier is not child of '{triple}/product-a'"]}]})
        assert marathon.apps == before


def test_modern_takes_a_relative_put_without_apps_and_nests_it(marathon: Any) -> None:
    """Only apps are checked against the base (l.336), so groups alone go through, below the
    path resolved from the URL (GroupConversion.execute l.96-108)."""
    posted(marathon)
    body = {"id": "department-a", "groups": [{"id": "product-b"}]}
    assert call(marathon, "PUT", "/v2/groups/department-a", body)[0] == 200
    _, shown = call(marathon, "GET", "/v2/groups/department-a/department-a")
    assert [g["id"] for g in shown["groups"]] == ["/department-a/department-a/product-b"]
    assert set(marathon.apps) == FIRST


def test_put_with_absolute_ids_changes_the_group_in_place(marathon: Any) -> None:
    posted(marathon)
    body = department("sleep 200")
    body["id"] = "/department-a"
    status, answer = call(marathon, "PUT", "/v2/groups/department-a", body)
    assert status == 200 and answer["deploymentId"] in marathon.deployments
    assert {a: app["cmd"] for a, app in marathon.apps.items()} == dict.fromkeys(
        FIRST, "sleep 200")


def test_put_without_a_body_id_is_the_urls_group(marathon: Any) -> None:
    """No id: the URL's path (0.11.1 l.188 `getOrElse(id)`; 1.10.26 l.256)."""
    posted(marathon)
    body = department("sleep 200")
    del body["id"]
    assert call(marathon, "PUT", "/v2/groups/department-a", body)[0] == 200
    assert {a: app["cmd"] for a, app in marathon.apps.items()} == dict.fromkeys(
        FIRST, "sleep 200")


def test_put_replaces_the_listed_apps_and_groups_and_keeps_what_it_leaves_out(
        marathon: Any) -> None:
    """Given apps replace the group's apps, given groups its groups (each updated or created),
    what is not given stays (0.11.1 V2GroupUpdate.apply l.16-37; 1.10.26
    GroupConversion.execute l.87-133)."""
    posted(marathon)
    only_common = {"id": "/department-a", "apps": [{"id": "service-common", "cmd": "sleep 5"}]}
    assert call(marathon, "PUT", "/v2/groups/department-a", only_common)[0] == 200
    settle(marathon)
    assert set(marathon.apps) == FIRST
    no_groups = {**only_common, "groups": []}
    status, answer = call(marathon, "PUT", "/v2/groups/department-a", no_groups)
    assert status == 200
    assert set(marathon.apps) == {"/department-a/service-common"}
    assert "/department-a/product-a/service-a" in (
        marathon.deployments[answer["deploymentId"]]["affectedApps"])


def test_legacy_refuses_absolute_app_ids_a_relative_put_puts_in_the_copy(marathon: Any) -> None:
    """A relative group id with absolute app ids: 0.11.1 validates the update against the root
    (/department-a: right), then puts the apps in /department-a/department-a, and its check of
    the whole tree refuses them (GroupManager.upgrade l.159, ModelValidation.checkPath
    l.155-164); 1.10.26 refuses them at once (l.258, l.336)."""
    posted(marathon)
    body = {"id": "department-a", "apps": [{"id": "/department-a/service-common", "cmd": "a"}]}
    status, answer = call(marathon, "PUT", "/v2/groups/department-a", body)
    assert status == 422
    if marathon.generation == "legacy":
        assert answer == {"message": "Bean is not valid", "errors": [{
            "attribute": "groups[0].groups[0].apps[0].id",
            "error": "identifier /department-a/service-common is not child of "
                     f"/department-a/department-a. {HINT}"}]}
    else:
        assert answer["details"] == [{"path": "/apps(0)/id", "errors": [
            "Identifier is not child of '/department-a/department-a/department-a'"]}]


def test_a_nested_group_without_an_id(marathon: Any) -> None:
    """0.11.1: every nested group needs one (checkGroupUpdates l.129-136, needsId = true);
    1.10.26 reads it with `.get` before validating (GroupNormalization l.56) and answers the
    NoSuchElementException with 500 (MarathonExceptionMapper l.115-116)."""
    body = {"id": "/g", "groups": [{"apps": [{"id": "x", "cmd": "a"}]}]}
    status, answer = call(marathon, "PUT", "/v2/groups/g", body)
    if marathon.generation == "legacy":
        assert (status, answer) == (422, {"message": "Bean is not valid", "errors": [
            {"attribute": "groups[0].id", "error": "Property missing which is mandatory"}]})
    else:
        assert (status, answer) == (500, {"message": "None.get"})


@pytest.mark.parametrize("marathon", ["legacy"], indirect=True)
def test_legacy_refuses_a_nested_group_outside_its_parent(marathon: Any) -> None:
    """0.11.1 checkPath on a nested group's id (checkGroupUpdate l.87). 1.10.26 checks no
    nested group's id against its parent (Group.validNestedGroupUpdateWithBase l.334 reads it
    with the plain PathId validator): not modelled, so only the legacy one is asked."""
    body = {"id": "/g", "groups": [{"id": "/other/x", "apps": []}]}
    status, answer = call(marathon, "PUT", "/v2/groups/g", body)
    assert (status, answer["errors"]) == (422, [{
        "attribute": "groups[0].id", "error": f"identifier /other/x is not child of /g. {HINT}"}])


# --- dependencies ------------------------------------------------------------------------------


def test_dependencies_resolve_against_the_group_and_an_apps_by_generation(
        marathon: Any) -> None:
    """A group's: against the group (0.11.1 V2GroupUpdate l.48; 1.10.26 GroupConversion l.77).
    An app's: against the app's own id in 0.11.1 (V2GroupUpdate.toApp l.41), against its group
    in 1.10.26 (GroupNormalization.visitApp l.119, AppNormalization.withCanonizedIds
    l.452-467), so `service-a` from service-b is its sibling only in 1.10."""
    posted(marathon)
    _, shown = call(marathon, "GET", "/v2/groups/department-a/product-a")
    assert shown["dependencies"] == ["/department-a/service-common"]
    depends = marathon.apps["/department-a/product-a/service-b"]["dependencies"]
    _, app = call(marathon, "GET", "/v2/apps/department-a/product-a/service-b")
    assert app["app"]["dependencies"] == depends
    assert depends == (["/department-a/product-a/service-b/service-a"]
                       if marathon.generation == "legacy" else
                       ["/department-a/product-a/service-a"])


def test_dependencies_follow_the_group_into_a_legacy_copy(marathon: Any) -> None:
    """The copy's relative dependencies resolve inside the copy (modern refuses the PUT)."""
    posted(marathon)
    status, _ = call(marathon, "PUT", "/v2/groups/department-a", department())
    if marathon.generation == "modern":
        assert status == 422
        return
    _, shown = call(marathon, "GET", "/v2/groups/department-a/department-a/product-a")
    assert shown["dependencies"] == ["/department-a/department-a/service-common"]
    depends = marathon.apps["/department-a/department-a/product-a/service-b"]["dependencies"]
    assert depends == ["/department-a/department-a/product-a/service-b/service-a"]


def test_group_records_outlive_a_leader_change_and_a_delete_takes_them(marathon: Any) -> None:
    posted(marathon)
    successor = type(marathon)()
    successor.zk = marathon.zk
    successor.load_state()
    assert successor.groups == marathon.groups
    assert "/department-a/product-a" in successor.groups
    status, _ = call(marathon, "DELETE", "/v2/groups/department-a")
    assert status == 200 and marathon.groups == {} and marathon.apps == {}
    assert call(marathon, "GET", "/v2/groups/department-a")[0] == 404
