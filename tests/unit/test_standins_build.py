"""The image factory's apt sources for another Debian suite, made from the machine's own."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BUILD = Path(__file__).resolve().parents[1] / "standins" / "build.py"


def load_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("standins_build", BUILD)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


DEB822 = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: https://vendor.example/apt
Suites: nodistro
Components: main
"""


def test_deb822_sources_name_the_other_suite_and_drop_other_releases() -> None:
    made: str = load_build().suite_sources(DEB822, deb822=True, host="bookworm", suite="trixie")

    debian, security, _vendor = DEB822.replace("bookworm", "trixie").split("\n\n")
    assert made == f"{debian}\n\n{security}\n"


def test_one_line_sources_keep_their_options_and_drop_other_releases() -> None:
    text = ("# the machine's\n"
            "deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://deb.debian.org/debian"
            " bookworm main contrib\n"
            "deb http://deb.debian.org/debian-security bookworm-security main\n"
            "deb https://vendor.example/apt cloud-sdk-bookworm main\n")

    made: str = load_build().suite_sources(text, deb822=False, host="bookworm", suite="bullseye")

    assert made == ("deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] "
                    "http://deb.debian.org/debian bullseye main contrib\n"
                    "deb http://deb.debian.org/debian-security bullseye-security main\n")
