"""Calibration true to its source: "fixed when named" is learnt only where the linter that wrote
the feedback the model saw is known to have named the rule; a rule the source never named gets
no invented rate; a source is split into training and held-out chains."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmark.problems.dataset import load_dataset
from benchmark.records.tables import RecordWriter, attempt_id, read_table
from benchmark.replication.import_paper import main as import_main
from benchmark.simulator.behaviour import Calibrated, Chain, FixModel, Rates, SimProblem
from benchmark.simulator.catalogue import find_sites
from benchmark.simulator.chains import ChainProcess
from benchmark.simulator.model import SimulatedModel
from benchmark.simulator.mutations import Mutation, render
from benchmark.simulator.profile import write_profile
from benchmark.simulator.template import parse_template
from benchmark.validators.cfn_lint.validator import LintSettings, WarmLinter
from studies.calibrate import calibrate, profile_header
from studies.cli import main
from studies.recorded_chains import CalibrationError
from studies.repair_rates import NEVER_NAMED
from studies.split import Split
from tests.paper_fixture import CHAINS, LEGACY, as_released_in_2024, write_repository

ROOT = Path(__file__).resolve().parents[1]
PAPER33 = ROOT / "datasets" / "paper33"
TODAY = ("1.58.0", date(2026, 12, 1))  # the linter behind the counted findings
THEN = "cfn-lint 1.4.2 @ 2024-09-01"  # the one that wrote the text the model saw


def write_run(
    run: Path,
    chains: dict[tuple[str, int], list[list[str]]],
    shown_by: Any,
    template: str = "{}",
    path: str = "Resources/R{i}",
) -> Path:
    """A harness-style run: per chain, the rules found at each iteration (today's linter);
    the feedback text names the same rules, and `shown_by(problem)` says which linter wrote it.
    Every attempt holds `template`; finding i points at `path`."""
    writer = RecordWriter(run / "0")
    for (problem_id, sample), steps in chains.items():
        for iteration, rules in enumerate(steps, start=1):
            key = {
                "sweep_id": run.name,
                "job_id": 0,
                "model": "openai/gpt-4o",
                "provider": "openai",
                "prompt_set": "paper",
                "protocol": "stateless",
                "max_iterations": len(steps),
                "problem_id": problem_id,
                "sample": sample,
                "iteration": iteration,
            }
            aid = attempt_id(key)
            errors = sum(r.startswith("E") for r in rules)
            warnings = len(rules) - errors
            last = iteration == len(steps)
            row = {
                "attempt_id": aid,
                **key,
                "reply": "…",
                "template": template,
                "parse_ok": True,
                "errors": errors,
                "warnings": warnings,
                "infos": 0,
                "clean": not rules,
                "clean_rule": "no_errors_or_warnings",
                "stop_reason": "max_iterations" if last else None,
                "feedback": None if last else " ".join(rules),
                "feedback_linter": None if last else shown_by(problem_id),
                "origin": "run",
                "simulated": False,
                "dataset": "paper33",
                "output_format": "json",
                "cfn_lint_version": TODAY[0],
                "lint_as_of": TODAY[1],
                "started_at": datetime(2026, 12, 1, tzinfo=UTC),
            }
            findings = [
                {
                    "attempt_id": aid,
                    **key,
                    "finding_index": i,
                    "source": "cfn-lint",
                    "rule_id": rule,
                    "level": rule[0],
                    "path": path.format(i=i),
                    "message": "m",
                }
                for i, rule in enumerate(rules)
            ]
            writer.append(row, findings)
    writer.close()
    return run


# E3002 named at every repair: fixed at the second; W2001 fixed at the first
AGREEING = {("s3-cloudfront-static-site", 0): [["E3002", "W2001"], ["E3002"], []]}
# a rescored chain: the text was 2024's, the findings today's; its repairs must not count
RESCORED = {("rds-parameter-group", 0): [["E3002", "E3012"], [], []]}


def test_feedback_from_another_linter_is_refused_in_one_line(tmp_path: Path, capsys) -> None:
    run = write_run(tmp_path / "rescored", {**AGREEING, **RESCORED}, lambda _: THEN)
    with pytest.raises(CalibrationError) as info:
        calibrate(run, dataset=PAPER33)
    message = str(info.value)
    assert "\n" not in message and THEN in message and "cfn-lint 1.58.0 @ 2026-12-01" in message
    assert f"iacbench rescore {run} --cfn-lint 1.4.2 --as-of 2024-09-01" in message
    with pytest.raises(SystemExit) as done:
        main(["calibrate", str(run), "--out", str(tmp_path / "p.yaml"), "--dataset", str(PAPER33)])
    assert done.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert not (tmp_path / "p.yaml").exists()


def test_only_attempts_whose_feedback_and_findings_agree_are_fitted(tmp_path: Path) -> None:
    today = f"cfn-lint {TODAY[0]} @ {TODAY[1].isoformat()}"
    run = write_run(
        tmp_path / "mixed",
        {**AGREEING, **RESCORED},
        lambda problem: today if problem == "s3-cloudfront-static-site" else THEN,
    )
    profile = calibrate(run, dataset=PAPER33)
    assert profile["source"]["named_rules_read_from"] == {
        "text": 2,
        "recorded findings": 0,
        "unread": 2,
    }
    fix = profile["repair"]["fix"]
    # E3002: exposed twice in the agreeing chain, fixed at the second; none from the other
    assert (fix["E3002"]["first"]["count"], fix["E3002"]["first"]["n"]) == (0, 1)
    assert (fix["E3002"]["later"]["count"], fix["E3002"]["later"]["n"]) == (1, 1)
    assert "E3012" not in fix or fix["E3012"]["first"]["n"] == 0  # its repair was unread
    # the generation still counts every chain: what was generated does not depend on feedback
    assert profile["generation"]["templates"] == 2


@pytest.fixture(scope="module")
def imported_later_rule(tmp_path_factory: pytest.TempPathFactory, warm_linter: WarmLinter) -> Path:
    """The authors' layout, their text written by a 2024 linter that does not know W3697, and
    a chain whose template keeps a resource type today's linter flags with it."""
    root = tmp_path_factory.mktemp("paper-later")
    chains = {**CHAINS, 12: [LEGACY, LEGACY, LEGACY]}
    repo = write_repository(root / "repo", as_released_in_2024(warm_linter.lint), chains)
    out = root / "paper-gpt-4o"
    args = ["--out", str(out), "--workers", "1", "--as-of", "2026-12-01", "--no-progress"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert import_main([str(repo), *args]) == 0
    return out


def test_a_rule_only_todays_linter_knows_is_never_named(imported_later_rule: Path) -> None:
    attempts = read_table(imported_later_rule, "attempts")
    shown = attempts[attempts["feedback"].notna()]
    assert set(shown["feedback_linter"]) == {"recorded"}  # their text, their linter
    profile = calibrate(imported_later_rule, dataset=PAPER33)
    assert profile["source"]["named_rules_read_from"]["recorded findings"] > 0
    w3697 = profile["repair"]["fix"]["W3697"]
    assert w3697["never_named"] == NEVER_NAMED
    # two repairs per trial that did not name it, and it stayed through both
    assert (w3697["persistence"]["count"], w3697["persistence"]["n"]) == (4, 4)
    assert w3697["model"]["unmentioned"] == 0.0
    prior = profile["repair"]["never_named_prior"]
    assert w3697["model"]["prior"]["beta"] == prior["beta"] and "basis" in prior
    assert w3697["model"]["fix"] == prior["mean"]  # not a pooled fit of other rules
    assert profile_header(profile).startswith("# A profile")  # figures only, no their text


def rates(model: FixModel) -> Rates:
    return Rates(0.0, {"all": 0.0}, {"all": 1.0}, {"W3697": 1.0}, 0.0, 1.0,
                 {"W3697": model}, {}, {})  # fmt: skip


def test_the_simulator_names_a_never_named_rule_at_a_rate_from_its_prior() -> None:
    never = FixModel(fix=0.5, unmentioned=0.0, prior=(2.0, 2.0))
    m = Mutation.one("x", "W3697", "set", ("Resources", "A", "Type"), "AWS::X::Y")
    draws = {
        Calibrated(rates(never))._fix_chance(m, "W3697", Chain(s, "p", 0, 2)) for s in range(20)
    }
    assert len(draws) > 10 and all(0 < d < 1 for d in draws)  # one draw per seed
    same_seed = {
        Calibrated(rates(never))._fix_chance(m, "W3697", Chain(3, "p", k, 2)) for k in range(5)
    }
    assert len(same_seed) == 1  # a property of the model, not of a chain
    replay = Calibrated(rates(never), named_as_source=True)
    assert replay._fix_chance(m, "W3697", Chain(0, "p", 0, 2)) == 0.0  # as in its source


def test_a_split_is_parsed_and_a_bad_one_is_one_line() -> None:
    assert Split.parse("trials=1-3").values == {1, 2, 3}
    assert Split.parse("samples=0,2,5-6").values == {0, 2, 5, 6}
    for bad in ("trial=1", "trials=3-1", "samples=a"):
        with pytest.raises(CalibrationError) as info:
            Split.parse(bad)
        assert "\n" not in str(info.value)
    assert Split.parse("trials=4-6").overlaps({"by": "trials", "keep": [3, 4]})
    assert not Split.parse("trials=4-6").overlaps({"by": "trials", "keep": [1, 2, 3]})


def test_a_run_without_trials_cannot_be_split_by_trial(tmp_path: Path) -> None:
    today = f"cfn-lint {TODAY[0]} @ {TODAY[1].isoformat()}"
    run = write_run(tmp_path / "run", AGREEING, lambda _: today)
    with pytest.raises(CalibrationError, match="samples="):
        calibrate(run, dataset=PAPER33, split=Split.parse("trials=1"))
    kept = calibrate(run, dataset=PAPER33, split=Split.parse("samples=0"))
    assert kept["source"]["split"] == {"by": "samples", "keep": [0], "spec": "samples=0"}


# a legacy property (W3045): no catalogue kind raises it, the source's template does
LEGACY_ACL = json.dumps(
    {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {"Acl": {"Type": "String", "Default": "Private"}},
        "Resources": {
            "Logs": {"Type": "AWS::S3::Bucket"},
            "Site": {
                "Type": "AWS::S3::Bucket",
                "DependsOn": "Logs",
                "Properties": {"AccessControl": {"Ref": "Acl"}, "Tags": []},
            },
        },
    }
)


def test_an_uncovered_rule_is_raised_by_a_harvested_fragment_proven_alone(tmp_path: Path) -> None:
    today = f"cfn-lint {TODAY[0]} @ {TODAY[1].isoformat()}"
    chains = {("s3-cloudfront-static-site", 0): [["W3045"], ["W3045"], []]}
    run = write_run(
        tmp_path / "run",
        chains,
        lambda _: today,
        LEGACY_ACL,
        "Resources/Site/Properties/AccessControl",
    )
    plain = calibrate(run, dataset=PAPER33)
    assert plain["coverage"]["covered_share"] == 0.0 and "harvested" not in plain["coverage"]
    profile = calibrate(run, dataset=PAPER33, harvest_fragments=True, progress=False)
    coverage = profile["coverage"]
    assert coverage["covered_share"] == 1.0 and coverage["harvested_share"] == 1.0
    (fragment,) = coverage["harvested"]["W3045"]
    # the smallest that stands alone: the property it names and the parameter that property
    # uses, under names of their own (the DependsOn and the other property are cut away)
    sections = sorted(e["section"] for e in fragment)
    assert sections == ["Parameters", "Resources"]
    site = next(e for e in fragment if e["fragment"].get("Type") == "AWS::S3::Bucket" and
                "Properties" in e["fragment"])  # fmt: skip
    assert site["fragment"]["Properties"] == {"AccessControl": {"Ref": "HW3045n1Acl"}}
    assert profile_header(profile) != profile_header(plain)
    assert "CARRIES TEXT FROM ITS SOURCE" in profile_header(profile)

    # the simulator transplants it: on a problem, a site of kind harvested that lints to W3045
    path = write_profile(profile, tmp_path / "p.yaml", profile_header(profile))
    problems = {p.id: p for p in load_dataset(PAPER33)}
    model = SimulatedModel.from_options("p", problems, {"profile": str(path)})
    problem = model.problem("s3-cloudfront-static-site")
    (m,) = problem.sites_by_kind["harvested"]
    linted = WarmLinter(LintSettings()).lint(render(problem.template, (m,), "json"))
    assert [f.rule_id for f in linted] == ["W3045"]


def test_power_draws_a_never_named_rules_rate_per_replicate() -> None:
    never = FixModel(fix=0.5, unmentioned=0.0, prior=(2.0, 2.0))
    process = ChainProcess.from_rates("p", rates(never))
    assert process.fix_drawn(np.array([0.5]))[0, 0] == pytest.approx(0.5)  # the median
    low, high = process.fix_drawn(np.array([0.05, 0.95]))[:, 0]
    assert low < 0.25 and high > 0.75  # the prior's spread, not its mean
    assert process.faster_fixes(2.0).fix_drawn(np.array([0.05]))[0, 0] > low  # levers apply
    replay = ChainProcess.from_rates("p", rates(never), as_source=True)  # power --as-source
    assert replay.fix[0] == 0.0 and np.isnan(replay.prior).all()


def test_a_rule_without_a_site_is_stood_in_for_by_one_named_like_it() -> None:
    problem_source = next(p for p in load_dataset(PAPER33) if p.reference_template)
    tree = parse_template(problem_source.reference_template)
    problem = SimProblem(problem_source.id, tree, find_sites(tree))
    assert problem.sites_by_rule.get("W2001") and problem.sites_by_rule.get("W3697")
    assert not problem.sites_by_rule.get("W3037")  # no kind raises it
    named, never = FixModel(fix=0.9), FixModel(fix=0.5, prior=(2.0, 2.0))
    r = Rates(0.0, {"all": 0.0}, {"all": 1.0}, {"W3037": 0.9, "W3697": 0.05, "W2001": 0.05},
              0.0, 1.0, {"W3037": named, "W3697": never, "W2001": named}, {}, {})  # fmt: skip
    drawn = [Calibrated(r).first_draw(problem, Chain(s, problem.id, 0, 1)) for s in range(60)]
    rules = {m.rule_id for state in drawn for m in state}
    # W3037 was named in the source: its stand-in is a rule that was named too, never W3697,
    # which would stay as unfixed as it did there
    assert "W2001" in rules and "W3037" not in rules
    assert sum(m.rule_id == "W3697" for s in drawn for m in s) < 10  # only its own 5 %
