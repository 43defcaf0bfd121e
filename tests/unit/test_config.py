"""stack.yaml: the tutorial's defaults, the accepted forms, and one-line errors naming the line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mesostack import config
from mesostack.config import (
    AgentTasks,
    Restart,
    StackConfig,
    find_file,
    json_schema,
    load,
    parse,
    to_yaml,
)
from mesostack.errors import ExitCode, InputError

TUTORIAL = """\
name: tutorial
host_ip: 172.31.35.175
zookeeper:
  image: mesoscloud/zookeeper:3.4.6-ubuntu-14.04
master:
  image: mesoscloud/mesos-master:0.23.0-ubuntu-14.04
  quorum: 1
slave:
  image: mesoscloud/mesos-slave:0.23.0-ubuntu-14.04
marathon:
  image: mesosphere/marathon:v0.11.1
"""

FULL = """\
name: full-stack
host_ip: 10.0.0.5
zookeeper:
  image: example/zookeeper:3.4.6
  port: 12181
  data_dir: /srv/zookeeper
  restart: unless-stopped
master:
  image: example/mesos-master:1.4.0
  port: 15050
  quorum: 1
  env:
    MESOS_LOGGING_LEVEL: INFO
  volumes:
    - /var/log/mesos:/var/log/mesos
slave:
  image: example/mesos-slave:1.4.0
  port: 15051
  privileged: false
  resources: cpus:2;mem:2048;ports:[31000-32000]
  volumes:
    - /var/run/docker.sock:/var/run/docker.sock
    - /sys/fs/cgroup:/sys/fs/cgroup:ro
  restart: on-failure
marathon:
  image: example/marathon:v1.4.0
  port: 18080
  env:
    MARATHON_TASK_LAUNCH_TIMEOUT: "300000"
"""


def error(text: str, *, source: str = "stack.yaml") -> str:
    """parse()'s message for `text`, checked to be one line and an InputError (exit 2)."""
    with pytest.raises(InputError) as raised:
        parse(text, source=source)
    exc = raised.value
    assert exc.exit_code == ExitCode.BAD_INPUT and int(exc.exit_code) == 2
    assert "\n" not in exc.message
    return exc.message


def at_line(message: str, line: int, *, source: str = "stack.yaml") -> str:
    """Assert `message` starts with `source:line` (optionally `:column`); return the rest."""
    match = re.match(rf"^{re.escape(source)}:{line}(?::\d+)?: ", message)
    assert match, f"expected {source}:{line} at the start of {message!r}"
    return message[match.end() :]


@pytest.fixture(autouse=True)
def _no_file_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(config.FILE_ENV, raising=False)


# --- accepted forms ------------------------------------------------------------------------


def test_tutorial_minimal_form() -> None:
    cfg = parse(TUTORIAL)
    assert cfg.name == "tutorial"
    assert cfg.host_ip == "172.31.35.175"
    assert cfg.zookeeper.image == "mesoscloud/zookeeper:3.4.6-ubuntu-14.04"
    assert cfg.master.image == "mesoscloud/mesos-master:0.23.0-ubuntu-14.04"
    assert cfg.master.quorum == 1
    assert cfg.slave.image == "mesoscloud/mesos-slave:0.23.0-ubuntu-14.04"
    assert cfg.marathon.image == "mesosphere/marathon:v0.11.1"
    # what the tutorial leaves unsaid keeps its defaults: the agent as its host allows
    assert cfg.slave.tasks is AgentTasks.AUTO and cfg.slave.privileged is None
    assert (cfg.zookeeper.port, cfg.master.port, cfg.slave.port, cfg.marathon.port) == (
        2181, 5050, 5051, 8080)


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "{}", "{}\n", "---\n"])
def test_empty_file_is_the_builtin_default(text: str) -> None:
    assert parse(text) == StackConfig()


