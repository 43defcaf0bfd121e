#!/usr/bin/env python3
"""The test bed's image factory: builds every test image from no registry, prints the tags.

A Debian root filesystem comes from ``mmdebstrap`` (the machine's own apt sources, every package
in ``--include``: an engine without a bridge gives builds no network), is ``docker import``-ed as
the base, and each test image is a COPY-only Dockerfile on top. Tags are a hash of the build
inputs, so an unchanged rebuild is a no-op; each image is also tagged ``:testbed`` (the name
``examples/testbed.yaml`` uses) and both tags are pushed to the local registry.

Standard library only: it runs before the project's virtualenv exists.

    python3 tests/standins/build.py [--no-push] [--registry 127.0.0.1:5000]
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

# Everything any test image needs, installed once into the shared base.
BASE_PACKAGES = (
    "zookeeper",  # the real ZooKeeper server (Debian 12: 3.8)
    "default-jre-headless",
    "python3",
    "python3-kazoo",  # the stand-ins' ZooKeeper client
    "procps",
)
APT_SOURCE_FILES = ("/etc/apt/sources.list", "/etc/apt/sources.list.d")
# Bump when the way the base is made changes in a way the inputs above do not show.
BASE_RECIPE = "minbase;no-recommends;no-docs;v2"


@dataclass(frozen=True)
class Image:
    """A test image: its folder under images/ plus extra files copied into its build context."""

    name: str
    extra_files: tuple[str, ...] = ()


IMAGES = (
    Image("zookeeper"),
    Image("mesos-master", ("common.py", "master.py")),
    Image("mesos-slave", ("common.py", "agent.py")),
    Image("marathon", ("common.py", "marathon.py", "marathon_api.py", "validation.py")),
    Image("task"),
)


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


def apt_sources() -> list[str]:
    """The machine's own apt source files (mmdebstrap reads mirrors from them)."""
    found: list[str] = []
    for entry in APT_SOURCE_FILES:
        path = Path(entry)
        if path.is_file():
            found.append(str(path))
        elif path.is_dir():
            found += sorted(
                str(p) for p in path.iterdir() if p.suffix in (".list", ".sources") and p.is_file()
            )
    if not found:
        sys.exit("build.py: no apt sources found under /etc/apt; mmdebstrap needs one")
    return found


def build_base() -> str:
    suite = os_codename()
    tag = "mesostack-test/base:" + digest(
        suite.encode(), ",".join(sorted(BASE_PACKAGES)).encode(), BASE_RECIPE.encode()
    )
    if image_exists(tag):
        return tag
    if shutil.which("mmdebstrap") is None:
        sys.exit("build.py: mmdebstrap is missing; install it with `apt-get install -y mmdebstrap`")
    with tempfile.TemporaryDirectory(prefix="mesostack-rootfs-") as tmp:
        rootfs = os.path.join(tmp, "rootfs.tar")
        print(f"building {tag} with mmdebstrap ({suite})", file=sys.stderr, flush=True)
        run(
            "mmdebstrap",
            "--quiet",
            "--variant=minbase",
            "--aptopt=APT::Install-Recommends false",
            "--dpkgopt=path-exclude=/usr/share/doc/*",
            "--dpkgopt=path-exclude=/usr/share/locale/*",
            "--include=" + ",".join(BASE_PACKAGES),
            suite,
            rootfs,
            *apt_sources(),
        )
        run("docker", "import", rootfs, tag)
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
            for extra in extras:
                shutil.copy2(extra, Path(ctx) / extra.name)
            print(f"building {tag}", file=sys.stderr, flush=True)
            run("docker", "build", "--quiet", "--build-arg", f"BASE={base}", "-t", tag, ctx,
                capture=True)
    return tag


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", default=REGISTRY, help="registry to tag for and push to")
    parser.add_argument("--no-push", action="store_true", help="build and tag only")
    args = parser.parse_args()

    base = build_base()
    for image in IMAGES:
        tag = build_image(image, base=base, registry=args.registry)
        stable = tag.rsplit(":", 1)[0] + ":" + STABLE_TAG
        run("docker", "tag", tag, stable)
        if not args.no_push:
            for ref in (tag, stable):
                run("docker", "push", "--quiet", ref, capture=True)
        print(tag)
        print(stable)


if __name__ == "__main__":
    main()
