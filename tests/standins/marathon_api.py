"""Marathon's REST routes (`/v2/...`) over the stand-in's state, for the elected leader.

Status codes and bodies follow Marathon's AppsResource, GroupsResource, DeploymentsResource
and QueueResource (fixtures/marathon/docs, raml-v1.10.26); callers hold the state lock.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import TYPE_CHECKING, Any

from common import LEGACY, Request, Response, iso_now, json_response
from validation import (
    group_version_not_alone,
    invalid,
    parse_body,
    rules_broken,
    version_not_alone,
)

if TYPE_CHECKING:
    from marathon import Marathon

VERSION = "0.11.1" if LEGACY else "1.10.26"
DEFINITION_KEYS = ("cmd", "args", "user", "env", "instances", "cpus", "mem", "disk", "executor",
                   "constraints", "uris", "ports", "requirePorts", "backoffSeconds",
                   "backoffFactor", "maxLaunchDelaySeconds", "container", "healthChecks",
                   "dependencies", "upgradeStrategy", "labels", "acceptedResourceRoles")
# What GET /v2/apps/{id} reports beside the app's definition, which no request takes (v0.11.1
# Formats.ExtendedAppInfoWrites l.553-566, TaskCountsWrites; v1.10.26 the RAML AppInfo type,
# types/app.raml l.352-378). Marathon reads only the fields it knows, so they are never stored.
REPORTED = frozenset({"tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy",
                      "deployments", "tasks", "lastTaskFailure", "taskStats", "tasksStats",
                      "readinessCheckResults"})
VERSIONS = re.compile(r"(?P<app>.+)/versions(?:/(?P<version>[^/]+))?")


def absolute(app_id: str, base: str = "/") -> str:
    """Marathon path ids: relative ids resolve against the enclosing group."""
    path = app_id if app_id.startswith("/") else base.rstrip("/") + "/" + app_id
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            parts = parts[:-1]
        elif part not in ("", "."):
            parts.append(part)
    return "/" + "/".join(parts)


def not_found(kind: str, item_id: str) -> Response:
    return json_response({"message": f"{kind} '{item_id}' does not exist"}, 404)


def marathon_time(text: str) -> str | None:
    """A timestamp as Marathon's Timestamp prints it (`2015-09-25T15:13:48.343Z`, UTC, to the
    millisecond: 0.11.1 joda DateTime.toString, 1.10.26 Timestamp.formatter l.107), or None
    when it is no timestamp."""
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def later(version: str) -> str:
    """The millisecond after `version` (two changes within one get versions of their own)."""
    when = dt.datetime.fromisoformat(version.replace("Z", "+00:00"))
    return (when + dt.timedelta(milliseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def route(m: Marathon, request: Request) -> Response:
    method, path, query = request.method, request.path, request.query
    force = query.get("force") == "true"
    if path == "/v2/info":
        return info(m)
    if path == "/v2/leader":
        return json_response({"leader": m.leader})
    if path == "/v2/events":
        return m.events(request)
    if path == "/v2/tasks" and method == "GET":
        return json_response({"tasks": [m.task_view(t) for t in m.tasks.values()]})
    if path == "/v2/deployments" and method == "GET":
        return json_response(list(m.deployments.values()))
    if path.startswith("/v2/deployments/") and method == "DELETE":
        if path.rsplit("/", 1)[1] not in m.deployments:
            return not_found("Deployment", path.rsplit("/", 1)[1])
        # without force, 1.x reverts the deployment with a change of the root group
        # (DeploymentsResource.cancel l.62-77 at v1.10.26), which the limit can refuse
        refused = None if force else m.dismissed()
        if refused is not None:
            return refused
        deployment = m.deployments.pop(path.rsplit("/", 1)[1])
        m.store("deployments", None, deployment["id"])
        m.publish("deployment_failed", id=deployment["id"])
        return json_response({"version": iso_now(), "deploymentId": deployment["id"]})
    if path == "/v2/queue":
        return queue(m)
    if path.startswith("/v2/queue/") and path.endswith("/delay") and method == "DELETE":
        m.backoff.pop(absolute(path[len("/v2/queue"):-len("/delay")]), None)
        return Response(204, b"")
    if path == "/v2/apps":
        if method == "POST":
            return create_app(m, request.body)
        embed = "apps.tasks" in request.query.get("embed", "")
        return json_response({"apps": [m.app_view(a, embed_tasks=embed)
                                       for a in m.apps.values()]})
    if path.startswith("/v2/apps/"):
        app_id = absolute(path[len("/v2/apps"):])
        versions = VERSIONS.fullmatch(app_id)
        if versions and method == "GET":
            return app_versions(m, versions["app"], versions["version"])
        if app_id.endswith("/tasks") and method == "GET":
            app = m.apps.get(app_id[:-len("/tasks")])
            if app is None:
                return not_found("App", app_id[:-len("/tasks")])
            tasks = m.app_view(app, embed_tasks=True)["tasks"]
            if LEGACY and not tasks:
                # 0.11.1 AppTasksResource.indexJson: an app the task tracker holds no task of
                # is answered as unknown (404), though the app exists
                return not_found("App", app_id[:-len("/tasks")])
            return json_response({"tasks": tasks})
        if method == "GET":
            app = m.apps.get(app_id)
            if app is None:
                return not_found("App", app_id)
            return json_response({"app": m.app_view(app, embed_tasks=True)})
        if method in ("PUT", "PATCH"):
            return update_app(m, app_id, request.body, force=force)
        if method == "DELETE":
            return delete_apps(m, [app_id], force=force, missing=("App", app_id))
    if path == "/v2/groups" or path.startswith("/v2/groups/"):
        group_id = absolute(path[len("/v2/groups"):])
        # a group's change meets the deployment limit before its body is read here; 1.x
        # validates the body first (GroupsResource), so an invalid group at the limit differs
        refused = m.dismissed() if method in ("POST", "PUT", "PATCH") else None
        return refused or groups(m, request, group_id, force=force)
    return Response(404, b"")


def info(m: Marathon) -> Response:
    body: dict[str, Any] = {
        "name": "marathon", "version": VERSION, "elected": m.elected, "leader": m.leader,
        "marathon_config": {"master": m.master_spec, "hostname": m.hostname,
                            "http_port": m.http_port, "framework_name": "marathon",
                            "mesos_user": m.mesos_user,
                            "mesos_leader_ui_url": m.master_url() or ""},
        "zookeeper_config": {"zk": f"zk://{m.zk_hosts}{m.zk_path}"},
        "http_config": {"http_port": m.http_port},
    }
    if m.registered:
        body["frameworkId"] = m.framework_id
    return json_response(body)


def create_app(m: Marathon, raw: bytes) -> Response:
    body, error = parse_body(raw)
    if error is not None:
        return error
    error = invalid(body)
    if error is not None:
        return error
    refused = m.dismissed()
    if refused is not None:
        return refused
    app_id = absolute(body["id"])
    if app_id in m.apps:
        return json_response({"message": f"An app with id [{app_id}] already exists."}, 409)
    deployment = start_apps(m, {app_id: body}, action="StartApplication")
    m.publish("api_post_event", clientIp="127.0.0.1", uri=f"/v2/apps{app_id}",
              appDefinition=m.apps[app_id])
    return Response(201, m.app_view(m.apps[app_id], embed_tasks=False) | {
        "deployments": [{"id": deployment["id"]}]},
        {"Content-Type": "application/json", "Location": f"/v2/apps{app_id}"})


def start_apps(m: Marathon, bodies: dict[str, dict[str, Any]], *, action: str) -> dict[str, Any]:
    version = m.new_version()
    for app_id, body in bodies.items():
        m.put_app(app_id, body, version)
    return m.deploy(list(bodies), action, version)


def update_app(m: Marathon, app_id: str, raw: bytes, *, force: bool) -> Response:
    body, error = parse_body(raw)
    if error is not None:
        return error
    if not isinstance(body, dict):
        return invalid(body) or Response(400, b"")
    existing = m.apps.get(app_id)
    # 0.11.1 reads the version rule with the body; 1.10.26 only for an app it has (an app it
    # lacks is read as a whole app, whose version is thrown away: AppsResource l.218-226).
    if body.get("version") is not None and (LEGACY or existing is not None):
        error = version_not_alone(body)
        if error is not None:
            return error
        if existing is not None:
            return m.dismissed() or rollback(m, app_id, body["version"], force=force)
    merged = {**({k: existing[k] for k in DEFINITION_KEYS} if existing else {}), **body}
    error = invalid(merged, app_id)
    if error is not None:
        return error
    locked = m.dismissed() or m.locked([app_id], force)
    if locked is not None:
        return locked
    scale_only = existing is not None and set(body) - {"id"} == {"instances"}
    version = m.new_version()
    m.put_app(app_id, {"instances": body["instances"]} if scale_only else merged, version)
    action = ("ScaleApplication" if scale_only else
              "RestartApplication" if existing else "StartApplication")
    deployment = m.deploy([app_id], action, version)
    m.publish("api_post_event", clientIp="127.0.0.1", uri=f"/v2/apps{app_id}",
              appDefinition=m.apps[app_id])
    return json_response({"version": version, "deploymentId": deployment["id"]},
                         200 if existing else 201)


def rollback(m: Marathon, app_id: str, version: Any, *, force: bool) -> Response:
    """`{"id", "version"}` for an app Marathon has: the app as stored in that version, deployed
    as a new version (0.11.1 AppsResource.updateOrCreate l.190-191; 1.10.26
    AppHelpers.updateOrRollback l.120-130); no such version: UnknownAppException (0.11.1) /
    AppNotFoundException (1.10.26), 404 "App '/x' does not exist", without the version."""
    stored = m.stored_version(app_id, str(version))
    if stored is None:
        return not_found("App", app_id)
    locked = m.locked([app_id], force)
    if locked is not None:
        return locked
    new = m.new_version()
    m.put_app(app_id, {k: v for k, v in stored.items() if k not in ("version", "versionInfo")},
              new)
    deployment = m.deploy([app_id], "RestartApplication", new)
    m.publish("api_post_event", clientIp="127.0.0.1", uri=f"/v2/apps{app_id}",
              appDefinition=m.apps[app_id])
    return json_response({"version": new, "deploymentId": deployment["id"]})


def app_versions(m: Marathon, app_id: str, version: str | None) -> Response:
    """AppVersionsResource: `{"versions": [...]}` of an app Marathon has (0.11.1 newest first,
    EntityRepository.listVersions l.52-60; 1.10.26 in its store's order, unsorted:
    ZkPersistenceStore.rawVersions l.133-155 lists ZooKeeper's children, the caching store a
    Set; the stand-in answers oldest first), else 404 "App '/x' does not exist"; one version:
    the app as stored then, bare (V2AppDefinition / raml.App), else 404 "App '/x' does not
    exist in version V" (RestResource.unknownApp)."""
    stored = m.versions.get(app_id, []) if app_id in m.apps else []
    if version is None:
        if not stored:
            return not_found("App", app_id)
        listed = [app["version"] for app in stored]
        return json_response({"versions": listed[::-1] if LEGACY else listed})
    found = m.stored_version(app_id, version)
    if found is None:
        shown = marathon_time(version) or version
        return json_response({"message": f"App '{app_id}' does not exist in version {shown}"},
                             404)
    return json_response(found)