def test_builtin_default_runs_on_current_hosts() -> None:
    cfg = StackConfig()
    assert cfg.name == "mesostack"
    assert cfg.host_ip == "auto"
    assert cfg.zookeeper.image == "zookeeper:3.9.3"
    assert cfg.master.image == "mesosphere/mesos-master:1.7.1"
    assert cfg.slave.image == "mesosphere/mesos-slave:1.7.1"
    assert cfg.marathon.image == "mesosphere/marathon:v1.11.24"
    assert cfg.slave.tasks is AgentTasks.AUTO
    assert cfg.master.quorum == 1
    assert cfg.slave.resources is None
    ports = {role: cfg.component(role).port for role in StackConfig.ROLES}
    assert ports == {"zookeeper": 2181, "master": 5050, "slave": 5051, "marathon": 8080}
    privileged = {role: cfg.component(role).privileged for role in StackConfig.ROLES}
    assert privileged == {"zookeeper": False, "master": False, "slave": None, "marathon": False}
    for role in StackConfig.ROLES:
        component = cfg.component(role)
        assert component.restart is Restart.ALWAYS
        assert component.restart.value == "always"
        assert component.env == {}
        assert component.volumes == []
        assert component.data_dir is None


def test_full_example() -> None:
    cfg = parse(FULL)
    assert cfg.name == "full-stack"
    assert cfg.zookeeper.data_dir == "/srv/zookeeper"
    assert cfg.zookeeper.restart is Restart.UNLESS_STOPPED
    assert cfg.master.env == {"MESOS_LOGGING_LEVEL": "INFO"}
    assert cfg.slave.privileged is False
    assert cfg.slave.resources == "cpus:2;mem:2048;ports:[31000-32000]"
    assert cfg.slave.restart is Restart.ON_FAILURE
    assert cfg.marathon.port == 18080


def test_agent_is_another_name_for_slave() -> None:
    with_agent = parse("agent:\n  image: example/agent:1\n  privileged: false\n")
    with_slave = parse("slave:\n  image: example/agent:1\n  privileged: false\n")
    assert with_agent == with_slave
    assert with_agent.slave.image == "example/agent:1"
    assert with_agent.slave.privileged is False


def test_agent_and_slave_both_is_an_error() -> None:
    message = error("name: x\nagent:\n  port: 1\nslave:\n  port: 2\n")
    assert "`slave`" in message
    assert "`agent`" in message
    assert "not both" in message


@pytest.mark.parametrize("role", ["zookeeper", "master", "slave", "agent", "marathon"])
def test_empty_section_is_the_default(role: str) -> None:
    assert parse(f"{role}:\n") == StackConfig()
    assert parse(f"{role}: {{}}\n") == StackConfig()


@pytest.mark.parametrize(
    ("value", "expected"),
    [("no", Restart.NO), ("'no'", Restart.NO), ("off", Restart.NO), ("false", Restart.NO),
     ("always", Restart.ALWAYS), ("unless-stopped", Restart.UNLESS_STOPPED),
     ("on-failure", Restart.ON_FAILURE)],
)
def test_restart(value: str, expected: Restart) -> None:
    cfg = parse(f"master:\n  restart: {value}\n")
    assert cfg.master.restart is expected


def test_restart_no_is_the_string_no() -> None:
    restart = parse("slave:\n  restart: no\n").slave.restart
    assert restart == "no"
    assert str(restart) == "no"


def test_unknown_restart_policy() -> None:
    rest = at_line(error("name: x\nmaster:\n  restart: sometimes\n"), 3)
    assert rest.startswith("master.restart: ")
    assert "expected one of no, always, unless-stopped, on-failure" in rest


