"""scripts/hosts, the test bed's three hosts: it parses, is shellcheck-clean and says how it is
used (its `up`, `down`, `cut`, `stop` and `degrade` run in scripts/test and
tests/integration/test_hosts.py)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "hosts"


def test_the_hosts_script_parses() -> None:
    result = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_hosts_script_is_shellcheck_clean(need_tool: Callable[[str], str]) -> None:
    result = subprocess.run([need_tool("shellcheck"), str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_without_a_command_it_says_how_it_is_used() -> None:
    result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 2
    assert "scripts/hosts up " in result.stderr
    assert "198.18.0.0/24" in result.stderr
    assert "set -euo" not in result.stderr


def test_it_says_how_to_limit_a_hosts_link_and_wipe_its_engine() -> None:
    usage = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True).stderr
    assert "scripts/hosts limit HOST RATE" in usage
    assert "scripts/hosts wipe HOST" in usage
