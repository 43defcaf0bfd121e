"""Several containers' logs followed at once (`mesostack logs -f`): one stream of (name, line),
each log in its own order, until every log ends; a log that fails ends the stream with it."""

from __future__ import annotations

import pytest

from fakes import FakeEngine, container
from mesostack.errors import MesostackError
from mesostack.runtime import Engines


def test_lines_of_every_log_come_each_in_its_order() -> None:
    engine = FakeEngine([container("s-master"), container("s-slave")],
                        log_texts={"s-master": "m1\nm2\nm3\n", "s-slave": "a1\na2\n"})
    lines = list(Engines({None: engine}).follow_many(engine.held, tail=5))
    assert sorted(lines) == sorted([("s-master", "m1"), ("s-master", "m2"), ("s-master", "m3"),
                                    ("s-slave", "a1"), ("s-slave", "a2")])
    assert [line for name, line in lines if name == "s-master"] == ["m1", "m2", "m3"]
    assert sorted(engine.called("follow_logs")) == ["s-master", "s-slave"]
    assert {options["tail"] for method, _, options in engine.calls
            if method == "follow_logs"} == {5}


def test_a_log_that_fails_ends_the_stream_with_its_error() -> None:
    broken = MesostackError("the Docker engine stopped answering while following s-slave")
    engine = FakeEngine([container("s-master"), container("s-slave")],
                        log_texts={"s-master": "m1\n"},
                        failures={"follow_logs s-slave": broken})
    with pytest.raises(MesostackError, match="while following s-slave"):
        list(Engines({None: engine}).follow_many(engine.held))
