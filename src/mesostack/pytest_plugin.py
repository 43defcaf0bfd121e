"""The pytest plugin (entry point `mesostack` under `pytest11`): a stack brought up once for a
test session, apps deployed for one test and removed after it, and a diagnostic bundle for each
failed test that used the stack.

It costs nothing until a test asks for its fixtures: this module imports only the standard
library, pytest and mesostack's errors; the API, docker, requests and filelock load when the
`mesostack_stack` fixture is first set up. `-p no:mesostack` turns it off.

Host networking allows one stack of a name per machine, so every user of it (pytest-xdist's
workers, another run) shares it through files in one directory (`shared_dir`): a lock around
bringing it up and taking it down, and a seat per user, a file each holds locked while it runs.
The kernel drops the lock of a killed process, so a seat nobody holds is a run that died: its
apps (labelled with its session) are removed, and it no longer keeps the stack up. Under
pytest-xdist a worker may end before another starts: the run's workers leave a mark that the
run holds the stack, and the controller, once every worker is done, takes it down.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from mesostack.errors import InputError, MesostackError

if TYPE_CHECKING:
    from filelock import BaseFileLock

    from mesostack.api import AppSource, Bundled, Deployed, Stack

__all__ = ["LABEL", "AppFactory", "Shared", "shared_dir"]

LABEL = "io.mesostack.pytest"  # on every app `mesostack_app` deploys: the session's id
LOCK_TIMEOUT = 900.0  # seconds to wait for another user of the stack to bring it up or down
STACK_FIXTURE = "mesostack_stack"
SECTION = "mesostack bundle"
log = logging.getLogger("mesostack.pytest")


@dataclass(frozen=True)
class Settings:
    """The options, resolved: the stack file (None: as the command line finds it), keep, the
    bundles' directory, this session's id (shared by a pytest-xdist run's workers), and
    whether this is such a worker."""

    file: str | None
    keep: bool
    bundle_dir: Path | None
    session: str
    worker: bool = False


_SESSION = pytest.StashKey[str]()
_CONTROLLER = pytest.StashKey[bool]()  # pytest-xdist's controller, its workers started
_STACK = pytest.StashKey["Stack"]()


# --- options -----------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mesostack", "mesostack (the fixtures mesostack_stack, mesostack_app)")
    group.addoption("--mesostack-file", metavar="PATH", default=None,
                    help="the stack file (default: as `mesostack` finds it: $MESOSTACK_FILE, "
                         "./stack.yaml, else the built-in default); ini: mesostack_file")
    group.addoption("--mesostack-keep", action="store_true", default=False,
                    help="leave the stack up at the end; the next run reuses it; "
                         "ini: mesostack_keep")
    group.addoption("--mesostack-bundle-dir", metavar="DIR", default=None,
                    help="write a diagnostic bundle there for each failed test that used the "
                         "stack; ini: mesostack_bundle_dir")
    parser.addini("mesostack_file", "the stack file, relative to the ini file", default="")
    parser.addini("mesostack_keep", "leave the stack up at the end", type="bool", default=False)
    parser.addini("mesostack_bundle_dir", "where failed tests' bundles go, relative to the ini "
                  "file", default="")


def pytest_configure(config: pytest.Config) -> None:
    """One id per run: pytest-xdist's workers share their controller's."""
    given = _workerinput(config).get("testrunuid")
    config.stash[_SESSION] = str(given or os.urandom(8).hex())


def _workerinput(config: pytest.Config) -> Mapping[str, Any]:
    """What pytest-xdist gives a worker (nothing elsewhere)."""
    found: Mapping[str, Any] = getattr(config, "workerinput", None) or {}
    return found


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist's controller, starting a worker: the run's id is the workers' one."""
    node.config.stash[_SESSION] = str(node.workerinput["testrunuid"])
    node.config.stash[_CONTROLLER] = True


def pytest_sessionfinish(session: pytest.Session) -> None:
    """pytest-xdist's controller, every worker done: the stack the run held is taken down
    (unless keep) when no other run uses it. One look at a directory for any other run."""
    config = session.config
    if not config.stash.get(_CONTROLLER, False):
        return
    if not list(shared_dir().glob(f"*.run.{config.stash[_SESSION]}")):
        return
    chosen = settings(config)
    try:
        stack = load_stack(chosen.file)
        with Shared(shared_dir(), stack.name, chosen.session).finishing() as last:
            _end(stack, last=last, keep=chosen.keep)
    except MesostackError as exc:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:  # after the progress line, which has no end yet
            reporter.write(f"\nmesostack: error: {exc}\n")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def settings(config: pytest.Config) -> Settings:
    """The options as given, else their ini values (paths relative to the ini file)."""
    base = config.inipath.parent if config.inipath else config.rootpath
    file = config.getoption("mesostack_file") or _ini_path(config, "mesostack_file", base)
    bundles = (config.getoption("mesostack_bundle_dir")
               or _ini_path(config, "mesostack_bundle_dir", base))
    keep = bool(config.getoption("mesostack_keep") or config.getini("mesostack_keep"))
    return Settings(file=str(file) if file else None, keep=keep,
                    bundle_dir=config.invocation_params.dir / bundles if bundles else None,
                    session=config.stash[_SESSION], worker=bool(_workerinput(config)))


def _ini_path(config: pytest.Config, name: str, base: Path) -> Path | None:
    value = str(config.getini(name) or "")
    return base / value if value else None


# --- the fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def mesostack_stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    """The stack, up for the whole session (`mesostack.api.Stack`): brought up by the first of
    its users, taken down by the last one out unless --mesostack-keep. What fails setting it
    up is each test's error in mesostack's own words (no traceback through mesostack)."""
    chosen = settings(request.config)
    stack, shared = _set_up_or_fail(chosen)
    request.config.stash[_STACK] = stack
    try:
        yield stack
    finally:
        with shared.leaving() as last:
            _end(stack, last=last, keep=chosen.keep)


def _end(stack: Stack, *, last: bool, keep: bool) -> None:
    """The last user out takes the stack down, unless keep."""
    if last and not keep:
        log.info("stack %s: taking it down", stack.name)
        stack.down()
    elif last:
        log.info("stack %s: left up (--mesostack-keep)", stack.name)


def _set_up_or_fail(chosen: Settings) -> tuple[Stack, Shared]:
    try:
        return _set_up(chosen)
    except MesostackError as exc:
        said = "\n".join(filter(None, [str(exc), exc.detail]))
    pytest.fail(said, pytrace=False)  # outside the handler: nothing chained to it


def _set_up(chosen: Settings) -> tuple[Stack, Shared]:
    """The stack loaded, up (by the first of its users) and rid of what gone sessions left;
    a seat taken in it."""
    if chosen.file and not Path(chosen.file).is_file():
        raise InputError(f"{chosen.file}: no such file",
                             hint="check --mesostack-file or the ini's mesostack_file")
    stack = load_stack(chosen.file)
    shared = Shared(shared_dir(), stack.name, chosen.session)
    with shared.entering() as others:
        if others:
            remove_stale(stack, keep={chosen.session, *others})
        else:
            _bring_up(stack, chosen, shared)
        if chosen.worker:
            shared.hold_for_run()
    return stack, shared


@pytest.fixture
def mesostack_app(mesostack_stack: Stack, request: pytest.FixtureRequest
                  ) -> Iterator[AppFactory]:
    """`mesostack_app(app, ...)` deploys an app (a file or the data) for this test, labelled
    with the session's id, and the app is removed when the test ends."""
    factory = AppFactory(mesostack_stack, request.config.stash[_SESSION])
    try:
        yield factory
    finally:
        factory.remove_all()


def load_stack(file: str | None) -> Stack:
    """The stack file as `mesostack up` finds it (-f, $MESOSTACK_FILE, ./stack.yaml, the
    built-in default), loaded through the API (its warnings to the "mesostack" logger)."""
    from mesostack import api, config

    stack = api.Stack(config.load(file))
    _ = stack.loaded  # checked now: a bad file is the fixture's error
    return stack


def _bring_up(stack: Stack, chosen: Settings, shared: Shared) -> None:
    """`up`, and the apps of sessions that are gone removed; when that fails, a bundle and the
    stack taken down (unless keep), and the failure left for the session's other workers,
    which then fail at once rather than try again."""
    log.info("stack %s: bringing it up for session %s", stack.name, chosen.session)
    try:
        stack.up()
        remove_stale(stack, keep={chosen.session})
    except BaseException as exc:
        if isinstance(exc, Exception):
            shared.record_failure(str(exc))
            if chosen.bundle_dir is not None:
                _bundle(stack, chosen.bundle_dir, f"{stack.name}-up")
        if not chosen.keep:
            _down_quietly(stack)
        raise


def _down_quietly(stack: Stack) -> None:
    try:
        stack.down()
    except MesostackError as exc:
        log.warning("stack %s: down after the failed up failed too: %s", stack.name, exc)


def remove_stale(stack: Stack, *, keep: Iterable[str]) -> list[str]:
    """Remove the apps a session that is gone left (labelled, but with none of `keep`'s ids):
    a killed run's, whose removal after each test never came."""
    kept = set(keep)
    stale = [str(app.get("id")) for app in stack.marathon_client().apps()
             if (owner := (app.get("labels") or {}).get(LABEL)) and owner not in kept]
    for app_id in stale:
        log.info("stack %s: removing %s, left by a session that is gone", stack.name, app_id)
        stack.remove(app_id, force=True)
    return stale


class AppFactory:
    """What `mesostack_app` gives: call it to deploy; what it deployed is removed after the
    test, even when deploying failed half-way."""

    def __init__(self, stack: Stack, session: str) -> None:
        self.stack = stack
        self.session = session
        self.app_ids: list[str] = []  # every app it was asked to deploy, in order

    def __call__(self, *apps: AppSource, wait: bool = True, timeout: float = 300.0,
                 settle: float | None = None, force: bool = False) -> Deployed:
        """`Stack.deploy` of the apps (files, JSON or YAML, or the data: an app, a list of
        apps, a group), each app with the label `io.mesostack.pytest: <session id>` added."""
        bodies, app_ids = labelled(apps, self.session, warn=self.stack.callbacks.warn)
        self.app_ids.extend(app_ids)
        options: dict[str, Any] = {} if settle is None else {"settle": settle}
        return self.stack.deploy(*bodies, wait=wait, timeout=timeout, force=force, **options)

    def remove_all(self) -> None:
        """Remove each app deployed that Marathon still has (the test may have removed it),
        the last first; every one is tried, the first failure raised."""
        if not self.app_ids:
            return
        present = {str(app.get("id")) for app in self.stack.marathon_client().apps()}
        failures: list[MesostackError] = []
        for app_id in reversed(dict.fromkeys(self.app_ids)):
            if app_id in present:
                try:
                    self.stack.remove(app_id, force=True)
                except MesostackError as exc:
                    failures.append(exc)
        if failures:
            raise failures[0]


def labelled(apps: Sequence[AppSource], session: str, *,
             warn: Callable[[str], None]) -> tuple[list[dict[str, Any]], list[str]]:
    """Each app or group to deploy as data, read and checked as `deploy` reads it (a file's
    errors name the file), with every app labelled, and the ids of all their apps; the
    loading's warnings to `warn`."""
    from mesostack import apps as apps_

    if not apps:
        raise InputError("mesostack_app: no app given; give a file or an app's definition")
    bodies: list[dict[str, Any]] = []
    app_ids: list[str] = []
    for app in apps:
        if isinstance(app, str | os.PathLike):
            loaded = apps_.load_file(Path(app))
        else:
            loaded = apps_.parse_data(app, source=_named(app))
        for warning in loaded.warnings:
            warn(warning)
        for request in loaded.requests:
            bodies.append(_label(request.body, session, group=request.path == apps_.GROUPS_PATH))
            app_ids.extend(request.app_ids)
    return bodies, app_ids


def _label(body: dict[str, Any], session: str, *, group: bool) -> dict[str, Any]:
    """An app with the session's label added to its own, or a group with all its apps so."""
    if not group:
        return {**body, "labels": {**(body.get("labels") or {}), LABEL: session}}
    done = dict(body)
    if isinstance(body.get("apps"), list):
        done["apps"] = [_label(app, session, group=False) for app in body["apps"]]
    if isinstance(body.get("groups"), list):
        done["groups"] = [_label(inner, session, group=True) for inner in body["groups"]]
    return done


def _named(data: object) -> str:
    """How messages name an app given as data (as the API does): `app web`, `apps`."""
    if not isinstance(data, Mapping):
        return "apps"
    kind = "group" if "apps" in data or "groups" in data else "app"
    return f"{kind} {data['id']}" if data.get("id") else kind


# --- a bundle for a failed test ----------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test's call that used the stack: its bundle in --mesostack-bundle-dir, named
    after the test, before its apps are removed; where it went is in the report."""
    report = yield
    if (report.when == "call" and report.failed
            and STACK_FIXTURE in getattr(item, "fixturenames", ())):
        directory = settings(item.config).bundle_dir
        stack = item.config.stash.get(_STACK, None)
        if directory is not None and stack is not None:
            said = _bundle(stack, directory, sanitised(item.nodeid))
            report.sections.append((SECTION, said))
            item.user_properties.append(("mesostack_bundle", said))
    return report


def sanitised(nodeid: str) -> str:
    """A test's node id as a file name: `tests/test_a.py::test_b[x-1]` is
    `tests_test_a.py__test_b_x-1`."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", nodeid).strip("._") or "test"
    return name[:150]


