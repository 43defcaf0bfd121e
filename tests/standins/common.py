"""What the three stand-ins share: env knobs, a small JSON HTTP server, ZooKeeper, MasterInfo.

Only the behaviour seen from outside follows the real systems (``shared/design/contract.md``);
how stand-ins talk to each other (``/standin/...`` routes, plain JSON over HTTP) is ours.
Standard library plus kazoo.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from kazoo.client import KazooClient

GENERATION = os.environ.get("STANDIN_GENERATION", "modern")
if GENERATION not in ("legacy", "modern"):
    sys.exit(f"STANDIN_GENERATION must be legacy or modern, not {GENERATION!r}")
LEGACY = GENERATION == "legacy"


def env_seconds(name: str, default: float = 0.0) -> float:
    """A delay knob in seconds (`STANDIN_STARTUP_DELAY=2.5`)."""
    return float(os.environ.get(name) or default)


def mesos_duration(text: str) -> float:
    """Mesos' duration flags (`5secs`, `1mins`, `100ms`) in seconds."""
    match = re.fullmatch(r"([\d.]+)\s*(ns|us|ms|secs|mins|hrs|days|weeks)", text.strip())
    if not match:
        raise ValueError(f"not a Mesos duration: {text!r}")
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "secs": 1, "mins": 60, "hrs": 3600,
             "days": 86400, "weeks": 604800}[match[2]]
    return float(match[1]) * scale


def log(component: str, message: str) -> None:
    """Log lines in the spirit of glog (`I1125 22:30:01.123 master.cpp] ...`) on stderr."""
    now = dt.datetime.now()
    print(f"I{now:%m%d %H:%M:%S.%f} {component}] {message}", file=sys.stderr, flush=True)


def die(component: str, message: str) -> None:
    """A fatal error as the real process reports it: logged, then the process exits 1."""
    print(f"F{dt.datetime.now():%m%d %H:%M:%S.%f} {component}] {message}", file=sys.stderr,
          flush=True)
    os._exit(1)


def warn(component: str, message: str) -> None:
    """A glog WARNING line (`W1125 22:30:01.123 group.cpp] ...`) on stderr."""
    print(f"W{dt.datetime.now():%m%d %H:%M:%S.%f} {component}] {message}", file=sys.stderr,
          flush=True)


def mesos_exit(where: str, message: str) -> None:
    """stout's EXIT(1), which the real agent and master end with on a failed start: 0.23.0's
    prints the bare message on stderr (3rdparty/.../stout/exit.hpp), 1.7.1's logs it at ERROR
    as "EXIT with status 1: ..." through glog from `where` (3rdparty/stout/.../exit.hpp)."""
    if LEGACY:
        print(message, file=sys.stderr, flush=True)
    else:
        print(f"E{dt.datetime.now():%m%d %H:%M:%S.%f} {where}] EXIT with status 1: {message}",
              file=sys.stderr, flush=True)
    os._exit(1)


def flags_from_argv(argv: list[str], prefix: str) -> dict[str, str]:
    """Command-line flags as the env variables they override: `--registry=in_memory` ->
    MESOS_REGISTRY, `--foo` -> true, `--no-foo` -> false. Mesos' flags loader lets the command
    line beat the environment (1.7.1 3rdparty/stout/include/stout/flags/flags.hpp l.727-741),
    which an image's CMD (mesosphere's `--registry=in_memory`) relies on."""
    found: dict[str, str] = {}
    for arg in argv:
        if not arg.startswith("--"):
            raise ValueError(f"Failed to load flags: not a flag: {arg!r}")
        name, equals, value = arg[2:].partition("=")
        if not equals:
            name, value = (name[3:], "false") if name.startswith("no-") else (name, "true")
        found[prefix + name.upper().replace("-", "_")] = value
    return found


def apply_argv_flags(component: str, prefix: str) -> None:
    """Fold this process's command-line flags into its environment (see flags_from_argv)."""
    try:
        os.environ.update(flags_from_argv(sys.argv[1:], prefix))
    except ValueError as exc:
        die(component, str(exc))


def exit_on_sigterm(component: str) -> None:
    """As PID 1 in a container a process ignores SIGTERM unless it handles it; the real
    daemons stop on it, so the stand-ins do too (`docker stop` then takes no grace period)."""

    def stop(_signum: int, _frame: object) -> None:
        log(component, "Received SIGTERM; shutting down")
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)