def forget(m: Marathon, app_id: str) -> None:
    """An app dropped, its versions with it (0.11.1 GroupManager: `appRepo.expunge`)."""
    del m.apps[app_id]
    m.store("apps", None, app_id)
    m.versions.pop(app_id, None)
    m.store("versions", None, app_id)
    m.failures.pop(app_id, None)
    m.backoff.pop(app_id, None)
    m.waiting.pop(app_id, None)


def delete_apps(m: Marathon, app_ids: list[str], *, force: bool,
                missing: tuple[str, str]) -> Response:
    # the limit comes before the change that finds an app missing (v1.10.26 AppsResource.delete
    # l.347-352: updateRoot, then its change)
    refused = m.dismissed()
    if refused is not None:
        return refused
    if not app_ids or any(a not in m.apps for a in app_ids):
        return not_found(*missing)
    locked = m.locked(app_ids, force)
    if locked is not None:
        return locked
    for app_id in app_ids:
        forget(m, app_id)
    deployment = m.deploy(app_ids, "StopApplication")
    return json_response({"version": deployment["version"], "deploymentId": deployment["id"]})


def queue(m: Marathon) -> Response:
    entries = []
    now = time.time()
    for app in m.apps.values():
        active = sum(1 for t in m.tasks.values() if t["appId"] == app["id"])
        if active >= app["instances"]:
            continue
        until, _ = m.backoff.get(app["id"], (0.0, 0.0))
        waiting = m.waiting.get(app["id"], {"since": iso_now(), "processed": 0, "reasons": {}})
        entry: dict[str, Any] = {
            "app": app, "count": app["instances"] - active,
            "delay": {"timeLeftSeconds": max(0, int(until - now)), "overdue": until <= now},
        }
        if not LEGACY:
            entry |= {"role": "*", "since": waiting["since"], "processedOffersSummary": {
                "processedOffersCount": waiting["processed"],
                "unusedOffersCount": waiting["processed"],
                "rejectSummaryLastOffers": [
                    {"reason": reason, "declined": count, "processed": waiting["processed"]}
                    for reason, count in waiting.get("reasons", {}).items()],
            }}
        entries.append(entry)
    return json_response({"queue": entries})


