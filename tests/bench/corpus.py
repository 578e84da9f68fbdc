"""The lint corpus: paper33's reference templates plus seeded broken variants of them."""

from __future__ import annotations

import random
from dataclasses import dataclass

from benchmark.problems.dataset import load_dataset
from benchmark.simulator import Mutation, find_sites, parse_template, render, stable_rng
from tests.bench import ROOT

DATASET = ROOT / "datasets" / "paper33"
MAX_MUTATIONS = 3


@dataclass(frozen=True)
class Template:
    name: str
    text: str
    suffix: str  # ".yaml" or ".json": what the per-template CLI run names its file


def build(size: int, seed: int = 0) -> list[Template]:
    """`size` distinct templates: every reference first, then variants round-robin by problem.

    Each variant has 1 to 3 non-overlapping mutations (misspelt property, wrong type, bad Ref,
    broken syntax, ...) drawn from a seeded rng, rendered as YAML or JSON in turn.
    """
    problems = [p for p in load_dataset(DATASET) if p.reference_template]
    out = [Template(f"{p.id}/ref", p.reference_template or "", ".yaml") for p in problems]
    parsed = [(p.id, parse_template(p.reference_template or "")) for p in problems]
    sites = {pid: find_sites(tree) for pid, tree in parsed}
    references = len(out)
    wanted = max(size - references, size - size // 2)  # --quick still gets variants
    seen = {t.text for t in out}
    variant = 0
    while len(out) - references < wanted:
        for pid, tree in parsed:
            fmt = "yaml" if variant % 2 == 0 else "json"
            rng = stable_rng("bench-corpus", seed, pid, variant)
            active: tuple[Mutation, ...] = ()
            for _ in range(rng.randint(1, MAX_MUTATIONS)):
                free = {
                    kind: [s for s in found if not any(s.overlaps(m) for m in active)]
                    for kind, found in sites[pid].items()
                }
                kinds = sorted(kind for kind, found in free.items() if found)
                if kinds:
                    active = (*active, rng.choice(free[rng.choice(kinds)]))
            text = render(tree, active, fmt)
            if text not in seen:
                seen.add(text)
                out.append(Template(f"{pid}/v{variant}", text, f".{fmt}"))
        variant += 1
    if size >= references:
        return out[:size]
    half = size // 2
    return sample(out[:references], half, seed) + sample(out[references:], size - half, seed)


def sample(templates: list[Template], n: int, seed: int = 0) -> list[Template]:
    """`n` templates drawn without replacement by a seeded rng, kept in corpus order."""
    if n >= len(templates):
        return list(templates)
    return [templates[i] for i in sorted(random.Random(seed).sample(range(len(templates)), n))]
