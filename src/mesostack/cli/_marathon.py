"""Options shared by the commands that talk to Marathon."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from mesostack.credentials import CLIENT_VAR

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
