"""App files for `deploy`: what is sent, what Marathon would refuse, and errors naming the line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mesostack.apps import (
    APP_FIELDS,
    CMD_ARGS_OR_CONTAINER,
    DeployRequest,
    Loaded,
    load_file,
    parse_text,
    validate_app,
)
from mesostack.errors import ExitCode, InputError
from testbed import fixture

# The tutorial's app, as it posts it to Marathon.
BASIC_0: dict[str, Any] = {
    "id": "basic-0",
    "cmd": "while [ true ] ; do echo 'Hello Marathon' ; sleep 5 ; done",
    "cpus": 0.1,
    "mem": 10.0,
    "instances": 1,
}
ID_RULE = ("use lowercase letters, digits, '-' and '.', and start and end each part between '/' "
           "with a letter or digit ('.' and '..' are parts too)")


def refusal(text: str, *, source: str = "app.json") -> str:
    with pytest.raises(InputError) as raised:
        parse_text(text, source=source)
    assert raised.value.exit_code == ExitCode.BAD_INPUT
    message = str(raised.value)
    assert "\n" not in message
    return message


def app_json(*fields: str) -> str:
    """An app, one field a line: `"id": "/x"` on line 2, then `fields` from line 3 on."""
    return "{\n" + ",\n".join(f"  {field}" for field in ['"id": "/x"', *fields]) + "\n}\n"


# --- what is sent ------------------------------------------------------------------------------


def test_the_tutorials_app_is_one_post_of_exactly_the_file() -> None:
    text = json.dumps(BASIC_0)
    loaded = parse_text(text, source="basic-0.json")
    assert loaded == Loaded(
        requests=(DeployRequest("POST", "/v2/apps", BASIC_0, ("/basic-0",), "basic-0.json"),),
        warnings=(),
    )
    # What --dry-run prints and the client sends is the file itself, float `10.0` included.
    assert json.dumps(loaded.requests[0].body) == text


def test_a_list_is_one_post_per_app_in_file_order() -> None:
    apps = [dict(BASIC_0, id=f"/basic-{n}") for n in range(3)]
    text = json.dumps(apps, indent=2)
    loaded = parse_text(text, source="apps.json")
    assert [(r.method, r.path, r.app_ids, r.source) for r in loaded.requests] == [
        ("POST", "/v2/apps", (f"/basic-{n}",), f"apps.json[{n}]") for n in range(3)
    ]
    assert json.dumps([r.body for r in loaded.requests], indent=2) == text


def test_a_group_is_one_post_naming_every_app_inside_with_ids_made_absolute() -> None:
    group = {
        "id": "grp",
        "apps": [{"id": "web", "cmd": "sleep 1"}, {"id": "/grp/db", "cmd": "sleep 1"}],
        "groups": [
            {"id": "back", "apps": [{"id": "./api", "cmd": "sleep 1"}],
             "groups": [{"id": "/grp/back/jobs",
                         "apps": [{"id": "../jobs/cron", "cmd": "sleep 1"}]}]},
            {"id": "empty", "apps": [], "dependencies": ["../back"]},
        ],
    }
    loaded = parse_text(json.dumps(group), source="grp.json")
    (request,) = loaded.requests
    assert (request.method, request.path, request.source) == ("POST", "/v2/groups", "grp.json")
    assert request.app_ids == ("/grp/web", "/grp/db", "/grp/back/api", "/grp/back/jobs/cron")
    # Sent with every id absolute, so that the PUT of an update means what the POST meant
    # (Marathon resolves a relative id in a PUT's body against the URL); dependencies as written.
    assert request.body == {
        "id": "/grp",
        "apps": [{"id": "/grp/web", "cmd": "sleep 1"}, {"id": "/grp/db", "cmd": "sleep 1"}],
        "groups": [
            {"id": "/grp/back", "apps": [{"id": "/grp/back/api", "cmd": "sleep 1"}],
             "groups": [{"id": "/grp/back/jobs",
                         "apps": [{"id": "/grp/back/jobs/cron", "cmd": "sleep 1"}]}]},
            {"id": "/grp/empty", "apps": [], "dependencies": ["../back"]},
        ],
    }
    assert loaded.warnings == ()
    assert group["id"] == "grp"  # the file's data is left as it was


@pytest.mark.parametrize(("where", "item", "message"), [
    ("apps", {"id": "lol/bibi", "cmd": "sleep 1"},
     '/apps/0/id: "lol/bibi" resolves to /grp/lol/bibi, which is not directly inside '
     'its group /grp (Marathon refuses it: "not child of"); e.g. "/grp/bibi"'),
    ("apps", {"id": "/elsewhere/x", "cmd": "sleep 1"},
     '/apps/0/id: "/elsewhere/x" resolves to /elsewhere/x, which is not directly '
     'inside its group /grp (Marathon refuses it: "not child of"); e.g. "/grp/x"'),
    ("groups", {"id": "../sibling", "apps": []},
     '/groups/0/id: "../sibling" resolves to /sibling, which is not directly inside '
     'its group /grp (Marathon refuses it: "not child of"); e.g. "/grp/sibling"'),
])
def test_a_groups_apps_and_groups_must_be_its_direct_children(
        where: str, item: dict[str, Any], message: str) -> None:
    """Both generations answer 422 "not child of" (v0.11.1 ModelValidation.checkPath; v1.10.26
    AppValidation.validNestedApp, GroupsResourceTest l.358-381)."""
    text = json.dumps({"id": "grp", where: [item]})
    assert refusal(text, source="grp.json").split(": ", 1)[1] == message


def test_a_relative_app_dependency_is_named_as_each_generation_reads_it() -> None:
    """0.11 resolves an app's dependency against the app's own id, 1.x against its group (the
    root for an app alone); a group's, against the group in both."""
    group = {"id": "/shop", "dependencies": ["db"], "apps": [
        {"id": "db", "cmd": "sleep 1"},
        {"id": "web", "cmd": "sleep 1", "dependencies": ["db", "/shop/db", "../shop/db"]}]}
    loaded = parse_text(json.dumps(group, indent=1), source="shop.json")
    assert loaded.warnings == (
        'shop.json:15:5: /apps/1/dependencies/0: relative dependency "db": Marathon 0.11 reads it '
        "as /shop/web/db (from the app), 1.x as /shop/db (from its group); write the one you "
        "mean",
        'shop.json:17:5: /apps/1/dependencies/2: relative dependency "../shop/db": Marathon 0.11 '
        "reads it as /shop/shop/db (from the app), 1.x as /shop/db (from its group); write the "
        "one you mean",
    )
    alone = {"id": "/web", "cmd": "sleep 1", "dependencies": ["db"]}
    assert parse_text(json.dumps(alone), source="web.json").warnings == (
        'web.json:1:51: /dependencies/0: relative dependency "db": Marathon 0.11 reads it as '
        "/web/db (from the app), 1.x as /db (from the root); write the one you mean",)


