"""Progress per phase: a bar on a terminal, plain log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time

import click

log = logging.getLogger("curate")


class Progress:
    def __init__(self, phase: str, total: int) -> None:
        self.phase = phase
        self.total = total
        self.done = 0
        self._bar = None
        self._started = time.perf_counter()

    def __enter__(self) -> Progress:
        if self.total and sys.stderr.isatty():
            self._bar = click.progressbar(length=self.total, label=f"{self.phase:<6}", file=sys.stderr, show_pos=True)
            self._bar.__enter__()
        elif self.total:
            log.info("%s: %d tasks", self.phase, self.total)
        return self

    def advance(self, item: str) -> None:
        self.done += 1
        if self._bar is not None:
            self._bar.update(1)
        else:
            log.debug("%s: %d/%d done (%s)", self.phase, self.done, self.total, item)

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(exc_type, *exc)
        elif exc_type is not None:
            log.info("%s: stopped after %d of %d tasks (%s)", self.phase, self.done, self.total, exc_type.__name__)
        elif self.total:
            log.info("%s: finished in %.1f s", self.phase, time.perf_counter() - self._started)
