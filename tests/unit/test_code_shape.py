"""The code's shape: no function longer than a screen (the linter checks complexity and
argument counts: C901 and PLR0913 in pyproject.toml)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "mesostack"
MAX_LINES = 50


def long_functions(root: Path, limit: int) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                length = node.end_lineno - node.lineno + 1
                if length > limit:
                    found.append(f"{path.relative_to(root.parent)}:{node.lineno} {node.name} "
                                 f"({length} lines)")
    return found


def test_no_function_is_longer_than_fifty_lines() -> None:
    assert long_functions(SRC, MAX_LINES) == []


def test_the_walk_sees_long_functions(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_LINES))
    (package / "m.py").write_text(f"def short():\n    return 1\n\n\nclass C:\n"
                                  f"    def long(self):\n{body.replace('    ', '        ')}")
    assert long_functions(package, MAX_LINES) == ["pkg/m.py:6 long (51 lines)"]


def test_no_two_test_modules_share_a_name() -> None:
    """pytest imports test modules by their base name (rootdir mode): two `test_x.py` in
    tests/unit and tests/integration stop the whole run at collection."""
    tests = Path(__file__).resolve().parents[1]
    names = [p.name for p in tests.rglob("test_*.py") if ".venv" not in p.parts]
    assert sorted(n for n in set(names) if names.count(n) > 1) == []