def test_a_yaml_app_sends_the_same_body_as_its_json() -> None:
    text = """\
# the tutorial's app
id: basic-0
cmd: "while [ true ] ; do echo 'Hello Marathon' ; sleep 5 ; done"
cpus: 0.1
mem: 10.0
instances: 1
"""
    (request,) = parse_text(text, source="basic-0.yaml").requests
    assert json.dumps(request.body) == json.dumps(BASIC_0)
    assert request.app_ids == ("/basic-0",)


def test_yaml_keeps_a_timestamp_a_string_and_a_list_a_list() -> None:
    text = """\
- id: /a
  cmd: sleep 1
  labels: {built: 2015-09-28T19:47:37.681Z}
- id: /b
  args: [sleep, "1"]
"""
    loaded = parse_text(text, source="apps.yml")
    assert [r.source for r in loaded.requests] == ["apps.yml[0]", "apps.yml[1]"]
    assert loaded.requests[0].body["labels"] == {"built": "2015-09-28T19:47:37.681Z"}
    assert loaded.requests[1].body == {"id": "/b", "args": ["sleep", "1"]}


def test_json_in_a_yaml_file_is_read_as_json() -> None:
    # YAML 1.1 would read `1e3` as a string; JSON reads a number, as Marathon will.
    (request,) = parse_text('{"id": "/x", "cmd": "sleep 1", "mem": 1e3}', source="x.yaml").requests
    assert request.body["mem"] == 1000.0


