"""Lint throughput: the harness pool vs a cfn-lint process per template, fresh API, warm runner.

The corpus is linted in rounds; each round puts one slice of it through every variant in a
rotating order, so drift in machine load falls on all of them alike. The slow variants (a
`cfn-lint` process per template, a fresh `cfnlint.api.lint()` per template) run on a seeded
sample, and the harness's pool is timed on the same templates one at a time for the ratios.
The pool's result cache is off (`cache_size=0`: every entry is evicted at once, and hits are
checked to be 0), so every call really lints. A pure-Python loop run in one process, then in
two at once, measures in the same rounds how much a second process can gain on this machine
at the moment (other work shares its cores).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from benchmark.progress import progress_bar
from benchmark.validators.base import Finding
from benchmark.validators.cfn_lint.validator import CfnLintValidator, LintSettings, WarmLinter
from tests.bench import ROOT, Context, Row, Section, at_least, info
from tests.bench.corpus import Template, build, sample

Key = tuple[Any, ...]
REGIONS = ("us-east-1",)
CLI = Path(sys.executable).with_name("cfn-lint")
WARMUP = sorted((ROOT / "datasets" / "smoke").glob("*.yaml"))  # not in the corpus


def keys(findings: list[Finding]) -> list[Key]:
    return sorted(f.key for f in findings)


def cli_keys(template: Template, folder: Path, mandatory: list[str]) -> list[Key]:
    """One `cfn-lint --format json` process for one template file (the paper's way)."""
    path = folder / f"template{template.suffix}"
    path.write_text(template.text, encoding="utf-8")
    command = [str(CLI), "--format", "json", "--regions", *REGIONS]
    command += ["--config-file", os.devnull, "--mandatory-checks", *mandatory, "--", str(path)]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, cwd=folder, env=env)
    if done.returncode & 1 or not done.stdout:  # 2, 4, 8: errors, warnings, infos found
        raise RuntimeError(f"cfn-lint failed on {template.name}: {done.stderr[-2000:]}")
    return sorted(
        (
            item["Rule"]["Id"],
            item["Location"]["Start"]["LineNumber"],
            item["Location"]["Start"]["ColumnNumber"],
            tuple(str(p) for p in item["Location"].get("Path") or ()),
        )
        for item in json.loads(done.stdout)
    )


def api_keys(template: Template, mandatory: list[str]) -> list[Key]:
    """A fresh `cfnlint.api.lint()`: rules are rebuilt on every call."""
    from cfnlint.api import lint
    from cfnlint.config import ManualArgs

    from benchmark.validators.cfn_lint.validator import finding_from_match

    config = ManualArgs(regions=list(REGIONS), mandatory_checks=mandatory)
    config["config_file"] = os.devnull  # type: ignore[typeddict-unknown-key]  # no .cfnlintrc
    return keys([finding_from_match(m) for m in lint(template.text, config=config)])


def burn(n: int) -> int:
    """CPU work with no I/O and no memory traffic: the machine's parallel-capacity probe."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def start_cpu_probe() -> ProcessPoolExecutor:
    """Two spawned processes, both running (a pair of tasks lands on two distinct pids)."""
    cpu = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))
    for _ in range(100):
        if len({f.result() for f in [cpu.submit(pid_after, 0.1) for _ in range(2)]}) == 2:
            return cpu
    cpu.shutdown()
    raise RuntimeError("the second probe process never started")


def capacity_probe(cpu: ProcessPoolExecutor, n: int) -> tuple[float, float]:
    """Seconds for one `burn(n)` alone, and for two side by side."""
    one, _ = timed(lambda: cpu.submit(burn, n).result())
    two, _ = timed(lambda: [f.result() for f in [cpu.submit(burn, n) for _ in range(2)]])
    return one, two


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = call()
    return time.perf_counter() - start, out


async def pool_batch(pool: CfnLintValidator, batch: list[Template]) -> tuple[float, list]:
    """Seconds to lint `batch` submitted all at once, and the findings' keys per template."""
    start = time.perf_counter()
    results = await asyncio.gather(*(pool.lint(t.text) for t in batch))
    return time.perf_counter() - start, [keys(r) for r in results]


