"""Lint cache: the same work twice, the second time with the persistent lint cache warm.

Three pairs, each measured side by side in this run, each process timed whole (interpreter
start to exit), each pair on a lint cache file of its own that starts empty:

- **sweep**: the default `make sweep` (two simulator profiles on paper33, 10 iterations, 5
  samples) into one folder, then again into another;
- **rescore**: `iacbench rescore` of that unchanged run, cold then warm (target: warm ≤ 0.05 of
  cold, with 0 lint calls);
- **import-paper**: `iacbench import paper-run` twice on a repository in the authors' layout
  (tests/paper_fixture.py).

Lint calls are counted from the records: a linted row whose `lint_cached` is false was linted
by cfn-lint in that process (a sweep's job.json counts them too, as `lint_calls`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmark.records.tables import read_table
from benchmark.replication.rescore import job_dirs
from benchmark.validators.cfn_lint.result_cache import PATH_ENV
from benchmark.validators.cfn_lint.validator import LintSettings, WarmLinter
from tests.bench import ROOT, Context, Row, Section, at_most, info
from tests.paper_fixture import write_repository

# `make sweep`'s defaults (Makefile: MODELS ITERS PROMPTS DATASET)
FULL_SWEEP = [
    "model.id=simulated/default,simulated/synthetic-truth",
    "loop.max_iterations=10",
    "prompts=paper",
    "dataset=paper33",
]
QUICK_SWEEP = ["model.id=simulated/default", "loop.max_iterations=2", "loop.samples=1"]
QUICK_SWEEP += ["dataset=smoke", "lint.workers=1"]
WARM_RESCORE_TARGET = 0.05


def iacbench(args: list[str], cache: Path, verbose: bool) -> float:
    """`python -m benchmark ARGS` with the lint cache at `cache`: its wall seconds."""
    env = {**os.environ, PATH_ENV: str(cache)}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "benchmark", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=None if verbose else subprocess.PIPE,
        text=True,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"iacbench {args[0]} failed ({done.returncode}): {done.stderr}")
    return wall


def fresh_lints(run: Path) -> tuple[int, int]:
    """(linted rows cfn-lint linted afresh, linted rows) over every job of `run`."""
    fresh = linted = 0
    for job in job_dirs(run):
        rows = read_table(job, "attempts")
        judged = rows[rows["lint_as_of"].notna()]
        linted += len(judged)
        fresh += int((judged["lint_cached"] == False).sum())  # noqa: E712 (a pandas mask)
    return fresh, linted


def lint_calls(run: Path) -> int:
    """Templates cfn-lint linted in a sweep, from its jobs' job.json."""
    return sum(json.loads(p.read_text())["lint_calls"] for p in run.rglob("job.json"))


def run(ctx: Context) -> Section:
    work = ctx.work / "lint_cache"
    work.mkdir()
    overrides = QUICK_SWEEP if ctx.quick else FULL_SWEEP
    sweep_cache, rescore_cache, import_cache = (work / f"{n}.sqlite" for n in ("s", "r", "i"))

    def sweep(folder: str) -> float:
        args = ["sweep", *overrides, "progress=false", f"hydra.sweep.dir={work / folder}"]
        return iacbench(args, sweep_cache, ctx.verbose)

    sweep_cold, sweep_warm = sweep("sweep-1"), sweep("sweep-2")
    calls = {name: lint_calls(work / name) for name in ("sweep-1", "sweep-2")}

    def rescore(out: str) -> float:
        args = ["rescore", str(work / "sweep-1"), "--out", str(work / out)]
        return iacbench(args, rescore_cache, ctx.verbose)

    rescore_cold, rescore_warm = rescore("rescore-cold"), rescore("rescore-warm")
    cold_fresh, cold_linted = fresh_lints(work / "rescore-cold")
    warm_fresh, warm_linted = fresh_lints(work / "rescore-warm")

    repo = write_repository(work / "paper-repo", WarmLinter(LintSettings()).lint)

    def import_paper(out: str) -> float:
        args = ["import", "paper-run", str(repo), "--out", str(work / out), "--no-progress"]
        return iacbench(args, import_cache, ctx.verbose)

    import_cold, import_warm = import_paper("import-1"), import_paper("import-2")
    import_fresh = {name: fresh_lints(work / name)[0] for name in ("import-1", "import-2")}

    rows = [
        Row(
            "lint cache: rescore warm, lint calls",
            warm_fresh,
            str(warm_fresh),
            "0",
            warm_fresh == 0,
        ),
        at_most(
            "lint cache: rescore of an unchanged run, warm / cold",
            rescore_warm / rescore_cold,
            WARM_RESCORE_TARGET,
            digits=3,
        ),
        info("lint cache: rescore cold", rescore_cold, "s", 1),
        info("lint cache: rescore cold, lint calls", cold_fresh, "", 0),
        info("lint cache: default sweep, second / first", sweep_warm / sweep_cold, "×", 3),
        Row(
            "lint cache: default sweep, second run's lint calls",
            calls["sweep-2"],
            str(calls["sweep-2"]),
            "0",
            calls["sweep-2"] == 0,
        ),
        info("lint cache: default sweep, first run's lint calls", calls["sweep-1"], "", 0),
        info("lint cache: import-paper twice, second / first", import_warm / import_cold, "×", 3),
        Row(
            "lint cache: import-paper second, lint calls",
            import_fresh["import-2"],
            str(import_fresh["import-2"]),
            "0",
            import_fresh["import-2"] == 0,
        ),
    ]
    raw = {
        "sweep_overrides": overrides,
        "sweep_s": [sweep_cold, sweep_warm],
        "sweep_lint_calls": calls,
        "rescore_s": [rescore_cold, rescore_warm],
        "rescore_fresh_lints": [cold_fresh, warm_fresh],
        "rescore_linted_rows": [cold_linted, warm_linted],
        "import_paper_s": [import_cold, import_warm],
        "import_paper_fresh_lints": import_fresh,
    }
    return Section("lint_cache", rows, raw)
