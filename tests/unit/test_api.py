"""The Python API (`mesostack.api`) on the fakes the command line's tests use: a stack loaded
from a mapping, a file or a preset with the command line's checks and one-line errors; its
warnings and progress through callbacks (or the "mesostack" logger), never printed; the
context manager taking the stack down whatever happens; deploying an app given as a dict."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_marathon_client import FakeMarathon, connect

from fakes import FakeEngine, container
from mesostack import api, hostinfo, mesos, orchestrator, probes
from mesostack.api import Callbacks, Stack
from mesostack.config import parse
from mesostack.errors import ExitCode, InputError, MesostackError
from mesostack.events import Event, Phase
from mesostack.marathon import MarathonRejected
from mesostack.mesos import Sandbox
from mesostack.orchestrator import Readiness
from mesostack.plan import ContainerSpec, Plan, Role
from mesostack.presets import TUTORIAL_IMAGES, Preset
from mesostack.probes import LeaderState, Probe, Ready
from mesostack.runtime import ContainerFailed, Engines

DEMO = {"name": "demo", "host_ip": "127.0.0.1",
        "zookeeper": {"port": 42181}, "master": {"port": 45050},
        "slave": {"port": 45051, "privileged": False}, "marathon": {"port": 48080}}
HA = {"name": "ha", "hosts": [{"name": "a", "ip": "10.0.0.1"}, {"name": "b", "ip": "10.0.0.2"}],
      "master": {"count": 2, "quorum": 2}}
WEB = {"id": "web", "cmd": "sleep 100", "cpus": 0.1, "mem": 16}


@pytest.fixture(autouse=True)
def no_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No Docker engine answers and no stack file is around, as for the command line's tests."""
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    for name in ("MESOSTACK_FILE", "MARATHON_URL", "MARATHON_CREDENTIALS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


class Said:
    """Everything the callbacks were told."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.infos: list[str] = []
        self.warnings: list[str] = []

    def callbacks(self) -> Callbacks:
        return Callbacks(on_event=self.events.append, on_info=self.infos.append,
                         on_warning=self.warnings.append)


# --- loading -----------------------------------------------------------------------------------


def test_a_mapping_a_file_and_a_preset_load_the_same_way(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(DEMO))
    from_file = Stack.from_file(path)
    from_mapping = Stack.from_mapping(DEMO)
    assert from_file.config == from_mapping.config == parse(path.read_text())
    # the same containers; the file's record where it is (for a command run elsewhere)
    recorded = ("io.mesostack.file", str(path))
    assert all(recorded in spec.labels for spec in from_file.plan().specs)
    assert [replace(spec, labels=tuple(x for x in spec.labels if x != recorded))
            for spec in from_file.plan().specs] == list(from_mapping.plan().specs)
    assert from_file.where == f"stack demo from {path}; host_ip 127.0.0.1 (from the stack file)"
    assert from_mapping.where.startswith("stack demo from the stack mapping; host_ip 127.0.0.1")
    tutorial = Stack.from_preset("tutorial")
    assert tutorial.config.master.image == TUTORIAL_IMAGES["master"]
    assert tutorial.config.host_ip == "auto"
    assert api.load(Preset.TUTORIAL).config == tutorial.config
    assert api.load(DEMO).config == from_mapping.config
    assert api.load(str(path)).config == api.load(path).config == from_file.config
    assert api.load().name == "mesostack" and api.load().loaded.source is None


@pytest.mark.parametrize("text", [
    "master:\n  quroum: 1\n",
    "host_ip: 300.1.1.1\n",
    "master:\n  quorum: 3\n",
    "marathon:\n  data_dir: /srv/x\n",
    "name: 'has space'\n",
])
def test_a_mapping_is_refused_as_the_file_is_in_one_line(text: str) -> None:
    with pytest.raises(InputError) as from_file:
        parse(text, source="stack.yaml")
    with pytest.raises(InputError) as from_mapping:
        Stack.from_mapping(yaml.safe_load(text))
    file_said = str(from_file.value)
    mapping_said = str(from_mapping.value)
    assert mapping_said.startswith("the stack mapping: ") and "\n" not in mapping_said
    # the same words, the file's naming its line
    assert mapping_said.removeprefix("the stack mapping: ") == file_said.split(": ", 1)[1]
    assert from_mapping.value.exit_code is ExitCode.BAD_INPUT


def test_what_is_not_a_stack_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^the stack mapping: the top level must be a mapping"):
        Stack.from_mapping(["zookeeper"])  # type: ignore[arg-type]  # a program's mistake
    with pytest.raises(InputError, match=r"^mine: unknown key `nmae`; did you mean `name`\?"):
        Stack.from_mapping({"nmae": "x"}, source="mine")
    with pytest.raises(InputError, match=r"^nope\.yaml: no such file$"):
        Stack.from_file("nope.yaml")
    with pytest.raises(InputError) as preset:
        Stack.from_preset("newest")
    assert str(preset.value) == "no preset 'newest': choose one of default, tutorial, modern"
    with pytest.raises(InputError, match=r"not an IPv4 address or `auto`"):
        Stack.from_mapping(DEMO, host_ip="10.0.0").plan()
    assert "MESOS_IP=10.1.2.3" in Stack.from_mapping(DEMO, host_ip="10.1.2.3").dry_run()


def test_the_stack_s_warnings_go_to_the_callback_at_load_and_nothing_is_printed(
        capsys: pytest.CaptureFixture[str]) -> None:
    said = Said()
    stack = Stack.from_mapping(HA, callbacks=said.callbacks())
    assert said.warnings == [
        "master: 2 masters tolerate no more failures than 1; an odd number is usual",
        "zookeeper: one server for several masters: ZooKeeper is then the single point of "
        "failure; use 3"]
    stack.plan()
    assert len(said.warnings) == 2  # said once
    assert capsys.readouterr() == ("", "")


def test_without_callbacks_warnings_go_to_the_mesostack_logger(
        caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    with caplog.at_level("INFO", logger="mesostack"):
        Stack.from_mapping(HA)
    assert [(r.name, r.levelname) for r in caplog.records] == [("mesostack", "WARNING")] * 2
    assert capsys.readouterr() == ("", "")


PROBE = """
import json, sys
from mesostack.api import Stack
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
stack = Stack.from_mapping({ha!r})  # warns: to the logger, which prints nothing unconfigured
print(json.dumps(heavy))
"""
HEAVY = ("docker", "kazoo", "paramiko", "pydantic", "requests", "rich", "yaml", "logging")


def test_importing_the_api_loads_no_heavy_library_and_using_it_prints_nothing() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY, ha=HA)],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "DOCKER_HOST": "unix:///nonexistent/d.sock"})
    assert done.returncode == 0, done.stderr
    assert (json.loads(done.stdout), done.stderr) == ([], "")
    names = ("import sys, mesostack\nfrom mesostack import Stack, load, MesostackError\n"
             f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", names], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


# --- up and down: the context manager ------------------------------------------------------


class AtOnce(Readiness):
    """Every component ready as soon as it runs (its readiness is probes' business)."""

    def one(self, spec: ContainerSpec, master: str, leader: LeaderState | None) -> Probe:
        return Ready_()

    def whole(self, plan: Plan, role: Role) -> tuple[str, Probe] | None:
        return None

    def shared_leader(self, master: str, *, ttl: float) -> LeaderState | None:
        return None


class Ready_:
    awaited = "nothing"

    def check(self) -> Ready:
        return Ready("ready")


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    """An engine with every image of DEMO; this host's addresses and ports all free; each
    component ready at once; the agents have no task containers."""
    return demo_engine(monkeypatch)


def demo_engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    """The engine of the `engine` fixture (shared with the smoke tests' test bed)."""
    monkeypatch.setattr(hostinfo, "is_local_address", lambda _ip: True)
    monkeypatch.setattr(hostinfo, "port_in_use", lambda _ip, _port: False)
    for name in ("one", "whole", "shared_leader"):
        monkeypatch.setattr(orchestrator.Readiness, name, getattr(AtOnce, name))
    monkeypatch.setattr(probes, "agent_task_containers", lambda endpoint, **_: ("A1", []))
    plan = Stack.from_mapping(DEMO).plan()
    return FakeEngine(images={s.image: f"sha256:{s.role.value}" for s in plan.specs})


def demo(engine: FakeEngine, said: Said | None = None) -> Stack:
    return Stack.from_mapping(DEMO, engines=Engines({None: engine}),
                              callbacks=(said or Said()).callbacks())


def test_up_reports_through_the_callbacks_and_the_context_manager_takes_it_down(
        engine: FakeEngine, capsys: pytest.CaptureFixture[str]) -> None:
    said = Said()
    with demo(engine, said) as stack:
        assert {c.name for c in engine.held} == {s.name for s in stack.plan().specs}
    assert engine.held == []
    assert said.infos[0].startswith("stack demo from the stack mapping; host_ip 127.0.0.1 "
                                    "(from the stack file); agent demo-slave: ")
    assert {e.component for e in said.events if e.phase is Phase.READY} == {
        "demo-zookeeper", "demo-master", "demo-slave", "demo-marathon"}
    assert {e.component for e in said.events if e.phase is Phase.REMOVED} == {
        "demo-zookeeper", "demo-master", "demo-slave", "demo-marathon"}
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("error", [RuntimeError("the test failed"), KeyboardInterrupt()])
def test_the_context_manager_takes_the_stack_down_when_its_block_fails(
        engine: FakeEngine, error: BaseException) -> None:
    with pytest.raises(type(error)), demo(engine) as stack:
        assert len(engine.held) == 4
        raise error
    assert engine.held == [] and stack.name == "demo"


def test_a_failed_up_is_taken_down_too_and_its_error_is_the_one_raised(
        engine: FakeEngine) -> None:
    engine.failures["create_and_start demo-master"] = ContainerFailed("container demo-master: "
                                                                      "can't create it: boom")
    said = Said()
    stack = demo(engine, said)
    with pytest.raises(ContainerFailed, match="boom"), stack.running(timeout=30):
        pytest.fail("the block runs only once the stack is up")
    assert engine.called("create_and_start") == ["demo-zookeeper", "demo-master"]
    assert engine.held == []
    # a down that fails in turn is said, not raised over the first error
    engine.failures["create_and_start demo-master"] = ContainerFailed("boom again")
    engine.failures["remove"] = MesostackError("the engine went away")
    with pytest.raises(ContainerFailed, match="boom again"), stack:
        pass
    assert said.warnings[-1] == ("stack demo: down after the failure failed too: the engine "
                                 "went away")


def test_doctor_checks_the_engine_the_stack_uses(engine: FakeEngine) -> None:
    found = demo(engine).doctor()
    assert ("engine", "ok") in [(c.name, c.verdict.value) for c in found]
    assert not [c for c in found if c.blocking]


def test_status_lists_the_stack_s_containers() -> None:
    engine = FakeEngine(held=[container("demo-master", stack="demo", role="master",
                                        status="exited")])
    look = demo(engine).status()
    assert [(c.name, c.ready, c.detail) for c in look.components] == [
        ("demo-master", False, "container exited")]
    assert not look.ready


def test_logs_mask_the_stack_s_secrets() -> None:
    engine = FakeEngine(held=[container("demo-marathon", stack="demo", role="marathon",
                                        env={"MARATHON_HTTP_CREDENTIALS": "admin:s3cr3t"})],
                        log_texts={"demo-marathon": "--http_credentials admin:s3cr3t\n"})
    stack = demo(engine)
    assert list(stack.logs("marathon")) == ["--http_credentials ***\n"]
    with pytest.raises(InputError, match="no component 'zookeper'"):
        stack.logs("zookeper")
    with pytest.raises(MesostackError, match="stack demo has no a master container"):
        stack.logs("master")


# --- Marathon --------------------------------------------------------------------------------


class DoneAtOnce(FakeMarathon):
    """The client's in-memory Marathon, whose deployments are done at the first look, every
    instance running (one task listed)."""

    def route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Any:
        if (method, path) == ("GET", "/v2/deployments"):
            self.finish()
            for app_id, app in self.apps.items():
                self.set(app_id, tasksRunning=app["instances"],
                         tasks=[{"id": f"{app_id.strip('/')}.1", "slaveId": "S1"}])
        return super().route(method, path, query, body)


@pytest.fixture
def marathon(monkeypatch: pytest.MonkeyPatch) -> DoneAtOnce:
    """DoneAtOnce as the stack's Marathon; the Mesos master has nothing to say."""
    fake = DoneAtOnce()
    monkeypatch.setattr(Stack, "marathon_client", lambda _s: connect(fake))
    monkeypatch.setattr(mesos, "completed_tasks", lambda _master, **_: None)
    monkeypatch.setattr(mesos, "agents_free", lambda _master, **_: None)
    return fake


def test_deploy_of_a_dict_returns_once_it_runs_with_what_marathon_said(
        marathon: DoneAtOnce, capsys: pytest.CaptureFixture[str]) -> None:
    said = Said()
    stack = demo(FakeEngine(), said)
    app = {**WEB, "instances": 2}
    done = stack.deploy(app, settle=0)
    assert done.followed and done.app_ids == ("/web",)
    assert done.deployment_ids == (marathon.apps["/web"]["deployments"][0]["id"],)
    (submitted,) = done.submitted
    assert submitted.created and submitted.answer["id"] == "/web"
    assert said.infos == [f"app web: created /web (deployment {done.deployment_ids[0]})"]
    assert [(e.component, e.phase) for e in said.events] == [("/web", Phase.READY)]
    assert app == {**WEB, "instances": 2}  # the caller's dict is not changed
    assert [row.running for row in stack.apps()] == [2]
    again = stack.deploy(app, wait=False)
    assert not again.followed and not again.submitted[0].created
    assert said.infos[-1].startswith("app web: updated /web")
    assert capsys.readouterr() == ("", "")


def test_a_dict_app_is_checked_as_a_file_is_and_its_warnings_said(
        marathon: DoneAtOnce, tmp_path: Path) -> None:
    said = Said()
    stack = demo(FakeEngine(), said)
    with pytest.raises(InputError) as refused:
        stack.deploy({"id": "web", "cpus": 0.1})
    assert str(refused.value).startswith("app web: ")
    assert "must either contain one of 'cmd' or 'args'" in str(refused.value)
    dry = stack.deploy({**WEB, "newField": 1, "version": "2015-01-01T00:00:00Z"}, dry_run=True)
    assert said.warnings == [
        "app web: /newField: unknown field `newField` (sent as is)",
        "app web: dropped version: Marathon reports them but does not take them (to go back "
        "to an earlier version: `mesostack rollback`)"]
    assert dry.url == "http://127.0.0.1:48080" and dry.requests[0].body["newField"] == 1
    assert marathon.calls == []  # a dry run sends nothing
    (tmp_path / "web.json").write_text(json.dumps(WEB))
    assert stack.deploy(tmp_path / "web.json", settle=0).app_ids == ("/web",)


def test_marathon_s_refusal_is_the_command_line_s_typed_error(marathon: DoneAtOnce) -> None:
    marathon.script("POST", "/v2/apps", (422, {"message": "Object is not valid", "details": [
        {"path": "/cpus", "errors": ["error.min"]}]}))
    with pytest.raises(MarathonRejected) as rejected:
        demo(FakeEngine()).deploy(WEB)
    assert rejected.value.exit_code is ExitCode.BAD_INPUT


def test_scale_remove_and_the_task_logs_iterator(
        marathon: DoneAtOnce, monkeypatch: pytest.MonkeyPatch) -> None:
    stack = demo(FakeEngine())
    stack.deploy(WEB, settle=0)
    scaled = stack.scale("web", 3, settle=0)
    assert scaled.followed and scaled.app_id == "/web" and scaled.deployment_id
    assert marathon.apps["/web"]["instances"] == 3
    reads = iter([b"hello\nwor", b"ld\n", b""])

    def read(sandbox: Sandbox, name: str, offset: int, **_: Any) -> tuple[bytes, int]:
        data = next(reads, b"")
        return data, offset + len(data)

    monkeypatch.setattr(mesos, "task_sandbox", lambda *_a, **_k: Sandbox("a:5051", "/r", False))
    monkeypatch.setattr(mesos, "read_sandbox", read)
    monkeypatch.setattr(mesos, "READ_CHUNK", 9)  # a short read is the file's end
    assert list(stack.task_logs("web")) == ["hello\nworld\n"]  # one task: no prefix
    removed = stack.remove("web", wait=False)
    assert removed.deployment_id and not removed.followed
    with pytest.raises(MesostackError, match="has no app /nope"):
        stack.remove("/nope")
    marathon.apps["/idle"] = {"id": "/idle", "instances": 0, "tasks": []}
    with pytest.raises(MesostackError, match="app idle has no tasks yet"):
        stack.task_logs("idle")


# --- README's example --------------------------------------------------------------------


def readme_example() -> str:
    """The Python block between README's api-example markers (the integration test runs it
    on the test bed, as it is written)."""
    readme = Path(__file__).resolve().parents[2] / "README.md"
    marked = readme.read_text(encoding="utf-8").split("<!-- api-example -->", 1)[1]
    return marked.split("<!-- /api-example -->", 1)[0].split("```python\n", 1)[1].split(
        "```", 1)[0]


def test_the_readme_example_runs_on_the_fakes(
        engine: FakeEngine, marathon: DoneAtOnce, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Its calls and the attributes it reads, on the fake engine and Marathon (each component
    called ready, the task's sandbox holding its first line)."""
    path = tmp_path / "stack.yaml"
    path.write_text(yaml.safe_dump(DEMO))
    monkeypatch.setenv("MESOSTACK_FILE", str(path))
    monkeypatch.setattr(Stack, "engines", lambda _s, **_: Engines({None: engine}))
    assert Stack.deploy.__kwdefaults__ is not None  # no settle window: no real waiting here
    monkeypatch.setitem(Stack.deploy.__kwdefaults__, "settle", 0)
    ready = orchestrator.ComponentStatus("demo-master", "master", "127.0.0.1:45050",
                                         "running", True)
    monkeypatch.setattr(orchestrator, "status", lambda stack, **_: orchestrator.StackStatus(
        stack, (ready,)))
    monkeypatch.setattr(mesos, "task_sandbox", lambda *_a, **_k: Sandbox("a:5051", "/r", False))
    monkeypatch.setattr(mesos, "read_sandbox", lambda _s, _n, offset, **_: (
        (b"Hello from the API\n", offset + 19) if offset == 0 else (b"", offset)))

    exec(compile(readme_example(), "README.md", "exec"), {"__name__": "__main__"})

    deployment = marathon.apps["/hello-api"]["deployments"][0]["id"]
    assert capsys.readouterr() == (f"deployed /hello-api in deployment {deployment}\n"
                                   "Hello from the API\nready: True\n", "")
    assert engine.held == []  # taken down at the block's end


def test_the_package_says_it_is_typed() -> None:
    """PEP 561: type checkers read the API's annotations only when the package has py.typed."""
    import mesostack

    assert (Path(mesostack.__file__).parent / "py.typed").is_file()
