"""Property-based tests of the two loaders: whatever the input, a result or one InputError.

`config.parse` (stack.yaml) and `apps.parse_text` (the app files of `deploy`) must answer every
input with either a valid result or an `InputError` (exit 2) whose message is one non-empty
line; any other exception is a bug, since `mesostack.cli.main` would show it as a traceback.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_apps import BASIC_0

from mesostack import apps, config
from mesostack.errors import ExitCode, InputError

# Fast enough for every run (the whole file in a few seconds), with no deadline to flake on.
FEW = settings(max_examples=120, deadline=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# The tutorial's stack, written out as in the tutorial's commands.
TUTORIAL_STACK: dict[str, Any] = {
    "name": "mesostack",
    "host_ip": "auto",
    "zookeeper": {"image": "mesoscloud/zookeeper:3.4.6-ubuntu-14.04"},
    "master": {"image": "mesoscloud/mesos-master:0.23.0-ubuntu-14.04", "quorum": 1},
    "slave": {"image": "mesoscloud/mesos-slave:0.23.0-ubuntu-14.04", "privileged": True},
    "marathon": {"image": "mesosphere/marathon:v0.11.1"},
}

# Three machines: a valid HA stack, so that mutations reach the `hosts` checks.
HA_STACK: dict[str, Any] = {
    "name": "ha",
    "hosts": [
        {"name": "node1", "ip": "192.0.2.11"},
        {"name": "node2", "ip": "192.0.2.12", "docker": "ssh://admin@192.0.2.12"},
        {"name": "node3", "ip": "192.0.2.13", "docker": "tcp://192.0.2.13:2376"},
    ],
    "zookeeper": {"count": 3},
    "master": {"count": 3},
    "slave": {"on": ["node1", "node2", "node3"]},
    "marathon": {"on": ["node1", "node2"]},
}

GROUP: dict[str, Any] = {
    "id": "/shop",
    "apps": [{**BASIC_0, "id": "frontend"}, {**BASIC_0, "id": "backend"}],
    "groups": [{"id": "jobs", "apps": [{**BASIC_0, "id": "worker"}]}],
}

STACK_KEYS = sorted({*config.StackConfig.model_fields, "agent"})
COMPONENT_KEYS = sorted({*config.Master.model_fields, *config.Slave.model_fields})
HOST_KEYS = sorted(config.Host.model_fields)
APP_KEYS = sorted(apps.APP_FIELDS | apps.GROUP_FIELDS)
NESTED_APP_KEYS = ("cmd", "constraints", "container", "docker", "env", "healthChecks", "image",
                   "labels", "maximumOverCapacity", "minimumHealthCapacity", "secret", "type",
                   "upgradeStrategy")

# --- strategies --------------------------------------------------------------------------------

# Values that sit on the loaders' boundaries, next to arbitrary ones.
EDGES = st.sampled_from([
    0, 1, 2, 3, -1, 9, 10, 65535, 65536, 70000, 0.5, 1.5, -0.1, 2**64, "", " ", "0", "1.5",
    "auto", "no", "yes", "maybe", "/", "/var", "/srv/mesostack/zk", "relative/dir", "mesos-x",
    "Basic-0", "a b", "192.0.2.300", "127.0.0.1", "unix:///var/run/docker.sock", "http://x",
    "/a:/b", "/a:/b:ro", "a:b", "cpus:2;mem:2048", "cpus=2", "node1", "DOCKER", "MESOS",
    "python:3", ["node1"], [], {}, ["a", "b"], [["hostname", "UNIQUE"]], {"secret": "s"},
    {"docker": {"image": "python:3"}}, {"type": "DOCKER"},
])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
KEYS = st.one_of(st.text(max_size=12), st.sampled_from([*STACK_KEYS, *COMPONENT_KEYS,
                                                        *HOST_KEYS, *APP_KEYS]))


def nested(keys: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        st.one_of(SCALARS, EDGES),
        lambda children: st.one_of(st.lists(children, max_size=4),
                                   st.dictionaries(keys, children, max_size=4)),
        max_leaves=12,
    )


# JSON has string keys only; YAML also allows numbers, booleans and null as keys.
JSON_DATA = nested(KEYS)
YAML_DATA = nested(st.one_of(KEYS, st.integers(), st.booleans(), st.none(), st.floats()))


def json_text(data: st.SearchStrategy[Any]) -> st.SearchStrategy[str]:
    return st.builds(lambda value, ascii_only, indent: json.dumps(
        value, allow_nan=True, ensure_ascii=ascii_only, indent=indent),
        data, st.booleans(), st.sampled_from([None, 2]))


def yaml_text(data: st.SearchStrategy[Any]) -> st.SearchStrategy[str]:
    return st.builds(lambda value, flow: yaml.safe_dump(
        value, allow_unicode=True, default_flow_style=flow, sort_keys=False),
        data, st.sampled_from([False, None, True]))


def _mappings(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of every mapping inside `node`, the top included."""
    found: list[tuple[Any, ...]] = []
    if isinstance(node, dict):
        found.append(path)
        for key, value in node.items():
            found += _mappings(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _mappings(value, (*path, index))
    return found


def _at(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any], keys: st.SearchStrategy[str]) -> Any:
    """`base` with one change: a field set to an arbitrary value, a field deleted, or a key
    added, in any mapping of the document."""
    doc = copy.deepcopy(base)
    where = _at(doc, draw(st.sampled_from(_mappings(doc))))
    how = draw(st.sampled_from(["set", "delete", "add"]))
    if how == "delete" and where:
        del where[draw(st.sampled_from(sorted(where)))]
    elif how == "add":
        where[draw(st.text(max_size=12))] = draw(JSON_DATA)
    else:
        key = draw(st.one_of(st.sampled_from(sorted(where) or ["id"]), keys))
        where[key] = draw(st.one_of(EDGES, SCALARS, JSON_DATA))
    return doc


