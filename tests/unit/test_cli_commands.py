"""Commands that need no engine, and failures that must be one line with the right exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mesostack.cli import main

NO_ENGINE = "unix:///nonexistent/docker.sock"


@pytest.fixture(autouse=True)
def no_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No Docker engine answers, and no stack.yaml is around unless a test writes one."""
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("MESOSTACK_FILE", raising=False)
    monkeypatch.chdir(tmp_path)


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(args)
    out, err = capsys.readouterr()
    assert isinstance(exited.value.code, int)
    return exited.value.code, out, err


def test_dry_run_needs_no_engine(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text("name: demo\nhost_ip: 192.0.2.10\n")
    code, out, err = run(["up", "--dry-run"], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert [line.split()[4] for line in lines] == [
        "demo-zookeeper", "demo-master", "demo-slave", "demo-marathon"]
    assert all(line.startswith("docker run -d --name ") for line in lines)
    assert err.startswith("stack demo from stack.yaml; host_ip 192.0.2.10") and err.count("\n") == 1


def test_engine_unreachable_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["up"], ["down"], ["status"], ["ls"], ["doctor"], ["logs"]):
        code, out, err = run(command, capsys)
        errors = [line for line in err.splitlines() if line.startswith("mesostack: error:")]
        assert code == 1, command
        assert len(errors) == 1 and "is Docker running? try `docker ps`" in errors[0], err
        assert "Traceback" not in err and out == ""


def test_file_option_and_env(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "other.yaml"
    other.write_text("name: other\n")
    code, out, _ = run(["-f", str(other), "config"], capsys)
    assert code == 0 and yaml.safe_load(out)["name"] == "other"
    monkeypatch.setenv("MESOSTACK_FILE", str(other))
    code, out, _ = run(["config"], capsys)
    assert code == 0 and yaml.safe_load(out)["name"] == "other"


def test_config_prints_the_effective_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["config"], capsys)
    effective = yaml.safe_load(out)
    assert code == 0
    assert effective["name"] == "mesostack" and effective["host_ip"] == "auto"
    assert effective["slave"]["privileged"] is True
    assert effective["marathon"]["image"] == "mesosphere/marathon:v0.11.1"


def test_schema_is_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["schema"], capsys)
    schema = json.loads(out)
    assert code == 0 and {"name", "host_ip", "slave", "agent"} <= set(schema["properties"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("master:\n  quroum: 1\n", "stack.yaml:2: unknown key `master.quroum`; did you mean"),
        ("host_ip: 300.1.1.1\n", "stack.yaml:1: host_ip: '300.1.1.1' is not an IPv4 address"),
        ("zookeeper: [\n", "stack.yaml:2:1: YAML syntax error"),
        ("master:\n  quorum: 3\n", "stack.yaml:2: master.quorum: 3 doesn't fit 1 master(s)"),
    ],
)
def test_bad_stack_file_exits_2(text: str, expected: str, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "stack.yaml").write_text(text)
    for command in (["up", "--dry-run"], ["config"], ["down"]):
        code, out, err = run(command, capsys)
        assert code == 2
        assert err.startswith(f"mesostack: error: {expected}"), err
        assert len(err.strip().splitlines()) == 1 and out == ""


def test_missing_file_names_it(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["-f", "nope/stack.yaml", "up", "--dry-run"], capsys)
    assert code == 2 and "nope/stack.yaml: no such file" in err


def test_bad_options_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["up", "--pull", "sometimes"], capsys)[0] == 2
    assert run(["up", "--timeout", "0"], capsys)[0] == 2
    code, _, err = run(["logs", "zookeper"], capsys)
    assert code == 2 and "no component 'zookeper'" in err


def test_deploy_dry_run_uses_no_network(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARATHON_URL", "http://admin:hunter2@127.0.0.1:9")
    app = tmp_path / "basic-0.json"
    app.write_text('{"id": "basic-0", "cmd": "sleep 1", "cpus": 0.1, "mem": 10, "new": 1}')
    code, out, err = run(["deploy", "--dry-run", str(app)], capsys)
    assert code == 0, err
    sent = json.loads(out)
    assert sent["method"] == "POST" and sent["url"] == "http://127.0.0.1:9/v2/apps"
    assert sent["body"]["new"] == 1  # unknown fields pass through
    assert "unknown field `new`" in err and "hunter2" not in out + err
    app.write_text('{"id": "basic-0"}')
    code, out, err = run(["deploy", "--dry-run", str(app)], capsys)
    assert code == 2 and out == ""
    assert "AppDefinition must either contain one of 'cmd' or 'args'" in err
