"""A profile's chains as counts of findings (numpy): no template, no cfn-lint, no model call.

Power analysis (hundreds of replicate experiments) and planning need many simulated chains;
the real simulator renders and lints every attempt (about 125 ms each), far too slow for that.
This module draws the same chains at the level the analysis reads them: per chain and
iteration the number of errors and warnings and whether the attempt is clean. It follows
`behaviour.py` step by step:

* generation: the reply does not parse with the profile's chance (then it shows one error,
  E0000, and hides its other findings); it is clean with the chance of the problem's
  difficulty level, else it holds 1 + Poisson(mean - 1) findings (`rates`) or a uniform number
  of mistakes (`hand-set`), each of a rule drawn by the profile's shares (`rates`) or of a
  kind drawn uniformly among the classic kinds with a site on the problem (`hand-set`);
* persistence: a finding is persistent with its rule's `persistent_share`, for its lifetime
  (hand-set: the rules whose fix chance is set below `fix_probability`, E3003 and W3010 by
  default, are persistent with that chance, so the levers of `effects.py` treat both kinds
  alike);
* repair: a template that does not parse is mended with `parse_fixed` (hand-set: the fix
  chance of E0000) and nothing else moves (hand-set: a new mistake may still come); otherwise
  each finding goes with its rule's `fix` (persistent ones: `persistent_fix`) when the
  feedback names its rule, `unmentioned` when not (an errors-only design names no warning);
  then each rule adds a finding with its `introduce` chance (hand-set: one new mistake with
  `introduce_probability`), and the reply stops parsing with `parse_failure`;
* a rule without a site on the problem is stood in for by a rule of the same level that has
  one, by share, as the simulator does (`Calibrated._add`); with none, the finding is dropped;
* the chain stops at its first clean attempt (the harness's rule, `clean_when`) and is filled
  forward, as `analysis.load.fill_chains` fills recorded chains.

An approximation (tests/test_chains.py holds it to `behaviour.py` and the rates): it leaves
out overlapping sites, a site's second finding through cross-property rules, and informational
findings; problems differ only by difficulty and by which rules have a site.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

import numpy as np
from scipy.stats import beta, poisson

from benchmark.problems.dataset import Problem
from benchmark.simulator.behaviour import (
    SYNTAX_RULE,
    Calibrated,
    HandSet,
    Rates,
    SimulatorSettings,
)
from benchmark.simulator.catalogue import CATALOGUE, CLASSIC_KINDS, find_sites
from benchmark.simulator.model import difficulty_of
from benchmark.simulator.profile import Profile
from benchmark.simulator.template import parse_template

CLEAN_RULES = ("no_errors", "no_errors_or_warnings", "no_findings")
POISSON_TAIL = 1e-9  # findings counts are drawn from the pmf truncated where its tail is this


@dataclass(frozen=True)
class ProblemShape:
    """What the chain model needs of a problem: its difficulty and the simulator's sites on it
    (`sites`: kind -> rule -> number of sites; None: unknown, every rule has a site)."""

    id: str
    difficulty: int | None = None
    sites: Mapping[str, Mapping[str, int]] | None = None

    @property
    def rules_with_sites(self) -> set[str] | None:
        if self.sites is None:
            return None
        return {rule for by_rule in self.sites.values() for rule, n in by_rule.items() if n}


def problem_shapes(problems: Iterable[Problem], as_of: date | None = None) -> list[ProblemShape]:
    """The shapes of the problems the simulator can attempt (those with a reference template)."""

    shapes = []
    for problem in problems:
        if problem.reference_template is None:
            continue
        shapes.append(
            ProblemShape(
                problem.id, difficulty_of(problem), _sites(problem.reference_template, as_of)
            )
        )
    return shapes


@cache
def _sites(reference: str, as_of: date | None) -> dict[str, dict[str, int]]:
    try:
        found = find_sites(parse_template(reference), as_of)
    except ValueError:
        return {}
    out: dict[str, dict[str, int]] = {}
    for kind, mutations in found.items():
        for m in mutations:
            out.setdefault(kind, {}).setdefault(m.rule_id, 0)
            out[kind][m.rule_id] += 1
    return out


@dataclass(frozen=True)
class Chains:
    """Drawn chains, filled forward after their stop: arrays of shape chains x iterations."""

    errors: np.ndarray
    warnings: np.ndarray
    clean: np.ndarray  # clean at iteration t (after a clean stop: clean)
    reached: np.ndarray  # the chain made an attempt at iteration t (did not stop before it)
    problem_index: np.ndarray  # chain -> index into the bound problems
    tracked: np.ndarray | None = None  # findings of the `track` rules shown at t (simulate)

    @property
    def iterations(self) -> int:
        return self.errors.shape[1]


@dataclass(frozen=True)
class ChainProcess:
    """A profile's behaviour as arrays over the rules it can raise (see the module docstring)."""

    name: str
    kind: str  # hand-set | rates
    rules: tuple[str, ...]
    fix: np.ndarray  # per rule: an ordinary finding goes when the feedback names its rule
    persistent_share: np.ndarray
    persistent_fix: np.ndarray
    unmentioned: np.ndarray  # ... goes when the feedback does not name it
    clean: Mapping[str, float]  # level key ("all", "1".."5") -> share of clean generations
    count_pmf: Mapping[str, np.ndarray]  # level key -> pmf of findings of an unclean one
    shares: np.ndarray | None  # rates: rule shares at generation (hand-set: by kind, per problem)
    introduce: np.ndarray  # rates: per rule, the chance a repair adds a finding of it
    introduce_one: float = 0.0  # hand-set: the chance a repair adds one mistake
    parse_failure: float = 0.0  # a generation that does not parse
    repair_parse_failure: float = 0.0
    parse_fixed: float = 1.0  # a repair of a reply that did not parse parses
    # per rule: Beta(a, b) of a rule the source never named (NaN: none), its `fix` the mean;
    # `prior_theta` is the speed-up a lever applied to the drawn rate
    prior: np.ndarray | None = None
    prior_theta: float = 1.0

    def fix_drawn(self, u: np.ndarray) -> np.ndarray:
        """Chains x rules named fix chances, never-named rules at prior quantile `u` (per chain)."""
        fix = np.broadcast_to(self.fix, (len(u), len(self.rules)))
        if self.prior is None or np.isnan(self.prior).all():
            return fix
        has = ~np.isnan(self.prior[:, 0])
        drawn = beta.ppf(u[:, None], self.prior[has, 0], self.prior[has, 1])
        fix = fix.copy()
        fix[:, has] = _sped_up(drawn, self.prior_theta)
        return fix

    # ---- from a profile --------------------------------------------------------------------

    @classmethod
    def from_profile(
        cls, profile: Profile, options: Mapping[str, Any] | None = None
    ) -> ChainProcess:
        behaviour, _ = profile.behaviour(options or {})
        if isinstance(behaviour, HandSet):
            return cls.hand_set(profile.name, behaviour.settings)
        assert isinstance(behaviour, Calibrated)
        return cls.from_rates(profile.name, behaviour.rates, behaviour.named_as_source)

    @classmethod
    def hand_set(cls, name: str, s: SimulatorSettings) -> ChainProcess:
        rules = tuple(sorted({r for kind in CLASSIC_KINDS for r in CATALOGUE[kind].rules}))
        counts = np.arange(s.max_mutations + 1)
        pmf = np.where(counts >= s.min_mutations, 1.0, 0.0)
        zeros = np.zeros(len(rules))
        chance = np.array([s.fix_chance(r) for r in rules])
        stubborn = chance < s.fix_probability  # held as persistent findings (module docstring)
        return cls(
            name=name,
            kind="hand-set",
            rules=rules,
            fix=np.where(stubborn, s.fix_probability, chance),
            persistent_share=stubborn.astype(float),
            persistent_fix=np.where(stubborn, chance, 0.0),
            unmentioned=zeros,
            clean={"all": s.clean_start_probability},
            count_pmf={"all": pmf / pmf.sum()},
            shares=None,
            introduce=zeros,
            introduce_one=s.introduce_probability,
            parse_fixed=s.fix_chance(SYNTAX_RULE),
        )

    @classmethod
    def from_rates(cls, name: str, r: Rates, as_source: bool = False) -> ChainProcess:
        rules = tuple(sorted(set(r.rule_shares) | set(r.introduce)))
        models = [r.fix_model(rule) for rule in rules]
        models = [m.as_in_source() for m in models] if as_source else models
        shares = np.array([r.rule_shares.get(rule, 0.0) for rule in rules])
        return cls(
            name=name,
            kind="rates",
            rules=rules,
            fix=np.array([m.fix for m in models]),
            persistent_share=np.array([m.persistent_share for m in models]),
            persistent_fix=np.array([m.persistent_fix for m in models]),
            unmentioned=np.array([m.unmentioned for m in models]),
            clean=dict(r.clean),
            count_pmf={key: _one_plus_poisson(mean) for key, mean in r.findings_mean.items()},
            shares=shares / shares.sum(),
            introduce=np.array([r.introduce.get(rule, 0.0) for rule in rules]),
            parse_failure=r.generation_parse_failure,
            repair_parse_failure=r.repair_parse_failure,
            parse_fixed=r.parse_fixed,
            prior=np.array([m.prior or (np.nan, np.nan) for m in models], dtype=float),
        )

    @property
    def is_error(self) -> np.ndarray:
        return np.array([rule.startswith("E") for rule in self.rules])

    def level_key(self, difficulty: int | None) -> str:
        key = str(difficulty)
        return key if difficulty is not None and key in self.clean else "all"

    # ---- levers: the same process with one behaviour moved, for effects in power analysis ----

    def faster_fixes(self, theta: float) -> ChainProcess:
        """Ordinary named fixes (the parse error's repair too) as if made `theta` times as
        often: fix -> 1 - (1 - fix)^theta (theta > 1 faster, < 1 slower); persistent findings
        and introductions unchanged, so the decay rate moves and the plateau stays."""
        return dataclasses.replace(
            self,
            fix=_sped_up(self.fix, theta),
            prior_theta=self.prior_theta * theta,
            parse_fixed=float(_sped_up(np.asarray(self.parse_fixed), theta)),
        )

    def faster_all_fixes(self, theta: float) -> ChainProcess:
        """Every named fix, persistent findings' too, as if made `theta` times as often."""
        faster = self.faster_fixes(theta)
        return dataclasses.replace(faster, persistent_fix=_sped_up(self.persistent_fix, theta))

    def more_persistent(self, theta: float) -> ChainProcess:
        """A share theta of the ordinary findings made persistent (theta in [0, 1]), or a share
        -theta of the persistent ones made ordinary (theta in [-1, 0)). A rule without a
        persistent class takes the profile's lowest persistent fix chance (else its lowest fix
        chance) for its new persistent findings."""
        if not -1.0 <= theta <= 1.0:
            raise ValueError("theta must be within [-1, 1]")
        share = self.persistent_share
        share = share + theta * (1.0 - share) if theta >= 0 else share * (1.0 + theta)
        known = self.persistent_fix[self.persistent_share > 0]
        fallback = float(known.min()) if known.size else float(self.fix.min())
        fix = np.where(self.persistent_share > 0, self.persistent_fix, fallback)
        return dataclasses.replace(self, persistent_share=share, persistent_fix=fix)

    def cleaner_generation(self, theta: float) -> ChainProcess:
        """Every level's odds of a clean generation times e^theta."""

        def moved(p: float) -> float:
            if p <= 0.0 or p >= 1.0:
                return p
            odds = p / (1.0 - p) * np.exp(theta)
            return float(odds / (1.0 + odds))

        return dataclasses.replace(self, clean={k: moved(v) for k, v in self.clean.items()})

    # ---- drawing chains --------------------------------------------------------------------

    def bind(self, problems: Sequence[ProblemShape]) -> BoundProcess:
        return BoundProcess(self, list(problems))


