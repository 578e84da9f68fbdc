"""A seeded sample of the catalogue's sites on a dataset's reference templates (the site check
in studies/sitecheck.py and the plan's finding examples lint them)."""

from __future__ import annotations

import random
from pathlib import Path

from benchmark.problems.dataset import load_dataset
from benchmark.simulator.catalogue import CATALOGUE, find_sites
from benchmark.simulator.mutations import Mutation
from benchmark.simulator.template import parse_template


def sample_sites(
    dataset: str | Path, per_kind: int, seed: int = 0
) -> list[tuple[str, dict, Mutation]]:
    """Up to `per_kind` sites of each kind, spread over the dataset's problems (seeded)."""
    by_kind: dict[str, list[tuple[str, dict, Mutation]]] = {kind: [] for kind in CATALOGUE}
    for problem in load_dataset(dataset):
        if not problem.reference_template:
            continue
        tree = parse_template(problem.reference_template)
        for kind, sites in find_sites(tree).items():
            by_kind[kind] += [(problem.id, tree, m) for m in sites]
    rng = random.Random(seed)
    picked = []
    for sites in by_kind.values():
        picked += rng.sample(sites, per_kind) if len(sites) > per_kind else sites
    return picked
