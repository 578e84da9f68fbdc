"""How the simulator moves a chain: which mistakes a generation makes, which a repair fixes.

Two behaviours share one interface. `HandSet` is the simulator as it always was: a few
mistakes of uniformly drawn kinds, each fixed with a set chance when the feedback names its
rule. `Calibrated` follows rates estimated from a recorded run (`calibrate.py`): the chance a
reply does not parse, the share of clean generations and the number of findings by
difficulty, the rules they belong to, per rule the chance a finding survives a repair (with a
persistent share that almost never goes) and the chance a repair adds one.

Every draw is a function of the chain's position (seed, problem, sample, iteration) and of its
previous state, which is decoded from the previous template: nothing is kept in memory.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, Protocol

from benchmark.simulator.catalogue import CLASSIC_KINDS
from benchmark.simulator.effort import NO_EFFECT, EffortLevel
from benchmark.simulator.mutations import Mutation

# Rules that are hard to fix (which value does a missing property need? which zone?), so the
# error curve plateaus above zero, as in the paper.
DEFAULT_STUBBORN_RULES: dict[str, float] = {"E3003": 0.05, "W3010": 0.05}
SYNTAX_RULE = "E0000"
MIN_PROBLEMS_PER_LEVEL = 3  # a difficulty level with fewer source problems uses the pooled rate


def stable_rng(*parts: object) -> random.Random:
    """A Random seeded by SHA-256 of `parts`: identical in every process (unlike `hash()`)."""
    digest = hashlib.sha256("\0".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass(frozen=True)
class Chain:
    """Where a draw happens."""

    seed: int
    problem_id: str
    sample: int
    iteration: int

    def rng(self) -> random.Random:
        return stable_rng(self.seed, self.problem_id, self.sample, self.iteration)

    def edit_rng(self) -> random.Random:
        """A stream of its own for collateral changes, so they shift no mistake's draw."""
        return stable_rng(self.seed, "edit", self.problem_id, self.sample, self.iteration)


@dataclass(frozen=True)
class SimProblem:
    """A problem as the simulator sees it: the reference tree and every site on it, in
    catalogue order (the canonical order of a chain's active mutations). An edit problem
    (`edit`) also has its collateral-change sites (simulator/edit_sites.py), after the rest."""

    id: str
    template: dict[str, Any]
    sites_by_kind: Mapping[str, Sequence[Mutation]]
    difficulty: int | None = None
    edit: bool = False
    collateral_by_kind: Mapping[str, Sequence[Mutation]] = field(default_factory=dict)

    @cached_property
    def sites(self) -> list[Mutation]:
        found = [*self.sites_by_kind.values(), *self.collateral_by_kind.values()]
        return [m for sites in found for m in sites]

    def lint_view(self, blocked: Sequence[Mutation]) -> SimProblem:
        """The problem without its collateral sites, nor any site that overlaps `blocked`:
        what a mistake-making behaviour draws from beside active collateral changes."""
        kinds = {
            kind: [m for m in sites if not any(m.overlaps(b) for b in blocked)]
            for kind, sites in self.sites_by_kind.items()
        }
        kept = {kind: sites for kind, sites in kinds.items() if sites}
        return SimProblem(self.id, self.template, kept, self.difficulty)

    @cached_property
    def order(self) -> dict[str, int]:
        return {m.key: i for i, m in enumerate(self.sites)}

    @cached_property
    def sites_by_rule(self) -> dict[str, list[Mutation]]:
        out: dict[str, list[Mutation]] = {}
        for m in self.sites:
            out.setdefault(m.rule_id, []).append(m)
        return out

    def canonical(self, active: Sequence[Mutation]) -> tuple[Mutation, ...]:
        return tuple(sorted(active, key=lambda m: self.order[m.key]))

    def free(self, sites: Sequence[Mutation], active: Sequence[Mutation]) -> list[Mutation]:
        return [s for s in sites if not any(s.overlaps(m) for m in active)]


