"""The bundle's pure parts: names, gathering with failures, the manifest, the tarball; and the
command's refusals and best effort without any engine or component answering."""

from __future__ import annotations

import io
import json
import tarfile
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clirun import run
from fakes import FakeClock, FakeEngine, container
from mesostack.bundle import (
    Answer,
    Heading,
    Part,
    bundle_name,
    cap_log,
    failure,
    gather,
    manifest,
    output_path,
    readme,
    render_tree,
    top_name,
    tree_secrets,
    write,
)
from mesostack.errors import InputError
from mesostack.mesos import Znode, ZooKeeperTree

NOW = datetime(2026, 11, 26, 4, 5, 6, tzinfo=UTC)


def read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    """A member's bytes; the tarball holds files only."""
    data = tar.extractfile(member)
    assert data is not None, f"{member.name} is not a file"
    return data.read()


def test_file_name_is_the_stack_and_utc_time() -> None:
    assert bundle_name("testbed", NOW) == "mesostack-bundle-testbed-20261126T040506Z"


def test_output_path_default_directory_and_refusal(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    default = Path("mesostack-bundle-s-20261126T040506Z.tar.gz")
    assert output_path(None, "s", NOW) == default
    assert output_path(str(tmp_path), "s", NOW) == tmp_path / default
    assert output_path("x.tgz", "s", NOW) == Path("x.tgz")
    (tmp_path / "x.tgz").write_text("precious")
    with pytest.raises(InputError) as refused:
        output_path("x.tgz", "s", NOW)
    assert refused.value.message == "x.tgz already exists; not overwriting it"
    assert (tmp_path / "x.tgz").read_text() == "precious"


def test_two_bundles_of_one_second_get_names_of_their_own(tmp_path: Path) -> None:
    first = output_path(str(tmp_path), "s", NOW)
    first.write_text("the first")
    second = output_path(str(tmp_path), "s", NOW)
    assert second == tmp_path / "mesostack-bundle-s-20261126T040506Z-2.tar.gz"
    assert first.read_text() == "the first"
    assert top_name(second, "s", NOW) == "mesostack-bundle-s-20261126T040506Z-2"
    assert top_name(tmp_path / "mine.tgz", "s", NOW) == "mesostack-bundle-s-20261126T040506Z"


def test_gather_records_failures_and_slow_parts_without_stopping_the_rest() -> None:
    clock = FakeClock()
    late, release = threading.Event(), threading.Event()

    def boom() -> str:
        raise ConnectionError("the master on 127.0.0.1:5050 does not answer\nsecond line")

    def stuck() -> str:
        clock.advance(121)  # it takes longer than the whole bundle may
        late.set()
        release.wait()
        return "late"

    def after_the_deadline() -> str:
        late.wait()  # taken after `stuck`: the parts before both are done by now
        return "last"

    parts = [Part("a.txt", "text", lambda: "hello"),
             Part("b.json", "a document", lambda: Answer({"k": 1}, "GET http://x/y")),
             Part("c.json", "the master's state", boom),
             Part("d.txt", "a slow one", stuck),
             Part("e.txt", "one done past the deadline", after_the_deadline)]
    try:
        outcomes = gather(parts, timeout=120, workers=2, clock=clock)
    finally:
        release.set()
    assert [(o.path, o.ok) for o in outcomes] == [("a.txt", True), ("b.json", True),
                                                  ("c.json", False), ("d.txt", False),
                                                  ("e.txt", True)]
    assert outcomes[0].content == "hello"
    assert (outcomes[1].content, outcomes[1].source) == ({"k": 1}, "GET http://x/y")
    assert outcomes[2].error == "the master on 127.0.0.1:5050 does not answer"
    assert outcomes[3].error == "not done within 120 s"


def test_gather_times_each_part_on_its_clock() -> None:
    clock = FakeClock()

    def slow() -> str:
        clock.advance(2.5)
        return "done"

    (outcome,) = gather([Part("a.txt", "text", slow)], timeout=120, clock=clock)
    assert (outcome.content, outcome.seconds) == ("done", 2.5)


def test_manifest_and_readme_name_what_failed_and_why() -> None:
    outcomes = [failure("the Docker engine tcp://10.0.0.9:2376", "cannot reach it"),
                *gather([Part("zookeeper/tree.txt", "the ZooKeeper tree", lambda: "/\n"),
                         Part("mesos/master-1-state.json", "the master's state",
                              lambda: (_ for _ in ()).throw(OSError("refused")))],
                        timeout=5)]
    containers = [{"name": "s-zookeeper", "role": "zookeeper", "status": "running",
                   "image": "zk:1", "task": False}]
    heading = Heading(name="mesostack-bundle-s-x", stack="s", created=NOW,
                      stack_file="stack.yaml", seconds=1.234, masked=2)
    document = manifest(heading, outcomes=outcomes, containers=containers)
    assert document["created"] == "2026-11-26T04:05:06Z"
    assert [c["path"] for c in document["collected"]] == ["zookeeper/tree.txt"]
    assert document["failed"] == [
        {"path": "", "what": "the Docker engine tcp://10.0.0.9:2376", "error": "cannot reach it"},
        {"path": "mesos/master-1-state.json", "what": "the master's state", "error": "refused"}]
    text = readme(document)
    assert "  mesos/master-1-state.json  the master's state: refused\n" in text
    assert "  -  the Docker engine tcp://10.0.0.9:2376: cannot reach it\n" in text
    assert "  s-zookeeper  zookeeper  running  zk:1\n" in text


def test_the_tarball_has_one_top_directory_and_masks_every_member() -> None:
    secret = "s3cret-pw"
    outcomes = gather([
        Part("containers/s-marathon/logs.txt", "log",
             lambda: f"2026-11-26T04:00:00Z starting --http_credentials admin:{secret}\n"),
        Part("containers/s-marathon/inspect.json", "inspect",
             lambda: {"Config": {"Env": [f"MARATHON_HTTP_CREDENTIALS=admin:{secret}"]}}),
        Part("broken.json", "broken", lambda: (_ for _ in ()).throw(OSError("down"))),
    ], timeout=5)
    buffer = io.BytesIO()
    write(buffer, top="mesostack-bundle-s-x", outcomes=outcomes,
          secrets={f"admin:{secret}", secret},
          extra={"manifest.json": {"password": secret}, "README.txt": f"see {secret}"},
          mtime=NOW.timestamp())
    buffer.seek(0)
    with tarfile.open(fileobj=buffer, mode="r:gz") as tar:
        names = tar.getnames()
        contents = {m.name: read(tar, m) for m in tar.getmembers() if m.isfile()}
    assert names == ["mesostack-bundle-s-x/containers/s-marathon/logs.txt",
                     "mesostack-bundle-s-x/containers/s-marathon/inspect.json",
                     "mesostack-bundle-s-x/manifest.json", "mesostack-bundle-s-x/README.txt"]
    for data in contents.values():
        assert secret.encode() not in data
    inspect = json.loads(contents["mesostack-bundle-s-x/containers/s-marathon/inspect.json"])
    assert inspect == {"Config": {"Env": ["MARATHON_HTTP_CREDENTIALS=***"]}}


def test_zookeeper_tree_text_and_the_secrets_in_its_json() -> None:
    tree = ZooKeeperTree((
        Znode("/", b"", 0),
        Znode("/mesos/json.info_0000000001", b'{"hostname": "127.0.0.1"}', 25),
        Znode("/mesos/info_0000000002", b"\x08\x01bin\xff", 6),
        Znode("/marathon/state/app:db", b'{"env": {"DB_PASSWORD": "hunter2-long"}}', 9000),
        Znode("/secret", b"", 0, "no access"),
    ), truncated="stopped after 5 znodes")
    text = render_tree(tree)
    assert text.splitlines() == [
        "/ (0 bytes)",
        "/mesos/json.info_0000000001 (25 bytes)",
        '  {"hostname": "127.0.0.1"}',
        "/mesos/info_0000000002 (6 bytes)",
        "  \\x08\\x01bin\\xff",
        "/marathon/state/app:db (9000 bytes)",
        '  {"env": {"DB_PASSWORD": "hunter2-long"}}',
        "  ... (8960 more bytes left out)",
        "/secret (no access)",
        "# walk stopped after 5 znodes",
    ]
    assert tree_secrets(tree) == {"hunter2-long"}


def test_a_log_is_capped_at_its_end() -> None:
    assert cap_log("short", limit=10) == "short"
    assert cap_log("0123456789abcdef", limit=6) == "[... 10 earlier bytes left out ...]\nabcdef"


# --- the command, with nothing answering ---------------------------------------------------


@pytest.fixture
def nothing_answers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No engine; a stack on loopback ports nothing listens on; secrets in its env."""
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("MESOSTACK_FILE", raising=False)
    monkeypatch.setenv("MARATHON_CREDENTIALS", "client:client-s3cret")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stack.yaml").write_text(
        "name: unit\nhost_ip: 127.0.0.1\nzookeeper: {port: 59181}\nmaster: {port: 59050}\n"
        "slave: {port: 59051}\nmarathon:\n  port: 59080\n  env:\n"
        "    MARATHON_HTTP_CREDENTIALS: admin:marathon-s3cret\n    DB_PASSWORD: hunter2-long\n")
    return tmp_path


def test_bundle_without_any_answer_still_writes_the_tarball(
        nothing_answers: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["bundle"], capsys)
    assert code == 0, err
    path = nothing_answers / out.strip()
    assert out.startswith("mesostack-bundle-unit-") and out.endswith(".tar.gz\n")
    assert path.stat().st_mode & 0o777 == 0o600
    summary = err.splitlines()[-1]
    assert summary.startswith("stack unit: 0 containers, 0 parts in ")
    assert "not collected: the Docker engine, mesos/master-1-state.json" in summary
    with tarfile.open(path) as tar:
        top = out.strip().removesuffix(".tar.gz")
        members = {m.name.removeprefix(top + "/"): read(tar, m) for m in tar.getmembers()}
    assert set(members) == {"stack.yaml", "versions.json", "manifest.json", "README.txt"}
    document = json.loads(members["manifest.json"])
    failed = {f["path"] or f["what"] for f in document["failed"]}
    assert failed == {"the Docker engine", "mesos/master-1-state.json",
                      "mesos/agent-1-state.json", "marathon/info.json", "marathon/apps.json",
                      "marathon/deployments.json", "marathon/queue.json",
                      "zookeeper/srvr-1.txt", "zookeeper/tree.txt"}
    assert "port: 59080" in members["stack.yaml"].decode()
    for data in members.values():
        for secret in (b"marathon-s3cret", b"hunter2-long", b"client-s3cret"):
            assert secret not in data
    assert "***" in members["stack.yaml"].decode()


def test_bundle_refuses_to_overwrite(nothing_answers: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    (nothing_answers / "taken.tar.gz").write_bytes(b"mine")
    code, out, err = run(["bundle", "-o", "taken.tar.gz"], capsys)
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == ("mesostack: error: taken.tar.gz already exists; not "
                                    "overwriting it (remove it or give another --output)")
    assert (nothing_answers / "taken.tar.gz").read_bytes() == b"mine"


def test_bundle_into_a_missing_directory_is_one_line(nothing_answers: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["bundle", "-o", "no/such/dir/b.tar.gz"], capsys)
    assert (code, out) == (1, "")
    assert err.splitlines()[-1] == ("mesostack: error: can't write no/such/dir/b.tar.gz: No such "
                                    "file or directory (give a writable --output)")
    assert "Traceback" not in err


def test_bundle_with_a_bad_stack_file_is_input_error(nothing_answers: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (nothing_answers / "stack.yaml").write_text("name: [\n")
    code, out, err = run(["bundle"], capsys)
    assert (code, out) == (2, "")
    assert err.startswith("mesostack: error: stack.yaml:") and err.count("\n") == 1
    assert not list(nothing_answers.glob("*.tar.gz"))


def test_who_is_asked_follows_the_labels_then_the_plan_for_engines_out_of_reach() -> None:
    from mesostack.bundle import Instance, Stack, instances
    from mesostack.config import LoadedConfig, StackConfig
    from mesostack.plan import build
    from mesostack.runtime import ContainerInfo

    config = StackConfig(name="s", host_ip="127.0.0.1")
    plan = build(config, "127.0.0.1")

    def member(role: str, status: str, endpoint: str) -> ContainerInfo:
        return container(f"s-{role}", {"io.mesostack.endpoint": endpoint}, stack="s", role=role,
                         status=status)

    unreached = Stack(LoadedConfig(config, None), plan)  # no engine answered
    assert instances(unreached, "master") == [Instance("1", "127.0.0.1:5050")]
    reached = Stack(LoadedConfig(config, None), plan, engines={None: FakeEngine()},
                    containers=[member("master", "exited", "127.0.0.1:5050"),
                                member("slave", "running", "127.0.0.1:5051")])
    assert instances(reached, "master") == [
        Instance("1", "127.0.0.1:5050", "its container s-master is exited")]
    assert instances(reached, "slave") == [Instance("1", "127.0.0.1:5051")]
    assert instances(reached, "marathon") == []  # not this stack's to ask: another may answer
    # one engine out of reach, its containers listed through another endpoint to the same one
    both = Stack(LoadedConfig(config, None), plan,
                 containers=[member("slave", "running", "127.0.0.1:5051")])
    assert instances(both, "slave") == [Instance("1", "127.0.0.1:5051")]