def test_null_fields_count_as_absent_as_in_marathon() -> None:
    text = '{"id": "/x", "cmd": "sleep 1", "args": null, "container": null, "env": null}'
    assert parse_text(text, source="x.json").requests[0].app_ids == ("/x",)


def test_an_unknown_field_is_sent_untouched_with_one_warning() -> None:
    text = '{"id": "/x", "cmd": "sleep 1", "fancyNewField": {"a": [1, 2.5, null]}}'
    loaded = parse_text(text, source="x.json")
    assert loaded.warnings == (
        "x.json:1:32: /fancyNewField: unknown field `fancyNewField` (sent as is)",
    )
    assert json.dumps(loaded.requests[0].body) == text


def test_an_unknown_field_shared_by_many_apps_is_named_once() -> None:
    apps = [{"id": f"a{n}", "cmd": "sleep 1", "fancy": n} for n in range(3)]
    group = {"id": "/g", "owner": "ops", "apps": apps}
    loaded = parse_text(json.dumps(group, indent=2), source="g.json")
    assert loaded.warnings == (
        "g.json:3:3: /owner: unknown field `owner` (sent as is)",
        "g.json:8:7: /apps/0/fancy: unknown field `fancy` (sent as is)",
    )
    assert loaded.requests[0].body == {**group, "apps": [
        {**app, "id": f"/g/{app['id']}"} for app in apps]}


def test_docker_apps_need_no_command() -> None:
    app = {"id": "/nginx", "container": {"type": "DOCKER", "docker": {"image": "nginx"}}}
    assert parse_text(json.dumps(app), source="nginx.json").requests[0].app_ids == ("/nginx",)


def test_env_may_name_a_secret() -> None:
    app = {"id": "/x", "cmd": "sleep 1", "env": {"A": "1", "PASSWORD": {"secret": "db"}}}
    assert parse_text(json.dumps(app), source="x.json").warnings == ()


def test_the_known_fields_cover_both_marathon_generations() -> None:
    assert {"storeUrls", "portDefinitions", "networks", "check", "role"} <= APP_FIELDS


def test_validate_app_works_on_data_without_positions() -> None:
    app = {"id": "/x", "cmd": "sleep 1", "extra": 1}
    assert validate_app(app, where="inline") == [
        "inline: /extra: unknown field `extra` (sent as is)"
    ]
    with pytest.raises(InputError, match=r"^inline: /cpus: must be a number >= 0, got -1$"):
        validate_app({**app, "cpus": -1}, where="inline")