# --- groups ---------------------------------------------------------------------------------
#
# What a relative id in a group update resolves against (0.11.1: GroupsResource.scala,
# V2GroupUpdate.scala, ModelValidation.scala; 1.10.26, the same in releases/1.11:
# GroupsResource.scala, GroupNormalization.scala, raml/GroupConversion.scala, state/Group.scala):
# - the body's own `id`: the URL's path (`/` for `POST /v2/groups`), on POST and PUT alike
#   (0.11.1 GroupsResource l.93 and l.188; 1.10.26 l.161, l.256 and l.335), so a relative id
#   sent to `/v2/groups/a` names `/a/<id>`;
# - a nested group's and an app's id: the enclosing group as it resolved (0.11.1
#   V2GroupUpdate.apply l.19-34, toGroup l.44-50; 1.10.26 GroupNormalization l.56, l.89, l.115,
#   GroupConversion l.66, l.98);
# - a group's dependencies: that group (0.11.1 V2GroupUpdate l.35, l.48; 1.10.26
#   GroupConversion l.77, l.122); an app's: the app's own id in 0.11.1 (V2GroupUpdate l.41), its
#   group in 1.10.26 (AppNormalization.withCanonizedIds l.452-467, from visitApp l.119);
# - what validation resolves against (`legacy_refusals`, `modern_refusals`) differs from both.
# An update replaces the apps and the groups it lists (each listed group updated or created);
# what it leaves out of a group stays as it is.

