"""Facts about this host: its default-route address, whether an address is local, who holds a port.

Read from /proc and plain sockets (no packets are sent anywhere).
"""

from __future__ import annotations

import errno
import fcntl
import ipaddress
import os
import socket
import struct
from dataclasses import dataclass
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


# --- another host's network, as /proc/net shows it to a container on its host network ---------

# What a preflight helper container (host networking, `cat` as its entrypoint) prints: the
# host's IPv4 routing trie (its local addresses) and its TCP tables (what listens).
HOST_NET_FILES = ("/proc/net/fib_trie", "/proc/net/tcp", "/proc/net/tcp6")


@dataclass(frozen=True)
class HostNet:
    """A host's own IPv4 addresses (as networks: the kernel's local table holds 127.0.0.0/8
    whole) and its listening TCP sockets (address, port); the address is 0.0.0.0 (or ::) for
    the wildcard."""

    addresses: frozenset[str]
    listening: frozenset[tuple[str, int]]

    def holds(self, ip: str) -> bool:
        """Whether the host can bind `ip` (what host networking needs)."""
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(n, strict=False) for n in self.addresses)

    def in_use(self, ip: str, port: int) -> bool:
        """Whether binding ip:port would fail as EADDRINUSE: something listens on that address
        or on a wildcard one."""
        return any(p == port and a in (ip, "0.0.0.0", "::") for a, p in self.listening)


def parse_host_net(text: str) -> HostNet:
    """`cat`'s output of HOST_NET_FILES, in that order: a fib_trie leaf followed by a
    `/N host LOCAL` line is a network of the host's own addresses; a TCP row in state 0A
    listens."""
    addresses: set[str] = set()
    listening: set[tuple[str, int]] = set()
    leaf = None
    for line in text.splitlines():
        words = line.split()
        if line.lstrip().startswith("|--") and len(words) == 2:
            leaf = words[1]
        elif len(words) == 3 and words[1:] == ["host", "LOCAL"] and leaf:
            addresses.add(f"{leaf}{words[0]}")
        elif len(words) > 3 and words[3] == "0A" and ":" in words[1]:
            address, port = words[1].rsplit(":", 1)
            listening.add((_proc_address(address), int(port, 16)))
    return HostNet(frozenset(addresses), frozenset(listening))


def _proc_address(hex_address: str) -> str:
    """/proc/net/tcp's address: 8 hex digits (IPv4, host byte order) or 32 (IPv6, four host
    order words)."""
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(socket.AF_INET6, words)
