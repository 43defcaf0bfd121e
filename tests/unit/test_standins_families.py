"""The test images of each real family carry that image's ENV, USER, entrypoint and command
(pinned from the real build files named in each Dockerfile, not from the files themselves),
and the real images' names go only onto a test engine. No Docker."""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from test_standins_build import load_build

IMAGES = Path(__file__).resolve().parents[1] / "standins" / "images"


def instructions(name: str) -> dict[str, object]:
    """A Dockerfile's ENV (both forms), USER, ENTRYPOINT and CMD (JSON forms)."""
    found: dict[str, object] = {"ENV": {}}
    env: dict[str, str] = {}
    for line in (IMAGES / name / "Dockerfile").read_text().replace("\\\n", " ").splitlines():
        word, _, rest = line.partition(" ")
        if word == "ENV":
            words = shlex.split(rest)
            if "=" in words[0]:
                env.update(w.partition("=")[::2] for w in words)
            else:
                env[words[0]] = " ".join(words[1:])
        elif word in ("ENTRYPOINT", "CMD"):
            found[word] = json.loads(rest)
        elif word == "USER":
            found[word] = rest.strip()
    found["ENV"] = env
    return found


def mesos_env(name: str) -> dict[str, str]:
    env = instructions(name)["ENV"]
    assert isinstance(env, dict)
    return {k: v for k, v in env.items() if k.startswith("MESOS_")}


def test_the_mesoscloud_agent() -> None:
    image = instructions("mesos-slave-mesoscloud")
    assert mesos_env("mesos-slave-mesoscloud") == {
        "MESOS_WORK_DIR": "/tmp/mesos", "MESOS_CONTAINERIZERS": "docker,mesos",
        "MESOS_EXECUTOR_REGISTRATION_TIMEOUT": "5mins"}
    env = image["ENV"]
    assert isinstance(env, dict)
    assert (env["STANDIN_GENERATION"], env["STANDIN_DOCKER_API"]) == ("legacy", "1.20")
    assert (image["ENTRYPOINT"], image["CMD"]) == (["/entrypoint.sh"], ["/usr/sbin/mesos-slave"])
    assert "USER" not in image


def test_the_mesosphere_agent() -> None:
    image = instructions("mesos-slave-mesosphere")
    assert mesos_env("mesos-slave-mesosphere") == {}  # so `mesos` containerizers, no work dir
    env = image["ENV"]
    assert isinstance(env, dict)
    assert (env["STANDIN_GENERATION"], env["STANDIN_DOCKER_API"]) == ("modern", "1.29")
    assert image["ENTRYPOINT"] == ["mesos-slave"] and "CMD" not in image
    assert "USER" not in image


def test_the_masters() -> None:
    mesoscloud, mesosphere = (instructions(f"mesos-master-{f}")
                              for f in ("mesoscloud", "mesosphere"))
    assert mesos_env("mesos-master-mesoscloud") == {"MESOS_WORK_DIR": "/tmp/mesos"}
    assert (mesoscloud["ENTRYPOINT"], mesoscloud["CMD"]) == (["/entrypoint.sh"],
                                                             ["/usr/sbin/mesos-master"])
    assert mesos_env("mesos-master-mesosphere") == {}
    assert (mesosphere["ENTRYPOINT"], mesosphere["CMD"]) == (["mesos-master"],
                                                             ["--registry=in_memory"])


def test_the_marathons() -> None:
    legacy, modern = instructions("marathon-0.11"), instructions("marathon-1.11")
    assert "USER" not in legacy and legacy["ENTRYPOINT"] == ["./bin/start"]
    assert modern["USER"] == "nobody"
    assert (modern["ENTRYPOINT"], modern["CMD"]) == (["/marathon/bin/marathon"], [])


def test_only_the_generic_agent_takes_its_cgroups_as_writable() -> None:
    generic = instructions("mesos-slave")["ENV"]
    assert isinstance(generic, dict) and generic["STANDIN_ASSUME_WRITABLE_CGROUPS"] == "1"
    for family in ("mesos-slave-mesoscloud", "mesos-slave-mesosphere"):
        env = instructions(family)["ENV"]
        assert isinstance(env, dict) and "STANDIN_ASSUME_WRITABLE_CGROUPS" not in env


def test_every_image_is_built_with_what_it_runs() -> None:
    build = load_build()
    names = {image.name for image in build.IMAGES}
    assert names == {p.name for p in IMAGES.iterdir() if (p / "Dockerfile").is_file()}
    for image in build.IMAGES:
        if image.name.startswith("mesos-slave"):
            assert "agent_rules.py" in image.extra_files, image.name
    assert set(build.REAL_NAMES) == {
        "zookeeper:3.9.3", "mesosphere/mesos-master:1.7.1", "mesosphere/mesos-slave:1.7.1",
        "mesosphere/marathon:v1.11.24", "mesoscloud/zookeeper:3.4.6-ubuntu-14.04",
        "mesoscloud/mesos-master:0.23.0-ubuntu-14.04",
        "mesoscloud/mesos-slave:0.23.0-ubuntu-14.04", "mesosphere/marathon:v0.11.1"}
    assert set(build.REAL_NAMES.values()) <= names


@pytest.mark.parametrize(("host", "says"), [
    (None, "needs --docker-host"),
    ("unix:///var/run/docker.sock", "is the machine's main engine"),
    ("unix:///run/docker.sock", "is the machine's main engine"),
    ("tcp://127.0.0.1:2375", "only a local unix socket"),
])
def test_the_real_names_never_go_to_the_main_engine(host: str | None, says: str) -> None:
    with pytest.raises(SystemExit) as refused:
        load_build().test_engine(host)
    assert says in str(refused.value)


def test_an_unknown_real_name_is_refused() -> None:
    build = load_build()
    with pytest.raises(SystemExit, match="no test image stands in for busybox:latest"):
        build.real_names(["zookeeper:3.9.3", "busybox:latest"])
    assert build.real_names([]) == list(build.REAL_NAMES)


SCRIPTS = [IMAGES / "mesos-slave-mesoscloud" / "entrypoint.sh",
           IMAGES / "mesos-master-mesoscloud" / "entrypoint.sh",
           *(IMAGES / f for f in ("mesos-slave-mesoscloud/mesos-slave",
                                  "mesos-slave-mesosphere/mesos-slave",
                                  "mesos-master-mesoscloud/mesos-master",
                                  "mesos-master-mesosphere/mesos-master",
                                  "marathon-0.11/start", "marathon-1.11/marathon"))]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_scripts_are_shellcheck_clean_and_executable(
        script: Path, need_tool: Callable[[str], str]) -> None:
    result = subprocess.run([need_tool("shellcheck"), str(script)], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout
    assert script.stat().st_mode & 0o111


def test_without_a_secret_the_entrypoints_run_their_command_as_given() -> None:
    for script in SCRIPTS[:2]:
        ran = subprocess.run(["sh", str(script), "sh", "-c", 'echo "$0 ${MESOS_CREDENTIAL-}'
                              '${MESOS_CREDENTIALS-}${MESOS_AUTHENTICATE-}"', "given"],
                             capture_output=True, text=True, check=True,
                             env={"PATH": "/usr/bin:/bin"})
        assert ran.stdout == "given \n"