def test_env_values_become_strings() -> None:
    cfg = parse(
        "marathon:\n  env:\n    A: 1\n    B: true\n    C: no\n    D: 1.5\n    E:\n    F: text\n"
    )
    assert cfg.marathon.env == {
        "A": "1", "B": "true", "C": "false", "D": "1.5", "E": "", "F": "text"}
    assert all(isinstance(v, str) for v in cfg.marathon.env.values())


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [("master:\n  env:\n    A: [1, 2]\n", 2, "variable A must be a string, number or boolean"),
     ("master:\n  env:\n    'A B': 1\n", 2, "variable name 'A B' must be a word"),
     ("master:\n  env:\n    A=B: 1\n", 2, "variable name 'A=B'"),
     ("master:\n  env: [A=1]\n", 2, "Input should be a valid dictionary")],
)
def test_bad_env(text: str, line: int, expected: str) -> None:
    rest = at_line(error(text), line)
    assert rest.startswith("master.env: ")
    assert expected in rest


def test_volumes() -> None:
    cfg = parse(
        "slave:\n  volumes:\n    - /var/run/docker.sock:/var/run/docker.sock\n"
        "    - /sys/fs/cgroup:/sys/fs/cgroup:ro\n    - /data:/data:rw\n"
    )
    volumes = [config.parse_volume(v) for v in cfg.slave.volumes]
    assert volumes == [
        config.Volume("/var/run/docker.sock", "/var/run/docker.sock", read_only=False),
        config.Volume("/sys/fs/cgroup", "/sys/fs/cgroup", read_only=True),
        config.Volume("/data", "/data", read_only=False),
    ]
    assert [str(v) for v in volumes] == [
        "/var/run/docker.sock:/var/run/docker.sock", "/sys/fs/cgroup:/sys/fs/cgroup:ro",
        "/data:/data"]


@pytest.mark.parametrize(
    ("volume", "expected"),
    [("relative:/b", "host path must be an absolute path, got 'relative'"),
     ("/a:relative", "container path must be an absolute path, got 'relative'"),
     ("/a", "'/a' is not `host:container[:ro|rw]`"),
     ("/a:/b:rx", "'/a:/b:rx' is not `host:container[:ro|rw]`"),
     ("/a:/b:ro:x", "is not `host:container[:ro|rw]`")],
)
def test_bad_volume_names_its_index(volume: str, expected: str) -> None:
    text = f"slave:\n  volumes:\n    - /ok:/ok\n    - '{volume}'\n"
    rest = at_line(error(text), 4)
    assert rest.startswith("slave.volumes.1: ")
    assert expected in rest


def test_bad_volume_under_agent_is_reported_as_slave() -> None:
    rest = at_line(error("agent:\n  volumes:\n    - x:/b\n"), 3)
    assert rest.startswith("slave.volumes.0: ")


@pytest.mark.parametrize(
    "resources",
    ["cpus:2", "cpus:2;mem:2048", "cpus:0.5; mem:512", "ports:[31000-32000]",
     "cpus(role):1;disk:100", "cpus:2;mem:2048;ports:[31000-32000, 33000-34000]",
     "zones:{a,b}"],
)
def test_resources_accepted(resources: str) -> None:
    assert parse(f"slave:\n  resources: '{resources}'\n").slave.resources == resources


@pytest.mark.parametrize(
    ("resources", "part"),
    [("cpus", "cpus"), ("cpus=2", "cpus=2"), ("cpus:2,mem:2048", "cpus:2,mem:2048"),
     ("cpus:2;", ""), ("cpus:two", "cpus:two"), ("2:cpus", "2:cpus")],
)
def test_bad_resources(resources: str, part: str) -> None:
    rest = at_line(error(f"name: x\nslave:\n  resources: '{resources}'\n"), 3)
    assert rest.startswith(f"slave.resources: {part!r} is not a Mesos resource")
    assert "`cpus:2;mem:2048" in rest


def test_marathon_data_dir_is_refused() -> None:
    rest = at_line(error("marathon:\n  data_dir: /srv/marathon\n"), 2)
    assert rest.startswith("marathon.data_dir: ")
    assert "ZooKeeper" in rest
    assert "zookeeper.data_dir" in rest


