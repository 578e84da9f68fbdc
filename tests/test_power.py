"""Power analysis (`make power`): effects, their calibration, detection as `make compare`'s,
the search for the smallest design, one-line errors and the written table and figure."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.simulator.chains import ChainProcess
from benchmark.simulator.profile import load_profile
from studies import cli
from studies.design import Design, PowerError, design_problems
from studies.effects import (
    Effect,
    calibrate_effect,
    population_value,
)
from studies.power import (
    GroupDraws,
    PowerResult,
    Settings,
    analyse,
    search,
    wilson,
)

ROOT = Path(__file__).resolve().parents[1]
PAPER = design_problems("paper33")
FAST = {"n_boot": 200, "fit_boot": 50}  # make compare's resamples, cut for speed


def run(
    profile: str,
    effect: str,
    sizes: list[int],
    replicates: int,
    *,
    samples: int | None = None,
    level: float = 0.95,
    seed: int = 0,
    iterations: int = 10,
) -> PowerResult:
    design = Design(PAPER, samples=samples or sizes[0], iterations=iterations)
    settings = Settings(replicates, level=level, seed=seed, **FAST)
    return analyse(profile, design, Effect.parse(effect), sizes=sizes, settings=settings)


def test_effects_parse_and_bad_ones_are_one_line() -> None:
    assert Effect.parse("k=+25%") == Effect("k", 0.25, relative=True)
    assert Effect.parse(" C = -0.05 ") == Effect("C", -0.05)
    assert Effect.parse("clean@5=.1") == Effect("clean", 0.1, iteration=5)
    assert Effect.parse("k=+25%").goal(1.2) == pytest.approx(1.5)
    assert Effect.parse("clean@3=-0.1").goal(0.7) == pytest.approx(0.6)
    for bad in ("k", "k=fast", "A=+0.1", "clean@=0.1", "clean@5=+10%", "k=+-1", "k=1e3"):
        with pytest.raises(PowerError) as caught:
            Effect.parse(bad)
        assert repr(bad) in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(PowerError, match="iteration outside"):
        Effect.parse("clean@11=+0.1").check(10)
    with pytest.raises(PowerError, match="at least 4 iterations"):
        Effect.parse("k=+0.1").check(3)


@pytest.mark.parametrize(
    ("profile", "effect", "tolerance"),
    [
        ("default", "k=+15%", 0.03),  # relative
        ("default", "clean@5=+0.1", 0.01),
        ("synthetic-example", "C=+0.05", 0.01),
        ("synthetic-example", "k=-0.3", 0.03),
    ],
)
def test_the_calibrated_candidate_shows_the_effect(
    profile: str, effect: str, tolerance: float
) -> None:
    design, wanted = Design(PAPER), Effect.parse(effect)
    process = ChainProcess.from_profile(load_profile(profile))
    candidate, calibration = calibrate_effect(process, design, wanted, wanted.default_lever(), 1)
    assert calibration.candidate_value == pytest.approx(calibration.goal, abs=1e-3, rel=1e-2)
    # an independent population (another seed) shows the change too
    bound = {p: q.bind(design.problems) for p, q in (("base", process), ("cand", candidate))}
    base, cand = (population_value(bound[p], design, wanted, seed=7) for p in ("base", "cand"))
    goal = wanted.goal(base)
    assert abs(cand - goal) <= tolerance * (abs(goal) if wanted.relative else 1)
    assert np.sign(cand - base) == np.sign(wanted.change)


def test_an_effect_beyond_the_lever_is_one_line() -> None:
    process = ChainProcess.from_profile(load_profile("default"))
    with pytest.raises(PowerError, match=r"beyond lever 'fix'.*goes from .* to ") as caught:
        calibrate_effect(process, Design(PAPER), Effect.parse("k=+300%"), "fix", 0)
    assert "\n" not in str(caught.value)


def test_a_zero_effect_is_detected_at_the_ci_levels_false_positive_rate() -> None:
    # level 0.9: make compare's 90 % CI excludes zero (either side) in about 10 % of null
    # replicates (a little more: a percentile bootstrap over 33 problems is a little narrow)
    result = run("default", "clean@5=+0", [3], 300, level=0.9)
    assert result.calibration.goal == result.calibration.baseline_value  # no lever moved
    assert 0.07 <= result.power_at(3) <= 0.16


def test_a_large_effect_reaches_high_power_and_power_grows_with_samples() -> None:
    clean = run("default", "clean@5=+0.15", [1, 2, 4], 40)
    power = clean.table.set_index("samples")["power"]
    assert power[1] < power[2] < power[4] and power[4] >= 0.9
    assert clean.smallest in (2, 3, 4) and clean.power_at(clean.smallest) >= 0.8
    k = run("synthetic-example", "k=+50%", [16], 12)  # then bisection below 16
    assert k.power_at(16) >= 0.85 and k.smallest is not None and k.smallest < 16


def test_runs_are_seeded() -> None:
    first, again = (run("default", "clean@3=+0.1", [1, 2], 20, iterations=4) for _ in "ab")
    pd.testing.assert_frame_equal(first.table, again.table)
    assert first.calibration == again.calibration
    other = run("default", "clean@3=+0.1", [1, 2], 20, iterations=4, seed=1)
    assert other.calibration.baseline_value != first.calibration.baseline_value


def test_a_larger_design_holds_the_smaller_designs_chains() -> None:
    bound = ChainProcess.from_profile(load_profile("default")).bind(PAPER)
    design = Design(PAPER)
    walked, fresh = GroupDraws(bound, design, 4, 0, 0), GroupDraws(bound, design, 4, 0, 0)
    for n in (1, 5, 3):
        walked.sums(n)
    for n in (8, 3):  # 8 from the sums at 5, 3 as kept: the same as drawn afresh
        for measure in GroupDraws.MEASURES:
            assert np.array_equal(walked.sums(n)[measure], fresh.sums(n)[measure])
    extra = fresh.sample(5)["errors"] + fresh.sample(6)["errors"] + fresh.sample(7)["errors"]
    assert np.array_equal(fresh.sums(8)["errors"], fresh.sums(5)["errors"] + extra)
    assert fresh.sums(8)["clean"].max() <= 8 and not np.array_equal(
        GroupDraws(bound, design, 4, 0, 1).sums(3)["errors"], fresh.sums(3)["errors"]
    )  # the other group draws its own chains


def test_search_finds_the_smallest_size_on_the_grid_then_by_bisection() -> None:
    asked: list[int] = []
    resized: list[int] = []

    def power(n: int) -> float:
        asked.append(n)
        return min(1.0, n / 10)

    assert search([1, 2, 5, 10, 20], 0.8, power, must=5, resize=resized.append) == 8
    assert asked == [1, 2, 5, 10, 7, 8]  # 20 skipped: 10 has power >= 0.95
    assert resized == [-1, 1, 1]
    asked.clear()
    assert search([1, 2, 5, 10, 20], 0.8, power, must=20) == 8
    assert asked[:5] == [1, 2, 5, 10, 20]  # the design's own size is always evaluated
    assert search([1, 2, 3], 0.8, lambda n: 0.1 * n, must=1) is None
    assert search([1, 2, 3], 0.8, lambda n: 0.9, must=1) == 1
    # bisection stops within 20 %: between 100 and 200 it does not chase single samples
    steps: list[int] = []
    found = search([100, 200], 0.8, lambda n: steps.append(n) or float(n >= 163), must=100)
    assert 163 <= found <= 163 * 1.2 and len(steps) < 2 + math.log2(100)


def test_wilson_intervals() -> None:
    low, high = wilson(80, 100)
    assert low == pytest.approx(0.711, abs=1e-3) and high == pytest.approx(0.867, abs=1e-3)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0


def test_design_problems_cycle_past_the_dataset() -> None:
    assert len(PAPER) == 33
    more = design_problems("paper33", 40)
    assert len({p.id for p in more}) == 40 and more[33].id == f"{PAPER[0].id}#2"
    assert more[33].sites == PAPER[0].sites
    assert design_problems(ROOT / "datasets" / "smoke")  # a folder works as well as a name
    with pytest.raises(PowerError, match="at least 2 problems"):
        Design(design_problems("paper33", 1))


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ([], "either --effect"),
        (["--effect", "k=fast"], "'k=fast'"),
        (["--effect", "clean@5=+10%"], "points, not %"),
        (["--effect", "clean@12=+0.1"], "clean@12: iteration outside"),
        (["--effect", "k=+0.1", "--iterations", "3"], "at least 4 iterations"),
        (["--effect", "k=+0.1", "--samples", "0"], "at least 1 sample"),
        (["--effect", "k=+0.1", "--problems", "1"], "at least 2 problems"),
        (["--effect", "k=+0.1", "--dataset", "/nonexistent/ds"], "/nonexistent/ds"),
        (["--effect", "k=+0.1", "--sizes", "1,x"], "--sizes '1,x'"),
        (["--effect", "k=+0.1", "--sizes", "0,2"], "--sizes"),
        (["--effect", "k=+0.1", "--replicates", "1"], "--replicates"),
        (["--effect", "k=+0.1", "--power", "1.5"], "--power"),
        (["--candidate", "synthetic-example"], "--candidate needs --target"),
        (["--candidate", "synthetic-example", "--target", "k=+1"], "without a size"),
        (["--effect", "k=+300%"], "beyond lever 'fix'"),
    ],
)
def test_bad_effects_and_designs_are_one_line_errors(
    args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["power", "default", *args, "--quiet"])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and says in err


def test_an_unknown_profile_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["power", "no-such-profile", "--effect", "k=+0.1", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert exited.value.code == 2 and "no-such-profile" in err and "\n" not in err


def test_two_profiles_compare_on_a_target() -> None:
    design = Design(PAPER, samples=1, iterations=4)
    settings = Settings(10, seed=0, **FAST)
    result = analyse(
        "default",
        design,
        Effect.target_only("clean@2"),
        candidate="synthetic-truth",
        sizes=[1],
        settings=settings,
    )
    c = result.calibration
    assert result.candidate == "simulated/synthetic-truth" and c.lever == "profile"
    assert c.goal == c.candidate_value != c.baseline_value


def test_make_power_writes_a_simulated_table_and_figure(tmp_path: Path) -> None:
    out = tmp_path / "power"
    args = f"--replicates 4 --sizes 1,2 --n-boot 50 --out {out}"
    variables = ["PROFILE=default", "EFFECT=clean@3=+0.2", "ITERS=4", "SAMPLES=2", f"ARGS={args}"]
    done = subprocess.run(
        ["make", "-s", "power", f"PY={sys.executable}", *variables],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout.startswith("SIMULATED") and "smallest design reaching 80% power" in done.stdout
    )
    table = pd.read_csv(out / "power.csv")
    assert table["simulated"].all() and table["samples"].tolist() == [1, 2]
    assert table["design"].tolist() == [False, True] and table["replicates"].eq(4).all()
    assert (table["ci_low"] <= table["power"]).all() and (table["power"] <= table["ci_high"]).all()
    page = (out / "power.md").read_text(encoding="utf-8")
    assert page.count("SIMULATED DATA") >= 2 and "clean@3 +0.2" in page
    assert "figures/power.png" in page and (out / "figures" / "power.svg").is_file()
    assert (out / "power.html").is_file()
    usage = subprocess.run(
        ["make", "-s", "power", f"PY={sys.executable}"], cwd=ROOT, capture_output=True, text=True
    )
    assert usage.returncode == 2 and "usage: make power PROFILE=" in usage.stdout
