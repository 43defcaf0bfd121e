"""Marathon app files for `mesostack deploy`: loading, validation, and the requests to send.

Pure: no network. Validation refuses what Marathon would answer 422 to, before anything is sent,
with one-line errors naming file, line, column and field (in Marathon's path style, e.g.
`/upgradeStrategy/minimumHealthCapacity`). Fields we don't know pass through untouched, with a
warning, because newer Marathons know more than the versions our field list comes from.

A file may be what Marathon answers (`GET /v2/apps/x`, `GET /v2/apps`, `GET /v2/groups/x`):
the wrappers are taken off, and what Marathon reports about a running app but does not take
back is left out of what is sent, named in one warning.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from mesostack import yamlfile
from mesostack.errors import InputError
from mesostack.yamlfile import UniqueKeyLoader

APPS_PATH = "/v2/apps"
GROUPS_PATH = "/v2/groups"

# Marathon's own words (AppValidation), so users can search for them.
CMD_ARGS_OR_CONTAINER = (
    "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'."
)

# PathId.scala: every `/`-separated part of an id must fully match this.
_ID_PART_RE = re.compile(
    r"^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])|(\.|\.\.)$"
)
_ID_RULE = (
    "use lowercase letters, digits, '-' and '.', and start and end each part between '/' "
    "with a letter or digit ('.' and '..' are parts too)"
)

# The top-level AppDefinition properties of Marathon's JSON Schemas (v0.11.1 and v1.7.236) and
# of the RAML `App` type of v1.10.26; anything else is passed on with a warning.
APP_FIELDS = frozenset({
    "acceptedResourceRoles", "args", "backoffFactor", "backoffSeconds", "check", "cmd",
    "constraints", "container", "cpus", "dependencies", "disk", "env", "executor",
    "executorResources", "fetch", "gpus", "healthChecks", "id", "instances", "ipAddress",
    "killSelection", "labels", "maxLaunchDelaySeconds", "mem", "networks", "portDefinitions",
    "ports", "readinessChecks", "requirePorts", "residency", "resourceLimits", "role", "secrets",
    "storeUrls", "taskKillGracePeriodSeconds", "tty", "unreachableStrategy", "upgradeStrategy",
    "uris", "user", "version", "versionInfo",
})

# What Marathon reports about an app beside its definition, and takes in no request that
# creates or changes one: the task counts, deployments, tasks, lastTaskFailure and task stats
# (v0.11.1 Formats.ExtendedAppInfoWrites; the RAML `AppInfo` type of v1.10.26), `versionInfo`
# (never taken from a request: v1.10.26 AppHelpers.updateOrCreate) and `version`, which POST
# ignores and PUT takes only alone with `id`, as a rollback (422 beside any other field:
# v0.11.1 V2AppUpdate.scala, v1.10.26 AppValidation.validateAppUpdateVersion), which is
# `mesostack rollback`'s. In a group, `version` is likewise a rollback, alone.
REPORTED_FIELDS = (
    "version", "versionInfo", "tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy",
    "deployments", "tasks", "lastTaskFailure", "taskStats", "tasksStats",
    "readinessCheckResults",
)
GROUP_REPORTED_FIELDS = ("version",)

# Group.json (v1.7.236) and the RAML `GroupUpdate` type (v1.10.26), plus `pods`.
GROUP_FIELDS = frozenset({
    "apps", "dependencies", "enforceRole", "groups", "id", "pods", "scaleBy", "version",
})


@dataclass(frozen=True)
class DeployRequest:
    """One request to Marathon; POST first, the client turns a 409 into a PUT."""

    method: str
    path: str
    body: dict[str, Any]  # exactly what is sent
    app_ids: tuple[str, ...]  # absolute ids of every app it deploys
    source: str  # "file.json", or "file.json[2]" for the third app of a list


def docker_apps(requests: Sequence[DeployRequest]) -> list[tuple[str, str]]:
    """(source, app id) of every app with a DOCKER container, groups' apps included."""
    found: list[tuple[str, str]] = []

    def walk(body: Any, source: str, base: str) -> None:
        if not isinstance(body, dict):
            return
        here = _absolute(str(body.get("id", "")), base=base) if body.get("id") else base
        container = body.get("container")
        if isinstance(container, dict) and container.get("type") == "DOCKER":
            found.append((source, here))
        for child in [*(body.get("apps") or []), *(body.get("groups") or [])]:
            walk(child, source, here)

    for request in requests:
        walk(request.body, request.source, "/")
    return found


