"""The pytest plugin (`mesostack.pytest_plugin`), run by pytester on a stand-in for the API's
Stack (tests/fakestack.py): it costs nothing until used and `-p no:mesostack` turns it off; the
session's stack is brought up once and taken down at the end (not with keep); apps deployed for
a test carry the session's label and are removed after it; a new session removes what a killed
one left; a failed test's bundle; pytest-xdist's workers share one stack."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from importlib.metadata import entry_points
from importlib.util import find_spec
from pathlib import Path

import pytest
from filelock import FileLock

from fakestack import ENV, Fake
from mesostack.pytest_plugin import LABEL, Shared, sanitised, shared_dir

pytest_plugins = ["pytester"]

TESTS = Path(__file__).resolve().parents[1]
HEAVY = ("docker", "requests", "urllib3", "kazoo", "rich", "pydantic", "yaml", "filelock",
         "paramiko")
LIGHT = {"mesostack", "mesostack.errors", "mesostack.pytest_plugin"}
STACK = "name: plugtest\nhost_ip: 127.0.0.1\n"

# A plain test, run with the plugin on: it says what the session imported.
PLAIN = f"""
import sys

def test_plain():
    print("plugin", "mesostack.pytest_plugin" in sys.modules)
    print("heavy", sorted(m for m in {HEAVY!r} if m in sys.modules))
    print("mesostack", sorted(m for m in sys.modules if m.split(".")[0] == "mesostack"))
"""


@pytest.fixture
def fake(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Fake:
    """A pytester project with `stack.yaml`, the fake's state and the plugin's shared
    directory in this test's own temporary directory (for pytester's subprocesses too)."""
    shared = tmp_path / "tmp"
    shared.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    monkeypatch.setenv("TMPDIR", str(shared))
    monkeypatch.setenv(ENV, str(tmp_path / "fake"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get(
        "PYTHONPATH", "")]))
    monkeypatch.delenv("MESOSTACK_FILE", raising=False)
    (pytester.path / "stack.yaml").write_text(STACK)
    return Fake(tmp_path / "fake")


# hypothesis's summary imports hypothesis, which pytester's in-process runs each drop again
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "fakestack", *QUIET, *args)


def session_of(fake: Fake) -> set[str]:
    """The session ids on the apps deployed."""
    return {json.loads(c["args"][1])[LABEL] for c in fake.calls() if c["call"] == "deploy"}


def said(result: pytest.RunResult) -> tuple[str, list[str], list[str]]:
    """What PLAIN printed: whether the plugin was loaded, the heavy modules, mesostack's."""
    lines = dict(line.split(" ", 1) for line in result.outlines
                 if line.startswith(("heavy ", "mesostack ")))
    plugin = next(line.rsplit(" ", 1)[1] for line in result.outlines if " plugin " in line
                  or line.startswith("plugin "))
    return plugin, ast.literal_eval(lines["heavy"]), ast.literal_eval(lines["mesostack"])


def seats() -> list[str]:
    return sorted(p.name for p in shared_dir().glob("*.seat.*"))


# --- costs nothing; on by its entry point; off with -p no:mesostack ------------------------


def test_importing_the_plugin_loads_no_heavy_library() -> None:
    code = ("import json, sys\nimport mesostack.pytest_plugin\n"
            f"print(json.dumps([sorted(m for m in {HEAVY!r} if m in sys.modules),"
            " sorted(m for m in sys.modules if m.split('.')[0] == 'mesostack')]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    heavy, ours = json.loads(done.stdout)
    assert heavy == []
    assert set(ours) == LIGHT


def test_the_package_declares_the_plugin_under_pytest11() -> None:
    found = {e.name: e.value for e in entry_points(group="pytest11")}
    assert found["mesostack"] == "mesostack.pytest_plugin"


def test_a_plain_test_runs_with_the_plugin_on_and_nothing_heavy_imported(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner_plain=PLAIN)
    result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert said(result) == ("True", [], sorted(LIGHT))


def test_p_no_mesostack_turns_it_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner_plain=PLAIN,
                        test_inner_uses="def test_uses(mesostack_stack):\n    pass\n")
    off = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider", "-p", "no:mesostack")
    off.assert_outcomes(passed=1, errors=1)
    assert said(off) == ("False", [], [])
    off.stdout.fnmatch_lines(["*fixture 'mesostack_stack' not found*"])
    unknown = pytester.runpytest_subprocess("-p", "no:mesostack", "--mesostack-keep")
    assert unknown.ret == pytest.ExitCode.USAGE_ERROR
    unknown.stderr.fnmatch_lines(["*unrecognized arguments: --mesostack-keep*"])


