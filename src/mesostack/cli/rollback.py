"""`mesostack rollback`: put an app back as it was in one of the versions Marathon keeps of it,
and follow the deployment as `deploy` does."""

from __future__ import annotations

import time
from collections.abc import Sequence

import click

from mesostack.cli import completion
from mesostack.cli._common import Options
from mesostack.cli._marathon import marathon_options, settle_option, wait_options


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

    if listing and version is not None:
        raise click.UsageError("--list takes no VERSION")
    stack = options.stack(marathon_url=marathon_url, credentials=credentials)
    if listing:
        kept = stack.versions(app_id)
        console.result(version_lines(kept.versions, kept.current, now=time.time()))
        return
    done = stack.rollback(app_id, version, wait=wait, timeout=timeout, settle=settle,
                          force=force)
    if not done.followed:
        return
    lag = f"; {done.lag:.2f} s after Marathon's deployment_success" if done.lag is not None else ""
    console.info(f"rolled back in {done.seconds:.1f} s{lag}")
    console.result(f"{done.app_id}: running\n")


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
