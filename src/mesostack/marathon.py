"""Marathon's REST API: the one home of mesostack's Marathon calls, and the deployment watcher.

Both generations are understood, found out from the answers: 0.11's 422 `{"message", "errors":
[{"attribute", "error"}]}` and 1.x's `{"message", "details": [{"path", "errors"}]}`.
Credentials are sent, never shown: URLs in messages carry no user info; they follow a
redirect only to a `Trusted` place.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, quote, unquote, urljoin, urlsplit, urlunsplit

import requests

from mesostack.credentials import CLIENT_VAR
from mesostack.credentials import Credentials as Credentials  # its home; named here too
from mesostack.credentials import port_of as _port
from mesostack.credentials import public_url as public_url  # (a dry run's, without requests)
from mesostack.errors import InputError, MesostackError, and_bundle
from mesostack.waiting import SETTLE, SYSTEM, Clock, Pending, Poll, TimedOut, wait

if TYPE_CHECKING:
    from mesostack.apps import DeployRequest
    from mesostack.mesos import AgentFree, CompletedTask

TIMEOUT = (2.0, 15.0)  # seconds to connect, and to wait for an answer
EVENT_SILENCE = 30.0  # Marathon sends a heartbeat more often than that
UNREACHABLE_HINT = "is the stack up? see `mesostack status`"
# How long a standby or leaderless Marathon holds a request before it answers that there is no
# leader: its leader proxy filter looks 11 times, 250 ms apart (LeaderProxyFilter.scala at
# v0.11.1 l.89-119 and l.155-159, at v1.10.26 l.49-76 and l.124-126).
LEADER_WAIT = 2.75
# What that filter says (v0.11.1 l.170, v1.10.26 l.136), and what a standby's forwarder says
# when it can't pass a request on (v0.11.1 LeaderProxyFilter.scala l.338-339; v1.10.26
# forwarder/RequestForwarder.scala l.19-20), each as the reason of a 502 or 503.
NO_LEADER = "Could not determine the current leader"
CUT_OFF = ("Connection to leader refused", "Detected proxying loop")
EVENT_REDIRECTS = 3  # a standby's redirect to its leader, and one that moved on meanwhile


class MarathonError(MesostackError):
    """Marathon refused or failed (exit 1). `status` is the HTTP status of its answer (None when
    it did not answer at all), `said` what it said (its message, or the start of its text)."""

    def __init__(self, message: str, *, hint: str | None = None, detail: str = "",
                 status: int | None = None, said: str = "") -> None:
        super().__init__(message, hint=hint, detail=detail)
        self.status = status
        self.said = said


class MarathonUnreachable(MarathonError):
    pass


class MarathonNotJson(MarathonError):
    """Marathon answered, but not with JSON."""


class MarathonRejected(InputError):
    """Marathon said the input is wrong (400, 422): exit 2."""


class DeploymentFailed(MarathonError):
    pass


def _port_ok(parts: SplitResult) -> bool:
    """Whether the URL has no port or a good one."""
    try:
        return parts.port is None or 0 <= parts.port <= 65535
    except ValueError:  # not a number, or out of range
        return False


def app_count(endpoint: str, *, session: requests.Session | None = None) -> int | None:
    """How many apps Marathon on `endpoint` knows; None when it does not answer."""
    return Marathon(f"http://{endpoint}", session=session).app_count()


def describe_422(body: Any) -> list[str]:
    """Every `path: error` of a 422 body, in either generation's format."""
    problems: list[str] = []
    if not isinstance(body, Mapping):
        return problems
    for item in body.get("details") or []:  # 1.x
        if isinstance(item, Mapping):
            for error in item.get("errors") or []:
                problems.append(f"{item.get('path', '/')}: {error}")
    for item in body.get("errors") or []:  # 0.11
        if isinstance(item, Mapping):
            attribute = item.get("attribute") or ""
            problems.append(f"/{attribute.replace('.', '/')}: {item.get('error', '')}")
    return problems


@dataclass(frozen=True)
class Trusted:
    """Where the credentials may follow a redirect of Marathon's (a 1.x standby sends its
    event stream to its leader): one of the stack's own Marathons (`host:port`), or any port of
    a host the user named (`--marathon`)."""

    endpoints: frozenset[str] = frozenset()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def host_of(cls, url: str) -> Trusted:
        return cls(hosts=frozenset({(urlsplit(public_url(url)).hostname or "").lower()}))

    def __contains__(self, url: object) -> bool:
        parts = urlsplit(str(url))
        return (parts.hostname or "").lower() in self.hosts or _endpoint(parts) in self.endpoints


def _endpoint(parts: SplitResult) -> str:
    """`host:port` of a URL, its scheme's port when it names none."""
    port = _port(parts) or (443 if parts.scheme == "https" else 80)
    return f"{(parts.hostname or '').lower()}:{port}"


@dataclass(frozen=True)
class Submitted:
    deployment_ids: tuple[str, ...]
    app_ids: tuple[str, ...]
    created: bool  # False: an existing app or group was updated
    started: float  # time.time() when Marathon took it
    answer: Any = field(default=None, compare=False, repr=False)  # what Marathon said (JSON)


