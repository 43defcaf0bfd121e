"""`mesostack init`: write a commented stack file for a preset, on this host's address."""

from __future__ import annotations

import os
from pathlib import Path

import click

from mesostack.cli._common import Options
from mesostack.errors import InputError
from mesostack.presets import Preset


def _host_ip(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    import ipaddress

    if value is None or value == "auto":
        return value
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an IPv4 address (or `auto`)") from None
    return value


@click.command()
@click.option("--preset", type=click.Choice([p.value for p in Preset]),
              default=Preset.DEFAULT.value, show_default=True,
              help="default: the built-in default (images that run on today's hosts); "
                   "tutorial: the tutorial's 2015 stack (Docker 26+ refuse its images); "
                   "modern: the default's earlier name.")
@click.option("--host-ip", metavar="IPV4", callback=_host_ip,
              help="The host_ip to write. [default: this host's, from the default route; "
                   "`auto` when it has none]")
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
@click.pass_obj
def init(options: Options, preset: str, host_ip: str | None, force: bool) -> None:
    """Write a commented stack file (-f PATH, else ./stack.yaml) for a preset."""
    import shlex

    from mesostack import console, hostinfo
    from mesostack.config import DEFAULT_FILE
    from mesostack.presets import render

    path = Path(options.file or DEFAULT_FILE)
    if host_ip is None:
        found = hostinfo.default_route_ip()
        host_ip = None if found == hostinfo.LOOPBACK else found
    _write(path, render(Preset(preset), host_ip=host_ip), force=force)
    console.info(f"wrote {path}: preset {preset}, host_ip {host_ip or 'auto'}")
    up = "mesostack up" if options.file is None else f"mesostack -f {shlex.quote(str(path))} up"
    console.info(f"next: `{up}` (`{up} --dry-run` shows what it would run)")


def _write(path: Path, text: str, *, force: bool) -> None:
    """Write `text` to `path` whole or not at all; an existing file only with `force`."""
    import tempfile

    refusal = InputError(f"{path} exists; pass --force to overwrite it")
    if path.exists() and not force:
        raise refusal
    directory = path.parent
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    except OSError as exc:
        raise InputError(f"{path}: can't write it: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        if force:
            os.replace(temporary, path)
        else:
            _create(temporary, path)
    except FileExistsError:
        raise refusal from None
    except OSError as exc:
        raise InputError(f"{path}: can't write it: {exc.strerror or exc}") from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _create(temporary: str, path: Path) -> None:
    """Move `temporary` to `path` unless `path` exists (FileExistsError), even if it appeared
    since the first look: a hard link never replaces a file."""
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links
        if path.exists():
            raise FileExistsError(path) from None
        os.replace(temporary, path)
