"""YAML as the stack and app files are read: duplicate keys refused, YAML's merge keys applied the
same way in every PyYAML release, errors and key positions given one way for both file kinds.

PyYAML silently keeps the last of two equal keys; both file kinds must name the duplicate. Its
merge (`<<: *anchor`) changed in 6.0.4, where the last of several merged mappings wins for most
keys (yaml/pyyaml#953): here the spec's rule holds, and the lookup of a key's line follows the
same rule, so a message names the key that gave the value.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import yaml

from mesostack.errors import InputError

MERGE_TAG = "tag:yaml.org,2002:merge"

_Pair = tuple[yaml.Node, yaml.Node]


class UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate (and unhashable) keys. Subclasses choose how a key is
    shown in the message, whether a bare `on:`/`yes:` key stays a name, and whether a duplicate
    is reported as a syntax error."""

    BOOL_KEYS_ARE_NAMES: ClassVar[bool] = False
    # Stack files have always said "YAML syntax error: duplicate key ..."; app files name the
    # duplicate alone, as their JSON reading does.
    DUPLICATE_IS_SYNTAX_ERROR: ClassVar[bool] = True

    @staticmethod
    def show_key(key: Any) -> str:
        return repr(key)

    def compose_mapping_node(self, anchor: Any) -> Any:  # the stubs get the argument wrong
        node: yaml.MappingNode = super().compose_mapping_node(anchor)
        if self.BOOL_KEYS_ARE_NAMES:
            for key_node, _ in node.value:
                # YAML 1.1 reads a bare `on:` (or yes/no) as a boolean; as a key it is a name
                # (here, before any merge, so a key merged in with `<<` is a name too).
                if key_node.tag == "tag:yaml.org,2002:bool" and isinstance(key_node,
                                                                            yaml.ScalarNode):
                    key_node.tag = "tag:yaml.org,2002:str"
        return node


def _construct_mapping(loader: UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == MERGE_TAG:
            continue  # only the mapping's own keys: one may override a key merged in with `<<`
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
    # Each key once, merged ones included: constructing the mapping (and checking it again, when
    # an alias names it later) sees the merge's result, not a duplicate.
    node.value = pairs(node)
    return loader.construct_mapping(node)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def pairs(node: yaml.MappingNode) -> list[_Pair]:
    """A mapping's pairs after YAML's merge (yaml.org/type/merge.html), each key once: a key of
    the mapping's own wins over merged ones, and of several merged mappings (`<<: [*a, *b]`, or
    one `<<` after another) the first wins. Keys keep the places PyYAML gives them: merged ones
    first. The merged mappings themselves are left as they are."""
    return _pairs(node, {}, frozenset())


def _pairs(node: yaml.MappingNode, done: dict[int, list[_Pair]],
           within: frozenset[int]) -> list[_Pair]:
    if id(node) in done:  # one mapping merged in many places is flattened once
        return done[id(node)]
    chosen: dict[Any, _Pair] = {}
    inside = within | {id(node)}
    for key_node, value_node in node.value:
        if key_node.tag != MERGE_TAG:
            continue
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    f"expected a mapping for merging, but found {source.id}", source.start_mark)
            if id(source) in inside:
                continue  # a mapping merging itself (through its own anchor) adds nothing
            for pair in _pairs(source, done, inside):
                chosen.setdefault(_identity(pair[0]), pair)
    for pair in node.value:
        if pair[0].tag != MERGE_TAG:
            chosen[_identity(pair[0])] = pair  # in place of a merged one, or after them
    done[id(node)] = list(chosen.values())
    return done[id(node)]


def _identity(key: yaml.Node) -> Any:
    """Equal keys as YAML sees them: same tag and text (a non-scalar key is itself)."""
    return (key.tag, key.value) if isinstance(key, yaml.ScalarNode) else id(key)


def load(text: str, loader_class: type[UniqueKeyLoader]) -> tuple[Any, yaml.Node | None]:
    """The data and its node tree (for line numbers in messages), from one pass over `text`."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()
    return data, node


# --- errors and positions ----------------------------------------------------------------------


def position(source: str, mark: yaml.Mark) -> str:
    """`file:line:column`, both counted from 1."""
    return f"{source}:{mark.line + 1}:{mark.column + 1}"


def error(exc: yaml.YAMLError, text: str, *, source: str,
          loader_class: type[UniqueKeyLoader]) -> InputError:
    """PyYAML's complaint about `text` as one line naming the file, line and column."""
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - text.rfind("\n", 0, exc.position)
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return InputError(f"{source}:{line}:{column}: YAML syntax error: "
                          f"unacceptable character #x{char:04x}: {exc.reason}")
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = position(source, mark) if mark else source
        problem = exc.problem or exc.context or "invalid YAML"
        if problem.startswith("duplicate key") and not loader_class.DUPLICATE_IS_SYNTAX_ERROR:
            return InputError(f"{where}: {problem}")
        return InputError(f"{where}: YAML syntax error: {problem}")
    return InputError(f"{source}: YAML syntax error: {exc}")


@dataclass(frozen=True)
class Step:
    """One part of a path, found: its key (None for a list's item) and its value."""

    key: yaml.Node | None
    value: yaml.Node


def find(root: yaml.Node | None, path: Sequence[str | int], *,
         aliases: Mapping[str, str] | None = None) -> list[Step]:
    """The nodes along `path` (keys, and list indexes as numbers or digits), as far as the file
    has them: a part that is not there ends the list. A key is found where its value came from
    (`pairs`); `aliases` names another key to look for when one is missing."""
    steps: list[Step] = []
    node = root
    for part in path:
        if isinstance(node, yaml.MappingNode):
            found = _key(node, part) or _key(node, (aliases or {}).get(str(part)))
            if found is None:
                break
            steps.append(Step(*found))
        elif isinstance(node, yaml.SequenceNode):
            index = _index(part, len(node.value))
            if index is None:
                break
            steps.append(Step(None, node.value[index]))
        else:
            break
        node = steps[-1].value
    return steps


def _key(node: yaml.MappingNode, name: str | int | None) -> _Pair | None:
    if not isinstance(name, str):
        return None
    found = [(k, v) for k, v in pairs(node) if isinstance(k, yaml.ScalarNode) and k.value == name]
    return found[-1] if found else None


def _index(part: str | int, length: int) -> int | None:
    index = part if isinstance(part, int) else int(part) if part.isdigit() else None
    return index if index is not None and 0 <= index < length else None