def test_load_file_reads_json_and_yaml(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("\ufeff" + json.dumps(BASIC_0), encoding="utf-8")
    (tmp_path / "b.yaml").write_text("id: b\ncmd: sleep 1\n", encoding="utf-8")
    assert load_file(tmp_path / "a.json").requests[0].source == str(tmp_path / "a.json")
    assert load_file(tmp_path / "b.yaml").requests[0].app_ids == ("/b",)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(InputError) as raised:
        load_file(missing)
    assert str(raised.value) == f"{missing}: no such file"
    assert raised.value.exit_code == ExitCode.BAD_INPUT


def test_the_module_pulls_in_no_network_docker_or_terminal_library() -> None:
    code = ("import sys, mesostack.apps; "
            "print(sorted({'requests', 'docker', 'rich'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- what is refused ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "message"), [
    pytest.param('{"cmd": "sleep 1"}',
                 'app.json:1:1: /id: missing; every app needs an id, e.g. "/basic-0"',
                 id="id-missing"),
    pytest.param('{"id": 123}', "app.json:1:8: /id: must be a string, got 123", id="id-number"),
    pytest.param('{"id": "", "cmd": "x"}', 'app.json:1:8: /id: must not be empty; e.g. "/basic-0"',
                 id="id-empty"),
    pytest.param('{"id": "/a b", "cmd": "x"}',
                 f'app.json:1:8: /id: "/a b" is not a valid id (part "a b"): {ID_RULE}',
                 id="id-space"),
    pytest.param('{"id": "/prod/Web", "cmd": "x"}',
                 f'app.json:1:8: /id: "/prod/Web" is not a valid id (part "Web"): {ID_RULE}',
                 id="id-uppercase"),
    pytest.param('{"id": "web-", "cmd": "x"}',
                 f'app.json:1:8: /id: "web-" is not a valid id (part "web-"): {ID_RULE}',
                 id="id-trailing-dash"),
    pytest.param('{"id": "/a/..", "cmd": "x"}',
                 'app.json:1:8: /id: "/a/.." names no app (it resolves to the root group)',
                 id="id-root"),
    pytest.param('{"id": "/x"}', f"app.json:1:1: /: {CMD_ARGS_OR_CONTAINER}", id="no-command"),
    pytest.param('{"id": "/x", "cmd": "sleep 1", "args": ["sleep", "1"]}',
                 f"app.json:1:1: /: {CMD_ARGS_OR_CONTAINER}", id="cmd-and-args"),
    pytest.param('{"id": "/x", "cmd": "s", "args": ["s"], "container": {"docker": {"image": "i"}}}',
                 f"app.json:1:1: /: {CMD_ARGS_OR_CONTAINER}", id="cmd-and-args-and-container"),
    pytest.param('{"id": "/x", "container": {"type": "MESOS"}}',
                 f"app.json:1:1: /: {CMD_ARGS_OR_CONTAINER}", id="mesos-container-alone"),
])
def test_refused_apps_name_the_field_and_its_place(text: str, message: str) -> None:
    assert refusal(text) == message


@pytest.mark.parametrize(("field", "message"), [
    ('"cpus": -1', "3:11: /cpus: must be a number >= 0, got -1"),
    ('"cpus": true', "3:11: /cpus: must be a number >= 0, got true"),
    ('"mem": "10"', '3:10: /mem: must be a number >= 0, got "10"'),
    ('"disk": -0.5', "3:11: /disk: must be a number >= 0, got -0.5"),
    ('"instances": 1.5', "3:16: /instances: must be a whole number >= 0, got 1.5"),
    ('"instances": -1', "3:16: /instances: must be a whole number >= 0, got -1"),
    ('"env": {"PORT": 8080}',
     '3:19: /env/PORT: must be a string or {"secret": "name"}, got 8080 (write it in quotes)'),
    ('"env": ["A=1"]', '3:10: /env: must be a mapping, got ["A=1"]'),
    ('"env": {"DB": {"secret": ""}}',
     '3:17: /env/DB: must be a string or {"secret": "name"}, got {"secret": ""}'),
    ('"upgradeStrategy": 1', "3:22: /upgradeStrategy: must be a mapping, got 1"),
    ('"upgradeStrategy": {"minimumHealthCapacity": 1.5}',
     "3:48: /upgradeStrategy/minimumHealthCapacity: must be a number between 0 and 1, got 1.5"),
    ('"upgradeStrategy": {"maximumOverCapacity": -0.1}',
     "3:46: /upgradeStrategy/maximumOverCapacity: must be a number between 0 and 1, got -0.1"),
    ('"container": {"type": "LXC"}',
     '3:25: /container/type: must be "DOCKER" or "MESOS", got "LXC"'),
    ('"container": {"type": "DOCKER"}',
     '3:16: /container/docker/image: missing; a DOCKER container needs an image, e.g. "python:3"'),
    ('"container": {"docker": {"image": ""}}',
     '3:37: /container/docker/image: must be a non-empty string, got ""; e.g. "python:3"'),
    ('"constraints": [["hostname"]]',
     '3:19: /constraints/0: must be a list of 2 or 3 strings, e.g. ["hostname", "UNIQUE"]; '
     'got ["hostname"]'),
    ('"constraints": "hostname:UNIQUE"',
     '3:18: /constraints: must be a list, got "hostname:UNIQUE"'),
    ('"ports": "80"', '3:12: /ports: must be a list, got "80"'),
    ('"ports": [80, 70000]', "3:17: /ports/1: must be a port number from 0 to 65535, got 70000"),
    ('"portDefinitions": {"port": 0}', '3:22: /portDefinitions: must be a list, got {"port": 0}'),
    ('"healthChecks": ["HTTP"]', '3:20: /healthChecks/0: must be a mapping, got "HTTP"'),
    ('"labels": {"HAPROXY_0_PORT": 10100}',
     "3:32: /labels/HAPROXY_0_PORT: must be a string, got 10100 (write it in quotes)"),
])
def test_wrong_types_and_ranges_name_the_field_and_its_line(field: str, message: str) -> None:
    assert refusal(app_json(field, '"cmd": "sleep 1"')) == f"app.json:{message}"


