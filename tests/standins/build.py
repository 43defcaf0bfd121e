#!/usr/bin/env python3
"""The test bed's image factory: builds every test image from no registry, prints the tags.

A Debian root filesystem comes from ``mmdebstrap`` (the machine's own apt sources, every package
in ``--include``: an engine without a bridge gives builds no network), is ``docker import``-ed as
a base, and each test image is a COPY-only Dockerfile on top. There is one base per Debian
suite: the machine's own for the stand-ins, and older or newer suites for images that need
that suite's real packages (their sources are the machine's, with its codename swapped). Tags
are a hash of the build inputs, so an unchanged rebuild is a no-op; each image is also tagged
``:testbed`` (the name ``examples/testbed.yaml`` uses) and both tags are pushed to the local
registry. Every build context has an empty ``empty/`` folder, for a Dockerfile's
``COPY --chown=... empty/ /some/dir/`` to make an owned, empty directory.

Besides the generic stand-in images (either generation, chosen by STANDIN_GENERATION) there is
one image per real family, with that image's ENV, USER, entrypoint and command line
(`mesos-slave-mesoscloud`, `marathon-1.11`, ...). `--tag-real-names` gives those images the
real images' names (REAL_NAMES) on one test engine named by `--docker-host`, so a stack there
uses them without pulling; never on the machine's main engine, whose names users share.

Standard library only: it runs before the project's virtualenv exists.

    python3 tests/standins/build.py [--no-push] [--registry 127.0.0.1:5000]
    python3 tests/standins/build.py --tag-real-names [REAL_NAME ...] \
        --docker-host unix:///run/mesostack-test/docker26.sock
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REGISTRY = "127.0.0.1:5000"
STABLE_TAG = "testbed"

# Everything the machine's-suite images need, installed once into their shared base.
BASE_PACKAGES = (
    "python3",
    "python3-kazoo",  # the stand-ins' ZooKeeper client
    "procps",
)
APT_SOURCE_FILES = ("/etc/apt/sources.list", "/etc/apt/sources.list.d")
# Bump when the way the base is made changes in a way the inputs above do not show.
BASE_RECIPE = "minbase;no-recommends;no-docs;v2"
HOST_SUITE = ""  # the machine's own suite, read from /etc/os-release

# The official zookeeper image's user (uid and gid 1000), made before Debian's zookeeper package
# is unpacked, so that its postinst finds it and owns its directories by it.
ZOOKEEPER_USER_HOOK = (
    'echo "zookeeper:x:1000:" >> "$1/etc/group" && '
    'echo "zookeeper:x:1000:1000::/home/zookeeper:/bin/sh" >> "$1/etc/passwd"'
)


@dataclass(frozen=True)
class Stub:
    """An empty package made here that provides another, to keep a dependency out of a base."""

    package: str
    provides: str
    depends: str
    why: str

    def control(self) -> str:
        return (f"Package: {self.package}\nVersion: 1\nArchitecture: all\n"
                f"Maintainer: mesostack test bed <testbed@localhost>\n"
                f"Provides: {self.provides}\nDepends: {self.depends}\n"
                f"Description: {self.why}\n")


@dataclass(frozen=True)
class Suite:
    """A shared base: one Debian suite with every package its images need."""

    codename: str
    packages: tuple[str, ...]
    essential_hooks: tuple[str, ...] = ()  # run after the Essential set, before `packages`
    stubs: tuple[Stub, ...] = ()


# Debian 13's zookeeper depends on the full default-jre (GTK, Mesa, LLVM: ~300 MB more) where a
# server needs only the headless one.
HEADLESS_JRE = Stub("mesostack-testbed-jre", "default-jre", "default-jre-headless",
                    "the headless JRE standing in for default-jre on the test bed")

SUITES = {
    HOST_SUITE: Suite(HOST_SUITE, BASE_PACKAGES),
    # ZooKeeper 3.4.13 (Debian 11), for the mesoscloud/zookeeper-like image.
    "bullseye": Suite("bullseye", ("zookeeper", "default-jre-headless")),
    # ZooKeeper 3.9.3 (Debian 13), for the official zookeeper-like image: gosu drops to its
    # user as the real entrypoint does, nc answers `echo ruok | nc` as in the real image.
    "trixie": Suite("trixie", ("zookeeper", "default-jre-headless", "gosu", "netcat-openbsd"),
                    essential_hooks=(ZOOKEEPER_USER_HOOK,), stubs=(HEADLESS_JRE,)),
}


@dataclass(frozen=True)
class Image:
    """A test image: its folder under images/, extra files for its context, its base's suite."""

    name: str
    extra_files: tuple[str, ...] = ()
    suite: str = HOST_SUITE


