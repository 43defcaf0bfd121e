"""The registry's layer sizes for a pull's true total: a fake registry on 127.0.0.1 answers, and
whatever goes wrong gives None (the pull goes on with the total it sees grow)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from fakeregistry import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_MANIFEST,
    SERVICE,
    FakeRegistry,
    digest,
    index,
    manifest,
    running,
)

from mesostack import registry
from mesostack.registry import Location, Platform, layer_sizes, locate

AMD64 = Platform("linux", "amd64")
SIZES = {digest("a"): 30_000_000, digest("b"): 200_000_000, digest("c"): 80_000_000}
NO_CONFIG: dict[str, Any] = {}


@pytest.fixture
def fake() -> Iterator[FakeRegistry]:
    with running(FakeRegistry()) as served:
        yield served


def auths(server: str, user: str, password: str) -> dict[str, Any]:
    login = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"auths": {server: {"auth": login}}}


@pytest.mark.parametrize(("ref", "where"), [
    ("zookeeper", Location("https://registry-1.docker.io", "library/zookeeper", "latest",
                           "docker.io")),
    ("docker.io/mesosphere/marathon:v1.10.26",
     Location("https://registry-1.docker.io", "mesosphere/marathon", "v1.10.26", "docker.io")),
    ("index.docker.io/library/ubuntu:22.04",
     Location("https://registry-1.docker.io", "library/ubuntu", "22.04", "docker.io")),
    (f"mesosphere/mesos-master@{digest('d')}",
     Location("https://registry-1.docker.io", "mesosphere/mesos-master", digest("d"),
              "docker.io")),
    ("127.0.0.1:5000/team/app:1.0", Location("http://127.0.0.1:5000", "team/app", "1.0",
                                             "127.0.0.1:5000")),
    ("localhost:5000/app", Location("http://localhost:5000", "app", "latest", "localhost:5000")),
    ("[::1]:5000/app:2", Location("http://[::1]:5000", "app", "2", "[::1]:5000")),
    ("registry.example.com:5000/team/app:1",
     Location("https://registry.example.com:5000", "team/app", "1", "registry.example.com:5000")),
    ("quay.io/team/app:1", Location("https://quay.io", "team/app", "1", "quay.io")),
])
def test_a_reference_names_its_registry_the_way_docker_reads_it(ref: str, where: Location
                                                                ) -> None:
    assert locate(ref) == where


@pytest.mark.parametrize(("os_type", "machine", "platform"), [
    ("linux", "x86_64", Platform("linux", "amd64")),
    ("linux", "aarch64", Platform("linux", "arm64", "v8")),
    ("linux", "armv7l", Platform("linux", "arm", "v7")),
    ("", "s390x", Platform("linux", "s390x")),
])
def test_the_engine_s_platform_in_the_registry_s_names(os_type: str, machine: str,
                                                       platform: Platform) -> None:
    assert Platform.of_engine(os_type, machine) == platform


def test_a_plain_manifest_s_layers_and_what_was_asked_for(fake: FakeRegistry) -> None:
    fake.serve("team/app", "1.0", manifest(SIZES))
    assert layer_sizes(f"{fake.host}/team/app:1.0", AMD64, config=NO_CONFIG) == SIZES
    [(path, headers)] = fake.asked
    assert path == "/v2/team/app/manifests/1.0"
    assert {kind.strip() for kind in headers["Accept"].split(",")} == {
        "application/vnd.oci.image.index.v1+json", DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST}
    assert "Authorization" not in headers


def test_an_oci_manifest_served_as_json_is_read_by_its_own_media_type(fake: FakeRegistry
                                                                      ) -> None:
    fake.serve("app", "1", manifest(SIZES, OCI_MANIFEST), kind="application/json")
    assert layer_sizes(f"{fake.host}/app:1", AMD64, config=NO_CONFIG) == SIZES


ARM64 = {digest("1"): 11, digest("2"): 22}
AMD = {digest("3"): 33, digest("4"): 44, digest("5"): 55}
ARM_V7 = {digest("6"): 66}


@pytest.mark.parametrize("kind", ["application/vnd.oci.image.index.v1+json", DOCKER_LIST])
@pytest.mark.parametrize(("machine", "sizes"), [("x86_64", AMD), ("aarch64", ARM64),
                                                ("armv7l", ARM_V7)])
def test_an_index_gives_the_layers_of_the_engine_s_own_platform(
        fake: FakeRegistry, kind: str, machine: str, sizes: dict[str, int]) -> None:
    fake.serve("team/app", "1.0", index({
        digest("7"): {"os": "linux", "architecture": "arm", "variant": "v6"},
        digest("8"): {"os": "linux", "architecture": "arm", "variant": "v7"},
        digest("9"): {"os": "windows", "architecture": "amd64"},
        digest("e"): {"os": "linux", "architecture": "arm64", "variant": "v8"},
        digest("d"): {"os": "linux", "architecture": "amd64"},
        digest("0"): {"os": "unknown", "architecture": "unknown"},  # an attestation
    }, kind))
    for entry, layers in ((digest("d"), AMD), (digest("e"), ARM64), (digest("8"), ARM_V7),
                          (digest("7"), {digest("b"): 1}), (digest("9"), {digest("c"): 2})):
        fake.serve("team/app", entry, manifest(layers, OCI_MANIFEST))
    platform = Platform.of_engine("linux", machine)
    assert layer_sizes(f"{fake.host}/team/app:1.0", platform, config=NO_CONFIG) == sizes


def test_an_arm64_entry_that_names_no_variant_is_the_arm64_engine_s(fake: FakeRegistry) -> None:
    fake.serve("app", "1", index({digest("d"): {"os": "linux", "architecture": "amd64"},
                                  digest("e"): {"os": "linux", "architecture": "arm64"}}))
    fake.serve("app", digest("e"), manifest(ARM64))
    assert layer_sizes(f"{fake.host}/app:1", Platform.of_engine("linux", "aarch64"),
                       config=NO_CONFIG) == ARM64


def test_docker_hub_s_bearer_token_flow_anonymously(fake: FakeRegistry) -> None:
    fake.token = "anonymous-pull"
    fake.serve("team/app", "1.0", manifest(SIZES))
    assert layer_sizes(f"{fake.host}/team/app:1.0", AMD64, config=NO_CONFIG) == SIZES
    assert fake.paths() == [
        "/v2/team/app/manifests/1.0",
        f"/token?scope=repository%3Ateam%2Fapp%3Apull&service={SERVICE}",
        "/v2/team/app/manifests/1.0"]
    assert fake.asked[-1][1]["Authorization"] == "Bearer anonymous-pull"
    assert "Authorization" not in fake.asked[1][1]


def test_the_token_comes_with_the_client_config_s_login_and_serves_the_index_too(
        fake: FakeRegistry) -> None:
    fake.token, fake.login = "private-pull", ("ci", "s3cret:x")
    fake.serve("team/app", "1.0", index({digest("d"): {"os": "linux", "architecture": "amd64"}}))
    fake.serve("team/app", digest("d"), manifest(SIZES))
    config = auths(f"http://{fake.host}/v1/", "ci", "s3cret:x")
    assert layer_sizes(f"{fake.host}/team/app:1.0", AMD64, config=config) == SIZES
    assert [p.split("?")[0] for p in fake.paths()] == [
        "/v2/team/app/manifests/1.0", "/token", "/v2/team/app/manifests/1.0",
        f"/v2/team/app/manifests/{digest('d')}"]  # one token for both


def test_a_wrong_login_gives_no_sizes(fake: FakeRegistry) -> None:
    fake.token, fake.login = "private-pull", ("ci", "right")
    fake.serve("team/app", "1.0", manifest(SIZES))
    assert layer_sizes(f"{fake.host}/team/app:1.0", AMD64,
                       config=auths(fake.host, "ci", "wrong")) is None


def test_the_login_is_found_under_any_name_docker_gave_the_registry() -> None:
    assert registry.credentials("docker.io", auths("https://index.docker.io/v1/", "u", "p")) == (
        "u", "p")
    assert registry.credentials("quay.io", auths("quay.io", "q", "")) == ("q", "")
    assert registry.credentials("quay.io", auths("https://index.docker.io/v1/", "u", "p")) is None
    assert registry.credentials("quay.io", {"auths": {"quay.io": {"auth": "%%%"}}}) is None
    assert registry.credentials("quay.io", {"credsStore": "desktop",
                                            "auths": {"quay.io": {}}}) is None


@pytest.mark.parametrize("body", [
    b"<html>not found</html>",
    b'["a", "list"]',
    b'{"schemaVersion": 1, "name": "app", "fsLayers": [{"blobSum": "sha256:aa"}]}',
    b'{"schemaVersion": 2, "mediaType": "%s", "layers": [{"digest": "x"}]}' % (
        DOCKER_MANIFEST.encode()),
], ids=["garbage", "not-an-object", "schema1", "no-size"])
def test_what_is_not_a_known_manifest_gives_no_sizes(fake: FakeRegistry, body: bytes) -> None:
    fake.serve("app", "1", body, kind="")
    assert layer_sizes(f"{fake.host}/app:1", AMD64, config=NO_CONFIG) is None


def test_an_unknown_tag_an_index_without_the_platform_or_a_closed_port_give_no_sizes(
        fake: FakeRegistry) -> None:
    assert layer_sizes(f"{fake.host}/app:missing", AMD64, config=NO_CONFIG) is None
    fake.serve("app", "arm", index({digest("e"): {"os": "linux", "architecture": "arm64"}}))
    assert layer_sizes(f"{fake.host}/app:arm", AMD64, config=NO_CONFIG) is None
    closed = fake.host.rsplit(":", 1)[0] + ":1"
    assert layer_sizes(f"{closed}/app:1", AMD64, config=NO_CONFIG) is None


class Unanswered(requests.Session):
    """A session whose every request times out (as a registry that never answers)."""

    def __init__(self) -> None:
        super().__init__()
        self.timeouts: list[object] = []

    def get(self, url: str | bytes, **kwargs: Any) -> requests.Response:
        self.timeouts.append(kwargs.get("timeout"))
        raise requests.ReadTimeout(f"{url!r}: read timed out")


def test_a_registry_that_does_not_answer_in_time_gives_no_sizes() -> None:
    session = Unanswered()
    assert layer_sizes("mesosphere/marathon:v1.10.26", AMD64, session=session,
                       config=NO_CONFIG) is None
    [timeout] = session.timeouts
    assert isinstance(timeout, tuple) and max(timeout) <= 5  # short: it is only a nicety


def test_a_loopback_registry_is_not_asked_for_an_engine_elsewhere(fake: FakeRegistry) -> None:
    fake.serve("app", "1", manifest(SIZES))
    assert layer_sizes(f"{fake.host}/app:1", AMD64, config=NO_CONFIG, engine_local=False) is None
    assert fake.asked == []
