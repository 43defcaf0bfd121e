"""Tasks' stdout and stderr, read from their sandboxes on the agents (through `mesos`), given
out in whole lines as they come.

Offsets count bytes of the file and a character a read cut is held until the rest comes, so
that nothing is garbled, skipped or split where reads end.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from mesostack.errors import MesostackError
from mesostack.waiting import SYSTEM, Clock

if TYPE_CHECKING:
    from mesostack.mesos import Http, Sandbox

LOG_INTERVAL = 0.5  # seconds between reads of the sandboxes when following


class TaskOutput:
    """One task's stream as read so far: where the next read starts (in bytes of the file),
    the bytes of a character a read cut (held by the decoder until the rest comes) and the
    line not finished yet."""

    def __init__(self, task_id: str, sandbox: Sandbox, *, prefix: bool) -> None:
        self.task_id, self.sandbox, self.prefix = task_id, sandbox, prefix
        self.offset = 0
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.line = ""  # the start of a line whose end has not come yet

    def read(self, stream: str, *, http: Http | None) -> str:
        """The whole lines that came since the last read (each ending in a newline, prefixed
        with the task's id when there are several tasks): reads until the agent has no more."""
        from mesostack import mesos

        while True:
            try:
                data, self.offset = mesos.read_sandbox(self.sandbox, stream, self.offset,
                                                       http=http)
            except mesos.Unanswered as exc:
                raise MesostackError(f"task {self.task_id}: can't read its {stream}: "
                                     f"{exc.message}") from None
            self.line += self.decoder.decode(data)
            if len(data) < mesos.READ_CHUNK:
                break
        done, newline, self.line = self.line.rpartition("\n")
        return "".join(self._shown(line) + "\n" for line in done.split("\n")) if newline else ""

    def rest(self) -> str:
        """The last line, not ended by a newline (without a character the task has only
        begun to write)."""
        return self._shown(self.line) if self.line else ""

    def _shown(self, line: str) -> str:
        return f"{self.task_id} | {line}" if self.prefix else line


def read_output(
    sandboxes: Sequence[tuple[str, Sandbox]],
    stream: str,
    *,
    follow: bool,
    http: Http | None = None,
    clock: Clock = SYSTEM,
) -> Iterator[str]:
    """Each task's `stream` (stdout, stderr) from its sandbox, one piece per task and read,
    its lines prefixed with the task's id when there are several; with `follow`, new output
    as it comes, every LOG_INTERVAL, without end (a line is given once it is whole).

    A generator rather than `waiting.wait`: it has no deadline and nothing to wait for, and
    it hands each piece out as soon as it is read (the caller may stop at any piece)."""
    outputs = [TaskOutput(task_id, sandbox, prefix=len(sandboxes) > 1)
               for task_id, sandbox in sandboxes]
    while True:
        for output in outputs:
            text = output.read(stream, http=http) + ("" if follow else output.rest())
            if text:
                yield text
        if not follow:
            return
        clock.sleep(LOG_INTERVAL)
