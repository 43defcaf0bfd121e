"""YAML as the stack and app files are read: duplicate keys refused, one pass over the text.

PyYAML silently keeps the last of two equal keys; both file kinds must name the duplicate.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import yaml


class UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate (and unhashable) keys. Subclasses choose how a key is
    shown in the message and whether a bare `on:`/`yes:` key stays a name."""

    BOOL_KEYS_ARE_NAMES = False

    @staticmethod
    def show_key(key: Any) -> str:
        return repr(key)


def _construct_mapping(loader: UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # only the mapping's own keys: one may override a key merged in with `<<`
        if (loader.BOOL_KEYS_ARE_NAMES and key_node.tag == "tag:yaml.org,2002:bool"
                and isinstance(key_node, yaml.ScalarNode)):
            # YAML 1.1 reads a bare `on:` (or yes/no) as a boolean; as a key it is a name.
            key_node.tag = "tag:yaml.org,2002:str"
        key = loader.construct_object(key_node)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                None, None, "found unhashable key", key_node.start_mark
            )
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {loader.show_key(key)}", key_node.start_mark
            )
        seen.add(key)
    loader.flatten_mapping(node)
    return loader.construct_mapping(node)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load(text: str, loader_class: type[UniqueKeyLoader]) -> tuple[Any, yaml.Node | None]:
    """The data and its node tree (for line numbers in messages), from one pass over `text`."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()
    return data, node
