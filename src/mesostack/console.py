"""All terminal output: live progress, notes, warnings and errors (stderr), result tables and
text (stdout).

Without a terminal, or with NO_COLOR, output is plain text: one line per change, written
directly (rich, a tenth of a second to import, is loaded only to draw on a terminal).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from functools import cache
from typing import TYPE_CHECKING, Any

from mesostack.events import Event, Phase, Reporter

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from mesostack.orchestrator import StackStatus, StackSummary

_STYLE = {
    Phase.READY: "green",
    Phase.UNCHANGED: "green",
    Phase.REMOVED: "green",
    Phase.FAILED: "red",
    Phase.SKIPPED: "yellow",
}


def _plain() -> bool:
    return bool(os.environ.get("NO_COLOR")) or not sys.stderr.isatty()


@cache
def _out() -> Console:
    from rich.console import Console

    return Console(highlight=False)


@cache
def _err() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def _line_to_stderr(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def result(text: str) -> None:
    """A command's result on stdout, exactly as given."""
    sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
    sys.stdout.flush()


def info(text: str) -> None:
    if _plain():
        _line_to_stderr(text)
    else:
        _err().print(text, markup=False)


def warn(text: str) -> None:
    if _plain():
        _line_to_stderr(f"mesostack: warning: {text}")
    else:
        _err().print(f"mesostack: warning: {text}", markup=False, style="yellow")


def note(text: str) -> None:
    """A line on stderr as it is, on a terminal too: what is said before any live display or
    at exit (where the stack comes from, an interruption), which needs no rich."""
    _line_to_stderr(text)


def error(message: str, *, detail: str = "") -> None:
    """A failure's one line, then its detail when it has one (e.g. a container's last logs)."""
    _line_to_stderr(f"mesostack: error: {message}")
    if detail:
        _line_to_stderr(detail)


def _line(event: Event) -> str:
    when = f" in {event.elapsed:.1f} s" if event.elapsed is not None and event.phase in (
        Phase.READY, Phase.UNCHANGED, Phase.REMOVED) else ""
    message = f": {event.message}" if event.message else ""
    return f"{event.component}  {event.phase.value}{when}{message}"


PULL_LINE_EVERY = 5.0  # seconds between two plain progress lines of one image's pull


def _plain_reporter(clock: Callable[[], float]) -> Reporter:
    """One line per change of a component's phase; while an image is pulled, a line on its
    progress at most every PULL_LINE_EVERY seconds (whatever the components sharing it).

    A pull's PULLING events carry the image, then (after a space) how far it is."""
    last: dict[str, tuple[Phase, str]] = {}
    said: dict[str, float] = {}  # when each image's last line was written
    lock = threading.Lock()

    def plain(event: Event) -> None:
        key = (event.phase, event.message)
        image, _, done = event.message.partition(" ")
        with lock:
            if event.phase is Phase.PULLING and last.get(event.component, (None,))[0] is (
                    Phase.PULLING):
                now = clock()
                if done and now - said.get(image, float("-inf")) >= PULL_LINE_EVERY:
                    said[image] = now
                    _line_to_stderr(f"pulling {image}: {done}")
                return
            if last.get(event.component) == key:
                return
            last[event.component] = key
            if event.phase is Phase.PULLING:
                said[image] = clock()
            _line_to_stderr(_line(event))

    return plain


@contextmanager
def progress(title: str, *, clock: Callable[[], float] = time.monotonic) -> Iterator[Reporter]:
    """A Reporter showing each component's phase: a live table on a terminal, else lines."""
    if _plain():
        yield _plain_reporter(clock)
        return

    from rich.live import Live
    from rich.table import Table
    from rich.text import Text

    rows: dict[str, Event] = {}
    started = time.monotonic()
    lock = threading.Lock()

    def table() -> Table:
        grid = Table(title=title, title_justify="left", show_header=False, box=None,
                     padding=(0, 2))
        for event in rows.values():
            seconds = f"{event.elapsed:.1f} s" if event.elapsed is not None else ""
            grid.add_row(event.component, Text(event.phase.value,
                                               style=_STYLE.get(event.phase, "cyan")),
                         seconds, Text(event.message, overflow="ellipsis", no_wrap=True))
        grid.caption = f"{time.monotonic() - started:.0f} s"
        return grid

    with Live(table(), console=_err(), refresh_per_second=8, transient=False) as live:

        def live_report(event: Event) -> None:
            with lock:
                rows[event.component] = event
                live.update(table())

        yield live_report


