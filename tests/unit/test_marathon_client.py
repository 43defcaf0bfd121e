"""The Marathon client against a scripted, in-memory Marathon: what is sent, what each answer of
either generation means, and following a deployment to its end (or its early failure).

No sockets: `FakeMarathon` is a requests transport adapter mounted on the client's session for
`http://`. It keeps apps, groups, deployments and the queue in dicts, answers as Marathon does
(bodies from the contract and `marathon/invalid/README.md`), and records every request.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from fakes import FakeClock
from mesostack import marathon as marathon_module
from mesostack.apps import DeployRequest, parse_text
from mesostack.errors import ExitCode, InputError, MesostackError
from mesostack.marathon import (
    UNREACHABLE_HINT,
    AppProgress,
    Credentials,
    DeploymentFailed,
    EventWatch,
    Followed,
    Hooks,
    Marathon,
    MarathonError,
    MarathonNotJson,
    MarathonRejected,
    MarathonUnreachable,
    Submitted,
    app_count,
    describe_422,
    follow,
    public_url,
    wait_removed,
)
from mesostack.mesos import AgentFree
from testbed import fixture

URL = "http://127.0.0.1:8080"
SECRET = "s3cret-Pa55"

WEB = {"id": "/web", "cmd": "python3 -m http.server $PORT0", "cpus": 0.1, "mem": 32,
       "instances": 2}
SHOP: dict[str, Any] = {"id": "/shop", "apps": [
    {"id": "web", "cmd": "python3 -m http.server $PORT0", "cpus": 0.1, "mem": 32},
    {"id": "db", "cmd": "sleep 1000", "cpus": 0.1, "mem": 64},
]}

# Bodies quoted in fixtures/marathon/invalid/README.md.
ID_PATTERN = ("must fully match regular expression '^(([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])\\.)"
              "*([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])|(\\.|\\.\\.)$'")
NO_CMD = "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'."
MODERN_422 = {"message": "Object is not valid", "details": [
    {"path": "/", "errors": [NO_CMD]},
    {"path": "/id", "errors": [ID_PATTERN]},
    {"path": "/upgradeStrategy/minimumHealthCapacity", "errors": ["is greater than 1"]},
]}
LEGACY_422 = {"message": "Bean is not valid", "errors": [
    {"attribute": "", "error": NO_CMD},
    {"attribute": "id", "error": 'path contains invalid characters (allowed: lowercase letters, '
                                 'digits, hyphens, ".", "..")'},
]}
NOT_A_STRING = {"message": "Invalid JSON",
                "details": [{"path": "/id", "errors": ["error.expected.jsstring"]}]}
TRUNCATED = {"message": "Invalid JSON", "details": (
    "Unexpected end-of-input: expected close marker for Object (start marker at [Source: "
    "(String)\"{\"id\":\"/test\"\"; line: 1, column: 1])")}
LOCKED = ("App is locked by one or more deployments. Override with the option '?force=true'. "
          "View details at '/v2/deployments/{id}'.")


# --- the fake Marathon -------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    authorization: str | None
    accept: str | None


Reply = tuple[int, Any]  # status, and a JSON-able body (a str is sent as text/plain)


class Stream(io.BytesIO):
    """An SSE body; `at_end` runs once, when the reader hits its end."""

    def __init__(self, data: bytes, at_end: Callable[[], None] | None = None) -> None:
        super().__init__(data)
        self.at_end = at_end

    def read(self, size: int | None = -1, /) -> bytes:
        chunk = super().read(size)
        if not chunk and self.at_end is not None:
            at_end, self.at_end = self.at_end, None
            at_end()
        return chunk


class FakeMarathon(BaseAdapter):
    """A small Marathon in memory. `script()` queues answers that win over the routes, once
    each; `ticks` run one per GET /v2/deployments (that is, one per poll) to move things on;
    `events` is the SSE body of /v2/events (None: 404, so followers poll); `refuse` makes every
    request fail as an unreachable host does."""

    def __init__(self) -> None:
        super().__init__()
        self.apps: dict[str, dict[str, Any]] = {}
        self.groups: set[str] = set()
        self.deployments: list[dict[str, Any]] = []
        self.queue: list[dict[str, Any]] = []
        self.calls: list[Call] = []
        self.scripted: dict[tuple[str, str], list[Reply]] = {}
        self.ticks: list[Callable[[FakeMarathon], object]] = []
        self.events: bytes | None = None
        self.events_end: Callable[[], None] | None = None
        self.refuse: Exception | None = None
        self.counter = 0
        self.timeouts: list[Any] = []  # each request's (connect, read)

    # requests' side

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        split = urlsplit(request.url or "")
        method, path = str(request.method), unquote(split.path)
        body = json.loads(request.body) if request.body else None
        self.calls.append(Call(method, path, parse_qs(split.query), body,
                               request.headers.get("Authorization"),
                               request.headers.get("Accept")))
        self.timeouts.append(timeout)
        if self.refuse is not None:
            raise self.refuse
        if self.scripted.get((method, path)):
            status, payload = self.scripted[(method, path)].pop(0)
            return respond(request, status, payload)
        if method == "GET" and path == "/v2/events" and self.events is not None:
            return respond(request, 200, stream=Stream(self.events, self.events_end))
        status, payload = self.route(method, path, parse_qs(split.query), body)
        return respond(request, status, payload)

    def close(self) -> None:
        pass

    # Marathon's side

    def script(self, method: str, path: str, *replies: Reply) -> None:
        self.scripted.setdefault((method, path), []).extend(replies)

    def route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Reply:
        force = query.get("force") == ["true"]
        if (method, path) == ("GET", "/v2/info"):
            return 200, {"name": "marathon", "version": "1.10.26", "elected": True}
        if (method, path) == ("GET", "/v2/apps"):
            return 200, {"apps": list(self.apps.values())}
        if (method, path) == ("GET", "/v2/deployments"):
            if self.ticks:
                self.ticks.pop(0)(self)
            return 200, list(self.deployments)
        if (method, path) == ("GET", "/v2/queue"):
            return 200, {"queue": list(self.queue)}
        if (method, path) == ("POST", "/v2/apps"):
            app_id = "/" + str(body["id"]).strip("/")
            if app_id in self.apps:
                return 409, {"message": f"An app with id [{app_id}] already exists."}
            deployment = self.put_app(app_id, body)
            return 201, {**self.apps[app_id], "deployments": [{"id": deployment}]}
        if (method, path) == ("POST", "/v2/groups"):
            group_id = "/" + str(body["id"]).strip("/")
            if group_id in self.groups:
                return 409, {"message": f"Group {group_id} is already created. Use PUT to "
                                        "change this group."}
            return self.put_group(group_id, body, force=True)
        if method == "PUT" and path.startswith("/v2/groups/"):
            return self.put_group(path.removeprefix("/v2/groups"), body, force=force)
        if path.startswith("/v2/apps/"):
            app_id = path.removeprefix("/v2/apps")
            if method == "GET" and app_id.endswith("/tasks"):
                app = self.apps.get(app_id.removesuffix("/tasks"))
                return (200, {"tasks": app.get("tasks", [])}) if app else missing(app_id)
            if method == "GET":
                return (200, {"app": self.apps[app_id]}) if app_id in self.apps else missing(
                    app_id)
            if method in ("PUT", "DELETE"):
                locked = self.locked([app_id], force)
                if locked:
                    return locked
                if method == "DELETE":
                    if app_id not in self.apps:
                        return missing(app_id)
                    return 200, {"version": now(), "deploymentId": self.deploy([app_id])}
                created = app_id not in self.apps
                merged = {**self.apps.get(app_id, {"id": app_id}), **body}
                return 201 if created else 200, {"version": now(),
                                                 "deploymentId": self.put_app(app_id, merged)}
        return 404, {"message": f"no route {method} {path}"}

    def deploy(self, app_ids: list[str]) -> str:
        self.counter += 1
        deployment_id = f"5ed4c0c5-71e2-4b3c-9a1e-{self.counter:012d}"
        self.deployments = [*self.deployments, {
            "id": deployment_id, "version": now(), "affectedApps": app_ids, "affectedPods": [],
            "steps": [{"actions": [{"action": "ScaleApplication", "app": a} for a in app_ids]}],
            "currentActions": [], "currentStep": 1, "totalSteps": 1}]
        return deployment_id

    def put_app(self, app_id: str, definition: dict[str, Any]) -> str:
        deployment = self.deploy([app_id])
        self.apps[app_id] = {
            "instances": 1, "tasksStaged": 0, "tasksRunning": 0, "tasksHealthy": 0,
            "tasksUnhealthy": 0, "tasks": [], **definition, "id": app_id,
            "deployments": [{"id": deployment}]}
        return deployment

    def put_group(self, group_id: str, body: dict[str, Any], *, force: bool) -> Reply:
        app_ids = [f"{group_id}/{str(app['id']).strip('/')}" for app in body.get("apps", [])]
        locked = self.locked(app_ids, force)
        if locked:
            return locked
        created = group_id not in self.groups
        self.groups.add(group_id)
        deployment = self.deploy(app_ids)
        for app, app_id in zip(body.get("apps", []), app_ids, strict=True):
            self.apps[app_id] = {"instances": 1, "tasksRunning": 0, "tasksStaged": 0,
                                 "tasksHealthy": 0, **app, "id": app_id}
        return 201 if created else 200, {"version": now(), "deploymentId": deployment}

    def locked(self, app_ids: list[str], force: bool) -> Reply | None:
        holding = [d for d in self.deployments if set(d["affectedApps"]) & set(app_ids)]
        if not holding or force:
            return None
        return 409, {"message": LOCKED.format(id=holding[0]["id"]),
                     "deployments": [{"id": d["id"]} for d in holding]}

    def finish(self, deployment_id: str | None = None) -> None:
        """The deployment (or every one) is done."""
        self.deployments = [d for d in self.deployments
                            if deployment_id is not None and d["id"] != deployment_id]

    def set(self, app_id: str, **fields: Any) -> None:
        self.apps[app_id] = {**self.apps[app_id], **fields}

    def requests_to(self, method: str, path: str) -> list[Call]:
        return [c for c in self.calls if (c.method, c.path) == (method, path)]


def respond(request: requests.PreparedRequest, status: int, payload: Any = None, *,
            stream: io.BytesIO | None = None) -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    answer.url = request.url or ""
    answer.request = request
    answer.reason = "OK" if status < 400 else "Error"
    if stream is not None:
        answer.headers = CaseInsensitiveDict({"Content-Type": "text/event-stream"})
        answer.raw = stream
    else:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        kind = "text/plain" if isinstance(payload, str) else "application/json"
        answer.headers = CaseInsensitiveDict({"Content-Type": kind})
        answer._content = text.encode()
        cast(Any, answer)._content_consumed = True  # requests' own, not in its stubs
        answer.raw = io.BytesIO(answer._content)
    answer.encoding = get_encoding_from_headers(answer.headers)  # as requests' HTTPAdapter does
    return answer


def missing(app_id: str) -> Reply:
    return 404, {"message": f"App '{app_id}' does not exist"}


def now(offset: float = 0.0) -> str:
    """An ISO timestamp as Marathon writes them, `offset` seconds from now."""
    when = datetime.now(UTC) + timedelta(seconds=offset)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def connect(fake: FakeMarathon, url: str = URL,
            credentials: Credentials | None = None) -> Marathon:
    client = Marathon(url, credentials=credentials)
    client.session.mount("http://", fake)
    return client


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def sse(*events: dict[str, Any], newline: str = "\n") -> bytes:
    return "".join(f"event: {e['eventType']}{newline}data: {json.dumps(e)}{newline}{newline}"
                   for e in events).encode()


def request_for(definition: dict[str, Any], source: str = "web.json") -> DeployRequest:
    (request,) = parse_text(json.dumps(definition), source=source).requests
    return request


def everything_said(error: MesostackError) -> str:
    return "\n".join([str(error), repr(error), error.message, error.hint or "", error.detail])


@pytest.fixture
def fake() -> FakeMarathon:
    return FakeMarathon()


@pytest.fixture
def marathon(fake: FakeMarathon) -> Marathon:
    return connect(fake)


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(marathon_module, "UNPLACEABLE_AFTER", 0.0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# --- submit ------------------------------------------------------------------------------------


def test_a_new_app_is_posted_and_its_deployment_picked_up(fake: FakeMarathon,
                                                          marathon: Marathon) -> None:
    before = time.time()
    done = marathon.submit(request_for(WEB))

    (post,) = fake.calls
    assert (post.method, post.path, post.query, post.body) == ("POST", "/v2/apps", {}, WEB)
    assert done.created
    assert done.app_ids == ("/web",)
    assert done.deployment_ids == (fake.deployments[0]["id"],)
    assert before <= done.started <= time.time()


def test_an_existing_app_is_put_with_the_same_body(fake: FakeMarathon, marathon: Marathon) -> None:
    first = marathon.submit(request_for(WEB))
    fake.finish()

    again = marathon.submit(request_for({**WEB, "instances": 3}))

    post, put = fake.calls[1:]
    assert (post.method, post.path) == ("POST", "/v2/apps")
    assert (put.method, put.path, put.query) == ("PUT", "/v2/apps/web", {})
    assert put.body == post.body == {**WEB, "instances": 3}
    assert not again.created
    assert again.deployment_ids == (fake.deployments[0]["id"],)
    assert again.deployment_ids != first.deployment_ids


def test_a_nested_app_id_is_put_on_its_own_path(fake: FakeMarathon, marathon: Marathon) -> None:
    fake.script("POST", "/v2/apps",
                (409, {"message": "An app with id [/shop/web] already exists."}))
    fake.script("PUT", "/v2/apps/shop/web", (200, {"version": now(), "deploymentId": "d-1"}))

    done = marathon.submit(request_for({**WEB, "id": "/shop/web"}))

    assert [c.path for c in fake.calls] == ["/v2/apps", "/v2/apps/shop/web"]
    assert (done.created, done.deployment_ids) == (False, ("d-1",))


def test_a_group_is_posted_then_put_once_it_exists(fake: FakeMarathon,
                                                   marathon: Marathon) -> None:
    request = request_for(SHOP, "shop.yaml")
    created = marathon.submit(request)
    fake.finish()

    updated = marathon.submit(request)

    assert [(c.method, c.path) for c in fake.calls] == [
        ("POST", "/v2/groups"), ("POST", "/v2/groups"), ("PUT", "/v2/groups/shop")]
    assert fake.calls[2].body == {**SHOP, "apps": [  # every id absolute: see apps.py
        {**app, "id": f"/shop/{app['id']}"} for app in SHOP["apps"]]}
    assert created.created and not updated.created
    assert created.app_ids == updated.app_ids == ("/shop/web", "/shop/db")
    assert len(created.deployment_ids) == len(updated.deployment_ids) == 1
    assert updated.deployment_ids == (fake.deployments[0]["id"],)


def test_force_is_sent_with_the_post_and_the_put(fake: FakeMarathon, marathon: Marathon) -> None:
    marathon.submit(request_for(WEB))  # its deployment still runs: the app is locked

    done = marathon.submit(request_for(WEB), force=True)

    assert [(c.method, c.query) for c in fake.calls[1:]] == [
        ("POST", {"force": ["true"]}), ("PUT", {"force": ["true"]})]
    assert not done.created and len(done.deployment_ids) == 1


def test_a_locked_app_names_the_deployment_and_hints_force(fake: FakeMarathon,
                                                           marathon: Marathon) -> None:
    holding = marathon.submit(request_for(WEB)).deployment_ids[0]

    with pytest.raises(MarathonError) as caught:
        marathon.submit(request_for(WEB))

    error = caught.value
    assert not isinstance(error, MarathonRejected)
    assert error.exit_code == ExitCode.FAILED
    assert error.message.startswith("web.json: locked by deployment " + holding)
    assert "--force" in (error.hint or "")


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "first", "count"), [
    (MODERN_422, f"/: {NO_CMD}", 3),
    (LEGACY_422, f"/: {NO_CMD}", 2),
], ids=["modern", "legacy"])
def test_422_in_either_generation_is_bad_input_naming_every_problem(
        fake: FakeMarathon, marathon: Marathon, body: dict[str, Any], first: str,
        count: int) -> None:
    fake.script("POST", "/v2/apps", (422, body))

    with pytest.raises(MarathonRejected) as caught:
        marathon.submit(request_for(WEB))

    error = caught.value
    assert error.exit_code == ExitCode.BAD_INPUT
    assert error.message == f"web.json: Marathon rejected it: {first} (and {count - 1} more)"
    lines = error.detail.splitlines()
    assert len(lines) == count
    assert lines[0].strip() == first
    assert lines[1].strip().startswith("/id: ")


def test_a_422_without_problems_falls_back_to_its_message(fake: FakeMarathon,
                                                          marathon: Marathon) -> None:
    fake.script("POST", "/v2/apps", (422, {"message": "Object is not valid"}))

    with pytest.raises(MarathonRejected, match=r"rejected it: Object is not valid$"):
        marathon.submit(request_for(WEB))


def test_describe_422_reads_both_generations() -> None:
    assert describe_422(MODERN_422) == [
        f"/: {NO_CMD}", f"/id: {ID_PATTERN}", "/upgradeStrategy/minimumHealthCapacity: is "
        "greater than 1"]
    assert describe_422(LEGACY_422)[0] == f"/: {NO_CMD}"
    assert describe_422(LEGACY_422)[1].startswith("/id: path contains invalid characters")
    nested = {"errors": [{"attribute": "upgradeStrategy.minimumHealthCapacity",
                          "error": "must be less than or equal to 1"}]}
    assert describe_422(nested) == [
        "/upgradeStrategy/minimumHealthCapacity: must be less than or equal to 1"]
    two = {"details": [{"path": "/cpus", "errors": ["error.min", "error.expected.jsnumber"]}]}
    assert describe_422(two) == ["/cpus: error.min", "/cpus: error.expected.jsnumber"]
    assert describe_422(NOT_A_STRING) == ["/id: error.expected.jsstring"]
    assert describe_422(TRUNCATED) == []  # `details` is a string there
    assert describe_422({"message": "Object is not valid"}) == []
    assert describe_422(["not", "a", "mapping"]) == []
    assert describe_422(None) == []


@pytest.mark.parametrize("body", [
    TRUNCATED,
    {"message": "Please specify data in JSON format",
     "details": "No content to map due to end-of-input"},
], ids=["truncated", "empty"])
def test_400_with_string_details_is_bad_input_quoting_both(
        fake: FakeMarathon, marathon: Marathon, body: dict[str, str]) -> None:
    fake.script("POST", "/v2/apps", (400, body))

    with pytest.raises(MarathonRejected) as caught:
        marathon.submit(request_for(WEB))

    assert caught.value.exit_code == ExitCode.BAD_INPUT
    assert caught.value.message == (f"web.json: Marathon says the request is bad (400): "
                                    f"{body['message']}: {body['details']}")


def test_legacy_400_with_a_list_of_details_names_the_field(fake: FakeMarathon,
                                                           marathon: Marathon) -> None:
    # Marathon 0.11 answers `{"id": 123}` with 400 and the body 1.x sends with its 422.
    fake.script("POST", "/v2/apps", (400, NOT_A_STRING))

    with pytest.raises(MarathonRejected) as caught:
        marathon.submit(request_for(WEB))

    assert caught.value.exit_code == ExitCode.BAD_INPUT
    assert "Invalid JSON" in caught.value.message
    assert "/id: error.expected.jsstring" in caught.value.message


def test_401_asks_for_credentials(fake: FakeMarathon, marathon: Marathon) -> None:
    fake.script("GET", "/v2/apps", (401, {"message": "Unauthorized"}))

    with pytest.raises(MarathonError) as caught:
        marathon.apps()

    assert type(caught.value) is MarathonError
    assert caught.value.exit_code == ExitCode.FAILED
    assert "credentials" in str(caught.value)
    assert "401" in caught.value.message


def test_403_is_a_failure_naming_the_call(fake: FakeMarathon, marathon: Marathon) -> None:
    fake.script("POST", "/v2/apps", (403, {"message": "Forbidden"}))

    with pytest.raises(MarathonError) as caught:
        marathon.submit(request_for(WEB))

    assert type(caught.value) is MarathonError
    assert caught.value.exit_code == ExitCode.FAILED
    assert "POST /v2/apps" in caught.value.message and "403" in caught.value.message


@pytest.mark.parametrize(("status", "body"), [
    (503, "Could not determine the current leader"),
    (502, {"message": "Could not determine the current leader"}),
], ids=["legacy-503", "modern-502"])
def test_no_leader_is_unreachable(fake: FakeMarathon, marathon: Marathon, status: int,
                                  body: Any) -> None:
    fake.script("GET", "/v2/info", (status, body))

    with pytest.raises(MarathonUnreachable) as caught:
        marathon.info()

    assert caught.value.exit_code == ExitCode.FAILED
    assert f"({status}: Could not determine the current leader)" in caught.value.message
    assert caught.value.hint == UNREACHABLE_HINT


def test_no_answer_at_all_is_unreachable_pointing_at_status(fake: FakeMarathon,
                                                            marathon: Marathon) -> None:
    fake.refuse = requests.ConnectionError("[Errno 111] Connection refused")

    with pytest.raises(MarathonUnreachable) as caught:
        marathon.submit(request_for(WEB))

    assert caught.value.message == f"Marathon at {URL} does not answer: connection refused"
    assert "mesostack status" in str(caught.value)
    assert caught.value.exit_code == ExitCode.FAILED


@pytest.mark.parametrize(("raised", "words"), [
    (requests.ConnectTimeout("x"), "no connection within 2 s"),
    (requests.ReadTimeout("x"), "no answer within 15 s"),
    (requests.ConnectionError("('Connection aborted.', RemoteDisconnected('Remote end closed "
                              "connection without response'))"), "it closed the connection"),
    (requests.ConnectionError("something else"), "ConnectionError"),
])
def test_no_answer_says_why_in_plain_words(fake: FakeMarathon, marathon: Marathon,
                                           raised: requests.RequestException, words: str) -> None:
    fake.refuse = raised
    with pytest.raises(MarathonUnreachable) as caught:
        marathon.submit(request_for(WEB))
    assert caught.value.message == f"Marathon at {URL} does not answer: {words}"


def test_an_answer_without_json_is_a_failure(fake: FakeMarathon, marathon: Marathon) -> None:
    fake.script("GET", "/v2/deployments", (200, "<html>proxy</html>"))
    fake.script("POST", "/v2/apps", (500, "<html>Internal Server Error</html>"))

    with pytest.raises(MarathonError, match=r"GET /v2/deployments: .* 200 without JSON"):
        marathon.deployments()
    with pytest.raises(MarathonError, match=r"answered 500: Internal Server Error$"):
        marathon.submit(request_for(WEB))


# --- reading, removing, scaling ----------------------------------------------------------------


def test_reading_recorded_payloads(fake: FakeMarathon, marathon: Marathon) -> None:
    responses = fixture("marathon/responses")
    recorded = {name: json.loads((responses / f"v1.10-{name}.json").read_text())
                for name in ("info", "deployments", "queue", "app_tasks", "app_list")}
    fake.script("GET", "/v2/info", (200, recorded["info"]))
    fake.script("GET", "/v2/deployments", (200, recorded["deployments"]))
    fake.script("GET", "/v2/queue", (200, recorded["queue"]))
    fake.script("GET", "/v2/apps", (200, recorded["app_list"]))
    fake.script("GET", "/v2/apps/minecraft/survival-world/tasks", (200, recorded["app_tasks"]))

    assert marathon.info()["elected"] is True
    assert [d["affectedApps"] for d in marathon.deployments()] == [["/foo"]]
    assert [e["app"]["id"] for e in marathon.queue()] == ["/tools/datadog-agent", "/foo"]
    assert marathon.apps() == recorded["app_list"]["apps"]
    (task,) = marathon.tasks("/minecraft/survival-world")
    assert task["state"] == "TASK_STAGING"


def test_app_embeds_the_last_failure_and_is_none_when_unknown(fake: FakeMarathon,
                                                              marathon: Marathon) -> None:
    marathon.submit(request_for(WEB))

    app = marathon.app("/web")
    assert app is not None and app["id"] == "/web"
    assert marathon.app("/gone") is None
    assert fake.calls[-1].query == {"embed": ["app.lastTaskFailure"]}
    fake.script("GET", "/v2/apps/web", (500, {"message": "boom"}))
    with pytest.raises(MarathonError, match=r"GET /v2/apps/web on .*: 500 boom"):
        marathon.app("web")


def test_remove_and_scale(fake: FakeMarathon, marathon: Marathon) -> None:
    marathon.submit(request_for(WEB))
    fake.finish()

    scaled = marathon.scale("/web", 5)
    removed = marathon.remove("/web", force=True)

    scale, remove = fake.calls[-2:]
    assert (scale.method, scale.path, scale.body, scale.query) == (
        "PUT", "/v2/apps/web", {"instances": 5}, {})
    assert (remove.method, remove.path, remove.query) == (
        "DELETE", "/v2/apps/web", {"force": ["true"]})
    assert [d["id"] for d in fake.deployments] == [scaled, removed]
    with pytest.raises(MarathonError, match="no app /nope") as caught:
        marathon.remove("/nope")
    assert caught.value.hint == "see `mesostack apps`"


def test_app_count(fake: FakeMarathon) -> None:
    session = requests.Session()
    session.mount("http://", fake)
    fake.apps = {"/a": {"id": "/a"}, "/b": {"id": "/b"}}
    assert app_count("127.0.0.1:8080", session=session) == 2
    fake.script("GET", "/v2/apps", (503, "Could not determine the current leader"))
    assert app_count("127.0.0.1:8080", session=session) is None
    fake.script("GET", "/v2/apps", (200, "not json"))
    assert app_count("127.0.0.1:8080", session=session) is None
    fake.refuse = requests.ConnectionError("refused")
    assert app_count("127.0.0.1:8080", session=session) is None


def test_the_status_calls_ping_leader_and_app_count(fake: FakeMarathon,
                                                    marathon: Marathon) -> None:
    fake.script("GET", "/ping", (200, "pong"), (500, "boom"))
    marathon.ping()
    with pytest.raises(MarathonError) as failed:
        marathon.ping()
    assert (failed.value.status, failed.value.said) == (500, "boom")
    fake.script("GET", "/v2/leader", (200, {"leader": "127.0.0.2:8080"}), (200, {}),
                (404, {"message": "There is no leader"}))
    assert marathon.leader() == "127.0.0.2:8080"
    assert marathon.leader() is None
    with pytest.raises(MarathonError) as no_leader:
        marathon.leader()
    assert (no_leader.value.status, no_leader.value.said) == (404, "There is no leader")
    fake.apps = {"/a": {"id": "/a"}}
    assert marathon.app_count() == 1
    fake.script("GET", "/v2/apps", (200, {"apps": "?"}))
    assert marathon.app_count() is None


def test_errors_say_how_marathon_answered(fake: FakeMarathon, marathon: Marathon) -> None:
    fake.script("GET", "/v2/info", (503, "Could not determine the current leader"),
                (401, ""), (200, "not json"))
    for status, kind in ((503, MarathonUnreachable), (401, MarathonError),
                         (200, MarathonNotJson)):
        with pytest.raises(kind) as caught:
            marathon.info()
        assert caught.value.status == status
    fake.refuse = requests.ConnectionError("refused")
    with pytest.raises(MarathonUnreachable) as refused:
        marathon.info()
    assert refused.value.status is None


def test_a_given_session_and_timeout_are_used(fake: FakeMarathon) -> None:
    session = requests.Session()
    session.auth = ("admin", SECRET)
    session.mount("http://", fake)
    client = Marathon(URL, session=session, timeout=(1.0, 3.0))
    client.info()
    assert fake.calls[-1].authorization == basic("admin", SECRET)
    assert fake.timeouts == [(1.0, 3.0)]
    fake.refuse = requests.ReadTimeout("x")
    with pytest.raises(MarathonUnreachable, match="no answer within 3 s"):
        client.info()


# --- credentials -------------------------------------------------------------------------------


def test_credentials_are_sent_as_basic_auth(fake: FakeMarathon) -> None:
    client = connect(fake, credentials=Credentials.parse(f"admin:{SECRET}"))
    client.info()
    assert fake.calls[-1].authorization == basic("admin", SECRET)


def test_credentials_in_the_url_are_sent_but_not_kept_in_it(fake: FakeMarathon) -> None:
    client = connect(fake, f"http://admin:{SECRET}@127.0.0.1:8080")
    client.info()

    assert client.url == URL
    assert fake.calls[-1].authorization == basic("admin", SECRET)


def test_explicit_credentials_win_over_the_urls(fake: FakeMarathon) -> None:
    client = connect(fake, "http://other:pw@127.0.0.1:8080",
                     credentials=Credentials("admin", SECRET))
    client.info()
    assert fake.calls[-1].authorization == basic("admin", SECRET)


def test_percent_encoded_credentials_in_the_url_are_decoded(fake: FakeMarathon) -> None:
    client = connect(fake, "http://ad%20min:p%40ss%3Aword@127.0.0.1:8080")
    client.info()
    assert fake.calls[-1].authorization == basic("ad min", "p@ss:word")
    assert client.url == URL


def test_credentials_show_only_the_user() -> None:
    credentials = Credentials.parse(f"admin:{SECRET}")
    assert (credentials.user, credentials.password) == ("admin", SECRET)
    assert str(credentials) == "admin:***"
    assert SECRET not in repr(credentials) and "admin" in repr(credentials)
    assert SECRET not in f"{credentials}" and SECRET not in f"{credentials!r}"
    assert Credentials.parse("u:a:b:c").password == "a:b:c"
    assert Credentials.parse("u:").password == ""


@pytest.mark.parametrize("text", ["nocolon", ":password", ""])
def test_credentials_must_be_user_colon_password(text: str) -> None:
    with pytest.raises(InputError, match="user:password") as caught:
        Credentials.parse(text)
    assert caught.value.exit_code == ExitCode.BAD_INPUT


def test_no_error_ever_shows_the_password(fake: FakeMarathon) -> None:
    client = connect(fake, f"http://admin:{SECRET}@127.0.0.1:8080")
    attempts: list[tuple[str, Reply | Exception]] = [
        ("GET", (401, {"message": "Unauthorized"})),
        ("GET", (403, {"message": "Forbidden"})),
        ("GET", (503, "Could not determine the current leader")),
        ("GET", (500, "<html>boom</html>")),
        ("GET", (200, "not json")),
        ("POST", (422, MODERN_422)),
        ("POST", (422, LEGACY_422)),
        ("POST", (400, TRUNCATED)),
        ("POST", (409, {"message": LOCKED.format(id="d-1"), "deployments": [{"id": "d-1"}]})),
        ("POST", (500, {"message": "Internal"})),
        ("GET", requests.ConnectionError(f"Max retries exceeded with url: http://admin:"
                                         f"{SECRET}@127.0.0.1:8080/v2/info")),
        ("GET", requests.ReadTimeout("read timed out")),
    ]
    said: list[str] = []
    for method, outcome in attempts:
        fake.refuse = outcome if isinstance(outcome, Exception) else None
        if not isinstance(outcome, Exception):
            fake.script(method, "/v2/info" if method == "GET" else "/v2/apps", outcome)
        with pytest.raises(MesostackError) as caught:
            if method == "GET":
                client.info()
            else:
                client.submit(request_for(WEB))
        said.append(everything_said(caught.value))

    assert len(said) == len(attempts)
    for text in said:
        assert SECRET not in text
    assert all(call.authorization == basic("admin", SECRET) for call in fake.calls)


@pytest.mark.parametrize("url", [
    f"admin:{SECRET}@",
    f"http://admin:{SECRET}@",
    f"ftp://admin:{SECRET}@127.0.0.1:8080",
    f"http://admin:{SECRET}@127.0.0.1:99999",
    f"http://admin:{SECRET}@127.0.0.1:port",
])
def test_a_bad_url_is_bad_input_without_the_password(url: str) -> None:
    with pytest.raises(InputError, match="is not http") as caught:
        Marathon(url)
    assert SECRET not in everything_said(caught.value)
    assert caught.value.exit_code == ExitCode.BAD_INPUT


@pytest.mark.parametrize(("url", "shown"), [
    (f"http://admin:{SECRET}@127.0.0.1:8080", URL),
    (f"https://admin:{SECRET}@marathon.example:8443/prefix/?a=b#c",
     "https://marathon.example:8443/prefix"),
    (f"admin:{SECRET}@127.0.0.1:8080", URL),
    ("127.0.0.1:8080", URL),
    ("marathon.example:8080", "http://marathon.example:8080"),
    ("http://marathon.example/", "http://marathon.example"),
])
def test_public_url_drops_user_info(url: str, shown: str) -> None:
    assert public_url(url) == shown


def test_a_url_without_scheme_is_http(fake: FakeMarathon) -> None:
    client = connect(fake, "127.0.0.1:8080")
    assert client.url == URL
    client.info()
    assert fake.calls[-1].path == "/v2/info"


# --- following a deployment --------------------------------------------------------------------


def submitted_web(fake: FakeMarathon, marathon: Marathon, **fields: Any) -> Submitted:
    done = marathon.submit(request_for({**WEB, **fields}))
    fake.calls.clear()
    return done


def test_follow_returns_once_the_deployment_is_gone_and_every_task_runs(
        fake: FakeMarathon, marathon: Marathon, fast: None, clock: FakeClock) -> None:
    submitted = submitted_web(fake, marathon)
    fake.ticks = [
        lambda m: m.set("/web", tasksStaged=2),
        lambda m: m.set("/web", tasksStaged=1, tasksRunning=1),
        lambda m: m.set("/web", tasksStaged=0, tasksRunning=2),
        lambda m: m.finish(),
    ]
    seen: list[tuple[int, int]] = []

    followed = follow(marathon, submitted, timeout=30, clock=clock, hooks=Hooks(
        progress=lambda states: seen.extend((s.staged, s.running) for s in states), settle=0))

    assert isinstance(followed, Followed)
    (web,) = followed.apps
    assert web.done and str(web) == "/web: 2/2 running"
    assert followed.success_event_at is None  # /v2/events answered 404: polling only
    assert seen == [(2, 0), (1, 1), (0, 2), (0, 2)]
    assert clock.sleeps == [marathon_module.FOLLOW_INTERVAL] * 3  # a look, then a pause each


def test_follow_waits_for_health_when_the_app_has_checks(
        fake: FakeMarathon, marathon: Marathon, fast: None, clock: FakeClock) -> None:
    submitted = submitted_web(fake, marathon, healthChecks=[{"protocol": "HTTP", "path": "/"}])
    fake.set("/web", tasksRunning=2)
    fake.finish()
    fake.ticks = [lambda m: None, lambda m: m.set("/web", tasksHealthy=1),
                  lambda m: m.set("/web", tasksHealthy=2)]
    seen: list[str] = []

    followed = follow(marathon, submitted, timeout=30, clock=clock,
                      hooks=Hooks(progress=lambda states: seen.append(str(states[0]))))

    assert followed.apps[0].done
    assert seen == ["/web: 2/2 running, 0/2 healthy", "/web: 2/2 running, 1/2 healthy",
                    "/web: 2/2 running, 2/2 healthy"]


def test_follow_gives_up_early_when_tasks_keep_failing(
        fake: FakeMarathon, marathon: Marathon, fast: None, clock: FakeClock) -> None:
    submitted = submitted_web(fake, marathon, instances=1)

    def fail(task: str, offset: float = 0.0) -> Callable[[FakeMarathon], None]:
        failure = {"appId": "/web", "host": "127.0.0.1", "message": "Command exited with "
                   "status 1\n", "state": "TASK_FAILED", "taskId": task,
                   "timestamp": now(offset), "version": now()}
        return lambda m: m.set("/web", lastTaskFailure=failure)

    fake.ticks = [fail("web.old", offset=-3600),  # from before this deployment: not counted
                  fail("web.1"), fail("web.1"), fail("web.2"), lambda m: None, fail("web.3"),
                  fail("web.4")]
    began = clock.now()

    with pytest.raises(DeploymentFailed) as caught:
        follow(marathon, submitted, timeout=60, clock=clock)

    assert clock.now() - began == 5 * marathon_module.FOLLOW_INTERVAL  # six looks, not 60 s
    assert caught.value.message == ("app /web: its tasks keep failing (3 so far); last: "
                                    "TASK_FAILED: Command exited with status 1")
    assert caught.value.hint == ("see `mesostack task-logs web`; run `mesostack bundle` to "
                                 "collect logs and state")
    assert len(fake.requests_to("GET", "/v2/deployments")) == 6
    assert fake.ticks  # it stopped before the last failure


def queue_entry(app: dict[str, Any], *, rejected: dict[str, int] | None = None,
                overdue: bool = True) -> dict[str, Any]:
    """A /v2/queue entry shaped as v1.10-queue.json's; without `rejected`, as 0.11 answers
    (no processedOffersSummary)."""
    entry: dict[str, Any] = {"app": app, "count": app.get("instances", 1), "role": "*",
                             "delay": {"timeLeftSeconds": 0, "overdue": overdue},
                             "since": now(-10)}
    if rejected is not None:
        reasons = ("UnfulfilledRole", "UnfulfilledConstraint", "NoCorrespondingReservationFound",
                   "InsufficientCpus", "InsufficientMemory", "InsufficientDisk",
                   "InsufficientGpus", "DeclinedScarceResources")
        entry["processedOffersSummary"] = {
            "processedOffersCount": 12, "unusedOffersCount": 12,
            "lastUnusedOfferAt": now(-1), "lastUsedOfferAt": now(-20),
            "rejectSummaryLastOffers": [
                {"reason": r, "declined": rejected.get(r, 0), "processed": 12} for r in reasons],
        }
    return entry


AGENTS = [AgentFree("agent-1", cpus=1.5, mem=256.0, disk=10000.0),
          AgentFree("agent-2", cpus=0.5, mem=1024.0, disk=5000.0)]


def test_an_app_no_agent_has_memory_for_fails_naming_mem(
        fake: FakeMarathon, marathon: Marathon, fast: None, clock: FakeClock) -> None:
    submitted = submitted_web(fake, marathon, instances=1, mem=4096, cpus=0.5)
    fake.queue = [queue_entry(fake.apps["/web"], rejected={"InsufficientMemory": 12})]
    asked: list[bool] = []

    def offers() -> list[AgentFree]:
        asked.append(True)
        return AGENTS

    with pytest.raises(DeploymentFailed) as caught:
        follow(marathon, submitted, timeout=60, hooks=Hooks(offers=offers), clock=clock)

    assert caught.value.message == (
        "app /web can't be placed: no agent has enough mem (it asks cpus 0.5, mem 4096, disk 0; "
        "free: agent-1 cpus 1.5 mem 256 disk 10000; agent-2 cpus 0.5 mem 1024 disk 5000)")
    assert "slave.resources" in (caught.value.hint or "")
    assert asked


def test_an_app_waits_in_the_queue_for_a_while_before_it_is_called_unplaceable(
        fake: FakeMarathon, marathon: Marathon, clock: FakeClock) -> None:
    submitted = submitted_web(fake, marathon, instances=1, mem=4096)
    fake.queue = [queue_entry(fake.apps["/web"], rejected={"InsufficientMemory": 12})]
    began = clock.now()

    with pytest.raises(DeploymentFailed, match="no agent has enough mem"):
        follow(marathon, submitted, timeout=60, clock=clock)

    assert clock.now() - began == marathon_module.UNPLACEABLE_AFTER


def test_the_recorded_queue_names_every_declined_resource(
        fake: FakeMarathon, marathon: Marathon, fast: None, clock: FakeClock) -> None:
    recorded = json.loads(fixture("marathon/responses/v1.10-queue.json").read_text())
    fake.queue = recorded["queue"]
    fake.apps["/foo"] = {**recorded["queue"][1]["app"], "tasksRunning": 0, "tasksStaged": 0}
    submitted = Submitted((fake.deploy(["/foo"]),), ("/foo",), True, time.time())

    with pytest.raises(DeploymentFailed) as caught:
        follow(marathon, submitted, timeout=60, clock=clock)

    assert caught.value.message == (
        "app /foo can't be placed: no agent has enough cpus or mem or disk "
        "(it asks cpus 0.5, mem 128, disk 0)")


@pytest.mark.parametrize(("needs", "short"), [
    ({"cpus": 4.0, "mem": 128.0}, "cpus"),
    ({"cpus": 0.1, "mem": 2048.0}, "mem"),
    ({"cpus": 2.0, "mem": 2048.0, "disk": 50000.0}, "cpus or mem or disk"),
])
def test_a_legacy_queue_entry_is_compared_with_the_agents(
        fake: FakeMarathon, marathon: Marathon, fast: None, clock: FakeClock,
        needs: dict[str, float], short: str) -> None:
    submitted = submitted_web(fake, marathon, instances=1, **needs)
    fake.queue = [queue_entry(fake.apps["/web"])]

    with pytest.raises(DeploymentFailed) as caught:
        follow(marathon, submitted, timeout=60, hooks=Hooks(offers=lambda: AGENTS), clock=clock)

    assert f"can't be placed: no agent has enough {short} (it asks cpus" in caught.value.message
    assert caught.value.message.endswith("free: agent-1 cpus 1.5 mem 256 disk 10000; "
                                         "agent-2 cpus 0.5 mem 1024 disk 5000)")


@pytest.mark.parametrize("case", ["legacy-without-offers", "backing-off", "other-app"])
def test_a_queue_that_says_nothing_waits_for_the_timeout(
        fake: FakeMarathon, marathon: Marathon, fast: None, clock: FakeClock, case: str) -> None:
    submitted = submitted_web(fake, marathon, instances=3, mem=4096)
    fake.set("/web", tasksRunning=1)
    app = fake.apps["/web"]
    entry = {
        "legacy-without-offers": queue_entry(app),
        "backing-off": queue_entry(app, rejected={"InsufficientMemory": 3}, overdue=False),
        "other-app": queue_entry({**app, "id": "/other"}, rejected={"InsufficientMemory": 3}),
    }[case]
    fake.queue = [entry]
    began = clock.now()

    with pytest.raises(DeploymentFailed) as caught:
        follow(marathon, submitted, timeout=10, clock=clock)

    assert clock.now() - began == 10
    assert caught.value.message == "deployment not finished after 10 s: /web: 1/3 running"
    assert "--timeout" in (caught.value.hint or "")


def test_follow_times_out_with_a_progress_summary(
        fake: FakeMarathon, marathon: Marathon, fast: None, clock: FakeClock) -> None:
    first = submitted_web(fake, marathon)
    second = marathon.submit(request_for({**WEB, "id": "/api", "healthChecks": [{}]}))
    fake.set("/web", tasksRunning=2)
    fake.set("/api", instances=2, tasksRunning=1, tasksStaged=1, tasksHealthy=1)
    both = Submitted(first.deployment_ids + second.deployment_ids, ("/web", "/api"), True,
                     first.started)

    with pytest.raises(DeploymentFailed) as caught:
        follow(marathon, both, timeout=1, clock=clock)

    assert caught.value.message == ("deployment not finished after 1 s: /web: 2/2 running; "
                                    "/api: 1/2 running, 1 staged, 1/2 healthy")


def test_an_app_gone_while_deploying_fails(fake: FakeMarathon, marathon: Marathon,
                                           clock: FakeClock) -> None:
    submitted = submitted_web(fake, marathon)
    fake.ticks = [lambda m: m.apps.pop("/web")]

    with pytest.raises(DeploymentFailed, match="app /web is gone from Marathon"):
        follow(marathon, submitted, timeout=30, clock=clock)


def test_follow_hears_deployment_success_on_the_event_stream(
        fake: FakeMarathon, marathon: Marathon) -> None:
    submitted = submitted_web(fake, marathon)
    (deployment,) = submitted.deployment_ids
    fake.set("/web", tasksRunning=2)
    fake.events = sse(
        {"eventType": "event_stream_attached", "remoteAddress": "127.0.0.1",
         "timestamp": now()},
        {"eventType": "deployment_success", "id": deployment, "timestamp": now(),
         "plan": {"id": deployment, "steps": [], "version": now()}},
        newline="\r\n")
    fake.events_end = fake.finish  # Marathon drops the deployment once it announced success
    began = time.monotonic()

    followed = follow(marathon, submitted, timeout=30)  # woken by the stream's thread

    assert followed.success_event_at is not None
    assert began <= followed.success_event_at <= time.monotonic()
    (listen,) = fake.requests_to("GET", "/v2/events")
    assert listen.accept == "text/event-stream"
    assert listen.query == {"event_type": ["deployment_success", "deployment_failed",
                                           "status_update_event", "deployment_step_success"]}


def test_an_announced_success_ends_the_follow_without_another_round_trip(
        fake: FakeMarathon, marathon: Marathon, clock: FakeClock) -> None:
    submitted = submitted_web(fake, marathon, healthChecks=[{"protocol": "HTTP", "path": "/"}])
    (deployment,) = submitted.deployment_ids
    watch = EventWatch(marathon)  # fed by hand here, as its stream thread feeds it
    seen: list[str] = []

    def progress(states: list[AppProgress]) -> None:
        seen.append(str(states[0]))
        watch.finished_at[deployment] = time.monotonic()  # deployment_success arrives
        watch.poke.set()

    began = clock.now()
    followed = follow(marathon, submitted, timeout=30, watch=watch, clock=clock,
                      hooks=Hooks(progress=progress))

    assert seen == ["/web: 0/2 running, 0/2 healthy", "/web: 2/2 running, 2/2 healthy"]
    assert followed.apps[0].done and followed.success_event_at is not None
    assert len(fake.requests_to("GET", "/v2/apps/web")) == 1  # the first look only
    assert clock.now() == began  # the poke cut the pause short: no time passed


def test_follow_fails_on_a_deployment_failed_event(fake: FakeMarathon,
                                                   marathon: Marathon) -> None:
    submitted = submitted_web(fake, marathon)
    (deployment,) = submitted.deployment_ids
    fake.events = sse({"eventType": "deployment_failed", "id": "another", "timestamp": now()},
                      {"eventType": "deployment_failed", "id": deployment, "timestamp": now()})

    with pytest.raises(DeploymentFailed) as caught:
        follow(marathon, submitted, timeout=30)  # woken by the stream's thread

    assert caught.value.message == f"deployment {deployment} failed"


# --- waiting for a removal ---------------------------------------------------------------------


def test_wait_removed_returns_once_the_deployment_and_the_app_are_gone(
        fake: FakeMarathon, marathon: Marathon, clock: FakeClock) -> None:
    marathon.submit(request_for(WEB))
    fake.finish()
    deployment = marathon.remove("/web")
    fake.calls.clear()
    fake.ticks = [lambda m: None, lambda m: m.finish(), lambda m: m.apps.pop("/web")]

    wait_removed(marathon, "/web", deployment, timeout=10, clock=clock)

    assert [(c.method, c.path) for c in fake.calls] == [
        ("GET", "/v2/deployments"),
        ("GET", "/v2/deployments"), ("GET", "/v2/apps/web"),
        ("GET", "/v2/deployments"), ("GET", "/v2/apps/web"),
    ]
    assert clock.sleeps == [marathon_module.REMOVAL_INTERVAL] * 2


def test_wait_removed_times_out(fake: FakeMarathon, marathon: Marathon,
                                clock: FakeClock) -> None:
    marathon.submit(request_for(WEB))
    fake.finish()
    deployment = marathon.remove("/web")
    began = clock.now()

    with pytest.raises(DeploymentFailed) as caught:
        wait_removed(marathon, "/web", deployment, timeout=10, clock=clock)

    assert clock.now() - began == 10
    assert caught.value.message == "app /web still there after 10 s"
    assert "--force" in (caught.value.hint or "")


# --- the event stream --------------------------------------------------------------------------

# Cyrillic "\u0445" is UTF-8 D1 85; read as Latin-1, 0x85 is NEL, a line break to str.splitlines.
NON_ASCII = "ошибка: \u0445 …"
STREAM = (
    ": a comment line\r\n"
    "\r\n"
    "event: event_stream_attached\r\n"
    'data: {"remoteAddress":"127.0.0.1","eventType":"event_stream_attached",'
    '"timestamp":"2024-01-01T00:00:00.000Z"}\r\n'
    "\r\n"
    "\r\n"  # Marathon's heartbeat
    "\r\n"
    "event: deployment_success\r\n"
    'data: {"id":"d-1","eventType":"deployment_success","timestamp":"2024-01-01T00:00:01.000Z"}'
    "\r\n\r\n"
    "event: broken\r\n"
    "data: {not json\r\n"
    "\r\n"
    "event: status_update_event\n"
    'data: {"eventType":"status_update_event","taskStatus":"TASK_FAILED",'
    '"message":"' + NON_ASCII + '"}\n'
    "\n"
    "event: deployment_failed\n"
    'data: {"id":"unfinished","eventType":"deployment_failed"}\n'  # no blank line: incomplete
)


def listen(marathon: Marathon, stop: threading.Event | None = None) -> Iterator[dict[str, Any]]:
    return marathon.events(("deployment_success",), stop=stop or threading.Event())


def test_events_parses_sse_ignoring_heartbeats_comments_and_garbage(
        fake: FakeMarathon, marathon: Marathon) -> None:
    fake.events = STREAM.encode()

    events = list(listen(marathon))

    assert [e["eventType"] for e in events] == [
        "event_stream_attached", "deployment_success", "status_update_event"]
    assert events[1]["id"] == "d-1"
    assert events[2]["message"] == NON_ASCII  # SSE is UTF-8, whatever the Content-Type says
    (call,) = fake.calls
    assert (call.path, call.query, call.accept) == (
        "/v2/events", {"event_type": ["deployment_success"]}, "text/event-stream")


def test_events_reads_the_recorded_stream(fake: FakeMarathon, marathon: Marathon) -> None:
    fake.events = fixture("marathon/responses/v1.10-events.txt").read_bytes()

    events = list(listen(marathon))

    assert [e["eventType"] for e in events] == [
        "event_stream_attached", "status_update_event", "status_update_event"]
    assert [e.get("taskStatus") for e in events[1:]] == ["TASK_FAILED", "TASK_RUNNING"]


def test_events_stop_when_told(fake: FakeMarathon, marathon: Marathon) -> None:
    fake.events = sse(*({"eventType": "deployment_success", "id": f"d-{n}"} for n in range(5)))
    stop = threading.Event()
    seen: list[str] = []

    for event in listen(marathon, stop):
        seen.append(event["id"])
        stop.set()

    assert seen == ["d-0"]
    assert list(listen(marathon, stop)) == []  # already set: not even the first event


@pytest.mark.parametrize("trouble", ["404", "connection", "timeout"])
def test_events_end_quietly_when_there_is_no_stream(
        fake: FakeMarathon, marathon: Marathon, trouble: str) -> None:
    if trouble == "connection":
        fake.refuse = requests.ConnectionError("refused")
    elif trouble == "timeout":
        fake.refuse = requests.ReadTimeout("silent for 30 s")
    assert list(listen(marathon)) == []


# Marathon 1.10.26's own texts (Exception.scala TooManyRunningDeploymentsException;
# InstanceTrackerDelegate.scala's TimeoutException), answered as 403 and 503 with
# {"message": ...} by MarathonExceptionMapper.scala.
TOO_MANY = ("Max number (1) of running deployments is achieved. Wait for existing deployments "
            "to complete or cancel oneusing force=true parameter. You can increase max "
            "deployment number by using --max_running_deployments parameter but be advised "
            "that this can have negative effects on the performance.")
TIMED_OUT = ("timeout while calling instancesBySpec() (current value = 10000 millisecondsms.If "
             "you know what you are doing, you can adjust the timeout with "
             "--task_tracker_request_timeout.")  # the FiniteDuration printed, then "ms."


def test_403_for_too_many_deployments_says_so(fake: FakeMarathon, marathon: Marathon) -> None:
    fake.script("POST", "/v2/apps", (403, {"message": TOO_MANY}))

    with pytest.raises(MarathonError) as caught:
        marathon.submit(request_for(WEB))

    assert caught.value.message.endswith("refused POST /v2/apps: Max number (1) of running "
                                         "deployments is achieved (403)")
    assert "credentials" not in str(caught.value)
    assert "--max_running_deployments" in (caught.value.hint or "")


def test_503_from_an_internal_timeout_is_not_taken_for_a_missing_leader(
        fake: FakeMarathon, marathon: Marathon) -> None:
    fake.script("GET", "/v2/apps", (503, {"message": TIMED_OUT}))

    with pytest.raises(MarathonError) as caught:
        marathon.apps()

    assert type(caught.value) is MarathonError
    assert "timed out on GET /v2/apps (503): timeout while calling" in caught.value.message
    assert "no leader" not in caught.value.message


def test_an_app_marathon_0_11_tracks_no_task_of_has_no_tasks_yet(
        fake: FakeMarathon, marathon: Marathon) -> None:
    """0.11.1's AppTasksResource answers 404 "does not exist" for an app without tasks."""
    fake.script("GET", "/v2/apps/web/tasks", (404, {"message": "App '/web' does not exist"}))
    fake.script("GET", "/v2/apps/web", (200, {"app": {"id": "/web", "instances": 1}}))
    assert marathon.tasks("/web") == []

    fake.script("GET", "/v2/apps/gone/tasks", (404, {"message": "App '/gone' does not exist"}))
    fake.script("GET", "/v2/apps/gone", (404, {"message": "App '/gone' does not exist"}))
    with pytest.raises(MarathonError) as caught:
        marathon.tasks("/gone")
    assert caught.value.status == 404 and "App '/gone' does not exist" in caught.value.message
