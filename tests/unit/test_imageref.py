"""Image references, read once: registry, path, tag and digest, and what a pull takes."""

from __future__ import annotations

import pytest

from mesostack.imageref import ImageRef, parse

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(("ref", "parsed", "pull"), [
    ("zookeeper", ImageRef("", "zookeeper"), ("zookeeper", "latest")),
    ("zookeeper:3.9.3", ImageRef("", "zookeeper", "3.9.3"), ("zookeeper", "3.9.3")),
    ("mesoscloud/zookeeper:3.4.6-ubuntu-14.04",
     ImageRef("", "mesoscloud/zookeeper", "3.4.6-ubuntu-14.04"),
     ("mesoscloud/zookeeper", "3.4.6-ubuntu-14.04")),
    ("docker.io/library/zookeeper:3.9", ImageRef("docker.io", "library/zookeeper", "3.9"),
     ("docker.io/library/zookeeper", "3.9")),
    ("127.0.0.1:5000/mesostack-test/zookeeper:testbed",
     ImageRef("127.0.0.1:5000", "mesostack-test/zookeeper", "testbed"),
     ("127.0.0.1:5000/mesostack-test/zookeeper", "testbed")),
    ("127.0.0.1:5000/x/y", ImageRef("127.0.0.1:5000", "x/y"), ("127.0.0.1:5000/x/y", "latest")),
    ("localhost/x", ImageRef("localhost", "x"), ("localhost/x", "latest")),
    ("localhost:5000", ImageRef("", "localhost", "5000"), ("localhost", "5000")),  # a tag
    ("Mirror/x:1", ImageRef("Mirror", "x", "1"), ("Mirror/x", "1")),
    ("library/zookeeper", ImageRef("", "library/zookeeper"), ("library/zookeeper", "latest")),
    (f"zookeeper@{DIGEST}", ImageRef("", "zookeeper", None, DIGEST), ("zookeeper", DIGEST)),
    (f"reg.example:443/a/b:1.0@{DIGEST}", ImageRef("reg.example:443", "a/b", "1.0", DIGEST),
     ("reg.example:443/a/b", DIGEST)),  # the digest names the image; the tag says nothing more
])
def test_a_reference_is_read_as_docker_reads_it(ref: str, parsed: ImageRef,
                                                pull: tuple[str, str]) -> None:
    assert parse(ref) == parsed
    assert parse(ref).pull_args() == pull
    assert str(parse(ref)) == ref
