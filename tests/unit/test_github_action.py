"""The GitHub Action (action.yml) and its script (scripts/action-smoke): the action and README's
workflow that uses it valid against GitHub's schemas (offline: check-jsonschema carries them),
its inputs handed to the script, and the script's install and `mesostack smoke` call against a
stand-in Python and `mesostack`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ACTION = REPO / "action.yml"
SCRIPT = REPO / "scripts" / "action-smoke"
README = REPO / "README.md"


def schema_check(need_tool: Callable[[str], str], schema: str,
                 path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([need_tool("check-jsonschema"), "--builtin-schema", schema, str(path)],
                          capture_output=True, text=True, timeout=60)


def action() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(ACTION.read_text())
    return data


def readme_workflow() -> str:
    """The workflow between README's action-example markers."""
    marked = README.read_text(encoding="utf-8").split("<!-- action-example -->", 1)[1]
    return marked.split("<!-- /action-example -->", 1)[0].split("```yaml\n", 1)[1].split(
        "```", 1)[0]


def test_the_action_is_valid_against_githubs_schema(need_tool: Callable[[str], str]) -> None:
    result = schema_check(need_tool, "vendor.github-actions", ACTION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_a_broken_action(tmp_path: Path,
                                                  need_tool: Callable[[str], str]) -> None:
    broken = tmp_path / "action.yml"
    broken.write_text(ACTION.read_text().replace("using: composite", "using: compost"))
    result = schema_check(need_tool, "vendor.github-actions", broken)
    assert result.returncode == 1
    assert "compost" in result.stdout


def test_readmes_workflow_uses_the_action_and_is_valid(tmp_path: Path,
                                                       need_tool: Callable[[str], str]) -> None:
    text = readme_workflow()
    flow = yaml.safe_load(text)
    (job,) = flow["jobs"].values()
    uses = [step.get("uses", "") for step in job["steps"]]
    assert uses[0].startswith("actions/checkout@")
    assert uses[1] == "OWNER/mesostack@REF"
    assert set(job["steps"][1].get("with", {})) <= set(action()["inputs"])
    path = tmp_path / "smoke.yml"
    path.write_text(text)
    result = schema_check(need_tool, "vendor.github-workflows", path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_action_runs_its_script_with_the_inputs_and_uploads_on_failure() -> None:
    found = action()
    assert found["runs"]["using"] == "composite"
    inputs = found["inputs"]
    assert {"stack-file", "apps", "install-from", "timeout", "junit-xml"} <= set(inputs)
    assert inputs["install-from"]["default"] == ""  # the action's own checkout
    smoke, upload = found["runs"]["steps"]
    assert smoke["shell"] == "bash"
    assert smoke["run"] == 'bash "$GITHUB_ACTION_PATH/scripts/action-smoke"'
    # each input goes to one of the script's documented variables
    documented = set(re.findall(r"^#   ([A-Z_]+) ", SCRIPT.read_text(), re.MULTILINE))
    assert set(smoke["env"]) <= documented
    assert {value.removeprefix("${{ inputs.").removesuffix(" }}")
            for value in smoke["env"].values()} == set(inputs) - {"artifact-name"}
    assert upload["if"] == "failure()"
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert upload["with"]["path"].splitlines() == ["${{ inputs.junit-xml }}",
                                                   "${{ inputs.bundle }}"]
    assert found["outputs"]["junit-xml"]["value"] == "${{ steps.smoke.outputs.junit-xml }}"


def test_the_script_parses_and_is_shellcheck_clean(need_tool: Callable[[str], str]) -> None:
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0
    result = subprocess.run([need_tool("shellcheck"), str(SCRIPT)], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout


# A stand-in Python: runs the version check with the real one (or says 3.9 with FAKE_OLD),
# and makes a "virtualenv" whose python records pip's arguments and whose mesostack records
# its own, its pid and MESOSTACK_FILE, then exits with $FAKE_EXIT.
PYTHON = r"""#!/usr/bin/env bash
if [ "$1" = -c ]; then
    if [ -n "${FAKE_OLD:-}" ]; then [[ $2 == *platform* ]] && echo 3.9.18; exit 1; fi
    exec "$REAL_PYTHON" "$@"
fi
[ "$1 $2" = "-m venv" ] || exit 99
mkdir -p "$3/bin"
cat >"$3/bin/python" <<'EOF'
#!/usr/bin/env bash
printf '%s\n' "$@" >"$FAKE_DIR/pip"
exit "${FAKE_PIP_EXIT:-0}"
EOF
cat >"$3/bin/mesostack" <<'EOF'
#!/usr/bin/env bash
if [ "$1" = --version ]; then echo "mesostack, version 0.0.0"; exit 0; fi
{ echo "$$"; echo "file=${MESOSTACK_FILE-(unset)}"; printf '%s\n' "$@"; } >"$FAKE_DIR/smoke"
exit "${FAKE_EXIT:-0}"
EOF
chmod +x "$3/bin/python" "$3/bin/mesostack"
"""


class Ran:
    """One run of the script: its result, pip's arguments and mesostack's."""

    def __init__(self, result: subprocess.CompletedProcess[str], directory: Path) -> None:
        self.result = result
        self.pip = _lines(directory / "pip")
        smoke = _lines(directory / "smoke")
        self.pid, self.file, self.smoke = (int(smoke[0]), smoke[1], smoke[2:]) if smoke else (
            0, "", [])


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def script(tmp_path: Path) -> Callable[..., Ran]:
    python = tmp_path / "python3"
    python.write_text(PYTHON)
    python.chmod(0o755)

    def run(**env: str) -> Ran:
        for name in ("pip", "smoke", "outputs"):
            (tmp_path / name).unlink(missing_ok=True)
        environment = {"PATH": os.environ["PATH"], "REAL_PYTHON": sys.executable,
                       "FAKE_DIR": str(tmp_path), "SMOKE_PYTHON": str(python),
                       "SMOKE_VENV": str(tmp_path / "venv"), **env}
        result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True,
                                timeout=60, cwd=tmp_path, env=environment)
        return Ran(result, tmp_path)

    return run


def test_by_default_it_installs_its_own_checkout_and_smokes_the_built_in_app(
        script: Callable[..., Ran], tmp_path: Path) -> None:
    ran = script()
    assert ran.result.returncode == 0, ran.result.stderr
    assert ran.pip == ["-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                       str(REPO)]
    assert ran.smoke == ["smoke", "--timeout", "300", "--junit-xml", "mesostack-smoke.xml",
                         "--bundle", "mesostack-bundle.tar.gz"]
    assert ran.file == "file=(unset)"  # no stack file given: mesostack's own default
    assert "action-smoke: mesostack, version 0.0.0" in ran.result.stderr.splitlines()


@pytest.mark.parametrize("given, installed", [
    ("1.2.3", "mesostack==1.2.3"), ("v0.9.0", "mesostack==0.9.0"),
    ("2.0.0rc1", "mesostack==2.0.0rc1"), ("1.0.post1", "mesostack==1.0.post1"),
    ("mesostack @ git+https://github.com/OWNER/mesostack@v1", None), ("mesostack>=1", None),
    ("./vendor/mesostack", None)])
def test_install_from_takes_a_version_or_a_pip_requirement(
        script: Callable[..., Ran], given: str, installed: str | None) -> None:
    ran = script(MESOSTACK_INSTALL=given)
    assert ran.result.returncode == 0, ran.result.stderr
    assert ran.pip[-1] == (installed or given)


def test_the_inputs_become_the_commands_arguments_and_its_exit_code_the_scripts(
        script: Callable[..., Ran], tmp_path: Path) -> None:
    apps = "  examples/basic-0.json=Hello Marathon  \n\n  web.yaml\n  x=y.json=a=b\n"
    outputs = tmp_path / "outputs"
    ran = script(MESOSTACK_FILE="stack.yaml", SMOKE_APPS=apps, SMOKE_TIMEOUT="60",
                 SMOKE_JUNIT="reports/smoke.xml", SMOKE_BUNDLE="b.tar.gz", FAKE_EXIT="1",
                 GITHUB_OUTPUT=str(outputs))
    assert ran.result.returncode == 1
    assert ran.smoke == ["smoke", "examples/basic-0.json=Hello Marathon", "web.yaml",
                         "x=y.json=a=b", "--timeout", "60", "--junit-xml", "reports/smoke.xml",
                         "--bundle", "b.tar.gz"]
    assert ran.file == "file=stack.yaml"
    assert outputs.read_text() == "junit-xml=reports/smoke.xml\nbundle=b.tar.gz\n"
    for code in ("2", "130", "143"):
        assert script(FAKE_EXIT=code).result.returncode == int(code)


def test_the_script_becomes_mesostack_so_that_a_cancelled_job_takes_the_stack_down(
        script: Callable[..., Ran], tmp_path: Path) -> None:
    python = tmp_path / "python3"
    process = subprocess.Popen(
        ["bash", str(SCRIPT)], cwd=tmp_path, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={"PATH": os.environ["PATH"], "REAL_PYTHON": sys.executable, "FAKE_DIR": str(tmp_path),
             "SMOKE_PYTHON": str(python), "SMOKE_VENV": str(tmp_path / "venv")})
    assert process.wait(timeout=60) == 0
    assert Ran(subprocess.CompletedProcess([], 0), tmp_path).pid == process.pid


def test_bad_inputs_and_a_failed_install_stop_with_one_line(script: Callable[..., Ran]) -> None:
    ran = script(SMOKE_TIMEOUT="soon", GITHUB_ACTIONS="true")
    assert ran.result.returncode == 2 and ran.pip == [] and ran.smoke == []
    assert ran.result.stderr.splitlines()[-2:] == [
        "action-smoke: timeout soon is not whole seconds",
        "::error title=mesostack smoke test::timeout soon is not whole seconds"]
    ran = script(FAKE_OLD="1")
    assert ran.result.returncode == 2 and ran.pip == []
    assert ran.result.stderr.splitlines()[-1].endswith(
        "is Python 3.9.18; mesostack needs 3.11 or later (actions/setup-python)")
    ran = script(SMOKE_PYTHON="no-such-python")
    assert ran.result.returncode == 2
    assert "no no-such-python: set up Python 3.11" in ran.result.stderr
    ran = script(FAKE_PIP_EXIT="1")
    assert ran.result.returncode == 1 and ran.smoke == []
    assert ran.result.stderr.splitlines()[-1] == (
        f"action-smoke: can't install mesostack from {REPO} (pip's output above says why)")