def test_data_dir_must_be_absolute() -> None:
    rest = at_line(error("master:\n  data_dir: var/lib/mesos\n"), 2)
    assert rest == "master.data_dir: data_dir must be an absolute path, got 'var/lib/mesos'"


@pytest.mark.parametrize("image", ["''", "'a b'", "' '"])
def test_bad_image(image: str) -> None:
    rest = at_line(error(f"zookeeper:\n  image: {image}\n"), 2)
    assert rest.startswith("zookeeper.image: an image reference has no spaces")


def test_yaml_anchors_and_merge_keys() -> None:
    cfg = parse(
        "zookeeper: &common\n  restart: unless-stopped\n  port: 2181\n"
        "master:\n  <<: *common\n  port: 5050\n"
    )
    assert cfg.master.restart is Restart.UNLESS_STOPPED
    assert cfg.master.port == 5050


@pytest.mark.parametrize(("text", "line", "rest"), [
    pytest.param("zookeeper: &zk\n  port: 2181\nmaster:\n  <<: *zk\n"
                 "  image: mesoscloud/mesos-master:0.23.0-ubuntu-14.04\n  port: true\n",
                 6, "master.port: expected a whole number, not true", id="own-key-wins"),
    pytest.param("zookeeper: &zk\n  data_dir: /srv/zk\nmarathon:\n  <<: *zk\n",
                 2, "marathon.data_dir: Marathon keeps its state", id="merged-only"),
    pytest.param("zookeeper: &zk\n  data_dir: /srv/zk\nmaster: &m\n  data_dir: /srv/m\n"
                 "marathon:\n  <<: [*m, *zk]\n",
                 4, "marathon.data_dir: Marathon keeps its state", id="first-merged-wins"),
])
def test_an_error_names_the_line_of_the_key_that_gave_the_value(text: str, line: int,
                                                                rest: str) -> None:
    assert at_line(error(text), line).startswith(rest)


# --- bad input: one line, the file and line first ------------------------------------------


def test_yaml_syntax_error_names_line_and_column() -> None:
    message = error("name: x\nmaster:\n  port: [1, 2\n", source="my.yaml")
    assert re.match(r"^my\.yaml:\d+:\d+: YAML syntax error: ", message), message


def test_yaml_syntax_error_line_and_column() -> None:
    message = error("name: x\nmaster:\n\tport: 1\n")
    assert message.startswith("stack.yaml:3:1: YAML syntax error: ")
    assert "'\\t'" in message


def test_yaml_bad_indentation() -> None:
    message = error("master:\n  port: 1\n quorum: 1\n")
    assert re.match(r"^stack\.yaml:3:\d+: YAML syntax error: ", message), message


def test_unprintable_character_is_one_line_with_its_place() -> None:
    message = error("name: x\nmaster:\n  image: a\x07b\n")
    assert message == (
        "stack.yaml:3:11: YAML syntax error: unacceptable character #x0007: "
        "special characters are not allowed"
    )


def test_several_documents() -> None:
    assert error("name: a\n---\nname: b\n").startswith("stack.yaml:2:1: YAML syntax error: ")


def test_python_tags_are_refused() -> None:
    message = error("name: !!python/object/apply:os.system [true]\n")
    assert message.startswith("stack.yaml:1:7: YAML syntax error: could not determine")


def test_unhashable_key() -> None:
    message = error("name: x\nmaster:\n  ? [a, b]\n  : 1\n")
    assert message == "stack.yaml:3:5: YAML syntax error: found unhashable key"


def test_duplicate_key() -> None:
    message = error("master:\n  port: 5050\n  quorum: 1\n  port: 5051\n")
    assert message == "stack.yaml:4:3: YAML syntax error: duplicate key 'port'"


def test_duplicate_top_level_key() -> None:
    message = error("name: a\nmaster: {}\nname: b\n")
    assert message == "stack.yaml:3:1: YAML syntax error: duplicate key 'name'"


