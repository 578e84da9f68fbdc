"""Cost: a paper-sized experiment billed online without caching, and in batch mode with caching.

paper33's 33 problems x 5 samples x 10 iterations, both protocols, on the Anthropic loopback
(claude-sonnet-4-5's prices, its 1,024-token minimum cacheable prompt), which counts tokens
from the texts and keeps Anthropic's prompt cache as documented (tests/loopback_usage.py).
Every reply is a seeded broken variant of the problem's reference template (bench corpus), so
every chain runs all 10 iterations with real cfn-lint feedback: the longest, most expensive
case. Each sample gets its own reply (a marker outside the template), so no two chains share
a history. Billed cost = the jobs' own `cost_usd` (the usage the server reported, priced from
prices.yaml); the figure per protocol is batch + caching / online without caching.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from benchmark.problems.dataset import load_dataset
from benchmark.records.tables import read_table
from tests.bench import Context, Section, at_most, info
from tests.bench.corpus import DATASET, build
from tests.bench.jobs import run_job
from tests.loopback import LoopbackServer
from tests.loopback_usage import CountedUsage

MODEL = "anthropic/claude-sonnet-4-5"
FULL = {"problems": 33, "samples": 5, "iterations": 10}
QUICK = {"problems": 3, "samples": 2, "iterations": 3}
# (label, batch, prompt cache, its TTL): the baseline, caching alone, both (batch mode's 1-hour
# TTL by default), and both at the 5-minute TTL (for rounds known to end within minutes)
MODES = (
    ("online", False, "off", "auto"),
    ("online+cache", False, "auto", "auto"),
    ("batch+cache", True, "auto", "auto"),
    ("batch+cache 5m", True, "auto", "5m"),
)
QUICK_MODES = ("online", "batch+cache")
TARGETS = {"conversation": 0.35, "stateless": 0.5}
_PROBLEM = re.compile(r"# bench (\S+)")
_SAMPLE = re.compile(r"\(bench sample (\d+)\)")


class BrokenVariants:
    """Replies: the problem's broken variant, marked with the sample it was drawn for."""

    def __init__(self, templates: Mapping[str, str], prompts: Mapping[str, str]) -> None:
        self.templates = {pid: f"# bench {pid}\n{text}" for pid, text in templates.items()}
        self.prompts = prompts
        self._drawn: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, body: dict[str, Any], path: str) -> str:
        texts = [_text(body.get("system"))] + [_text(m["content"]) for m in body["messages"]]
        whole = "\n".join(texts)
        marked = _PROBLEM.search(whole)
        if marked:  # a repair: the chain's own template (and, in a conversation, its sample)
            problem = marked.group(1)
            sample = _SAMPLE.search(whole)
            variant = int(sample.group(1)) if sample else 0
        else:  # a generation: the samples of a problem send the same request; draw in turn
            problem = next(pid for pid, prompt in self.prompts.items() if prompt in whole)
            with self._lock:
                variant = self._drawn[problem]
                self._drawn[problem] += 1
        return f"```yaml\n{self.templates[problem]}\n```\n(bench sample {variant})"


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in content or [] if isinstance(b, dict))


@dataclass
class Billed:
    attempts: int
    cost_usd: float
    input_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    output_tokens: int
    job_s: float


def run_mode(
    ctx: Context,
    size: dict[str, int],
    protocol: str,
    mode: tuple[str, bool, str, str],
    replies: BrokenVariants,
) -> Billed:
    label, batch, cache, ttl = mode
    folder = ctx.work / "cost" / f"{protocol}-{label.replace(' ', '-')}"
    with LoopbackServer(replies, usage=CountedUsage()) as server:
        overrides = [
            f"model.id={MODEL}",
            f"model.providers.anthropic.base_url={server.anthropic_base_url}",
            f"model.batch={str(batch).lower()}",
            "model.batch_poll_s=0.05",
            f"model.prompt_cache={cache}",
            f"model.prompt_cache_ttl={ttl}",
            "dataset=paper33",
            f"dataset.limit={size['problems']}",
            "prompts=structured",
            f"loop.protocol={protocol}",
            f"loop.samples={size['samples']}",
            f"loop.max_iterations={size['iterations']}",
            "loop.concurrency=16",
            *ctx.job_overrides,
            "cache.enabled=false",
            f"progress={str(ctx.verbose).lower()}",
            f"hydra.run.dir={folder}",
        ]
        job = run_job(overrides, folder, verbose=ctx.verbose, keys={"ANTHROPIC_API_KEY": "sk-ant"})
    attempts = read_table(folder, "attempts")
    chains = size["problems"] * size["samples"]
    if len(attempts) != chains * size["iterations"] or attempts["model_error"].notna().any():
        raise RuntimeError(f"{protocol} {label}: expected every chain to run to the end: {job}")
    return Billed(
        len(attempts),
        float(attempts["cost_usd"].sum()),
        int(attempts["input_tokens"].sum()),
        int(attempts["cached_tokens"].sum()),
        int(attempts["cache_write_tokens"].sum()),
        int(attempts["output_tokens"].sum()),
        job.job_s,
    )


def run(ctx: Context) -> Section:
    size = QUICK if ctx.quick else FULL
    problems = load_dataset(DATASET)[: size["problems"]]
    # the first seeded broken variant of each problem's reference template
    variants = {t.name.split("/")[0]: t.text for t in build(66) if t.name.endswith("/v0")}
    templates = {p.id: variants[p.id] for p in problems}
    prompts = {p.id: p.prompt.strip() for p in problems}
    raw: dict[str, Any] = {"size": size, "model": MODEL}
    rows = []
    for protocol in ("conversation",) if ctx.quick else ("conversation", "stateless"):
        modes = [
            m
            for m in MODES
            if (not ctx.quick or m[0] in QUICK_MODES)
            and (protocol == "conversation" or not m[0].endswith("5m"))  # nothing to cache
        ]
        billed = {
            mode[0]: run_mode(ctx, size, protocol, mode, BrokenVariants(templates, prompts))
            for mode in modes
        }
        raw[protocol] = {label: vars(b) for label, b in billed.items()}
        base = billed["online"].cost_usd
        both = billed["batch+cache"].cost_usd / base
        rows += [
            info(f"cost: {protocol}, online without caching", base, "$", 2),
            at_most(f"cost: {protocol}, batch + caching / online", both, TARGETS[protocol], "×", 3),
        ]
        for label in ("online+cache", "batch+cache 5m"):
            if label in billed:
                name = f"cost: {protocol}, {label.replace('+', ' + ')} / online"
                rows.append(info(name, billed[label].cost_usd / base, "×", 3))
        reads = billed["batch+cache"].cached_tokens / billed["batch+cache"].input_tokens
        name = f"cost: {protocol}, input read from the cache (batch)"
        rows.append(info(name, 100 * reads, "%", 1))
    return Section("cost", rows, raw)
