"""The YAML reading shared by stack and app files: merges, key positions and error lines."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from mesostack import yamlfile
from mesostack.yamlfile import UniqueKeyLoader


class _Names(UniqueKeyLoader):
    BOOL_KEYS_ARE_NAMES = True


def data(text: str, loader: type[UniqueKeyLoader] = UniqueKeyLoader) -> Any:
    return yamlfile.load(text, loader)[0]


def test_a_mappings_own_key_wins_over_a_merged_one_and_keeps_its_place() -> None:
    loaded = data("a: &a {x: 1, y: 2}\nb:\n  <<: *a\n  x: 3\n  z: 4\n")
    assert loaded["b"] == {"x": 3, "y": 2, "z": 4}
    assert list(loaded["b"]) == ["x", "y", "z"]  # merged keys first, as PyYAML orders them


@pytest.mark.parametrize("merge", ["<<: [*a, *b]", "<<: *a\n  <<: *b"])
def test_of_several_merged_mappings_the_first_wins(merge: str) -> None:
    loaded = data(f"a: &a {{port: 1, k: 1}}\nb: &b {{port: 2, k: 2, only_b: 2}}\nc:\n  {merge}\n")
    assert loaded["c"] == {"port": 1, "k": 1, "only_b": 2}


def test_an_override_inside_a_merged_mapping_reused_by_alias_is_no_duplicate() -> None:
    text = ("first:\n  <<: &defaults\n    <<: &base\n      source: a\n    source: b\n"
            "second: *defaults\n")
    assert data(text) == {"first": {"source": "b"}, "second": {"source": "b"}}


def test_a_mapping_merging_itself_adds_nothing() -> None:
    assert data("&a {<<: *a, id: x}") == {"id": "x"}


def test_a_merged_on_key_is_a_name_where_keys_are_names() -> None:
    assert data("a: &a {on: [n1]}\nb: {<<: *a}\n", _Names)["b"] == {"on": ["n1"]}


def test_a_merge_of_something_else_than_a_mapping_is_refused() -> None:
    with pytest.raises(yaml.constructor.ConstructorError, match="expected a mapping"):
        data("a: {<<: [1]}\n")


TEXT = """\
base: &base
  port: 2181
  image: x
small: &small
  cpus: 1
app:
  <<: [*small, *base]
  port: 5050
  items:
    - first
    - second
"""


@pytest.mark.parametrize(("path", "key_line", "value_line"), [
    (["app", "port"], 8, 8),  # its own key, not the anchor's
    (["app", "image"], 3, 3),  # merged: where the value came from
    (["app", "cpus"], 5, 5),
    (["app", "items", 1], None, 11),
    (["app", "items", "0"], None, 10),  # pydantic's paths give indexes as digits
])
def test_find_names_the_node_that_gave_the_value(path: list[str | int], key_line: int | None,
                                                 value_line: int) -> None:
    composed = yaml.compose(TEXT, Loader=UniqueKeyLoader)
    _, constructed = yamlfile.load(TEXT, UniqueKeyLoader)
    for root in (composed, constructed):  # before and after the merge was applied
        steps = yamlfile.find(root, path)
        assert len(steps) == len(path)
        last = steps[-1]
        assert (last.key.start_mark.line + 1 if last.key else None) == key_line
        assert last.value.start_mark.line + 1 == value_line


def test_find_stops_at_the_first_missing_part_and_knows_aliases() -> None:
    _, root = yamlfile.load("agent:\n  port: 1\nlist: [a]\n", UniqueKeyLoader)
    assert [s.value.start_mark.line for s in yamlfile.find(root, ["agent", "nope", "x"])] == [1]
    assert len(yamlfile.find(root, ["slave", "port"], aliases={"slave": "agent"})) == 2
    assert len(yamlfile.find(root, ["list", 1])) == 1  # past the end
    assert len(yamlfile.find(root, ["list", "-1"])) == 1  # not an index


class _Apps(UniqueKeyLoader):
    DUPLICATE_IS_SYNTAX_ERROR = False


@pytest.mark.parametrize(("loader", "message"), [
    (UniqueKeyLoader, "f.yaml:2:1: YAML syntax error: duplicate key 'a'"),
    (_Apps, "f.yaml:2:1: duplicate key 'a'"),
])
def test_a_duplicate_key_is_reported_as_each_file_kind_says(loader: type[UniqueKeyLoader],
                                                            message: str) -> None:
    text = "a: 1\na: 2\n"
    with pytest.raises(yaml.YAMLError) as raised:
        yamlfile.load(text, loader)
    assert str(yamlfile.error(raised.value, text, source="f.yaml", loader_class=loader)) == message


def test_an_unacceptable_character_is_named_with_its_line_and_column() -> None:
    text = "a: 1\nb: \x07\n"
    with pytest.raises(yaml.YAMLError) as raised:
        yamlfile.load(text, UniqueKeyLoader)
    message = str(yamlfile.error(raised.value, text, source="f.yaml",
                                 loader_class=UniqueKeyLoader))
    assert message.startswith("f.yaml:2:4: YAML syntax error: unacceptable character #x0007")
