"""`mesostack smoke`: a stack checked from start to finish in one command, as a CI job runs it.

The steps, in order: the app files (checked here, as `deploy --dry-run` does), doctor, up,
deploy, each app (its expected text in its task's output, or it deployed and healthy), status;
after a failure a diagnostic bundle; then down, always once the engine was reached (unless
kept), Ctrl-C and SIGTERM included. One line a step on stderr, the last one naming the step
that failed, and, when asked, a JUnit XML report (one testcase a step and an app).

`run` does it all on a `Stack` and says everything through `Output`, so that a test drives it
on fakes; the command (`mesostack.cli.smoke`) is a thin layer on it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import signal
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mesostack.errors import ExitCode, InputError, MesostackError
from mesostack.waiting import SYSTEM, Clock, Pending, Poll, TimedOut, wait

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET
    from types import FrameType

    from mesostack.api import AppSource, Stack
    from mesostack.apps import DeployRequest
    from mesostack.checks import Check
    from mesostack.orchestrator import StackStatus

SUITE = "mesostack smoke"  # the JUnit testsuite's name
STEPS = "mesostack.smoke"  # the JUnit classname of the steps
APPS = "mesostack.smoke.apps"  # and of the apps
DEFAULT_TIMEOUT = 120.0  # seconds deploy, then each app's wait for its text, may take
OUTPUT_INTERVAL = 1.0  # seconds between looks at an app's task output
TAIL_LINES = 10  # lines of a log or a task's output that a failure keeps
SHOWN_LINES = 5  # lines of a task's output shown once its text came
TERMINATED = 128 + int(signal.SIGTERM)  # 143: what a shell reports for a job SIGTERM ended
INTERRUPTED = (int(ExitCode.INTERRUPTED), TERMINATED)
BUILT_IN_TEXT = "Hello from mesostack smoke"
# Characters XML 1.0 can't carry (a log's escape sequences): replaced, or no reader parses it.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# --- what to check -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AppCheck:
    """An app to deploy (a file, or the app itself) and what shows that it works: `expect` in
    its task's stdout ("": any output), or, when None, the app deployed and healthy."""

    app: AppSource
    expect: str | None = None
    source: str = ""  # how messages name it until its id is known

    def wants(self) -> str:
        if self.expect is None:
            return "deployed and healthy"
        return f'"{self.expect}" in its output' if self.expect else "any output"


def parse_app(argument: str, *, is_file: Callable[[str], bool] = os.path.isfile) -> AppCheck:
    """APP_FILE or APP_FILE=TEXT. An argument that names a file is that file, with no text;
    otherwise it is cut at the first `=` whose left side names a file (a path and a text may
    both hold `=`), else at its first `=` (and "app files" then says the file is missing)."""
    if "=" not in argument or is_file(argument):
        return AppCheck(argument, None, argument)
    cuts = [index for index, char in enumerate(argument) if char == "="]
    cut = next((index for index in cuts if is_file(argument[:index])), cuts[0])
    return AppCheck(argument[:cut], argument[cut + 1:], argument[:cut])


def built_in() -> AppCheck:
    """The app smoked when none is given: a command app printing a known line (no image to
    pull, and it runs on an agent with command tasks only)."""
    app = {"id": "mesostack-smoke", "instances": 1, "cpus": 0.1, "mem": 16,
           "cmd": f"while true; do echo '{BUILT_IN_TEXT}'; sleep 2; done"}
    return AppCheck(app, BUILT_IN_TEXT, "the built-in app")


# --- how it went -------------------------------------------------------------------------------


class Verdict(Enum):
    PASSED = "passed"
    FAILED = "failed"  # mesostack's typed error, or a check that did not hold
    ERROR = "error"  # interrupted, or a bug
    SKIPPED = "skipped"  # not run after a failure, or down with --keep


@dataclass(frozen=True)
class Outcome:
    """One testcase (a step or an app): how it went and how long it took; when it did not
    pass, the one-line error (or why it did not run), the error's type, the log tail and the
    exit code it stands for."""

    name: str
    classname: str = STEPS
    verdict: Verdict = Verdict.PASSED
    seconds: float = 0.0
    message: str = ""
    kind: str = ""
    tail: str = ""
    exit_code: int = 0
    label: str = ""  # how stderr names the step (`app basic-0`), when not its name

    @property
    def step(self) -> str:
        return self.label or self.name


