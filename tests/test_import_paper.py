"""The authors' published run, imported as a run folder: every template an attempt, their lint
text kept beside today's, and every analysis command reading it like any run."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from analysis.compare import main as compare_main
from analysis.report import main as report_main
from benchmark.problems.__main__ import main as datasets_main
from benchmark.records.tables import read_table
from benchmark.replication import import_paper as importer
from benchmark.replication.import_paper import main
from benchmark.replication.paper_repo import RECORDED_SOURCE, TEMPLATES, paper33_by_topic
from benchmark.replication.rescore import main as rescore
from benchmark.validators.cfn_lint.validator import CfnLintValidator, WarmLinter
from tests.paper_fixture import (
    CHAINS,
    DECOY,
    ITERATIONS,
    NO_RULE_BLOCK,
    NULL,
    TRIALS,
    TYPO,
    write_repository,
)

ROOT = Path(__file__).resolve().parent.parent
AS_OF = "2025-06-01"
PRESENT = sum(text is not None for texts in CHAINS.values() for text in texts)  # per trial
pytestmark = pytest.mark.xdist_group("import-paper")  # one worker makes the imported run


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory, warm_linter: WarmLinter) -> Path:
    # their text is cfn-lint's own output on each file
    return write_repository(tmp_path_factory.mktemp("paper") / "repo", warm_linter.lint)


@pytest.fixture(scope="module")
def imported(
    repository: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str, CfnLintValidator]:
    """The import CLI run once: (run folder, what it printed, the linter it used)."""
    out = tmp_path_factory.mktemp("runs") / "paper-gpt-4o"
    suites = []
    build = importer.build_suite

    def spy(settings):
        suites.append(build(settings))
        return suites[-1]

    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.setattr(importer, "build_suite", spy)
        args = ["--out", str(out), "--workers", "1", "--as-of", AS_OF, "--no-progress"]
        code = main([str(repository), *args])
    assert code == 0
    (lint,) = [v for v in suites[0].validators if isinstance(v, CfnLintValidator)]
    return out, printed.getvalue(), lint


def test_summary_counts_what_their_loop_did(imported, repository: Path) -> None:
    out, printed, lint = imported
    assert not (repository / DECOY).exists()  # their script was read for its requests, not run
    summary = json.loads((out / "0" / "import.json").read_text())
    assert (summary["trials"], summary["iterations"]) == (2, ITERATIONS)
    assert summary["attempts"] == len(TRIALS) * ITERATIONS * TEMPLATES
    assert summary["distinct_templates"] == 5 and summary["null_templates"] == 2
    assert lint.stats.calls - lint.stats.cache_hits == 5  # each distinct text linted once
    assert summary["missing_templates"] == len(TRIALS) * ITERATIONS * TEMPLATES - 2 * PRESENT
    assert summary["missing_lint_rows"] == 1  # trial 2's last CSV lacks template 165's row
    # per trial: templates 1, 2 and 7 once, 165 twice; template 2 clean, then re-asked, changed
    assert summary["unchanged_from_previous"] == 10 and summary["clean_then_changed"] == 2
    # every present template with a CSV row is compared; one has a block without a rule id
    assert summary["compared"] == 2 * PRESENT - 1
    assert summary["agreeing"] == summary["compared"] - 1
    assert summary["recorded_found_again"] == summary["recorded_findings"] - 1
    assert "next: make report RUN=" in printed and "make compare BASELINE=" in printed
    assert "unchanged from the previous iteration: 10" in printed


def test_rows_map_templates_to_problems_samples_and_files(imported) -> None:
    out, *_ = imported
    attempts = read_table(out, "attempts")
    topics = paper33_by_topic()
    assert len(attempts) == len(TRIALS) * ITERATIONS * TEMPLATES
    assert attempts.groupby("problem_id")["sample"].nunique().eq(2 * 5).all()
    assert set(attempts["model"]) == {"openai/gpt-4o"} and set(attempts["provider"]) == {"openai"}
    assert set(attempts["origin"]) == {"recorded"} and not attempts["simulated"].any()
    assert set(attempts["prompt_set"]) == {"paper-original"} == set(attempts["dataset"])
    assert set(attempts["max_iterations"]) == {ITERATIONS}
    assert set(attempts["response_format"]) == {"json_object"}  # read from their script
    scored = attempts["errors"].notna()
    assert attempts.loc[scored, ["cfn_lint_version", "lint_as_of"]].notna().all().all()
    saved = yaml.safe_load((out / "0" / ".hydra" / "config.yaml").read_text())
    assert str(saved["lint"]["as_of"]) == AS_OF and saved["model"]["id"] == "openai/gpt-4o"
    assert saved["prompts"]["template_as"] == "json_dumps" and saved["loop"]["samples"] == 10
    for column in ("reply", "seed", "temperature", "max_tokens", "input_tokens", "cost_usd"):
        assert attempts[column].isna().all(), column
    last = attempts["iteration"] == ITERATIONS
    assert (attempts.loc[last, "stop_reason"] == "max_iterations").all()
    assert attempts.loc[~last, "stop_reason"].isna().all()
    assert attempts.loc[last, "feedback"].isna().all()

    # template 7 of trial 2 is prompt 1 (topic 2) as query 1: sample 5 + 1
    row = attempts[
        (attempts["problem_id"] == topics[1].id)
        & (attempts["sample"] == 6)
        & (attempts["iteration"] == 1)
    ].iloc[0]
    assert row["recorded_from"] == "JSON_run_v2/JSONwork_batching2/json_set_1/JSONtemplate7.json"
    assert row["warnings"] == 1 and row["errors"] == 0 and not row["clean"]
    assert row["feedback"].startswith("W2001 ") and "/JSONtemplate7.json:1:" in row["feedback"]

    null = attempts[attempts["template"] == NULL]
    assert len(null) == 2 and (null["errors"] == 1).all()  # E1001, as cfn-lint says of `null`
    assert (null["intent_passed"] == 0).all() and (null["intent_total"] > 0).all()

    missing = attempts[attempts["recorded_from"].str.endswith("json_set_2/JSONtemplate11.json")]
    assert len(missing) == 2 and missing["template"].isna().all()
    assert (
        missing["errors"].isna().all()
        and missing["lint_failure"].str.contains("not published: JSON_run_v2/").all()
    )
    assert missing["feedback"].str.startswith("E3002 ").all()  # their CSV row is still there


def test_findings_hold_ours_and_theirs(imported) -> None:
    out, *_ = imported
    attempts = read_table(out, "attempts").set_index("attempt_id")
    findings = read_table(out, "findings")
    assert set(findings["source"]) == {"cfn-lint", RECORDED_SOURCE}
    ours = findings[findings["source"] == "cfn-lint"]
    errors = ours[ours["level"] == "E"].groupby("attempt_id").size()
    scored = attempts["errors"].notna()
    assert (
        errors.reindex(attempts.index[scored], fill_value=0) == attempts.loc[scored, "errors"]
    ).all()

    theirs = findings[findings["source"] == RECORDED_SOURCE]
    assert (theirs["path"] == "").all()
    no_rule = theirs[theirs["rule_id"].isna()]
    assert no_rule["message"].tolist() == [NO_RULE_BLOCK] and no_rule["line"].isna().all()
    assert (no_rule["level"] == "E").all()
    typo = findings[attempts.loc[findings["attempt_id"], "template"].to_numpy() == TYPO]
    pairs = typo.groupby("source")[["rule_id", "line", "column"]].first()
    assert pairs.loc["cfn-lint"].tolist() == pairs.loc[RECORDED_SOURCE].tolist()
    indexes = findings.groupby("attempt_id")["finding_index"].agg(list)
    assert all(sorted(i) == list(range(len(i))) for i in indexes)

    checks = read_table(out, "checks")
    by_problem = {p.id: len(p.intent_checks) for p in paper33_by_topic()}
    per_attempt = checks.groupby("attempt_id").size()
    for aid, n in per_attempt.items():
        assert n == by_problem[attempts.loc[aid, "problem_id"]]
    assert len(per_attempt) == scored.sum()


def test_bad_input_is_one_line(repository: Path, tmp_path: Path, capsys) -> None:
    taken = tmp_path / "taken"
    (taken / "0").mkdir(parents=True)
    assert main([str(repository), "--out", str(taken)]) == 2
    legacy = tmp_path / "legacy" / "trial1"
    legacy.mkdir(parents=True)
    pd.DataFrame([""] * 3, columns=["Errors"]).to_csv(legacy / "errorsCSV1.csv", index=False)
    assert main([str(tmp_path / "legacy"), "--out", str(tmp_path / "out")]) == 2
    assert main([str(tmp_path / "nowhere"), "--out", str(tmp_path / "out2")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(errors) == 3 and all(line.startswith("error: ") for line in errors)
    assert "no template files" in errors[1]


@pytest.mark.slow
def test_rescore_keeps_their_findings(imported, tmp_path: Path) -> None:
    out, *_ = imported
    again = tmp_path / "rescored"
    assert rescore([str(out), "--out", str(again)]) == 0
    before, after = read_table(out, "findings"), read_table(again, "findings")
    assert before["source"].value_counts().to_dict() == after["source"].value_counts().to_dict()
    merged = read_table(out, "attempts").merge(
        read_table(again, "attempts"), on="attempt_id", suffixes=("", "_new")
    )
    assert (merged["errors"].fillna(-1) == merged["errors_new"].fillna(-1)).all()
    assert (merged["origin_new"] == "recorded").all()
    # their text stays what the model was shown, whichever cfn-lint counts the findings
    shown = merged[merged["feedback"].notna()]
    assert len(shown) and set(shown["feedback_linter"]) == {"recorded"}
    assert set(shown["feedback_linter_new"]) == {"recorded"}


def run_module(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow
def test_report_and_compare_read_it_like_any_run(
    imported, repository: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, *_ = imported
    assert report_main([str(out), "--out", str(tmp_path / "report"), "--n-boot", "200"]) == 0
    text = (tmp_path / "report" / "report.md").read_text()
    assert "openai/gpt-4o" in text and "paper-original" in text

    # a tiny simulated sweep on the paper's protocol, linted as of the same day
    local = tmp_path / "local"
    where = ["--out", str(local / "paper-original"), "--conf-dir", str(local / "conf")]
    assert datasets_main(["import", "paper-protocol", str(repository), *where]) == 0
    problems = sorted({p.id for p in paper33_by_topic()[:2]} | {paper33_by_topic()[-1].id})
    sweep = run_module(
        "benchmark.run", "-m", "model.id=simulated/default", "dataset=paper-original",
        "prompts=paper-original", f"hydra.searchpath=[file://{local / 'conf'}]",
        f"dataset.only=[{','.join(problems)}]", f"loop.max_iterations={ITERATIONS}",
        "loop.samples=2", "lint.workers=1", f"lint.as_of={AS_OF}", "progress=false",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    )  # fmt: skip
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    sim = read_table(tmp_path / "sweep", "attempts")
    assert set(sim["prompt_set"]) == {"paper-original"} and set(sim["origin"]) == {"simulated"}
    assert sim["model_error"].isna().all()  # the simulator reads its json.dumps'd templates
    assert sim["template"].str.startswith(("{", "null")).all()  # kept as json.dumps text

    sides = ["--baseline", str(out), "--candidate", str(tmp_path / "sweep")]
    options = ["--out", str(tmp_path / "compare"), "--n-boot", "200", "--fit-boot", "20"]
    code = compare_main([*sides, *options])
    assert code == 0
    assert "openai/gpt-4o · paper-original · stateless" in capsys.readouterr().out
    assert (tmp_path / "compare" / "compare.md").exists()
