"""All terminal output: live progress (stderr), result tables and text (stdout).

Without a terminal, or with NO_COLOR, output is plain text: one line per change.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from rich import box
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from mesostack.orchestrator import Event, Phase, Reporter, StackStatus, StackSummary

_STYLE = {
    Phase.READY: "green",
    Phase.UNCHANGED: "green",
    Phase.REMOVED: "green",
    Phase.FAILED: "red",
    Phase.SKIPPED: "yellow",
}


def _plain() -> bool:
    return bool(os.environ.get("NO_COLOR")) or not sys.stderr.isatty()


out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def result(text: str) -> None:
    """A command's result on stdout, exactly as given."""
    sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
    sys.stdout.flush()


def info(text: str) -> None:
    err.print(text, markup=False)


def warn(text: str) -> None:
    err.print(f"mesostack: warning: {text}", markup=False, style="yellow")


def _line(event: Event) -> str:
    when = f" in {event.elapsed:.1f} s" if event.elapsed is not None and event.phase in (
        Phase.READY, Phase.UNCHANGED, Phase.REMOVED) else ""
    message = f": {event.message}" if event.message else ""
    return f"{event.component}  {event.phase.value}{when}{message}"


@contextmanager
def progress(title: str) -> Iterator[Reporter]:
    """A Reporter showing each component's phase: a live table on a terminal, else lines."""
    if _plain():
        last: dict[str, tuple[Phase, str]] = {}
        lock = threading.Lock()

        def plain(event: Event) -> None:
            key = (event.phase, event.message)
            with lock:
                if event.phase is Phase.PULLING and last.get(event.component, (None,))[0] is (
                        Phase.PULLING):
                    return  # progress ticks: one line per pull is enough in a log
                if last.get(event.component) == key:
                    return
                last[event.component] = key
            err.print(_line(event), markup=False, highlight=False)

        yield plain
        return

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

    with Live(table(), console=err, refresh_per_second=8, transient=False) as live:

        def live_report(event: Event) -> None:
            with lock:
                rows[event.component] = event
                live.update(table())

        yield live_report


def _table(title: str | None = None) -> Table:
    """Boxed on a terminal; plain columns (easy to grep) in a pipe or with NO_COLOR."""
    plain = bool(os.environ.get("NO_COLOR")) or not sys.stdout.isatty()
    return Table(title=title, title_justify="left", box=None if plain else box.HEAVY_HEAD,
                 pad_edge=not plain)


def status_table(status: StackStatus) -> None:
    grid = _table(title=f"stack {status.stack}")
    for column in ("component", "container", "ready", "role", "endpoint", "detail"):
        grid.add_column(column)
    for c in status.components:
        grid.add_row(c.name, c.state, Text("yes" if c.ready else "no",
                                           style="green" if c.ready else "red"),
                     c.leadership, c.url or c.endpoint, c.detail)
    out.print(grid)
    counts = [f"agents: {status.agents}", f"frameworks: {', '.join(status.frameworks) or 'none'}"]
    if status.apps is not None:
        counts.append(f"apps: {status.apps}")
    out.print("  ".join(counts), markup=False)


def status_json(status: StackStatus) -> None:
    document: dict[str, Any] = asdict(status)
    document["ready"] = status.ready
    result(json.dumps(document, indent=2))


def stacks_table(stacks: Sequence[StackSummary]) -> None:
    grid = _table()
    for column in ("stack", "components", "running", "ready"):
        grid.add_column(column)
    for s in stacks:
        grid.add_row(s.stack, ", ".join(s.components), f"{s.running}/{len(s.components)}",
                     Text("yes" if s.ready else "no", style="green" if s.ready else "red"))
    out.print(grid)


def checks_table(rows: Sequence[tuple[str, str, str, str]]) -> None:
    """Doctor's rows: (check, ok|warn|fail|info, what was found, how to fix)."""
    grid = _table()
    for column in ("check", "result", "found", "fix"):
        grid.add_column(column, overflow="fold")
    styles = {"ok": "green", "warn": "yellow", "fail": "red", "info": "cyan"}
    for check, verdict, found, fix in rows:
        grid.add_row(check, Text(verdict, style=styles.get(verdict, "")), found, fix)
    out.print(grid)