class Marathon:
    """One Marathon, by URL (`http://host:8080`), with optional basic auth. `session` may be
    given (one that already carries credentials), and `timeout` (connect, read) shortened for
    readiness checks. `trusted`: where a redirect may take the credentials (by default only
    this Marathon itself)."""

    def __init__(self, url: str, *, credentials: Credentials | None = None,
                 session: requests.Session | None = None,
                 timeout: tuple[float, float] = TIMEOUT, trusted: Trusted | None = None) -> None:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme not in ("http", "https") or not parts.hostname or not _port_ok(parts):
            raise InputError(f"Marathon URL {public_url(url)!r} is not http(s)://host[:port]")
        self.url = public_url(urlunsplit(parts))
        self.timeout = timeout
        self.trusted = trusted or Trusted(endpoints=frozenset({_endpoint(urlsplit(self.url))}))
        self.session = session or requests.Session()
        if parts.username and credentials is None:
            credentials = Credentials(unquote(parts.username), unquote(parts.password or ""))
        if credentials is not None:
            self.session.auth = (credentials.user, credentials.password)

    # --- plumbing ------------------------------------------------------------------------------

    def request(
        self, method: str, path: str, *, body: Any = None, params: Mapping[str, str] | None = None,
        timeout: tuple[float, float] | None = None,
    ) -> requests.Response:
        waited = timeout or self.timeout
        try:
            answer = self.session.request(method, self.url + path, json=body, params=params,
                                          timeout=waited, allow_redirects=True)
        except requests.RequestException as exc:
            raise MarathonUnreachable(
                f"Marathon at {self.url} does not answer: {_why(exc, waited)}",
                hint=UNREACHABLE_HINT) from None
        if answer.status_code not in (401, 403, 502, 503):
            return answer
        raise self._refusal(answer, f"{method} {path}")

    def _refusal(self, answer: requests.Response, call: str) -> MarathonError:
        """What a 401, 403, 502 or 503 means, from its body as well as its status."""
        status, said = answer.status_code, _message(answer)
        if status == 401:
            return MarathonError(f"Marathon at {self.url} refused the credentials (401)",
                                 hint=f"give --credentials user:pass or ${CLIENT_VAR}",
                                 status=status, said=said)
        if status == 403 and TOO_MANY_DEPLOYMENTS in said:
            # 1.x's exception mapper answers TooManyRunningDeploymentsException with 403
            # (MarathonExceptionMapper.scala, Exception.scala at v1.10.26)
            return MarathonError(f"Marathon at {self.url} refused {call}: "
                                 f"{said.split('. ', 1)[0]} (403)",
                                 hint="wait for one to end (`mesostack apps` shows them), "
                                      "cancel one (DELETE /v2/deployments/ID?force=true), "
                                      "or raise Marathon's --max_running_deployments",
                                 status=status, said=said)
        if status == 403:
            return MarathonError(f"Marathon at {self.url} does not allow {call} for "
                                 "these credentials (403)", hint="use an account that may",
                                 status=status, said=said)
        if status == 503 and _json_message(answer) and "leader" not in said.lower():
            # a TimeoutException inside Marathon is a 503 with its message (the exception
            # mapper at v1.10.26); no leader is the proxy's page or "...current leader"
            return MarathonError(f"Marathon at {self.url} timed out on {call} (503): {said}",
                                 hint="try again; `mesostack logs marathon` shows what it "
                                      "waits for", status=status, said=said)
        if any(words in said for words in CUT_OFF):  # a standby that can't pass it on
            return MarathonUnreachable(
                f"Marathon at {self.url} can't reach its leader ({status}: {said})",
                hint=UNREACHABLE_HINT, status=status, said=said)
        return MarathonUnreachable(
            f"Marathon at {self.url} has no leader ({status}: {said or NO_LEADER})",
            hint=UNREACHABLE_HINT, status=status, said=said)

    def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        return _json(self._ok(self.request("GET", path, params=params), path))

    def _ok(self, answer: requests.Response, path: str) -> requests.Response:
        """`answer` when it is a 200; a MarathonError naming the call otherwise."""
        if answer.status_code != 200:
            said = _message(answer)
            raise MarathonError(f"GET {path} on {self.url}: {answer.status_code} {said}",
                                status=answer.status_code, said=said)
        return answer

    # --- reading -------------------------------------------------------------------------------

    def ping(self) -> None:
        """Returns when Marathon answers /ping. Its leader answers it: a standby forwards it,
        and one without a leader holds it LEADER_WAIT seconds before it says so, which the
        read timeout waits out."""
        connect, read = self.timeout
        self._ok(self.request("GET", "/ping", timeout=(connect, read + LEADER_WAIT)), "/ping")

    def info(self) -> dict[str, Any]:
        info = self.get("/v2/info")
        return info if isinstance(info, dict) else {}

    def leader(self) -> str | None:
        """The leader this Marathon names (`host:port`); None when it names none."""
        answer = self.get("/v2/leader")
        leader = answer.get("leader") if isinstance(answer, dict) else None
        return str(leader) if leader else None

    def app_count(self) -> int | None:
        """How many apps Marathon knows; None when it does not tell (a look for `status`)."""
        try:
            answer = self.get("/v2/apps")
        except MarathonError:
            return None
        apps = answer.get("apps") if isinstance(answer, dict) else None
        return len(apps) if isinstance(apps, list) else None

    def apps(self) -> list[dict[str, Any]]:
        return list(self.get("/v2/apps").get("apps", []))

    def app(self, app_id: str) -> dict[str, Any] | None:
        answer = self.request("GET", f"/v2/apps{_path(app_id)}",
                              params={"embed": "app.lastTaskFailure"})
        if answer.status_code == 404:
            return None
        if answer.status_code != 200:
            raise MarathonError(f"GET /v2/apps{_path(app_id)} on {self.url}: "
                                f"{answer.status_code} {_message(answer)}")
        return dict(_json(answer).get("app", {}))

    def deployments(self) -> list[dict[str, Any]]:
        return list(self.get("/v2/deployments"))

    def queue(self) -> list[dict[str, Any]]:
        return list(self.get("/v2/queue").get("queue", []))

    def tasks(self, app_id: str) -> list[dict[str, Any]]:
        """The app's tasks; none yet for an app Marathon 0.11 tracks no task of (it answers
        404 then, as for a missing app: AppTasksResource.indexJson at v0.11.1)."""
        try:
            return list(self.get(f"/v2/apps{_path(app_id)}/tasks").get("tasks", []))
        except MarathonError as exc:
            if exc.status != 404:
                raise
        self.get(f"/v2/apps{_path(app_id)}")  # the 404 again when the app itself is missing
        return []

    def app_versions(self, app_id: str) -> list[str] | None:
        """The versions Marathon keeps of the app, newest first (0.11 lists them so, 1.x in its
        store's order); None when it has no such app (404)."""
        path = f"/v2/apps{_path(app_id)}/versions"
        answer = self.request("GET", path)
        if answer.status_code == 404:
            return None
        listed = _json(self._ok(answer, path))
        versions = listed.get("versions") if isinstance(listed, Mapping) else None
        return newest_first([str(v) for v in versions or []])

    # --- changing ------------------------------------------------------------------------------

    def submit(self, request: DeployRequest, *, force: bool = False) -> Submitted:
        """POST; an existing app or group is updated with PUT (409 "already exists")."""
        started = time.time()
        params = {"force": "true"} if force else None
        answer = self.request("POST", request.path, body=request.body, params=params)
        created = True
        if answer.status_code == 409 and _already_there(request, _message(answer)):
            created = False
            # a group's body has absolute ids only (apps.py), so the PUT means what the POST
            # meant: Marathon resolves a relative one against the URL's path
            target = request.path + _path(str(request.body.get("id", "")))
            answer = self.request("PUT", target, body=request.body, params=params)
        self._raise_for(answer, request.source)
        document = _json(answer)
        ids: list[str] = []
        if isinstance(document, Mapping):
            if document.get("deploymentId"):
                ids.append(str(document["deploymentId"]))
            for deployment in document.get("deployments") or []:
                if isinstance(deployment, Mapping) and deployment.get("id"):
                    ids.append(str(deployment["id"]))
        return Submitted(tuple(ids), request.app_ids, created, started, document)

    def rollback(self, app_id: str, version: str, *, force: bool = False) -> str:
        """`PUT {id, version}`: Marathon deploys the app as it was in `version` (as a new
        version); its deployment's id. 404 here means Marathon keeps no such version (an app
        it lacks is created from `{id, version}` and refused, 422)."""
        absolute = "/" + app_id.strip("/")
        answer = self.request("PUT", f"/v2/apps{_path(app_id)}",
                              body={"id": absolute, "version": version},
                              params={"force": "true"} if force else None)
        if answer.status_code == 404:
            raise InputError(f"app {absolute}: Marathon at {self.url} keeps no version {version} "
                             f"of it (404: {_message(answer)})",
                             hint=f"see `mesostack rollback {absolute.strip('/')} --list`")
        self._raise_for(answer, absolute)
        return str(_json(answer).get("deploymentId", ""))

    def remove(self, app_id: str, *, force: bool = False) -> str:
        return self._change_app("DELETE", app_id, None, force=force)

    def scale(self, app_id: str, instances: int, *, force: bool = False) -> str:
        return self._change_app("PUT", app_id, {"instances": instances}, force=force)

    def _change_app(self, method: str, app_id: str, body: Any, *, force: bool) -> str:
        """An existing app's DELETE or PUT; its deployment's id."""
        answer = self.request(method, f"/v2/apps{_path(app_id)}", body=body,
                              params={"force": "true"} if force else None)
        if answer.status_code == 404:
            raise MarathonError(f"Marathon at {self.url} has no app {app_id}",
                                hint="see `mesostack apps`")
        self._raise_for(answer, app_id)
        return str(_json(answer).get("deploymentId", ""))

    def _raise_for(self, answer: requests.Response, what: str) -> None:
        if answer.status_code in (200, 201, 202):
            return
        body = _json(answer, default={})
        if answer.status_code == 422:
            problems = describe_422(body) or [_message(answer)]
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise MarathonRejected(f"{what}: Marathon rejected it: {problems[0]}{more}",
                                   detail="\n".join(f"  {p}" for p in problems))
        if answer.status_code == 400:
            detail = body.get("details") if isinstance(body, Mapping) else None
            extra = f": {detail}" if isinstance(detail, str) else ""
            problems = describe_422(body)  # 0.11 answers a non-string id so: 400, 1.x's 422 body
            if problems:
                more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
                extra = f": {problems[0]}{more}"
            raise MarathonRejected(f"{what}: Marathon says the request is bad (400): "
                                   f"{_message(answer)}{extra}",
                                   detail="\n".join(f"  {p}" for p in problems))
        if answer.status_code == 409:
            ids = [d.get("id") for d in body.get("deployments") or []
                   if isinstance(d, Mapping)] if isinstance(body, Mapping) else []
            which = f" by deployment {', '.join(map(str, ids))}" if ids else ""
            raise MarathonError(f"{what}: locked{which}: {_message(answer)}",
                                hint="wait for it to finish, or rerun with --force")
        raise MarathonError(f"{what}: Marathon answered {answer.status_code}: "
                            f"{_message(answer)}")

    # --- events --------------------------------------------------------------------------------

    def events(
        self,
        types: tuple[str, ...],
        *,
        stop: threading.Event,
        on_attached: Callable[[], None] = lambda: None,
        on_elsewhere: Callable[[str], None] = lambda _: None,
    ) -> Iterator[dict[str, Any]]:
        """Marathon's event stream (SSE) until `stop` is set, the stream ends, or it stays
        silent for EVENT_SILENCE seconds (callers poll anyway; this only wakes them sooner).
        A stream sent where the credentials may not follow is none: `on_elsewhere` says why."""
        try:
            opened = self._open_events(types)
            if isinstance(opened, str):
                on_elsewhere(opened)
                return
            with opened as answer:
                if answer.status_code != 200:
                    return
                on_attached()
                yield from _server_sent(answer, stop)
        except requests.RequestException:
            return

    def _open_events(self, types: tuple[str, ...]) -> requests.Response | str:
        """The event stream's answer, its redirects followed here rather than by requests
        (which drops the credentials on another host or port, and the leader answers 401): a
        1.x standby sends the stream to its leader (LeaderProxyFilter.scala at v1.10.26
        l.97-106 and l.120-122). With credentials, only to a `trusted` place; else why not."""
        url = self.url + "/v2/events"
        params = {"event_type": types} if types else None
        for _ in range(EVENT_REDIRECTS + 1):
            answer = self.session.get(url, params=params, headers={"Accept": "text/event-stream"},
                                      stream=True, timeout=(self.timeout[0], EVENT_SILENCE),
                                      allow_redirects=False)
            if not answer.is_redirect:
                return answer
            answer.close()
            url, params = urljoin(answer.url, answer.headers["Location"]), None
            if self._carries_credentials() and url not in self.trusted:
                return (f"Marathon at {self.url} sends its event stream to its leader at "
                        f"{_origin(url)}, neither one of the stack's Marathons nor the "
                        "--marathon host: the credentials are not sent there; following by "
                        "polling")
        return (f"Marathon at {self.url} redirects its event stream more than "
                f"{EVENT_REDIRECTS} times; following by polling")

    def _carries_credentials(self) -> bool:
        return self.session.auth is not None or "Authorization" in self.session.headers