@pytest.mark.parametrize(("field", "message"), [
    ('"cmd": 5', "3:10: /cmd: must be a string, got 5"),
    ('"cmd": ""',
     "3:10: /cmd: must not be empty (leave it out when `args` or the image gives the command)"),
    ('"args": "sleep 1"', '3:11: /args: must be a list, got "sleep 1"'),
    ('"args": ["sleep", 5]', "3:21: /args/1: must be a string, got 5 (write it in quotes)"),
])
def test_the_command_must_be_text(field: str, message: str) -> None:
    assert refusal(app_json(field)) == f"app.json:{message}"


def test_an_error_inside_a_group_names_the_app_by_its_place() -> None:
    text = """\
{
  "id": "/grp",
  "apps": [
    {"id": "a", "cmd": "sleep 1"},
    {"id": "b", "cmd": "sleep 1", "cpus": -1}
  ]
}
"""
    assert refusal(text, source="grp.json") == (
        "grp.json:5:43: /apps/1/cpus: must be a number >= 0, got -1"
    )


@pytest.mark.parametrize(("text", "message"), [
    pytest.param("- &a {id: /a, cmd: x, cpus: 1}\n- <<: *a\n  id: /b\n  cpus: -1\n",
                 "4:9: [1]/cpus: must be a number >= 0, got -1", id="own-key-wins"),
    pytest.param("x-resources: &r\n  cpus: -1\nid: /a\ncmd: x\n<<: *r\n",
                 "2:9: /cpus: must be a number >= 0, got -1", id="merged-only"),
    pytest.param("x-small: &s\n  cpus: -1\nx-big: &b\n  cpus: 4\nid: /a\ncmd: x\n"
                 "<<: [*s, *b]\n",
                 "2:9: /cpus: must be a number >= 0, got -1", id="first-merged-wins"),
])
def test_an_error_names_the_place_of_the_key_that_gave_the_value(text: str,
                                                                 message: str) -> None:
    assert refusal(text, source="app.yaml") == f"app.yaml:{message}"


def test_an_error_in_a_nested_group() -> None:
    text = '{"id": "/grp", "groups": [{"id": "sub", "apps": [{"id": "Bad", "cmd": "x"}]}]}'
    assert refusal(text, source="grp.json") == (
        f'grp.json:1:57: /groups/0/apps/0/id: "Bad" is not a valid id (part "Bad"): {ID_RULE}'
    )


def test_an_error_in_a_list_names_the_app_by_its_index() -> None:
    text = """\
[
  {"id": "a", "cmd": "sleep 1"},
  {"id": "b", "cmd": "sleep 1"},
  {"cmd": "sleep 1"}
]
"""
    assert refusal(text, source="apps.json") == (
        'apps.json:4:3: [2]/id: missing; every app needs an id, e.g. "/basic-0"'
    )


def test_a_group_needs_an_id() -> None:
    assert refusal('{"apps": []}', source="g.json") == (
        'g.json:1:1: /id: missing; every group needs an id, e.g. "/tools"'
    )


def test_a_yaml_error_names_the_line_of_the_field() -> None:
    text = "id: /basic-0\ncmd: sleep 5\ncpus: -0.1\nmem: 10\n"
    assert refusal(text, source="app.yaml") == (
        "app.yaml:3:7: /cpus: must be a number >= 0, got -0.1"
    )


def test_yaml_values_json_cannot_carry_are_refused() -> None:
    assert refusal("id: /x\ncmd: sleep 1\nlabels:\n  on: x\n", source="app.yaml") == (
        "app.yaml:4:3: /labels: key true must be a string (write it in quotes)"
    )
    assert refusal("id: /x\ncmd: sleep 1\ncpus: .nan\n", source="app.yaml") == (
        "app.yaml:3:7: /cpus: nan is not a number JSON can carry"
    )


