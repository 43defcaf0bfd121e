"""PURE: find secrets and mask them in text and JSON documents (bundles, anything shown).

A secret is the value of a variable or key named like `*PASSWORD*`, `*SECRET*`, `*TOKEN*` or
`*CREDENTIAL*` (`config.is_secret`), or the password of a URL's user info. Components echo their
own flags into logs and state documents, so once a value is known to be secret every occurrence
of it is masked, wherever it appears.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from mesostack.config import MASK, SECRET_WORDS, is_secret
from mesostack.credentials import split as split_credentials

MIN_LENGTH = 4  # shorter values are masked where they are named, not everywhere (a "1" would
# turn every digit of a log into a mask)
NOT_SECRETS = frozenset({"true", "false", "yes", "no", "on", "off", "null", "none"})

_WORDS = "|".join(SECRET_WORDS)
# NAME=value, NAME: value, "name": "value" in free text, NAME containing a secret word.
_ASSIGNMENT = re.compile(
    rf"(?i)(\b[\w.-]{{0,64}}(?:{_WORDS})[\w.-]{{0,64}}[\"']?\s*[=:]\s*[\"']?)([^\s\"',;}}\]]+)")
_ENV_ITEM = re.compile(r"^([^=\s]+)=(.*)$", re.DOTALL)
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@\"']+):([^\s@/\"']+)@")


_KEY_NAME = re.compile(r"[A-Za-z_][\w.-]*")  # a variable's or field's name, not a path or id


def _secret_key(key: Any) -> bool:
    """A key that names a secret: a name like `APP_PASSWORD` or `secrets`, not a path or an
    app id used as a key (`/db-secrets`, Marathon's `/echo-secrets` in a map of apps)."""
    return isinstance(key, str) and bool(_KEY_NAME.fullmatch(key)) and is_secret(key)


def expand(value: str) -> set[str]:
    """A secret and the forms it is seen in: a `user:password` pair's password alone, its
    HTTP basic-auth encoding, and its JSON-escaped text."""
    if not value:
        return set()
    forms = {value}
    pair = split_credentials(value)
    if pair is not None and pair.password:
        forms.add(pair.password)
        forms.add(base64.b64encode(value.encode()).decode())
    forms |= {json.dumps(form)[1:-1] for form in list(forms)}
    return forms


def secret_values(env: Mapping[str, str] | Iterable[tuple[str, str]]) -> set[str]:
    """The values of the secret-looking variables of `env`, in every form they are seen in."""
    pairs = env.items() if isinstance(env, Mapping) else env
    found: set[str] = set()
    for name, value in pairs:
        if is_secret(name):
            found |= expand(value)
    return found


def find_secrets(document: Any) -> set[str]:
    """Secret values in a JSON document: under secret-looking keys, in `{"name"|"key": NAME,
    "value": ...}` pairs (Mesos and Marathon environments, Docker parameters) and in
    `NAME=value` strings (Docker's Env list), and the passwords of URLs with user info."""
    found: set[str] = set()
    if isinstance(document, Mapping):
        named = document.get("name", document.get("key"))
        pair = isinstance(named, str) and is_secret(named)
        for key, value in document.items():
            if _secret_key(key) or (pair and key == "value"):
                found |= {s for leaf in _leaves(value) for s in expand(leaf)}
            else:
                found |= find_secrets(value)
    elif isinstance(document, list):
        for item in document:
            found |= find_secrets(item)
    elif isinstance(document, str):
        match = _ENV_ITEM.match(document)
        if match and is_secret(match.group(1)):
            found |= expand(match.group(2))
        found |= {m.group(2) for m in _URL_USERINFO.finditer(document)}
    return found


def _leaves(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return []


def _known(secrets: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern for the values to mask everywhere, longest first."""
    values = sorted({s for s in secrets if len(s) >= MIN_LENGTH and s.lower() not in NOT_SECRETS},
                    key=lambda s: (-len(s), s))
    return re.compile("|".join(re.escape(s) for s in values)) if values else None


def _mask(text: str, known: re.Pattern[str] | None) -> str:
    if known is not None:
        text = known.sub(MASK, text)
    text = _URL_USERINFO.sub(rf"\1:{MASK}@", text)
    return _ASSIGNMENT.sub(rf"\1{MASK}", text)


def mask_text(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every occurrence of each of `secrets` (of MIN_LENGTH or more characters),
    each URL's password and each secret-looking `NAME=value` replaced by the mask."""
    return _mask(text, _known(secrets))


def mask_env(env: Mapping[str, str]) -> dict[str, str]:
    """`env` with secret-looking variables' values masked."""
    return {name: MASK if is_secret(name) and value else value for name, value in env.items()}


def mask_document(document: Any, secrets: Iterable[str] = ()) -> Any:
    """A JSON document with secrets masked: values under secret-looking keys and in secret
    name/value pairs, secret `NAME=value` strings, and `mask_text` applied to every string."""
    known = _known(secrets)

    def walk(node: Any) -> Any:
        if isinstance(node, Mapping):
            named = node.get("name", node.get("key"))
            pair = isinstance(named, str) and is_secret(named)
            out = {}
            for key, value in node.items():
                if _secret_key(key) or (pair and key == "value"):
                    out[key] = _masked_leaves(value)
                else:
                    out[_mask(key, known) if isinstance(key, str) else key] = walk(value)
            return out
        if isinstance(node, list):
            return [walk(item) for item in node]
        if isinstance(node, str):
            match = _ENV_ITEM.match(node)
            if match and is_secret(match.group(1)):
                return f"{match.group(1)}={MASK}"
            return _mask(node, known)
        return node

    return walk(document)


def _masked_leaves(value: Any) -> Any:
    if isinstance(value, str):
        return MASK if value else value
    if isinstance(value, Mapping):
        return {key: _masked_leaves(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked_leaves(item) for item in value]
    return value
