"""Calibration: hand-built chains give exactly the counts they should; the fix model recovers
known parameters; a synthetic run with known rates is recovered and then reproduced."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from benchmark.records.tables import RecordWriter, attempt_id, read_table
from benchmark.simulator.profile import load_profile, rates_from, write_profile
from studies.calibrate import calibrate
from studies.calibration_fits import RuleFixes, fit_fix_model
from studies.cli import main
from studies.recorded_chains import CalibrationError

ROOT = Path(__file__).resolve().parents[1]
PAPER33 = ROOT / "datasets" / "paper33"

# (rule, path) findings per iteration; "E0000" alone means the reply did not parse
Chain = list[tuple[list[tuple[str, str]], str | None]]  # (findings, feedback) per iteration
CHAINS: dict[tuple[str, int], Chain] = {
    # recorded past clean: the fourth attempt must be ignored
    ("s3-cloudfront-static-site", 0): [
        ([("E3002", "Resources/A/Properties/X"), ("W2001", "Parameters/P")], "E3002 W2001"),
        (
            [("E3002", "Resources/A/Properties/X"), ("E3012", "Resources/B/Properties/Y")],
            "E3002 E3012",
        ),
        ([], ""),
        ([("E3003", "Resources/C/Properties")], "E3003"),
    ],
    # parse failures: a broken reply, a repair that parses, one that breaks again, a clean one
    ("rds-parameter-group", 0): [
        ([("E0000", "")], "E0000"),
        ([("E3002", "Resources/D/Properties/Z")], "E3002"),
        ([("E0000", "")], "E0000"),
        ([], None),
    ],
    # a warning the feedback never names (an errors-only design), and a rule no mutation raises
    ("asg-rolling-update", 0): [
        ([("W3005", "Resources/E/DependsOn"), ("W3037", "Resources/F/Type")], "E9999 only"),
        ([("W3005", "Resources/E/DependsOn"), ("W3037", "Resources/F/Type")], "E9999 only"),
        ([("W3037", "Resources/F/Type")], "W3037"),
        ([], None),
    ],
}


def write_run(run: Path, chains: dict[tuple[str, int], Chain], model: str = "openai/gpt-4o"):
    """A recorded-style run folder: every iteration recorded, stop_reason only on the last."""
    writer = RecordWriter(run / "0")
    for (problem_id, sample), steps in chains.items():
        for iteration, (found, feedback) in enumerate(steps, start=1):
            key = {
                "sweep_id": run.name,
                "job_id": 0,
                "model": model,
                "provider": model.split("/")[0],
                "prompt_set": "paper",
                "protocol": "stateless",
                "max_iterations": len(steps),
                "problem_id": problem_id,
                "sample": sample,
                "iteration": iteration,
            }
            aid = attempt_id(key)
            broken = [r for r, _ in found] == ["E0000"]
            errors = sum(r.startswith("E") for r, _ in found)
            warnings = sum(r.startswith("W") for r, _ in found)
            row: dict[str, Any] = {
                "attempt_id": aid,
                **key,
                "reply": "…",
                "template": None,  # published runs may hold counts only
                "parse_ok": not broken,
                "errors": errors,
                "warnings": warnings,
                "infos": 0,
                "clean": errors + warnings == 0,
                "clean_rule": "no_errors_or_warnings",
                "stop_reason": "max_iterations" if iteration == len(steps) else None,
                "feedback": feedback,
                "origin": "recorded",
                "simulated": False,
                "dataset": "paper33",
                "output_format": "json",
                "cfn_lint_version": "0.87.7",
                "lint_as_of": date(2024, 6, 1),
                # the text and the counted findings come from one linter: the text names rules
                "feedback_linter": None if feedback is None else "cfn-lint 0.87.7 @ 2024-06-01",
                "started_at": datetime(2024, 6, 1, tzinfo=UTC),
                "output_tokens": 400,
            }
            # today's cfn-lint behind the counts, and the authors' own lint beside it (an
            # import keeps both): only the first may be read
            findings = [
                {
                    "attempt_id": aid,
                    **key,
                    "finding_index": i + offset,
                    "source": source,
                    "rule_id": rule,
                    "level": rule[0],
                    "path": path,
                    "message": "m",
                }
                for offset, source in ((0, "cfn-lint"), (100, "cfn-lint (recorded by the authors)"))
                for i, (rule, path) in enumerate(found)
            ]
            writer.append(row, findings)
    writer.close()
    return run


def test_hand_built_chains_give_exactly_their_counts(tmp_path: Path) -> None:
    profile = calibrate(write_run(tmp_path / "recorded", CHAINS), dataset=PAPER33)
    source, gen, rep = profile["source"], profile["generation"], profile["repair"]
    assert (source["chains"], source["attempts"], source["attempts_used"]) == (3, 12, 11)
    assert source["chains_past_clean"] == 1 and source["origin"] == "recorded"
    assert source["model"] == "openai/gpt-4o" and source["cfn_lint_version"] == "0.87.7"
    assert source["findings_source"] == "cfn-lint"

    assert (gen["parse_failure"]["count"], gen["parse_failure"]["n"]) == (1, 3)
    assert (gen["clean"]["count"], gen["clean"]["n"]) == (0, 2)
    assert (gen["findings"]["count"], gen["findings"]["n"]) == (4, 2)
    assert {r: v["count"] for r, v in gen["rules"].items()} == {
        "E3002": 1,
        "W2001": 1,
        "W3005": 1,
        "W3037": 1,
    }
    assert gen["clean"]["ci"][0] == 0.0 < gen["clean"]["ci"][1] < 1.0  # Wilson, not [0, 0]

    # steps from a parsed attempt: 2 + 1 + 3; one of them broke; both broken replies mended
    assert (rep["parse_failure"]["count"], rep["parse_failure"]["n"]) == (1, 6)
    assert (rep["parse_fixed"]["count"], rep["parse_fixed"]["n"]) == (2, 2)
    fix = rep["fix"]
    assert (fix["E3002"]["first"]["count"], fix["E3002"]["first"]["n"]) == (0, 1)
    assert (fix["E3002"]["later"]["count"], fix["E3002"]["later"]["n"]) == (1, 1)
    assert fix["E3002"]["fixed_after"] == {2: 1}
    assert fix["W2001"]["fixed_after"] == {1: 1} and fix["E3012"]["fixed_after"] == {1: 1}
    # never named, gone after the second repair; W3037 named once and fixed then
    assert (fix["W3005"]["unmentioned"]["count"], fix["W3005"]["unmentioned"]["n"]) == (1, 2)
    assert fix["W3037"]["fixed_after"] == {1: 1}
    assert fix["W3037"]["unmentioned"]["n"] == 2
    assert {r: v["count"] for r, v in rep["introduce"].items()} == {"E3012": 1}
    assert rep["introduce"]["E3012"]["n"] == 5  # steps with both sides parsed
    assert "E3003" not in fix  # only seen after the chain was clean

    coverage = profile["coverage"]
    assert [r["rule"] for r in coverage["uncovered"]] == ["W3037"]
    assert (
        coverage["uncovered"][0]["findings"] == 3 and "W3037" in coverage["uncovered_at_least_1pct"]
    )
    usage = profile["usage"]
    assert usage["chains"] == 3 and usage["attempts_per_chain"]["count"] == 11
    assert usage["stop"]["clean"]["count"] == 3
    assert usage["by_iteration"][0]["output_tokens"]["mean"] == 400
    # the profile is usable as it is written
    path = write_profile(profile, tmp_path / "p.yaml")
    rates = rates_from(load_profile(str(path)).data)
    assert rates.rule_shares["W3037"] == 0.25


def test_another_validators_findings_can_be_chosen(tmp_path: Path) -> None:
    run = write_run(tmp_path / "recorded", CHAINS)
    theirs = calibrate(run, findings_source="cfn-lint (recorded by the authors)")
    assert theirs["source"]["findings_source"] == "cfn-lint (recorded by the authors)"
    assert theirs["generation"]["findings"]["count"] == 4
    with pytest.raises(CalibrationError, match="not among"):
        calibrate(run, findings_source="checkov")


def test_one_group_at_a_time(tmp_path: Path) -> None:
    run = tmp_path / "two"
    write_run(run, dict(list(CHAINS.items())[:1]), model="openai/gpt-4o")
    write_run(run / "b", dict(list(CHAINS.items())[1:]), model="anthropic/claude-x")
    with pytest.raises(CalibrationError, match=r"found 2.*--where") as info:
        calibrate(run)
    assert "\n" not in str(info.value)
    picked = calibrate(run, where={"model": "anthropic/claude-x"}, dataset=PAPER33)
    assert picked["source"]["chains"] == 2


def lifetimes(pi: float, q: float, qs: float, n: int, horizon: int, seed: int) -> RuleFixes:
    """Simulated finding lifetimes: persistent with chance pi, fixed per repair with q or qs,
    censored after `horizon` repairs."""
    rng = np.random.default_rng(seed)
    fixes = RuleFixes()
    for _ in range(n):
        chance = qs if rng.random() < pi else q
        life = int(rng.geometric(chance)) if chance > 0 else horizon + 1
        if life <= horizon:
            fixes.fixed_after[life] += 1
        else:
            fixes.open_after[horizon] += 1
    return fixes


def test_the_fix_model_recovers_a_persistent_share() -> None:
    fitted = fit_fix_model(lifetimes(0.3, 0.8, 0.05, 4000, 9, seed=1))
    assert abs(fitted["persistent_share"] - 0.3) < 0.04
    assert abs(fitted["fix"] - 0.8) < 0.04
    assert abs(fitted["persistent_fix"] - 0.05) < 0.03
    plain = fit_fix_model(lifetimes(0.0, 0.6, 0.0, 4000, 9, seed=2))
    assert plain["persistent_share"] == 0.0 and abs(plain["fix"] - 0.6) < 0.03


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A synthetic run of the known-rates profile on every other paper33 problem, calibrated.
    Its tests share an xdist group: under `pytest -n` they run on one worker, which makes it
    once."""
    from benchmark.problems.dataset import load_dataset
    from studies.synthesize import synthesize

    root = tmp_path_factory.mktemp("synthetic")
    ids = [p.id for p in load_dataset(PAPER33)][::2]
    run = root / "source"
    synthesize(
        "synthetic-truth", PAPER33, run, samples=5, max_iterations=6, only=ids, progress=False
    )
    profile = root / "profile.yaml"
    with pytest.raises(SystemExit) as done:
        main(["calibrate", str(run), "--out", str(profile), "--name", "recovered"])
    assert done.value.code == 0
    return {"run": run, "profile": profile, "root": root}


