"""`mesostack deploy`: create or update apps and groups, and follow them until they run."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mesostack.cli._common import Options, engines
from mesostack.cli._marathon import (
    Limits,
    client,
    follow_live,
    marathon_options,
    master_endpoint,
    resolve_url,
    settle_option,
    wait_options,
)

if TYPE_CHECKING:
    from mesostack.apps import DeployRequest
    from mesostack.marathon import Marathon, Submitted


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
    from mesostack import apps, console
    from mesostack.marathon import EventWatch, Submitted, public_url

    loaded = [apps.load_file(Path(f)) for f in files]
    for result in loaded:
        for warning in result.warnings:
            console.warn(warning)
    requests = [r for result in loaded for r in result.requests]
    if dry_run:
        url = public_url(resolve_url(options, marathon_url, running=False))
        for request in requests:
            console.result(json.dumps({"method": request.method, "url": url + request.path,
                                       "source": request.source, "body": request.body}))
        return
    api = client(options, marathon_url, credentials)
    if apps.docker_apps(requests):
        _docker_apps(options, api, requests, own=not marathon_url)
    started = time.monotonic()
    submitted: list[Submitted] = []
    with EventWatch(api, say=console.warn) if wait else contextlib.nullcontext() as watch:
        for request in requests:
            done = api.submit(request, force=force)
            verb = "created" if done.created else "updated"
            ids = ", ".join(done.deployment_ids) or "none"
            console.info(f"{request.source}: {verb} {', '.join(done.app_ids)} "
                         f"(deployment {ids})")
            submitted.append(done)
        if not wait:
            return
        everything = Submitted(
            tuple(d for s in submitted for d in s.deployment_ids),
            tuple(dict.fromkeys(a for s in submitted for a in s.app_ids)),
            all(s.created for s in submitted),
            min(s.started for s in submitted),
        )
        announced = follow_live(options, api, everything, limits=Limits(timeout, settle),
                                watch=watch,
                                title=f"mesostack deploy: {len(everything.app_ids)} app(s)")
    returned = time.monotonic()
    lag = f"; {returned - announced:.2f} s after Marathon's deployment_success" if announced else ""
    console.info(f"deployed in {returned - started:.1f} s{lag}")
    console.result("".join(f"{app_id}: running\n" for app_id in everything.app_ids))


def _docker_apps(options: Options, api: Marathon, requests: list[DeployRequest], *,
                 own: bool) -> None:
    """A DOCKER app is refused at once where no agent runs the Docker containerizer; on the
    stack's `own` Marathon, whose agents' engines are known, a warning when they can't run it."""
    from mesostack import apps, mesos

    options.master = master_endpoint(options, api)  # follow_live reads it too
    apps.refuse_docker_apps(requests, mesos.agent_containerizers(options.master))
    if own:
        _warn_docker_apps(options, apps.docker_apps(requests)[0])


def _warn_docker_apps(options: Options, app: tuple[str, str]) -> None:
    """One line when the stack's agents can't run a DOCKER app's image on their engine (image
    inspect gives their Docker containerizer no ContainerConfig); nothing when an engine can't
    be asked: deploying does not need one."""
    from mesostack import checks, console
    from mesostack.errors import MesostackError
    from mesostack.plan import Role

    plan, _ = options.plan()
    endpoints = list(dict.fromkeys(s.docker for s in plan.of(Role.SLAVE)))
    try:
        docker = engines(options, timeout=10)
        found = [row for endpoint in endpoints for row in checks.container_config(
            docker[endpoint].facts(), checks.only(plan, endpoint),
            checks.engine_env(docker[endpoint]))]
    except MesostackError:
        return
    if found:
        source, app_id = app
        console.warn(f"{source}: app {app_id} has a DOCKER container: {found[0].found}")