@pytest.mark.parametrize(
    ("text", "line", "path", "suggestion"),
    [("master:\n  quroum: 1\n", 2, "master.quroum", "master.quorum"),
     ("name: x\nslave:\n  privilegd: true\n", 3, "slave.privilegd", "slave.privileged"),
     ("agent:\n  resource: cpus:1\n", 2, "slave.resource", "slave.resources"),
     ("zookeeper:\n  imgae: z\n", 2, "zookeeper.imgae", "zookeeper.image"),
     ("name: x\nmarathon:\n  image: m\n  ports: 8080\n", 4, "marathon.ports", "marathon.port"),
     ("masters:\n  quorum: 1\n", 1, "masters", "master"),
     ("name: x\nhostip: 1.2.3.4\n", 2, "hostip", "host_ip")],
)
def test_unknown_key_suggests_the_closest(text: str, line: int, path: str, suggestion: str) -> None:
    rest = at_line(error(text), line)
    assert rest == f"unknown key `{path}`; did you mean `{suggestion}`?"


def test_unknown_key_without_a_close_one_lists_the_valid_keys() -> None:
    rest = at_line(error("name: x\nzzz: 1\n"), 2)
    assert rest.startswith("unknown key `zzz`; valid keys here: ")
    listed = rest.split(": ", 1)[1].split(", ")
    assert set(listed) == {"name", "host_ip", "hosts", "zookeeper", "master", "slave", "marathon",
                           "agent"}


def test_unknown_key_with_a_newline_stays_on_one_line() -> None:
    rest = at_line(error('master:\n  "a\\nb": 1\n'), 2)
    assert rest.startswith("unknown key `master.'a\\nb'`")


@pytest.mark.parametrize(
    ("text", "line", "path", "expected"),
    [("master:\n  port: abc\n", 2, "master.port", "valid integer"),
     ("name: x\nslave:\n  privileged: maybe\n", 3, "slave.privileged", "valid boolean"),
     ("master:\n  quorum: two\n", 2, "master.quorum", "valid integer"),
     ("slave:\n  volumes: /a:/b\n", 2, "slave.volumes", "valid list"),
     ("master: [1]\n", 1, "master", "valid dictionary"),
     ("master: yes\n", 1, "master", "valid dictionary"),
     ("name: 123\n", 1, "name", "valid string"),
     ("host_ip: 10\n", 1, "host_ip", "valid string")],
)
def test_wrong_type(text: str, line: int, path: str, expected: str) -> None:
    rest = at_line(error(text), line)
    assert rest.startswith(f"{path}: ")
    assert expected in rest


@pytest.mark.parametrize(
    ("text", "line", "path", "expected"),
    [("master:\n  port: 0\n", 2, "master.port", "greater than or equal to 1"),
     ("name: x\nmarathon:\n  port: 70000\n", 3, "marathon.port", "less than or equal to 65535"),
     ("zookeeper:\n  port: -1\n", 2, "zookeeper.port", "greater than or equal to 1"),
     ("agent:\n  port: 65536\n", 2, "slave.port", "less than or equal to 65535")],
)
def test_port_out_of_range(text: str, line: int, path: str, expected: str) -> None:
    rest = at_line(error(text), line)
    assert rest.startswith(f"{path}: ")
    assert expected in rest


def test_ports_at_the_edges_are_fine() -> None:
    cfg = parse("master:\n  port: 1\nmarathon:\n  port: 65535\n")
    assert (cfg.master.port, cfg.marathon.port) == (1, 65535)