MISSING = "Property missing which is mandatory"  # 0.11.1 BeanValidation.notSet l.45-47
HINT = "Hint: use relative paths."


def parent_of(path: str) -> str:
    """An absolute path's parent (the root is its own)."""
    return absolute(path.rstrip("/").rsplit("/", 1)[0] or "/")


def inside(path: str, group_id: str) -> bool:
    """Whether `path` lies strictly inside the group `group_id`."""
    return path != group_id and path.startswith(group_id.rstrip("/") + "/")


def printed(raw: str) -> str:
    """An id as 0.11.1 prints it in a message (PathId.scala l.58-59, parsed l.70-71): a leading
    slash only when it is absolute, empty segments dropped."""
    return ("/" if raw.startswith("/") else "") + "/".join(p for p in raw.split("/") if p)


def group_exists(m: Marathon, group_id: str) -> bool:
    """The root always exists; another group once an update made it or an app lies in it."""
    return group_id == "/" or any(g == group_id or inside(g, group_id) for g in m.groups) or any(
        inside(a, group_id) for a in m.apps)


def legacy_refusals(body: dict[str, Any], parent: str, *, needs_id: bool,
                    prefix: str = "") -> list[tuple[str, str]]:
    """0.11.1 ModelValidation.checkGroupUpdate (l.51-92), which GroupsResource calls with the
    root as the parent whatever the URL (l.92, l.124): a nested group's or an app's id must be
    a direct child of its enclosing group resolved *from the root* (checkPath l.155-164, never
    under the root itself); POST and every nested group need an id (l.82-86, l.129-136)."""
    found: list[tuple[str, str]] = []
    raw = body.get("id")
    base = parent if not isinstance(raw, str) else absolute(raw, parent)
    if not isinstance(raw, str) and needs_id:
        found.append((f"{prefix}id", MISSING))
    if isinstance(raw, str):
        found += legacy_not_child(raw, parent, f"{prefix}id")
    for index, app in enumerate(body.get("apps") or []):
        if isinstance(app, dict) and isinstance(app.get("id"), str):
            found += legacy_not_child(app["id"], base, f"{prefix}apps[{index}].id")
    for index, sub in enumerate(body.get("groups") or []):
        if isinstance(sub, dict):
            found += legacy_refusals(sub, base, needs_id=True,
                                     prefix=f"{prefix}groups[{index}].")
    return found


