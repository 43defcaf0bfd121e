"""Shell completion (click's own: `_MESOSTACK_COMPLETE=bash_source mesostack`, zsh_source,
fish_source): component names for `logs`, and the running stack's app ids for the commands
that take one, asked of its Marathon.

A completion runs at each TAB: it prints nothing but its candidates, never fails (no stack,
no engine, no Marathon: no candidates), and each request it makes gives up after
TIMEOUT seconds, so that a listener that never answers does not hang the shell."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click
from click.shell_completion import CompletionItem

from mesostack.roles import Role

if TYPE_CHECKING:
    from mesostack.config import LoadedConfig

TIMEOUT = 0.3  # seconds, per request (the engine's listing, Marathon's /v2/apps)


def components(ctx: click.Context, param: click.Parameter, incomplete: str
               ) -> list[CompletionItem]:
    """`logs COMPONENT`: the roles and their other names."""
    names = sorted({name for role in Role for name in (role.value, *role.aliases)})
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


def app_ids(ctx: click.Context, param: click.Parameter, incomplete: str
            ) -> list[CompletionItem]:
    """APP_ID: the apps of the running stack's Marathon (or `--marathon`'s), without their
    leading slash, as the commands take them."""
    try:
        ids = _app_ids(ctx)
    except Exception:
        return []
    bare = incomplete.lstrip("/")
    return [CompletionItem(i) for i in ids if i.startswith(bare)]


def _app_ids(ctx: click.Context) -> list[str]:
    from mesostack.credentials import Credentials, for_marathon
    from mesostack.marathon import Marathon

    explicit = ctx.params.get("marathon_url") or os.environ.get("MARATHON_URL")
    loaded = None if explicit else _stack(ctx)
    url = explicit or (f"http://{_marathon_endpoint(loaded)}" if loaded else "")
    if not url:
        return []
    own = None if explicit or loaded is None else [loaded.config.marathon.env]
    chosen = for_marathon(ctx.params.get("credentials"), own=own)
    marathon = Marathon(url, credentials=Credentials.parse(chosen) if chosen else None,
                        timeout=(TIMEOUT, TIMEOUT))
    return sorted(str(a.get("id", "")).lstrip("/") for a in marathon.apps())


def _stack(ctx: click.Context) -> LoadedConfig:
    """The stack file the command would read, or the one stack the engine runs in its place
    (as the command would use it), told by nobody."""
    from mesostack import discovery
    from mesostack.config import FILE_ENV, load

    root = ctx.find_root().params
    loaded = load(root.get("file"))
    if not (root.get("file") or os.environ.get(FILE_ENV)):
        found = discovery.find(loaded, timeout=TIMEOUT)
        loaded = found.loaded if found is not None else loaded
    return loaded


def _marathon_endpoint(loaded: LoadedConfig) -> str | None:
    """Where the stack's first running Marathon listens (its endpoint label)."""
    from mesostack.discovery import engines_of
    from mesostack.plan import LABEL_ENDPOINT, LABEL_INDEX
    from mesostack.runtime import Engines

    docker = Engines.connect(engines_of(loaded.config), timeout=TIMEOUT)
    found = sorted((c for c in docker.containers(stack=loaded.config.name, inspect=False)
                    if c.role == Role.MARATHON.value and c.running),
                   key=lambda c: int(c.labels.get(LABEL_INDEX, "0") or 0))
    return next((e for c in found if (e := c.labels.get(LABEL_ENDPOINT, ""))), None)
