"""`mesostack deploy`: create or update apps and groups, and follow them until they run."""

from __future__ import annotations

import json

import click

from mesostack.cli._common import Options
from mesostack.cli._marathon import marathon_options, settle_option, wait_options


@click.command()
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@marathon_options
@click.option("--dry-run", is_flag=True,
              help="Validate and print what would be sent (JSON lines); no network at all.")
@wait_options
@settle_option
@click.pass_obj
def deploy(  # noqa: PLR0913 (click passes each option as a parameter)
    options: Options, files: tuple[str, ...], marathon_url: str | None,
    credentials: str | None, dry_run: bool, wait: bool, timeout: float, settle: float,
    force: bool,
) -> None:
    """Create or update the apps or groups in FILE... (JSON or YAML) and follow them."""
    from mesostack import console

    stack = options.stack(marathon_url=marathon_url, credentials=credentials, look=not dry_run)
    done = stack.deploy(*files, wait=wait, timeout=timeout, settle=settle, force=force,
                        dry_run=dry_run)
    if dry_run:
        for request in done.requests:
            console.result(json.dumps({"method": request.method, "url": done.url + request.path,
                                       "source": request.source, "body": request.body}))
        return
    if not done.followed:
        return
    lag = f"; {done.lag:.2f} s after Marathon's deployment_success" if done.lag is not None else ""
    console.info(f"deployed in {done.seconds:.1f} s{lag}")
    console.result("".join(f"{app_id}: running\n" for app_id in done.app_ids))