def iso_now() -> str:
    """Marathon's timestamps: `2015-09-25T15:13:48.343Z`."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# --- HTTP -------------------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    headers: dict[str, str]
    query_all: dict[str, list[str]] = field(default_factory=dict)  # repeated parameters

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Response:
    status: int = 200
    body: Any = b""  # bytes, str, or anything JSON-serialisable
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterator[bytes] | None = None  # server-sent events
    reason: str | None = None  # the status line's words; None: the status's usual ones


Handler = Callable[[Request], Response]


def json_response(body: Any, status: int = 200) -> Response:
    return Response(status, body, {"Content-Type": "application/json"})


def serve(component: str, host: str, port: int, handle: Handler) -> ThreadingHTTPServer:
    """Serve `handle` on host:port in a background thread, after `STANDIN_STARTUP_DELAY`.

    The delay keeps the listening socket closed, as a slow JVM or C++ start does.
    """
    delay = env_seconds("STANDIN_STARTUP_DELAY")
    if delay:
        log(component, f"startup delay {delay}s: socket closed until then")
        time.sleep(delay)

    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as two writes; without TCP_NODELAY the body waits for the
        # client's delayed ACK (~40 ms) on a kept-alive connection. Jetty and libprocess send
        # a response without that wait.
        disable_nagle_algorithm = True

        def _dispatch(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            values = parse_qs(parts.query, keep_blank_values=True)
            request = Request(
                method=self.command,
                path=parts.path,
                query={k: v[-1] for k, v in values.items()},
                body=self.rfile.read(length) if length else b"",
                headers={k.lower(): v for k, v in self.headers.items()},
                query_all=values,
            )
            try:
                response = handle(request)
            except Exception as exc:  # a stand-in bug must show, not hang the client
                log(component, f"error serving {self.command} {self.path}: {exc!r}")
                response = json_response({"message": f"stand-in error: {exc}"}, 500)
            self._send(response)

        def _send(self, response: Response) -> None:
            self.send_response(response.status, response.reason)
            for key, value in response.headers.items():
                self.send_header(key, value)
            if response.stream is not None:
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for chunk in response.stream:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                except OSError:
                    pass
                self.close_connection = True
                return
            body = response.body
            if not isinstance(body, bytes):
                body = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _dispatch

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class _Server(ThreadingHTTPServer):
        daemon_threads = True
        allow_reuse_address = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a client that hangs up early (an event stream closed) is no error

    server = _Server((host, port), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="http").start()
    log(component, f"listening on {host}:{port}")
    return server


def call(method: str, url: str, body: Any = None, *, timeout: float = 5.0,
         headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """A JSON request between stand-ins; (status, decoded body or text). Raises OSError."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def basic_auth_ok(request: Request, credentials: str | None) -> bool:
    if not credentials:
        return True
    expected = "Basic " + base64.b64encode(credentials.encode()).decode()
    return request.headers.get("authorization") == expected


# --- ZooKeeper --------------------------------------------------------------------------------


def parse_zk_url(url: str) -> tuple[str, str]:
    """`zk://h1:2181,h2:2181/mesos` -> (`h1:2181,h2:2181`, `/mesos`)."""
    match = re.fullmatch(r"zk://([^/]+)(/.*)", url)
    if not match:
        raise ValueError(f"not a zk:// URL: {url!r}")
    return match[1], match[2].rstrip("/") or "/"


def connect_zk(component: str, hosts: str, on_state: Callable[[str], None] | None = None, *,
               session_timeout: float = 10.0) -> KazooClient:
    """A kazoo session, retried until ZooKeeper answers (as the real processes keep trying);
    `on_state` hears each change of the connection: kazoo's SUSPENDED (the connection dropped),
    CONNECTED (back, the same session) and LOST (the session expired, or was closed). kazoo
    calls it on its own thread: it must not block."""
    zk = KazooClient(hosts=hosts, timeout=session_timeout)
    while True:
        try:
            zk.start(timeout=5)
            break
        except Exception as exc:
            log(component, f"waiting for ZooKeeper at {hosts}: {exc}")
            time.sleep(0.5)
    if on_state is not None:
        zk.add_listener(lambda state: on_state(str(state)))
    log(component, f"connected to ZooKeeper at {hosts}")
    return zk


Timer = Callable[[float, Callable[[], None]], Callable[[], None]]


def thread_timer(delay: float, then: Callable[[], None]) -> Callable[[], None]:
    """Run `then` after `delay` seconds on a thread of its own; returns what cancels it."""
    timer = threading.Timer(delay, then)
    timer.daemon = True
    timer.start()
    return timer.cancel