# mutation key -> factor on its named-fix chance (an agent's schema lookup, simulator/agent.py);
# the same rolls are drawn with or without it, so a boost moves only the fixes it touches
NO_BOOST: Mapping[str, float] = MappingProxyType({})


def boosted(chance: float, m: Mutation, boost: Mapping[str, float]) -> float:
    return min(1.0, chance * boost.get(m.key, 1.0))


def mentions(feedback: str, rule_id: str) -> bool:
    return re.search(rf"\b{re.escape(rule_id)}\b", feedback) is not None


class Behaviour(Protocol):
    def first_draw(
        self, problem: SimProblem, chain: Chain, effort: EffortLevel = NO_EFFECT
    ) -> tuple[Mutation, ...]: ...

    def repair(
        self,
        problem: SimProblem,
        previous: tuple[Mutation, ...],
        feedback: str,
        chain: Chain,
        boost: Mapping[str, float] = NO_BOOST,
    ) -> tuple[Mutation, ...]: ...


# ---- the hand-set default ---------------------------------------------------------------------


@dataclass(frozen=True)
class SimulatorSettings:
    """The hand-set behaviour. Defaults give a decay-then-plateau error curve over 10 turns."""

    seed: int = 0  # mixed into every draw
    min_mutations: int = 1  # mutations in a first generation that is not clean
    max_mutations: int = 4
    clean_start_probability: float = 0.4  # chance a first generation has no mutation
    fix_probability: float = 0.9  # chance to fix a mutation whose rule id the feedback mentions
    fix_probability_by_rule: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_STUBBORN_RULES)
    )  # per-rule overrides of fix_probability
    introduce_probability: float = 0.1  # chance per repair turn to add one new mutation
    latency_s: float = 0.0  # asyncio.sleep per call, for demos and load tests

    def __post_init__(self) -> None:
        probabilities = {
            "clean_start_probability": self.clean_start_probability,
            "fix_probability": self.fix_probability,
            "introduce_probability": self.introduce_probability,
            **{f"fix_probability_by_rule.{k}": v for k, v in self.fix_probability_by_rule.items()},
        }
        for name, value in probabilities.items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        if not 0 <= self.min_mutations <= self.max_mutations:
            raise ValueError("need 0 <= min_mutations <= max_mutations")
        if self.latency_s < 0:
            raise ValueError("latency_s must not be negative")

    def fix_chance(self, rule_id: str) -> float:
        return self.fix_probability_by_rule.get(rule_id, self.fix_probability)


@dataclass(frozen=True)
class HandSet:
    """Mistakes of uniformly drawn kinds (the classic catalogue), fixed with set chances."""

    settings: SimulatorSettings

    def first_draw(
        self, problem: SimProblem, chain: Chain, effort: EffortLevel = NO_EFFECT
    ) -> tuple[Mutation, ...]:
        s, rng = self.settings, chain.rng()
        if rng.random() < effort.clean_chance(s.clean_start_probability):
            return ()
        active: tuple[Mutation, ...] = ()
        for _ in range(rng.randint(s.min_mutations, s.max_mutations)):
            active = self._add_one(problem, active, rng)
        return problem.canonical(active)

    def repair(
        self,
        problem: SimProblem,
        previous: tuple[Mutation, ...],
        feedback: str,
        chain: Chain,
        boost: Mapping[str, float] = NO_BOOST,
    ) -> tuple[Mutation, ...]:
        rng = chain.rng()
        kept = []
        for m in previous:
            roll = rng.random()  # drawn for every mutation, so one fix does not shift the others
            chance = boosted(self.settings.fix_chance(m.rule_id), m, boost)
            if not (mentions(feedback, m.rule_id) and roll < chance):
                kept.append(m)
        active = tuple(kept)
        if rng.random() < self.settings.introduce_probability:
            active = self._add_one(problem, active, rng)
        return problem.canonical(active)

    def _add_one(
        self, problem: SimProblem, active: tuple[Mutation, ...], rng: random.Random
    ) -> tuple[Mutation, ...]:
        """`active` plus one new mutation that overlaps none of them (unchanged if none fits)."""
        free = {
            kind: problem.free(problem.sites_by_kind.get(kind, ()), active)
            for kind in CLASSIC_KINDS
        }
        kinds = [kind for kind, sites in free.items() if sites]
        if not kinds:
            return active
        return (*active, rng.choice(free[rng.choice(kinds)]))