@pytest.mark.parametrize(("text", "source", "message"), [
    pytest.param('{\n  "id": "/x",\n  "cmd": "sleep 1",\n}\n', "app.json",
                 "app.json:4:1: JSON syntax error: Expecting property name enclosed in double "
                 "quotes", id="json-trailing-comma"),
    pytest.param('{"id": "/x"', "app.txt", "app.txt:1:12: JSON syntax error: Expecting ',' "
                 "delimiter", id="json-looking-text-in-another-file"),
    pytest.param("id: x\ncmd: [sleep, 1\n", "app.yaml",
                 "app.yaml:3:1: YAML syntax error: expected ',' or ']', but got '<stream end>'",
                 id="yaml-unclosed"),
    pytest.param('{"id": "/a", "cmd": "x", "id": "/b"}', "app.json",
                 'app.json:1:26: duplicate key "id"', id="json-duplicate-key"),
    pytest.param("id: a\ncmd: x\nid: b\n", "app.yaml", 'app.yaml:3:1: duplicate key "id"',
                 id="yaml-duplicate-key"),
    pytest.param('"hello"', "app.json",
                 'app.json:1:1: /: expected an app (a mapping with an id), a list of apps, or a '
                 'group (a mapping with "apps" or "groups"); got "hello"', id="a-string"),
    pytest.param("# nothing yet\n", "app.yaml",
                 "app.yaml: the file holds no app (it is empty or null)", id="empty"),
    pytest.param("[]", "apps.json", "apps.json:1:1: the list holds no apps; nothing to deploy",
                 id="empty-list"),
    pytest.param('[{"id": "/g", "apps": []}]', "apps.json",
                 "apps.json:1:2: [0]: a group can't be part of a list of apps; give it a file of "
                 'its own, or nest it under a group\'s "groups"', id="group-in-a-list"),
])
def test_files_that_are_not_apps_at_all(text: str, source: str, message: str) -> None:
    assert refusal(text, source=source) == message


# --- Marathon's own files, read in place -------------------------------------------------------

# marathon/examples/: real-world app definitions (Marathon's examples and docs for v0.11.1 and
# v1.10, its system tests, marathon-lb and another public project).
EXAMPLES = [
    "marathon-lb-ci-backends-docker_bridge.json",
    "marathon-lb-tests-1-nginx-marathon1.5.json",
    "marathon-lb-tests-1-nginx.json",
    "mryuha-docker-compose-examples-simple_docker.json",
    "v0.11.1-docs-constraints-cluster.json",
    "v0.11.1-docs-constraints-group-by.json",
    "v0.11.1-docs-constraints-unique.json",
    "v0.11.1-examples-Docker.json",
    "v0.11.1-examples-Group.json",
    "v0.11.1-examples-Play.json",
    "v0.11.1-examples-PythonSimpleHTTPServer.json",
    "v0.11.1-examples-Rails.json",
    "v0.11.1-examples-Tomcat.json",
    "v0.11.1-examples-bridge.json",
    "v0.11.1-examples-labels.json",
    "v1.10-docs-app-check-http-example.json",
    "v1.10-docs-app-kitchen-sink.json",
    "v1.10-docs-apps_create-array-for-PUT-v2-apps.json",
    "v1.10-system-test-docker-http-server.json",
    "v1.10-system-test-http-server.json",
    "v1.10-system-test-mesos-app.json",
    "v1.10-system-test-pinger-bridge-app.json",
    "v1.10-system-test-readiness-and-health-app.json",
    "v1.10-system-test-sleep-app.json",
]
# The one Marathon itself refuses: the v1.10 docs' "kitchen sink" (the same file as the RAML
# example app.json) gives both `cmd` and `args`. AppValidation.containsCmdArgsOrContainer
# accepts `(cmd ^ args) || (!(cmd && args) && container)`, so a container does not save it (the
# v0.11 rule and the v1.7 JSON Schema's `not: {allOf: [cmd, args]}` refuse it too).
REFUSED_BY_MARATHON = {"v1.10-docs-app-kitchen-sink.json": f"1:1: /: {CMD_ARGS_OR_CONTAINER}"}