def test_quoted_numbers_are_numbers_but_booleans_are_not() -> None:
    # `port: "5050"` is a number written as a string (as compose files allow); YAML's
    # `yes`/`true` would silently become 1, so they are refused.
    assert parse('master:\n  port: "5050"\n').master.port == 5050
    for text, path in [("master:\n  port: yes\n", "master.port"),
                       ("master:\n  count: true\n", "master.count"),
                       ("master:\n  count: 3\n  quorum: on\n", "master.quorum")]:
        rest = error(text).split(": ", 1)[1]
        assert rest.startswith(f"{path}: expected a whole number, not true"), rest


def test_quorum_zero() -> None:
    rest = at_line(error("name: x\nmaster:\n  image: m\n  quorum: 0\n"), 4)
    assert rest.startswith("master.quorum: ")
    assert "greater than or equal to 1" in rest


def test_quorum_more_than_the_masters() -> None:
    rest = at_line(error("name: x\nmaster:\n  image: m\n  quorum: 2\n"), 4)
    assert rest.startswith("master.quorum: 2 doesn't fit 1 master(s)")
    assert "at most all of them" in rest


@pytest.mark.parametrize("host_ip", ["1.2.3", "localhost", "'::1'", "fe80::1", "1.2.3.256",
                                     "'2001:db8::1'", "''"])
def test_host_ip_must_be_ipv4(host_ip: str) -> None:
    rest = at_line(error(f"name: x\nhost_ip: {host_ip}\n"), 2)
    assert rest.startswith("host_ip: ")
    assert "is not an IPv4 address (or `auto`)" in rest


@pytest.mark.parametrize("host_ip", ["auto", "127.0.0.1", "0.0.0.0", "192.168.1.10"])
def test_host_ip_accepted(host_ip: str) -> None:
    assert parse(f"host_ip: {host_ip}\n").host_ip == host_ip


@pytest.mark.parametrize("name", ["'bad name'", "-x", "a/b", "_x", ".x", "''", "a" * 49])
def test_name_must_be_a_container_name_part(name: str) -> None:
    rest = at_line(error(f"name: {name}\n"), 1)
    assert rest.startswith("name: ")
    assert "can't name containers" in rest


@pytest.mark.parametrize("name", ["mesos", "mesos-dev"])
def test_name_must_not_make_mesos_container_names(name: str) -> None:
    rest = at_line(error(f"host_ip: auto\nname: {name}\n"), 2)
    assert rest.startswith(f"name: '{name}' would give container names starting with 'mesos-'")


@pytest.mark.parametrize("name", ["x", "my.stack", "stack_1", "Mesos2", "mesosx", "a" * 48])
def test_good_names(name: str) -> None:
    assert parse(f"name: {name}\n").name == name


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "list"), ("hello\n", "str"),
                                            ("42\n", "int")])
def test_top_level_must_be_a_mapping(text: str, kind: str) -> None:
    rest = at_line(error(text), 1)
    assert rest.startswith("the top level must be a mapping of sections")
    assert rest.endswith(f"got {kind}")


def test_more_errors_are_counted() -> None:
    rest = at_line(error("master:\n  port: 0\n  quorum: 0\n"), 2)
    assert rest.endswith("(and 1 more error)")


def test_errors_point_to_their_line_in_a_full_file() -> None:
    lines = FULL.splitlines(keepends=True)
    for number, line in enumerate(lines, start=1):
        if line.strip() == "port: 15051":
            broken = [*lines[: number - 1], "  port: nope\n", *lines[number:]]
            rest = at_line(error("".join(broken), source="full.yaml"), number, source="full.yaml")
            assert rest.startswith("slave.port: ")
            break
    else:
        pytest.fail("no slave port in FULL")


# --- files ---------------------------------------------------------------------------------


def test_find_file_explicit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\n")
    other = tmp_path / "other.yaml"
    other.write_text("name: other\n")
    monkeypatch.setenv(config.FILE_ENV, str(other))
    assert find_file(str(path)) == path


def test_find_file_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "env.yaml"
    path.write_text("name: env\n")
    monkeypatch.setenv(config.FILE_ENV, str(path))
    assert find_file(None) == path
    assert load().config.name == "env"