@dataclass(frozen=True)
class Result:
    """A whole run: every testcase in order, the exit code and the last line said."""

    outcomes: tuple[Outcome, ...]
    exit_code: int
    seconds: float
    started: datetime
    last_line: str


@dataclass(frozen=True)
class Settings:
    """The command's options: deploy's and each app's timeout, --keep, where the bundle and
    the JUnit report go, and whether to fold each step in GitHub Actions' log."""

    timeout: float = DEFAULT_TIMEOUT
    keep: bool = False
    bundle: str | None = None  # a file (an earlier one replaced) or a directory; None: here
    junit_xml: str | None = None
    github: bool = False


@dataclass(frozen=True)
class Output:
    """Where the run speaks: lines on stderr, the result on stdout (the apps' output seen),
    and the status table."""

    say: Callable[[str], None]
    show: Callable[[str], None]
    status: Callable[[StackStatus], None]


class CheckFailed(MesostackError):
    """A step's check did not hold (blocking doctor checks, no expected text, not ready)."""


class Terminated(BaseException):
    """SIGTERM, raised in the main thread as Ctrl-C raises KeyboardInterrupt, so that the
    stack still goes down (Python's default ends the process at once)."""


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """While the block runs, SIGTERM raises Terminated (only the main thread may set it)."""

    def handler(_signum: int, _frame: FrameType | None) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# --- the run -----------------------------------------------------------------------------------


def run(stack: Stack, apps: Sequence[AppCheck], settings: Settings = Settings(), *,
        out: Output, clock: Clock = SYSTEM) -> Result:
    """Every step on `stack` (the built-in app when `apps` is empty), the bundle after a
    failure, down, the JUnit report; the result with its exit code: 0 all passed, else the
    first failed step's (its error's: 1, or 2 for input to fix; 1 for a check that did not
    hold), 130 for Ctrl-C, 143 for SIGTERM. A bug is raised once the stack is down."""
    smoke = _Run(stack, apps or [built_in()], settings, out, clock)
    started, began = datetime.now(UTC), clock.now()
    try:
        smoke.steps()
    finally:
        result = smoke.finish(started, began)
    if smoke.bug is not None:
        raise smoke.bug
    return result