# The RAML examples (raml-v1.10.26/v2/examples/), decided file by file:
# - app.json: the body of POST /v2/apps, but with both `cmd` and `args`: refused, as above.
# - app-check-http-example.json: an app definition: accepted.
# - apps_create.json: the body of PUT /v2/apps, a list of whole app definitions: accepted.
# - group.json: the body of POST and PUT /v2/groups, say the docs; but it carries `version`
#   beside other fields (and its apps `version` and `versionInfo`), which Marathon refuses
#   there (422: Group.validNestedGroupUpdateWithBase, v1.10.26): accepted, sent without them,
#   with one warning naming them.
# - app_patch.json, apps_patch.json: partial updates (only the fields to change), not
#   definitions: refused, as they run nothing.
# Not definitions, so not read here: app_list.json, app_task.json, app_tasks.json, tasks.json,
# deployments.json, deployments_result.json, deployment_steps.json, info.json, queue.json,
# events.txt (responses) and pod.json (a pod, for /v2/pods).
RAML_EXAMPLES = {
    "app.json": f"1:1: /: {CMD_ARGS_OR_CONTAINER}",
    "app-check-http-example.json": None,
    "apps_create.json": None,
    "group.json": None,
    "app_patch.json": f"1:1: /: {CMD_ARGS_OR_CONTAINER}",
    "apps_patch.json": f"1:2: [0]: {CMD_ARGS_OR_CONTAINER}",
}

# marathon/invalid/ (its README.md quotes what each Marathon answers): same path, same reason.
INVALID = {
    "id-not-string.json": "1:7: /id: must be a string, got 123",
    "malformed-truncated.json.txt": "1:14: JSON syntax error: Expecting ',' delimiter",
    "no-cmd-args-or-container.json": f"1:1: /: {CMD_ARGS_OR_CONTAINER}",
    "id-invalid-chars.json": f'1:8: /id: "/a b" is not a valid id (part "a b"): {ID_RULE}',
    "id-uppercase.json": ('1:8: /id: "/uppercaseLettersNoGood" is not a valid id '
                          f'(part "uppercaseLettersNoGood"): {ID_RULE}'),
    "minimumHealthCapacity-gt-1.json": ("1:80: /upgradeStrategy/minimumHealthCapacity: must be a "
                                        "number between 0 and 1, got 1.5"),
    "cmd-and-args-both.json": f"1:1: /: {CMD_ARGS_OR_CONTAINER}",
}


RAML_REPORTED = {"group.json": ("version", "versionInfo")}


def without(data: Any, names: tuple[str, ...]) -> Any:
    """`data` with the keys `names` left out of every mapping in it."""
    if isinstance(data, dict):
        return {k: without(v, names) for k, v in data.items() if k not in names}
    return [without(item, names) for item in data] if isinstance(data, list) else data


def check_fixture(path: Path, refused: str | None, dropped: tuple[str, ...] = ()
                  ) -> Loaded | None:
    if refused is not None:
        with pytest.raises(InputError) as raised:
            load_file(path)
        assert str(raised.value) == f"{path}:{refused}"
        return None
    loaded = load_file(path)
    original = without(json.loads(path.read_text(encoding="utf-8")), dropped)
    sent = [r.body for r in loaded.requests]
    originals = original if isinstance(original, list) else [original]
    assert json.dumps(sent) == json.dumps([absolute_group_ids(o) for o in originals])
    return loaded


def absolute_group_ids(document: Any, base: str = "/") -> Any:
    """A group as deploy sends it: every group and app id absolute (`a` in `/g` is `/g/a`);
    an app file as it is."""
    if not isinstance(document, dict) or not ({"apps", "groups"} & document.keys()):
        return document
    own = str(document.get("id", ""))
    own = own if own.startswith("/") else base.rstrip("/") + "/" + own
    done = {**document, "id": own}
    for key in ("apps", "groups"):
        if key in document:
            done[key] = [absolute_group_ids(item, own) if key == "groups" else {
                **item, "id": (item["id"] if str(item.get("id", "")).startswith("/")
                               else own.rstrip("/") + "/" + str(item.get("id", "")))}
                for item in document[key]]
    return done


