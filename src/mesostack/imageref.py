"""Image references (`[registry/]path[:tag][@digest]`), read the way Docker reads them.

Pure and light: the plan tells image families apart by their path, the runtime pulls by
repository and tag or digest; both read a reference here.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_TAG = "latest"


@dataclass(frozen=True)
class ImageRef:
    registry: str  # "" for Docker Hub (given as `docker.io`, it is kept here)
    path: str  # the repository's path on its registry, as written: `zookeeper`, `library/x`
    tag: str | None = None
    digest: str | None = None  # `sha256:...`

    @property
    def repository(self) -> str:
        """The reference without tag or digest."""
        return f"{self.registry}/{self.path}" if self.registry else self.path

    def pull_args(self) -> tuple[str, str]:
        """What the engine's pull takes: the repository, and the digest, else the tag, else
        `latest`."""
        return self.repository, self.digest or self.tag or DEFAULT_TAG

    def __str__(self) -> str:
        return (self.repository + (f":{self.tag}" if self.tag else "")
                + (f"@{self.digest}" if self.digest else ""))


def parse(ref: str) -> ImageRef:
    """Docker's rule (distribution's `splitDockerDomain`): the first part is a registry when
    there are more and it has a '.' or a ':' (a port), is `localhost`, or has a capital; a tag
    follows the last ':' of the last part; a digest follows '@'."""
    name, _, digest = ref.partition("@")
    first, slash, rest = name.partition("/")
    registry = ""
    if slash and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        registry, name = first, rest
    path, colon, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "")
    return ImageRef(registry, path, tag if colon else None, digest or None)
