"""Marathon's checks on an app definition and its two generations' error bodies.

Modern (v1.10): type errors are 422 "Invalid JSON" with play-json codes
(MarathonExceptionMapper), rule errors 422 "Object is not valid" with `details[].path/errors`
(Validation.scala). Legacy (v0.11.1): type errors are 400, rule errors 422 "Bean is not valid"
with `errors[].attribute/error` (bean validation). Cases: fixtures/marathon/invalid/README.md.
"""

from __future__ import annotations

import re
from typing import Any

from common import LEGACY, Response, json_response

# PathId.scala @ v1.10.26: every segment of an id must fully match this.
SEGMENT = (r"^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])"
           r"|(\.|\.\.)$")
ID_MODERN = f"must fully match regular expression '{SEGMENT}'"
ID_LEGACY = ("path contains invalid characters (allowed: lowercase letters, digits, hyphens, "
             '".", "..")')
NEEDS_COMMAND = ("AppDefinition must either contain one of 'cmd' or 'args', and/or a "
                 "'container'.")
JSON_TYPES: dict[str, tuple[type | tuple[type, ...], str]] = {
    "id": (str, "error.expected.jsstring"),
    "cmd": (str, "error.expected.jsstring"),
    "args": (list, "error.expected.jsarray"),
    "cpus": ((int, float), "error.expected.jsnumber"),
    "mem": ((int, float), "error.expected.jsnumber"),
    "disk": ((int, float), "error.expected.jsnumber"),
    "instances": (int, "error.expected.jsnumber"),
    "env": (dict, "error.expected.jsobject"),
    "labels": (dict, "error.expected.jsobject"),
    "container": (dict, "error.expected.jsobject"),
    "upgradeStrategy": (dict, "error.expected.jsobject"),
    "healthChecks": (list, "error.expected.jsarray"),
    "constraints": (list, "error.expected.jsarray"),
}


def type_errors(app: dict[str, Any]) -> list[tuple[str, str]]:
    errors = []
    for key, (kind, code) in JSON_TYPES.items():
        value = app.get(key)
        if value is None or isinstance(value, bool):
            if isinstance(value, bool):
                errors.append((f"/{key}", code))
            continue
        if not isinstance(value, kind) or (key == "instances" and isinstance(value, float)):
            errors.append((f"/{key}", code))
    docker = (app.get("container") or {}).get("docker") if isinstance(
        app.get("container"), dict) else None
    if isinstance(docker, dict) and not isinstance(docker.get("image"), str):
        errors.append(("/container/docker/image", "error.path.missing"))
    return errors


def rule_errors(app: dict[str, Any], app_id: str) -> list[tuple[str, str, str]]:
    """(modern path, legacy attribute, message) for each broken rule."""
    errors = []
    segments = [s for s in app_id.split("/") if s]
    if not segments or not all(re.fullmatch(SEGMENT, s) for s in segments):
        errors.append(("/id", "id", ID_MODERN if not LEGACY else ID_LEGACY))
    has_command = app.get("cmd") is not None or app.get("args") is not None
    both = app.get("cmd") is not None and app.get("args") is not None
    if both or not (has_command or app.get("container") is not None):
        errors.append(("/", "", NEEDS_COMMAND))
    for key in ("cpus", "mem", "disk", "instances"):
        value = app.get(key)
        if isinstance(value, (int, float)) and value < 0:
            errors.append((f"/{key}", key, f"got {value}, expected 0 or more" if not LEGACY
                           else "must be greater than or equal to 0"))
    strategy = app.get("upgradeStrategy") or {}
    for key in ("minimumHealthCapacity", "maximumOverCapacity"):
        value = strategy.get(key)
        if isinstance(value, (int, float)) and not 0 <= value <= 1:
            errors.append((f"/upgradeStrategy/{key}", f"upgradeStrategy.{key}",
                           ("is greater than 1" if value > 1 else "is less than 0")
                           if not LEGACY else "must be between 0 and 1"))
    return errors


def invalid(app: Any, app_id: str | None = None) -> Response | None:
    """The error response Marathon gives for this app definition, or None when it is valid."""
    if not isinstance(app, dict):
        return invalid_json([("", "error.expected.jsobject")])
    found = type_errors(app)
    if found:
        return invalid_json(found)
    broken = rule_errors(app, app_id if app_id is not None else app.get("id", ""))
    if not broken:
        return None
    if LEGACY:
        return json_response({"message": "Bean is not valid", "errors": [
            {"attribute": attribute, "error": message} for _, attribute, message in broken]}, 422)
    return json_response({"message": "Object is not valid", "details": [
        {"path": path, "errors": [message]} for path, _, message in broken]}, 422)


def rules_broken(found: list[tuple[str, str]]) -> Response:
    """422 for broken rules, each `(where, message)` with `where` in the generation's own
    words: 0.11.1's bean validation attribute (`groups[0].apps[1].id`,
    MarathonExceptionMapper l.81-93), 1.10.26's path (`/groups(0)/apps(1)/id`,
    Validation.allViolations l.296-321, failureWrites l.146-161)."""
    if LEGACY:
        return json_response({"message": "Bean is not valid", "errors": [
            {"attribute": where, "error": message} for where, message in found]}, 422)
    return json_response({"message": "Object is not valid", "details": [
        {"path": where, "errors": [message]} for where, message in found]}, 422)


