"""Masking secrets: by variable and key names, by known values anywhere, in URLs' user info."""

from __future__ import annotations

import base64
import json

from mesostack.config import MASK, is_secret
from mesostack.masking import (
    expand,
    find_secrets,
    mask_document,
    mask_env,
    mask_text,
    secret_values,
)

CREDENTIALS = "admin:s3cret-pw"


def test_the_issues_patterns_are_secret_names() -> None:
    for name in ("MARATHON_HTTP_CREDENTIALS", "DB_PASSWORD", "password", "API_SECRET",
                 "FOO_TOKEN", "token", "MESOS_CREDENTIAL", "aws_secret_access_key"):
        assert is_secret(name), name
    for name in ("MESOS_ZK", "MARATHON_MASTER", "PATH", "HOME"):
        assert not is_secret(name), name


def test_env_is_masked_by_name() -> None:
    env = {"MARATHON_HTTP_CREDENTIALS": CREDENTIALS, "DB_PASSWORD": "hunter22",
           "MARATHON_ZK": "zk://127.0.0.1:2181/marathon", "EMPTY_TOKEN": ""}
    assert mask_env(env) == {"MARATHON_HTTP_CREDENTIALS": MASK, "DB_PASSWORD": MASK,
                             "MARATHON_ZK": "zk://127.0.0.1:2181/marathon", "EMPTY_TOKEN": ""}


def test_credentials_expand_to_the_forms_they_are_seen_in() -> None:
    forms = expand(CREDENTIALS)
    assert {CREDENTIALS, "s3cret-pw", base64.b64encode(CREDENTIALS.encode()).decode()} <= forms
    assert expand('a"b/c') >= {'a"b/c', 'a\\"b/c'}  # as it appears inside JSON text
    assert expand("") == set()
    assert secret_values({"FOO_TOKEN": "t0ken-value", "HOME": "/root"}) == {"t0ken-value"}


def test_known_values_are_masked_anywhere_in_text() -> None:
    log = ("I1126 04:00:00 Marathon starting with --http_credentials admin:s3cret-pw\n"
           "Authorization: Basic " + base64.b64encode(CREDENTIALS.encode()).decode() + "\n"
           "password is s3cret-pw, again s3cret-pw\n")
    masked = mask_text(log, expand(CREDENTIALS))
    assert "s3cret-pw" not in masked
    assert base64.b64encode(CREDENTIALS.encode()).decode() not in masked
    assert masked.count(MASK) == 4
    assert masked.startswith("I1126 04:00:00 Marathon starting with --http_credentials ***\n")


def test_named_assignments_are_masked_without_knowing_the_value() -> None:
    text = ('MARATHON_HTTP_CREDENTIALS=joe:pw1 DB_PASSWORD: letmein --api_token=abc '
            '{"client_secret": "xyz"} MESOS_ZK=zk://127.0.0.1:2181/mesos')
    masked = mask_text(text)
    for value in ("joe:pw1", "letmein", "abc", "xyz"):
        assert value not in masked
    assert "MESOS_ZK=zk://127.0.0.1:2181/mesos" in masked
    assert mask_text(masked) == masked  # masking again changes nothing


def test_urls_lose_their_passwords_but_keep_the_rest() -> None:
    text = "fetching https://bob:tops3cret@registry.example/v2/ and zk://127.0.0.1:2181/mesos"
    assert mask_text(text) == ("fetching https://bob:***@registry.example/v2/ and "
                               "zk://127.0.0.1:2181/mesos")
    assert mask_text("slave(1)@127.0.0.1:5051 master@127.0.0.1:5050") == (
        "slave(1)@127.0.0.1:5051 master@127.0.0.1:5050")


def test_short_and_boolean_values_are_not_replaced_everywhere() -> None:
    text = "1 true 12 abc"
    assert mask_text(text, {"1", "true", "12", "abc"}) == text
    assert mask_text("SOME_TOKEN=1 x", {"1"}) == "SOME_TOKEN=*** x"  # but by name, yes


def test_json_documents_are_masked_structurally() -> None:
    inspect = {
        "Config": {"Env": ["MARATHON_HTTP_CREDENTIALS=" + CREDENTIALS, "DB_PASSWORD=two words",
                           "MESOS_IP=127.0.0.1"],
                   "Cmd": ["--http_credentials", CREDENTIALS]},
        "flags": {"http_credentials": CREDENTIALS, "zk": "zk://127.0.0.1:2181/mesos",
                  "credentials": {"principal": "p", "secret": "s"}},
        "environment": {"variables": [{"name": "FOO_TOKEN", "value": "tok-123"},
                                      {"name": "PLAIN", "value": "visible"}]},
        "parameters": [{"key": "env", "value": "x"}],
        "count": 3,
    }
    secrets = find_secrets(inspect)
    assert {CREDENTIALS, "s3cret-pw", "two words", "tok-123", "p", "s"} <= secrets
    masked = mask_document(inspect, secrets)
    assert masked["Config"]["Env"] == ["MARATHON_HTTP_CREDENTIALS=***", "DB_PASSWORD=***",
                                       "MESOS_IP=127.0.0.1"]
    assert masked["Config"]["Cmd"] == ["--http_credentials", MASK]
    assert masked["flags"] == {"http_credentials": MASK, "zk": "zk://127.0.0.1:2181/mesos",
                               "credentials": {"principal": MASK, "secret": MASK}}
    assert masked["environment"]["variables"] == [{"name": "FOO_TOKEN", "value": MASK},
                                                  {"name": "PLAIN", "value": "visible"}]
    assert masked["parameters"] == [{"key": "env", "value": "x"}]
    assert masked["count"] == 3
    text = json.dumps(masked)
    for value in (CREDENTIALS, "s3cret-pw", "two words", "tok-123"):
        assert value not in text


def test_a_secret_found_in_one_document_is_masked_in_another() -> None:
    apps = {"apps": [{"id": "/db", "env": {"DB_PASSWORD": "hunter2-long"}}]}
    log = "task /db started with hunter2-long in its environment"
    assert "hunter2-long" not in mask_text(log, find_secrets(apps))


def test_an_id_used_as_a_key_is_not_a_secrets_name() -> None:
    """A map keyed by app ids (`/db-secrets`): the id names no secret, so neither it nor what
    it holds is masked everywhere; a field named like a secret still is."""
    from mesostack.masking import find_secrets, mask_document

    versions = {"/db-secrets": {"id": "/db-secrets", "version": "2026-12-01T12:36:22.527Z"},
                "apps": [{"id": "/db-secrets", "env": {"DB_PASSWORD": "hunter2-db"}}]}
    assert find_secrets(versions) == {"hunter2-db"}
    masked = mask_document(versions, find_secrets(versions))
    assert masked["/db-secrets"]["id"] == "/db-secrets"
    assert masked["apps"][0]["env"]["DB_PASSWORD"] == "***"
