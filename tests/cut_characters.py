"""A task whose stdout has a multi-byte character across a read boundary, for the tests of
`task-logs` on the stand-ins (unit, with the agent as a local process) and on the test bed.

The command pads its stdout, counting what is in it already (a real executor's own lines
come first), so that the first byte of 世 is the last byte of the first read: `task-logs`
reads 64 KiB at a time (`mesostack.mesos.READ_CHUNK`). The text is written with printf's
octal escapes, so that the command itself is ASCII whatever the locale.
"""

from __future__ import annotations

TEXT = "Grüße, 世界"
BOUNDARY = 65536  # where the first read ends


def octal(text: str) -> str:
    """`text` as printf's format: every byte from 0x80 as an octal escape."""
    return "".join(chr(b) if b < 0x80 else f"\\{b:03o}" for b in text.encode())


def straddling_command(boundary: int = BOUNDARY, *, then: str = "exec sleep 3600") -> str:
    """sh: a line of dots as long as it takes for 世 to begin one byte before `boundary`,
    then TEXT and a newline, then `then` (the app must keep running)."""
    before = len(TEXT[:TEXT.index("世")].encode())
    return (f'n=$(wc -c < "$MESOS_SANDBOX/stdout"); '
            f"head -c $(({boundary - 1 - before - 1} - n)) /dev/zero | tr '\\000' .; "
            f"printf '\\n{octal(TEXT)}\\n'; {then}")


def expected_output(already: bytes = b"", boundary: int = BOUNDARY) -> bytes:
    """The whole stdout the command leaves after `already` (what was there before it ran)."""
    before = len(TEXT[:TEXT.index("世")].encode())
    dots = boundary - 1 - before - 1 - len(already)
    return already + b"." * dots + b"\n" + (TEXT + "\n").encode()
