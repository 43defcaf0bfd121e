"""`mesostack rollback`: put an app back as it was in one of the versions Marathon keeps of it,
and follow the deployment as `deploy` does."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence

import click

from mesostack.cli import completion
from mesostack.cli._common import Options
from mesostack.cli._marathon import (
    Limits,
    client,
    follow_live,
    marathon_options,
    settle_option,
    wait_options,
)


@click.command()
@click.argument("app_id", metavar="APP", shell_complete=completion.app_ids)
@click.argument("version", required=False)
@click.option("--list", "listing", is_flag=True,
              help="Print the versions Marathon keeps of APP, newest first, and change nothing.")
@marathon_options
@wait_options
@settle_option
@click.pass_obj
def rollback(  # noqa: PLR0913 (click passes each option as a parameter)
    options: Options, app_id: str, version: str | None, listing: bool,
    marathon_url: str | None, credentials: str | None, wait: bool, timeout: float,
    settle: float, force: bool,
) -> None:
    """Roll APP back to VERSION (by default the one before the current) and follow it."""
    from mesostack import console
    from mesostack.marathon import EventWatch, MarathonError, Submitted, rollback_target

    if listing and version is not None:
        raise click.UsageError("--list takes no VERSION")
    app = "/" + app_id.strip("/")
    api = client(options, marathon_url, credentials)
    shown = api.app(app)
    versions = api.app_versions(app) if shown is not None else None
    if shown is None or versions is None:
        raise MarathonError(f"Marathon at {api.url} has no app {app}", hint="see `mesostack apps`")
    current = str(shown.get("version", ""))
    if listing:
        console.result(version_lines(versions, current, now=time.time()))
        return
    target = rollback_target(app, versions, current, version)
    started = time.monotonic()
    with EventWatch(api, say=console.warn) if wait else contextlib.nullcontext() as watch:
        submitted_at = time.time()
        deployment = api.rollback(app, target, force=force)
        console.info(f"rolling back {app} to version {target} (deployment "
                     f"{deployment or 'none'})")
        if not wait:
            return
        announced = follow_live(
            options, api, Submitted((deployment,) if deployment else (), (app,), False,
                                    submitted_at),
            limits=Limits(timeout, settle), watch=watch, title=f"mesostack rollback: {app}")
    returned = time.monotonic()
    lag = f"; {returned - announced:.2f} s after Marathon's deployment_success" if announced else ""
    console.info(f"rolled back in {returned - started:.1f} s{lag}")
    console.result(f"{app}: running\n")


def version_lines(versions: Sequence[str], current: str, *, now: float) -> str:
    """One line per version, newest first: the version (the time it was made, UTC), how long
    ago, and which one the app runs."""
    from mesostack.marathon import moment, newest_first

    running = moment(current)
    lines = []
    for version in newest_first(versions):
        when = moment(version)
        ago = _ago(now - when.timestamp()) if when is not None else "?"
        mark = "  current" if when is not None and when == running else ""
        lines.append(f"{version}  {ago}{mark}\n")
    return "".join(lines)


def _ago(seconds: float) -> str:
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size:.0f} {unit} ago"
    return f"{max(seconds, 0):.0f} s ago"
