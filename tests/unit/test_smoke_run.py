"""`mesostack smoke` (`mesostack.smoke.run`) on the fakes the API's tests use: every step in
order with its time, the JUnit report as a CI reporter reads it (junitparser), a failed step
named with mesostack's one-line error and the log tail, the bundle after a failure, down
always (Ctrl-C and SIGTERM included) unless --keep, and APP_FILE=TEXT's parsing."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite
from test_api import DEMO, DoneAtOnce, Said, demo_engine
from test_marathon_client import connect, now

from clirun import run as cli
from fakes import FakeClock, FakeEngine
from mesostack import hostinfo, marathon, mesos, orchestrator
from mesostack.api import Bundled, Stack
from mesostack.errors import MesostackError
from mesostack.mesos import Sandbox
from mesostack.orchestrator import ComponentStatus, StackStatus
from mesostack.runtime import ContainerFailed, Engines
from mesostack.smoke import (
    AppCheck,
    Output,
    Result,
    Settings,
    Terminated,
    built_in,
    parse_app,
    run,
    sigterm_raises,
)

BASIC = {"id": "basic-0", "cmd": "while [ true ] ; do echo 'Hello Marathon' ; sleep 5 ; done",
         "cpus": 0.1, "mem": 10.0, "instances": 1}
STEPS = ["app files", "doctor", "up", "deploy", "basic-0", "status", "down"]


@pytest.fixture(autouse=True)
def no_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No Docker engine answers and no stack file is around; the tests' files are here."""
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    for name in ("MESOSTACK_FILE", "MARATHON_URL", "MARATHON_CREDENTIALS", "GITHUB_ACTIONS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "basic-0.json").write_text(json.dumps(BASIC))


class Printed:
    """A task's sandbox: what it printed so far on each stream; `on_read` runs at each read."""

    def __init__(self) -> None:
        self.texts = {"stdout": b"Hello Marathon\n", "stderr": b""}
        self.on_read: Callable[[], None] = lambda: None

    def read(self, _sandbox: Sandbox, name: str, offset: int, **_: Any) -> tuple[bytes, int]:
        self.on_read()
        data = self.texts[name][offset:offset + mesos.READ_CHUNK]
        return data, offset + len(data)


class Bed:
    """The fakes of one test: the engine, Marathon, the task's output, what was said."""

    def __init__(self, engine: FakeEngine, fake: DoneAtOnce, output: Printed) -> None:
        self.engine, self.marathon, self.output = engine, fake, output
        self.said = Said()
        self.err: list[str] = []
        self.out: list[str] = []
        self.clock = FakeClock()
        self.bundles: list[Path] = []

    def stack(self) -> Stack:
        return Stack.from_mapping(DEMO, engines=Engines({None: self.engine}),
                                  callbacks=self.said.callbacks())

    def smoke(self, *apps: AppCheck, **settings: Any) -> Result:
        out = Output(say=self.err.append, show=self.out.append,
                     status=lambda look: self.out.append(f"status: ready {look.ready}"))
        return run(self.stack(), apps, Settings(**settings), out=out, clock=self.clock)


@pytest.fixture
def bed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Bed:
    """An engine on which every component is ready at once; Marathon deploying at its first
    look; the task printing "Hello Marathon"; status reading the engine's containers (all
    ready); a bundle that writes its file; no settle window (no real waiting)."""
    engine = demo_engine(monkeypatch)
    fake, output = DoneAtOnce(), Printed()
    bed = Bed(engine, fake, output)
    monkeypatch.setattr(Stack, "marathon_client", lambda _s: connect(fake))
    monkeypatch.setattr(mesos, "completed_tasks", lambda _master, **_: None)
    monkeypatch.setattr(mesos, "agents_free", lambda _master, **_: None)
    monkeypatch.setattr(mesos, "task_sandbox", lambda *_a, **_k: Sandbox("a:5051", "/r", False))
    monkeypatch.setattr(mesos, "read_sandbox", output.read)
    monkeypatch.setattr(marathon, "FOLLOW_INTERVAL", 0.0)
    assert Stack.deploy.__kwdefaults__ is not None
    monkeypatch.setitem(Stack.deploy.__kwdefaults__, "settle", 0)

    def status(stack: str, **_: Any) -> StackStatus:
        return StackStatus(stack, tuple(ComponentStatus(c.name, c.role, "", c.status, True)
                                        for c in engine.held))

    def bundle(stack: Stack, target: str | None = None, **_: Any) -> Bundled:
        path = Path(target or tmp_path / f"mesostack-bundle-{stack.name}.tar.gz")
        if path.is_dir():
            path = path / f"mesostack-bundle-{stack.name}.tar.gz"
        assert not path.exists(), "a bundle never overwrites a file"
        path.write_text("bundle")
        bed.bundles.append(path)
        return Bundled(path, {}, f"wrote {path}")

    monkeypatch.setattr(orchestrator, "status", status)
    monkeypatch.setattr(Stack, "bundle", bundle)
    return bed


def report(path: Path) -> tuple[TestSuite, list[TestCase]]:
    """The report's one testsuite and its testcases, as a CI reporter reads them."""
    xml = JUnitXml.fromfile(str(path))
    suites = list(xml) if isinstance(xml, JUnitXml) else [xml]
    assert len(suites) == 1
    (suite,) = suites
    assert isinstance(suite, TestSuite)
    return suite, list(suite)


def verdicts(cases: list[TestCase]) -> list[tuple[str, str, str]]:
    """(classname, name, how it went) of each testcase."""
    def how(case: TestCase) -> str:
        kinds = {Failure: "failed", Error: "error", Skipped: "skipped"}
        return next((kinds[type(r)] for r in case.result if type(r) in kinds), "passed")

    return [(case.classname, case.name, how(case)) for case in cases]


def test_a_passing_run_says_each_step_and_its_report_is_what_ci_reads(
        bed: Bed, tmp_path: Path) -> None:
    done = bed.smoke(parse_app("basic-0.json=Hello Marathon"),
                     junit_xml=str(tmp_path / "reports" / "smoke.xml"))
    assert done.exit_code == 0
    deployment = bed.marathon.apps["/basic-0"]["deployments"][0]["id"]
    measured = {4: "smoke: doctor: ", 7: "stack demo ready in ", 10: "deployed in ",
                17: "stack demo: removed 4 containers and 0 task containers in "}
    for index, start in measured.items():  # counts and seconds that are not the run's
        assert bed.err[index].startswith(start), bed.err[index]
    assert [measured.get(i, line) for i, line in enumerate(bed.err)] == [
        "smoke: ==> app files: basic-0.json",
        'smoke: app basic-0 from basic-0.json: "Hello Marathon" in its output',
        "smoke: <== app files: ok (0.0 s)",
        "smoke: ==> doctor",
        "smoke: doctor: ",  # N checks, nothing blocking
        "smoke: <== doctor: ok (0.0 s)",
        "smoke: ==> up",
        "stack demo ready in ",  # N s (4 changed)
        "smoke: <== up: ok (0.0 s)",
        "smoke: ==> deploy: 1 app(s), timeout 120 s",
        "deployed in ",
        "smoke: <== deploy: ok (0.0 s)",
        'smoke: ==> app basic-0: "Hello Marathon" in its output',
        "smoke: <== app basic-0: ok (0.0 s)",
        "smoke: ==> status",
        "smoke: <== status: ok (0.0 s)",
        "smoke: ==> down",
        "stack demo: removed 4 containers and 0 task containers in ",
        "smoke: <== down: ok (0.0 s)",
        f"smoke: JUnit report: {tmp_path / 'reports' / 'smoke.xml'}",
        "smoke: passed in 0.0 s",
    ]
    assert bed.err[4].endswith(" checks, nothing blocking")
    assert bed.out == ["Hello Marathon\n", "status: ready True"]
    assert bed.said.infos[-1] == f"basic-0.json: created /basic-0 (deployment {deployment})"
    assert bed.engine.held == [] and bed.bundles == []
    suite, cases = report(tmp_path / "reports" / "smoke.xml")
    assert (suite.name, suite.tests, suite.failures, suite.errors, suite.skipped) == (
        "mesostack smoke", 7, 0, 0, 0)
    assert suite.time == pytest.approx(done.seconds, abs=0.001) and suite.timestamp
    assert verdicts(cases) == [("mesostack.smoke.apps" if name == "basic-0" else
                                "mesostack.smoke", name, "passed") for name in STEPS]
    assert all(case.time == 0.0 for case in cases)


def test_a_broken_app_fails_deploy_naming_the_step_bundles_and_goes_down(
        bed: Bed, tmp_path: Path) -> None:
    """Its tasks keep failing: deploy's typed error is the step's failure, exit 1."""
    (tmp_path / "crash.json").write_text(json.dumps({"id": "crash", "cmd": "exit 3",
                                                     "cpus": 0.1, "mem": 10}))
    failures = iter(range(100))

    def crashing(method: str, path: str, query: dict[str, list[str]], body: Any) -> Any:
        if (method, path) == ("GET", "/v2/deployments") and "/crash" in bed.marathon.apps:
            bed.marathon.set("/crash", lastTaskFailure={
                "taskId": f"crash.{next(failures)}", "slaveId": "S1", "state": "TASK_FAILED",
                "message": "Command exited with status 3", "timestamp": now()})
            return 200, list(bed.marathon.deployments)
        return DoneAtOnce.route(bed.marathon, method, path, query, body)

    bed.marathon.route = crashing  # type: ignore[method-assign]
    bed.output.texts = {"stderr": b"starting\nboom: no such thing\n", "stdout": b""}
    done = bed.smoke(parse_app("crash.json"), junit_xml="smoke.xml",
                     bundle=str(tmp_path / "bundle.tar.gz"))
    assert done.exit_code == 1
    error = ("app /crash: its tasks keep failing (3 so far); last: TASK_FAILED: Command exited "
             "with status 3 (see `mesostack task-logs crash`; run `mesostack bundle` to "
             "collect logs and state)")
    assert f"mesostack: error: {error}" in bed.err
    assert "smoke: <== deploy: FAILED, exit 1 (0.0 s)" in bed.err
    assert bed.err[-1] == f"smoke: FAILED at step 'deploy': {error} (exit 1, 0.0 s)"
    assert [line for line in bed.err if line.startswith("smoke: ==> ")] == [
        "smoke: ==> app files: crash.json", "smoke: ==> doctor", "smoke: ==> up",
        "smoke: ==> deploy: 1 app(s), timeout 120 s", "smoke: ==> bundle", "smoke: ==> down"]
    assert bed.bundles == [tmp_path / "bundle.tar.gz"]
    assert bed.engine.held == []
    _, cases = report(tmp_path / "smoke.xml")
    assert verdicts(cases) == [
        ("mesostack.smoke", "app files", "passed"), ("mesostack.smoke", "doctor", "passed"),
        ("mesostack.smoke", "up", "passed"), ("mesostack.smoke", "deploy", "failed"),
        ("mesostack.smoke.apps", "crash", "skipped"), ("mesostack.smoke", "status", "skipped"),
        ("mesostack.smoke", "bundle", "passed"), ("mesostack.smoke", "down", "passed")]
    (failure,) = cases[3].result
    assert isinstance(failure, Failure)
    assert (failure.message, failure.type) == (error, "DeploymentFailed")
    assert failure.text == (  # the failed task's own (Marathon lists no task of the app)
        "last task failure of crash: TASK_FAILED: Command exited with status 3 (crash.2)\n"
        "last 2 lines of crash.2's stderr:\n  starting\n  boom: no such thing")
    (skipped,) = cases[4].result
    assert skipped.message == "not run: deploy failed"


def test_the_text_never_printed_fails_the_apps_testcase_with_the_task_output(
        bed: Bed, tmp_path: Path) -> None:
    bed.output.texts["stdout"] = "".join(f"line {i}\n" for i in range(30)).encode()
    done = bed.smoke(parse_app("basic-0.json=never printed"), timeout=5, junit_xml="s.xml")
    assert done.exit_code == 1
    why = ("no \"never printed\" in basic-0's output within 5 s (see `mesostack task-logs "
           "basic-0`)")
    assert bed.err[-1] == f"smoke: FAILED at step 'app basic-0': {why} (exit 1, 5.0 s)"
    assert "smoke: <== app basic-0: FAILED, exit 1 (5.0 s)" in bed.err
    tail = "last 10 lines of basic-0's output:\n" + "\n".join(f"  line {i}" for i in range(20, 30))
    assert tail in bed.err  # said on stderr too
    _, cases = report(tmp_path / "s.xml")
    assert [c.name for c in cases] == [*STEPS[:-1], "bundle", "down"]
    (failure,) = cases[4].result
    assert isinstance(failure, Failure)
    assert (cases[4].classname, failure.message, failure.text) == (
        "mesostack.smoke.apps", why, tail)
    assert cases[4].time == 5.0
    assert bed.engine.held == [] and len(bed.bundles) == 1


def test_any_output_will_do_for_an_empty_text_and_none_is_a_failure(bed: Bed) -> None:
    assert bed.smoke(parse_app("basic-0.json=")).exit_code == 0
    assert "smoke: ==> app basic-0: any output" in bed.err
    bed.output.texts["stdout"] = b""
    bed.err.clear()
    assert bed.smoke(parse_app("basic-0.json="), timeout=3).exit_code == 1
    assert bed.err[-1].startswith("smoke: FAILED at step 'app basic-0': no output from basic-0 "
                                  "within 3 s")
    assert "basic-0's output: (nothing); last: any output" in bed.err


@pytest.mark.parametrize("signum, code, said", [
    (signal.SIGINT, 130, "interrupted (SIGINT)"), (signal.SIGTERM, 143, "terminated (SIGTERM)")])
def test_an_interrupt_takes_the_stack_down_and_exits_130_or_143(
        bed: Bed, tmp_path: Path, signum: int, code: int, said: str) -> None:
    """The signal comes while the task's output is read (after up), as from a terminal or
    a CI runner cancelling the job."""

    def interrupt() -> None:
        bed.output.on_read = lambda: None
        os.kill(os.getpid(), signum)

    bed.output.on_read = interrupt
    with sigterm_raises():
        done = bed.smoke(parse_app("basic-0.json=Hello Marathon"), junit_xml="s.xml")
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # put back
    assert done.exit_code == code
    assert f"smoke: {said}" in bed.err
    assert bed.err[-1] == f"smoke: FAILED at step 'app basic-0 (interrupted)' (exit {code}, 0.0 s)"
    assert bed.engine.held == [] and len(bed.bundles) == 1
    _, cases = report(tmp_path / "s.xml")
    (error,) = cases[4].result
    assert isinstance(error, Error)
    assert error.message == said
    assert cases[5].result[0].message == "not run: app basic-0 was interrupted"


def test_keep_leaves_the_stack_up_and_says_how_to_take_it_down(bed: Bed, tmp_path: Path) -> None:
    done = bed.smoke(parse_app("basic-0.json=Hello Marathon"), keep=True, junit_xml="s.xml")
    assert done.exit_code == 0
    assert len(bed.engine.held) == 4 and bed.engine.called("remove") == []
    assert "smoke: --keep: the stack is left up (`mesostack down` removes it)" in bed.err
    assert "smoke: ==> down" not in bed.err
    _, cases = report(tmp_path / "s.xml")
    assert cases[-1].name == "down"
    assert cases[-1].result[0].message == "--keep: the stack was left up"


@pytest.mark.parametrize("step", ["doctor", "up", "status", "down"])
def test_a_failed_step_is_named_bundled_unless_it_was_down_and_the_stack_goes_down(
        bed: Bed, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, step: str) -> None:
    if step == "doctor":
        monkeypatch.setattr(hostinfo, "port_in_use", lambda _ip, port: port == 45050)
    elif step == "up":
        bed.engine.failures["create_and_start demo-master"] = ContainerFailed(
            "container demo-master: can't create it: boom")
    elif step == "status":
        monkeypatch.setattr(orchestrator, "status", lambda stack, **_: StackStatus(stack, (
            ComponentStatus("demo-master", "master", "", "exited", False, "container exited"),)))
        bed.engine.log_texts["demo-master"] = "starting\nno quorum\n"
    else:
        bed.engine.failures["remove"] = MesostackError("the engine went away")
    done = bed.smoke(parse_app("basic-0.json=Hello Marathon"), junit_xml="s.xml")
    assert done.exit_code == 1
    assert bed.err[-1].startswith(f"smoke: FAILED at step '{step}': ")
    _, cases = report(tmp_path / "s.xml")
    failed = [case for case, (_, _, how) in zip(cases, verdicts(cases), strict=True)
              if how == "failed"]
    assert [case.name for case in failed] == [step]
    assert failed[0].result[0].message == bed.err[-1].split(": ", 2)[2].rsplit(" (exit", 1)[0]
    assert bed.bundles == ([] if step == "down" else [tmp_path / "mesostack-bundle-demo.tar.gz"])
    assert verdicts(cases)[-1] == ("mesostack.smoke", "down",
                                   "failed" if step == "down" else "passed")
    if step == "status":
        assert failed[0].result[0].text == (
            "  demo-master: container exited; container exited\n"
            "last 2 lines of demo-master's log:\n  starting\n  no quorum")
    if step == "doctor":
        assert "port 45050" in failed[0].result[0].message


def test_a_bad_app_file_stops_before_anything_touches_the_engine(bed: Bed,
                                                                  tmp_path: Path) -> None:
    (tmp_path / "group.json").write_text(json.dumps({"id": "/shop", "apps": [BASIC]}))
    done = bed.smoke(parse_app("basic-0.json"), parse_app("group.json=Hello"),
                     junit_xml="s.xml")
    assert done.exit_code == 2  # input to fix
    assert bed.err[-1] == (
        "smoke: FAILED at step 'app files': group.json: expected one app (not a group or a "
        "list), found a group (give each app a file of its own) (exit 2, 0.0 s)")
    assert bed.engine.calls == [] and bed.marathon.calls == [] and bed.bundles == []
    _, cases = report(tmp_path / "s.xml")
    assert [(name, how) for _, name, how in verdicts(cases)] == [
        ("app files", "failed"), ("doctor", "skipped"), ("up", "skipped"),
        ("deploy", "skipped"), ("basic-0", "skipped"), ("group.json", "skipped"),
        ("status", "skipped"), ("down", "skipped")]
    for given in (["nope.json=Hello"], ["basic-0.json", "basic-0.json=Hello"]):
        bed.err.clear()
        assert bed.smoke(*map(parse_app, given)).exit_code == 2
        assert bed.err[-1] == {
            "nope.json=Hello": "smoke: FAILED at step 'app files': nope.json: no such file "
                               "(exit 2, 0.0 s)",
            "basic-0.json": "smoke: FAILED at step 'app files': basic-0.json: app basic-0 is "
                            "given twice (also in basic-0.json) (give each app once) "
                            "(exit 2, 0.0 s)"}[given[0]]


def test_without_an_app_file_the_built_in_app_prints_its_line(bed: Bed) -> None:
    bed.output.texts["stdout"] = b"Hello from mesostack smoke\n"
    assert bed.smoke().exit_code == 0
    assert "/mesostack-smoke" in bed.marathon.apps
    assert bed.marathon.apps["/mesostack-smoke"]["cmd"] == (
        "while true; do echo 'Hello from mesostack smoke'; sleep 2; done")
    assert ('smoke: app mesostack-smoke from the built-in app: "Hello from mesostack smoke" in '
            "its output") in bed.err
    assert built_in().expect == "Hello from mesostack smoke"


def test_an_app_without_text_passes_once_it_runs_and_fails_when_it_does_not(bed: Bed) -> None:
    assert bed.smoke(parse_app("basic-0.json")).exit_code == 0
    assert "smoke: ==> app basic-0: deployed and healthy" in bed.err
    assert bed.out[0] == "basic-0: 1/1 running"
    listed = bed.marathon.route

    def none_running(method: str, path: str, query: dict[str, list[str]], body: Any) -> Any:
        status, answer = listed(method, path, query, body)
        if (method, path) == ("GET", "/v2/apps"):
            answer = {"apps": [{**app, "tasksRunning": 0} for app in answer["apps"]]}
        return status, answer

    bed.marathon.route = none_running  # type: ignore[method-assign]
    bed.err.clear()
    assert bed.smoke(parse_app("basic-0.json")).exit_code == 1
    assert bed.err[-1].startswith("smoke: FAILED at step 'app basic-0': app basic-0: 0/1 "
                                  "running (see `mesostack task-logs basic-0`)")


def test_the_report_carries_no_character_xml_refuses(bed: Bed, tmp_path: Path) -> None:
    bed.output.texts["stdout"] = b"\x1b[31mred\x1b[0m \x00 text\n"
    assert bed.smoke(parse_app("basic-0.json=green"), timeout=1,
                     junit_xml="s.xml").exit_code == 1
    _, cases = report(tmp_path / "s.xml")
    assert cases[4].result[0].text.endswith("\ufffd[31mred\ufffd[0m \ufffd text")


def test_a_report_that_cant_be_written_fails_the_run(bed: Bed, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    done = bed.smoke(parse_app("basic-0.json=Hello Marathon"), junit_xml="file/s.xml")
    assert done.exit_code == 1
    assert bed.err[-2].startswith("mesostack: error: can't write the JUnit report file/s.xml: ")
    assert bed.err[-1] == "smoke: FAILED: the JUnit report (exit 1, 0.0 s)"


def test_on_github_actions_each_step_is_folded_and_a_failure_annotated(bed: Bed) -> None:
    done = bed.smoke(parse_app("basic-0.json=never"), timeout=0, github=True)
    assert done.exit_code == 1
    assert bed.err[0] == "::group::smoke: app files"
    assert bed.err.count("::endgroup::") == bed.err.count("::group::smoke: app files") + 6
    assert bed.err[-1] == "::error title=mesostack smoke test::" + bed.err[-2].removeprefix(
        "smoke: ")


def test_a_bug_is_raised_once_the_stack_is_down(bed: Bed, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_stack: Stack) -> StackStatus:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(Stack, "status", broken)
    with pytest.raises(ZeroDivisionError):
        bed.smoke(parse_app("basic-0.json=Hello Marathon"))
    assert bed.engine.held == []
    assert bed.err[-1].startswith("smoke: FAILED at step 'status': a bug (exit 1")


def test_terminated_is_no_exception_that_a_step_would_swallow() -> None:
    assert not issubclass(Terminated, Exception)


def test_app_file_and_text_are_cut_where_the_file_ends(tmp_path: Path) -> None:
    (tmp_path / "a=b.json").write_text("{}")
    (tmp_path / "app.json").write_text("{}")
    cases = {
        "app.json": ("app.json", None),
        "app.json=Hello": ("app.json", "Hello"),
        "app.json=": ("app.json", ""),
        "app.json=x=1 y=2": ("app.json", "x=1 y=2"),  # the text may hold `=`
        "a=b.json": ("a=b.json", None),  # a path with `=` that is a file
        "a=b.json=Hi=there": ("a=b.json", "Hi=there"),
        "nope.json=Hi": ("nope.json", "Hi"),  # no file: cut at the first `=`
        "nope.json": ("nope.json", None),
    }
    for argument, (path, text) in cases.items():
        assert (parse_app(argument).app, parse_app(argument).expect) == (path, text), argument


def test_the_command_runs_the_steps_and_exits_with_their_code(
        bed: Bed, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`mesostack smoke` itself: the stack file of -f, the console for output, its exit code."""
    import yaml

    (tmp_path / "stack.yaml").write_text(yaml.safe_dump(DEMO))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setattr(Stack, "engines", lambda _s, **_: Engines({None: bed.engine}))
    code, out, err = cli(["smoke", "basic-0.json=Hello Marathon", "--timeout", "30",
                          "--junit-xml", "smoke.xml"], capsys)
    assert code == 0, err
    lines = err.splitlines()
    assert lines[0] == "smoke: ==> app files: basic-0.json"
    assert "stack demo from stack.yaml; host_ip 127.0.0.1 (from the stack file)" in "".join(
        lines)
    assert "smoke: ==> deploy: 1 app(s), timeout 30 s" in lines
    assert lines[-1].startswith("smoke: passed in ")
    assert out.startswith("Hello Marathon\n")
    assert "demo-master" in out  # the status table
    suite, _ = report(tmp_path / "smoke.xml")
    assert (suite.tests, suite.failures) == (7, 0)
    bed.output.texts["stdout"] = b"other\n"
    code, _, err = cli(["smoke", "basic-0.json=Hello Marathon", "--timeout", "0"], capsys)
    assert code == 1
    assert err.splitlines()[-1].startswith(
        "smoke: FAILED at step 'app basic-0': no \"Hello Marathon\" in basic-0's output "
        "within 0 s")
