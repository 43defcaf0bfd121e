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
from validation import group_version_not_alone, invalid, parse_body, version_not_alone

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


def flatten(group: dict[str, Any], base: str = "/") -> tuple[str, dict[str, dict[str, Any]]]:
    """A group's own id and every app in it and its subgroups, by absolute id."""
    group_id = absolute(group.get("id", base), base)
    apps = {absolute(a.get("id", ""), group_id): a for a in group.get("apps") or []}
    for sub in group.get("groups") or []:
        apps |= flatten(sub, group_id)[1]
    return group_id, apps


def groups(m: Marathon, request: Request, group_id: str, *, force: bool) -> Response:
    inside = [a for a in m.apps if a == group_id or a.startswith(group_id.rstrip("/") + "/")]
    if request.method == "GET":
        if not inside and group_id != "/":
            return not_found("Group", group_id)
        return json_response(group_view(m, group_id))
    if request.method == "DELETE":
        return delete_apps(m, inside, force=force, missing=("Group", group_id))
    body, error = parse_body(request.body)
    if error is not None:
        return error
    if not isinstance(body, dict):
        return invalid(body) or Response(400, b"")
    if body.get("version") is not None:
        return group_version(m, request.method, group_id, body, force=force)
    if request.method == "POST" and group_id == "/":
        group_id = absolute(body.get("id", "/"))
    elif "id" not in body:
        body = {**body, "id": group_id}
    group_id, bodies = flatten(body)
    if request.method == "POST" and any(
            a == group_id or a.startswith(group_id.rstrip("/") + "/") for a in m.apps):
        return json_response(
            {"message": f"Group {group_id} is already created. Use PUT to change this group."},
            409)
    for app_id, app in bodies.items():
        error = invalid(app, app_id)
        if error is not None:
            return error
    locked = m.locked(list(bodies), force)
    if locked is not None:
        return locked
    deployment = start_apps(m, bodies, action="StartApplication")
    return json_response({"version": deployment["version"], "deploymentId": deployment["id"]},
                         201 if request.method == "POST" else 200)


def group_view(m: Marathon, group_id: str) -> dict[str, Any]:
    prefix = group_id.rstrip("/") + "/"
    direct = [a for a in m.apps.values()
              if a["id"].startswith(prefix) and "/" not in a["id"][len(prefix):]]
    subgroups = sorted({prefix + a[len(prefix):].split("/", 1)[0] for a in m.apps
                        if a.startswith(prefix) and "/" in a[len(prefix):]})
    return {"id": group_id, "apps": [m.app_view(a, embed_tasks=False) for a in direct],
            "groups": [group_view(m, g) for g in subgroups], "dependencies": [],
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
    inside = [a for a in m.apps if a.startswith(group_id.rstrip("/") + "/")]
    if method == "POST" and (inside or group_id == "/"):
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
    affected = sorted(set(then) | set(inside))
    locked = m.locked(affected, force)
    if locked is not None:
        return locked
    new = m.new_version()
    for app_id in set(inside) - set(then):
        forget(m, app_id)
    for app_id, app in then.items():
        m.put_app(app_id, {k: v for k, v in app.items() if k not in ("version", "versionInfo")},
                  new)
    deployment = m.deploy(affected, "RestartApplication", new)
    return json_response({"version": new, "deploymentId": deployment["id"]},
                         201 if method == "POST" else 200)