# ---- calibrated rates -------------------------------------------------------------------------


@dataclass(frozen=True)
class FixModel:
    """How a finding of one rule goes away. A share of findings is persistent (a fix the model
    keeps missing); the rest are ordinary. Each repair whose feedback names the rule removes an
    ordinary finding with chance `fix`, a persistent one with `persistent_fix`; a repair that
    does not name it removes either with `unmentioned`."""

    fix: float
    persistent_share: float = 0.0
    persistent_fix: float = 0.0
    unmentioned: float = 0.0
    # a rule the source never named: its named fix rate is unknown, drawn once per seed from
    # this Beta(a, b) prior (`fix` is the prior's mean, for planning)
    prior: tuple[float, float] | None = None

    def as_in_source(self) -> FixModel:
        """A never-named rule as its source saw it: a repair that names it fixes it no more
        often than one that did not (validate-profile's replay; power --as-source)."""
        if self.prior is None:
            return self
        return FixModel(fix=self.unmentioned, unmentioned=self.unmentioned)

    def named_fix(self, seed: int, rule_id: str) -> float:
        """The ordinary named fix chance; for a never-named rule, this seed's draw of it."""
        if self.prior is None:
            return self.fix
        from scipy.stats import beta  # deferred: scipy.stats start-up cost (see first_draw)

        return float(beta.ppf(stable_rng(seed, "prior", rule_id).random(), *self.prior))


@dataclass(frozen=True)
class Rates:
    """What `Calibrated` draws from (read from a profile by `profile.py`)."""

    generation_parse_failure: float
    clean: Mapping[str, float]  # difficulty level ("1".."5") or "all" -> share of clean replies
    findings_mean: Mapping[str, float]  # ... -> mean findings of a reply that is not clean (>= 1)
    rule_shares: Mapping[str, float]  # rule -> share of the findings at generation
    repair_parse_failure: float  # chance a repair of a parsed template does not parse
    parse_fixed: float  # chance a repair of a template that did not parse parses
    fix: Mapping[str, FixModel]
    fix_default: Mapping[str, FixModel]  # by level ("E", "W"), for rules without their own
    introduce: Mapping[str, float]  # rule -> chance a repair adds a finding of it
    # rule -> fragments harvested from the source, each (section, name, value) entries
    # (simulator/transplant.py)
    transplants: Mapping[str, tuple[tuple[tuple[str, str, Any], ...], ...]] = field(
        default_factory=dict
    )

    def level_key(self, difficulty: int | None) -> str:
        key = str(difficulty)
        return key if difficulty is not None and key in self.clean else "all"

    def fix_model(self, rule_id: str) -> FixModel:
        return self.fix.get(rule_id) or self.fix_default.get(rule_id[:1]) or FixModel(fix=0.5)


