"""A stack for the pytest plugin's tests, in place of the API's `Stack`: what it was asked and
what its Marathon holds are files in one directory ($MESOSTACK_FAKE_STACK), so that a test sees
what a pytester run did, in its own process or another (pytest-xdist's workers), and a run
finds what an earlier one left.

Load it as a plugin (`-p fakestack`): it puts `FakeStack` in the API's place for the session.
(PYTEST_DONT_REWRITE: the tests import it before pytester's runs load it as a plugin.)
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from mesostack import apps as apps_
from mesostack.api import AppRow, Bundled, Callbacks, Changed, Deployed
from mesostack.config import LoadedConfig
from mesostack.errors import MesostackError

ENV = "MESOSTACK_FAKE_STACK"
BROKEN = "broken"  # an app whose id ends so is created, then its deployment fails


@dataclass(frozen=True)
class Fake:
    """The fake's files: the calls made (in order, with the process), Marathon's apps and
    their labels, and what is to fail."""

    directory: Path

    def calls(self) -> list[dict[str, Any]]:
        path = self.directory / "calls.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def said(self) -> list[str]:
        """The calls as `up`, `deploy /a`, `remove /a`..., in order."""
        return [" ".join([c["call"], *c["args"]]) for c in self.calls()]

    def apps(self) -> dict[str, dict[str, str]]:
        return dict(self._state().get("apps", {}))

    def add_app(self, app_id: str, labels: Mapping[str, str]) -> None:
        with self._locked() as state:
            state.setdefault("apps", {})[app_id] = dict(labels)

    def fail(self, call: str, message: str) -> None:
        """`call` (up, down, bundle) raises MesostackError(message) from now on."""
        with self._locked() as state:
            state.setdefault("fail", {})[call] = message

    def record(self, call: str, *args: str) -> None:
        with self._locked(), (self.directory / "calls.jsonl").open("a") as out:
            out.write(json.dumps({"call": call, "args": list(args), "pid": os.getpid()})
                      + "\n")

    def failing(self, call: str) -> None:
        message = self._state().get("fail", {}).get(call)
        if message:
            raise MesostackError(message)

    def _state(self) -> dict[str, Any]:
        path = self.directory / "state.json"
        return dict(json.loads(path.read_text())) if path.exists() else {}

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with FileLock(self.directory / "state.lock"):
            state = self._state()
            yield state
            written = self.directory / f"state.{os.getpid()}.json"
            written.write_text(json.dumps(state))
            written.replace(self.directory / "state.json")  # whole, for readers without the lock


class FakeMarathon:
    def __init__(self, fake: Fake) -> None:
        self.fake = fake

    def apps(self) -> list[dict[str, Any]]:
        return [{"id": app_id, "labels": labels} for app_id, labels in self.fake.apps().items()]


class FakeStack:
    """The API's `Stack` as the plugin uses it, on a real `LoadedConfig`."""

    def __init__(self, loaded: LoadedConfig, **_: object) -> None:
        self.loaded = loaded
        self.callbacks = Callbacks()
        self.fake = Fake(Path(os.environ[ENV]))

    @property
    def name(self) -> str:
        return self.loaded.config.name

    def up(self, **_: object) -> None:
        self.fake.record("up", str(self.loaded.source))
        self.fake.failing("up")

    def down(self, **_: object) -> None:
        self.fake.record("down")
        self.fake.failing("down")

    def apps(self) -> list[AppRow]:
        """Every app running its one task."""
        return [AppRow(app_id, 1, 1, 0, 0, ()) for app_id in self.fake.apps()]

    def marathon_client(self) -> FakeMarathon:
        return FakeMarathon(self.fake)

    def deploy(self, *apps: Any, **options: Any) -> Deployed:
        requests = [r for app in apps for r in apps_.parse_data(app, source="app").requests]
        app_ids: list[str] = []
        for request in requests:
            found = (_apps_of(request.body, group=True) if request.path == apps_.GROUPS_PATH
                     else [(request.app_ids[0], dict(request.body.get("labels") or {}))])
            for app_id, labels in found:
                self.fake.record("deploy", app_id, json.dumps(labels, sort_keys=True))
                self.fake.add_app(app_id, labels)
                app_ids.append(app_id)
        broken = [a for a in app_ids if a.endswith(BROKEN)]
        if broken:
            raise MesostackError(f"deployment of {broken[0]} failed")
        return Deployed(tuple(app_ids), (), tuple(requests))

    def remove(self, app_id: str, **options: Any) -> Changed:
        self.fake.record("remove", app_id, *(f"{k}={v}" for k, v in sorted(options.items())))
        with self.fake._locked() as state:
            state["apps"].pop(app_id)
        return Changed(app_id, "")

    def bundle(self, output: str | os.PathLike[str] | None = None, **_: object) -> Bundled:
        path = Path(output or "bundle.tar.gz")
        self.fake.record("bundle", path.name)
        self.fake.failing("bundle")
        path.write_bytes(b"bundle")
        return Bundled(path, {}, f"bundle: {path}")


def _apps_of(body: Mapping[str, Any], *, group: bool) -> Iterator[tuple[str, dict[str, str]]]:
    if not group:
        yield str(body["id"]), dict(body.get("labels") or {})
        return
    for app in body.get("apps") or []:
        yield from _apps_of(app, group=False)
    for inner in body.get("groups") or []:
        yield from _apps_of(inner, group=True)


_PATCH = pytest.StashKey[pytest.MonkeyPatch]()


def pytest_configure(config: pytest.Config) -> None:
    """In every process of the run (pytest-xdist's controller too, which takes the stack down
    once its workers are done), before the plugin loads a stack."""
    patch = config.stash[_PATCH] = pytest.MonkeyPatch()
    patch.setattr("mesostack.api.Stack", FakeStack)


def pytest_unconfigure(config: pytest.Config) -> None:
    config.stash[_PATCH].undo()