def legacy_not_child(raw: str, parent: str, attribute: str) -> list[tuple[str, str]]:
    """0.11.1 ModelValidation.checkPath (l.155-164), with its message."""
    if parent == "/" or parent_of(absolute(raw, parent)) == parent:
        return []
    return [(attribute, f"identifier {printed(raw)} is not child of {parent}. {HINT}")]


def modern_refusals(body: dict[str, Any], normal: str, base: str,
                    prefix: str = "") -> list[tuple[str, str]]:
    """1.10.26 Group.validNestedGroupUpdateWithBase (l.320-342): an app's id, made absolute
    against its group's `normal` path first (GroupNormalization.visitApp l.115), must be a
    direct child of the group's own id resolved against `base` (AppValidation.validNestedApp
    l.327-330, PathId.childOf l.249-256); nested groups recurse with that as their base.
    GroupsResource passes the URL's path as `base` on POST (l.163), the resolved path on PUT
    (l.258), where a relative id is thus resolved twice over."""
    raw = body.get("id")
    own = absolute(raw, base) if isinstance(raw, str) else base
    found: list[tuple[str, str]] = []
    for index, app in enumerate(body.get("apps") or []):
        if isinstance(app, dict) and isinstance(app.get("id"), str) and parent_of(
                absolute(app["id"], normal)) != own:
            found.append((f"{prefix}/apps({index})/id", f"Identifier is not child of '{own}'"))
    for index, sub in enumerate(body.get("groups") or []):
        if isinstance(sub, dict) and isinstance(sub.get("id"), str):
            found += modern_refusals(sub, absolute(sub["id"], normal), own,
                                     f"{prefix}/groups({index})")
    return found


def nameless(body: dict[str, Any]) -> bool:
    """Whether a nested group lacks an id: 1.10.26 GroupNormalization reads it with `.get`
    (l.20, l.56, l.89) before validating, and the exception mapper answers the
    NoSuchElementException with 500 and its message (MarathonExceptionMapper l.115-116)."""
    return any(isinstance(sub, dict) and (not isinstance(sub.get("id"), str) or nameless(sub))
               for sub in body.get("groups") or [])


def refused(method: str, url_id: str, effective: str, body: dict[str, Any]) -> Response | None:
    """What each generation answers a group update's ids with before it changes anything."""
    if LEGACY:
        found = legacy_refusals(body, "/", needs_id=method == "POST")
    elif nameless(body):
        return json_response({"message": "None.get"}, 500)
    else:
        found = modern_refusals(body, effective, url_id if method == "POST" else effective)
    return rules_broken(found) if found else None


