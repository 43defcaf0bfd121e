"""An image's layer sizes, read from its registry (the Registry HTTP API v2), so that a pull's
progress has its true total from the start rather than the sum of the layers seen so far.

Only ever a nicety beside the engine's own pull: any problem (no answer, a refusal, a media type
not known here) means None, logged at debug level, and the pull shows the total it sees grow.
The runtime imports this module (and with it requests) only when it pulls.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from mesostack import imageref

log = logging.getLogger(__name__)

INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")
MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v2+json")
ACCEPT = ", ".join(INDEX_TYPES + MANIFEST_TYPES)
TIMEOUT = (2.0, 3.0)  # connect, read: a registry slower than this gets no say in the progress
HUB = "registry-1.docker.io"  # where Docker Hub's images are pulled from
HUB_NAMES = ("", "docker.io", "index.docker.io", HUB)  # what a reference may call Docker Hub
HUB_AUTH_KEYS = ("index.docker.io", "docker.io", HUB)  # what `docker login` may have called it

# `docker info`'s Architecture (uname's) as image platforms name it (Go's GOARCH and variant)
MACHINES = {"x86_64": ("amd64", ""), "amd64": ("amd64", ""), "aarch64": ("arm64", "v8"),
            "arm64": ("arm64", "v8"), "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"),
            "i686": ("386", ""), "i386": ("386", "")}


class Unusable(Exception):
    """What the registry said can't give the sizes (the pull goes on without them)."""


@dataclass(frozen=True)
class Platform:
    os: str = "linux"
    architecture: str = "amd64"
    variant: str = ""

    @classmethod
    def of_engine(cls, os_type: str, machine: str) -> Platform:
        """The platform an engine pulls for, from `docker info`'s OSType and Architecture."""
        architecture, variant = MACHINES.get(machine, (machine, ""))
        return cls(os_type or "linux", architecture, variant)


@dataclass(frozen=True)
class Location:
    base: str  # scheme and host: `https://registry-1.docker.io`
    name: str  # the repository's name on it: `library/zookeeper`
    reference: str  # a tag or a digest
    host: str  # the registry as the client's config names it

    @property
    def loopback(self) -> bool:
        return self.base.startswith("http://")


def locate(ref: str) -> Location:
    """Where `ref`'s manifest is, by Docker's naming rules: Docker Hub for a reference without
    a registry (`library/` before a one-part path); plain http for a loopback registry, as the
    engine allows one, https otherwise."""
    parsed = imageref.parse(ref)
    reference = parsed.digest or parsed.tag or imageref.DEFAULT_TAG
    if parsed.registry in HUB_NAMES:
        name = parsed.path if "/" in parsed.path else f"library/{parsed.path}"
        return Location(f"https://{HUB}", name, reference, "docker.io")
    scheme = "http" if _is_loopback(parsed.registry) else "https"
    return Location(f"{scheme}://{parsed.registry}", parsed.path, reference, parsed.registry)


def _is_loopback(registry: str) -> bool:
    host = registry.rsplit(":", 1)[0] if not registry.endswith("]") else registry
    host = host.removeprefix("[").removesuffix("]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def layer_sizes(ref: str, platform: Platform, *, session: requests.Session | None = None,
                config: Mapping[str, Any] | None = None, engine_local: bool = True
                ) -> dict[str, int] | None:
    """Each layer's compressed size (what a pull transfers) by digest, for the image `ref`
    names on `platform`; None when the registry doesn't say. `config`: the Docker client's
    (read from $DOCKER_CONFIG or ~/.docker when None); `engine_local`: whether the engine
    shares this machine's loopback (a loopback registry is the engine's own otherwise)."""
    try:
        where = locate(ref)
        if where.loopback and not engine_local:
            return None
        client = _Client(session or requests.Session(), where,
                         credentials(where.host, _docker_config() if config is None else config))
        try:
            return _sizes(client, where.reference, platform)
        finally:
            if session is None:
                client.session.close()
    except Exception as exc:  # anything at all: this lookup must never make a pull fail
        log.debug("no layer sizes for %s from its registry: %s", ref, exc)
        return None