MASTER_FILES = ("common.py", "master.py")
AGENT_FILES = ("common.py", "agent.py", "agent_rules.py")
MARATHON_FILES = ("common.py", "marathon.py", "marathon_api.py", "validation.py")

IMAGES = (
    Image("zookeeper-mesoscloud", suite="bullseye"),
    Image("zookeeper-official", suite="trixie"),
    Image("mesos-master", MASTER_FILES),
    Image("mesos-slave", AGENT_FILES),
    Image("marathon", MARATHON_FILES),
    Image("task"),
    # one per real family (see each Dockerfile for the build files it follows)
    Image("mesos-master-mesoscloud", MASTER_FILES),
    Image("mesos-master-mesosphere", MASTER_FILES),
    Image("mesos-slave-mesoscloud", AGENT_FILES),
    Image("mesos-slave-mesosphere", AGENT_FILES),
    Image("marathon-0.11", MARATHON_FILES),
    Image("marathon-1.11", MARATHON_FILES),
)

# The real images' names, each with the test image that stands in for it: the default stack's
# (official ZooKeeper 3.9, mesosphere Mesos 1.7.1, Marathon 1.11.24) and the tutorial's.
REAL_NAMES = {
    "zookeeper:3.9.3": "zookeeper-official",
    "mesosphere/mesos-master:1.7.1": "mesos-master-mesosphere",
    "mesosphere/mesos-slave:1.7.1": "mesos-slave-mesosphere",
    "mesosphere/marathon:v1.11.24": "marathon-1.11",
    "mesoscloud/zookeeper:3.4.6-ubuntu-14.04": "zookeeper-mesoscloud",
    "mesoscloud/mesos-master:0.23.0-ubuntu-14.04": "mesos-master-mesoscloud",
    "mesoscloud/mesos-slave:0.23.0-ubuntu-14.04": "mesos-slave-mesoscloud",
    "mesosphere/marathon:v0.11.1": "marathon-0.11",
}
# The machine's main engine, whose image names its users share: never given the real names.
MAIN_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")


def run(*cmd: str, capture: bool = False) -> str:
    """Run a command, failing the whole build with its output when it fails."""
    proc = subprocess.run(cmd, text=True, capture_output=capture, check=False)
    if proc.returncode != 0:
        detail = (proc.stderr or "").strip() if capture else ""
        sys.exit(f"build.py: `{' '.join(cmd)}` failed with exit {proc.returncode}. {detail}")
    return proc.stdout if capture else ""


def image_exists(ref: str) -> bool:
    return (
        subprocess.run(
            ["docker", "image", "inspect", ref], capture_output=True, check=False
        ).returncode
        == 0
    )


def digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()[:16]


def os_codename() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        key, _, value = line.partition("=")
        if key == "VERSION_CODENAME" and value:
            return value.strip('"')
    sys.exit("build.py: /etc/os-release names no VERSION_CODENAME; is this a Debian machine?")


def apt_sources() -> list[Path]:
    """The machine's own apt source files (mmdebstrap reads mirrors from them)."""
    found: list[Path] = []
    for entry in APT_SOURCE_FILES:
        path = Path(entry)
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found += sorted(
                p for p in path.iterdir() if p.suffix in (".list", ".sources") and p.is_file()
            )
    if not found:
        sys.exit("build.py: no apt sources found under /etc/apt; mmdebstrap needs one")
    return found


def _swapped(word: str, host: str, suite: str) -> str | None:
    """`bookworm-security` -> `trixie-security`; None for a suite not of the host's release."""
    if word == host or word.startswith(host + "-"):
        return suite + word[len(host):]
    return None


def _one_line_entry(line: str, host: str, suite: str) -> str | None:
    """`deb [opts] URI SUITE COMPONENTS...` for `suite`; None for a comment or another release."""
    fields = line.split()
    if fields[:1] not in (["deb"], ["deb-src"]):
        return None
    at = 1
    if len(fields) > 1 and fields[1].startswith("["):
        at = next((n for n, f in enumerate(fields) if f.endswith("]")), len(fields)) + 1
    at += 1  # past the URI
    new = _swapped(fields[at], host, suite) if len(fields) > at else None
    return None if new is None else " ".join([*fields[:at], new, *fields[at + 1:]])