def _server_sent(answer: requests.Response, stop: threading.Event) -> Iterator[dict[str, Any]]:
    """The events of an SSE answer, until `stop` is set or it ends."""
    data: list[str] = []
    # One byte at a time: a stream without chunked encoding would otherwise wait for a full
    # buffer before handing over an event. Lines are split as bytes and decoded as UTF-8, as
    # SSE always is: requests would decode `text/event-stream` as Latin-1, and str.splitlines
    # breaks a line at a UTF-8 byte 0x85.
    for raw in answer.iter_lines(chunk_size=1):
        if stop.is_set():
            return
        line = bytes(raw).decode("utf-8", errors="replace")
        if line.startswith("data:"):
            data.append(line[5:].strip())
        elif not line.strip() and data:
            try:
                event = json.loads("\n".join(data))
            except ValueError:
                event = None
            data = []
            if isinstance(event, dict):
                yield event


def _origin(url: str) -> str:
    """`scheme://host:port` of `url`, without user info."""
    parts = urlsplit(public_url(url))
    return f"{parts.scheme}://{parts.netloc}"


def moment(stamp: str) -> datetime | None:
    """Marathon's ISO timestamp (`2015-09-25T15:13:48.343Z`) as an aware datetime; None when it
    is no timestamp with a zone."""
    try:
        when = datetime.fromisoformat(stamp.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def newest_first(versions: Sequence[str]) -> list[str]:
    """App versions (timestamps) from the newest to the oldest; any that isn't one, last."""
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(versions, key=lambda v: moment(v) or oldest, reverse=True)


def rollback_target(app_id: str, versions: Sequence[str], current: str,
                    wanted: str | None) -> str:
    """The version to roll `app_id` back to, as Marathon lists it: `wanted` (any ISO form of
    the instant), or the newest one before `current`. InputError when Marathon keeps none."""
    listed = f"see `mesostack rollback {app_id.strip('/')} --list`"
    if wanted is None:
        now = moment(current)
        before = [v for v in newest_first(versions)
                  if now is not None and (when := moment(v)) is not None and when < now]
        if not before:
            raise InputError(f"app {app_id}: Marathon keeps no version before its current one "
                             f"({current or 'unknown'})", hint=listed)
        return before[0]
    when = moment(wanted)
    if when is None:
        raise InputError(f"app {app_id}: version {wanted!r} is not a time such as "
                         "2015-09-25T15:13:48.343Z", hint=listed)
    for version in versions:
        if moment(version) == when:
            return version
    raise InputError(f"app {app_id}: Marathon keeps no version {wanted} of it", hint=listed)


def _already_there(request: DeployRequest, said: str) -> bool:
    """Whether a 409 to a POST says the app or group itself exists ("An app with id [/x]
    already exists.", "Group /g is already created. Use PUT to change this group."), which a
    PUT updates. A group's path that an app has (1.10.26 GroupsResource l.177, "An app with
    the path /g already exists.") no PUT would fix: that is an error here."""
    group = request.path.startswith("/v2/groups")
    if group and "An app with the path" in said:
        raise MarathonError(f"{request.source}: Marathon has an app {request.body.get('id')} "
                            f"where the group would go (409: {said})",
                            hint="give the group another id, or remove the app "
                                 "(`mesostack apps`)", status=409, said=said)
    return ("already created" if group else "already exists") in said


def _path(app_id: str) -> str:
    return "/" + quote(app_id.strip("/"), safe="/")


def _json(answer: requests.Response, default: Any = None) -> Any:
    try:
        return answer.json()
    except ValueError:
        if default is not None:
            return default
        raise MarathonNotJson(f"{answer.request.method} {urlsplit(answer.url).path}: Marathon "
                              f"answered {answer.status_code} without JSON",
                              status=answer.status_code) from None


TOO_MANY_DEPLOYMENTS = "of running deployments is achieved"


def _json_message(answer: requests.Response) -> bool:
    """Whether Marathon itself answered with a JSON `message` (not a proxy's page)."""
    try:
        body = answer.json()
    except ValueError:
        return False
    return isinstance(body, Mapping) and bool(body.get("message"))


def _message(answer: requests.Response) -> str:
    """What Marathon said, in one line: its JSON `message`; else its text, an HTML page (Jetty's
    error page: a leaderless Marathon's or a standby's) by the reason it gives; else the status
    line's words, which Jetty makes the reason too, and all it sends for a PUT or DELETE."""
    try:
        body = answer.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping) and body.get("message"):
        return str(body["message"])
    return _plain(answer.text) or (answer.reason or "").strip()