def _show(title: str | None, headers: Sequence[str], rows: Sequence[Sequence[str]],
          styles: dict[int, Callable[[str], str]] | None = None) -> None:
    """Boxed on a terminal; in a pipe or with NO_COLOR, aligned plain columns, never cut."""
    if bool(os.environ.get("NO_COLOR")) or not sys.stdout.isatty():
        widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
        lines = [title] if title else []
        for row in [headers, *rows]:
            cells = [str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)]
            lines.append("  ".join(cells).rstrip())
        result("\n".join(lines))
        return
    from rich import box
    from rich.table import Table
    from rich.text import Text

    grid = Table(title=title, title_justify="left", box=box.HEAVY_HEAD)
    for header in headers:
        grid.add_column(header, overflow="fold")
    for row in rows:
        grid.add_row(*(Text(cell, style=_style(styles, i, cell)) for i, cell in enumerate(row)))
    _out().print(grid)


def _style(styles: dict[int, Callable[[str], str]] | None, column: int, cell: str) -> str:
    pick = (styles or {}).get(column)
    return pick(cell) if pick else ""


def _yes_no(value: str) -> str:
    return "green" if value == "yes" else "red"


def status_table(status: StackStatus) -> None:
    hosts = any(c.host for c in status.components)
    rows = [(c.name, *((c.host,) if hosts else ()), c.state, "yes" if c.ready else "no",
             c.leadership, c.url or c.endpoint, c.detail) for c in status.components]
    headers = ("component", *(("host",) if hosts else ()), "container", "ready", "role",
               "endpoint", "detail")
    _show(f"stack {status.stack}", headers, rows, {headers.index("ready"): _yes_no})
    counts = [f"agents: {status.agents}", f"frameworks: {', '.join(status.frameworks) or 'none'}"]
    if status.apps is not None:
        counts.append(f"apps: {status.apps}")
    result("  ".join(counts))
    for note in status.notes:
        result(note)
    for c in status.components:
        if c.tasks:
            result(f"{c.name}: {c.tasks}")


def status_json(status: StackStatus) -> None:
    document: dict[str, Any] = asdict(status)
    document["ready"] = status.ready
    result(json.dumps(document, indent=2))


def stacks_table(stacks: Sequence[StackSummary], *, files: Mapping[str, str]) -> None:
    """One row a stack; `files`: the stack file each one's containers recorded ("-": none)."""
    rows = [(s.stack, ", ".join(s.components), f"{s.running}/{len(s.components)}",
             "yes" if s.ready else "no", files.get(s.stack) or "-") for s in stacks]
    _show(None, ("stack", "components", "running", "ready", "file"), rows, {3: _yes_no})


_VERDICT_STYLE = {"ok": "green", "warn": "yellow", "fail": "red", "info": "cyan"}


def checks_table(rows: Sequence[tuple[str, str, str, str]]) -> None:
    """Doctor's rows: (check, ok|warn|fail|info, what was found, how to fix)."""
    _show(None, ("check", "result", "found", "fix"), rows,
          {1: lambda v: _VERDICT_STYLE.get(v, "")})


def apps_table(rows: Sequence[dict[str, Any]]) -> None:
    _show(None, ("app", "instances", "running", "staged", "healthy", "deployments"),
          [(str(r["id"]), str(r["instances"]), str(r["running"]), str(r["staged"]),
            str(r["healthy"]), ", ".join(map(str, r["deployments"])) or "-") for r in rows])
