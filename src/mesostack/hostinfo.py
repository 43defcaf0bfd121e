"""Facts about this host: its default-route address, whether an address is local, who holds a port.

Read from /proc and plain sockets (no packets are sent anywhere).
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import struct
from pathlib import Path

LOOPBACK = "127.0.0.1"
_SIOCGIFADDR = 0x8915


def default_route_ip(proc: Path = Path("/proc")) -> str:
    """The IPv4 address of the interface that holds the default route; 127.0.0.1 without one."""
    try:
        lines = (proc / "net" / "route").read_text().splitlines()[1:]
    except OSError:
        return LOOPBACK
    for line in lines:
        fields = line.split()
        if len(fields) > 2 and fields[1] == "00000000":
            address = interface_ip(fields[0])
            if address is not None:
                return address
    return LOOPBACK


def interface_ip(interface: str) -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            packed = fcntl.ioctl(
                sock.fileno(), _SIOCGIFADDR, struct.pack("256s", interface[:15].encode())
            )
        except OSError:
            return None
    return socket.inet_ntoa(packed[20:24])


def is_local_address(ip: str) -> bool:
    """True when this host can bind `ip` (what host networking needs)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((ip, 0))
        except OSError:
            return False
    return True


def port_in_use(ip: str, port: int) -> bool:
    """True when something already listens on ip:port (or on the wildcard address)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ip, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def port_holder(port: int, proc: Path = Path("/proc")) -> str | None:
    """`name (pid N)` of the process listening on TCP `port`, when /proc tells (root sees all)."""
    inodes = _listening_inodes(port, proc)
    return _holder({f"socket:[{inode}]" for inode in inodes}, proc) if inodes else None


def _listening_inodes(port: int, proc: Path) -> set[str]:
    """The socket inodes listening on TCP `port` (IPv4 and IPv6)."""
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            rows = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def _holder(targets: set[str], proc: Path) -> str | None:
    """The first process with one of the `socket:[inode]` targets among its open files."""
    for pid_dir in proc.iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in targets for fd in (pid_dir / "fd").iterdir()):
                return f"{(pid_dir / 'comm').read_text().strip()} (pid {pid_dir.name})"
        except OSError:
            continue
    return None
