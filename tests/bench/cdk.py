"""CDK synth: templates per second per sandboxed worker, warm (fork per template) vs cold.

The app is the issue's: a bucket, an inline Lambda function and a grant. Both ways run one
worker under bubblewrap (unshare where it is missing) with the default walls:

- **cold**: a fresh sandbox per template (interpreter start, `import aws_cdk`, Node, synth):
  `SynthPool(isolation="fresh")`;
- **warm**: one worker that imported aws_cdk once and forks a child per template
  (`SynthPool(isolation="fork")`, the default); its start (import + warm-up synth) is
  reported apart.

The jsii package cache is warm for both (filled before either is timed). Memory: the warm
worker's cgroup peak (page cache included) and its resident set at the end.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from benchmark.validators.cdk.pool import SynthPool
from benchmark.validators.cdk.sandbox import SandboxSettings, cdk_available
from tests.bench import Context, Row, Section, at_least, info

APP = """import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_, aws_s3 as s3


class AppStack(cdk.Stack):
    def __init__(self, scope, construct_id, **kwargs):
        super().__init__(scope, construct_id, **kwargs)
        bucket = s3.Bucket(self, "Data", versioned=True)
        fn = lambda_.Function(
            self,
            "Reader",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="index.handler",
            code=lambda_.Code.from_inline("def handler(event, context):\\n    return {}\\n"),
            environment={"BUCKET": bucket.bucket_name},
        )
        bucket.grant_read(fn)
"""
WARM_TARGET = 10.0  # warm must be at least this many times the cold rate


def resident_mib(pool: SynthPool) -> float:
    """Resident set (anonymous memory, no page cache) of the pool's one worker cgroup."""
    worker = next(iter(pool._all))
    for path in worker.cgroup.dirs.values():
        stat = path / "memory.stat"
        if stat.exists():
            values = dict(line.split() for line in stat.read_text().splitlines())
            return int(values.get("total_rss", values.get("anon", 0))) / 2**20
    return 0.0


async def measure(templates: int, isolation: str) -> dict[str, Any]:
    pool = SynthPool(SandboxSettings(), workers=1, isolation=isolation)  # type: ignore[arg-type]
    clock = time.perf_counter()
    try:
        await pool.start()
        start_s = time.perf_counter() - clock
        clock = time.perf_counter()
        outcomes = [await pool.synth(APP) for _ in range(templates)]
        synth_s = time.perf_counter() - clock
        rss = resident_mib(pool) if isolation == "fork" else 0.0
    finally:
        pool.close()
    bad = [o for o in outcomes if o.status != "ok"]
    if bad:
        raise RuntimeError(f"cdk bench: {len(bad)} synths failed: {bad[0]}")
    return {
        "isolation": isolation,
        "kind": pool.kind,
        "templates": templates,
        "start_s": start_s,
        "synth_s": synth_s,
        "s_per_template": synth_s / templates,
        "per_template_s": [o.seconds for o in outcomes],
        "memory_peak_mib": max(pool.memory_peaks, default=0) / 2**20,
        "resident_mib": rss,
        "cgroup_problem": pool.cgroup_problem,
    }


def run(ctx: Context) -> Section:
    missing = cdk_available()
    if missing:
        return Section("cdk", [Row("cdk: skipped", 0.0, missing)], {"skipped": missing})
    cold_n, warm_n = (1, 3) if ctx.quick else (5, 40)
    warm = asyncio.run(measure(warm_n, "fork"))  # first: it fills the jsii cache if empty
    cold = asyncio.run(measure(cold_n, "fresh"))
    ratio = cold["s_per_template"] / warm["s_per_template"]
    rows = [
        info(
            f"cdk: cold, fresh sandbox per template ({cold['kind']})", cold["s_per_template"], "s"
        ),
        info("cdk: warm, fork per template", warm["s_per_template"], "s", 3),
        info("cdk: warm templates/s per worker", 1 / warm["s_per_template"], "/s", 1),
        info("cdk: cold templates/s per worker", 1 / cold["s_per_template"], "/s", 2),
        at_least("cdk: warm / cold templates per second", ratio, WARM_TARGET, digits=1),
        info("cdk: warm worker start (import + warm-up synth)", warm["start_s"], "s", 1),
        info("cdk: warm worker memory, cgroup peak", warm["memory_peak_mib"], "MiB", 0),
        info("cdk: warm worker resident set", warm["resident_mib"], "MiB", 0),
    ]
    return Section("cdk", rows, {"warm": warm, "cold": cold})