def invalid_json(errors: list[tuple[str, str]]) -> Response:
    body = {"message": "Invalid JSON",
            "details": [{"path": path, "errors": [code]} for path, code in errors]}
    return json_response(body, 400 if LEGACY else 422)


def parse_body(raw: bytes) -> tuple[Any, Response | None]:
    """The request's JSON, or the 400 Marathon answers for an empty or malformed body."""
    import json

    if not raw.strip():
        message = "No content to map due to end-of-input"
        body = ({"message": message} if LEGACY else
                {"message": "Please specify data in JSON format", "details": message})
        return None, json_response(body, 400)
    try:
        return json.loads(raw), None
    except ValueError as exc:
        detail = (f"Unexpected end-of-input: expected close marker for Object ({exc})"
                  if "Expecting" in str(exc) and exc.pos >= len(raw.strip())  # type: ignore[attr-defined]
                  else f"Unexpected character ({exc})")
        body = {"message": detail} if LEGACY else {"message": "Invalid JSON", "details": detail}
        return None, json_response(body, 400)


# --- `version` in an update -------------------------------------------------------------------

# The fields an app update reads; any other field of its body is ignored. v0.11.1: the case
# class V2AppUpdate (api/v2/json/V2AppUpdate.scala l.20-70, read by Formats.V2AppUpdateReads
# l.568-615). v1.10.26: AppUpdate, the RAML `App` type with every field optional
# (docs/docs/rest-api/public/api/v2/types/app.raml l.75-339, `(pragma.generateUpdateType)`;
# type-generator RamlTypeGenerator.scala l.274-276): `versionInfo` is one of them there.
UPDATE_FIELDS = frozenset({
    "id", "cmd", "args", "user", "env", "instances", "cpus", "mem", "disk", "executor",
    "constraints", "uris", "storeUrls", "ports", "requirePorts", "backoffSeconds",
    "backoffFactor", "maxLaunchDelaySeconds", "container", "healthChecks", "dependencies",
    "upgradeStrategy", "labels", "acceptedResourceRoles", "version",
}) if LEGACY else frozenset({
    "id", "acceptedResourceRoles", "args", "backoffFactor", "backoffSeconds", "cmd",
    "constraints", "container", "cpus", "dependencies", "disk", "env", "executor",
    "executorResources", "fetch", "healthChecks", "check", "instances", "labels",
    "maxLaunchDelaySeconds", "mem", "gpus", "ipAddress", "networks", "ports", "portDefinitions",
    "readinessChecks", "residency", "resourceLimits", "requirePorts", "secrets",
    "taskKillGracePeriodSeconds", "upgradeStrategy", "uris", "user", "version", "versionInfo",
    "killSelection", "unreachableStrategy", "tty", "role",
})
# A group update's fields: v0.11.1 V2GroupUpdate (api/v2/json/V2GroupUpdate.scala l.6-12);
# v1.10.26 the RAML GroupUpdate (types/group.raml), which adds enforceRole.
GROUP_UPDATE_FIELDS = frozenset({"id", "apps", "groups", "dependencies", "scaleBy", "version"}
                                | (set() if LEGACY else {"enforceRole"}))
VERSION_WITH_ID = "The 'version' field may only be combined with the 'id' field."
NOT_ALONE = "not allowed in conjunction with other properties"


def given(body: dict[str, Any], fields: frozenset[str]) -> set[str]:
    """The fields of `fields` the body sets: null reads as absent (play-json readNullable), an
    empty list or mapping is set."""
    return {key for key, value in body.items() if key in fields and value is not None}


def version_not_alone(body: dict[str, Any]) -> Response | None:
    """An app update whose `version` stands with a field other than `id`: 0.11.1 checks it in
    V2AppUpdate's constructor (l.72, Scala's `require`, whose message starts "requirement
    failed: "; MarathonExceptionMapper l.48 and l.103: IllegalArgumentException, 422, the
    message alone); 1.10.26 in AppValidation.validateAppUpdateVersion (l.314-324), on the root
    path of its 422."""
    if body.get("version") is None or not given(body, UPDATE_FIELDS) - {"id", "version"}:
        return None
    if LEGACY:
        return json_response({"message": f"requirement failed: {VERSION_WITH_ID}"}, 422)
    return json_response({"message": "Object is not valid",
                          "details": [{"path": "/", "errors": [VERSION_WITH_ID]}]}, 422)


def group_version_not_alone(body: dict[str, Any]) -> Response | None:
    """A group update's `version` and `scaleBy` must each be its only field, `id` included:
    0.11.1 ModelValidation.checkGroupUpdate (l.59-75, hasOnlyOneDefinedOption l.94-100);
    1.10.26 Group.validNestedGroupUpdateWithBase (l.329-330) with
    Validation.theOnlyDefinedOptionIn (l.231-247, its message ends with a period)."""
    fields = given(body, GROUP_UPDATE_FIELDS)
    if len(fields) < 2:
        return None
    wrong = [key for key in ("version", "scaleBy") if key in fields]
    if LEGACY:
        return json_response({"message": "Bean is not valid", "errors": [
            {"attribute": key, "error": NOT_ALONE} for key in wrong]}, 422)
    return json_response({"message": "Object is not valid", "details": [
        {"path": f"/{key}", "errors": [f"{NOT_ALONE}."]} for key in wrong]}, 422)
