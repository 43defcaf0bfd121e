"""What the commands share: the stack file option's result, the plan, the engine."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mesostack.api import Stack
    from mesostack.config import LoadedConfig
    from mesostack.plan import Plan
    from mesostack.runtime import Engines


class Options:
    """Global options, shared through click's context object (a plain class: `dataclasses`
    would import `inspect`, a tenth of `mesostack --help`'s start-up)."""

    def __init__(self, file: str | None = None, host_ip: str | None = None,
                 command: str | None = None) -> None:
        self.file = file
        self.host_ip = host_ip  # --host-ip: over the file's host_ip
        self.command = command  # the subcommand run: one acting on a running stack may look
        self._loaded: LoadedConfig | None = None
        self._stack: Stack | None = None

    def load(self) -> LoadedConfig:
        """The stack file, loaded once (its warnings are said by `stack()`, which loads it).
        A command acting on a running stack, given no file (-f, $MESOSTACK_FILE), uses the
        one stack the engine runs when the implicit file's doesn't (`discovery`)."""
        if self._loaded is None:
            from mesostack.config import FILE_ENV, load

            self._loaded = load(self.file)
            if not (self.file or os.environ.get(FILE_ENV)):  # discovery only when it may look
                from mesostack.discovery import NEEDS_RUNNING

                if self.command in NEEDS_RUNNING:
                    self._loaded = self._found_instead(self._loaded)
        return self._loaded

    def _found_instead(self, implicit: LoadedConfig) -> LoadedConfig:
        """The running stack to use in the implicit file's stead, said in one line; the
        implicit file's when there is none (`discovery.find`)."""
        from mesostack import console, discovery
        from mesostack.api import LOOK_TIMEOUT

        found = discovery.find(implicit, timeout=LOOK_TIMEOUT)
        if found is None:
            return implicit
        console.note(found.said)
        return found.loaded

    def stack(self, *, marathon_url: str | None = None, credentials: str | None = None,
              look: bool = True) -> Stack:
        """The API's stack on the file `load` finds, made once (by a command's first step,
        with its --marathon and --credentials); its progress, notes and warnings go to the
        console. `look` False: the file's stack even for a command that would look for a
        running one (deploy --dry-run asks no engine)."""
        if not look and self._loaded is None:
            self.command = None
        if self._stack is None:
            from mesostack import console
            from mesostack.api import Callbacks, Stack

            callbacks = Callbacks(on_info=console.info, on_warning=console.warn,
                                  progress=console.progress)
            self._stack = Stack(self.load, host_ip=self.host_ip, marathon_url=marathon_url,
                                credentials=credentials, callbacks=callbacks)
        return self._stack

    def plan(self, *, strict: bool = False) -> tuple[Plan, str]:
        """The stack's plan (`Stack.plan`) and the line saying where it came from."""
        stack = self.stack()
        return stack.plan(strict=strict), stack.where


def engines(options: Options, *, also_default: bool = False,
            timeout: float = 60) -> Engines:
    """The engines of the stack's hosts (the usual one for a stack without `hosts:`)."""
    return options.stack().engines(also_default=also_default, timeout=timeout)