def _documents(base: dict[str, Any], keys: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    near = mutated(base, keys)
    return st.one_of(json_text(near), yaml_text(near))


STACK_NEAR = st.one_of(
    _documents(TUTORIAL_STACK, st.sampled_from([*STACK_KEYS, *COMPONENT_KEYS])),
    _documents(HA_STACK, st.sampled_from([*STACK_KEYS, *COMPONENT_KEYS, *HOST_KEYS])),
)
APP_NEAR = st.one_of(
    _documents(BASIC_0, st.sampled_from([*APP_KEYS, *NESTED_APP_KEYS])),
    _documents(GROUP, st.sampled_from([*APP_KEYS, *NESTED_APP_KEYS])),
)
APP_SOURCES = st.sampled_from(["app.json", "app.yaml", "app.yml", "app"])

# --- the property ------------------------------------------------------------------------------


def _one_line(text: str) -> bool:
    return bool(text) and text.splitlines() == [text]


def outcome(parse: Callable[..., Any], text: str, source: str) -> Any:
    """The result, or None after checking that the InputError is a one-line message."""
    try:
        return parse(text, source=source)
    except InputError as exc:
        assert exc.exit_code == 2 and exc.exit_code is ExitCode.BAD_INPUT
        assert _one_line(str(exc)), repr(str(exc))
        return None


def check_stack(text: str) -> None:
    result = outcome(config.parse, text, "stack.yaml")
    if result is not None:
        assert isinstance(result, config.StackConfig)
        for warning in result.warnings():
            assert _one_line(warning), repr(warning)
        # What `mesostack config` prints loads back as the same stack.
        assert config.parse(config.to_yaml(result, show_secrets=True)) == result


def check_app(text: str, source: str) -> None:
    result = outcome(apps.parse_text, text, source)
    if result is not None:
        assert isinstance(result, apps.Loaded) and result.requests
        for request in result.requests:
            json.dumps(request.body, allow_nan=False)  # exactly what is sent: strict JSON
        for warning in result.warnings:
            assert _one_line(warning), repr(warning)


# --- stack.yaml --------------------------------------------------------------------------------


def test_the_bases_are_valid() -> None:
    """The near-valid documents start from valid ones, so a change is what makes them fail."""
    for base in (TUTORIAL_STACK, HA_STACK):
        assert isinstance(config.parse(yaml.safe_dump(base)), config.StackConfig)
    for base, source in ((BASIC_0, "basic-0.json"), (GROUP, "group.json")):
        assert apps.parse_text(json.dumps(base), source=source).requests


@FEW
@given(st.text())
def test_stack_any_text(text: str) -> None:
    check_stack(text)


@FEW
@given(st.one_of(yaml_text(YAML_DATA), json_text(JSON_DATA)))
def test_stack_any_data(text: str) -> None:
    check_stack(text)


@settings(FEW, max_examples=200)
@given(STACK_NEAR)
def test_stack_near_valid(text: str) -> None:
    check_stack(text)


@pytest.mark.parametrize("text", [
    "name: demo\x07\n", "\ufeffname: demo\n", "name: demo\r\nhost_ip: auto\r\n", "\x00",
    "master:\n  quroum: 1\n", "hosts:\n- {name: a, ip: 192.0.2.1, dokcer: x}\n",
    '"\\u2028": 1\n', "zookeeper:\n  env: {'A\\x85B': 1}\n", "? [a]\n: 1\n", "*x\n",
    "a: &a [*a]\n", "!!python/name:os.system\n", "%TAG ! tag:x\n--- 1\n", "--- 1\n--- 2\n",
])
def test_stack_examples(text: str) -> None:
    """Inputs found while writing the properties, kept as plain cases."""
    check_stack(text)


# --- app files ---------------------------------------------------------------------------------


@FEW
@given(st.text(), APP_SOURCES)
def test_app_any_text(text: str, source: str) -> None:
    check_app(text, source)


@FEW
@given(st.one_of(yaml_text(YAML_DATA), json_text(JSON_DATA)), APP_SOURCES)
def test_app_any_data(text: str, source: str) -> None:
    check_app(text, source)


@settings(FEW, max_examples=200)
@given(APP_NEAR, APP_SOURCES)
def test_app_near_valid(text: str, source: str) -> None:
    check_app(text, source)


@pytest.mark.parametrize("text", [
    '"\x7f"', '{"id": "a", "cmd": "x\x7f"}', '{"\\n": Infinity}', '"\\u0085"',
    '{"id": "a", "cmd": "x", "env": {"\\u2028": "v"}}', '{"id": "a", "cmd": "x", "a\\rb": 1}',
    '{"id": {"\\u0085": null}}', "", "   \n", '{"id": "a", "cmd": "x\x01"}',
    '{"id": "a", "cmd": "x", "id": "b"}', "id: a\ncmd: x\nlabels: &l\n  x: *l\n",
    "id: a\ncmd: !!binary aGVsbG8=\n", "--- 1\n--- 2\n",
])
@pytest.mark.parametrize("source", ["app.json", "app.yaml"])
def test_app_examples(text: str, source: str) -> None:
    """Inputs found while writing the properties, kept as plain cases."""
    check_app(text, source)