def refuse_docker_apps(requests: Sequence[DeployRequest],
                       containerizers: Sequence[tuple[str, str]] | None) -> None:
    """A DOCKER app where no agent runs the Docker containerizer would wait in Marathon's
    queue for ever: say so at once. `containerizers` None: the agents can't tell; let it go."""
    docker = docker_apps(requests)
    if not docker or containerizers is None:
        return
    if any("docker" in flags.split(",") for _, flags in containerizers):
        return
    source, app_id = docker[0]
    agents = ", ".join(f"{endpoint} {flags}" for endpoint, flags in containerizers)
    raise InputError(f"{source}: app {app_id} has a DOCKER container, but no agent runs the "
                     f"Docker containerizer (containerizers: {agents})",
                     hint="run it as a command (`cmd`), or give the agents "
                          "`slave.env.MESOS_CONTAINERIZERS: docker,mesos` on a cgroup v1 host")


@dataclass(frozen=True)
class Loaded:
    requests: tuple[DeployRequest, ...]
    warnings: tuple[str, ...]


# --- loading -----------------------------------------------------------------------------------


def load_file(path: Path) -> Loaded:
    """Read, parse and validate one app file; every failure is one InputError naming the file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: can't read: {exc}") from None
    return parse_text(text, source=str(path))


def parse_text(text: str, *, source: str) -> Loaded:
    """An app, a list of apps (one POST each) or a group (one POST), validated; or what
    `GET /v2/apps/x` (`{"app": ...}`) or `GET /v2/apps` (`{"apps": [...]}`) answered.

    A `.json` source must be JSON; anything else may be JSON or YAML.
    """
    data, root = _parse(text, source=source)
    return _loaded(data, _Doc(source, root))


def parse_data(data: Any, *, source: str) -> Loaded:
    """An app, a list of apps or a group held in memory (e.g. a dict a program built), checked
    as a file's would be; messages name `source` (there are no lines). `data` is copied."""
    return _loaded(_copied(data), _Doc(source, None))


def _copied(value: Any, within: frozenset[int] = frozenset()) -> Any:
    """`value` with each mapping a new dict and each list or tuple a new list, so that what is
    checked and sent is not the caller's object (and the checks see the kinds JSON has). A
    value that holds itself is left as it is, for the checks to refuse."""
    if id(value) in within or not isinstance(value, Mapping | list | tuple):
        return value
    inner = within | {id(value)}
    if isinstance(value, Mapping):
        return {key: _copied(item, inner) for key, item in value.items()}
    return [_copied(item, inner) for item in value]


def _loaded(data: Any, doc: _Doc) -> Loaded:
    source = doc.source
    _check_json_data(data, doc, ())
    found: list[tuple[str, str]] = []
    checked = _checked(data, doc, found)
    dropped: list[str] = []
    requests = tuple(replace(r, body=_sent(r.body, group=r.path == GROUPS_PATH, dropped=dropped))
                     for r in checked)
    # One warning per unknown field name, at its first place: a group of 30 apps sharing one
    # newer field needs telling once.
    return Loaded(requests, _first_per_field(found) + _dropped_warning(source, dropped))


def _checked(data: Any, doc: _Doc, found: list[tuple[str, str]]) -> list[DeployRequest]:
    """The requests of the file's data, each checked, each body as it is in the file."""
    source = doc.source
    at: _Path = ()
    wrapped = _unwrapped(data)
    if wrapped is not None:
        data, at = wrapped
    if isinstance(data, list):
        return _app_list(data, doc, at, found)
    if isinstance(data, dict) and _is_group(data) and not at:
        app_ids: list[str] = []
        _check_group(data, doc, (), base="/", app_ids=app_ids, warnings=found)
        return [DeployRequest("POST", GROUPS_PATH, _with_absolute_ids(data, base="/"),
                              tuple(app_ids), source)]
    if isinstance(data, dict):
        app_id = _check_app(data, doc, at, base="/", warnings=found)
        return [DeployRequest("POST", APPS_PATH, data, (app_id,), source)]
    if data is None:
        raise InputError(f"{source}: the file holds no app (it is empty or null)")
    raise doc.error((), "expected an app (a mapping with an id), a list of apps, or a "
                    f"group (a mapping with \"apps\" or \"groups\"); got {_got(data)}")


