"""How the simulator writes CDK: which mistakes a first app makes, which a repair fixes.

An ASSUMPTION, SET BY HAND, NOT MEASURED on any model (as editing.py's rates): it lets
`make sweep DATASET=paper33-cdk` run offline with findings from every stage. A profile may
override any of these under a `cdk:` section:

    cdk:
      clean: 0.2                  # chance a first app has no mistake
      kinds:                      # chance each kind is in a first app that has mistakes
        syntax_slip: 0.1          #   (where the app has a site of it; at least one is made)
        misspelt_keyword: 0.35
        wrong_enum: 0.3
        invalid_name: 0.25
        escape_hatch: 0.3
        missing_grant: 0.3
      fix:                        # chance a repair fixes a mistake its feedback shows
        syntax_slip: 0.95
        misspelt_keyword: 0.9
        wrong_enum: 0.85
        invalid_name: 0.8
        escape_hatch: 0.7
        missing_grant: 0.6
      persistent: 0.15            # share of a chain's mistakes it keeps missing: fixed,
      persistent_fix: 0.05        #   when shown, only at this chance (curves plateau)
      introduce_when_fixing: 0.1  # chance a repair that fixed something makes a new mistake
      introduce_otherwise: 0.02   # ... one that fixed nothing

A mistake is shown when its rule id is in the feedback and its signature (the misspelt word,
the bad value) too, or, if the feedback carries no signature of that rule's mistakes, when it
is the first of them in the app (the one that raised: synth stops at the first exception). A
missing grant is shown only when the feedback names a failed intent check it fails. Draws use
the chain's seeded stream (behaviour.Chain): the same position gives the same reply.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmark.simulator.behaviour import Chain, mentions, stable_rng
from benchmark.simulator.cdk.mutation import KINDS, CdkMutation
from benchmark.simulator.effort import NO_EFFECT, EffortLevel

DEFAULT_KINDS = {
    "syntax_slip": 0.1,
    "misspelt_keyword": 0.35,
    "wrong_enum": 0.3,
    "invalid_name": 0.25,
    "escape_hatch": 0.3,
    "missing_grant": 0.3,
}
DEFAULT_FIX = {
    "syntax_slip": 0.95,
    "misspelt_keyword": 0.9,
    "wrong_enum": 0.85,
    "invalid_name": 0.8,
    "escape_hatch": 0.7,
    "missing_grant": 0.6,
}
SCALARS = ("clean", "persistent", "persistent_fix", "introduce_when_fixing")
SCALARS += ("introduce_otherwise",)


class CdkRatesError(ValueError):
    """A bad `cdk` section of a profile (one line naming the key)."""


@dataclass(frozen=True)
class CdkRates:
    clean: float = 0.2
    kinds: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_KINDS))
    fix: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_FIX))
    persistent: float = 0.15
    persistent_fix: float = 0.05
    introduce_when_fixing: float = 0.1
    introduce_otherwise: float = 0.02


DEFAULT_CDK_RATES = CdkRates()


def _probability(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CdkRatesError(f"{where}: expected a number")
    if not 0.0 <= value <= 1.0:
        raise CdkRatesError(f"{where}: a probability within [0, 1], got {value}")
    return float(value)


def cdk_rates(data: Mapping[str, Any], where: str = "profile") -> CdkRates:
    """The `cdk` section of a profile's data (none: `DEFAULT_CDK_RATES`); CdkRatesError if bad.
    A section gives only the keys it changes."""
    section = data.get("cdk")
    if section is None:
        return DEFAULT_CDK_RATES
    if not isinstance(section, Mapping):
        raise CdkRatesError(f"{where}: cdk: expected a mapping")
    unknown = sorted(set(section) - {*SCALARS, "kinds", "fix"})
    if unknown:
        raise CdkRatesError(f"{where}: cdk: unknown key {unknown[0]!r}")
    values: dict[str, Any] = {
        key: _probability(section[key], f"{where}: cdk.{key}") for key in SCALARS if key in section
    }
    for key, default in (("kinds", DEFAULT_KINDS), ("fix", DEFAULT_FIX)):
        given = section.get(key) or {}
        if not isinstance(given, Mapping):
            raise CdkRatesError(f"{where}: cdk.{key}: expected a mapping of kind to probability")
        for kind in given:
            if kind not in KINDS:
                raise CdkRatesError(f"{where}: cdk.{key}.{kind}: not a kind ({', '.join(KINDS)})")
        values[key] = {
            kind: _probability(given.get(kind, default[kind]), f"{where}: cdk.{key}.{kind}")
            for kind in KINDS
        }
    return CdkRates(**values)


@dataclass(frozen=True)
class CdkProblem:
    """A cdk-python problem as the simulator sees it: its reference app and every site."""

    id: str
    reference: str
    sites_by_kind: Mapping[str, Sequence[CdkMutation]]

    @property
    def sites(self) -> list[CdkMutation]:
        return [m for kind in KINDS for m in self.sites_by_kind.get(kind, ())]

    def canonical(self, active: Sequence[CdkMutation]) -> tuple[CdkMutation, ...]:
        return tuple(sorted(active, key=lambda m: (m.start, m.key)))

    def free(self, kind: str, active: Sequence[CdkMutation]) -> list[CdkMutation]:
        sites = self.sites_by_kind.get(kind, ())
        return [s for s in sites if not any(s.overlaps(m) for m in active)]


def shown(m: CdkMutation, active: Sequence[CdkMutation], feedback: str) -> bool:
    """Whether the feedback shows mistake `m` of the app whose mistakes are `active`."""
    if m.kind == "missing_grant":
        return any(description in feedback for description in m.checks)
    if not mentions(feedback, m.rule_id):
        return False
    same = [a for a in active if a.rule_id == m.rule_id and a.kind != "missing_grant"]
    if any(a.signature and a.signature in feedback for a in same):
        return bool(m.signature) and m.signature in feedback
    return m == min(same, key=lambda a: a.start)


@dataclass(frozen=True)
class CdkBehaviour:
    rates: CdkRates = DEFAULT_CDK_RATES

    def first_draw(
        self, problem: CdkProblem, chain: Chain, effort: EffortLevel = NO_EFFECT
    ) -> tuple[CdkMutation, ...]:
        rng = chain.rng()
        if rng.random() < effort.clean_chance(self.rates.clean):
            return ()
        active: tuple[CdkMutation, ...] = ()
        for kind in KINDS:  # one roll per kind, drawn whether or not it has a site
            roll = rng.random()
            if roll < self.rates.kinds[kind]:
                active = self._add(problem, active, rng, (kind,))
        if not active:
            active = self._add(problem, active, rng, KINDS)
        return problem.canonical(active)

    def repair(
        self, problem: CdkProblem, previous: tuple[CdkMutation, ...], feedback: str, chain: Chain
    ) -> tuple[CdkMutation, ...]:
        rng = chain.rng()
        kept = []
        for m in previous:
            roll = rng.random()  # one roll per mistake, so one fix does not shift the others
            if not (shown(m, previous, feedback) and roll < self.fix_chance(m, chain)):
                kept.append(m)
        active = tuple(kept)
        fixed = len(kept) < len(previous)
        chance = self.rates.introduce_when_fixing if fixed else self.rates.introduce_otherwise
        if rng.random() < chance:
            active = self._add(problem, active, rng, KINDS)
        return problem.canonical(active)

    def fix_chance(self, m: CdkMutation, chain: Chain) -> float:
        """The chance a repair fixes `m` when shown; a persistent mistake (drawn once per chain
        and mistake) at `persistent_fix`."""
        draw = stable_rng(chain.seed, "cdk-persistent", chain.problem_id, chain.sample, m.key)
        persistent = draw.random() < self.rates.persistent
        return self.rates.persistent_fix if persistent else self.rates.fix[m.kind]

    def _add(
        self,
        problem: CdkProblem,
        active: tuple[CdkMutation, ...],
        rng: random.Random,
        kinds: Sequence[str],
    ) -> tuple[CdkMutation, ...]:
        """`active` plus one free site of one of `kinds` (weighted by the first-draw rates);
        unchanged if none has a free site (a kind absent from an app is never drawn)."""
        free = {kind: problem.free(kind, active) for kind in kinds}
        open_kinds = [k for k in kinds if free[k] and self.rates.kinds[k] > 0]
        if not open_kinds:
            return active
        kind = rng.choices(open_kinds, weights=[self.rates.kinds[k] for k in open_kinds])[0]
        return (*active, rng.choice(free[kind]))
