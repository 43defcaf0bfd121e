"""A test that fails on purpose: the plugin leaves its bundle in --mesostack-bundle-dir."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mesostack import Stack


def test_fails_on_purpose(mesostack_stack: Stack) -> None:
    assert mesostack_stack.status().agents == 99, "fails on purpose: its bundle is looked at"
