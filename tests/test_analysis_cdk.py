"""CDK in the analysis (issue 23): findings and stops by stage (python, cdk, template), where
chains fail, and the same model on CloudFormation and CDK side by side."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.churn import churn_by_iteration
from analysis.compare_language import compare_pair, language_pairs
from analysis.load import fill_chains, load_run
from analysis.provenance import Provenance
from analysis.report import build_report
from analysis.rules import rule_frequency
from analysis.stage_measures import (
    attempt_stages,
    cdk_rows,
    chain_stages,
    construct_share,
    has_cdk,
    languages,
    stage_chains,
    stage_table,
)
from analysis.verdict import language_sentence
from tests.synthetic_cdk_runs import LanguageSpec, stage_chain, write_language_run
from tests.synthetic_runs import write_job, write_synthetic_run


def _job(path: Path, *chains: tuple[list, list]) -> Path:
    attempts = [row for rows, _ in chains for row in rows]
    findings = [row for _, rows in chains for row in rows]
    return write_job(path, attempts, findings)


@pytest.fixture
def hand(tmp_path: Path) -> Path:
    """Three CDK chains, horizon 4:
    p0: python → cdk → template → clean; p1: clean at once; p2: cdk three times (stopped)."""
    return _job(
        tmp_path / "hand",
        stage_chain("p0", ["python", "cdk", "template", "clean"], max_iterations=4),
        stage_chain("p1", ["clean"], max_iterations=4),
        stage_chain("p2", ["cdk", "cdk", "cdk"], max_iterations=4),
    )


def _at(long: pd.DataFrame, iteration: int) -> dict[str, float]:
    part = long[long["iteration"] == iteration]
    return dict(zip(part["measure"], part["value"], strict=True))


def test_stage_shares_count_where_each_chain_stops_at_each_iteration(hand: Path) -> None:
    run = load_run(hand)
    long = stage_table(stage_chains(run.attempts, run.findings), n_boot=50)
    first, second, third, fourth = (_at(long, t) for t in (1, 2, 3, 4))
    assert (first["python"], first["cdk"], first["template"], first["clean"]) == pytest.approx(
        (1 / 3, 1 / 3, 0, 1 / 3)
    )
    assert (second["python"], second["cdk"], second["clean"]) == pytest.approx((0, 2 / 3, 1 / 3))
    assert (third["cdk"], third["template"]) == pytest.approx((1 / 3, 1 / 3))
    assert (fourth["cdk"], fourth["clean"]) == pytest.approx((1 / 3, 2 / 3))  # p2 carried
    # nothing synthesized: intent checks all failed (p0, p2), p1 passes both
    assert first["intent"] == pytest.approx(1 / 3)
    assert third["intent"] == pytest.approx(2 / 3)
    # findings by their source's stage
    assert first["findings_python"] == pytest.approx(1 / 3)
    assert first["findings_cdk"] == pytest.approx(1 / 3)
    assert third["findings_template"] == pytest.approx(1 / 3)
    shares = long[long["measure"].isin(["python", "cdk", "template", "clean"])]
    assert shares.groupby("iteration")["value"].sum().to_numpy() == pytest.approx(1.0)
    assert (long["ci_low"] <= long["value"] + 1e-12).all()
    assert (long["value"] <= long["ci_high"] + 1e-12).all()


def test_where_chains_fail_gives_the_last_stage_and_when_each_got_past(hand: Path) -> None:
    frame = chain_stages(load_run(hand).attempts).set_index("problem_id")
    assert frame.loc["p0", "final_stage"] == "clean"
    assert (frame.loc["p0", "past_python_at"], frame.loc["p0", "past_cdk_at"]) == (2, 3)
    assert (frame.loc["p1", "past_python_at"], frame.loc["p1", "past_cdk_at"]) == (1, 1)
    assert frame.loc["p2", "final_stage"] == "cdk"
    assert frame.loc["p2", "past_python_at"] == 1
    assert np.isnan(frame.loc["p2", "past_cdk_at"])  # never synthesized


def test_template_findings_keep_the_construct_they_map_to(hand: Path) -> None:
    run = load_run(hand)
    assert set(run.findings["source"]) == {"python", "cdk", "cfn-lint"}
    assert construct_share(run.attempts, run.findings) == (1, 1)  # p0's E3002


def test_synth_stage_findings_rank_and_churn_with_the_linters(hand: Path) -> None:
    """They are counted in errors, so rules and churn must count them too."""
    run = load_run(hand)
    rules = rule_frequency(fill_chains(run.attempts), run.findings)
    first = rules[rules["iteration"] == 1].set_index("rule_id")["findings"]
    assert first.to_dict() == {"S1002": 1, "C1001": 1}  # p0's python, p2's cdk
    churn = churn_by_iteration(run.attempts, run.findings).set_index("iteration")
    # into 2: p0 fixed S1002 and introduced C1001; p2's C1001 persisted
    assert churn.loc[2, ["fixed", "introduced", "persisting"]].tolist() == [1, 1, 1]


def test_rows_without_the_cdk_columns_are_cloudformation_without_stages(tmp_path: Path) -> None:
    run = load_run(write_synthetic_run(tmp_path / "old", problems=4, samples=1))
    old = run.attempts.drop(columns=["language", "synth_stage"], errors="ignore")
    assert not has_cdk(old) and not has_cdk(run.attempts)
    assert set(languages(old)) == {"cloudformation"}
    assert set(attempt_stages(old)) <= {"clean", "template"}
    assert cdk_rows(old).empty
    assert language_pairs(old) == []


def _mixed(tmp_path: Path, cfn_start: tuple = (0.1, 0.1, 0.4, 0.4), **cdk: object) -> Path:
    specs = [
        LanguageSpec(**cdk),  # type: ignore[arg-type]
        LanguageSpec(language=None, prompt_set="structured", dataset="paper33", start=cfn_start),
    ]
    return write_language_run(tmp_path / "mixed", specs, simulated=True)


def test_the_report_shows_the_stages_and_both_languages_side_by_side(tmp_path: Path) -> None:
    report = build_report(_mixed(tmp_path), tmp_path / "out", n_boot=100, fit_boot=10)
    text = report.markdown.read_text()
    assert "## CDK stages" in text and "### Where chains fail" in text
    assert "## CloudFormation vs CDK" in text
    assert "(prompt sets structured vs cdk)" in text
    verdict = next(line for line in text.splitlines() if "(paired over the shared" in line)
    assert verdict.startswith("SIMULATED DATA")  # the rows are simulated: so is the verdict
    assert (tmp_path / "out" / "figures" / "cdk_stages.png").exists()
    stages = pd.read_csv(tmp_path / "out" / "cdk_stages.csv")
    assert set(stages["prompt_set"]) == {"cdk"}  # CDK chains only
    sides = pd.read_csv(tmp_path / "out" / "language.csv")
    assert "clean rate @5" in set(sides["figure"]) and sides["paired"].all()


def test_both_languages_are_set_apart_even_when_the_report_groups_by_model(
    tmp_path: Path,
) -> None:
    run = _mixed(tmp_path)
    (pair,) = language_pairs(load_run(run).attempts, ["model"])
    assert pair.keys == ["model", "prompt_set"]
    report = build_report(run, tmp_path / "out", n_boot=50, fit_boot=5, group_keys=["model"])
    assert "## CloudFormation vs CDK" in report.markdown.read_text()


def test_a_cloudformation_run_has_neither_cdk_section(tmp_path: Path) -> None:
    run = write_synthetic_run(tmp_path / "cfn", problems=4, samples=1)
    text = build_report(run, tmp_path / "out", n_boot=50, fit_boot=5).markdown.read_text()
    assert "CDK stages" not in text and "CloudFormation vs CDK" not in text
    assert not (tmp_path / "out" / "language.csv").exists()


def test_a_cdk_only_run_has_stages_but_no_side_by_side(tmp_path: Path) -> None:
    run = write_language_run(tmp_path / "cdk", [LanguageSpec()], problems=4)
    text = build_report(run, tmp_path / "out", n_boot=50, fit_boot=5).markdown.read_text()
    assert "## CDK stages" in text and "CloudFormation vs CDK" not in text


def test_languages_are_paired_only_for_the_same_model_and_protocol(tmp_path: Path) -> None:
    specs = [
        LanguageSpec(model="a/one"),
        LanguageSpec(model="b/two", language="cloudformation", prompt_set="structured"),
        LanguageSpec(model="a/one", language="cloudformation", prompt_set="structured"),
        LanguageSpec(model="a/one", language="cloudformation", protocol="conversation"),
    ]
    run = load_run(write_language_run(tmp_path / "run", specs, problems=3))
    pairs = language_pairs(run.attempts)
    assert [p.groups for p in pairs] == [
        {
            "cloudformation": ("a/one", "structured", "stateless"),
            "cdk-python": ("a/one", "cdk", "stateless"),
        }
    ]
    assert pairs[0].notes == []


def test_unlike_settings_are_named(tmp_path: Path) -> None:
    cdk = stage_chain("p0", ["cdk", "clean"], max_iterations=5, job_id=0)
    cfn = stage_chain(
        "p0", ["template", "clean"], language="cloudformation", prompt_set="x", job_id=1
    )
    run = load_run(_job(tmp_path / "run", cdk, cfn))
    (pair,) = language_pairs(run.attempts)
    assert len(pair.notes) == 1
    assert "max_iterations is 10 for CloudFormation and 5" in pair.notes[0]
    relinted = run.attempts.assign(
        cfn_lint_version=np.where(run.attempts["job_id"] == 1, "1.20.0", "1.58.0")
    )
    (pair,) = language_pairs(relinted)
    assert any(note.startswith("Not like with like") and "1.20.0" in note for note in pair.notes)


def test_an_app_that_never_synthesized_says_nothing_of_the_linter(tmp_path: Path) -> None:
    """A CDK attempt stopped at Python made no template, so nothing linted it and it has no
    lint date: that is no sign the two sides were linted differently, nor an undated row of
    the run's provenance (the report's "What ran", make compare)."""
    cdk = stage_chain("p0", ["python", "clean"], job_id=0)
    cfn = stage_chain("p0", ["template", "clean"], language="cloudformation", prompt_set="x")
    run = load_run(_job(tmp_path / "run", cdk, cfn))
    attempts = run.attempts.assign(lint_as_of=run.attempts["lint_as_of"].astype(object))
    unlinted = attempts["synth_template"].isna() & (attempts["language"] == "cdk-python")
    assert unlinted.any()
    attempts.loc[unlinted, "lint_as_of"] = None
    (pair,) = language_pairs(attempts)
    assert not any(note.startswith("Not like with like") for note in pair.notes)
    assert Provenance.of_attempts(attempts, "run").undated == 0


def test_the_same_outcomes_in_both_languages_are_not_distinguishable(tmp_path: Path) -> None:
    """Paired over the shared problems, identical per-problem outcomes differ by exactly 0."""
    chains = []
    rng = np.random.default_rng(3)
    for p in range(8):
        stops = ["template"] * int(rng.integers(0, 4)) + ["clean"]
        intent = [(2, 2)] * len(stops)
        chains.append(stage_chain(f"p{p}", stops, intent=intent, max_iterations=5))
        chains.append(
            stage_chain(
                f"p{p}",
                stops,
                language=None,
                prompt_set="structured",
                intent=intent,
                job_id=1,
                max_iterations=5,
            )
        )
    run = load_run(_job(tmp_path / "run", *chains))
    (pair,) = language_pairs(run.attempts)
    table, paired = compare_pair(fill_chains(run.attempts), pair, n_boot=200)
    assert paired
    assert (table["diff"] == 0).all() and (table["ci_low"] == 0).all()
    assert (table["ci_high"] == 0).all()
    sentence = language_sentence(pair.label, table, 0.95, paired)
    assert "not distinguishable" in sentence
    assert "higher" not in sentence and "lower" not in sentence


def test_a_large_gap_is_named_and_only_where_its_ci_excludes_zero(tmp_path: Path) -> None:
    run = load_run(
        _mixed(
            tmp_path,
            cfn_start=(0.0, 0.0, 0.2, 0.8),
            start=(0.9, 0.1, 0.0, 0.0),
            advance=0.2,
            intent_fail=0.0,
        )
    )
    (pair,) = language_pairs(run.attempts)
    table, paired = compare_pair(fill_chains(run.attempts), pair, n_boot=500)
    sentence = language_sentence(pair.label, table, 0.95, paired)
    first = table.set_index("figure").loc["clean rate @1"]
    assert first["ci_high"] < 0
    assert "clean rate @1 is lower by" in sentence
    for row in table.itertuples():
        named = f"{row.figure} is " in sentence
        assert named == bool(row.ci_low > 0 or row.ci_high < 0)
