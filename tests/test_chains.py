"""The chain model (benchmark/simulator/chains.py) against what a profile's rates imply:
closed forms where they exist, and the simulator's own behaviour (`behaviour.py`, mutation by
mutation) on the paper's problems otherwise."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from benchmark.problems.dataset import load_dataset
from benchmark.simulator import SimulatedModel
from benchmark.simulator.behaviour import (
    SYNTAX_RULE,
    Chain,
    FixModel,
    Rates,
    SimulatorSettings,
)
from benchmark.simulator.chains import ChainProcess, ProblemShape, problem_shapes
from benchmark.simulator.profile import load_profile

ROOT = Path(__file__).resolve().parents[1]
PAPER = load_dataset(ROOT / "datasets" / "paper33")
T = 10

# two rules, no introductions, every reply parses: a finding's fate is independent of the
# others', so the means and the clean fraction have closed forms
CLEAN, MEAN = 0.3, 2.5  # clean generations; mean findings of an unclean one (1 + Poisson(1.5))
SHARE = {"E3002": 0.6, "W2001": 0.4}
E_FIX, W_FIX, W_PERSISTENT, W_PERSISTENT_FIX = 0.7, 0.5, 0.3, 0.1


def two_rules() -> ChainProcess:
    rates = Rates(
        generation_parse_failure=0.0,
        clean={"all": CLEAN},
        findings_mean={"all": MEAN},
        rule_shares=SHARE,
        repair_parse_failure=0.0,
        parse_fixed=1.0,
        fix={
            "E3002": FixModel(E_FIX),
            "W2001": FixModel(W_FIX, W_PERSISTENT, W_PERSISTENT_FIX),
        },
        fix_default={},
        introduce={},
    )
    return ChainProcess.from_rates("two-rules", rates)


def left(t: np.ndarray, rule: str, named: bool = True) -> np.ndarray:
    """The chance a finding of `rule` is still there at iteration t."""
    if not named:
        return np.ones_like(t)
    if rule == "E3002":
        return (1 - E_FIX) ** (t - 1)
    ordinary = (1 - W_FIX) ** (t - 1)
    return (1 - W_PERSISTENT) * ordinary + W_PERSISTENT * (1 - W_PERSISTENT_FIX) ** (t - 1)


def within(drawn: np.ndarray, expected: np.ndarray) -> None:
    """Per iteration, the mean over chains is within 4 standard errors of `expected` (the
    variance floored at a Poisson count's, for the tail where few chains are left to see)."""
    se = np.sqrt(np.maximum(drawn.var(axis=0), expected) / len(drawn))
    gap = np.abs(drawn.mean(axis=0) - expected)
    assert (gap <= 4 * se + 1e-12).all(), (drawn.mean(axis=0), expected)


@pytest.mark.parametrize(
    ("named", "clean_when"), [("EW", "no_errors_or_warnings"), ("E", "no_errors")]
)
def test_the_chains_follow_the_closed_forms_of_their_rates(named: str, clean_when: str) -> None:
    bound = two_rules().bind([ProblemShape("a"), ProblemShape("b")])
    chains = bound.simulate(
        np.repeat([0, 1], 20_000), T, np.random.default_rng(1), clean_when, named
    )
    t = np.arange(1, T + 1, dtype=float)
    findings = (1 - CLEAN) * MEAN
    within(chains.errors, findings * SHARE["E3002"] * left(t, "E3002"))
    warned = named == "EW"
    within(chains.warnings, findings * SHARE["W2001"] * left(t, "W2001", warned))
    # clean: every finding gone, N = 1 + Poisson(λ) of them, so P = g·e^(λ(g−1))
    counted = ["E3002", "W2001"] if clean_when == "no_errors_or_warnings" else ["E3002"]
    stays = sum(SHARE[r] * left(t, r, r[0] in named) for r in counted)
    gone, extra = 1 - stays, MEAN - 1
    within(chains.clean, CLEAN + (1 - CLEAN) * gone * np.exp(extra * (gone - 1)))
    # a chain makes an attempt until its first clean one, and shows that one from then on
    assert (chains.reached[:, 0]).all()
    assert (chains.reached[:, 1:] == ~chains.clean[:, :-1]).all()


def one_finding(introduce: float = 0.0, breaks: float = 0.0, mended: float = 1.0) -> Rates:
    """One E3002 finding at generation, always fixed; a repair adds a W2001 (always fixed at
    the next) with chance `introduce`, or stops parsing with chance `breaks`."""
    return Rates(
        generation_parse_failure=0.0,
        clean={"all": 0.0},
        findings_mean={"all": 1.0},
        rule_shares={"E3002": 1.0},
        repair_parse_failure=breaks,
        parse_fixed=mended,
        fix={"E3002": FixModel(1.0), "W2001": FixModel(1.0)},
        fix_default={},
        introduce={"W2001": introduce} if introduce else {},
    )


@pytest.mark.parametrize(
    ("process", "unclean"),
    [
        # each repair fixes everything and adds a finding with 0.3: unclean at t is 0.3^(t-1)
        (ChainProcess.from_rates("adds", one_finding(introduce=0.3)), lambda t: 0.3 ** (t - 1)),
        # it breaks the reply with 0.2, and a broken reply is mended with 0.6 per repair
        (
            ChainProcess.from_rates("breaks", one_finding(breaks=0.2, mended=0.6)),
            lambda t: np.where(t == 1, 1.0, 0.2 * 0.4 ** np.maximum(t - 2, 0)),
        ),
        # hand-set: one mistake of any kind, always fixed; a new one with 0.25 per repair
        (
            ChainProcess.hand_set(
                "one-mistake",
                SimulatorSettings(
                    min_mutations=1,
                    max_mutations=1,
                    clean_start_probability=0.0,
                    fix_probability=1.0,
                    fix_probability_by_rule={},
                    introduce_probability=0.25,
                ),
            ),
            lambda t: 0.25 ** (t - 1),
        ),
    ],
    ids=["introduce", "parse-failure", "hand-set-introduce"],
)
def test_introductions_and_broken_replies_follow_their_rates(
    process: ChainProcess, unclean: Callable[[np.ndarray], np.ndarray]
) -> None:
    chains = process.bind([ProblemShape("a"), ProblemShape("b")]).simulate(
        np.repeat([0, 1], 20_000), T, np.random.default_rng(3)
    )
    t = np.arange(1, T + 1, dtype=float)
    within(~chains.clean, unclean(t))
    within(chains.errors + chains.warnings, unclean(t))  # one finding (or E0000) when unclean


def behaviour_chains(name: str, samples: int) -> dict[str, np.ndarray]:
    """The simulator's own draws (behaviour.py), mutation by mutation, without rendering or
    linting: findings are the mutations' rules, a syntax mutation shows E0000 alone, the
    feedback names every rule shown, and a chain stops at its first clean attempt."""
    sim = SimulatedModel(name, problems={p.id: p for p in PAPER}, profile=load_profile(name))
    out: dict[str, list[list[float]]] = {"errors": [], "warnings": [], "clean": []}
    for p in PAPER:
        problem = sim.problem(p.id)
        for sample in range(samples):
            state = sim.behaviour.first_draw(problem, Chain(0, p.id, sample, 1))
            row: dict[str, list[float]] = {k: [] for k in out}
            for t in range(1, T + 1):
                rules = [m.rule_id for m in state]
                shown = [SYNTAX_RULE] if SYNTAX_RULE in rules else rules
                errors = sum(r.startswith("E") for r in shown)
                row["errors"].append(errors)
                row["warnings"].append(len(shown) - errors)
                row["clean"].append(not shown)
                if shown:
                    state = sim.behaviour.repair(
                        problem, state, " ".join(shown), Chain(0, p.id, sample, t + 1)
                    )
                # a clean chain stops: its state, and so its row, stays
            for k in out:
                out[k].append(row[k])
    return {k: np.array(v, dtype=float) for k, v in out.items()}


@pytest.mark.parametrize("name", ["default", "synthetic-example"])
def test_the_chains_match_the_simulators_behaviour(name: str) -> None:
    reference = behaviour_chains(name, samples=40)
    shapes = problem_shapes(PAPER)
    bound = ChainProcess.from_profile(load_profile(name)).bind(shapes)
    chains = bound.simulate(np.repeat(np.arange(len(shapes)), 400), T, np.random.default_rng(2))
    for measure, model in (
        ("errors", chains.errors),
        ("warnings", chains.warnings),
        ("clean", chains.clean.astype(float)),
    ):
        ref = reference[measure]
        se = np.hypot(ref.std(0) / math.sqrt(len(ref)), model.std(0) / math.sqrt(len(model)))
        gap = np.abs(model.mean(0) - ref.mean(0))
        # 4 standard errors, and 0.02 for what the counts leave out (overlapping sites)
        assert (gap <= 4 * se + 0.02).all(), (measure, model.mean(0), ref.mean(0))


def test_the_hand_set_default_holds_its_stubborn_rules_as_persistent() -> None:
    process = ChainProcess.from_profile(load_profile("default"))
    by_rule = dict(zip(process.rules, process.persistent_share, strict=True))
    fix = dict(zip(process.rules, process.persistent_fix, strict=True))
    assert by_rule["E3003"] == by_rule["W3010"] == 1.0 and fix["E3003"] == fix["W3010"] == 0.05
    assert sum(by_rule.values()) == 2.0
    assert (process.fix == 0.9).all()  # the persistent ones' ordinary fix is the default's


def test_draws_are_seeded() -> None:
    bound = ChainProcess.from_profile(load_profile("synthetic-example")).bind(
        problem_shapes(PAPER[:5])
    )
    index = np.repeat(np.arange(5), 50)
    first, again, other = (
        bound.simulate(index, T, np.random.default_rng(seed)) for seed in (7, 7, 8)
    )
    for name in ("errors", "warnings", "clean", "reached"):
        assert np.array_equal(getattr(first, name), getattr(again, name))
    assert not np.array_equal(first.errors, other.errors)


def test_levers_move_what_they_say() -> None:
    process = two_rules()
    assert np.allclose(process.faster_fixes(1.0).fix, process.fix)
    faster = process.faster_fixes(2.0)
    assert np.allclose(faster.fix, 1 - (1 - process.fix) ** 2)
    assert np.array_equal(faster.persistent_fix, process.persistent_fix)  # untouched
    assert np.allclose(
        process.faster_all_fixes(2.0).persistent_fix, 1 - (1 - process.persistent_fix) ** 2
    )
    w = process.rules.index("W2001")
    assert process.more_persistent(1.0).persistent_share.tolist() == [1.0, 1.0]
    assert process.more_persistent(-1.0).persistent_share[w] == 0.0
    assert process.more_persistent(0.5).persistent_share[w] == pytest.approx(0.65)
    cleaner = process.cleaner_generation(math.log(3.0)).clean["all"]
    assert cleaner / (1 - cleaner) == pytest.approx(3 * CLEAN / (1 - CLEAN))
    with pytest.raises(ValueError):
        process.faster_fixes(0.0)
    with pytest.raises(ValueError):
        process.more_persistent(1.5)
