"""Progress bars that read well in a terminal and in a log.

On a terminal a bar redraws in place as tqdm does. When stderr is a file or a pipe (a log, CI,
a Hydra job's output), tqdm's redraws would be carriage returns on one endless line, so the bar
is a `LogBar`: each display is a line of its own, at most one every `LOG_INTERVAL_S` seconds,
in ASCII, plus the last one when it closes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from tqdm import tqdm

LOG_INTERVAL_S = 30.0


class LogBar(tqdm):
    """tqdm for a log: every display is a new line (tqdm's `display` hook, overridden); a
    message written through `tqdm.write` ends the current line first."""

    _open_line = False

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        if msg == "":  # tqdm clearing its line: a log keeps what it has
            return True
        self.fp.write(("\n" if self._open_line else "") + (str(self) if msg is None else msg))
        self.fp.flush()
        self._open_line = True
        return True

    def clear(self, nolock: bool = False) -> None:
        if self._open_line:
            self.fp.write("\n")
            self._open_line = False


def in_terminal() -> bool:
    """Whether progress goes to a terminal (stderr is a tty)."""
    return sys.stderr.isatty()


def progress_bar(iterable: Iterable[Any] | None = None, **kwargs: Any) -> tqdm:
    """A tqdm bar on stderr: redrawn in place on a terminal, line by line in a log."""
    if kwargs.get("disable") or in_terminal():
        return tqdm(iterable, **kwargs)
    kwargs.setdefault("mininterval", LOG_INTERVAL_S)
    kwargs.setdefault("maxinterval", LOG_INTERVAL_S)
    kwargs.setdefault("ascii", True)
    return LogBar(iterable, **kwargs)