def readme_example() -> str:
    """The Python block between README's pytest-example markers, as it is there."""
    text = (TESTS.parent / "README.md").read_text(encoding="utf-8")
    marked = text.split("<!-- pytest-example -->", 1)[1].split("<!-- /pytest-example -->", 1)[0]
    return marked.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_example_passes_and_its_app_is_removed(pytester: pytest.Pytester,
                                                          fake: Fake) -> None:
    pytester.makepyfile(test_inner_hello=readme_example())
    run(pytester).assert_outcomes(passed=1)
    assert [c.split(" {")[0] for c in fake.said()] == [
        "up stack.yaml", "deploy /hello", "remove /hello force=True", "down"]


def test_help_shows_the_options_and_ini_names(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["mesostack (the fixtures mesostack_stack, mesostack_app):",
                                 "*--mesostack-file=PATH*", "*--mesostack-keep*",
                                 "*--mesostack-bundle-dir=DIR*"])
    result.stdout.fnmatch_lines(["*mesostack_file (string)*", "*mesostack_keep (bool)*",
                                 "*mesostack_bundle_dir (string)*"])


# --- the session's stack -------------------------------------------------------------------------

TWO_TESTS = """
seen = []

def test_one(mesostack_stack):
    seen.append(mesostack_stack)
    assert mesostack_stack.name == "plugtest"

def test_two(mesostack_stack):
    seen.append(mesostack_stack)
    assert seen[0] is seen[1]
"""


def test_two_tests_share_one_stack_brought_up_once_and_taken_down_at_the_end(
        pytester: pytest.Pytester, fake: Fake) -> None:
    pytester.makepyfile(test_inner_two=TWO_TESTS)
    run(pytester).assert_outcomes(passed=2)
    assert fake.said() == ["up stack.yaml", "down"]
    assert seats() == []


def test_a_session_whose_tests_do_not_use_it_brings_nothing_up(
        pytester: pytest.Pytester, fake: Fake) -> None:
    pytester.makepyfile(test_inner_plain="def test_plain():\n    pass\n")
    run(pytester).assert_outcomes(passed=1)
    assert fake.said() == []


def test_keep_leaves_it_up_and_the_next_run_reuses_it(pytester: pytest.Pytester,
                                                      fake: Fake) -> None:
    pytester.makepyfile(test_inner_two=TWO_TESTS)
    run(pytester, "--mesostack-keep").assert_outcomes(passed=2)
    assert fake.said() == ["up stack.yaml"]
    run(pytester).assert_outcomes(passed=2)  # up on the running stack: as `up` does, quickly
    assert fake.said() == ["up stack.yaml", "up stack.yaml", "down"]
    pytester.makeini("[pytest]\nmesostack_keep = true\n")
    run(pytester).assert_outcomes(passed=2)
    assert fake.said()[3:] == ["up stack.yaml"]


def test_the_stack_file_is_found_as_the_command_line_finds_it(
        pytester: pytest.Pytester, fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_inner_one="def test_one(mesostack_stack):\n    pass\n")
    (pytester.path / "other.yaml").write_text("name: other\n")
    (pytester.path / "sub").mkdir()
    (pytester.path / "sub" / "ini.yaml").write_text("name: ini\n")
    run(pytester, "--mesostack-file=other.yaml").assert_outcomes(passed=1)
    monkeypatch.setenv("MESOSTACK_FILE", "other.yaml")
    run(pytester).assert_outcomes(passed=1)
    monkeypatch.delenv("MESOSTACK_FILE")
    pytester.makeini("[pytest]\nmesostack_file = sub/ini.yaml\n")
    run(pytester).assert_outcomes(passed=1)
    (pytester.path / "stack.yaml").unlink()
    (pytester.path / "tox.ini").unlink()
    run(pytester).assert_outcomes(passed=1)  # the built-in default
    assert [c for c in fake.said() if c.startswith("up")] == [
        "up other.yaml", "up other.yaml", f"up {pytester.path / 'sub' / 'ini.yaml'}", "up None"]


def test_a_missing_stack_file_is_each_test_s_error_in_one_line(
        pytester: pytest.Pytester, fake: Fake) -> None:
    pytester.makepyfile(test_inner_two=TWO_TESTS)
    result = run(pytester, "--mesostack-file=nope.yaml")
    result.assert_outcomes(errors=2)
    said = "nope.yaml: no such file (check --mesostack-file or the ini's mesostack_file)"
    assert result.outlines.count(said) == 2
    assert "mesostack/pytest_plugin.py" not in result.stdout.str()
    assert fake.said() == []


