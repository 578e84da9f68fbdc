"""The `repair:` section of a calibrated profile: per rule, how its findings go after a repair.

Rules with at least MIN_EPISODES findings exposed to a repair that named them get their own
fix model (calibration_fits.fit_fix_model); the others share a pooled one. A rule the source's
feedback never named (its findings were only ever seen by a linter the model was not shown,
e.g. a rule added to cfn-lint after the run) has no "fixed when named" rate to learn: it is
marked `never_named`, with its observed persistence, and its named fix rate is the documented
prior `never_named_prior` (calibration_fits.fix_prior), from which the simulator draws one rate
per seed, so power analysis carries its uncertainty across replicates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from studies.calibration_fits import (
    MIN_EPISODES,
    RuleFixes,
    fit_fix_model,
    fix_prior,
    rounded,
    share,
)

COUNTED = ("E", "W")  # levels the simulator models (the paper's clean rule counts both)
NEVER_NAMED = "never named in the source"


def _fix_block(fx: RuleFixes, pooled_from: str) -> dict[str, Any]:
    model = fit_fix_model(fx)
    episodes = model.pop("episodes")
    return {
        "model": {**model, "fitted_on": pooled_from, "episodes": episodes},
        "first": share(*fx.first),
        "later": share(*fx.later),
        "unmentioned": share(*fx.unmentioned),
        "fixed_after": {int(k): int(v) for k, v in sorted(fx.fixed_after.items())},
        "open_after": {int(k): int(v) for k, v in sorted(fx.open_after.items())},
    }


def _pooled(fixes: Mapping[str, RuleFixes], rules: Iterable[str]) -> RuleFixes:
    pool = RuleFixes()
    for rule in rules:
        pool.merge(fixes[rule])
    return pool


def _never_named(fx: RuleFixes, prior: Mapping[str, Any]) -> dict[str, Any]:
    """A rule whose findings no repair was told about: its persistence, and the prior."""
    left, seen = fx.unmentioned[1] - fx.unmentioned[0], fx.unmentioned[1]
    return {
        "never_named": NEVER_NAMED,
        "persistence": share(left, seen),  # kept through a repair that did not name it
        "unmentioned": share(*fx.unmentioned),
        "model": {
            "fix": prior["mean"],
            "prior": {"beta": list(prior["beta"])},
            "unmentioned": rounded(fx.unmentioned[0] / seen) if seen else 0.0,
            "fitted_on": "never_named_prior",
        },
    }


def repair_section(
    fixes: Mapping[str, RuleFixes],
    parse: tuple[list[int], list[int]],
    introduce: tuple[Mapping[str, int], Mapping[str, int]],
    parsed_steps: int,
) -> dict[str, Any]:
    """Rules with at least MIN_EPISODES findings get their own fix model. The others share one,
    fitted to the pooled findings of the rules of their level that also lack data (rules with
    their own model are left out: a frequent rule fixed easily would hide stubborn rare ones);
    if those are too few, to the whole level, then to every rule."""
    size = {rule: len(fx.episodes()[0]) for rule, fx in fixes.items()}
    never = {rule for rule, fx in fixes.items() if size[rule] == 0 and fx.unmentioned[1] > 0}
    sparse = [rule for rule in fixes if size[rule] < MIN_EPISODES and rule not in never]

    def fallback(level: str) -> tuple[RuleFixes, str]:
        candidates = [
            (f"{level} rules with fewer than {MIN_EPISODES} findings, pooled",
             [r for r in sparse if r[:1] == level]),
            (f"all {level} rules, pooled", [r for r in fixes if r[:1] == level]),
            ("all rules, pooled", list(fixes)),
        ]  # fmt: skip
        for name, members in candidates:
            pool = _pooled(fixes, members)
            if len(pool.episodes()[0]) >= MIN_EPISODES:
                return pool, name
        return pool, name  # the widest pool, small as it is

    prior = fix_prior([fixes[r] for r in fixes if size[r] >= MIN_EPISODES])
    fix: dict[str, Any] = {}
    for rule in sorted(fixes):
        fx = fixes[rule]
        if rule in never:
            fix[rule] = _never_named(fx, prior)
            continue
        block = _fix_block(fx, rule)
        if size[rule] < MIN_EPISODES:
            pool, name = fallback(rule[:1])
            block["model"] = {**_fix_block(pool, name)["model"]}
            block["model"]["unmentioned"] = rounded(
                fx.unmentioned[0] / fx.unmentioned[1] if fx.unmentioned[1] else 0.0
            )
        if block["model"]["fix"] is None:  # never exposed to a repair at all
            block["model"] = None
        fix[rule] = block
    defaults = {}
    for level in COUNTED:
        pool, name = fallback(level)
        if len(pool.episodes()[0]):
            defaults[level] = _fix_block(pool, name)
    from_parsed, from_broken = parse
    steps_adding, added = introduce
    return {
        "steps": from_parsed[1] + from_broken[1],
        "parse_failure": share(*from_parsed),
        "parse_fixed": share(*from_broken),
        "fix": fix,
        "fix_default": defaults,
        "never_named_prior": prior,
        "introduce": {
            rule: {**share(n, parsed_steps), "findings": int(added[rule])}
            for rule, n in sorted(steps_adding.items(), key=lambda kv: (-kv[1], kv[0]))
        },
    }
