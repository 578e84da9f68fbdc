"""Progress bars: redrawn in place on a terminal, a few lines in a log."""

from __future__ import annotations

import itertools

import pytest
import tqdm.std

from benchmark import progress
from benchmark.progress import LOG_INTERVAL_S, progress_bar


def test_a_bar_in_a_log_writes_a_line_per_interval_not_one_per_update(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ticks = itertools.count(0.0, 0.5)  # tqdm's clock: half a second per reading
    clock = [0.0]

    def fake_time() -> float:
        clock[0] = next(ticks)
        return clock[0]

    monkeypatch.setattr(tqdm.std, "time", fake_time)
    bar = progress_bar(total=2000, desc="attempts")
    for _ in range(2000):
        bar.update(1)
        bar.set_postfix_str("clean 3/5 chains", refresh=False)
    bar.close()
    err = capsys.readouterr().err
    # plain tqdm (0.1 s between redraws) writes a line per update here
    assert err.count("\r") <= clock[0] / LOG_INTERVAL_S + 2
    assert "2000/2000" in err.rsplit("\r", 1)[-1]


def test_a_bar_on_a_terminal_redraws_as_tqdm_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "in_terminal", lambda: True)
    with progress_bar(total=10) as bar:
        assert bar.mininterval < 1
    monkeypatch.setattr(progress, "in_terminal", lambda: False)
    with progress_bar(total=10) as bar:
        assert bar.mininterval == LOG_INTERVAL_S