def test_a_failed_up_fails_its_tests_leaves_a_bundle_and_goes_down(
        pytester: pytest.Pytester, fake: Fake) -> None:
    pytester.makepyfile(test_inner_two=TWO_TESTS)
    fake.fail("up", "marathon: not ready within 300 s")
    result = run(pytester, "--mesostack-bundle-dir=bundles")
    result.assert_outcomes(errors=2)  # up once: pytest keeps a session fixture's error
    result.stdout.fnmatch_lines(["*marathon: not ready within 300 s*"])
    assert fake.said() == ["up stack.yaml", "bundle plugtest-up.tar.gz", "down"]
    assert (pytester.path / "bundles" / "plugtest-up.tar.gz").exists()
    run(pytester).assert_outcomes(errors=2)  # a new run tries again
    assert fake.said()[3:] == ["up stack.yaml", "down"]


# --- apps for one test -----------------------------------------------------------------------

APPS = """
import json
import pytest
from mesostack.errors import MesostackError

def test_deploys(mesostack_app):
    done = mesostack_app({"id": "web", "cmd": "sleep 9", "labels": {"team": "a"}})
    assert done.app_ids == ("/web",)
    mesostack_app("db.yaml")
    mesostack_app({"id": "/shop", "apps": [{"id": "cart", "cmd": "sleep 9"}],
                   "groups": [{"id": "back", "apps": [{"id": "pay", "cmd": "sleep 9"}]}]})

def test_after(mesostack_stack):
    assert mesostack_stack.marathon_client().apps() == []

def test_removed_by_the_test_or_failed(mesostack_app, mesostack_stack):
    mesostack_app({"id": "web", "cmd": "sleep 9"})
    mesostack_stack.remove("/web")
    with pytest.raises(MesostackError, match="deployment of /broken failed"):
        mesostack_app({"id": "broken", "cmd": "sleep 9"})
"""


def test_apps_carry_the_session_s_label_and_are_removed_after_their_test(
        pytester: pytest.Pytester, fake: Fake) -> None:
    pytester.makepyfile(test_inner_apps=APPS)
    (pytester.path / "db.yaml").write_text("id: db\ncmd: sleep 9\n")
    run(pytester, "-p", "no:randomly").assert_outcomes(passed=3)
    (session,) = session_of(fake)
    assert len(session) == 16
    label = json.dumps({LABEL: session})
    assert fake.said() == [
        "up stack.yaml",
        f"deploy /web {json.dumps({LABEL: session, 'team': 'a'}, sort_keys=True)}",
        f"deploy /db {label}", f"deploy /shop/cart {label}", f"deploy /shop/back/pay {label}",
        "remove /shop/back/pay force=True", "remove /shop/cart force=True",
        "remove /db force=True", "remove /web force=True",
        f"deploy /web {label}", "remove /web", f"deploy /broken {label}",
        "remove /broken force=True",  # deployed, though its deployment failed
        "down"]


def test_an_invalid_app_file_fails_the_test_naming_the_file(pytester: pytest.Pytester,
                                                            fake: Fake) -> None:
    pytester.makepyfile(
        test_inner_bad="def test_bad(mesostack_app):\n    mesostack_app('bad.json')\n")
    (pytester.path / "bad.json").write_text('{"id": "x", "cpus": "lots"}')
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*InputError: bad.json*cpus*"])
    assert fake.said() == ["up stack.yaml", "down"]


# --- what a killed session left; another user's stack ----------------------------------------


def test_a_new_session_removes_the_apps_a_killed_one_left_before_the_tests(
        pytester: pytest.Pytester, fake: Fake) -> None:
    fake.add_app("/left", {LABEL: "0123456789abcdef"})
    fake.add_app("/theirs", {"team": "a"})
    shared_dir().mkdir()
    stale = shared_dir() / "plugtest.seat.0123456789abcdef.4242.lock"
    stale.write_text("")  # its process died: nobody holds it
    pytester.makepyfile(test_inner_app="""
def test_app(mesostack_stack):
    assert [a["id"] for a in mesostack_stack.marathon_client().apps()] == ["/theirs"]
""")
    run(pytester).assert_outcomes(passed=1)
    assert fake.said() == ["up stack.yaml", "remove /left force=True", "down"]
    assert not stale.exists()
    assert list(fake.apps()) == ["/theirs"]


