"""The bad-input corpus: each broken file, through the real command line, gives exit 2 and the
one line it expects.

A stack file (`corpus/stack/*.yaml`) and a YAML app file (`corpus/apps/*.yaml`) hold their
expectation in their first line, `# expect: MESSAGE`, the whole message after
"mesostack: error: ". JSON can't hold a comment, so the JSON app files' expectations (a prefix
of the message) are in `corpus/apps/expected.txt`, one `FILE<TAB>MESSAGE` a line. `{file}` in a
message stands for the path the command was given.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clirun import run

CORPUS = Path(__file__).parent / "corpus"
STACKS = sorted((CORPUS / "stack").glob("*.yaml"))
APPS = sorted(p for p in (CORPUS / "apps").iterdir() if p.suffix in (".json", ".yaml"))
EXPECT = "# expect: "
PREFIX = "mesostack: error: "


@pytest.fixture(autouse=True)
def no_outside_world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No engine answers, no Marathon is named, no stack.yaml is around."""
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent")
    monkeypatch.setenv("NO_COLOR", "1")
    for name in ("MARATHON_URL", "MARATHON_CREDENTIALS", "MESOSTACK_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def _json_expectations() -> dict[str, str]:
    table: dict[str, str] = {}
    for line in (CORPUS / "apps" / "expected.txt").read_text(encoding="utf-8").splitlines():
        name, message = line.split("\t", 1)
        assert name not in table, f"expected.txt: {name} twice"
        table[name] = message
    return table


def expectation(path: Path) -> tuple[str, bool]:
    """The expected message and whether it is the whole message (else a prefix)."""
    if path.suffix == ".json":
        return _json_expectations()[path.name], False
    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    assert first.startswith(EXPECT), f"{path.name}: the first line must be `{EXPECT}...`"
    return first.removeprefix(EXPECT), True


def check(path: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    message, whole = expectation(path)
    expected = PREFIX + message.replace("{file}", str(path))
    code, out, err = run(args, capsys)
    assert "Traceback" not in err
    assert code == 2, err
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    line = err.removesuffix("\n")
    matches = line == expected if whole else line.startswith(expected)
    assert matches, f"\n got: {line}\nwant: {expected}"


def test_the_corpus_is_complete() -> None:
    assert len(STACKS) >= 25 and len(APPS) >= 15
    json_files = {p.name for p in APPS if p.suffix == ".json"}
    assert set(_json_expectations()) == json_files
    for path in STACKS + APPS:
        assert expectation(path)[0].startswith("{file}"), path.name


@pytest.mark.parametrize("command", [["config"], ["up", "--dry-run"]], ids=" ".join)
@pytest.mark.parametrize("path", STACKS, ids=lambda p: p.name)
def test_bad_stack_file(path: Path, command: list[str],
                        capsys: pytest.CaptureFixture[str]) -> None:
    check(path, ["-f", str(path), *command], capsys)


@pytest.mark.parametrize("path", APPS, ids=lambda p: p.name)
def test_bad_app_file(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check(path, ["deploy", "--dry-run", str(path)], capsys)