def _deb822_stanza(stanza: str, host: str, suite: str) -> str | None:
    """A deb822 stanza whose `Suites:` name `suite`; None when none is of the host's release."""
    lines = stanza.strip().splitlines()
    for n, line in enumerate(lines):
        key, _, value = line.partition(":")
        names = [_swapped(w, host, suite) for w in value.split()]
        if key.strip().lower() == "suites" and any(names):
            lines[n] = "Suites: " + " ".join(w for w in names if w)
            return "\n".join(lines) + "\n"
    return None


def suite_sources(text: str, *, deb822: bool, host: str, suite: str) -> str:
    """An apt source file (deb822 or one-line) for `suite` from the machine's own: each entry
    for the host's codename (and its -updates, -security) names `suite` instead; entries for
    other releases (a vendor's repository) are dropped, as they have no such suite."""
    if deb822:
        stanzas = [_deb822_stanza(s, host, suite) for s in text.split("\n\n")]
        return "\n".join(s for s in stanzas if s)
    lines = [_one_line_entry(line, host, suite) for line in text.splitlines()]
    return "".join(line + "\n" for line in lines if line)


def mirror_files(suite: str, tmp: str) -> list[str]:
    """Source files for mmdebstrap: the machine's own, or copies of them for another suite."""
    host = os_codename()
    if suite in (HOST_SUITE, host):
        return [str(p) for p in apt_sources()]
    made = []
    for n, path in enumerate(apt_sources()):
        text = suite_sources(path.read_text(), deb822=path.suffix == ".sources",
                             host=host, suite=suite)
        if text.strip():
            made.append(os.path.join(tmp, f"{n}-{suite}{path.suffix}"))
            Path(made[-1]).write_text(text)
    if not made:
        sys.exit(f"build.py: no apt source under /etc/apt names {host}, to make {suite}'s from")
    return made


def base_tag(suite: Suite) -> str:
    codename = suite.codename or os_codename()
    parts = [codename.encode(), ",".join(sorted(suite.packages)).encode(), BASE_RECIPE.encode()]
    parts += [h.encode() for h in suite.essential_hooks]
    parts += [stub.control().encode() for stub in suite.stubs]
    return "mesostack-test/base:" + digest(*parts)


def stub_debs(suite: Suite, tmp: str) -> list[str]:
    """The suite's stub packages, built with dpkg-deb; mmdebstrap installs them by path."""
    made = []
    for stub in suite.stubs:
        root = Path(tmp) / stub.package
        (root / "DEBIAN").mkdir(parents=True)
        (root / "DEBIAN" / "control").write_text(stub.control())
        made.append(f"{root}.deb")
        run("dpkg-deb", "--root-owner-group", "--build", str(root), made[-1], capture=True)
    return made


def build_base(suite: Suite) -> str:
    tag = base_tag(suite)
    if image_exists(tag):
        return tag
    if shutil.which("mmdebstrap") is None:
        sys.exit("build.py: mmdebstrap is missing; install it with `apt-get install -y mmdebstrap`")
    codename = suite.codename or os_codename()
    with tempfile.TemporaryDirectory(prefix="mesostack-rootfs-") as tmp:
        rootfs = os.path.join(tmp, "rootfs.tar")
        print(f"building {tag} with mmdebstrap ({codename})", file=sys.stderr, flush=True)
        stubs = stub_debs(suite, tmp)
        run(
            "mmdebstrap",
            "--quiet",
            "--variant=minbase",
            "--aptopt=APT::Install-Recommends false",
            "--dpkgopt=path-exclude=/usr/share/doc/*",
            "--dpkgopt=path-exclude=/usr/share/locale/*",
            *(f"--essential-hook={hook}" for hook in suite.essential_hooks),
            # dpkg inside the root file system reads the stubs by their paths out here
            *(["--hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount"] if stubs else []),
            "--include=" + ",".join((*suite.packages, *stubs)),
            codename,
            rootfs,
            *mirror_files(suite.codename, tmp),
        )
        run("docker", "import", rootfs, tag, capture=True)  # its stdout: the image id
    return tag