def _app_list(data: list[Any], doc: _Doc, at: _Path, found: list[tuple[str, str]]
              ) -> list[DeployRequest]:
    """One POST per app of a list (`at`: where the list is in the file)."""
    if not data:
        raise InputError(f"{doc.where(at)}: the list holds no apps; nothing to deploy")
    requests: list[DeployRequest] = []
    for index, app in enumerate(data):
        if isinstance(app, dict) and _is_group(app) and not _runs_something(app):
            raise doc.error((*at, index), "a group can't be part of a list of apps; give it a "
                            "file of its own, or nest it under a group's \"groups\"")
        app_id = _check_app(app, doc, (*at, index), base="/", warnings=found)
        requests.append(DeployRequest("POST", APPS_PATH, app, (app_id,),
                                      f"{doc.source}[{index}]"))
    return requests


def _unwrapped(data: Any) -> tuple[Any, _Path] | None:
    """What `GET /v2/apps/x` (`{"app": {...}}`) and `GET /v2/apps` (`{"apps": [...]}`, every
    id absolute) answer: the app or the list of apps inside, and where it is in the file.
    `apps` beside anything else, or with a relative id, is a group (whose id may be missing)."""
    if not isinstance(data, dict) or len(data) != 1:
        return None
    if isinstance(data.get("app"), dict):
        return data["app"], ("app",)
    apps = data.get("apps")
    if isinstance(apps, list) and apps and all(
            isinstance(app, dict) and str(app.get("id", "")).startswith("/") for app in apps):
        return apps, ("apps",)
    return None


def _sent(body: dict[str, Any], *, group: bool, dropped: list[str]) -> dict[str, Any]:
    """`body` without what Marathon reports but does not take, in a group's apps and groups
    too; the names left out are added to `dropped`."""
    left_out = GROUP_REPORTED_FIELDS if group else REPORTED_FIELDS
    sent: dict[str, Any] = {}
    for key, value in body.items():
        if key in left_out:
            dropped.append(key)
            continue
        if group and key in ("apps", "groups") and isinstance(value, list):
            value = [_sent(item, group=key == "groups", dropped=dropped)
                     if isinstance(item, dict) else item for item in value]
        sent[key] = value
    return sent


def _dropped_warning(source: str, dropped: list[str]) -> tuple[str, ...]:
    if not dropped:
        return ()
    names = ", ".join(dict.fromkeys(dropped))
    return (f"{source}: dropped {names}: Marathon reports them but does not take them (to go "
            "back to an earlier version: `mesostack rollback`)",)


def validate_app(app: Any, *, where: str) -> list[str]:
    """Check one app definition held in memory; `where` starts each message (e.g. a file name).

    Returns the warnings; raises InputError for what Marathon would refuse.
    """
    doc = _Doc(where, None)
    _check_json_data(app, doc, ())
    found: list[tuple[str, str]] = []
    _check_app(app, doc, (), base="/", warnings=found)
    return list(_first_per_field(found))


def _first_per_field(found: list[tuple[str, str]]) -> tuple[str, ...]:
    first: dict[str, str] = {}
    for name, warning in found:
        first.setdefault(name, warning)
    return tuple(first.values())


def _is_group(data: dict[str, Any]) -> bool:
    return "apps" in data or "groups" in data


# --- parsing -----------------------------------------------------------------------------------


class _Loader(UniqueKeyLoader):
    """Duplicate keys refused, and timestamps kept as the strings they are: an unquoted
    `version: 2015-09-28T...` must stay the string Marathon expects, not become a datetime
    that JSON can't carry."""

    DUPLICATE_IS_SYNTAX_ERROR = False

    @staticmethod
    def show_key(key: Any) -> str:
        return json.dumps(key, default=str)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _parse(text: str, *, source: str) -> tuple[Any, yaml.Node | None]:
    """The data and, for positions in messages, its YAML node tree (JSON is YAML too)."""
    try:
        data = json.loads(text, object_pairs_hook=_unique_pairs)
    except _DuplicateKey as exc:
        raise InputError(f"{_duplicate_at(text, source)}: duplicate key {json.dumps(exc.key)}"
                         ) from None
    except json.JSONDecodeError as exc:
        looks_like_json = text.lstrip()[:1] in ("{", "[")
        if source.lower().endswith(".json"):
            if not text.strip():
                return None, None  # "holds no app", rather than "Expecting value"
            raise _json_error(exc, source) from None
        try:
            return _load_yaml(text)
        except yaml.YAMLError as yaml_exc:
            if looks_like_json:
                raise _json_error(exc, source) from None
            raise yamlfile.error(yaml_exc, text, source=source, loader_class=_Loader
                                 ) from None
    return data, _compose(text)


