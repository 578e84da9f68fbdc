"""How the simulator edits: collateral changes on edit problems, at rates from a profile's
hand-set `edit` section.

An ASSUMPTION, SET BY HAND, NOT MEASURED on any model: no profile's edit section comes from a
recorded run. It lets edit tasks run offline (tests, demos, `make sweep DATASET=edit33`) with
damage for the report to show. On an edit problem the simulator starts from the expected
template (the problem's reference), makes its usual mistakes (its behaviour, unchanged), and
besides them:

    edit:
      collateral: 0.25          # chance a first edit makes one collateral change
      kinds:                    # relative weights of the kinds (simulator/edit_sites.py)
        drop_resource: 1.0
        alter_property: 1.0
        rename_parameter: 1.0
      restore_named: 0.7        # chance a repair undoes a collateral change the feedback names
      restore_unnamed: 0.05     # ... one it does not name (collateral not fed back)
      damage_when_fixing: 0.15  # chance a repair that fixed a lint mistake adds one
      damage_otherwise: 0.02    # chance any other repair adds one

A profile without the section (every calibrated one so far) edits at `DEFAULT_EDIT_RATES`,
the values above. Collateral draws use a random stream of their own (`Chain.edit_rng`), so
they move no mistake's draw; a problem that is not an edit is never touched.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from benchmark.simulator.behaviour import NO_BOOST, Behaviour, Chain, SimProblem, mentions
from benchmark.simulator.edit_sites import COLLATERAL_KINDS
from benchmark.simulator.effort import NO_EFFECT, EffortLevel
from benchmark.simulator.mutations import Mutation

RATE_KEYS = ("collateral", "restore_named", "restore_unnamed", "damage_when_fixing")
RATE_KEYS += ("damage_otherwise",)


class EditRatesError(ValueError):
    """A bad edit section (one line naming the key)."""


def _even_kinds() -> dict[str, float]:
    return dict.fromkeys(COLLATERAL_KINDS, 1.0)


@dataclass(frozen=True)
class EditRates:
    collateral: float = 0.25
    kinds: Mapping[str, float] = field(default_factory=_even_kinds)
    restore_named: float = 0.7
    restore_unnamed: float = 0.05
    damage_when_fixing: float = 0.15
    damage_otherwise: float = 0.02


DEFAULT_EDIT_RATES = EditRates()


def edit_rates(data: Mapping[str, Any], where: str = "profile") -> EditRates:
    """The edit section of a profile's data (none: `DEFAULT_EDIT_RATES`); EditRatesError if bad."""
    section = data.get("edit")
    if section is None:
        return DEFAULT_EDIT_RATES
    if not isinstance(section, Mapping):
        raise EditRatesError(f"{where}: edit: expected a mapping")
    unknown = sorted(set(section) - {*RATE_KEYS, "kinds"})
    if unknown:
        raise EditRatesError(f"{where}: edit: unknown key {unknown[0]!r}")
    values: dict[str, Any] = {}
    for key in RATE_KEYS:
        if key in section:
            value = section[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise EditRatesError(f"{where}: edit.{key}: expected a number")
            if not 0.0 <= value <= 1.0:
                raise EditRatesError(f"{where}: edit.{key}: a probability within [0, 1]")
            values[key] = float(value)
    if "kinds" in section:
        kinds = section["kinds"]
        if not isinstance(kinds, Mapping) or not kinds:
            raise EditRatesError(f"{where}: edit.kinds: expected a mapping of kind to weight")
        for kind, weight in kinds.items():
            if kind not in COLLATERAL_KINDS:
                raise EditRatesError(
                    f"{where}: edit.kinds.{kind}: not a collateral kind "
                    f"({', '.join(COLLATERAL_KINDS)})"
                )
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
                raise EditRatesError(f"{where}: edit.kinds.{kind}: expected a weight >= 0")
        values["kinds"] = {str(k): float(v) for k, v in kinds.items()}
    return EditRates(**values)


def is_collateral(m: Mutation) -> bool:
    return m.kind in COLLATERAL_KINDS


@dataclass(frozen=True)
class Editing:
    """A behaviour's mistakes, plus collateral changes at `rates` (edit problems only)."""

    base: Behaviour
    rates: EditRates

    def first_draw(
        self, problem: SimProblem, chain: Chain, effort: EffortLevel = NO_EFFECT
    ) -> tuple[Mutation, ...]:
        active = self.base.first_draw(problem.lint_view(()), chain, effort)
        rng = chain.edit_rng()
        if rng.random() < self.rates.collateral:
            active = self._damage(problem, active, rng)
        return problem.canonical(active)

    def repair(
        self,
        problem: SimProblem,
        previous: tuple[Mutation, ...],
        feedback: str,
        chain: Chain,
        boost: Mapping[str, float] = NO_BOOST,
    ) -> tuple[Mutation, ...]:
        damage = [m for m in previous if is_collateral(m)]
        mistakes = tuple(m for m in previous if not is_collateral(m))
        repaired = self.base.repair(problem.lint_view(damage), mistakes, feedback, chain, boost)
        rng = chain.edit_rng()
        kept = []
        for m in damage:
            roll = rng.random()  # one roll per change, so one restore does not shift the others
            named = mentions(feedback, m.rule_id)
            if roll >= (self.rates.restore_named if named else self.rates.restore_unnamed):
                kept.append(m)
        fixed = any(m not in repaired for m in mistakes)
        chance = self.rates.damage_when_fixing if fixed else self.rates.damage_otherwise
        active = (*repaired, *kept)
        if rng.random() < chance:
            active = self._damage(problem, active, rng)
        return problem.canonical(active)

    def _damage(
        self, problem: SimProblem, active: tuple[Mutation, ...], rng: random.Random
    ) -> tuple[Mutation, ...]:
        """`active` plus one collateral change that overlaps none of them (unchanged if none
        fits), its kind drawn by the rates' weights among the kinds with a free site."""
        free = {
            kind: problem.free(sites, active)
            for kind, sites in problem.collateral_by_kind.items()
            if self.rates.kinds.get(kind, 0.0) > 0
        }
        kinds = sorted(kind for kind, sites in free.items() if sites)
        if not kinds:
            return active
        kind = rng.choices(kinds, weights=[self.rates.kinds[k] for k in kinds])[0]
        return (*active, rng.choice(free[kind]))