def _bundle(stack: Stack, directory: Path, name: str) -> str:
    """A bundle as `directory/name.tar.gz` (`-2`, `-3`... when taken); one line saying where,
    or why there is none (a failure here must not hide the test's)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        made: Bundled = stack.bundle(_free(directory, name))
    except (MesostackError, OSError) as exc:
        log.warning("stack %s: no bundle for %s: %s", stack.name, name, exc)
        return f"no bundle: {exc}"
    return str(made.path)


def _free(directory: Path, name: str) -> Path:
    for suffix in ("", *(f"-{n}" for n in range(2, 1000))):
        path = directory / f"{name}{suffix}.tar.gz"
        if not path.exists():
            return path
    raise MesostackError(f"{directory / name}.tar.gz and 998 more exist; not overwriting them")


# --- one stack, shared -------------------------------------------------------------------------


def shared_dir() -> Path:
    """Where the users of a stack on this machine meet: the same for every worker and run of
    this user (the temporary directory's `mesostack-pytest-UID`)."""
    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    return Path(tempfile.gettempdir()) / f"mesostack-pytest-{user}"


class Shared:
    """The users of the stack `name`: a lock around bringing it up, cleaning and taking it
    down, and a seat per user (`NAME.seat.SESSION.PID.lock`, held locked while it runs); a seat
    nobody holds is left by a process that died, and is removed by the next one to look. A
    pytest-xdist run's workers also leave `NAME.run.SESSION`: the run holds the stack until
    its controller is done (`finishing`), whichever workers come and go."""

    def __init__(self, directory: Path, name: str, session: str) -> None:
        self.directory = directory
        self.name = name
        self.session = session
        self._seat: BaseFileLock | None = None

    @property
    def _seat_path(self) -> Path:
        return self.directory / f"{self.name}.seat.{self.session}.{os.getpid()}.lock"

    @property
    def _run_path(self) -> Path:
        return self.directory / f"{self.name}.run.{self.session}"

    @contextlib.contextmanager
    def entering(self) -> Iterator[set[str]]:
        """Under the lock: the sessions of the stack's other users, this one's own when its
        run holds the stack (none: bring it up); a seat taken when the block ends without an
        error. A failed `up` of this session's (another worker's) is raised at once."""
        with self._lock():
            self._failed_before()
            others = self.users() | ({self.session} if self._run_path.exists() else set())
            if not others:  # what runs that are gone left
                for old in [*self.directory.glob(f"{self.name}.failed.*"),
                            *self.directory.glob(f"{self.name}.run.*")]:
                    old.unlink(missing_ok=True)
            yield others
            self._take_seat()

    @contextlib.contextmanager
    def leaving(self) -> Iterator[bool]:
        """Under the lock: this seat given up; whether it was the last user (take the stack
        down): not while this run holds it."""
        with self._lock():
            if self._seat is not None:
                self._seat.release()
                self._seat = None
                self._seat_path.unlink(missing_ok=True)
            yield not self.users() and not self._run_path.exists()

    @contextlib.contextmanager
    def finishing(self) -> Iterator[bool]:
        """Under the lock: the run's hold on the stack given up; whether no one else uses it."""
        with self._lock():
            self._run_path.unlink(missing_ok=True)
            yield not self.users()

    def hold_for_run(self) -> None:
        self._run_path.touch()

    def users(self) -> set[str]:
        """The sessions of the seats held by live processes (this one's own excluded); the
        seats of dead ones removed."""
        from filelock import FileLock, Timeout

        found: set[str] = set()
        for path in self.directory.glob(f"{self.name}.seat.*.lock"):
            if path == self._seat_path and self._seat is not None:
                continue
            probe = FileLock(path)
            try:
                probe.acquire(timeout=0)
            except Timeout:
                found.add(path.name.removeprefix(f"{self.name}.seat.").split(".")[0])
                continue
            probe.release()
            path.unlink(missing_ok=True)
        return found

    def record_failure(self, message: str) -> None:
        """Tell this session's other users that `up` failed, and how."""
        (self.directory / f"{self.name}.failed.{self.session}").write_text(message)

    def _failed_before(self) -> None:
        path = self.directory / f"{self.name}.failed.{self.session}"
        if path.exists():
            raise MesostackError(f"stack {self.name}: up failed for this run already: "
                                 f"{path.read_text().strip()}")

    def _take_seat(self) -> None:
        from filelock import FileLock

        seat = FileLock(self._seat_path)
        seat.acquire(timeout=0)
        self._seat = seat

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        from filelock import FileLock, Timeout

        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{self.name}.lock"
        lock = FileLock(path)
        try:
            lock.acquire(timeout=LOCK_TIMEOUT)
        except Timeout:
            raise MesostackError(f"stack {self.name}: {path} still locked after "
                                 f"{LOCK_TIMEOUT:.0f} s",
                                 hint="another pytest run or worker is bringing it up or "
                                      "down; is one stuck?") from None
        try:
            yield
        finally:
            lock.release()