class GroupSession:
    """How Mesos' ZooKeeper group (masters and agents use it to elect and detect) treats its
    session: a dropped connection starts a timer of the session timeout, and a connection not
    back by then expires the session locally, not waiting for ZooKeeper to say so on reconnect
    (0.23.0 src/zookeeper/group.cpp `reconnecting` l.412-440, `timedout` l.443-463, `expired`
    l.466; 1.7.1 l.446-479, l.482-502, l.505). kazoo's LOST (ZooKeeper itself expired the
    session) expires it at once. `on_expired` then runs once per session."""

    def __init__(self, timeout: float, on_expired: Callable[[], None], *,
                 timer: Timer = thread_timer, legacy: bool = LEGACY,
                 session_id: Callable[[], int | None] = lambda: None) -> None:
        self.timeout = timeout
        self.on_expired = on_expired
        self.timer = timer
        self.legacy = legacy
        self.session_id = session_id
        self.cancel: Callable[[], None] | None = None
        self.expired = False
        self.lock = threading.Lock()

    def changed(self, state: str) -> None:
        """A kazoo state change (see connect_zk)."""
        with self.lock:
            if self.expired:
                return
            if state == "SUSPENDED" and self.cancel is None:
                log("group.cpp", "Lost connection to ZooKeeper, attempting to reconnect ...")
                self.cancel = self.timer(self.timeout, self.timed_out)
                return
            if state == "CONNECTED" and self.cancel is not None:
                self.cancel()
                self.cancel = None
                log("group.cpp", "Group process reconnected to ZooKeeper")
                return
            if state != "LOST":
                return
        self.expire()

    def timed_out(self) -> None:
        with self.lock:
            if self.cancel is None or self.expired:
                return
        what = "reconnect" if self.legacy else "connect"
        session = self.session_id()
        named = "" if session is None else f"(sessionId={session:x}) "
        warn("group.cpp", f"Timed out waiting to {what} to ZooKeeper. Forcing ZooKeeper session "
                          f"{named}expiration")
        self.expire()

    def expire(self) -> None:
        with self.lock:
            if self.expired:
                return
            self.expired = True
            if self.cancel is not None:
                self.cancel()
                self.cancel = None
        log("group.cpp", "ZooKeeper session expired")
        self.on_expired()

    def renewed(self) -> None:
        """A new session replaced the expired one (the group reconnects with a new client)."""
        with self.lock:
            self.expired = False


def sequence_of(znode: str) -> int:
    return int(znode.rsplit("_", 1)[-1]) if re.search(r"_\d{10}$", znode) else -1


# --- Mesos MasterInfo, as masters write it into their election znodes -------------------------
# Legacy masters (<= 0.23) write `info_<seq>` holding the binary protobuf MasterInfo; newer ones
# write `json.info_<seq>` holding JSON (src/master/contender/zookeeper.cpp). Detectors read both.


def ip_to_uint32(ip: str) -> int:
    """MasterInfo.ip: the IPv4 address packed in network byte order, read as a host int."""
    return int.from_bytes(socket.inet_aton(ip), "little")


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def encode_master_info(info: dict[str, Any]) -> bytes:
    """MasterInfo as protobuf: id=1, ip=2, port=3, pid=4, hostname=5, version=6."""
    out = bytearray()
    for number, key in ((1, "id"), (2, "ip"), (3, "port"), (4, "pid"), (5, "hostname"),
                        (6, "version")):
        value = info[key]
        if isinstance(value, int):
            out += _varint(number << 3) + _varint(value)
        else:
            raw = str(value).encode()
            out += _varint(number << 3 | 2) + _varint(len(raw)) + raw
    return bytes(out)


def decode_master_info(data: bytes) -> dict[str, Any]:
    """The fields above from a protobuf MasterInfo; unknown fields are skipped."""
    names = {1: "id", 2: "ip", 3: "port", 4: "pid", 5: "hostname", 6: "version"}
    info: dict[str, Any] = {}
    pos = 0

    def varint() -> int:
        nonlocal pos
        shift = result = 0
        while True:
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return result

    while pos < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            value: Any = varint()
        elif wire == 2:
            length = varint()
            value = data[pos:pos + length].decode(errors="replace")
            pos += length
        elif wire == 5:
            value, pos = int.from_bytes(data[pos:pos + 4], "little"), pos + 4
        else:
            value, pos = int.from_bytes(data[pos:pos + 8], "little"), pos + 8
        if number in names:
            info[names[number]] = value
    return info


def master_info(*, master_id: str, ip: str, port: int, hostname: str, version: str
                ) -> dict[str, Any]:
    """JSON MasterInfo as `json.info_` znodes hold it (JSON::protobuf(MasterInfo))."""
    return {
        "address": {"hostname": hostname, "ip": ip, "port": port},
        "hostname": hostname,
        "id": master_id,
        "ip": ip_to_uint32(ip),
        "pid": f"master@{ip}:{port}",
        "port": port,
        "version": version,
    }


def leading_master(zk: KazooClient, path: str) -> dict[str, Any] | None:
    """The leader's MasterInfo: the member with the smallest sequence (detector.cpp)."""
    try:
        children = zk.get_children(path)
    except Exception:
        return None
    members = sorted((c for c in children if c.startswith(("info_", "json.info_"))),
                     key=sequence_of)
    for member in members:
        try:
            data, _ = zk.get(f"{path}/{member}")
        except Exception:
            continue
        if member.startswith("json."):
            parsed: dict[str, Any] = json.loads(data)
            return parsed
        return decode_master_info(data)
    return None


def master_address(info: dict[str, Any]) -> str:
    """`host:port` to reach a master, from its MasterInfo `pid` (`master@IP:PORT`)."""
    return str(info["pid"]).split("@", 1)[1]
