"""Typed domain errors: each carries the user's one-line message, a hint, and its exit code.

They become exit codes in one place (`mesostack.cli.main`); nothing else calls `sys.exit`.
"""

from __future__ import annotations

from enum import IntEnum

BUNDLE_HINT = "run `mesostack bundle` to collect logs and state"


def and_bundle(hint: str) -> str:
    """`hint`, then where to turn when it isn't enough: for failures after something started."""
    return f"{hint}; {BUNDLE_HINT}"


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    BAD_INPUT = 2
    INTERRUPTED = 130


class MesostackError(Exception):
    """An operation failed (exit 1): not ready, deployment failed, engine unreachable, ..."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, *, hint: str | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.detail = detail  # printed after the one-line message, e.g. a container's last logs

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message} ({self.hint})"


class InputError(MesostackError):
    """Input the user must fix (exit 2): bad usage, a bad stack.yaml, an invalid app."""

    exit_code = ExitCode.BAD_INPUT
