"""Rate limits: the same job against a rate-limited loopback, adaptive vs fixed concurrency 8.

The loopback admits `TOKENS_PER_S` tokens a second (a bucket of `WINDOW_S` seconds' worth, its
headers in OpenAI's vocabulary, 429s with retry-after), requests unlimited, and answers after
0.5 s. Eight calls in flight would ask for about four times the limit. Both jobs have
`max_concurrency=8`; the adaptive one reads the headers (`adapt_to_rate_limits=true`, the
default), the fixed one does not. Achieved rate = tokens the server admitted between its first
and last admission ÷ what the limit allowed in that span (one full bucket plus the refill).
"""

from __future__ import annotations

from typing import Any

from benchmark.records.tables import read_table
from tests.bench import Context, Row, Section, at_least, at_most, info
from tests.bench.jobs import Replies, Size, command, run_job, write_problems
from tests.loopback import LoopbackServer
from tests.loopback_limits import RateLimit
from tests.loopback_usage import CountedUsage

FULL = Size(problems=24, samples=2, iterations=3, concurrency=8, latency_s=0.5)
QUICK = Size(problems=3, samples=2, iterations=2, concurrency=8, latency_s=0.1)
TOKENS_PER_S = 600
WINDOW_S = 10.0


def one_job(ctx: Context, size: Size, adaptive: bool) -> dict[str, Any]:
    label = "adaptive" if adaptive else "fixed"
    folder = ctx.work / "ratelimits" / label
    dataset = write_problems(folder / "dataset", size.problems)
    limit = RateLimit(requests=100_000, tokens=int(TOKENS_PER_S * WINDOW_S), window_s=WINDOW_S)
    server = LoopbackServer(
        Replies(size.iterations),
        latency_s=size.latency_s,
        usage=CountedUsage(prompt_cache=False),
        rate_limit=limit,
    )
    with server:
        run_dir = folder / "run"
        overrides = command(run_dir, dataset, server.openai_base_url, size, progress=ctx.verbose)
        overrides += ctx.job_overrides
        overrides.append(
            f"model.providers.openai_compatible.adapt_to_rate_limits={str(adaptive).lower()}"
        )
        job = run_job(overrides, run_dir, verbose=ctx.verbose)
    attempts = read_table(run_dir, "attempts")
    first, last = limit.admitted[0][0], limit.admitted[-1][0]
    span = last - first
    admitted = sum(tokens for _, tokens in limit.admitted)
    allowed = limit.tokens + TOKENS_PER_S * span
    calls = len(limit.admitted) + len(limit.rejected)
    return {
        "job_s": job.job_s,
        "span_s": span,
        "tokens_admitted": admitted,
        "tokens_allowed": allowed,
        "achieved": admitted / allowed,
        "calls": calls,
        "throttled": len(limit.rejected),
        "throttled_share": len(limit.rejected) / calls,
        "attempts": len(attempts),
        "failed_attempts": int(attempts["model_error"].notna().sum()),
        "max_in_flight": server.max_in_flight,
    }


def run(ctx: Context) -> Section:
    size = QUICK if ctx.quick else FULL
    adaptive, fixed = one_job(ctx, size, True), one_job(ctx, size, False)
    raw = {"size": vars(size), "tokens_per_s": TOKENS_PER_S, "window_s": WINDOW_S}
    raw |= {"adaptive": adaptive, "fixed": fixed}
    failed = adaptive["failed_attempts"]
    rows = [
        at_least("ratelimits: adaptive, achieved / allowed rate", adaptive["achieved"], 0.9),
        at_most("ratelimits: adaptive, 429s / calls", 100 * adaptive["throttled_share"], 2, "%"),
        Row("ratelimits: adaptive, failed attempts", failed, str(failed), "0", failed == 0),
        info("ratelimits: fixed 8, achieved / allowed rate", fixed["achieved"], "×"),
        info("ratelimits: fixed 8, 429s / calls", 100 * fixed["throttled_share"], "%", 1),
        info("ratelimits: fixed 8, failed attempts", fixed["failed_attempts"], "", 0),
        info("ratelimits: calls in flight at most, adaptive", adaptive["max_in_flight"], "", 0),
        info("ratelimits: job time, adaptive / fixed", adaptive["job_s"] / fixed["job_s"], "×"),
    ]
    return Section("ratelimits", rows, raw)
