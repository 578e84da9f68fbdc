"""Progress bars read well in a log: one line per update, no carriage returns."""

from __future__ import annotations

import io

from tqdm import tqdm

from benchmark.progress import LogBar, progress_bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_lines_and_a_terminal_gets_a_bar_redrawn_in_place() -> None:
    log = io.StringIO()
    with progress_bar(total=3, desc="work", file=log, mininterval=0) as bar:
        assert isinstance(bar, LogBar)
        for _ in range(3):
            bar.update(1)
        bar.write("a message", file=bar.fp)
    text = log.getvalue()
    assert "\r" not in text and text.endswith("\n")
    lines = text.splitlines()
    assert lines[0].startswith("work:   0%") and "3/3" in lines[-1]
    assert "a message" in lines and all(line for line in lines)  # no blank lines
    terminal = Terminal()
    with progress_bar(total=3, file=terminal, mininterval=0) as bar:
        assert type(bar) is tqdm
        bar.update(3)
    assert "\r" in terminal.getvalue()
    quiet = io.StringIO()
    with progress_bar(total=3, file=quiet, disable=True) as bar:
        bar.update(3)
    assert quiet.getvalue() == ""
