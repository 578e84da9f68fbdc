"""One `python -m benchmark.run` job as a process: a Hydra run folder, saved config and all."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMALL = ("loop.samples=2", "loop.max_iterations=3")  # smoke's problems, 2 samples, 3 iterations


def run_job_process(
    run: Path, *overrides: str, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """The job into `run`, without progress bars and on one lint worker; stderr captured."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmark.run",
            *overrides,
            "progress=false",
            "lint.workers=1",
            f"hydra.run.dir={run}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
