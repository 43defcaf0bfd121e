"""Shared test set-up: the `docker` marker's rules, and the one rule for a missing prerequisite
(a failure in CI, where scripts/test installs every one; a skip elsewhere)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI") == "true"
# How to get each tool a test runs (scripts/test does all of it on a fresh machine).
INSTALL = {"shellcheck": "apt-get install shellcheck",
           "check-jsonschema": "pip install -e '.[dev]'",
           "mesostack": "pip install -e '.[dev]'"}


def missing(message: str) -> NoReturn:
    """Fail in CI (no test may skip there), skip elsewhere."""
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def find_tool(name: str) -> str:
    """A command-line tool: the virtualenv's own, else PATH's; missing() when neither."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if found is None:
        missing(f"`{name}` is not installed ({INSTALL.get(name, 'bash scripts/test installs it')})")
    return found


@pytest.fixture
def need_tool() -> Callable[[str], str]:
    """`need_tool(name)`: the tool's path; fails the test in CI, skips it elsewhere, when the
    tool is missing (a fixture, since every test folder's conftest is a module `conftest`)."""
    return find_tool


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tag docker-marked tests in the JUnit report, so scripts/check_junit.py can count them;
    put the tests that restart the Docker engine after all the others."""
    for item in items:
        if item.get_closest_marker("docker") is not None:
            item.user_properties.append(("docker", "1"))
    last = [item for item in items if item.get_closest_marker("engine_restart") is not None]
    if last:
        items[:] = [item for item in items if item not in last] + last