class GroupChange:
    """The changed group's subtree after an update: every app in it (`apps`, those the update
    defines in `defined`), its groups' records (`groups`), and what 0.11.1 puts where its
    checkGroup of the whole tree refuses it (`misplaced`: kind, id, holder, the holder's
    members of that kind). Pure: the stand-in's state changes only once it is accepted."""

    def __init__(self, m: Marathon) -> None:
        self.m = m
        self.apps: dict[str, dict[str, Any]] = {}
        self.defined: list[str] = []
        self.groups: dict[str, dict[str, Any]] = {}
        self.misplaced: list[tuple[str, str, str, list[str]]] = []

    def apply(self, update: dict[str, Any], group_id: str) -> None:
        deps = update.get("dependencies")
        kept = self.m.groups.get(group_id, {}).get("dependencies", [])
        self.groups[group_id] = {"id": group_id, "dependencies": kept if deps is None else [
            absolute(d, group_id) for d in deps if isinstance(d, str)]}
        if update.get("apps") is not None:
            ids = [absolute(str(a.get("id", "")) if isinstance(a, dict) else "", group_id)
                   for a in update["apps"]]
            for app, app_id in zip(update["apps"], ids, strict=True):
                self.define(app, app_id, group_id, ids)
        else:
            self.apps |= {a: app for a, app in self.m.apps.items() if parent_of(a) == group_id}
        if update.get("groups") is not None:
            subs = [absolute(str(s.get("id", "")) if isinstance(s, dict) else "", group_id)
                    for s in update["groups"]]
            for sub, sub_id in zip(update["groups"], subs, strict=True):
                if parent_of(sub_id) != group_id:
                    self.misplaced.append(("groups", sub_id, group_id, subs))
                self.apply(sub, sub_id)
        else:
            self.apps |= {a: app for a, app in self.m.apps.items()
                          if inside(a, group_id) and parent_of(a) != group_id}
            self.groups |= {g: r for g, r in self.m.groups.items() if inside(g, group_id)}

    def define(self, app: Any, app_id: str, group_id: str, ids: list[str]) -> None:
        if parent_of(app_id) != group_id:
            self.misplaced.append(("apps", app_id, group_id, ids))
        body = dict(app) if isinstance(app, dict) else app  # not a mapping: `invalid` says so
        if isinstance(body, dict) and isinstance(app.get("dependencies"), list):
            base = app_id if LEGACY else group_id
            body["dependencies"] = [absolute(d, base) for d in app["dependencies"]
                                    if isinstance(d, str)]
        self.apps[app_id] = body
        self.defined.append(app_id)

    def refusals(self) -> list[tuple[str, str]]:
        """0.11.1 GroupManager.upgrade (l.159) checks the whole tree after the change
        (ModelValidation.checkGroup l.36-49, checkPath l.155-164): an app or group whose id is
        no direct child of the group it was put in. Marathon numbers the members of its Sets,
        which have no order; the stand-in numbers them in id order, each group at its id."""
        groups = {*self.groups, *self.m.groups, *map(parent_of, [*self.m.apps, *self.apps])}
        found = []
        for kind, item, holder, members in self.misplaced:
            where = tree_path(groups | {item, holder}, holder)
            found.append((f"{where}{kind}[{sorted(members).index(item)}].id",
                          f"identifier {item} is not child of {holder}. {HINT}"))
        return found


def lineage(path: str) -> list[str]:
    """Every group from the root's child down to `path` (`/a/b`: `/a`, `/a/b`)."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[:n]) for n in range(1, len(parts) + 1)]


def tree_path(groups: set[str], group_id: str) -> str:
    """`groups[i].groups[j].` down to `group_id`, as 0.11.1's checkGroups names it (l.138-145)."""
    known = {g for group in groups for g in lineage(group)}
    path = ""
    for child in lineage(group_id):
        siblings = sorted(g for g in known if parent_of(g) == parent_of(child))
        path += f"groups[{siblings.index(child)}]."
    return path


def groups(m: Marathon, request: Request, group_id: str, *, force: bool) -> Response:
    if request.method == "GET":
        if not group_exists(m, group_id):
            return not_found("Group", group_id)
        return json_response(group_view(m, group_id))
    if request.method == "DELETE":
        return delete_group(m, group_id, force=force)
    body, error = parse_body(request.body)
    if error is not None:
        return error
    if not isinstance(body, dict):
        return invalid(body) or Response(400, b"")
    if body.get("version") is not None:
        return group_version(m, request.method, group_id, body, force=force)
    return change_group(m, request.method, group_id, body, force=force)


def change_group(m: Marathon, method: str, url_id: str, body: dict[str, Any], *,
                 force: bool) -> Response:
    """POST (201) or PUT (200) of a group update, the group at the body's id resolved against
    the URL (see above); POST refuses an existing group with 409 (0.11.1 GroupsResource
    l.94-96; 1.10.26 l.172-177, which also refuses a path an app has)."""
    raw = body.get("id")
    effective = absolute(raw, url_id) if isinstance(raw, str) else url_id
    answer = refused(method, url_id, effective, body)
    if answer is not None:
        return answer
    change = GroupChange(m)
    change.apply(body, effective)
    for app_id in change.defined:
        error = invalid(change.apps[app_id], app_id)
        if error is not None:
            return error
    if method == "POST" and group_exists(m, effective):
        return json_response({"message": f"Group {effective} is already created. Use PUT to "
                                         "change this group."}, 409)
    if method == "POST" and not LEGACY and effective in m.apps:
        return json_response({"message": f"An app with the path {effective} already exists."},
                             409)
    if LEGACY and change.misplaced:
        return rules_broken(change.refusals())
    return commit_group(m, effective, change, created=method == "POST", force=force)


