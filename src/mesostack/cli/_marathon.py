"""Options and helpers shared by the commands that talk to Marathon."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import click

from mesostack.cli._common import Options
from mesostack.credentials import CLIENT_VAR, Credentials, for_marathon

if TYPE_CHECKING:
    from mesostack.marathon import EventWatch, Marathon, Submitted, Trusted

F = TypeVar("F", bound=Callable[..., Any])


def marathon_options(func: F) -> F:
    """`--marathon URL` and `--credentials user:pass`, each with its environment variable."""
    func = click.option(
        "--credentials", envvar=CLIENT_VAR, metavar="USER:PASS",
        help=f"Basic auth for Marathon (env {CLIENT_VAR}); never printed.")(func)
    func = click.option(
        "--marathon", "marathon_url", envvar="MARATHON_URL", metavar="URL",
        help="Marathon's URL (env MARATHON_URL). [default: the stack's, http://HOST_IP:8080]")(func)
    return func


def resolve_url(options: Options, explicit: str | None, *, running: bool = True) -> str:
    """`--marathon`, else the running stack's Marathon (its label), else the plan's;
    `running` False: the plan's, asking no engine (for --dry-run)."""
    if explicit:
        return explicit
    from mesostack.plan import Role

    if running:
        return f"http://{options.endpoints(Role.MARATHON)[0]}"
    plan, _ = options.plan(look=False)
    return f"http://{plan.spec(Role.MARATHON).endpoint}"


def client(options: Options, explicit: str | None, credentials: str | None) -> Marathon:
    """Marathon at `--marathon`, or the stack's; the stack's own MARATHON_HTTP_CREDENTIALS are
    used for the stack's Marathon only (never sent to another URL: `for_marathon`), and any
    credentials follow a redirect only to a `trusted` place."""
    from mesostack.marathon import Marathon

    own = None if explicit else [options.load().config.marathon.env]
    chosen = for_marathon(credentials, own=own)
    creds = Credentials.parse(chosen) if chosen else None
    url = resolve_url(options, explicit)
    return Marathon(url, credentials=creds, trusted=trusted(options, explicit))


def trusted(options: Options, explicit: str | None) -> Trusted:
    """Where a redirect of Marathon's (a standby's event stream, sent to its leader) may take
    the credentials: any port of the `--marathon` host, else the stack's own Marathons."""
    from mesostack.marathon import Trusted
    from mesostack.plan import Role

    if explicit:
        return Trusted.host_of(explicit)
    return Trusted(endpoints=frozenset(options.endpoints(Role.MARATHON)))


def master_endpoint(options: Options, marathon: Marathon) -> str:
    """The Mesos master Marathon uses (its /v2/info says, from 1.x), else the stack's."""
    from mesostack.marathon import MarathonError
    from mesostack.plan import Role

    try:
        ui = str(marathon.info().get("marathon_config", {}).get("mesos_leader_ui_url") or "")
    except MarathonError:
        ui = ""
    parts = urlsplit(ui)
    if parts.hostname and parts.port:
        return f"{parts.hostname}:{parts.port}"
    return options.endpoints(Role.MASTER)[0]


@dataclass(frozen=True)
class Limits:
    """How long to follow (`--timeout`) and to watch Marathon's "done" (`--settle`)."""

    timeout: float
    settle: float


def follow_live(options: Options, api: Marathon, submitted: Submitted, *, limits: Limits,
                title: str, watch: EventWatch | None = None) -> float | None:
    """Follow `submitted` with a live display; returns when Marathon announced success.
    The Mesos master is the one `master_endpoint` finds, asked once (`options.master`)."""
    from mesostack import console, mesos
    from mesostack.events import Event, Phase
    from mesostack.marathon import AppProgress, Hooks, follow

    master = options.master or master_endpoint(options, api)
    started = time.monotonic()
    with console.progress(title) as report:

        def progress(states: list[AppProgress]) -> None:
            for state in states:
                phase = Phase.READY if state.done else Phase.WAITING
                report(Event(state.app_id, phase, str(state).split(": ", 1)[1],
                             time.monotonic() - started))

        hooks = Hooks(progress=progress, offers=lambda: mesos.agents_free(master),
                      completed=lambda: mesos.completed_tasks(master),
                      settle=limits.settle)
        followed = follow(api, submitted, timeout=limits.timeout, hooks=hooks, watch=watch)
    return followed.success_event_at


def settle_option(func: click.decorators.FC) -> click.decorators.FC:
    """For the commands that start tasks (Marathon calls them deployed at TASK_RUNNING)."""
    from mesostack.waiting import SETTLE

    return click.option("--settle", type=click.FloatRange(min=0), default=SETTLE,
                        show_default=True, metavar="SECONDS",
                        help="After Marathon calls the deployment done, watch the new tasks "
                             "this long: one that ends fails it (apps with health checks "
                             "are not watched; 0: take Marathon's word).")(func)


def wait_options(func: click.decorators.FC) -> click.decorators.FC:
    func = click.option("--timeout", type=click.FloatRange(min=1), default=300.0,
                        show_default=True, metavar="SECONDS",
                        help="How long to wait for the deployment.")(func)
    func = click.option("--wait/--no-wait", default=True, show_default=True,
                        help="Follow the deployment until it is done.")(func)
    return click.option("--force", is_flag=True,
                        help="Override a deployment that holds the app.")(func)