def _sped_up(chance: np.ndarray, theta: float) -> np.ndarray:
    """A per-repair chance as if the repair were made theta times: 1 - (1 - p)^theta."""
    if theta <= 0:
        raise ValueError("theta must be positive")
    return 1.0 - (1.0 - chance) ** theta


def _one_plus_poisson(mean: float) -> np.ndarray:
    """pmf over counts 0..K of 1 + Poisson(mean - 1), truncated where the tail is negligible."""
    extra = max(mean - 1.0, 0.0)
    top = int(poisson.isf(POISSON_TAIL, extra)) + 2 if extra > 0 else 1
    pmf = np.zeros(top + 1)
    pmf[1:] = poisson.pmf(np.arange(top), extra) if extra > 0 else np.eye(1, top)[0]
    return pmf / pmf.sum()


class BoundProcess:
    """A chain process on given problems: per problem, the level it draws at and where each
    rule lands (its own site, a stand-in of its level, or nowhere)."""

    def __init__(self, process: ChainProcess, problems: list[ProblemShape]) -> None:
        if not problems:
            raise ValueError("no problem to simulate (none has a reference template)")
        self.process = process
        self.problems = problems
        p = process
        keys = [p.level_key(s.difficulty) for s in problems]
        self.clean = np.array([p.clean[k] for k in keys])
        width = max(len(v) for v in p.count_pmf.values())
        pmfs = np.zeros((len(problems), width))
        for i, k in enumerate(keys):
            pmfs[i, : len(p.count_pmf[k])] = p.count_pmf[k]
        self.count_cdf = np.cumsum(pmfs, axis=1)
        if p.kind == "hand-set":
            self.generation = np.array([self._kind_rules(s) for s in problems])
            self.placement = None
        else:
            self.placement = np.array([self._placement(s) for s in problems])
            assert p.shares is not None
            self.generation = np.einsum("r,prs->ps", p.shares, self.placement)
        self.syntax = p.rules.index(SYNTAX_RULE) if SYNTAX_RULE in p.rules else None

    def _kind_rules(self, shape: ProblemShape) -> np.ndarray:
        """Hand-set: the rule of one new mistake (a uniform kind among those with a site, then
        a uniform site of it), over rules + [nowhere]."""
        rules = self.process.rules
        out = np.zeros(len(rules) + 1)
        if shape.sites is None:
            kinds = {kind: {CATALOGUE[kind].rules[0]: 1} for kind in CLASSIC_KINDS}
        else:
            kinds = {
                k: shape.sites[k] for k in CLASSIC_KINDS if sum(shape.sites.get(k, {}).values())
            }
        if not kinds:
            out[-1] = 1.0
            return out
        for by_rule in kinds.values():
            total = sum(by_rule.values())
            for rule, n in by_rule.items():
                out[rules.index(rule)] += n / total / len(kinds)
        return out

    def _placement(self, shape: ProblemShape) -> np.ndarray:
        """Rates: rule -> where a finding of it lands on this problem, over rules + [nowhere]."""
        p = self.process
        assert p.shares is not None
        rules, n = p.rules, len(p.rules)
        available = shape.rules_with_sites
        has_site = np.array([available is None or r in available for r in rules])
        out = np.zeros((n, n + 1))
        for i, rule in enumerate(rules):
            if has_site[i]:
                out[i, i] = 1.0
                continue
            stand_ins = np.array(
                [
                    has_site[j] and other[:1] == rule[:1] and other != SYNTAX_RULE
                    for j, other in enumerate(rules)
                ]
            )
            weights = np.where(stand_ins, p.shares, 0.0)
            if weights.sum() > 0:
                out[i, :n] = weights / weights.sum()
            else:
                out[i, n] = 1.0
        return out

    def simulate(
        self,
        problem_index: np.ndarray,
        iterations: int,
        rng: np.random.Generator,
        clean_when: str = "no_errors_or_warnings",
        named_levels: str = "EW",
        track: Sequence[str] = (),
        prior_u: np.ndarray | None = None,
    ) -> Chains:
        """Draw one chain per entry of `problem_index` (indexes into the bound problems) over
        `iterations` attempts; each stops at its first clean attempt and is filled forward.
        `named_levels`: the levels whose rules the feedback names ("E" for errors-only);
        `track`: rules whose shown findings are counted apart (`Chains.tracked`); `prior_u`:
        per chain, the quantile at which never-named rules' fix rates are drawn from their
        prior (power analysis: one per replicate); None: the prior's mean."""
        if clean_when not in CLEAN_RULES:
            raise ValueError(f"clean_when must be one of {', '.join(CLEAN_RULES)}")
        p = self.process
        pi = np.asarray(problem_index, dtype=int)
        c, r = len(pi), len(p.rules)
        is_error = p.is_error
        ordinary = np.zeros((c, r), dtype=np.int64)
        persistent = np.zeros((c, r), dtype=np.int64)
        errors = np.zeros((c, iterations), dtype=np.int64)
        warnings = np.zeros((c, iterations), dtype=np.int64)
        clean = np.zeros((c, iterations), dtype=bool)
        reached = np.zeros((c, iterations), dtype=bool)
        tracked, kept = np.zeros((c, iterations), dtype=np.int64), np.isin(p.rules, track)

        broken = rng.random(c) < p.parse_failure
        dirty = rng.random(c) >= self.clean[pi]
        counts = (rng.random(c)[:, None] > self.count_cdf[pi]).sum(axis=1)
        counts = np.minimum(counts, self.count_cdf.shape[1] - 1)
        placed = rng.multinomial(np.where(dirty, counts, 0), self.generation[pi])[:, :r]
        broken |= self._add(placed, ordinary, persistent, rng)

        named = np.array([rule[:1] in named_levels for rule in p.rules])
        fix = p.fix[None, :] if prior_u is None else p.fix_drawn(np.asarray(prior_u, dtype=float))
        stopped = np.zeros(c, dtype=bool)
        for t in range(iterations):
            if t > 0:
                broken = self._repair(pi, ordinary, persistent, broken, stopped, named, fix, rng)
            shown = ordinary + persistent
            e = np.where(broken, 1, (shown * is_error).sum(axis=1))
            w = np.where(broken, 0, (shown * ~is_error).sum(axis=1))
            tracked[:, t] = np.where(broken | stopped, 0, (shown * kept).sum(axis=1))
            ok = e == 0 if clean_when == "no_errors" else (e + w) == 0
            reached[:, t] = ~stopped
            if t > 0:  # a stopped chain shows its last attempt
                e = np.where(stopped, errors[:, t - 1], e)
                w = np.where(stopped, warnings[:, t - 1], w)
                ok = np.where(stopped, clean[:, t - 1], ok)
            errors[:, t], warnings[:, t], clean[:, t] = e, w, ok
            stopped |= ok
        return Chains(errors, warnings, clean, reached, pi, tracked if len(track) else None)

    def _add(
        self,
        placed: np.ndarray,
        ordinary: np.ndarray,
        persistent: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Add `placed` findings (chains x rules), split into persistent and ordinary; returns
        the chains where a syntax break was added (E0000 is the 'does not parse' state)."""
        keep = rng.binomial(placed, self.process.persistent_share[None, :])
        ordinary += placed - keep
        persistent += keep
        broke = np.zeros(len(placed), dtype=bool)
        if self.syntax is not None:
            broke = (ordinary[:, self.syntax] + persistent[:, self.syntax]) > 0
            ordinary[:, self.syntax] = 0
            persistent[:, self.syntax] = 0
        return broke

    def _add_one(
        self,
        rows: np.ndarray,
        pvals: np.ndarray,
        ordinary: np.ndarray,
        persistent: np.ndarray,
        broke: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        """Add one finding to each chain in `rows`, its rule drawn from the matching row of
        `pvals` (over rules + [nowhere]); a syntax break marks the chain in `broke`."""
        if not len(rows):
            return
        u = rng.random(len(rows))
        rule = np.minimum((u[:, None] > np.cumsum(pvals, axis=1)).sum(axis=1), pvals.shape[1] - 1)
        placed = rule < len(self.process.rules)
        rows, rule = rows[placed], rule[placed]
        if self.syntax is not None:
            syntax = rule == self.syntax
            broke[rows[syntax]] = True
            rows, rule = rows[~syntax], rule[~syntax]
        lasting = rng.random(len(rows)) < self.process.persistent_share[rule]
        np.add.at(persistent, (rows[lasting], rule[lasting]), 1)
        np.add.at(ordinary, (rows[~lasting], rule[~lasting]), 1)

    def _repair(
        self,
        pi: np.ndarray,
        ordinary: np.ndarray,
        persistent: np.ndarray,
        broken: np.ndarray,
        stopped: np.ndarray,
        named: np.ndarray,
        fix: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """One repair of every chain that has not stopped, in place; returns the new broken."""
        p = self.process
        going = ~stopped
        movable = np.flatnonzero(going & ~broken)  # a reply that does not parse hides the rest
        mended = broken & going & (rng.random(len(pi)) < p.parse_fixed)
        if len(movable):
            q_ord = np.where(named, fix if len(fix) == 1 else fix[movable], p.unmentioned)
            q_per = np.where(named, p.persistent_fix, p.unmentioned)[None, :]
            ordinary[movable] -= rng.binomial(ordinary[movable], q_ord)
            persistent[movable] -= rng.binomial(persistent[movable], q_per)
        broke = np.zeros(len(pi), dtype=bool)
        if p.kind == "hand-set":  # one new mistake, also on a reply that did not parse
            rows = np.flatnonzero(going)
            rows = rows[rng.random(len(rows)) < p.introduce_one]
            self._add_one(rows, self.generation[pi[rows]], ordinary, persistent, broke, rng)
        else:
            assert self.placement is not None
            for j in np.flatnonzero(p.introduce > 0):
                rows = movable[rng.random(len(movable)) < p.introduce[j]]
                self._add_one(rows, self.placement[pi[rows], j], ordinary, persistent, broke, rng)
            failed = movable[rng.random(len(movable)) < p.repair_parse_failure]
            broke[failed] = True
        return np.where(broken & going, ~mended | broke, broken | broke)
