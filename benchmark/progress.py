"""Progress bars that read well in a terminal and in a log.

On a terminal a bar redraws in place as tqdm does. When stderr is a file or a pipe (a log, CI,
a Hydra job's output), every redraw would be one more line, so the bar writes at most one line
every `LOG_INTERVAL_S` seconds, at a fixed width, and its last line when it closes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, TypeVar

from tqdm import tqdm

T = TypeVar("T")
LOG_INTERVAL_S = 30.0
LOG_WIDTH = 120


def in_terminal() -> bool:
    """Whether progress goes to a terminal (stderr is a tty)."""
    return sys.stderr.isatty()


def progress_bar(iterable: Iterable[T] | None = None, **kwargs: Any) -> tqdm:
    """A tqdm bar on stderr; in a log, a line every LOG_INTERVAL_S seconds at most."""
    if not in_terminal():
        kwargs.setdefault("mininterval", LOG_INTERVAL_S)
        kwargs.setdefault("maxinterval", LOG_INTERVAL_S)
        kwargs.setdefault("ncols", LOG_WIDTH)
    return tqdm(iterable, **kwargs)
