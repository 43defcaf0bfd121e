"""Run the `mesostack` command line in-process, as the unit tests do."""

from __future__ import annotations

import pytest

from mesostack.cli import main


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`mesostack ARGS`: its exit code, stdout and stderr."""
    with pytest.raises(SystemExit) as exited:
        main(args)
    out, err = capsys.readouterr()
    assert isinstance(exited.value.code, int)
    return exited.value.code, out, err