def _sizes(client: _Client, reference: str, platform: Platform, *, nested: bool = False
           ) -> dict[str, int]:
    answer = client.get(f"/manifests/{reference}")
    body = answer.json()
    if not isinstance(body, dict):
        raise Unusable("the manifest is not a JSON object")
    kind = answer.headers.get("Content-Type", "").split(";")[0].strip()
    kind = kind if kind in INDEX_TYPES + MANIFEST_TYPES else str(body.get("mediaType", ""))
    if kind in INDEX_TYPES and not nested:
        return _sizes(client, pick(body["manifests"], platform), platform, nested=True)
    if kind in MANIFEST_TYPES:
        return {str(layer["digest"]): int(layer["size"]) for layer in body["layers"]}
    raise Unusable(f"a manifest of media type {kind or 'unknown'!r}")


def pick(entries: list[dict[str, Any]], platform: Platform) -> str:
    """The digest of the index's entry the engine pulls: its os and architecture, the same
    variant first, else one naming none, else any (arm64's v8 is often left unsaid)."""
    fits = [e for e in entries if (e.get("platform") or {}).get("os") == platform.os
            and e["platform"].get("architecture") == platform.architecture]
    for wanted in (platform.variant, ""):
        for entry in fits:
            if entry["platform"].get("variant", "") == wanted:
                return str(entry["digest"])
    if fits:
        return str(fits[0]["digest"])
    raise Unusable(f"no manifest for {platform.os}/{platform.architecture}")


class _Client:
    """GETs under one repository, authorizing once when the registry asks (401)."""

    def __init__(self, session: requests.Session, where: Location,
                 login: tuple[str, str] | None) -> None:
        self.session, self.where, self.login = session, where, login
        self.authorization: str | None = None

    def get(self, path: str) -> requests.Response:
        url = f"{self.where.base}/v2/{self.where.name}{path}"
        answer = self._get(url)
        if answer.status_code == 401 and self.authorization is None:
            self.authorization = self._authorize(answer.headers.get("WWW-Authenticate", ""))
            answer = self._get(url)
        answer.raise_for_status()
        return answer

    def _get(self, url: str) -> requests.Response:
        headers = {"Accept": ACCEPT}
        if self.authorization:
            headers["Authorization"] = self.authorization
        return self.session.get(url, headers=headers, timeout=TIMEOUT)

    def _authorize(self, challenge: str) -> str:
        """The Authorization the challenge asks for: a bearer token from its realm for pulling
        this repository (anonymous, or with the config's login), or basic auth."""
        scheme, _, rest = challenge.partition(" ")
        params = {k: a or b for k, a, b in re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', rest)}
        if scheme.lower() == "basic" and self.login:
            return "Basic " + base64.b64encode(":".join(self.login).encode()).decode()
        if scheme.lower() != "bearer" or not params.get("realm"):
            raise Unusable(f"the registry asks for {scheme or 'an unknown authorization'}")
        query = {"scope": f"repository:{self.where.name}:pull",
                 **({"service": params["service"]} if params.get("service") else {})}
        answer = self.session.get(params["realm"], params=query, auth=self.login,
                                  timeout=TIMEOUT)
        answer.raise_for_status()
        body = answer.json()
        token = body.get("token") or body.get("access_token")
        if not token:
            raise Unusable("the token service gave no token")
        return f"Bearer {token}"


def credentials(host: str, config: Mapping[str, Any]) -> tuple[str, str] | None:
    """The user and password `docker login` left for `host` in the client's config (`auths`,
    each with a base64 `user:password`); None when it left none there."""
    wanted = HUB_AUTH_KEYS if host == "docker.io" else (host,)
    for key, entry in (config.get("auths") or {}).items():
        server = key.split("://", 1)[-1].split("/", 1)[0]
        if server in wanted and isinstance(entry, dict) and entry.get("auth"):
            try:
                user, sep, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except ValueError:  # not base64, or not text: as if there were none
                continue
            if sep:
                return user, password
    return None


def _docker_config() -> dict[str, Any]:
    folder = os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker"
    try:
        found = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}
