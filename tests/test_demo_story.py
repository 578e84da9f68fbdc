"""The offline demo tells a story: the default `make sweep` runs two simulator profiles whose
numbers differ, and `make compare` picks its two groups with the command the Makefile's usage
line (and the README) gives."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.load import load_run

ROOT = Path(__file__).resolve().parent.parent


def make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", *args, f"PY={sys.executable}"],
        cwd=ROOT,
        env={**os.environ},
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.slow
def test_the_default_sweep_compares_two_profiles_that_differ(tmp_path: Path) -> None:
    sweep = tmp_path / "demo"
    args = f"hydra.sweep.dir={sweep} progress=false cache.enabled=false"
    done = make("sweep", "DATASET=smoke", "ITERS=4", f"ARGS={args}")
    assert done.returncode == 0, done.stderr[-3000:]
    attempts = load_run(sweep).attempts
    models = sorted(attempts["model"].unique())
    assert models == ["simulated/default", "simulated/synthetic-truth"]
    by_model = attempts.groupby("model")[["errors", "warnings"]].sum()
    assert not by_model.iloc[0].equals(by_model.iloc[1])  # the groups do not coincide

    usage = make("compare").stdout
    command = next(line for line in usage.splitlines() if "two groups of one sweep" in line)
    words = command.split(": ", 1)[1].replace("runs/demo", str(sweep)).split()
    assert words[:2] == ["make", "compare"]
    compared = make(*words[1:])
    assert compared.returncode == 0, compared.stderr[-3000:]
    assert "Against simulated/default" in compared.stdout
