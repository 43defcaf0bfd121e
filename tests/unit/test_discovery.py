"""A command acting on a running stack, given no stack file, uses the one stack the engine runs
when the implicit file's (./stack.yaml or the built-in default) doesn't; found by the containers'
labels, which record the stack file and the hosts' own engines outside the config hash. Fake
engines, no Docker."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest
from test_plan_pins import PINNED, plan_of

from clirun import run
from fakes import FakeEngine, container
from mesostack import discovery, runtime
from mesostack.api import LOOK_TIMEOUT
from mesostack.cli._common import Options
from mesostack.config import parse
from mesostack.credentials import SERVER_VAR, for_marathon
from mesostack.errors import InputError
from mesostack.plan import (
    LABEL_ENGINES,
    LABEL_FILE,
    LABEL_HASH,
    Origin,
    Plan,
    build,
)
from mesostack.runtime import ContainerInfo, EngineUnreachable

ROOT = Path(__file__).resolve().parents[2]
TESTBED = ROOT / "examples" / "testbed.yaml"
HA = ROOT / "examples" / "ha-stack.yaml"


@pytest.fixture(autouse=True)
def workspace(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty directory (no stack.yaml), no $MESOSTACK_FILE, plain output."""
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("MESOSTACK_FILE", raising=False)
    monkeypatch.delenv("MARATHON_URL", raising=False)
    monkeypatch.delenv("MARATHON_CREDENTIALS", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def started(plan: Plan, *, status: str = "running", engine: str | None = None,
            env: Mapping[str, str] | None = None) -> list[ContainerInfo]:
    """The containers `up` creates for `plan` (on `engine`, or each spec's own)."""
    return [container(spec.name, dict(spec.labels), image=spec.image, status=status,
                      engine=engine or spec.docker, env=dict(env or {}))
            for spec in plan.specs]


def stack_from(path: Path, *, ip: str = "127.0.0.1") -> Plan:
    """What `up -f PATH` plans: the file's stack, its origin recorded."""
    return build(parse(path.read_text()), ip, origin=Origin(file=str(path.absolute())))


class Connections:
    """Engines.connect over fake engines by endpoint; a missing one doesn't answer (with
    `partial`, as Engines.connect has it: left out unless none answers). Records each
    connection's endpoints and timeout."""

    def __init__(self, engines: Mapping[str | None, FakeEngine]) -> None:
        self.engines = dict(engines)
        self.calls: list[tuple[list[str | None], float]] = []

    def connect(self, endpoints: Iterable[str | None], *, timeout: float = 60,
                partial: bool = False) -> runtime.Engines:
        wanted = list(dict.fromkeys(endpoints))
        self.calls.append((wanted, timeout))
        failed = {e: EngineUnreachable(f"cannot reach the Docker engine at {e}",
                                       hint=runtime.UNREACHABLE_HINT)
                  for e in wanted if e not in self.engines}
        if failed and (not partial or len(failed) == len(wanted)):
            raise next(iter(failed.values()))
        return runtime.Engines({e: self.engines[e] for e in wanted if e in self.engines},
                               failed)


def engines_holding(monkeypatch: pytest.MonkeyPatch, held: list[ContainerInfo]) -> Connections:
    """The usual engine holds `held` (with a log line for each container)."""
    usual = FakeEngine(held=held, log_texts={c.name: f"log of {c.name}\n" for c in held})
    connections = Connections({None: usual})
    monkeypatch.setattr(runtime.Engines, "connect", classmethod(
        lambda _cls, endpoints, **kw: connections.connect(endpoints, **kw)))
    return connections


def copy_of_testbed(where: Path, *, name: str = "testbed") -> Path:
    """The test bed's stack file, at `where` (it may be renamed there)."""
    where.parent.mkdir(parents=True, exist_ok=True)
    where.write_text(TESTBED.read_text().replace("name: testbed", f"name: {name}"))
    return where


# --- the labels --------------------------------------------------------------------------------


@pytest.mark.parametrize("which", sorted(PINNED))
def test_the_origin_labels_leave_the_pinned_hashes_as_they_are(which: str) -> None:
    bare = plan_of(which)
    assert bare.config is not None
    recorded = build(bare.config, bare.host_ip, origin=Origin(file="/somewhere/stack.yaml"))
    elsewhere = build(bare.config, bare.host_ip, origin=Origin(file="/elsewhere/stack.yaml"))
    assert [dict(s.labels)[LABEL_HASH] for s in recorded.specs] == [
        digest for _, _, digest, _ in PINNED[which]]
    assert [s.config_hash for s in elsewhere.specs] == [s.config_hash for s in recorded.specs]
    engines = {LABEL_ENGINES: "node2=ssh://admin@10.0.0.12,node3=tcp://10.0.0.13:2376"}
    for plain, labelled in zip(bare.specs, recorded.specs, strict=True):
        added = dict(dict(labelled.labels).items() - dict(plain.labels).items())
        assert added == {LABEL_FILE: "/somewhere/stack.yaml", **(engines if which == "ha" else {})}
    assert all(LABEL_FILE not in dict(s.labels) for s in bare.specs)  # what earlier releases wrote


def test_up_keeps_a_container_started_from_another_path_or_by_an_earlier_release() -> None:
    from mesostack.convergence import Action, decide

    config = parse(TESTBED.read_text())
    wanted = build(config, "127.0.0.1", origin=Origin(file="/here/testbed.yaml"))
    for earlier in (build(config, "127.0.0.1", origin=Origin(file="/there/testbed.yaml")),
                    build(config, "127.0.0.1")):
        for spec, had in zip(wanted.specs, started(earlier), strict=True):
            assert decide(spec, had, had.image_id).action is Action.KEEP, spec.name


def test_a_multi_host_stack_names_its_hosts_engines_on_every_container() -> None:
    plan = stack_from(HA, ip="")
    engines = {dict(s.labels).get(LABEL_ENGINES) for s in plan.specs}
    assert engines == {"node2=ssh://admin@10.0.0.12,node3=tcp://10.0.0.13:2376"}
    assert LABEL_ENGINES not in dict(stack_from(TESTBED).specs[0].labels)


def test_the_file_label_is_the_absolute_path_of_the_file_up_read(
        capsys: pytest.CaptureFixture[str], workspace: Path) -> None:
    copy_of_testbed(workspace / "examples" / "testbed.yaml")
    code, out, err = run(["-f", "examples/testbed.yaml", "up", "--dry-run"], capsys)
    assert code == 0, err
    lines = [line for line in out.splitlines() if line.startswith("docker run")]
    assert len(lines) == 4
    assert all(f"--label io.mesostack.file={workspace}/examples/testbed.yaml " in line
               for line in lines)


# --- the decision ------------------------------------------------------------------------------


def running(name: str, *, file: str = "", status: str = "running") -> discovery.Running:
    labels = {LABEL_FILE: file} if file else {}
    return discovery.Running(name, (container(f"{name}-zookeeper", labels, stack=name,
                                              role="zookeeper", status=status),))


def test_the_one_other_running_stack_is_chosen() -> None:
    other = running("testbed", file="/x/testbed.yaml")
    assert discovery.choose("mesostack", [other], what="the built-in default") == other
    assert other.shown() == "testbed (/x/testbed.yaml)"


def test_the_implicit_files_own_stack_wins_even_stopped() -> None:
    found = [running("mesostack", status="exited"), running("testbed")]
    assert discovery.choose("mesostack", found, what="stack.yaml") is None


def test_without_another_running_stack_nothing_changes() -> None:
    assert discovery.choose("mesostack", [], what="stack.yaml") is None
    assert discovery.choose("mesostack", [running("old", status="exited")],
                            what="stack.yaml") is None


def test_several_running_stacks_are_listed_with_how_to_choose() -> None:
    found = [running("a", file="/x/a.yaml"), running("b"), running("c", status="exited")]
    with pytest.raises(InputError) as raised:
        discovery.choose("mesostack", found, what="stack.yaml")
    assert str(raised.value) == (
        "stack.yaml's stack mesostack is not running, and the engine runs 2 stacks: "
        "a (/x/a.yaml), b (no stack file recorded) (pick one with -f FILE (or $MESOSTACK_FILE))")
    assert raised.value.exit_code == 2


def test_a_stack_is_described_again_by_its_labels() -> None:
    """The test bed's and the HA example's labels give back their names, addresses, hosts with
    their engines, images and data_dirs: the same containers, on the same engines."""
    for path, ip in ((TESTBED, "127.0.0.1"), (HA, "")):
        plan = stack_from(path, ip=ip)
        found = discovery.stacks(started(plan))
        assert [s.name for s in found] == [plan.stack]
        again = build(discovery.config_of(found[0]), "127.0.0.1")
        assert [(s.name, s.endpoint, s.docker, s.image, s.host, s.data_dir) for s in again.specs
                ] == [(s.name, s.endpoint, s.docker, s.image, s.host, s.data_dir)
                      for s in plan.specs]
        assert again.docker_endpoints == plan.docker_endpoints
    slave = discovery.described(discovery.stacks(started(stack_from(TESTBED)))[0])["slave"]
    assert slave["tasks"] == "docker"


def test_labels_that_make_no_stack_say_so_in_one_line() -> None:
    two = [container(f"x-zookeeper-{i}", {"io.mesostack.endpoint": f"127.0.0.1:{2180 + i}",
                                          "io.mesostack.index": str(i)},
                     stack="x", role="zookeeper") for i in (1, 2)]
    with pytest.raises(InputError) as raised:
        discovery.config_of(discovery.stacks(two)[0])
    assert str(raised.value).startswith("stack x: its containers' labels don't make a stack: ")
    assert "-f FILE" in str(raised.value)


# --- the commands ------------------------------------------------------------------------------


def using(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("mesostack: using")]


def test_a_command_uses_the_one_running_stack_and_says_which(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    """The newcomer's `mesostack -f examples/testbed.yaml up`, then a plain command elsewhere."""
    file = copy_of_testbed(tmp_path / "repo" / "examples" / "testbed.yaml")
    connections = engines_holding(monkeypatch, started(stack_from(file)))
    code, out, err = run(["logs", "zookeeper"], capsys)
    assert code == 0, err
    assert out == "log of testbed-zookeeper\n"
    assert using(err) == [f"mesostack: using the running stack testbed ({file}); "
                          "-f picks another"]
    assert connections.calls[0] == ([None], LOOK_TIMEOUT)  # one short look first


def test_the_marathon_commands_talk_to_the_running_stacks_marathon(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    file = copy_of_testbed(tmp_path / "examples" / "testbed.yaml")
    plan = build(parse(file.read_text()), "127.0.0.3", origin=Origin(file=str(file)))
    engines_holding(monkeypatch, started(plan))
    for command in ("deploy", "apps", "scale", "remove", "rollback", "task-logs"):
        options = Options(command=command)
        assert options.stack().marathon_url == "http://127.0.0.3:8080", command
        assert options.load().source == file
    options = Options(command="deploy")  # --dry-run: the file as today, no engine asked
    assert options.stack(look=False)._marathon_url(running=False).startswith("http://")
    assert options.load().source is None and options.stack().name == "mesostack"


def test_down_takes_down_the_running_stack(capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    file = copy_of_testbed(tmp_path / "examples" / "testbed.yaml")
    held = [c for c in started(stack_from(file)) if c.role != "slave"]
    connections = engines_holding(monkeypatch, held)
    code, _, err = run(["down"], capsys)
    assert code == 0, err
    assert connections.engines[None].held == []
    assert "stack testbed: removed 3 containers" in err and len(using(err)) == 1


def test_several_running_stacks_exit_2_listing_them(capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    one = copy_of_testbed(tmp_path / "one" / "testbed.yaml")
    two = copy_of_testbed(tmp_path / "two" / "other.yaml", name="other")
    engines_holding(monkeypatch, [*started(stack_from(one)),
                                  *started(stack_from(two, ip="127.0.0.2"))])
    for command in (["status"], ["down"], ["logs"], ["apps"], ["deploy", "app.json"]):
        (Path.cwd() / "app.json").write_text('{"id": "a", "cmd": "x"}')
        code, out, err = run(command, capsys)
        assert code == 2 and out == "", command
        assert err.splitlines() == [
            "mesostack: error: the built-in default's stack mesostack is not running, and the "
            f"engine runs 2 stacks: other ({two}), testbed ({one}) (pick one with -f FILE (or "
            "$MESOSTACK_FILE))"], command


def test_an_explicit_file_is_used_as_given(capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    file = copy_of_testbed(tmp_path / "examples" / "testbed.yaml")
    connections = engines_holding(monkeypatch, started(stack_from(file)))
    mine = tmp_path / "mine.yaml"
    mine.write_text("name: mine\nhost_ip: 127.0.0.1\n")
    code, _, err = run(["-f", str(mine), "logs"], capsys)
    assert code == 1 and using(err) == []
    assert "stack mine has no containers" in err
    monkeypatch.setenv("MESOSTACK_FILE", str(mine))
    code, _, err = run(["logs"], capsys)
    assert code == 1 and using(err) == [] and "stack mine has no containers" in err
    assert all(timeout != LOOK_TIMEOUT for _, timeout in connections.calls)  # no look


def test_the_implicit_files_own_running_stack_wins(capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path, workspace: Path) -> None:
    file = copy_of_testbed(tmp_path / "examples" / "testbed.yaml")
    (workspace / "stack.yaml").write_text("name: demo\nhost_ip: 127.0.0.2\n")
    demo = build(parse("name: demo\nhost_ip: 127.0.0.2\n"), "127.0.0.2")
    engines_holding(monkeypatch, [*started(stack_from(file)), *started(demo)])
    code, out, err = run(["logs", "zookeeper"], capsys)
    assert code == 0, err
    assert out == "log of demo-zookeeper\n" and using(err) == []


def test_without_a_running_stack_or_an_answering_engine_nothing_changes(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    file = copy_of_testbed(tmp_path / "examples" / "testbed.yaml")
    engines_holding(monkeypatch, started(stack_from(file), status="exited"))
    code, _, err = run(["logs"], capsys)
    assert code == 1 and using(err) == []
    assert err.splitlines()[-1].startswith("mesostack: error: stack mesostack has no containers")
    connections = engines_holding(monkeypatch, [])
    del connections.engines[None]  # the engine doesn't answer: the command says so, as today
    code, _, err = run(["logs"], capsys)
    assert code == 1 and using(err) == []
    assert err.splitlines() == ["mesostack: error: cannot reach the Docker engine at None "
                                "(is Docker running? try `docker ps`)"]
    assert connections.calls[0] == ([None], LOOK_TIMEOUT)


@pytest.mark.parametrize("command", [["up", "--dry-run"], ["config"], ["deploy", "--dry-run",
                                                                         "app.json"]])
def test_the_commands_that_act_on_the_file_never_look(
        command: list[str], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    file = copy_of_testbed(tmp_path / "examples" / "testbed.yaml")
    connections = engines_holding(monkeypatch, started(stack_from(file)))
    (Path.cwd() / "app.json").write_text('{"id": "a", "cmd": "x"}')
    code, out, err = run(command, capsys)
    assert code == 0, err
    assert connections.calls == [] and using(err) == [] and "testbed" not in out


def test_a_stack_whose_file_is_gone_is_used_from_its_labels(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    """Its Marathon's credentials come from the running container, never from a label."""
    file = copy_of_testbed(tmp_path / "gone" / "testbed.yaml")
    plan = stack_from(file)
    held = started(plan, env={SERVER_VAR: "admin:s3cr3t"})
    file.unlink()
    engines_holding(monkeypatch, held)
    code, out, err = run(["logs", "marathon"], capsys)
    assert code == 0, err
    assert out == "log of testbed-marathon\n"
    assert using(err) == ["mesostack: using the running stack testbed (from its containers' "
                          f"labels: {file} is gone); -f picks another"]
    options = Options(command="apps")
    loaded = options.load()
    assert loaded.config.name == "testbed" and loaded.source is None
    assert for_marathon(None, own=[loaded.config.marathon.env]) == "admin:s3cr3t"
    assert options.plan()[1].startswith("stack testbed from its running containers' labels; "
                                        "host_ip 127.0.0.1 (from its labels)")
    assert all("s3cr3t" not in value for c in held for value in c.labels.values())
    from mesostack.bundle import effective_config  # a bundle's header names it so too

    assert effective_config(loaded, options.plan()[0]).startswith(
        "# the effective stack.yaml (defaults filled in, secrets masked) of the running stack "
        "testbed (from its containers' labels);")


def test_a_file_that_now_names_another_stack_is_not_used(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    file = copy_of_testbed(tmp_path / "examples" / "testbed.yaml")
    held = started(stack_from(file))
    file.write_text("name: renamed\n")
    engines_holding(monkeypatch, held)
    options = Options(command="status")
    assert options.stack().name == "testbed" and options.load().source is None
    assert f"{file} now names stack renamed" in capsys.readouterr().err


def test_a_multi_host_stack_from_its_labels_reaches_its_other_engines(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    """The HA example (file gone): node1's containers on the usual engine, node2's and node3's
    on theirs, named by the labels; `logs` shows all of them."""
    file = tmp_path / "ha.yaml"
    file.write_text(HA.read_text())
    plan = stack_from(file, ip="")
    file.unlink()
    by_engine: dict[str | None, list[ContainerInfo]] = {}
    for c in started(plan):
        by_engine.setdefault(c.engine, []).append(c)
    remote = {e: FakeEngine(held=held, key=e, log_texts={c.name: "up\n" for c in held})
              for e, held in by_engine.items() if e}
    connections = engines_holding(monkeypatch, by_engine[None])
    connections.engines.update(remote)
    code, out, err = run(["logs", "master"], capsys)
    assert code == 0, err
    assert [line.split(" | ")[0] for line in out.splitlines()] == [
        "ha-master-1", "ha-master-2", "ha-master-3"]
    assert len(using(err)) == 1 and "from its containers' labels" in err
    del connections.engines["tcp://10.0.0.13:2376"]  # a host's engine out of reach: as with -f
    code, _, err = run(["status"], capsys)
    assert code == 1 and "cannot reach the Docker engine at tcp://10.0.0.13:2376" in err


def test_ls_shows_each_stacks_file(capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    file = copy_of_testbed(tmp_path / "examples" / "testbed.yaml")
    old = build(parse("name: old\nhost_ip: 127.0.0.2\n"), "127.0.0.2")  # an earlier release's
    engines_holding(monkeypatch, [*started(stack_from(file), status="exited"),
                                  *started(old, status="exited")])
    code, out, err = run(["ls"], capsys)
    assert code == 0, err
    rows = [line.split() for line in out.splitlines()]
    assert rows[0] == ["stack", "components", "running", "ready", "file"]
    assert [(row[0], row[-1]) for row in rows[1:]] == [("old", "-"), ("testbed", str(file))]