def commit_group(m: Marathon, group_id: str, change: GroupChange, *, created: bool,
                 force: bool) -> Response:
    """The change made: apps it defines put as a new version, apps of the subtree it left out
    dropped, group records kept (with the groups above, which Marathon makes on the way:
    0.11.1 Group.makeGroup l.102-111), one deployment for all."""
    removed = [a for a in m.apps if (a == group_id or inside(a, group_id)) and a not in change.apps]
    affected = [*change.defined, *removed]
    locked = m.locked(affected, force)
    if locked is not None:
        return locked
    version = m.new_version()
    for gone in [g for g in m.groups if (g == group_id or inside(g, group_id))
                 and g not in change.groups]:
        del m.groups[gone]
        m.store("groups", None, gone)
    for above in lineage(parent_of(group_id)):
        change.groups.setdefault(above, m.groups.get(above, {"id": above, "dependencies": []}))
    for record in change.groups.values():
        if record["id"] != "/" and m.groups.get(record["id"]) != record:
            m.groups[record["id"]] = record
            m.store("groups", record, record["id"])
    for app_id in removed:
        forget(m, app_id)
    for app_id in change.defined:
        m.put_app(app_id, change.apps[app_id], version)
    deployment = m.deploy(affected, "StartApplication", version)
    return json_response({"version": deployment["version"], "deploymentId": deployment["id"]},
                         201 if created else 200)


def delete_group(m: Marathon, group_id: str, *, force: bool) -> Response:
    """The group and everything in it (0.11.1 GroupsResource.delete l.160-171; 1.10.26
    l.302-327); 404 for one Marathon does not have."""
    apps = [a for a in m.apps if a == group_id or inside(a, group_id)]
    records = [g for g in m.groups if g == group_id or inside(g, group_id)]
    if apps or not records:
        answer = delete_apps(m, apps, force=force, missing=("Group", group_id))
        if answer.status != 200:
            return answer
    else:
        deployment = m.deploy([], "StopApplication")
        answer = json_response({"version": deployment["version"],
                                "deploymentId": deployment["id"]})
    for gone in records:
        del m.groups[gone]
        m.store("groups", None, gone)
    return answer


def group_view(m: Marathon, group_id: str) -> dict[str, Any]:
    prefix = group_id.rstrip("/") + "/"
    direct = [a for a in m.apps.values() if parent_of(a["id"]) == group_id and
              a["id"] != group_id]
    below = [a for a in m.apps if inside(a, group_id) and parent_of(a) != group_id]
    subgroups = sorted({prefix + x[len(prefix):].split("/", 1)[0]
                        for x in [*below, *(g for g in m.groups if inside(g, group_id))]})
    return {"id": group_id, "apps": [m.app_view(a, embed_tasks=False) for a in direct],
            "groups": [group_view(m, g) for g in subgroups],
            "dependencies": m.groups.get(group_id, {}).get("dependencies", []),
            "version": max((a["version"] for a in direct), default=iso_now())}


def group_version(m: Marathon, method: str, group_id: str, body: dict[str, Any], *,
                  force: bool) -> Response:
    """`{"version": V}` alone: the group as it was in root version V (0.11.1
    GroupsResource.updateOrCreate l.176-185; 1.10.26 GroupApiService.updateGroup l.32-42);
    none: 422 "Group /x not available in version V" (an IllegalArgumentException in both).
    POST first refuses a group that exists, as it does any (the root always does)."""
    error = group_version_not_alone(body)
    if error is not None:
        return error
    held = [a for a in m.apps if inside(a, group_id)]
    if method == "POST" and group_exists(m, group_id):
        return json_response(
            {"message": f"Group {group_id} is already created. Use PUT to change this group."},
            409)
    version = str(body["version"])
    snapshot = m.root_versions.get(marathon_time(version) or version)
    if snapshot is None:
        shown = marathon_time(version) or version
        return json_response({"message": f"Group {group_id} not available in version {shown}"},
                             422)
    then = {a: app for a, app in snapshot.items() if a.startswith(group_id.rstrip("/") + "/")}
    affected = sorted(set(then) | set(held))
    locked = m.locked(affected, force)
    if locked is not None:
        return locked
    new = m.new_version()
    for app_id in set(held) - set(then):
        forget(m, app_id)
    for app_id, app in then.items():
        m.put_app(app_id, {k: v for k, v in app.items() if k not in ("version", "versionInfo")},
                  new)
    deployment = m.deploy(affected, "RestartApplication", new)
    return json_response({"version": new, "deploymentId": deployment["id"]},
                         201 if method == "POST" else 200)
