"""Marathon's credentials: one reading of `user:password`, one order of where they come from."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesostack import credentials, masking, probes
from mesostack.bundle import Stack, marathon_credentials
from mesostack.cli._common import Options
from mesostack.config import LoadedConfig, StackConfig
from mesostack.credentials import CLIENT_VAR, SERVER_VAR, Credentials, for_marathon
from mesostack.errors import InputError
from mesostack.plan import build
from mesostack.runtime import ContainerInfo

RUNNING = {SERVER_VAR: "admin:running"}
FILE = {SERVER_VAR: "admin:file"}


@pytest.mark.parametrize(("text", "pair"), [
    ("u:p", ("u", "p")), ("u:a:b:c", ("u", "a:b:c")), ("u:", ("u", "")),
    (":p", None), ("nocolon", None), ("", None), (None, None),
])
def test_user_colon_password_is_read_one_way(text: str | None,
                                             pair: tuple[str, str] | None) -> None:
    found = credentials.split(text)
    assert (None if found is None else (found.user, found.password)) == pair
    http = probes.Http.with_credentials(text)  # Marathon's probes read it the same way
    assert http.session.auth == pair
    if pair is None:
        with pytest.raises(InputError, match="user:password"):
            Credentials.parse(text or "")
    else:
        assert Credentials.parse(text or "") == found


def test_masking_knows_a_pairs_password_alone() -> None:
    assert "s3cret-pw" in masking.expand("admin:s3cret-pw")
    assert masking.expand(":s3cret-pw") == {":s3cret-pw"}  # not a pair: the value as a whole


@pytest.mark.parametrize(("given", "environ", "own", "chosen"), [
    pytest.param("me:given", {CLIENT_VAR: "me:env"}, [RUNNING, FILE], "me:given",
                 id="--credentials first"),
    pytest.param(None, {CLIENT_VAR: "me:env"}, [RUNNING, FILE], "me:env",
                 id="then $MARATHON_CREDENTIALS"),
    pytest.param(None, {}, [RUNNING, FILE], "admin:running", id="then the running Marathon's"),
    pytest.param(None, {}, [{}, FILE], "admin:file", id="then the stack file's"),
    pytest.param("", {CLIENT_VAR: ""}, [{SERVER_VAR: ""}, FILE], "admin:file",
                 id="empty counts as none"),
    pytest.param(None, {}, None, None, id="another Marathon gets none of the stack's"),
    pytest.param(None, {CLIENT_VAR: "me:env"}, None, "me:env",
                 id="another Marathon gets the user's"),
])
def test_the_lookup_order(given: str | None, environ: dict[str, str],
                          own: list[dict[str, str]] | None, chosen: str | None) -> None:
    assert for_marathon(given, own=own, environ=environ) == chosen


@pytest.fixture
def stack_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Options:
    monkeypatch.delenv(CLIENT_VAR, raising=False)
    path = tmp_path / "stack.yaml"
    path.write_text(f"host_ip: 127.0.0.1\nmarathon:\n  env:\n    {SERVER_VAR}: admin:file\n")
    return Options(str(path))


@pytest.mark.parametrize(("explicit", "given", "auth"), [
    (None, None, ("admin", "file")),  # the stack's own Marathon
    (None, "me:given", ("me", "given")),
    ("http://10.9.9.9:8080", None, None),  # never the stack's credentials to another URL
    ("http://10.9.9.9:8080", "me:given", ("me", "given")),
])
def test_the_apps_commands_send_the_stacks_credentials_to_its_marathon_only(
        stack_file: Options, explicit: str | None, given: str | None,
        auth: tuple[str, str] | None) -> None:
    stack = stack_file.stack(marathon_url=explicit, credentials=given)
    assert stack.marathon_client().session.auth == auth


def test_the_bundle_asks_in_the_same_order(monkeypatch: pytest.MonkeyPatch) -> None:
    config = StackConfig.model_validate({"host_ip": "127.0.0.1", "marathon": {"env": FILE}})
    marathon = ContainerInfo("id", "mesostack-marathon", "running", "img", "sha",
                             {"io.mesostack.role": "marathon"}, 0, "", 0, env=RUNNING)
    stack = Stack(LoadedConfig(config, None), build(config, "127.0.0.1"), containers=[marathon])
    monkeypatch.delenv(CLIENT_VAR, raising=False)
    assert marathon_credentials(stack) == "admin:running"
    assert marathon_credentials(Stack(stack.loaded, stack.plan)) == "admin:file"
    monkeypatch.setenv(CLIENT_VAR, "me:env")
    assert marathon_credentials(stack) == "me:env"
