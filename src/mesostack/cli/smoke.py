"""`mesostack smoke`: the stack checked from start to finish, as a CI job runs it (the logic is
`mesostack.smoke`'s)."""

from __future__ import annotations

import click

from mesostack.cli._common import Options


@click.command()
@click.argument("apps", nargs=-1, metavar="[APP_FILE[=TEXT]]...")
@click.option("--timeout", type=click.FloatRange(min=0), default=120.0, show_default=True,
              metavar="SECONDS", help="Bound for `deploy`, then for each app's wait for its text.")
@click.option("--junit-xml", "junit_xml", metavar="PATH",
              help="Write a JUnit XML report there (also after a failure or Ctrl-C).")
@click.option("--bundle", "bundle", metavar="PATH",
              help="Where the diagnostic bundle goes after a failure: a file (an earlier one "
                   "is replaced) or a directory. [default: "
                   "./mesostack-bundle-<stack>-<UTC time>.tar.gz]")
@click.option("--keep", is_flag=True, help="Leave the stack up at the end (no `down`).")
@click.pass_obj
def smoke(
    options: Options, apps: tuple[str, ...], timeout: float, junit_xml: str | None,
    bundle: str | None, keep: bool,
) -> int:
    """Smoke-test the stack: doctor, up, deploy, each app's output, status, then down.

    The steps, one line each on stderr with its time: the app files (checked here, as
    `deploy --dry-run` does: one app a file), doctor, up, deploy, each app, status. An app
    given as APP_FILE=TEXT passes once TEXT is in its task's stdout (APP_FILE= : any output);
    as APP_FILE alone, once it is deployed and healthy. The path is cut at the first `=`
    whose left side is a file. Without APP_FILE, a built-in app that prints "Hello from
    mesostack smoke". After a failure it writes a diagnostic bundle; once the engine was
    reached it always ends with `down` (unless --keep), Ctrl-C and SIGTERM included. The
    last line names the step that failed. Exit 0 when every step passed, else the failed
    step's code: 1 (2 for input to fix: a bad app or stack file), 130 for Ctrl-C, 143 for
    SIGTERM."""
    import os

    from mesostack import console
    from mesostack.smoke import Output, Settings, parse_app, run, sigterm_raises

    checks = [parse_app(argument) for argument in apps]
    settings = Settings(timeout=timeout, keep=keep, bundle=bundle, junit_xml=junit_xml,
                        github=os.environ.get("GITHUB_ACTIONS") == "true")
    out = Output(say=console.note, show=console.result, status=console.status_table)
    with sigterm_raises():
        return run(options.stack(), checks, settings, out=out).exit_code
