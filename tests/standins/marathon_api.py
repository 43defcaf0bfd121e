"""Marathon's REST routes (`/v2/...`) over the stand-in's state, for the elected leader.

Status codes and bodies follow Marathon's AppsResource, GroupsResource, DeploymentsResource
and QueueResource (fixtures/marathon/docs, raml-v1.10.26); callers hold the state lock.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from common import LEGACY, Request, Response, iso_now, json_response
from validation import invalid, parse_body

if TYPE_CHECKING:
    from marathon import Marathon

VERSION = "0.11.1" if LEGACY else "1.10.26"
DEFINITION_KEYS = ("cmd", "args", "user", "env", "instances", "cpus", "mem", "disk", "executor",
                   "constraints", "uris", "ports", "requirePorts", "backoffSeconds",
                   "backoffFactor", "maxLaunchDelaySeconds", "container", "healthChecks",
                   "dependencies", "upgradeStrategy", "labels", "acceptedResourceRoles")


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
        deployment = m.deployments.pop(path.rsplit("/", 1)[1], None)
        if deployment is None:
            return not_found("Deployment", path.rsplit("/", 1)[1])
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
        if app_id.endswith("/tasks") and method == "GET":
            app = m.apps.get(app_id[:-len("/tasks")])
            if app is None:
                return not_found("App", app_id[:-len("/tasks")])
            return json_response({"tasks": m.app_view(app, embed_tasks=True)["tasks"]})
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
        return groups(m, request, group_id, force=force)
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
    version = iso_now()
    for app_id, body in bodies.items():
        m.put_app(app_id, body, version)
    return m.deploy(list(bodies), action)


def update_app(m: Marathon, app_id: str, raw: bytes, *, force: bool) -> Response:
    body, error = parse_body(raw)
    if error is not None:
        return error
    if not isinstance(body, dict):
        return invalid(body) or Response(400, b"")
    existing = m.apps.get(app_id)
    merged = {**({k: existing[k] for k in DEFINITION_KEYS} if existing else {}), **body}
    error = invalid(merged, app_id)
    if error is not None:
        return error
    locked = m.locked([app_id], force)
    if locked is not None:
        return locked
    scale_only = existing is not None and set(body) - {"id"} == {"instances"}
    version = iso_now()
    m.put_app(app_id, {"instances": body["instances"]} if scale_only else merged, version)
    action = ("ScaleApplication" if scale_only else
              "RestartApplication" if existing else "StartApplication")
    deployment = m.deploy([app_id], action)
    m.publish("api_post_event", clientIp="127.0.0.1", uri=f"/v2/apps{app_id}",
              appDefinition=m.apps[app_id])
    return json_response({"version": version, "deploymentId": deployment["id"]},
                         200 if existing else 201)


def delete_apps(m: Marathon, app_ids: list[str], *, force: bool,
                missing: tuple[str, str]) -> Response:
    if not app_ids or any(a not in m.apps for a in app_ids):
        return not_found(*missing)
    locked = m.locked(app_ids, force)
    if locked is not None:
        return locked
    for app_id in app_ids:
        del m.apps[app_id]
        m.store("apps", None, app_id)
        m.failures.pop(app_id, None)
        m.backoff.pop(app_id, None)
        m.waiting.pop(app_id, None)
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
