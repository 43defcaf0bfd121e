"""Marathon's basic auth: the two variables that carry it, what `user:password` means, which
credentials a request to a Marathon gets, and a URL as messages show it (without them).

Light on purpose (no third-party import): the commands' options name the variable at start-up.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit, urlunsplit

from mesostack.errors import InputError

SERVER_VAR = "MARATHON_HTTP_CREDENTIALS"  # what Marathon reads; set in the stack's marathon.env
CLIENT_VAR = "MARATHON_CREDENTIALS"  # what the apps commands read (`--credentials`)


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str = field(repr=False)

    @classmethod
    def parse(cls, text: str) -> Credentials:
        """`user:password`, or an InputError for what the user must fix."""
        found = split(text)
        if found is None:
            raise InputError("credentials must be `user:password`")
        return found

    def __str__(self) -> str:
        return f"{self.user}:***"


def split(text: str | None) -> Credentials | None:
    """`user:password` read the one way: a user before the first ':', the rest the password
    (which may hold ':' or be empty); None for text that isn't that."""
    user, sep, password = (text or "").partition(":")
    if not sep or not user:
        return None
    return Credentials(user, password)


def for_marathon(given: str | None, *, own: Iterable[Mapping[str, str]] | None,
                 environ: Mapping[str, str] | None = None) -> str | None:
    """The `user:password` a request to a Marathon carries: the first found of

    1. `given` (`--credentials`), else $MARATHON_CREDENTIALS: what the user names wins;
    2. for the stack's own Marathon only, its MARATHON_HTTP_CREDENTIALS, from the first of `own`
       that sets them (the running container's environment before the stack file's).

    `own` is None for any other Marathon: the stack's credentials are never sent to another URL.
    An empty value counts as none."""
    named = given or (os.environ if environ is None else environ).get(CLIENT_VAR)
    if named:
        return named
    for env in own or ():
        if env.get(SERVER_VAR):
            return env[SERVER_VAR]
    return None


def public_url(url: str) -> str:
    """`url` without user info, for messages (`host:port` is read as `http://host:port`)."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = parts.hostname or ""
    port = port_of(parts)
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")).rstrip("/")


def port_of(parts: SplitResult) -> int | None:
    """The URL's port; None when it has none or a bad one (not a number, out of range)."""
    try:
        return parts.port
    except ValueError:
        return None
