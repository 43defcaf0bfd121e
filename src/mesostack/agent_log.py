"""Why a Mesos agent stopped, read from its log: the causes `up` names with their fix, rather
than leaving the user to find them in a page of log lines (or follow the agent's own advice,
which on 1.x ends in commands that erase every container and image of the host).

An agent restarted on its work dir (a `data_dir`) with other resources, hostname or port than
the agent it checkpointed there refuses to recover it and exits 1, each time it is restarted:
- 0.23.0 src/slave/slave.cpp `recover` l.3899-3916 ("Incompatible slave info detected.", the
  old and the new SlaveInfo as protobuf text between lines of dashes), `__recover` l.4014-4024
  ("Failed to perform recovery: ...", then "rm -f <work_dir>/meta/slaves/latest");
- 1.0 to 1.4 alike, worded "agent"; 1.5 to 1.11 by --reconfiguration_policy (default `equal`:
  src/slave/compatibility.cpp l.35-51, the same text; `additive`: l.54-195, one line
  "Configuration change not permitted under `additive` policy: Hostname changed from A to B").
  After a host reboot, 1.4 and later start as a new agent instead (slave.cpp l.7133-7160 at
  1.7.1).
Pure text in, a Cause out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

INCOMPATIBLE = re.compile(r"Incompatible (?:slave|agent) info detected\.")
NOT_PERMITTED = re.compile(r"Configuration change not permitted under [`']additive[`'] policy"
                           r"[:.] (?P<change>.*)")
# Each start logs this first (src/slave/main.cpp: 0.23.0 l.162, 1.7.1 l.349, 1.11.0 l.385): a
# refusal before the last one is an earlier run's.
STARTED = re.compile(r"main\.cpp(?::\d+)?\] Build: ")
_INFO_START = re.compile(r"^(?P<which>Old|New) (?:slave|agent) info:$")
_DASHES = re.compile(r"^-{20,}$")
# 1.5 and later say so (slave.cpp `__recover`, l.7311-7330 at 1.7.1)
_HAS_POLICY = "`--reconfiguration_policy`"
# Where each part of the agent's info comes from in a stack file (families: MESOS_HOSTNAME is
# the host's address)
SETTINGS = {"resources": "slave.resources", "hostname": "the host's address",
            "port": "slave.port"}


@dataclass(frozen=True)
class Cause:
    """A known reason an agent stopped: what happened, and its fix."""

    message: str
    hint: str


@dataclass(frozen=True)
class _Info:
    """The parts of a SlaveInfo (protobuf text) that a user's settings change."""

    fields: dict[str, str]  # top-level scalars: hostname, port, checkpoint, ...
    resources: dict[str, str]  # name: `2`, `[31000-32000]`, `{a,b}`
    blocks: tuple[str, ...]  # everything else (attributes, domain), as text, id left out


def changed_agent(log: str, *, latest: str | None, container: str) -> Cause | None:
    """The agent's log says it refused the agent checkpointed in its work dir, whose
    meta/slaves/latest is `latest` on the host (None: inside its container, no data_dir)."""
    start = _last(STARTED, log)
    log = log[start.start():] if start else log  # the last run's lines
    refused = _last(INCOMPATIBLE, log)
    additive = _last(NOT_PERMITTED, log)
    if refused is None and additive is None:
        return None
    if additive is not None and (refused is None or additive.start() > refused.start()):
        change = additive["change"].strip().rstrip(".")
        change = change[:1].lower() + change[1:]
        said, could_add = "Configuration change not permitted under `additive` policy", False
        changed = [key for key in SETTINGS if key.rstrip("s") in change.lower()]
    else:
        assert refused is not None
        old, new = _infos(log[refused.end():].splitlines())
        change, changed, could_add = _changes(old, new)
        said = refused.group(0)
    where = latest or f"{container}'s work dir"
    message = (f"Mesos refuses to recover the agent checkpointed in {where}, as {change} since "
               f"it last ran (\"{said}\")")
    return Cause(message, _fix(latest, container, changed=changed,
                               additive=could_add and _HAS_POLICY in log))