class _Run:
    """One run's state: the apps' ids once read, the outcomes so far, the first failure."""

    def __init__(self, stack: Stack, apps: Sequence[AppCheck], settings: Settings,
                 out: Output, clock: Clock) -> None:
        self.stack, self.settings, self.out, self.clock = stack, settings, out, clock
        self.apps = list(apps)
        self.ids = [app.source for app in self.apps]  # each app's id once its file was read
        self.checked = [False] * len(self.apps)  # whether the app has health checks
        self.done: dict[str, Outcome] = {}  # by step
        self.first: Outcome | None = None
        self.reached = False  # the engine was (or may have been) touched: down at the end
        self.bug: Exception | None = None

    # --- steps ---------------------------------------------------------------------------

    def steps(self) -> None:
        """The steps until one fails."""
        files = ", ".join(app.source for app in self.apps)
        if not self.step("app files", self.check_apps, header=files):
            return
        self.reached = True
        deploying = f"{len(self.apps)} app(s), timeout {self.settings.timeout:g} s"
        for name, work, header in (("doctor", self.doctor, ""), ("up", self.up, ""),
                                   ("deploy", self.deploy, deploying)):
            if not self.step(name, work, header=header,
                             tail=self.task_tails if name == "deploy" else None):
                return
        for index, app in enumerate(self.apps):
            if not self.step(f"app {self.ids[index]}", functools.partial(self.app, index),
                             case=(APPS, self.ids[index]), header=app.wants()):
                return
        self.step("status", self.status)

    def step(self, name: str, work: Callable[[], None], *, header: str = "",
             case: tuple[str, str] | None = None, tail: Callable[[], str] | None = None) -> bool:
        """One step with its header line and its time; its outcome kept (the first failure
        remembered); whether it passed. An interrupt ends the step, not the run."""
        self._github(f"::group::smoke: {name}")
        self.out.say(f"smoke: ==> {name}" + (f": {header}" if header else ""))
        began = self.clock.now()
        verdict, error, code = self._attempt(work)
        seconds = self.clock.now() - began
        self._github("::endgroup::")
        classname, testcase = case or (STEPS, name)
        outcome = Outcome(testcase, classname, verdict, seconds, label=name, exit_code=code)
        if error is not None:
            detail = error.detail if isinstance(error, MesostackError) else ""
            outcome = _failed(outcome, error, detail or _best_effort(tail))
            self.out.say(f"smoke: <== {name}: FAILED, exit {code} ({seconds:.1f} s)")
            if self.first is None:
                self.first = outcome
        else:
            self.out.say(f"smoke: <== {name}: ok ({seconds:.1f} s)")
        self.done[name] = outcome
        return error is None

    def _attempt(self, work: Callable[[], None]
                 ) -> tuple[Verdict, BaseException | None, int]:
        """Run `work`: its verdict, what it raised and the exit code that stands for."""
        try:
            work()
        except MesostackError as exc:
            self.out.say(f"mesostack: error: {exc}")
            if exc.detail:
                self.out.say(exc.detail)
            return Verdict.FAILED, exc, int(exc.exit_code)
        except KeyboardInterrupt as exc:
            self.out.say("smoke: interrupted (SIGINT)")
            return Verdict.ERROR, exc, int(ExitCode.INTERRUPTED)
        except Terminated as exc:
            self.out.say("smoke: terminated (SIGTERM)")
            return Verdict.ERROR, exc, TERMINATED
        except Exception as exc:  # a bug: the stack still goes down, then it is raised
            self.bug = self.bug or exc
            return Verdict.ERROR, exc, int(ExitCode.FAILED)
        return Verdict.PASSED, None, 0

    def check_apps(self) -> None:
        """Each app file read and checked as `deploy --dry-run` does (nothing sent): one app
        a file, each app once."""
        seen: dict[str, str] = {}
        for index, app in enumerate(self.apps):
            request = one_app(self.stack.deploy(app.app, dry_run=True).requests, app.source)
            app_id = request.app_ids[0].removeprefix("/")
            if app_id in seen:
                raise InputError(f"{app.source}: app {app_id} is given twice (also in "
                                 f"{seen[app_id]})", hint="give each app once")
            seen[app_id] = app.source
            self.ids[index] = app_id
            self.checked[index] = bool(request.body.get("healthChecks"))
            self.out.say(f"smoke: app {app_id} from {app.source}: {app.wants()}")

    def doctor(self) -> None:
        found = self.stack.doctor()
        for check in found:
            if check.verdict.value in ("warn", "fail"):
                self.out.say(_check_line(check))
        blocking = [check for check in found if check.blocking]
        if blocking:
            first, many = blocking[0], "s" if len(blocking) > 1 else ""
            raise CheckFailed(f"doctor: {len(blocking)} blocking problem{many}: {first.name}: "
                              f"{first.found}", hint=first.fix or None,
                              detail="\n".join(_check_line(check) for check in blocking))
        self.out.say(f"smoke: doctor: {len(found)} checks, nothing blocking")

    def up(self) -> None:
        done = self.stack.up()
        changed = f"{len(done.changed)} changed" if done.changed else "nothing changed"
        self.out.say(f"stack {done.plan.stack} ready in {done.seconds:.1f} s ({changed})")

    def deploy(self) -> None:
        done = self.stack.deploy(*(app.app for app in self.apps), timeout=self.settings.timeout)
        self.out.say(f"deployed in {done.seconds:.1f} s")

    def app(self, index: int) -> None:
        app_id, expect = self.ids[index], self.apps[index].expect
        if expect is None:
            self.healthy(app_id, health_checked=self.checked[index])
        else:
            self.output(app_id, expect)

    def healthy(self, app_id: str, *, health_checked: bool) -> None:
        """The app runs every instance (each healthy when it has health checks)."""
        rows = {row.id: row for row in self.stack.apps()}
        row = rows.get("/" + app_id.strip("/"))
        if row is None:
            raise CheckFailed(f"app {app_id} is not in Marathon", hint="see `mesostack apps`")
        said = f"{app_id}: {row.running}/{row.instances} running" + (
            f", {row.healthy} healthy" if health_checked else "")
        if row.running < row.instances or (health_checked and row.healthy < row.instances):
            raise CheckFailed(f"app {said}", hint=f"see `mesostack task-logs {app_id}`",
                              detail=self.task_tails([app_id]))
        self.out.show(said)

    def output(self, app_id: str, expect: str) -> None:
        """Until the app's task output holds `expect` (any output when empty), polled: no
        task yet, or an agent that does not answer, is "not yet"."""
        seen = [""]

        def look() -> str:
            try:
                text = "".join(self.stack.task_logs(app_id))
            except MesostackError as exc:
                raise Pending(str(exc)) from None
            seen[0] = text
            if (expect in text) if expect else text:
                return text
            raise Pending(f'"{expect}" in its output' if expect else "any output")

        timeout = self.settings.timeout
        try:
            text = wait(look, deadline=self.clock.now() + timeout,
                        poll=Poll(OUTPUT_INTERVAL), clock=self.clock)
        except TimedOut as exc:
            what = f'no "{expect}" in {app_id}\'s output' if expect else f"no output from {app_id}"
            raise CheckFailed(f"{what} within {timeout:g} s",
                              hint=f"see `mesostack task-logs {app_id}`",
                              detail=_output_tail(app_id, seen[0], exc.waiting_for)) from None
        self.out.show(_shown(text, expect))

    def status(self) -> None:
        look = self.stack.status()
        self.out.status(look)
        if look.ready:
            return
        if not look.components:
            raise CheckFailed(f"stack {look.stack} has no containers",
                              hint="see `mesostack ls`")
        bad = [c for c in look.components if not c.ready]
        raise CheckFailed(f"stack {look.stack} is not ready: " + ", ".join(
            f"{c.name} ({c.detail or c.state})" for c in bad), hint="see `mesostack status`",
            detail="\n".join([*(f"  {c.name}: container {c.state}; {c.detail}" for c in bad),
                               *self.component_tails(bad)]))

    # --- after the steps -------------------------------------------------------------------

    def bundle(self) -> None:
        target = self.settings.bundle
        if target and Path(target).is_file():
            Path(target).unlink()  # an earlier run's: a bundle never overwrites a file
        made = self.stack.bundle(target)
        self.out.say(made.summary)
        self.out.say(f"smoke: diagnostic bundle: {made.path}")

    def down(self) -> None:
        done, name = self.stack.down(), self.stack.name
        if not done.removed:
            self.out.say(f"stack {name}: nothing to remove")
            return
        tasks = len(done.task_containers)
        self.out.say(f"stack {name}: removed {len(done.removed)} containers and {tasks} task "
                     f"container{'s' if tasks != 1 else ''} in {done.seconds:.1f} s")

    def finish(self, started: datetime, began: float) -> Result:
        """The bundle after a failure and down (each once the engine was reached), the
        report, then the last line."""
        if self.reached and self.first is not None:
            self.step("bundle", self.bundle)
        if self.reached and self.settings.keep:
            self.out.say("smoke: --keep: the stack is left up (`mesostack down` removes it)")
            self.done["down"] = Outcome("down", verdict=Verdict.SKIPPED,
                                        message="--keep: the stack was left up")
        elif self.reached:
            self.step("down", self.down)
        seconds = self.clock.now() - began
        outcomes = self.outcomes()
        code = (self.first.exit_code or 1) if self.first is not None else 0
        if self.settings.junit_xml:
            code = self._write_report(Result(outcomes, code, seconds, started, "")) or code
        line = self.last_line(code, seconds)
        self.out.say(line)
        if code and self.settings.github:
            self.out.say(f"::error title=mesostack smoke test::{line.removeprefix('smoke: ')}")
        return Result(outcomes, code, seconds, started, line)

    def outcomes(self) -> tuple[Outcome, ...]:
        """Every testcase in the steps' order, those not run skipped (saying why)."""
        planned = [("app files", STEPS, "app files"), ("doctor", STEPS, "doctor"),
                   ("up", STEPS, "up"), ("deploy", STEPS, "deploy"),
                   *((f"app {app_id}", APPS, app_id) for app_id in self.ids),
                   ("status", STEPS, "status"),
                   *((("bundle", STEPS, "bundle"),) if "bundle" in self.done else ()),
                   ("down", STEPS, "down")]
        first = self.first
        why = "not run"
        if first is not None:
            why = f"not run: {first.step} " + (
                "was interrupted" if first.exit_code in INTERRUPTED else "failed")
        return tuple(self.done.get(step) or Outcome(
            name, classname, Verdict.SKIPPED, message=why, label=step)
            for step, classname, name in planned)

    def last_line(self, code: int, seconds: float) -> str:
        first = self.first
        if first is None:
            if code:
                return f"smoke: FAILED: the JUnit report (exit {code}, {seconds:.1f} s)"
            return f"smoke: passed in {seconds:.1f} s"
        if first.exit_code in INTERRUPTED:
            return (f"smoke: FAILED at step '{first.step} (interrupted)' (exit {code}, "
                    f"{seconds:.1f} s)")
        return (f"smoke: FAILED at step '{first.step}': {first.message} (exit {code}, "
                f"{seconds:.1f} s)")

    def _write_report(self, result: Result) -> int:
        """Write the JUnit report; 1 when it can't be written (said), else 0."""
        assert self.settings.junit_xml is not None
        path = self.settings.junit_xml
        try:
            write_junit(path, junit(result))
        except OSError as exc:
            self.out.say(f"mesostack: error: can't write the JUnit report {path}: "
                         f"{exc.strerror or exc}")
            return int(ExitCode.FAILED)
        self.out.say(f"smoke: JUnit report: {path}")
        return 0

    # --- log tails ------------------------------------------------------------------------

    def task_tails(self, app_ids: Sequence[str] | None = None) -> str:
        """The last lines of the apps' tasks' stderr and stdout, the last failed task's
        first, as far as they can be read."""
        parts = []
        for app_id in self.ids if app_ids is None else app_ids:
            parts += self.failed_task(app_id)
            for stream in ("stderr", "stdout"):
                with contextlib.suppress(MesostackError):
                    text = "".join(self.stack.task_logs(app_id, stream=stream))
                    parts.append(_last_lines(f"{app_id}'s {stream}", text))
        return "\n".join(part for part in parts if part)

    def failed_task(self, app_id: str) -> list[str]:
        """Marathon's last task failure of the app and that task's stderr and stdout, read
        from its sandbox: a failed task is no longer among the app's tasks."""
        from mesostack import mesos
        from mesostack.roles import Role
        from mesostack.task_output import read_output

        try:
            app = self.stack.marathon_client().app("/" + app_id.strip("/")) or {}
        except MesostackError:
            return []
        failure = app.get("lastTaskFailure")
        if not isinstance(failure, dict) or not failure.get("taskId"):
            return []
        task = str(failure["taskId"])
        parts = [f"last task failure of {app_id}: {failure.get('state', '?')}: "
                 f"{str(failure.get('message', '')).strip()} ({task})"]
        with contextlib.suppress(MesostackError):
            sandbox = mesos.task_sandbox(self.stack.endpoints(Role.MASTER)[0],
                                         str(failure.get("slaveId", "")), task)
            for stream in ("stderr", "stdout"):
                text = "".join(read_output([(task, sandbox)], stream, follow=False))
                parts.append(_last_lines(f"{task}'s {stream}", text))
        return parts

    def component_tails(self, components: Sequence[Any]) -> list[str]:
        """The last lines of each component's container log, as far as they can be read."""
        parts = []
        for component in components:
            with contextlib.suppress(MesostackError):
                text = "".join(self.stack.logs(component.role, tail=TAIL_LINES))
                parts.append(_last_lines(f"{component.name}'s log", text))
        return [part for part in parts if part]

    def _github(self, line: str) -> None:
        if self.settings.github:
            self.out.say(line)