def test_find_file_in_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "stack.yaml").write_text(TUTORIAL)
    monkeypatch.chdir(tmp_path)
    assert find_file(None) == Path("stack.yaml")
    loaded = load()
    assert loaded.source == Path("stack.yaml")
    assert loaded.config == parse(TUTORIAL)


def test_find_file_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_file(None) is None
    loaded = load()
    assert loaded.source is None
    assert loaded.config == StackConfig()


def test_find_file_missing_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "gone.yaml"
    monkeypatch.setenv(config.FILE_ENV, str(missing))
    with pytest.raises(InputError) as raised:
        find_file(None)
    assert raised.value.message == f"{missing}: no such file"
    assert raised.value.exit_code == 2


def test_load_missing_file() -> None:
    with pytest.raises(InputError) as raised:
        load("/nonexistent/stack.yaml")
    exc = raised.value
    assert exc.exit_code == 2
    assert exc.message.startswith("/nonexistent/stack.yaml")
    assert "no such file" in exc.message
    assert "\n" not in exc.message


def test_load_a_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError) as raised:
        load(str(tmp_path))
    assert raised.value.message == f"{tmp_path}: no such file"


def test_load_names_the_file_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nmaster:\n  quroum: 1\n")
    with pytest.raises(InputError) as raised:
        load(str(path))
    assert raised.value.message == (
        f"{path}:3: unknown key `master.quroum`; did you mean `master.quorum`?")


def test_load_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(InputError) as raised:
        load(str(path))
    message = raised.value.message
    assert message.startswith(f"{path}: can't read: ")
    assert "\n" not in message


# --- output --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [TUTORIAL, FULL, "", "slave:\n  restart: no\n",
     "marathon:\n  env:\n    A: 1\n    B: true\n    C: 'no'\n    D: ''\n"],
)
def test_to_yaml_round_trips(text: str) -> None:
    cfg = parse(text)
    written = to_yaml(cfg)
    assert parse(written) == cfg
    data = yaml.safe_load(written)
    assert list(data) == ["name", "host_ip", "hosts", "zookeeper", "master", "slave", "marathon"]


def test_to_yaml_writes_every_key() -> None:
    text = to_yaml(StackConfig())
    data = yaml.safe_load(text)
    assert data["slave"]["privileged"] is None and data["slave"]["tasks"] == "auto"
    assert "  tasks: auto  # auto: `docker` where the host has cgroup v1" in text  # the rule
    assert data["master"]["restart"] == "always"
    assert data["master"]["quorum"] == 1
    assert data["marathon"]["port"] == 8080


def test_json_schema_shape() -> None:
    schema = json_schema()
    assert isinstance(schema, dict)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["properties"]) == {
        "name", "host_ip", "hosts", "zookeeper", "master", "slave", "agent", "marathon"}
    assert schema["properties"]["agent"]["description"] == "Another name for `slave`."


def _schema_validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("text", [
    TUTORIAL, FULL, "{}", "agent:\n  privileged: false\n", "master:\n",
    "slave:\n  restart: no\n  env: {A: 1, B: true, C: 0.5}\n",
])
def test_json_schema_accepts_valid_files(text: str) -> None:
    validator = _schema_validator()
    data = yaml.safe_load(text)
    assert list(validator.iter_errors(data)) == []
    parse(text)  # and so does the loader


def test_json_schema_accepts_the_testbed_example() -> None:
    validator = _schema_validator()
    example = Path(__file__).resolve().parents[2] / "examples" / "testbed.yaml"
    data = yaml.safe_load(example.read_text())
    assert list(validator.iter_errors(data)) == []


@pytest.mark.parametrize(
    "data",
    [{"master": {"quroum": 1}}, {"masters": {}}, {"master": {"port": 0}},
     {"master": {"port": "abc"}}, {"slave": {"privileged": "maybe"}},
     {"master": {"restart": "sometimes"}}, {"master": {"quorum": 0}}],
)
def test_json_schema_refuses_invalid_files(data: dict[str, Any]) -> None:
    validator = _schema_validator()
    assert list(validator.iter_errors(data)) != []


