"""scripts/engine26, the test bed's second Docker engine: it parses and is shellcheck-clean (its
`up` and `down` run in scripts/test and are exercised by tests/integration/test_engine26.py)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "engine26"


def test_the_engine26_script_parses() -> None:
    result = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_engine26_script_is_shellcheck_clean(need_tool: Callable[[str], str]) -> None:
    result = subprocess.run([need_tool("shellcheck"), str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