# --- helpers -----------------------------------------------------------------------------------


def one_app(requests: Sequence[DeployRequest], source: str) -> DeployRequest:
    """The one app an app file holds: a group or a list is refused, since each file has one
    expected text."""
    body = requests[0].body if len(requests) == 1 else {}
    if len(requests) != 1 or "apps" in body or "groups" in body or len(
            requests[0].app_ids) != 1:
        found = f"a list of {len(requests)} apps" if len(requests) != 1 else "a group"
        raise InputError(f"{source}: expected one app (not a group or a list), found {found}",
                         hint="give each app a file of its own")
    return requests[0]


def _failed(outcome: Outcome, error: BaseException, tail: str) -> Outcome:
    """`outcome`, failed with `error`'s one line (an interrupt says which signal)."""
    if isinstance(error, KeyboardInterrupt):
        message = "interrupted (SIGINT)"
    elif isinstance(error, Terminated):
        message = "terminated (SIGTERM)"
    else:
        message = str(error) or type(error).__name__
    return replace(outcome, message=message, kind=type(error).__name__, tail=tail)


def _best_effort(tail: Callable[[], str] | None) -> str:
    """A log tail for a failure whose error carries none; "" when it can't be had."""
    if tail is None:
        return ""
    try:
        return tail()
    except MesostackError:
        return ""