def test_the_examples_folder_holds_exactly_the_files_read_here() -> None:
    folder = fixture("marathon/examples")
    assert sorted(p.name for p in folder.iterdir()) == sorted(EXAMPLES)


@pytest.mark.parametrize("name", EXAMPLES)
def test_real_world_apps_pass(name: str) -> None:
    loaded = check_fixture(fixture(f"marathon/examples/{name}"), REFUSED_BY_MARATHON.get(name))
    assert loaded is None or loaded.warnings == ()


@pytest.mark.parametrize("name", sorted(RAML_EXAMPLES))
def test_marathon_110_raml_examples(name: str) -> None:
    path = fixture(f"marathon/raml-v1.10.26/v2/examples/{name}")
    dropped = RAML_REPORTED.get(name, ())
    loaded = check_fixture(path, RAML_EXAMPLES[name], dropped)
    assert loaded is None or [w.split(": Marathon")[0] for w in loaded.warnings] == (
        [f"{path}: dropped {', '.join(dropped)}"] if dropped else [])


def test_app_ids_of_the_fixture_groups_and_lists() -> None:
    group = load_file(fixture("marathon/raml-v1.10.26/v2/examples/group.json"))
    assert [(r.path, r.app_ids) for r in group.requests] == [
        ("/v2/groups", ("/tools/oauth-server", "/tools/datadog-agent", "/tools/docker/registry")),
    ]
    nested = load_file(fixture("marathon/examples/v0.11.1-examples-Group.json"))
    assert nested.requests[0].app_ids == (
        "/department-a/service-common",
        "/department-a/product-a/service-a",
        "/department-a/product-a/service-b",
    )
    listed = load_file(fixture("marathon/raml-v1.10.26/v2/examples/apps_create.json"))
    assert [(r.path, r.app_ids) for r in listed.requests] == [
        ("/v2/apps", ("/test/sleep60",)), ("/v2/apps", ("/test/sleep120",)),
    ]


@pytest.mark.parametrize("name", sorted(INVALID))
def test_marathons_invalid_bodies_fail_on_the_same_field(name: str) -> None:
    check_fixture(fixture(f"marathon/invalid/{name}"), INVALID[name])


def test_docker_apps_are_found_in_apps_lists_and_groups() -> None:
    from mesostack.apps import docker_apps, parse_text

    docker = {"type": "DOCKER", "docker": {"image": "nginx"}}
    group = {"id": "/shop", "apps": [{"id": "web", "cmd": "x", "container": docker},
                                     {"id": "db", "cmd": "y"}],
             "groups": [{"id": "jobs", "apps": [{"id": "w", "cmd": "z", "container": docker}]}]}
    loaded = parse_text(json.dumps(group), source="shop.json")
    assert docker_apps(loaded.requests) == [("shop.json", "/shop/web"),
                                            ("shop.json", "/shop/jobs/w")]


def test_a_docker_app_where_no_agent_runs_docker_is_refused_at_once() -> None:
    from mesostack.apps import parse_text, refuse_docker_apps
    from mesostack.errors import InputError

    app = {"id": "web", "cmd": "x", "container": {"type": "DOCKER", "docker": {"image": "n"}}}
    requests = parse_text(json.dumps(app), source="web.json").requests
    with pytest.raises(InputError) as refused:
        refuse_docker_apps(requests, [("10.0.0.5:5051", "mesos")])
    assert refused.value.message == ("web.json: app /web has a DOCKER container, but no agent "
                                     "runs the Docker containerizer (containerizers: "
                                     "10.0.0.5:5051 mesos)")
    refuse_docker_apps(requests, [("a:5051", "mesos"), ("b:5051", "docker,mesos")])
    refuse_docker_apps(requests, None)  # the agents can't tell: Marathon decides
    command = parse_text(json.dumps({"id": "c", "cmd": "x"}), source="c.json").requests
    refuse_docker_apps(command, [("a:5051", "mesos")])