HOSTS3 = ("hosts:\n  - {name: n1, ip: 127.0.0.1}\n  - {name: n2, ip: 127.0.0.2}\n"
          "  - {name: n3, ip: 127.0.0.3}\n")


@pytest.mark.parametrize(("text", "expected"), [
    (HOSTS3 + "master: {count: 3, quorum: 1}\n",
     "stack.yaml:5: master.quorum: 1 doesn't fit 3 master(s)"),
    (HOSTS3 + "master: {count: 3, quorum: 4}\n",
     "stack.yaml:5: master.quorum: 4 doesn't fit 3 master(s)"),
    (HOSTS3 + "master: {on: [n1, n9]}\n",
     "stack.yaml:5: master.on: unknown host 'n9' (hosts: n1, n2, n3)"),
    ("master: {on: [n1]}\n", "stack.yaml:1: master.on: unknown host 'n1' (hosts: none"),
    (HOSTS3 + "master: {on: [n1, n1]}\n",
     "stack.yaml:5: master.on: 127.0.0.1:5050 would be used twice (master 1 and master 2)"),
    (HOSTS3 + "master: {count: 4}\n",
     "stack.yaml:5: master.count: 127.0.0.1:5050 would be used twice (master 1 and master 4)"),
    (HOSTS3 + "zookeeper: {on: [n1]}\nmaster: {on: [n1], port: 2181}\n",
     "stack.yaml:6: master.port: 127.0.0.1:2181 would be used twice (zookeeper and master)"),
    ("master: {count: 3}\n", "stack.yaml:1: master.count: host_ip:5050 would be used twice"),
    (HOSTS3 + "zookeeper: {count: 2}\n", "stack.yaml:5: zookeeper.count: an ensemble of 2"),
    (HOSTS3 + "master: {count: 2, on: [n1, n2]}\n",
     "stack.yaml:5: master.on: give either `count` or `on`, not both"),
    (HOSTS3 + "host_ip: 127.0.0.1\n", "stack.yaml:5: host_ip: with `hosts:`, each host's ip"),
    ("hosts:\n  - {name: a, ip: 127.0.0.1}\n  - {name: a, ip: 127.0.0.2}\n",
     "stack.yaml:3: hosts.1.name: 'a' is also hosts.0"),
    ("hosts:\n  - {name: a, ip: 127.0.0.1}\n  - {name: b, ip: 127.0.0.1}\n",
     "stack.yaml:3: hosts.1.ip: 127.0.0.1 is also host 'a''s"),
    ("hosts:\n  - {name: a, ip: 127.0.0.1, docker: 'http://x'}\n",
     "stack.yaml:2: hosts.0.docker: 'http://x': a Docker endpoint is unix://, tcp:// or ssh://"),
])
def test_bad_ha_input_names_the_field(text: str, expected: str) -> None:
    with pytest.raises(InputError) as caught:
        parse(text)
    assert caught.value.exit_code == 2
    assert str(caught.value).startswith(expected), str(caught.value)


def test_ha_defaults_and_warnings() -> None:
    config = parse(HOSTS3 + "zookeeper: {count: 3}\nmaster: {count: 3}\n")
    assert config.quorum == 2 and config.master.quorum == 2
    assert config.warnings() == []
    even = parse(HOSTS3 + "master: {count: 2}\n")
    assert even.quorum == 2
    assert any("2 masters" in w for w in even.warnings())
    assert any("single point of failure" in w for w in even.warnings())
    on = parse(HOSTS3 + "slave:\n  on: [n2, n3]\n")  # YAML 1.1's `on` is a key, not `true`
    assert [p.host for p in on.placements("slave")] == ["n2", "n3"]