def _check_line(check: Check) -> str:
    fix = f" ({check.fix})" if check.fix else ""
    return f"  {check.name}: {check.verdict.value}: {check.found}{fix}"


def _last_lines(what: str, text: str) -> str:
    lines = text.splitlines()[-TAIL_LINES:]
    if not lines:
        return ""
    many = f"last {len(lines)} lines" if len(lines) > 1 else "last line"
    return f"{many} of {what}:\n" + "\n".join(f"  {line}" for line in lines)


def _output_tail(app_id: str, text: str, waiting_for: str) -> str:
    """What a task-output wait that timed out saw last: the output's last lines, or why
    there was none."""
    said = _last_lines(f"{app_id}'s output", text)
    if said:
        return said
    return f"{app_id}'s output: (nothing)" + (f"; last: {waiting_for}" if waiting_for else "")


def _shown(text: str, expect: str) -> str:
    """The last lines of the output up to the first that holds the expected text."""
    lines = text.splitlines()
    upto = next((i for i, line in enumerate(lines) if expect in line), len(lines) - 1)
    return "".join(line + "\n" for line in lines[max(0, upto + 1 - SHOWN_LINES):upto + 1])


# --- the JUnit report ------------------------------------------------------------------------


def junit(result: Result) -> ET.Element:
    """The run as JUnit XML: one testsuite, one testcase a step and an app (a failure's
    message mesostack's one-line error, its text the log tail; a step not run skipped)."""
    import xml.etree.ElementTree as ET

    counts = Counter(outcome.verdict for outcome in result.outcomes)
    totals = {"tests": str(len(result.outcomes)), "failures": str(counts[Verdict.FAILED]),
              "errors": str(counts[Verdict.ERROR]), "skipped": str(counts[Verdict.SKIPPED]),
              "time": f"{result.seconds:.3f}"}
    suites = ET.Element("testsuites", {"name": SUITE, **totals})
    suite = ET.SubElement(suites, "testsuite", {
        "name": SUITE, **totals, "timestamp": result.started.isoformat(timespec="seconds")})
    for outcome in result.outcomes:
        case = ET.SubElement(suite, "testcase", {"classname": outcome.classname,
                                                 "name": _xml(outcome.name),
                                                 "time": f"{outcome.seconds:.3f}"})
        if outcome.verdict is Verdict.SKIPPED:
            ET.SubElement(case, "skipped", {"message": _xml(outcome.message)})
        elif outcome.verdict is not Verdict.PASSED:
            tag = "failure" if outcome.verdict is Verdict.FAILED else "error"
            said = ET.SubElement(case, tag, {"message": _xml(outcome.message),
                                             "type": outcome.kind})
            said.text = _xml(outcome.tail or outcome.message)
    return suites


def write_junit(path: str | os.PathLike[str], report: ET.Element) -> None:
    """Write the report whole or not at all (a reader never sees half a file)."""
    import xml.etree.ElementTree as ET

    ET.indent(report)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.part")
    ET.ElementTree(report).write(part, encoding="utf-8", xml_declaration=True)
    part.replace(target)


def _xml(text: str) -> str:
    return NOT_XML.sub("\ufffd", text)
