"""Shared test set-up: the `docker` marker's rules and the test bed's names."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tag docker-marked tests in the JUnit report, so scripts/check_junit.py can count them;
    put the tests that restart the Docker engine after all the others."""
    for item in items:
        if item.get_closest_marker("docker") is not None:
            item.user_properties.append(("docker", "1"))
    last = [item for item in items if item.get_closest_marker("engine_restart") is not None]
    if last:
        items[:] = [item for item in items if item not in last] + last