def _fix(latest: str | None, container: str, *, changed: list[str], additive: bool) -> str:
    settings = [SETTINGS[key] for key in changed if key in SETTINGS] or list(SETTINGS.values())
    restore = f"put back {' and '.join(settings)} as before"
    forget = (f"remove its checkpointed identity (`rm -f {latest}`, as root) and it registers "
              "as a new agent, its old tasks lost" if latest else
              f"remove its container (`docker rm -f {container}`) and `mesostack up` starts a "
              "new agent")
    policy = ("; or, as resources were only added, let it keep its identity with "
              "MESOS_RECONFIGURATION_POLICY: additive in slave.env" if additive else "")
    return f"{restore}, or {forget}{policy}"


def _last(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    matches = list(pattern.finditer(text))
    return matches[-1] if matches else None


def _infos(lines: list[str]) -> tuple[_Info | None, _Info | None]:
    """The old and the new info that follow the refusal, each up to its line of dashes."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        start = _INFO_START.match(line.strip())
        if start:
            current = found.setdefault(start["which"], [])
        elif current is not None and _DASHES.match(line.strip()):
            current = None
            if len(found) == 2:
                break
        elif current is not None:
            current.append(line)
    old, new = found.get("Old"), found.get("New")
    return (_parse(old) if old else None), (_parse(new) if new else None)


def _parse(lines: Iterable[str]) -> _Info:
    """Protobuf text: top-level `key: value` fields and `key { ... }` blocks."""
    fields: dict[str, str] = {}
    resources: dict[str, str] = {}
    blocks: list[str] = []
    path: list[str] = []
    current: dict[str, list[str]] = {}
    text: list[str] = []
    for raw in lines:
        line = raw.strip()
        if line.endswith("{"):
            path.append(line[:-1].strip())
            if len(path) == 1:
                current, text = {}, []
        elif line == "}" and path:
            if len(path) == 1 and path[0] == "resources":
                resources[" ".join(current.get("name", ["?"]))] = _resource_value(current)
            elif len(path) == 1 and path[0] != "id":
                blocks.append(f"{path[0]} {{{' '.join(text)}}}")
            path.pop()
        elif ": " in line:
            key, value = line.split(": ", 1)
            value = value.strip('"')
            if not path:
                fields[key] = value
            else:
                current.setdefault(key, []).append(value)
                text.append(line)
    return _Info(fields, resources, tuple(sorted(blocks)))


def _resource_value(parts: dict[str, list[str]]) -> str:
    if "begin" in parts:
        pairs = zip(parts["begin"], parts.get("end", []), strict=False)
        return "[" + ", ".join(f"{b}-{e}" for b, e in pairs) + "]"
    if "item" in parts:
        return "{" + ",".join(parts["item"]) + "}"
    return " ".join(parts.get("value", ["?"]))


def _changes(old: _Info | None, new: _Info | None) -> tuple[str, list[str], bool]:
    """What changed, in words and as SETTINGS keys, and whether resources were only added
    (nothing else changed)."""
    if old is None or new is None:
        return "its resources, hostname or port changed", [], False
    changed = [key for key in ("hostname", "port") if old.fields.get(key) != new.fields.get(key)]
    said = [f"its {key} changed from {old.fields.get(key, '(none)')} to "
            f"{new.fields.get(key, '(none)')}" for key in changed]
    resources = [_resource_change(name, old.resources.get(name), new.resources.get(name))
                 for name in dict.fromkeys([*old.resources, *new.resources])
                 if old.resources.get(name) != new.resources.get(name)]
    if resources:
        said.append(f"its resources changed ({', '.join(resources)})")
        changed.append("resources")
    if old.blocks != new.blocks:
        said.append("its attributes or domain changed")
    only_added = bool(resources) and len(said) == 1 and all(
        _grew(old.resources.get(n), new.resources.get(n)) for n in old.resources)
    return ("; ".join(said) or "its settings changed"), changed, only_added


def _resource_change(name: str, before: str | None, after: str | None) -> str:
    if before is None:
        return f"{name} {after} added"
    if after is None:
        return f"{name} {before} removed"
    return f"{name} from {before} to {after}"


def _grew(before: str | None, after: str | None) -> bool:
    """A resource the `additive` policy accepts: kept, and a scalar not made smaller."""
    if before is None or after is None:
        return before is None
    try:
        return float(after) >= float(before)
    except ValueError:
        return before == after