def _load_yaml(text: str) -> tuple[Any, yaml.Node | None]:
    return yamlfile.load(text, _Loader)


def _compose(text: str) -> yaml.Node | None:
    """The node tree of JSON text, or None where PyYAML reads JSON differently (e.g. tabs, or
    characters such as U+007F that JSON strings may hold and YAML refuses)."""
    try:
        loader = _Loader(text)  # the reader checks every character up front
    except yaml.YAMLError:
        return None
    try:
        return loader.get_single_node()
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()


def _json_error(exc: json.JSONDecodeError, source: str) -> InputError:
    # `json` ends some messages with " at", meant to be followed by the position we put first.
    what = exc.msg.removesuffix(" at") + (" here" if exc.msg.endswith(" at") else "")
    return InputError(f"{source}:{exc.lineno}:{exc.colno}: JSON syntax error: {what}")


def _duplicate_at(text: str, source: str) -> str:
    """`file:line:column` of the second of two equal JSON keys, found with the YAML reader."""
    try:
        _load_yaml(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        if mark is not None and (exc.problem or "").startswith("duplicate key"):
            return yamlfile.position(source, mark)
    except yaml.YAMLError:
        pass
    return source


# --- positions and paths -----------------------------------------------------------------------

_Path = tuple[str | int, ...]


@dataclass(frozen=True)
class _Doc:
    """The file being checked: its name and node tree, to put a line on every message."""

    source: str
    root: yaml.Node | None

    def where(self, path: _Path, *, key: bool = False) -> str:
        """`file:line:column` of the value at `path` (its key with `key=True`; the closest
        enclosing value when it is missing), or just the file when positions are unknown."""
        if self.root is None:
            return self.source
        steps = yamlfile.find(self.root, path)
        last = steps[-1] if steps else yamlfile.Step(None, self.root)
        found_all = len(steps) == len(path)
        at = last.key if key and found_all and last.key is not None else last.value
        return yamlfile.position(self.source, at.start_mark)

    def error(self, path: _Path, what: str) -> InputError:
        return InputError(f"{self.where(path)}: {_show(path)}: {what}")


def _show(path: _Path) -> str:
    """Marathon's style: `/upgradeStrategy/minimumHealthCapacity`, `/apps/1/cpus`, `[2]/id`."""
    if path and isinstance(path[0], int):
        return f"[{path[0]}]" + "".join(f"/{_part(part)}" for part in path[1:])
    return "/" + "/".join(_part(part) for part in path)


def _part(part: str | int) -> str:
    """A key as written, or quoted and escaped when it holds a newline or another control
    character, so a message stays one line."""
    text = str(part)
    return text if text.isprintable() else json.dumps(text)


def _got(value: Any) -> str:
    """A value as JSON, as the user would see it in Marathon; long lists and mappings by kind."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    # JSON escapes control characters but not U+0085, U+2028 and the like, which break lines.
    text = "".join(c if c.isprintable() else json.dumps(c)[1:-1] for c in text)
    if isinstance(value, dict | list) and len(text) > 40:
        return "a mapping" if isinstance(value, dict) else "a list"
    return text if len(text) <= 60 else text[:57] + "..."


# --- checks ------------------------------------------------------------------------------------


def _check_json_data(value: Any, doc: _Doc, path: _Path, *, within: frozenset[int] = frozenset(),
                     ) -> None:
    """Only what JSON can carry: YAML also has non-string keys, NaN, binary, sets, cycles."""
    if isinstance(value, dict | list):
        if id(value) in within:
            raise doc.error(path, "refers to itself (a YAML alias inside its own anchor)")
        _check_json_items(value, doc, path, within=within | {id(value)})
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise doc.error(path, f"{value} is not a number JSON can carry")
    elif not (value is None or isinstance(value, str | int)):
        raise doc.error(path, f"a {type(value).__name__} can't be sent as JSON")


def _check_json_items(value: dict[Any, Any] | list[Any], doc: _Doc, path: _Path, *,
                      within: frozenset[int]) -> None:
    """Each item of a mapping (with string keys) or a list."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_json_data(item, doc, (*path, index), within=within)
        return
    for key, item in value.items():
        if not isinstance(key, str):
            raise doc.error(path, f"key {_got(key)} must be a string (write it in quotes)")
        _check_json_data(item, doc, (*path, key), within=within)


def _check_id(obj: dict[str, Any], doc: _Doc, path: _Path, *, base: str, what: str) -> str:
    """The id made absolute the way Marathon does it (relative to the enclosing group)."""
    at = (*path, "id")
    value = obj.get("id")
    example = "/basic-0" if what == "app" else "/tools"
    if value is None:
        raise doc.error(at, f"missing; every {what} needs an id, e.g. \"{example}\"")
    if not isinstance(value, str):
        raise doc.error(at, f"must be a string, got {_got(value)}")
    if not value:
        raise doc.error(at, f"must not be empty; e.g. \"{example}\"")
    for part in value.split("/"):
        if part and not _ID_PART_RE.fullmatch(part):
            raise doc.error(at, f"{_got(value)} is not a valid id (part {_got(part)}): "
                            f"{_ID_RULE}")
    absolute = _absolute(value, base=base)
    if what == "app" and absolute == "/":
        raise doc.error(at, f"{_got(value)} names no app (it resolves to the root group)")
    return absolute


def _absolute(app_id: str, *, base: str) -> str:
    """PathId.canonicalPath: relative to `base` unless it starts with '/'; '.' and '..' resolved."""
    parts: list[str] = [] if app_id.startswith("/") else [p for p in base.split("/") if p]
    for part in app_id.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part and part != ".":
            parts.append(part)
    return "/" + "/".join(parts)


def _with_absolute_ids(group: dict[str, Any], *, base: str) -> dict[str, Any]:
    """The group as sent: its own id, its groups' and its apps' made absolute, as Marathon
    would resolve them on `POST /v2/groups`. Marathon resolves a relative id in the body of
    `PUT /v2/groups/{id}` against the URL's path (v0.11.1 GroupsResource l.188, v1.10.26
    l.256), so the PUT that updates an existing group would name a group inside it: 0.11 makes
    a nested copy of every app, 1.x answers 422 "Identifier is not child of ...". Absolute ids
    mean the same to POST and PUT in both. Dependencies stay as written: with the ids absolute
    each Marathon reads them against the same base as on the POST."""
    group_id = _absolute(str(group["id"]), base=base)
    sent = {**group, "id": group_id}
    if isinstance(group.get("apps"), list):
        sent["apps"] = [{**app, "id": _absolute(str(app["id"]), base=group_id)}
                        for app in group["apps"]]
    if isinstance(group.get("groups"), list):
        sent["groups"] = [_with_absolute_ids(child, base=group_id) for child in group["groups"]]
    return sent


def _in_its_group(resolved: str, group_id: str, obj: dict[str, Any], doc: _Doc,
                  path: _Path) -> None:
    """A group's apps and groups must be its direct children: Marathon refuses any other with
    422 "not child of" (v0.11.1 ModelValidation.checkPath l.155-164; v1.10.26
    AppValidation.validNestedApp l.327-330, PathId.childOf l.249-256)."""
    if _absolute("..", base=resolved) == group_id:
        return
    name = _absolute(resolved.rsplit("/", 1)[-1], base=group_id)
    raise doc.error((*path, "id"), f"{_got(obj['id'])} resolves to {resolved}, which is not "
                    f"directly inside its group {group_id} (Marathon refuses it: \"not child "
                    f"of\"); e.g. \"{name}\"")


def _check_group(group: dict[str, Any], doc: _Doc, path: _Path, *, base: str,
                 app_ids: list[str], warnings: list[tuple[str, str]]) -> None:
    group_id = _check_id(group, doc, path, base=base, what="group")
    if path:  # a nested group
        _in_its_group(group_id, base, group, doc, path)
    for name in group:
        if name not in GROUP_FIELDS:
            warnings.append(_unknown(name, doc, (*path, name)))
    apps = group.get("apps")
    if apps is not None:
        _list(apps, doc, (*path, "apps"))
        for index, app in enumerate(apps):
            at = (*path, "apps", index)
            app_ids.append(_check_app(app, doc, at, base=group_id, warnings=warnings))
            _in_its_group(app_ids[-1], group_id, app, doc, at)
    groups = group.get("groups")
    if groups is not None:
        _list(groups, doc, (*path, "groups"))
        for index, child in enumerate(groups):
            at = (*path, "groups", index)
            if not isinstance(child, dict):
                raise doc.error(at, f"expected a group (a mapping with an id), got {_got(child)}")
            _check_group(child, doc, at, base=group_id, app_ids=app_ids, warnings=warnings)
    if group.get("dependencies") is not None:
        _strings(group["dependencies"], doc, (*path, "dependencies"))


def _check_app(app: Any, doc: _Doc, path: _Path, *, base: str,
               warnings: list[tuple[str, str]]) -> str:
    """Raise for the first problem (in file order); note unknown fields; return the app's id."""
    if not isinstance(app, dict):
        raise doc.error(path, f"expected an app (a mapping with an id), got {_got(app)}")
    app_id = _check_id(app, doc, path, base=base, what="app")
    for name, value in app.items():
        if name in REPORTED_FIELDS:
            continue  # not sent
        if name not in APP_FIELDS:
            warnings.append(_unknown(name, doc, (*path, name)))
        elif value is not None and name in _FIELD_CHECKS:  # null: as if absent, as in Marathon
            _FIELD_CHECKS[name](value, doc, (*path, name))
    if not _runs_something(app):
        raise doc.error(path, CMD_ARGS_OR_CONTAINER)
    warnings.extend(_relative_dependencies(app, doc, path, app_id=app_id, base=base))
    return app_id


def _relative_dependencies(app: dict[str, Any], doc: _Doc, path: _Path, *, app_id: str,
                           base: str) -> list[tuple[str, str]]:
    """A warning for each relative dependency of the app, which the two generations read
    differently: 0.11 against the app's own id (v0.11.1 V2GroupUpdate.toApp l.41,
    V2AppDefinition.withCanonizedIds l.107-109), 1.x against its group, or the root for an app
    alone (v1.10.26 AppNormalization.withCanonizedIds l.452-467)."""
    found: list[tuple[str, str]] = []
    dependencies = app.get("dependencies")
    for index, dependency in enumerate(dependencies if isinstance(dependencies, list) else []):
        if not isinstance(dependency, str) or dependency.startswith("/"):
            continue
        legacy, modern = _absolute(dependency, base=app_id), _absolute(dependency, base=base)
        if legacy != modern:
            at = (*path, "dependencies", index)
            group = "the root" if base == "/" else "its group"
            found.append((f"dependency {_show(at)}", (
                f"{doc.where(at)}: {_show(at)}: relative dependency {_got(dependency)}: Marathon "
                f"0.11 reads it as {legacy} (from the app), 1.x as {modern} (from {group}); "
                "write the one you mean")))
    return found


def _runs_something(app: dict[str, Any]) -> bool:
    """AppValidation's rule: exactly one of cmd and args, or neither of them and a container."""
    cmd = bool(app.get("cmd"))
    args = bool(app.get("args"))
    container = app.get("container")
    engine = isinstance(container, dict) and (
        isinstance(container.get("docker"), dict)
        or (container.get("type") == "MESOS" and isinstance(container.get("appc"), dict))
    )
    return cmd != args or (not (cmd and args) and engine)


def _unknown(name: str, doc: _Doc, path: _Path) -> tuple[str, str]:
    return name, (f"{doc.where(path, key=True)}: {_show(path)}: unknown field `{_part(name)}` "
                  "(sent as is)")


def _number(value: Any, doc: _Doc, path: _Path) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise doc.error(path, f"must be a number >= 0, got {_got(value)}")


def _whole(value: Any, doc: _Doc, path: _Path) -> None:
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not whole or value < 0:
        raise doc.error(path, f"must be a whole number >= 0, got {_got(value)}")


def _fraction(value: Any, doc: _Doc, path: _Path) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise doc.error(path, f"must be a number between 0 and 1, got {_got(value)}")


def _mapping(value: Any, doc: _Doc, path: _Path) -> None:
    if not isinstance(value, dict):
        raise doc.error(path, f"must be a mapping, got {_got(value)}")


def _list(value: Any, doc: _Doc, path: _Path) -> None:
    if not isinstance(value, list):
        raise doc.error(path, f"must be a list, got {_got(value)}")


def _quote_hint(value: Any) -> str:
    return " (write it in quotes)" if isinstance(value, bool | int | float) else ""


def _strings(value: Any, doc: _Doc, path: _Path) -> None:
    _list(value, doc, path)
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise doc.error((*path, index),
                            f"must be a string, got {_got(item)}{_quote_hint(item)}")


def _cmd(value: Any, doc: _Doc, path: _Path) -> None:
    if not isinstance(value, str):
        raise doc.error(path, f"must be a string, got {_got(value)}")
    if not value:
        raise doc.error(path, "must not be empty (leave it out when `args` or the image gives "
                        "the command)")


def _env(value: Any, doc: _Doc, path: _Path) -> None:
    _mapping(value, doc, path)
    for name, item in value.items():
        secret = (isinstance(item, dict) and set(item) == {"secret"}
                  and isinstance(item["secret"], str) and bool(item["secret"]))
        if not (isinstance(item, str) or secret):
            raise doc.error((*path, name), "must be a string or {\"secret\": \"name\"}, "
                            f"got {_got(item)}{_quote_hint(item)}")


def _labels(value: Any, doc: _Doc, path: _Path) -> None:
    _mapping(value, doc, path)
    for name, item in value.items():
        if not isinstance(item, str):
            raise doc.error((*path, name),
                            f"must be a string, got {_got(item)}{_quote_hint(item)}")


def _upgrade_strategy(value: Any, doc: _Doc, path: _Path) -> None:
    _mapping(value, doc, path)
    for name in ("minimumHealthCapacity", "maximumOverCapacity"):
        if value.get(name) is not None:
            _fraction(value[name], doc, (*path, name))


def _container(value: Any, doc: _Doc, path: _Path) -> None:
    _mapping(value, doc, path)
    kind = value.get("type")
    if kind is not None and kind not in ("DOCKER", "MESOS"):
        raise doc.error((*path, "type"), f"must be \"DOCKER\" or \"MESOS\", got {_got(kind)}")
    docker = value.get("docker")
    if docker is None:
        if kind in (None, "DOCKER"):  # DOCKER is Marathon's default type
            raise doc.error((*path, "docker", "image"),
                            "missing; a DOCKER container needs an image, e.g. \"python:3\"")
        return
    _mapping(docker, doc, (*path, "docker"))
    image = docker.get("image")
    if not isinstance(image, str) or not image.strip():
        what = "missing" if image is None else f"must be a non-empty string, got {_got(image)}"
        raise doc.error((*path, "docker", "image"), f"{what}; e.g. \"python:3\"")


def _constraints(value: Any, doc: _Doc, path: _Path) -> None:
    _list(value, doc, path)
    for index, item in enumerate(value):
        if not (isinstance(item, list) and 2 <= len(item) <= 3
                and all(isinstance(part, str) for part in item)):
            raise doc.error((*path, index), "must be a list of 2 or 3 strings, e.g. "
                            f"[\"hostname\", \"UNIQUE\"]; got {_got(item)}")


def _ports(value: Any, doc: _Doc, path: _Path) -> None:
    _list(value, doc, path)
    for index, item in enumerate(value):
        whole = isinstance(item, int) and not isinstance(item, bool)
        if not whole or not 0 <= item <= 65535:
            raise doc.error((*path, index),
                            f"must be a port number from 0 to 65535, got {_got(item)}")


def _mappings(value: Any, doc: _Doc, path: _Path) -> None:
    _list(value, doc, path)
    for index, item in enumerate(value):
        _mapping(item, doc, (*path, index))


_FIELD_CHECKS = {
    "args": _strings,
    "cmd": _cmd,
    "constraints": _constraints,
    "container": _container,
    "cpus": _number,
    "disk": _number,
    "env": _env,
    "healthChecks": _mappings,
    "instances": _whole,
    "labels": _labels,
    "mem": _number,
    "portDefinitions": _mappings,
    "ports": _ports,
    "upgradeStrategy": _upgrade_strategy,
}
