"""Another cfn-lint release's pool (its own environment, JSON lines to worker processes) vs
that release's warm engine in one process, and vs the pinned release's in-process pool.

The release is `BENCH_CFN_LINT` (default 1.3.5); its environment is the harness's own cache
(`runs/.cache/cfn-lint`), built on first use, before anything is timed. The corpus is linted
in rounds with the variants in a rotating order, as in the `lint` benchmark; the pools' caches
are off. The pinned pool runs other rules, so that ratio is information, not a target.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from datetime import date
from pathlib import Path
from typing import Any

from benchmark.progress import progress_bar
from benchmark.validators.cfn_lint.envs import ensure_env
from benchmark.validators.cfn_lint.pools import ENGINE_SCRIPT
from benchmark.validators.cfn_lint.validator import CfnLintValidator, LintSettings
from tests.bench import ROOT, Context, Row, Section, at_least, info
from tests.bench.corpus import Template, build

RELEASE = os.environ.get("BENCH_CFN_LINT", "1.3.5")
AS_OF = date(2024, 8, 1)
ENVS = ROOT / "runs" / ".cache" / "cfn-lint"

# the same engine the pool runs, in one process of the release's own Python, timed there
_ALONE = """\
import json, sys, time
sys.path.insert(0, sys.argv[1])
from engine import Engine
texts = json.load(open(sys.argv[2]))
engine = Engine({"as_of": sys.argv[3]})
for text in texts[:3]:
    engine.lint(text)
start = time.perf_counter()
keys = [sorted((f["rule_id"], f["line"], f["column"]) for f in engine.lint(t)[0]) for t in texts]
print(json.dumps({"seconds": time.perf_counter() - start, "keys": keys}))
"""


def alone(python: Path, texts: list[str], folder: Path) -> tuple[float, list[Any]]:
    corpus = folder / "texts.json"
    corpus.write_text(json.dumps(texts))
    done = subprocess.run(
        [str(python), "-s", "-c", _ALONE, str(ENGINE_SCRIPT.parent), str(corpus), str(AS_OF)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
        timeout=3600,
    )
    if done.returncode:
        raise RuntimeError(f"warm engine of {RELEASE} failed: {done.stderr[-2000:]}")
    out = json.loads(done.stdout)
    return out["seconds"], [[tuple(k) for k in found] for found in out["keys"]]


async def pooled(pool: CfnLintValidator, batch: list[Template]) -> tuple[float, list[Any]]:
    start = time.perf_counter()
    results = await asyncio.gather(*(pool.lint(t.text) for t in batch))
    keys = [sorted((f.rule_id, f.line, f.column) for f in found) for found in results]
    return time.perf_counter() - start, keys


async def measure(ctx: Context) -> dict[str, Any]:
    python = ensure_env(RELEASE, ENVS)
    corpus = build(8 if ctx.quick else 165)
    rounds = 2 if ctx.quick else 5
    folder = ctx.work / "lint_envs"
    folder.mkdir(parents=True, exist_ok=True)
    settings = LintSettings(as_of=AS_OF)
    pools = {
        "external1": CfnLintValidator(
            settings, workers=1, cache_size=0, cfn_lint_version=RELEASE, envs_dir=ENVS
        ),
        "external2": CfnLintValidator(
            settings, workers=2, cache_size=0, cfn_lint_version=RELEASE, envs_dir=ENVS
        ),
        "pinned2": CfnLintValidator(settings, workers=2, cache_size=0),
    }
    seconds = dict.fromkeys((*pools, "alone"), 0.0)
    found: dict[str, list[Any]] = {name: [] for name in seconds}
    try:
        for pool in pools.values():  # every worker up and warm before anything is timed
            await pool.prepare()
            await asyncio.gather(*(pool.lint(t.text + "\n") for t in corpus[:4]))
        for r in progress_bar(range(rounds), desc="lint env rounds", unit="round", leave=False):
            chunk = corpus[r::rounds]
            names = [*pools, "alone"]
            for name in names[r % len(names) :] + names[: r % len(names)]:
                if name == "alone":
                    spent, keys = alone(python, [t.text for t in chunk], folder)
                else:
                    spent, keys = await pooled(pools[name], chunk)
                seconds[name] += spent
                found[name].extend(keys)
    finally:
        for pool in pools.values():
            pool.close()
    return {
        "release": RELEASE,
        "as_of": AS_OF.isoformat(),
        "corpus": len(corpus),
        "rounds": rounds,
        "seconds": seconds,
        "same_findings": found["external1"] == found["external2"] == found["alone"],
    }


def run(ctx: Context) -> Section:
    raw = asyncio.run(measure(ctx))
    n, s = raw["corpus"], raw["seconds"]
    rate = {k: n / v for k, v in s.items()}
    raw["templates_per_s"] = rate
    release = raw["release"]
    rows: list[Row] = [
        info(f"lint {release}: warm engine, 1 process ({n} templates)", rate["alone"], "tpl/s"),
        info(f"lint {release}: external pool, 1 worker", rate["external1"], "tpl/s"),
        info(f"lint {release}: external pool, 2 workers", rate["external2"], "tpl/s"),
        at_least(
            f"lint {release}: external pool(1) vs warm engine",
            rate["external1"] / rate["alone"],
            0.9,
        ),
        info(
            f"lint {release}: external pool(2) vs pool(1)",
            rate["external2"] / rate["external1"],
            "×",
        ),
        info(
            f"lint: external pool(2) {release} vs pinned pool(2)",
            rate["external2"] / rate["pinned2"],
            "×",
        ),
        Row(
            f"lint {release}: identical findings, pool and engine",
            float(raw["same_findings"]),
            "yes" if raw["same_findings"] else "differ",
            "all equal",
            raw["same_findings"],
        ),
    ]
    return Section("lint_envs", rows, raw)