@pytest.fixture
def another_user(fake: Fake) -> Iterator[FileLock]:
    """A live user of the stack (another run's worker): its seat held, one app of its own."""
    shared_dir().mkdir(exist_ok=True)
    seat = FileLock(shared_dir() / "plugtest.seat.feedfacefeedface.1.lock")
    seat.acquire()
    fake.add_app("/busy", {LABEL: "feedfacefeedface"})
    try:
        yield seat
    finally:
        seat.release()


def test_a_stack_another_live_session_uses_is_reused_and_left_up(
        pytester: pytest.Pytester, fake: Fake, another_user: FileLock) -> None:
    pytester.makepyfile(test_inner_two=TWO_TESTS)
    run(pytester).assert_outcomes(passed=2)
    assert fake.said() == []  # neither up nor down; its app kept
    assert list(fake.apps()) == ["/busy"]
    another_user.release()  # it ended (or died): the next run is the only one
    run(pytester).assert_outcomes(passed=2)
    assert fake.said() == ["up stack.yaml", "remove /busy force=True", "down"]


def test_seats_held_and_left(tmp_path: Path) -> None:
    first, second = Shared(tmp_path, "s", "aaaa"), Shared(tmp_path, "s", "bbbb")
    with first.entering() as others:
        assert others == set()
    with second.entering() as others:
        assert others == {"aaaa"}
    assert first.users() == {"bbbb"}
    with first.leaving() as last:
        assert not last
    with second.leaving() as last:
        assert last
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.lock"]


def test_a_failed_up_is_raised_at_once_to_the_session_s_other_workers(tmp_path: Path) -> None:
    first, worker = Shared(tmp_path, "s", "aaaa"), Shared(tmp_path, "s", "aaaa")
    with pytest.raises(RuntimeError), first.entering():
        first.record_failure("master: not ready")
        raise RuntimeError("up failed")
    with pytest.raises(Exception, match=r"^stack s: up failed for this run already: master: "
                       r"not ready$"), worker.entering():
        pass
    with Shared(tmp_path, "s", "cccc").entering() as others:  # another run: tries again
        assert others == set()
    assert not list(tmp_path.glob("s.failed.*"))


def test_a_run_s_workers_hold_the_stack_until_its_controller_is_done(tmp_path: Path) -> None:
    """One worker may end before another starts: neither takes the stack down."""
    first, later = Shared(tmp_path, "s", "aaaa"), Shared(tmp_path, "s", "aaaa")
    with first.entering() as others:
        assert others == set()  # brings it up
        first.hold_for_run()
    with first.leaving() as last:
        assert not last
    with later.entering() as others:
        assert others == {"aaaa"}  # reuses it
    with later.leaving() as last:
        assert not last
    with Shared(tmp_path, "s", "aaaa").finishing() as last:
        assert last
    with Shared(tmp_path, "s", "bbbb").entering() as others:  # a run after it: brings it up
        assert others == set()


def test_a_failed_down_is_the_last_test_s_teardown_error(pytester: pytest.Pytester,
                                                         fake: Fake) -> None:
    pytester.makepyfile(test_inner_two=TWO_TESTS)
    fake.fail("down", "engine at unix:///x does not answer")
    result = run(pytester)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_two*",
                                 "*engine at unix:///x does not answer*"])


# --- a bundle for each failed test that used the stack -------------------------------------

FAILING = """
import pytest

def test_passes(mesostack_stack):
    pass

def test_fails(mesostack_stack):
    assert False

def test_fails_without_the_stack():
    assert False

@pytest.mark.parametrize("where", ["a/b c"])
def test_fails_with_an_app(mesostack_app, where):
    mesostack_app({"id": "web", "cmd": "sleep 9"})
    assert False
"""


def test_a_failed_test_that_used_the_stack_leaves_a_bundle_named_after_it(
        pytester: pytest.Pytester, fake: Fake) -> None:
    pytester.makepyfile(test_inner_failing=FAILING)
    result = run(pytester, "--mesostack-bundle-dir=bundles")
    result.assert_outcomes(passed=1, failed=3)
    bundles = pytester.path / "bundles"
    assert sorted(p.name for p in bundles.iterdir()) == [
        "test_inner_failing.py__test_fails.tar.gz",
        "test_inner_failing.py__test_fails_with_an_app_a_b_c.tar.gz"]
    result.stdout.fnmatch_lines(["*- mesostack bundle -*",
                                 f"{bundles}/test_inner_failing.py__test_fails.tar.gz"])
    said = fake.said()
    # before the test's apps are removed
    bundled = said.index("bundle test_inner_failing.py__test_fails_with_an_app_a_b_c.tar.gz")
    assert bundled < said.index("remove /web force=True")
    run(pytester, "--mesostack-bundle-dir=bundles", "-k", "test_fails and not with")
    assert (bundles / "test_inner_failing.py__test_fails-2.tar.gz").exists()  # the first kept


