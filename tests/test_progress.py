"""Progress bars: redrawn in place on a terminal, a line at a time in a log."""

from __future__ import annotations

import itertools
import sys

import pytest
import tqdm.std
from tqdm import tqdm as plain_tqdm

from benchmark import progress
from benchmark.progress import LOG_INTERVAL_S, progress_bar


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """tqdm's clock, half a second further at every reading: no test waits on real time."""
    ticks = itertools.count(0.0, 0.5)
    now = [0.0]

    def fake_time() -> float:
        now[0] = next(ticks)
        return now[0]

    monkeypatch.setattr(tqdm.std, "time", fake_time)
    return now


def test_a_bar_in_a_log_writes_whole_lines_one_per_interval(
    capsys: pytest.CaptureFixture[str], clock: list[float]
) -> None:
    bar = progress_bar(total=2000, desc="attempts")
    for i in range(2000):
        bar.update(1)
        bar.set_postfix_str(f"clean {i // 10}/{i} chains", refresh=False)
        if i == 1000:
            bar.write("note: a message in between", file=sys.stderr)
    bar.close()
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert "\r" not in err  # plain tqdm redraws with \r, here at every update
    assert "note: a message in between" in lines
    bars = [line for line in lines if line.startswith("attempts:")]
    assert len(bars) <= clock[0] / LOG_INTERVAL_S + 3  # one per interval, the first, the last
    assert "2000/2000" in bars[-1] and err.endswith("\n")


def test_plain_tqdm_would_flood_the_same_log(
    capsys: pytest.CaptureFixture[str], clock: list[float]
) -> None:
    bar = plain_tqdm(total=2000, desc="attempts")  # what progress_bar replaces, for contrast
    for _ in range(2000):
        bar.update(1)
    bar.close()
    assert capsys.readouterr().err.count("\r") > 1000


def test_a_bar_on_a_terminal_redraws_as_tqdm_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "in_terminal", lambda: True)
    with progress_bar(range(3)) as bar:
        assert type(bar) is plain_tqdm and bar.mininterval < 1
        assert list(bar) == [0, 1, 2]
    monkeypatch.setattr(progress, "in_terminal", lambda: False)
    with progress_bar(range(3)) as bar:
        assert bar.mininterval == LOG_INTERVAL_S
        assert list(bar) == [0, 1, 2]