def build_image(image: Image, *, base: str, registry: str) -> str:
    folder = HERE / "images" / image.name
    inputs = sorted(p for p in folder.rglob("*") if p.is_file())
    extras = [HERE / f for f in image.extra_files]
    parts = [base.encode()]
    for path in [*inputs, *extras]:
        parts += [str(path.relative_to(HERE)).encode(), path.read_bytes()]
    tag = f"{registry}/mesostack-test/{image.name}:{digest(*parts)}"
    if not image_exists(tag):
        with tempfile.TemporaryDirectory(prefix=f"mesostack-{image.name}-") as ctx:
            shutil.copytree(folder, ctx, dirs_exist_ok=True)
            (Path(ctx) / "empty").mkdir(exist_ok=True)
            for extra in extras:
                shutil.copy2(extra, Path(ctx) / extra.name)
            print(f"building {tag}", file=sys.stderr, flush=True)
            run("docker", "build", "--quiet", "--build-arg", f"BASE={base}", "-t", tag, ctx,
                capture=True)
    return tag


def test_engine(docker_host: str | None) -> str:
    """The engine `--tag-real-names` may act on: a unix socket given explicitly that is not
    the main engine's, by path or by the engine's ID. Exits otherwise."""
    if not docker_host:
        sys.exit("build.py: --tag-real-names needs --docker-host unix:///PATH naming a test "
                 "engine (never the machine's main engine)")
    if not docker_host.startswith("unix://"):
        sys.exit(f"build.py: --docker-host {docker_host}: only a local unix socket of a test "
                 "engine is accepted")
    path = os.path.realpath(docker_host.removeprefix("unix://"))
    if path in {os.path.realpath(p) for p in MAIN_SOCKETS}:
        sys.exit(f"build.py: --docker-host {docker_host} is the machine's main engine; the real "
                 "images' names may only be given on the test bed's own engines")
    ids = [engine_id(f"unix://{p}") for p in (path, MAIN_SOCKETS[0])]
    if ids[0] is None:
        sys.exit(f"build.py: no engine answers at {docker_host}")
    if ids[0] == ids[1]:
        sys.exit(f"build.py: the engine at {docker_host} is the machine's main engine (engine "
                 f"ID {ids[0]}); the real images' names may only be given on test engines")
    return docker_host


def engine_id(host: str) -> str | None:
    proc = subprocess.run(["docker", "-H", host, "info", "--format", "{{.ID}}"],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() or None


def real_names(wanted: list[str]) -> list[str]:
    """The real names asked for (all when none is), each one a test image stands in for."""
    unknown = [name for name in wanted if name not in REAL_NAMES]
    if unknown:
        sys.exit(f"build.py: no test image stands in for {', '.join(unknown)}; known: "
                 f"{', '.join(REAL_NAMES)}")
    return wanted or list(REAL_NAMES)


def tag_real_names(wanted: list[str], *, docker_host: str, registry: str) -> None:
    """Each real name on the test engine, as a second name of its test image's :testbed tag
    there, pulled from the registry when the engine lacks it."""
    for real in wanted:
        source = f"{registry}/mesostack-test/{REAL_NAMES[real]}:{STABLE_TAG}"
        if subprocess.run(["docker", "-H", docker_host, "image", "inspect", source],
                          capture_output=True, check=False).returncode != 0:
            run("docker", "-H", docker_host, "pull", "--quiet", source, capture=True)
        run("docker", "-H", docker_host, "tag", source, real)
        print(f"{real} = {source} on {docker_host}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", default=REGISTRY, help="registry to tag for and push to")
    parser.add_argument("--no-push", action="store_true", help="build and tag only")
    parser.add_argument("--tag-real-names", nargs="*", metavar="REAL_NAME",
                        help="instead of building: give the test images these real names "
                             "(default: all of them) on the engine --docker-host names")
    parser.add_argument("--docker-host", help="the test engine for --tag-real-names "
                                              "(unix:///PATH; never the main engine)")
    args = parser.parse_args()
    if args.tag_real_names is not None:
        wanted = real_names(args.tag_real_names)
        tag_real_names(wanted, docker_host=test_engine(args.docker_host), registry=args.registry)
        return

    bases: dict[str, str] = {}
    for image in IMAGES:
        if image.suite not in bases:
            bases[image.suite] = build_base(SUITES[image.suite])
        tag = build_image(image, base=bases[image.suite], registry=args.registry)
        stable = tag.rsplit(":", 1)[0] + ":" + STABLE_TAG
        run("docker", "tag", tag, stable)
        if not args.no_push:
            for ref in (tag, stable):
                run("docker", "push", "--quiet", ref, capture=True)
        print(tag)
        print(stable)


if __name__ == "__main__":
    main()
