"""Deploying a group file with relative ids (the id structure of Marathon's examples/Group.json)
twice, with a change, against the Marathon stand-in of each generation: one copy of each app,
the change applied, and the app ids `deploy` follows those Marathon has.

The client talks to the stand-in in-process: a requests transport hands each request to its
`handle`, over an in-memory ZooKeeper; no sockets, no Docker."""

from __future__ import annotations

import io
import json
import sys
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from test_marathon_client import URL, FakeMarathon, connect
from test_standins_group_ids import FIRST, department
from test_standins_shapes import elected

from mesostack.apps import parse_text
from mesostack.marathon import Marathon, MarathonError, Submitted


class StandinTransport(BaseAdapter):
    """requests' transport to a stand-in's `handle`, recording each request's method, path
    and JSON body."""

    def __init__(self, marathon: Any) -> None:
        super().__init__()
        self.marathon = marathon
        self.calls: list[tuple[str, str, Any]] = []

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        split = urlsplit(request.url or "")
        raw = request.body or b""
        raw = raw.encode() if isinstance(raw, str) else raw
        values = parse_qs(split.query, keep_blank_values=True)
        method, path = str(request.method), unquote(split.path)
        self.calls.append((method, path, json.loads(raw) if raw else None))
        common = sys.modules["common"]
        answer = self.marathon.handle(common.Request(
            method, path, {k: v[-1] for k, v in values.items()}, raw,
            {k.lower(): v for k, v in request.headers.items()}, values))
        body = answer.body
        if not isinstance(body, bytes):
            body = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        response = requests.Response()
        response.status_code, response.request = answer.status, request
        response.url = split.geturl()
        response.headers = CaseInsensitiveDict(answer.headers)
        response._content = body
        cast(Any, response)._content_consumed = True  # requests' own, not in its stubs
        response.raw = io.BytesIO(body)
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


@pytest.fixture(params=["legacy", "modern"])
def standin(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    return elected(monkeypatch, request.param)


def client_of(standin: Any) -> tuple[Marathon, StandinTransport]:
    transport = StandinTransport(standin)
    client = Marathon(URL)
    client.session.mount("http://", transport)
    return client, transport


def deploy(client: Marathon, standin: Any, group: dict[str, Any]) -> Submitted:
    """What `mesostack deploy group.json` submits, its deployment then done."""
    (request,) = parse_text(json.dumps(group), source="group.json").requests
    done = client.submit(request)
    standin.deployments.clear()
    return done


def test_a_relative_group_deployed_twice_leaves_one_copy_of_each_app_changed(
        standin: Any) -> None:
    client, _ = client_of(standin)
    first = deploy(client, standin, department("sleep 100"))
    assert first.created and set(first.app_ids) == set(standin.apps) == FIRST

    second = deploy(client, standin, department("sleep 200"))

    assert not second.created
    assert set(standin.apps) == FIRST  # 0.11 made a nested copy of every app here
    assert {a: app["cmd"] for a, app in standin.apps.items()} == dict.fromkeys(FIRST, "sleep 200")
    assert set(second.app_ids) == set(standin.apps)  # deploy follows the apps Marathon has


def test_the_put_names_the_group_the_post_created(standin: Any) -> None:
    """The 409's PUT goes to the group's path with a body whose ids are all absolute, so
    Marathon resolves nothing against the URL a second time."""
    client, transport = client_of(standin)
    deploy(client, standin, department())
    deploy(client, standin, department("sleep 200"))
    method, path, body = transport.calls[-1]
    assert (method, path, body["id"]) == ("PUT", "/v2/groups/department-a", "/department-a")
    assert [g["id"] for g in body["groups"]] == ["/department-a/product-a"]
    assert [a["id"] for a in body["groups"][0]["apps"]] == [
        "/department-a/product-a/service-a", "/department-a/product-a/service-b"]


def test_dependencies_mean_what_they_mean_when_the_file_is_posted_as_it_is(
        standin: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Relative dependencies are sent as written: each Marathon reads them as it does the file
    itself (an app's against its own id in 0.11, against its group in 1.x)."""
    client, _ = client_of(standin)
    deploy(client, standin, department())
    deploy(client, standin, department("sleep 200"))
    direct = elected(monkeypatch, standin.generation)
    assert direct.handle(sys.modules["common"].Request(
        "POST", "/v2/groups", {}, json.dumps(department()).encode(), {})).status == 201
    assert {a: app["dependencies"] for a, app in standin.apps.items()} == {
        a: app["dependencies"] for a, app in direct.apps.items()}
    assert standin.groups == direct.groups


def test_a_group_where_an_app_is_is_not_put_over_it() -> None:
    """1.10.26 answers a POST whose group path is an app's with 409 "An app with the path /x
    already exists." (GroupsResource l.177): a PUT would not fix that; say so."""
    fake = FakeMarathon()
    fake.script("POST", "/v2/groups",
                (409, {"message": "An app with the path /department-a already exists."}))
    client = connect(fake)
    (request,) = parse_text(json.dumps(department()), source="group.json").requests

    with pytest.raises(MarathonError) as caught:
        client.submit(request)

    assert [c.method for c in fake.calls] == ["POST"]
    assert caught.value.message == ("group.json: Marathon has an app /department-a where the "
                                    "group would go (409: An app with the path /department-a "
                                    "already exists.)")