@pytest.mark.slow
@pytest.mark.xdist_group("synthetic-run")
def test_a_synthetic_runs_known_rates_lie_in_the_calibrated_intervals(synthetic) -> None:
    truth = yaml.safe_load((ROOT / "conf/model/simulator/synthetic-truth.yaml").read_text())
    got = yaml.safe_load(synthetic["profile"].read_text())
    assert got["source"]["simulated"] and got["source"]["model"] == "simulated/synthetic-truth"
    assert got["source"]["chains"] == 85 and got["source"]["chains_past_clean"] > 0

    def inside(entry: dict, value: float) -> bool:
        low, high = entry["ci"]
        return low <= value <= high

    gen = got["generation"]
    assert inside(gen["parse_failure"], truth["generation"]["parse_failure"])
    assert inside(gen["findings"], truth["generation"]["findings"]["mean"])
    assert inside(got["repair"]["parse_failure"], truth["repair"]["parse_failure"])
    assert inside(got["repair"]["introduce"]["E3002"], truth["repair"]["introduce"]["E3002"])
    assert gen["rules"]["E3002"]["count"] == max(r["count"] for r in gen["rules"].values())
    assert got["coverage"]["uncovered"] == []  # it raised only rules it can raise
    attempts = read_table(synthetic["run"], "attempts")
    assert attempts["simulated"].all() and set(attempts["origin"]) == {"simulated"}


