"""A container registry on 127.0.0.1 that serves the manifests a test gives it (Registry HTTP API
v2's GET /v2/<name>/manifests/<ref>), with Docker Hub's bearer-token flow when asked to, and
records what it was asked."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
SERVICE = "fake-registry"


def digest(char: str) -> str:
    return "sha256:" + char * 64


def manifest(sizes: Mapping[str, int], kind: str = DOCKER_MANIFEST) -> dict[str, Any]:
    """An image manifest whose layers (by digest) weigh `sizes`."""
    return {"schemaVersion": 2, "mediaType": kind,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                       "digest": digest("f"), "size": 1500},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "digest": d, "size": s} for d, s in sizes.items()]}


def index(entries: Mapping[str, dict[str, str]], kind: str = OCI_INDEX) -> dict[str, Any]:
    """An index (manifest list) of the manifests `entries` names by digest, with platforms."""
    return {"schemaVersion": 2, "mediaType": kind,
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": d, "size": 500, "platform": p}
                          for d, p in entries.items()]}


@dataclass
class FakeRegistry:
    host: str = ""  # 127.0.0.1:<port>, once serving
    manifests: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # by URL path
    token: str | None = None  # when set, a manifest needs `Bearer <token>` (else 401)
    login: tuple[str, str] | None = None  # the token service wants it, as basic auth
    asked: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # (path, headers)

    def serve(self, name: str, reference: str, body: dict[str, Any] | bytes,
              kind: str | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        shown = kind if kind is not None else (
            str(body.get("mediaType", "")) if isinstance(body, dict) else "")
        self.manifests[f"/v2/{name}/manifests/{reference}"] = (shown, data)

    def answer(self, path: str, headers: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        self.asked.append((path, dict(headers)))
        where = urlsplit(path)
        if where.path == "/token":
            return self._token(parse_qs(where.query), headers.get("Authorization", ""))
        if self.token and headers.get("Authorization") != f"Bearer {self.token}":
            name = where.path.removeprefix("/v2/").rsplit("/manifests/", 1)[0]
            challenge = (f'Bearer realm="http://{self.host}/token",service="{SERVICE}",'
                         f'scope="repository:{name}:pull"')
            return 401, {"WWW-Authenticate": challenge}, b'{"errors": [{"code": "UNAUTHORIZED"}]}'
        if where.path not in self.manifests:
            return 404, {}, b'{"errors": [{"code": "MANIFEST_UNKNOWN"}]}'
        kind, data = self.manifests[where.path]
        return 200, {"Content-Type": kind} if kind else {}, data

    def _token(self, query: dict[str, list[str]], authorization: str
               ) -> tuple[int, dict[str, str], bytes]:
        wanted = "Basic " + base64.b64encode(":".join(self.login).encode()).decode() if (
            self.login) else ""
        if query.get("service") != [SERVICE] or not query.get("scope", [""])[0].startswith(
                "repository:") or authorization != wanted:
            return 401, {}, b'{"details": "incorrect username or password"}'
        return 200, {"Content-Type": "application/json"}, json.dumps(
            {"token": self.token, "scope": query["scope"][0]}).encode()

    def paths(self) -> list[str]:
        return [path for path, _ in self.asked]


@contextmanager
def running(registry: FakeRegistry) -> Iterator[FakeRegistry]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, headers, body = registry.answer(self.path, dict(self.headers.items()))
            self.send_response(status)
            for key, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    registry.host = f"127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01},
                              daemon=True)
    thread.start()
    try:
        yield registry
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