def test_without_a_bundle_dir_no_bundle_is_made(pytester: pytest.Pytester, fake: Fake) -> None:
    pytester.makepyfile(test_inner_failing=FAILING)
    run(pytester).assert_outcomes(passed=1, failed=3)
    assert not [c for c in fake.said() if c.startswith("bundle")]
    pytester.makeini("[pytest]\nmesostack_bundle_dir = from-ini\n")
    run(pytester, "-k", "test_fails and not with")
    assert (pytester.path / "from-ini" / "test_inner_failing.py__test_fails.tar.gz").exists()


def test_a_bundle_that_fails_is_said_and_the_test_still_fails(pytester: pytest.Pytester,
                                                              fake: Fake) -> None:
    pytester.makepyfile(test_inner_failing=FAILING)
    fake.fail("bundle", "engine at unix:///x does not answer")
    result = run(pytester, "--mesostack-bundle-dir=bundles", "-k", "test_fails")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["no bundle: engine at unix:///x does not answer"])


def test_node_ids_as_file_names() -> None:
    assert sanitised("tests/test_a.py::test_b[x-1]") == "tests_test_a.py__test_b_x-1"
    assert sanitised("test_a.py::T::test[../é]") == "test_a.py__T__test"
    assert sanitised("::") == "test"
    assert len(sanitised("t.py::" + "x" * 300)) == 150


# --- pytest-xdist: the workers share one stack ------------------------------------------------

MANY = "".join(f"""
def test_{n}(mesostack_app):
    mesostack_app({{"id": "app-{n}", "cmd": "sleep 9"}})
""" for n in range(8))


@pytest.fixture
def xdist() -> None:
    """pytest-xdist: a failure in CI (where scripts/test installs it), a skip elsewhere."""
    if find_spec("xdist") is None:
        message = "pytest-xdist is not installed (pip install -e '.[dev]')"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.mark.usefixtures("xdist")
def test_xdist_workers_share_one_stack_up_once_and_down_by_the_last(
        pytester: pytest.Pytester, fake: Fake) -> None:
    pytester.makepyfile(test_inner_many=MANY)
    result = pytester.runpytest_subprocess("-p", "fakestack", *QUIET, "-n", "2")
    result.assert_outcomes(passed=8)
    said = fake.said()
    assert [c for c in said if not c.startswith(("deploy", "remove"))] == [
        "up stack.yaml", "down"]
    assert said[0] == "up stack.yaml" and said[-1] == "down"
    deployed = [c for c in fake.calls() if c["call"] == "deploy"]
    workers = {c["pid"] for c in deployed}
    assert len(workers) == 2  # both used it
    assert fake.calls()[-1]["pid"] not in workers  # down by the controller, all workers done
    assert len(session_of(fake)) == 1  # the run's one id
    assert fake.apps() == {}
    assert seats() == []


@pytest.mark.usefixtures("xdist")
def test_xdist_workers_after_a_failed_up_fail_at_once(pytester: pytest.Pytester,
                                                      fake: Fake) -> None:
    pytester.makepyfile(test_inner_many=MANY)
    fake.fail("up", "zookeeper: not ready within 300 s")
    result = pytester.runpytest_subprocess("-p", "fakestack", *QUIET, "-n", "2")
    result.assert_outcomes(errors=8)
    assert fake.said() == ["up stack.yaml", "down"]
    result.stdout.fnmatch_lines(["*up failed for this run already: zookeeper: not ready*"])


@pytest.mark.usefixtures("xdist")
def test_xdist_s_controller_says_a_failed_down_and_fails_the_run(pytester: pytest.Pytester,
                                                                 fake: Fake) -> None:
    pytester.makepyfile(test_inner_many=MANY)
    fake.fail("down", "engine at unix:///x does not answer")
    result = pytester.runpytest_subprocess("-p", "fakestack", *QUIET, "-n", "2")
    result.assert_outcomes(passed=8)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["mesostack: error: engine at unix:///x does not answer"])
