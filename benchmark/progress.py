"""Progress bars (tqdm) that a terminal and a log both read well.

In a terminal a bar redraws itself in place. In a log (CI, `nohup`, a pipe) tqdm's redraws are
carriage returns on one endless line; `progress_bar` gives a log a `LogBar` instead, which
writes each update as its own line, at most one per `mininterval` (30 s by default).
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

LOG_INTERVAL_S = 30.0


class LogBar(tqdm):
    """tqdm for a log: every display is a line of its own (tqdm's documented hook, `display`,
    overloaded); a message written through `tqdm.write` ends the current line first."""

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


def progress_bar(*, disable: bool = False, file: Any = None, **kwargs: Any) -> tqdm:
    """A tqdm bar on `file` (stderr): redrawn in place on a terminal, line by line in a log."""
    stream = file or sys.stderr
    if disable or getattr(stream, "isatty", lambda: False)():
        return tqdm(disable=disable, file=stream, **kwargs)
    kwargs.setdefault("mininterval", LOG_INTERVAL_S)
    return LogBar(file=stream, ascii=True, **kwargs)