PAGE = re.compile(r"<\s*(html|head|body|title|pre|h\d|p)\b", re.IGNORECASE)
PAGE_REASON = (re.compile(r"<pre>(.*?)</pre>", re.IGNORECASE | re.DOTALL),
               re.compile(r"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL))


def _plain(text: str) -> str:
    """`text` as one line of at most 200 characters; an HTML page as the reason it shows (the
    first `<pre>` of Jetty's error page, else its title), else its words without tags."""
    if PAGE.search(text):
        found = next((m for m in (p.search(text) for p in PAGE_REASON) if m), None)
        import html

        text = html.unescape(found[1] if found else re.sub(r"<[^>]*>", " ", text))
    return " ".join(text.split())[:200]


# --- following a deployment --------------------------------------------------------------------

FAILURES_TO_GIVE_UP = 3
# The ends of a task seen in the settle window; a TASK_KILLED is Marathon's (an old version's
# task, a scale down) or someone's doing, not the app's.
TASK_ENDS = frozenset(("TASK_FINISHED", "TASK_FAILED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED",
                       "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"))
UNPLACEABLE_AFTER = 5.0  # seconds an app may wait in the queue before we say why
FOLLOW_INTERVAL = 0.25  # seconds between looks when the event stream says nothing
END_GRACE = 1.0  # seconds a task's end may reach the event stream after Marathon's count drops
REMOVAL_INTERVAL = 0.25


@dataclass(frozen=True)
class AppProgress:
    app_id: str
    instances: int
    staged: int
    running: int
    healthy: int
    health_checked: bool

    @property
    def done(self) -> bool:
        enough = self.running == self.instances
        return enough and (not self.health_checked or self.healthy == self.instances)

    def deployed(self) -> AppProgress:
        """What Marathon's deployment_success announces: every instance running (and healthy:
        a deployment of an app with health checks ends once its new tasks are healthy)."""
        return replace(self, staged=0, running=self.instances,
                       healthy=self.instances if self.health_checked else self.healthy)

    def __str__(self) -> str:
        text = f"{self.app_id}: {self.running}/{self.instances} running"
        if self.staged:
            text += f", {self.staged} staged"
        if self.health_checked:
            text += f", {self.healthy}/{self.instances} healthy"
        return text


class EventWatch:
    """Marathon's event stream, read in a background thread; it wakes followers at once.

    Start it before submitting, so that a deployment finishing fast is not missed. `say` is
    told, in one line, why there is no stream when Marathon sends it where the credentials may
    not follow (it is called from the watch's thread)."""

    TYPES = ("deployment_success", "deployment_failed", "status_update_event",
             "deployment_step_success")

    def __init__(self, marathon: Marathon, *, say: Callable[[str], None] = lambda _: None) -> None:
        self.marathon = marathon
        self.say = say
        self.poke = threading.Event()
        self.failed_deployments: set[str] = set()
        self.finished_at: dict[str, float] = {}
        self.ended: list[TaskEnd] = []  # status updates that ended a task, in arrival order
        self.listening = False  # the stream is attached and has not ended
        self._attached = threading.Event()
        self._stop = threading.Event()

    def start(self, *, attach_timeout: float = 1.0) -> EventWatch:
        threading.Thread(target=self._listen, daemon=True).start()
        self._attached.wait(attach_timeout)  # no stream (or a slow one): polling covers it
        return self

    def close(self) -> None:
        self._stop.set()

    def __enter__(self) -> EventWatch:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()

    def _listen(self) -> None:
        try:
            for event in self.marathon.events(self.TYPES, stop=self._stop,
                                              on_attached=self._on_attached,
                                              on_elsewhere=self.say):
                kind = event.get("eventType")
                if kind == "deployment_failed":
                    self.failed_deployments.add(str(event.get("id", "")))
                if kind == "deployment_success":
                    self.finished_at[str(event.get("id", ""))] = time.monotonic()
                if kind == "status_update_event" and event.get("taskStatus") in TASK_ENDS:
                    self.ended.append(TaskEnd(
                        str(event.get("appId", "")), str(event.get("taskId", "")),
                        str(event["taskStatus"]), str(event.get("message") or "").strip(),
                        time.monotonic()))
                self.poke.set()
        finally:
            self.listening = False
            self._attached.set()

    def _on_attached(self) -> None:
        self.listening = True
        self._attached.set()


@dataclass(frozen=True)
class TaskEnd:
    """A task's end as Marathon's event stream told it (`at`: time.monotonic() on arrival)."""

    app_id: str
    task_id: str
    state: str
    message: str
    at: float

    def said(self, after: float) -> str:
        took = max(0.0, self.at - after)
        if self.state == "TASK_FINISHED":
            return f"its task exited 0 {took:.1f} s after Marathon called the deployment done"
        how = f"{self.state}: {self.message}" if self.message else self.state
        return f"its task failed {took:.1f} s after Marathon called the deployment done ({how})"


@dataclass(frozen=True)
class Followed:
    apps: list[AppProgress]
    success_event_at: float | None  # time.monotonic() when Marathon announced success


@dataclass(frozen=True)
class Hooks:
    """How `follow` and its caller talk: each round's progress, told; what the agents have
    free, asked (only to say why an app can't be placed; None when unknown); the tasks the
    Mesos master lists as completed, asked (to tell tasks that keep finishing; None when
    unknown); and how long, in seconds, Marathon's "done" is watched (`SETTLE`)."""

    progress: Callable[[list[AppProgress]], None] = lambda _: None
    offers: Callable[[], Sequence[AgentFree] | None] = lambda: None
    completed: Callable[[], Sequence[CompletedTask] | None] = lambda: None
    settle: float = SETTLE


def follow(
    marathon: Marathon,
    submitted: Submitted,
    *,
    timeout: float,
    hooks: Hooks = Hooks(),
    watch: EventWatch | None = None,
    clock: Clock = SYSTEM,
) -> Followed:
    """Wait until the deployments are gone and every app runs (and is healthy) everywhere,
    then `hooks.settle` seconds more for the apps without health checks (a task that ends in that
    time fails it: Marathon's "done" means each new task was RUNNING once).

    Marathon's event stream (`watch`, started before submitting) wakes the wait as soon as
    something happens; polling is the fallback. Once every deployment was announced a
    success, that is the answer (no more round trips but the settle window's). Fails early
    when tasks keep failing or when the app can't be placed."""
    own = watch is None
    events = watch or EventWatch(marathon).start(attach_timeout=0)
    following = _Following(marathon, submitted, events, hooks, clock)
    try:
        return wait(following.look, deadline=clock.now() + timeout,
                    poll=Poll(FOLLOW_INTERVAL, wake=events.poke), clock=clock)
    except TimedOut as exc:
        raise DeploymentFailed(
            f"deployment not finished after {timeout:.0f} s: {exc.waiting_for}",
            hint=and_bundle("raise --timeout, or see `mesostack apps` and "
                            "`mesostack task-logs`")) from None
    finally:
        if own:
            events.close()


class _Following:
    """One `follow`'s rounds: what was seen so far (failed tasks, how long apps have waited
    in the queue, the apps' last progress)."""

    def __init__(self, marathon: Marathon, submitted: Submitted, events: EventWatch,
                 hooks: Hooks, clock: Clock) -> None:
        self.marathon, self.submitted, self.events = marathon, submitted, events
        self.hooks, self.clock, self.settle = hooks, clock, hooks.settle
        self.ends = _TaskEnds(marathon, submitted, hooks.completed, clock)
        self.waiting_since: dict[str, float] = {}
        self.states: list[AppProgress] = []
        # Marathon's "done", the apps watched after it, and when the watch began and ends
        self.done: tuple[Followed, list[str], float, float] | None = None
        self.short_since: dict[str, float] = {}  # app id: when a look first found too few

    def look(self) -> Followed:
        """One round: Followed when done and settled; Pending when not yet."""
        if self.done is None:
            followed = self._deployed()
            watched = [s.app_id for s in followed.apps if not s.health_checked]
            if self.settle <= 0 or not watched:
                return followed
            began = followed.success_event_at or time.monotonic()
            self.done = (followed, watched, began, self.clock.now() + self.settle)
        return self._settled(*self.done)

    def _settled(self, followed: Followed, watched: list[str], began: float,
                 until: float) -> Followed:
        """The settle window: an app of `watched` (those without health checks) whose task
        ended (the event stream), or that runs fewer tasks than it should (a look), since
        Marathon called its deployment done fails; at the window's end, `followed` is the
        answer."""
        for end in self.events.ended:
            if end.app_id in watched and end.at >= began:
                raise _ended(end.app_id, end.said(began), finished=end.state == "TASK_FINISHED")
        for app_id in watched:
            progress = _progress(self.marathon, app_id, self.ends)
            if progress.running < progress.instances:
                # Marathon's count and its event of the task's end come apart (they are
                # published separately): give the stream END_GRACE to say why
                since = self.short_since.setdefault(app_id, self.clock.now())
                if self.events.listening and self.clock.now() - since < END_GRACE:
                    raise Pending(f"{app_id}: {progress.running}/{progress.instances} running",
                                  again=END_GRACE / 10)
                took = max(0.0, time.monotonic() - began)
                raise _ended(app_id, f"{progress.running}/{progress.instances} of its tasks "
                             f"run {took:.1f} s after Marathon called the deployment done",
                             finished=False)
        left = until - self.clock.now()
        if left <= 0:
            return followed
        raise Pending(f"{', '.join(watched)}: watching the new tasks for {self.settle:g} s",
                      again=left)

    def _deployed(self) -> Followed:
        """A round before the settle window: Followed when Marathon is done."""
        deployments = set(self.submitted.deployment_ids)
        failed = self.events.failed_deployments & deployments
        if failed:
            raise DeploymentFailed(
                f"deployment {', '.join(sorted(failed))} failed",
                hint=and_bundle("see `mesostack apps` and the app's task logs"))
        if deployments and deployments <= set(self.events.finished_at) and self.states:
            self.states = [s.deployed() for s in self.states]
            self.hooks.progress(self.states)
            return Followed(self.states, self._announced())
        # Marathon's deployment_success event counts at once: its /v2/deployments may
        # still list the deployment for a moment after announcing it.
        pending = ({d.get("id") for d in self.marathon.deployments()} & deployments) - set(
            self.events.finished_at)
        self.states = [_progress(self.marathon, app_id, self.ends)
                       for app_id in self.submitted.app_ids]
        self.hooks.progress(self.states)
        if not pending and all(s.done for s in self.states):
            return Followed(self.states, self._announced())
        self._check_queue()
        raise Pending("; ".join(str(s) for s in self.states))

    def _announced(self) -> float | None:
        seen = [self.events.finished_at[d] for d in self.submitted.deployment_ids
                if d in self.events.finished_at]
        return max(seen) if seen else None

    def _check_queue(self) -> None:
        """An app that waits in the queue with nothing running: say which resource is short."""
        short = [s.app_id for s in self.states if s.running + s.staged < s.instances]
        if not short:
            return
        now = self.clock.now()
        for entry in self.marathon.queue():
            app = entry.get("app") or {}
            if app.get("id") not in short or not (entry.get("delay") or {}).get("overdue", True):
                continue  # another app, or backing off after a failure: not a placement problem
            first = self.waiting_since.setdefault(app["id"], now)
            if now - first >= UNPLACEABLE_AFTER:
                _check_placement(entry, app, self.hooks.offers)


def _ended(app_id: str, what: str, *, finished: bool) -> DeploymentFailed:
    fix = ("a Marathon app must keep running: give it a command that does not end; "
           if finished else "")
    return DeploymentFailed(
        f"app {app_id}: {what}",
        hint=and_bundle(f"{fix}see `mesostack task-logs {app_id.strip('/')}`; `--settle 0` "
                        "takes Marathon's word that it is deployed"))


def _progress(marathon: Marathon, app_id: str, ends: _TaskEnds) -> AppProgress:
    app = marathon.app(app_id)
    if app is None:
        raise DeploymentFailed(f"app {app_id} is gone from Marathon while deploying it",
                               hint=and_bundle("see `mesostack apps`"))
    progress = AppProgress(
        app_id=app_id,
        instances=int(app.get("instances", 0)),
        staged=int(app.get("tasksStaged", 0)),
        running=int(app.get("tasksRunning", 0)),
        healthy=int(app.get("tasksHealthy", 0)),
        health_checked=bool(app.get("healthChecks")),
    )
    ends.check(app_id, app.get("lastTaskFailure"), done=progress.done)
    return progress


COMPLETED_INTERVAL = 1.0  # seconds between looks at the master's completed tasks
# Marathon's task ids (v1.10.26 Task.scala l.311-317, `Task.Id.parse` tries them in this order;
# v0.11.1 TaskIDUtil.scala l.12-25 makes the last kind): the app's path with `_` for `/` first.
TASK_IDS = tuple(re.compile(p) for p in (
    r"(.+)\.(instance-|marathon-)([^_.]+)[._]([^.]+)\.(\d+)",
    r"(.+)\.(instance-|marathon-)([^_.]+)[._]([^.]+)",
    r"(.+)([._])([^_.]+)(\.)(\d+)",
    r"(.+)([._])([^_.]+)",
))


def app_of_task(task_id: str) -> str | None:
    """The id of the app a Marathon task belongs to (`shop_web.instance-<uuid>._app.1`:
    /shop/web; PathId.fromSafePath); None for an id Marathon does not make."""
    for pattern in TASK_IDS:
        found = pattern.fullmatch(task_id)
        if found:
            return "/" + found[1].replace("_", "/")
    return None


class _TaskEnds:
    """How the followed apps' tasks ended since they were submitted: Marathon's
    lastTaskFailure (it records FAILED, ERROR, LOST and, from 1.x, DROPPED, GONE,
    GONE_BY_OPERATOR, UNKNOWN and health-check kills, never FINISHED: TaskFailure.scala at
    v0.11.1 l.98-104, v1.10.26 l.127-133), and the tasks the Mesos master lists as finished
    (exit 0), which Marathon relaunches as it does failed ones. Three of either: the
    deployment can't succeed, say so."""

    def __init__(self, marathon: Marathon, submitted: Submitted,
                 completed: Callable[[], Sequence[CompletedTask] | None], clock: Clock) -> None:
        self.marathon, self.submitted, self.completed, self.clock = (
            marathon, submitted, completed, clock)
        self.failed: dict[str, set[str]] = {}
        self.finished: dict[str, dict[str, float]] = {}  # app id: task id -> when it ended
        self.looked_at: float | None = None
        self.framework: str | None = None

    def check(self, app_id: str, failure: Any, *, done: bool) -> None:
        if isinstance(failure, Mapping) and _after(failure.get("timestamp"),
                                                   self.submitted.started):
            seen = self.failed.setdefault(app_id, set())
            seen.add(str(failure.get("taskId", "")))
            if len(seen) >= FAILURES_TO_GIVE_UP:
                raise DeploymentFailed(
                    f"app {app_id}: its tasks keep failing ({len(seen)} so far); last: "
                    f"{failure.get('state', '?')}: {str(failure.get('message', '')).strip()}",
                    hint=and_bundle(f"see `mesostack task-logs {app_id.strip('/')}`"))
        if not done:
            self._look()
        finished = self.finished.get(app_id, {})
        if len(finished) >= FAILURES_TO_GIVE_UP:
            took = max(0.0, max(finished.values()) - self.submitted.started)
            raise DeploymentFailed(
                f"app {app_id}: its tasks keep exiting 0 and being restarted ({len(finished)} "
                f"finished in {took:.0f} s): a Marathon app must keep running; give it a "
                "command that does not end",
                hint=and_bundle(f"see `mesostack task-logs {app_id.strip('/')}`"))

    def _look(self) -> None:
        """The master's finished tasks of the followed apps, at most every
        COMPLETED_INTERVAL seconds, only those of Marathon's framework when it names it."""
        now = self.clock.now()
        if self.looked_at is not None and now - self.looked_at < COMPLETED_INTERVAL:
            return
        self.looked_at = now
        tasks = self.completed()
        if not tasks:
            return
        if self.framework is None:
            try:
                self.framework = str(self.marathon.info().get("frameworkId") or "")
            except MarathonError:
                self.framework = ""
        for task in tasks:
            app_id = app_of_task(task.task_id)
            if (task.state == "TASK_FINISHED" and app_id in self.submitted.app_ids
                    and task.ended_at is not None and task.ended_at >= self.submitted.started - 1
                    and self.framework in ("", task.framework_id)):
                self.finished.setdefault(app_id, {})[task.task_id] = task.ended_at


def _after(stamp: Any, started: float) -> bool:
    """Whether Marathon's ISO timestamp is after `started` (a little slack for clocks)."""
    if not isinstance(stamp, str):
        return False
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return False
    return when >= started - 1.0


REASONS = {"InsufficientCpus": "cpus", "InsufficientMemory": "mem", "InsufficientDisk": "disk",
           "InsufficientPorts": "ports"}


def _check_placement(entry: Mapping[str, Any], app: Mapping[str, Any],
                     offers: Callable[[], Sequence[AgentFree] | None]) -> None:
    """Fails when the queue (or, for 0.11's, the agents' free resources) names a resource
    that no agent has enough of for `app`."""
    summary = (entry.get("processedOffersSummary") or {}).get("rejectSummaryLastOffers")
    lacking = [REASONS[r["reason"]] for r in summary or []
               if r.get("reason") in REASONS and r.get("declined")]
    free = offers()
    if not lacking and free is not None:  # 0.11's queue doesn't say: compare ourselves
        lacking = [key for key in ("cpus", "mem", "disk")
                   if float(app.get(key) or 0) > max((getattr(a, key) for a in free),
                                                     default=0.0)]
    if not lacking or free == []:
        return  # nothing names a resource, or no agent is registered (yet): keep waiting
    needs = ", ".join(f"{key} {float(app.get(key) or 0):g}" for key in ("cpus", "mem", "disk"))
    agents = f"; free: {'; '.join(str(a) for a in free)}" if free else ""
    raise DeploymentFailed(
        f"app {app.get('id')} can't be placed: no agent has enough {' or '.join(lacking)} "
        f"(it asks {needs}{agents})",
        hint="lower the app's resources, or give the agents more (slave.resources)")


def wait_removed(
    marathon: Marathon, app_id: str, deployment_id: str, *, timeout: float,
    clock: Clock = SYSTEM,
) -> None:
    """Until the removal's deployment is done and Marathon no longer knows the app."""

    def gone() -> None:
        pending = any(d.get("id") == deployment_id for d in marathon.deployments())
        if pending or marathon.app(app_id) is not None:
            raise Pending(f"app {app_id} to be gone")

    try:
        wait(gone, deadline=clock.now() + timeout, poll=Poll(REMOVAL_INTERVAL), clock=clock)
    except TimedOut:
        raise DeploymentFailed(f"app {app_id} still there after {timeout:.0f} s",
                               hint="see `mesostack apps`; retry with --force") from None


def _why(exc: requests.RequestException, timeout: tuple[float, float]) -> str:
    """A few plain words for what went wrong on the wire."""
    if isinstance(exc, requests.ConnectTimeout):
        return f"no connection within {timeout[0]:g} s"
    if isinstance(exc, requests.ReadTimeout):
        return f"no answer within {timeout[1]:g} s"
    text = str(exc)
    for marker, words in (("Connection refused", "connection refused"),
                          ("Connection reset", "connection reset"),
                          ("RemoteDisconnected", "it closed the connection"),
                          ("Name or service not known", "unknown host name")):
        if marker in text:
            return words
    return type(exc).__name__