@dataclass(frozen=True)
class Calibrated:
    """`named_as_source`: a rule the source never named keeps its observed persistence even
    when this simulator's feedback names it, as the source's model was never told about it
    (validate-profile replays the source so; a sweep or a power analysis draws from the prior)."""

    rates: Rates
    named_as_source: bool = False

    def first_draw(
        self, problem: SimProblem, chain: Chain, effort: EffortLevel = NO_EFFECT
    ) -> tuple[Mutation, ...]:
        r, rng = self.rates, chain.rng()
        broken = rng.random() < r.generation_parse_failure
        active: tuple[Mutation, ...] = ()
        level = r.level_key(problem.difficulty)
        if rng.random() >= effort.clean_chance(r.clean[level]):
            extra = max(r.findings_mean[level] - 1.0, 0.0)
            # Imported here, not at the top: scipy.stats costs about a second of start-up,
            # and every simulated job imports this module but only calibrated profiles draw.
            from scipy.stats import poisson  # deferred: start-up cost (above)

            # 1 + Poisson(mean - 1) by inversion (scipy's ppf gives -1 at u = 0)
            count = 1 + max(0, int(poisson.ppf(rng.random(), extra))) if extra > 0 else 1
            for _ in range(count):
                rule = _weighted(rng, r.rule_shares)
                active = self._add(problem, active, rule, rng)
        if broken:
            active = self._break(problem, active, rng)
        return problem.canonical(active)

    def repair(
        self,
        problem: SimProblem,
        previous: tuple[Mutation, ...],
        feedback: str,
        chain: Chain,
        boost: Mapping[str, float] = NO_BOOST,
    ) -> tuple[Mutation, ...]:
        r, rng = self.rates, chain.rng()
        syntax = [m for m in previous if m.rule_id == SYNTAX_RULE]
        if syntax:  # only the parse error is visible: it goes or stays, nothing else moves
            if rng.random() < r.parse_fixed:
                return problem.canonical([m for m in previous if m.rule_id != SYNTAX_RULE])
            return previous
        kept: list[Mutation] = []
        for m in previous:
            roll = rng.random()  # one roll per mutation, so one fix does not shift the others
            if roll >= boosted(self._fix_chance(m, feedback, chain), m, boost):
                kept.append(m)
        active = tuple(kept)
        for rule in sorted(r.introduce):
            if rng.random() < r.introduce[rule]:
                active = self._add(problem, active, rule, rng)
        if rng.random() < r.repair_parse_failure:
            active = self._break(problem, active, rng)
        return problem.canonical(active)

    def _fix_chance(self, m: Mutation, feedback: str, chain: Chain) -> float:
        model = self.rates.fix_model(m.rule_id)
        if self.named_as_source:
            model = model.as_in_source()
        if not mentions(feedback, m.rule_id):
            return model.unmentioned
        if self.persistent(m, chain):
            return model.persistent_fix
        return model.named_fix(chain.seed, m.rule_id)

    def persistent(self, m: Mutation, chain: Chain) -> bool:
        """A lasting property of this mistake in this chain (the same draw at every turn)."""
        share = self.rates.fix_model(m.rule_id).persistent_share
        if share <= 0:
            return False
        draw = stable_rng(chain.seed, "persistent", chain.problem_id, chain.sample, m.key)
        return draw.random() < share

    def _add(
        self, problem: SimProblem, active: tuple[Mutation, ...], rule: str, rng: random.Random
    ) -> tuple[Mutation, ...]:
        """`active` plus a free site of `rule`; where it has none, one of another rule of the
        same level (by share), so error and warning counts hold; unchanged if nothing fits."""
        free = problem.free(problem.sites_by_rule.get(rule, ()), active)
        if not free:
            stand_ins = {
                other: share
                for other, share in self.rates.rule_shares.items()
                if other[:1] == rule[:1]
                and other != SYNTAX_RULE
                and problem.free(problem.sites_by_rule.get(other, ()), active)
            }
            # a rule the source named is stood in for by one it named, a never-named one by a
            # never-named one: the stand-in is fixed as the rule would have been
            alike = {o: w for o, w in stand_ins.items() if self._named(o) == self._named(rule)}
            stand_ins = alike or stand_ins
            if not stand_ins:
                return active
            free = problem.free(problem.sites_by_rule[_weighted(rng, stand_ins)], active)
        return (*active, rng.choice(free))

    def _named(self, rule: str) -> bool:
        """Whether the source's feedback ever named `rule` (no prior: it did)."""
        return self.rates.fix_model(rule).prior is None

    def _break(
        self, problem: SimProblem, active: tuple[Mutation, ...], rng: random.Random
    ) -> tuple[Mutation, ...]:
        sites = problem.sites_by_rule.get(SYNTAX_RULE, [])
        return (*active, rng.choice(sites)) if sites else active


def _weighted(rng: random.Random, weights: Mapping[str, float]) -> str:
    names = sorted(weights)
    return rng.choices(names, weights=[weights[n] for n in names])[0]