@pytest.mark.slow
@pytest.mark.xdist_group("synthetic-run")
def test_the_calibrated_profile_reproduces_its_source(synthetic) -> None:
    out = synthetic["root"] / "validation"
    with pytest.raises(SystemExit) as done:
        main(["validate", str(synthetic["profile"]), "--run", str(synthetic["run"]),
              "--out", str(out), "--replicates", "2", "--n-boot", "500"])  # fmt: skip
    table = read_csv(out / "validation.csv")
    assert done.value.code == 0, table[~table["inside"]]
    assert len(table) == 3 * 6 and table["simulated"].all()
    assert (out / "figures" / "validation.png").stat().st_size > 10_000
    assert "SIMULATED DATA" in (out / "validation.md").read_text()
    simulated = read_table(out / "simulated", "attempts")
    assert simulated["simulated"].all() and set(simulated["origin"]) == {"simulated"}
    assert set(simulated["model"]) == {"simulated/recovered"}


@pytest.mark.slow
@pytest.mark.xdist_group("synthetic-run")
def test_a_known_plateau_is_reproduced_on_held_out_chains(synthetic, capsys) -> None:
    """synthetic-truth keeps a persistent share of E3003, W2001, W3010 (a plateau): a profile
    learnt from samples 0, 2 and 4 reproduces it on samples 1 and 3, which it never saw."""
    root = synthetic["root"]
    profile = root / "train.yaml"
    with pytest.raises(SystemExit) as done:
        main(
            ["calibrate", str(synthetic["run"]), "--out", str(profile), "--train", "samples=0,2,4"]
        )
    assert done.value.code == 0
    written = yaml.safe_load(profile.read_text())
    assert written["source"]["split"] == {
        "by": "samples",
        "keep": [0, 2, 4],
        "spec": "samples=0,2,4",
    }
    with pytest.raises(SystemExit) as done:  # a test that overlaps the training chains
        main(["validate", str(profile), "--run", str(synthetic["run"]), "--test", "samples=1-2"])
    assert done.value.code == 2 and "never saw" in capsys.readouterr().err
    out = root / "held-out"
    with pytest.raises(SystemExit) as done:
        main(["validate", str(profile), "--run", str(synthetic["run"]), "--test", "samples=1,3",
              "--out", str(out), "--replicates", "3", "--n-boot", "500"])  # fmt: skip
    table = read_csv(out / "validation.csv")
    assert done.value.code == 0, table[~table["inside"]]
    assert table["inside"].sum() >= 0.9 * len(table)
    last = table[(table["measure"] == "errors") & (table["iteration"] == 6)].iloc[0]
    assert last["source_value"] > 0 and last["simulated_value"] > 0  # the plateau, both sides
    clean = table[(table["measure"] == "clean") & (table["iteration"] == 6)].iloc[0]
    assert clean["source_value"] < 0.95 and clean["simulated_value"] < 0.95
    assert "samples=1,3" in (out / "validation.md").read_text()


def read_csv(path: Path):
    import pandas as pd

    return pd.read_csv(path)


def test_the_cli_says_what_is_wrong_in_one_line(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main(["calibrate", str(tmp_path / "nothing"), "--out", str(tmp_path / "p.yaml")])
    assert done.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err
