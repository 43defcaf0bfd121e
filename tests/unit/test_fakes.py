"""The shared fake engine answers as `Engine` does, so tests on it say something about `up` and
`down` on Docker: same members as the Protocol, same listing, removal and failure rules."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import pytest

from fakes import FakeEngine, container
from mesostack.config import StackConfig
from mesostack.errors import MesostackError
from mesostack.plan import Role, build
from mesostack.runtime import ContainerFailed, Engine, EngineAPI, Engines, ImageUnavailable


def parameters(method: Callable[..., object]) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(method).parameters.values()]


def test_the_engine_and_the_fake_take_every_call_of_the_protocol_alike() -> None:
    real: EngineAPI = Engine(None, "unix:///var/run/docker.sock")  # mypy checks both assignments
    fake: EngineAPI = FakeEngine()
    members = [name for name in vars(EngineAPI) if not name.startswith("_") and name != "endpoint"]
    assert len(members) == 19
    for name in members:
        expected = parameters(getattr(EngineAPI, name))
        assert parameters(getattr(type(real), name)) == expected, name
        assert parameters(getattr(type(fake), name)) == expected, name
    assert real.endpoint == fake.endpoint


def test_the_fake_creates_lists_and_removes_as_the_engine_does() -> None:
    spec = build(StackConfig(), "127.0.0.1").spec(Role.MASTER)
    engine = FakeEngine(held=[container("mesos-1")], key="tcp://10.0.0.2:2376")
    with pytest.raises(ImageUnavailable, match=f"image {spec.image} is not on the engine"):
        engine.create_and_start(spec)
    engine.images[spec.image] = "sha256:m"
    created = engine.create_and_start(spec)
    assert (created.status, created.image_id, created.engine) == ("running", "sha256:m",
                                                                  "tcp://10.0.0.2:2376")
    with pytest.raises(ContainerFailed, match="already in use"):
        engine.create_and_start(spec)
    listed = engine.containers(stack="mesostack", inspect=False)
    assert [c.name for c in listed] == [spec.name] and listed[0].env == {}
    assert engine.containers(stack="mesostack")[0].env == dict(spec.env)
    assert Engines({engine.key: engine}).engine_of(created) is engine
    assert engine.remove(created.id) and not engine.remove(created.id)
    assert engine.get(spec.name) is None and engine.called("remove") == [created.id] * 2


def test_the_fake_fails_on_demand_for_one_target_or_every_call() -> None:
    engine = FakeEngine(held=[container("a"), container("b")],
                        failures={"remove id-a": MesostackError("container a: busy")})
    with pytest.raises(MesostackError, match="container a: busy"):
        engine.remove("id-a")
    assert engine.remove("id-b")
    engine.failures["get"] = MesostackError("the engine stopped answering")
    with pytest.raises(MesostackError, match="stopped answering"):
        engine.get("id-a")
    assert engine.called("remove") == ["id-a", "id-b"] and [c.name for c in engine.held] == ["a"]
