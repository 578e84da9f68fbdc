"""The agent protocol's measures in the report and `make compare` (issue 21), and how the
existing measures read agent chains: a chain's last row is its submission, its iteration the
order of its rows."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis.agent_measures import agent_table, chain_table, lookup_table
from analysis.churn import transitions
from analysis.compare import compare, write
from analysis.compare_agent import compare_agents
from analysis.compare_sides import run_side
from analysis.cost_frontier import cost_table
from analysis.load import chain_status, fill_chains, load_run, went_on_after_clean
from analysis.report import build_report
from analysis.verdict import agent_sentence
from benchmark.records.tables import SCHEMAS, read_table
from tests.synthetic_agent_runs import AgentSpec, Step, agent_chain, write_agent_run
from tests.synthetic_runs import GroupSpec, attempt_row, write_job, write_synthetic_run

TEMPLATE = "Resources: {fixed}"


def _hand_chains() -> tuple[list[dict], list[dict]]:
    """Four agent chains on four problems (tokens 1500 a row, $0.002 a row):
    p0 validates (2 errors), validates a fix (clean), submits it: clean, validated;
    p1 submits at once with 1 error: unvalidated;
    p2 validates (1 error) and submits that template: findings open;
    p3 looks up two types, validates twice with findings, ends without a submission."""
    chains = [
        agent_chain(
            "p0",
            [Step(errors=2), Step(template=TEMPLATE), Step("submit_template", template=TEMPLATE)],
        ),
        agent_chain("p1", [Step("submit_template", errors=1)]),
        agent_chain(
            "p2", [Step(errors=1, template=TEMPLATE), Step("reply", errors=1, template=TEMPLATE)]
        ),
        agent_chain(
            "p3",
            [Step(errors=1, lookups=("AWS::S3::Bucket", "AWS::IAM::Role")), Step(errors=1)],
            end="no_submission",
        ),
    ]
    rows = [r for chain, _ in chains for r in chain]
    findings = [f for _, found in chains for f in found]
    return rows, findings


@pytest.fixture
def hand(tmp_path: Path) -> Path:
    rows, findings = _hand_chains()
    fixed = [
        attempt_row(
            p,
            0,
            1,
            errors=1,
            max_iterations=1,
            stop_reason="max_iterations",
            job_id=1,
            input_tokens=900,
            output_tokens=600,
            cost_usd=0.002,
            intent_passed=3,
            intent_total=3,
        )
        for p in ("p0", "p1")
    ]
    fixed += [
        attempt_row(
            p,
            0,
            1,
            max_iterations=1,
            job_id=1,
            input_tokens=900,
            output_tokens=600,
            cost_usd=0.002,
            intent_passed=3,
            intent_total=3,
        )
        for p in ("p2", "p3")
    ]
    write_job(tmp_path / "run" / "0", rows, findings)
    write_job(tmp_path / "run" / "1", fixed)
    return tmp_path / "run"


def test_the_agent_figures_count_what_each_chain_did(hand: Path) -> None:
    table = agent_table(read_table(hand, "attempts"), n_boot=200).table.set_index("protocol")
    agent = table.loc["agent"]
    assert agent["chains"] == 4 and agent["submissions"] == 3
    assert (agent["ended_submitted"], agent["ended_no_submission"]) == (3, 1)
    assert agent["unvalidated"] == pytest.approx(1 / 4)  # p1
    assert agent["open"] == pytest.approx(1 / 4)  # p2
    assert agent["validate_calls"] == pytest.approx((2 + 0 + 1 + 2) / 4)
    assert agent["lookups"] == pytest.approx(2 / 4)
    assert agent["clean"] == pytest.approx(1 / 4)  # p0 only; p3 submitted nothing
    assert agent["intent"] == pytest.approx(3 / 4)  # p3, without a submission, passes nothing
    assert agent["tokens_per_clean"] == pytest.approx(8 * 1500 / 1)  # 8 rows, 1 clean
    assert agent["usd_per_clean"] == pytest.approx(8 * 0.002)
    assert agent["clean_low"] <= agent["clean"] <= agent["clean_high"]


def test_fixed_loops_read_beside_the_agent_with_its_own_figures_left_empty(hand: Path) -> None:
    table = agent_table(read_table(hand, "attempts"), n_boot=200).table
    assert table["protocol"].tolist() == ["stateless", "agent"]  # one model, side by side
    fixed = table.iloc[0]
    for name in ("unvalidated", "open", "validate_calls", "lookups", "ended_no_submission"):
        assert np.isnan(fixed[name]), name
    assert fixed["clean"] == pytest.approx(2 / 4)  # its last scored attempt is its submission
    assert fixed["tokens_per_clean"] == pytest.approx(4 * 1500 / 2)


def test_lookups_are_counted_by_resource_type(tmp_path: Path) -> None:
    rows, _ = agent_chain(
        "p0",
        [
            Step(errors=1, lookups=("AWS::S3::Bucket",)),
            Step(lookups=("AWS::S3::Bucket", "AWS::IAM::Role")),
        ],
    )
    more, _ = agent_chain("p1", [Step(lookups=("AWS::S3::Bucket",))], sample=1)
    bad, _ = agent_chain("p2", [Step(lookups=("ignored",))])
    bad[0]["schema_lookup_types"] = "not JSON ["  # a torn cell counts nothing, never crashes
    table = lookup_table(pd.DataFrame(rows + more + bad)).set_index("resource type")
    assert "ignored" not in table.index
    assert table.loc["AWS::S3::Bucket", "lookups"] == 3
    assert table.loc["AWS::S3::Bucket", "chains"] == 2
    assert table.loc["AWS::IAM::Role", "share"] == pytest.approx(1 / 4)
    assert table.index[0] == "AWS::S3::Bucket"


def test_an_agent_chain_that_submits_early_is_complete_not_cut_short(hand: Path) -> None:
    attempts = read_table(hand, "attempts")
    status = chain_status(attempts).set_index("problem_id")
    agent = status[status["protocol"] == "agent"]
    assert set(agent["status"]) == {"clean", "complete"}  # never "stopped": each chain ended
    chains = fill_chains(attempts, "exclude")  # so --stopped exclude keeps every agent chain
    assert chains.loc[chains["protocol"] == "agent", "problem_id"].nunique() == 4


def test_an_agent_that_leaves_a_clean_template_is_not_clean_by_n(tmp_path: Path) -> None:
    rows, findings = agent_chain("p0", [Step(), Step("submit_template", errors=1)])
    write_job(tmp_path / "run" / "0", rows, findings)
    attempts = read_table(tmp_path / "run", "attempts")
    chains = fill_chains(attempts).set_index("iteration")
    assert chains.loc[2, "clean_by"] == False  # noqa: E712 - its submission is what counts
    assert went_on_after_clean(attempts) == 0  # validate, then submit: not a loop going on


def test_submitting_a_validated_template_is_no_repair_step(hand: Path) -> None:
    run = load_run(hand)
    steps = transitions(run.attempts, run.findings)
    agent = steps[steps["protocol"] == "agent"]
    # p0: 1→2 is a repair (2 errors fixed); 2→3 and p2's 1→2 submit a validated template
    assert agent[["problem_id", "iteration"]].values.tolist() == [["p0", 2], ["p3", 2]]


def test_the_cost_frontier_shows_an_agent_group_at_its_last_iteration_only(hand: Path) -> None:
    table = cost_table(read_table(hand, "attempts"), n_boot=50).table
    agent = table[table["protocol"] == "agent"]
    assert agent["k"].tolist() == [5]  # its horizon (max_iterations) only, not k = 1..4
    assert agent["clean"].iloc[0] == pytest.approx(1 / 4)  # the submissions, as in the agent table


def _protocols_run(root: Path) -> Path:
    fixed = [GroupSpec(protocol="stateless"), GroupSpec(protocol="conversation")]
    write_synthetic_run(root, fixed, max_iterations=5, simulated=True)
    return write_agent_run(root, [AgentSpec(no_submission=0.2)], first_job=2)


def test_the_report_shows_the_agent_measures_beside_the_fixed_loops(tmp_path: Path) -> None:
    run = _protocols_run(tmp_path / "run")
    report = build_report(run, n_boot=100, fit_boot=10)
    text = report.markdown.read_text()
    section = text.split("## Agent protocol")[1].split("\n## ")[0]
    lines = [line for line in section.splitlines() if line.startswith("| synthetic/model")]
    assert [line.split(" | ")[0].rsplit(" · ", 1)[1] for line in lines[:3]] == [
        "stateless",
        "conversation",
        "agent",
    ]
    assert "| – | – | – | – | – |" in lines[0]  # agent-only columns empty for a fixed loop
    assert "ended: submitted · no_submission · max_turns" in section
    assert re.search(r"\| \d+ · [1-9]\d* · \d+ \|", lines[2])  # some ended no_submission
    assert "without a submission" in section
    assert "AWS::" in section  # the lookups by resource type
    saved = pd.read_csv(run / "report" / "agent.csv")
    assert set(saved["protocol"]) == {"stateless", "conversation", "agent"}
    assert (run / "report" / "agent_lookups.csv").exists()


def test_a_run_without_agent_chains_has_no_agent_section(tmp_path: Path) -> None:
    run = write_synthetic_run(tmp_path / "run", max_iterations=3)
    report = build_report(run, n_boot=50, fit_boot=5)
    assert "## Agent protocol" not in report.markdown.read_text()
    assert not (run / "report" / "agent.csv").exists()


def test_compare_sets_the_agent_measures_of_both_sides_with_paired_cis(tmp_path: Path) -> None:
    run = _protocols_run(tmp_path / "run")
    baseline = run_side(run, {"protocol": "stateless"})
    candidate = run_side(run, {"protocol": "agent"})
    result = compare(baseline, candidate, n_boot=100, fit_boot=10)
    md, _ = write(result, tmp_path / "out", n_boot=100)
    text = md.read_text()
    assert "## Agent protocol" in text
    assert result.agent_verdict and result.agent_verdict.startswith("On the agent measures")
    assert "paired over the shared problems" in result.agent_verdict
    diff = pd.read_csv(tmp_path / "out" / "compare_agent_diff.csv").set_index("figure")
    assert diff.loc["submitted unvalidated", "favours"] == "agent only"
    clean = diff.loc["clean@submission"]
    assert clean["ci_low"] <= clean["diff"] <= clean["ci_high"]


def test_paired_agent_differences_of_a_side_with_itself_are_zero(hand: Path) -> None:
    attempts = read_table(hand, "attempts")
    agent = attempts[attempts["protocol"] == "agent"]
    result = compare_agents({"baseline": agent, "candidate": agent}, n_boot=200)
    assert result.paired
    assert (result.differences["diff"].abs() < 1e-12).all()
    assert (result.differences["ci_low"] == 0).all() and (result.differences["ci_high"] == 0).all()
    assert "not distinguishable" in result.verdict


def test_unpaired_sides_are_resampled_on_their_own_problems(hand: Path) -> None:
    attempts = read_table(hand, "attempts")
    agent = attempts[attempts["protocol"] == "agent"]
    result = compare_agents({"baseline": agent, "candidate": agent[agent["problem_id"] != "p3"]})
    assert not result.paired
    assert "each side on its own problems" in result.verdict


@pytest.mark.parametrize(
    ("low", "high", "says", "never"),
    [
        (0.05, 0.30, "clean@submission is higher by 0.2", "not distinguishable"),
        (-0.05, 0.30, "the two sides are not distinguishable", "higher"),
    ],
)
def test_the_agent_verdict_says_no_more_than_its_ci(
    low: float, high: float, says: str, never: str
) -> None:
    rows = pd.DataFrame(
        [
            {
                "figure": "clean@submission",
                "baseline": 0.5,
                "candidate": 0.7,
                "diff": 0.2,
                "ci_low": low,
                "ci_high": high,
            }
        ]
    )
    sentence = agent_sentence(rows, 0.95, paired=True)
    assert says in sentence and never not in sentence
    assert "better" not in sentence and "worse" not in sentence


def test_a_run_written_before_the_agent_columns_reads_as_fixed_loops(tmp_path: Path) -> None:
    agent = {"tool", "turn", "schema_lookups", "schema_lookup_types", "submitted"}
    agent |= {"submission_validated", "open_findings_at_submit", "agent_turns"}
    old = pa.schema([f for f in SCHEMAS["attempts"] if f.name not in agent])
    rows = [attempt_row("p0", 0, 1, errors=1), attempt_row("p0", 0, 2)]
    table = pa.Table.from_pylist([{f.name: r.get(f.name) for f in old} for r in rows], old)
    part = tmp_path / "attempts" / "part-1-00000.parquet"
    part.parent.mkdir(parents=True)
    pq.write_table(table, part)
    chains = chain_table(read_table(tmp_path, "attempts"))
    assert not chains["agent"].any() and chains["clean"].tolist() == [1.0]
