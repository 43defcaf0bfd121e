"""The command line's frame: version, help, and the one place errors become exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import click
import pytest

from mesostack import __version__
from mesostack.cli import cli, main
from mesostack.errors import InputError, MesostackError


def run_main(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exited:
        main(args)
    code = exited.value.code
    assert isinstance(code, int)
    return code


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(["--version"]) == 0
    assert capsys.readouterr().out == f"mesostack, version {__version__}\n"


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(["--help"]) == 0
    assert "Usage: mesostack" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(["no-such-command"]) == 2
    assert "No such command 'no-such-command'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("error", "code"),
    [(MesostackError("master not ready", hint="see `mesostack logs master`"), 1),
     (InputError("stack.yaml:3:1: unknown key"), 2)],
)
def test_domain_errors_become_one_line_and_their_exit_code(
    error: MesostackError, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    @cli.command("raise-for-test")
    def raise_for_test() -> None:
        raise error

    try:
        assert run_main(["raise-for-test"]) == code
    finally:
        cli.commands.pop("raise-for-test")
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("mesostack: error: ")
    assert "Traceback" not in err


def test_interrupt_exits_130(capsys: pytest.CaptureFixture[str]) -> None:
    @cli.command("interrupt-for-test")
    def interrupt_for_test() -> None:
        raise KeyboardInterrupt

    try:
        assert run_main(["interrupt-for-test"]) == 130
    finally:
        cli.commands.pop("interrupt-for-test")
    assert capsys.readouterr().err.strip() == "mesostack: interrupted"


def test_python_dash_m_runs_the_same_command() -> None:
    done = subprocess.run([sys.executable, "-m", "mesostack", "--version"],
                          capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout) == (0, f"mesostack, version {__version__}\n")


HEAVY_LIBRARIES = ("docker", "kazoo", "paramiko", "pydantic", "requests", "rich", "yaml")


def test_click_is_the_only_heavy_import_on_the_help_path() -> None:
    """`python -m mesostack --help` in a fresh interpreter, which reports on stderr, as it exits,
    every module it loaded: none of the heavy libraries and none of the command modules."""
    import pkgutil

    import mesostack.cli

    code = ("import atexit, json, runpy, sys\n"
            "atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))\n"
            "sys.argv = ['mesostack', '--help']\n"
            "runpy.run_module('mesostack', run_name='__main__', alter_sys=True)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert (done.returncode, done.stdout.split("\n", 1)[0]) == (
        0, "Usage: mesostack [OPTIONS] COMMAND [ARGS]..."), done.stderr
    loaded = set(json.loads(done.stderr.splitlines()[-1]))
    assert "click" in loaded and "mesostack.cli" in loaded
    heavy = {name for name in loaded if name.partition(".")[0] in HEAVY_LIBRARIES}
    assert heavy == set()
    commands = {f"mesostack.cli.{module.name}" for module in pkgutil.iter_modules(
        mesostack.cli.__path__) if not module.name.startswith("_")}
    assert {"mesostack.cli.up", "mesostack.cli.apps_cmd"} <= commands
    assert loaded & commands == set()


def test_each_listed_command_is_the_one_its_module_defines() -> None:
    from mesostack.cli import COMMANDS

    ctx = click.Context(cli)
    for name, (_, _, line) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name
        stand_in = click.Command(name, help=line)  # what `--help` lists before loading it
        for limit in (30, 45, 60, 10_000):
            assert command.get_short_help_str(limit) == stand_in.get_short_help_str(limit), name


def test_no_command_is_left_out_of_the_table() -> None:
    import importlib
    import pkgutil

    import mesostack.cli
    from mesostack.cli import COMMANDS

    defined = set()
    for module in pkgutil.iter_modules(mesostack.cli.__path__):
        loaded = importlib.import_module(f"mesostack.cli.{module.name}")
        defined |= {(module.name, attribute) for attribute, value in vars(loaded).items()
                    if isinstance(value, click.Command) and value.callback is not None
                    and value.callback.__module__ == loaded.__name__}
    assert defined == {(module, function) for module, function, _ in COMMANDS.values()}


def test_help_lists_every_command_without_loading_one() -> None:
    code = ("import sys\nfrom mesostack.cli import main\ntry:\n    main(['--help'])\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('mesostack.cli.')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env={**os.environ, "COLUMNS": "80"})
    *_, loaded = done.stdout.strip().splitlines()
    assert loaded == "['mesostack.cli._common']"
    listed = done.stdout.split("Commands:\n", 1)[1].splitlines()[:-1]
    from mesostack.cli import COMMANDS

    assert [row.split()[0] for row in listed] == sorted(COMMANDS)
    assert "  up         Create and start the stack; each stage waits until the..." in listed