class Rounds:
    """The variants under test and what they have measured so far."""

    def __init__(self, quick: bool, folder: Path) -> None:
        settings = LintSettings(regions=REGIONS)
        self.folder = folder
        self.warm = WarmLinter(settings)
        self.pools = {n: CfnLintValidator(settings, workers=n, cache_size=0) for n in (1, 2)}
        self.cpu = start_cpu_probe()
        self.burn_n = 200_000 if quick else 2_000_000
        self.seconds = dict.fromkeys(("warm", "pool1", "pool2", "cpu1", "cpu2"), 0.0)
        self.on_sample = dict.fromkeys(("cli", "api", "warm", "pool1"), 0.0)
        self.found: dict[str, dict[str, list[Key]]] = {k: {} for k in ("warm", "pool1", "pool2")}
        self.found_sample: dict[str, dict[str, list[Key]]] = {k: {} for k in self.on_sample}

    async def warm_up(self) -> None:
        """Lint a few templates outside the corpus everywhere: every worker is up and warm."""
        texts = [p.read_text() for p in WARMUP]
        for text in texts:
            self.warm.lint(text)
        for pool in self.pools.values():
            await asyncio.gather(*(pool.lint(t) for t in texts * 2))

    async def corpus_round(self, chunk: list[Template], r: int) -> None:
        """One slice of the corpus through the warm runner and both pools, and the CPU probe."""
        for variant in _rotate(["warm", "pool1", "pool2", "cpu"], r):
            if variant == "cpu":
                one, two = capacity_probe(self.cpu, self.burn_n)
                self.seconds["cpu1"] += one
                self.seconds["cpu2"] += two
            elif variant == "warm":
                for t in chunk:
                    spent, self.found["warm"][t.name] = timed(lambda t=t: self.warm_keys(t))
                    self.seconds["warm"] += spent
            else:
                spent, batch = await pool_batch(self.pools[int(variant[-1])], chunk)
                self.seconds[variant] += spent
                self.found[variant].update(zip((t.name for t in chunk), batch, strict=True))

    async def sample_round(self, t: Template, r: int) -> None:
        """One template of the sample through all four ways of linting, one at a time."""
        mandatory = self.warm.mandatory
        for variant in _rotate(list(self.on_sample), r):
            if variant == "pool1":
                spent, batch = await pool_batch(self.pools[1], [t])
                result = batch[0]
            elif variant == "cli":
                spent, result = timed(lambda: cli_keys(t, self.folder, mandatory))
            elif variant == "api":
                spent, result = timed(lambda: api_keys(t, mandatory))
            else:
                spent, result = timed(lambda: self.warm_keys(t))
            self.on_sample[variant] += spent
            self.found_sample[variant][t.name] = result

    def warm_keys(self, t: Template) -> list[Key]:
        return keys(self.warm.lint(t.text))

    def close(self) -> None:
        for pool in self.pools.values():
            pool.close()
        self.cpu.shutdown()


async def measure(ctx: Context) -> dict[str, Any]:
    corpus = build(8 if ctx.quick else 330)
    picked = sample(corpus, 1 if ctx.quick else 20)  # each costs a CLI process and a fresh API
    rounds = 2 if ctx.quick else 10
    folder = ctx.work / "lint"
    folder.mkdir(parents=True, exist_ok=True)
    state = Rounds(ctx.quick, folder)
    try:
        await state.warm_up()
        for r in progress_bar(range(rounds), desc="lint rounds", unit="round", leave=False):
            await state.corpus_round(corpus[r::rounds], r)
            for t in picked[r::rounds]:
                await state.sample_round(t, r)
        hits = {n: pool.stats.cache_hits for n, pool in state.pools.items()}
    finally:
        state.close()
    if any(hits.values()):
        raise RuntimeError(f"the pool's cache answered {hits}: the timings are not all linting")
    return {
        "corpus": len(corpus),
        "sample": [t.name for t in picked],
        "rounds": rounds,
        "seconds": state.seconds,
        "seconds_on_sample": state.on_sample,
        "mandatory_checks": len(state.warm.mandatory),
        "dirty_templates": sum(bool(k) for k in state.found["warm"].values()),
        "mismatches": _mismatches(state.found) + _mismatches(state.found_sample),
        "cache": "off (cache_size=0), hits 0",
    }


def _rotate(items: list[str], r: int) -> list[str]:
    r %= len(items)
    return items[r:] + items[:r]


def _mismatches(found: dict[str, dict[str, list[Key]]]) -> list[str]:
    """Template names whose findings differ between any two variants."""
    reference = next(iter(found.values()))
    return [
        f"{name}: {variant}"
        for variant, per in found.items()
        for name, k in per.items()
        if k != reference[name]
    ]


def run(ctx: Context) -> Section:
    raw = asyncio.run(measure(ctx))
    n, s, on = raw["corpus"], raw["seconds"], raw["seconds_on_sample"]
    picked = len(raw["sample"])
    rate = {k: n / s[k] for k in ("warm", "pool1", "pool2")}
    capacity = 2 * s["cpu1"] / s["cpu2"]
    raw["cpu_capacity_2_processes"] = capacity
    sample_rate = {k: picked / v for k, v in on.items()}
    raw["templates_per_s"] = rate
    raw["templates_per_s_on_sample"] = sample_rate
    identical = not raw["mismatches"]
    rows: list[Row] = [
        info(f"lint: warm runner, 1 process ({n} templates)", rate["warm"], "tpl/s"),
        info("lint: harness pool, 1 worker", rate["pool1"], "tpl/s"),
        info("lint: harness pool, 2 workers", rate["pool2"], "tpl/s"),
        info(f"lint: cfn-lint process per template ({picked})", sample_rate["cli"], "tpl/s"),
        info(f"lint: fresh cfnlint.api.lint() ({picked})", sample_rate["api"], "tpl/s"),
        at_least("lint: pool(1) vs process per template", on["cli"] / on["pool1"], 20),
        info("lint: pool(1) vs fresh api.lint()", on["api"] / on["pool1"], "×"),
        at_least("lint: pool(1) vs warm runner", rate["pool1"] / rate["warm"], 0.9),
        at_least("lint: pool(2) vs pool(1)", rate["pool2"] / rate["pool1"], 1.8),
        info("machine: 2 processes vs 1, pure CPU loop", capacity, "×"),
        info("lint: pool(2) vs pool(1), over that", rate["pool2"] / rate["pool1"] / capacity, "×"),
        Row(
            "lint: identical findings, all variants",
            float(identical),
            f"{n}/{n} + {picked}/{picked}" if identical else f"{len(raw['mismatches'])} differ",
            "all equal",
            identical,
        ),
    ]
    return Section("lint", rows, raw)
