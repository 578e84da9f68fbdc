"""The in-process linter: equal to the CLI, safe from lint-washing, isolated from the machine,
its clock a setting; settings the release would reject refused at start."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
import yaml
from pebble import ProcessExpired

from benchmark.config import PINNED_CFN_LINT, ConfigError
from benchmark.loop.feedback import FeedbackInput, format_raw
from benchmark.validators.base import Finding
from benchmark.validators.cfn_lint.validator import (
    CFN_LINT_VERSION,
    CfnLintValidator,
    LintSettings,
    WarmLinter,
    settings_problems,
)
from tests.cfn_lint_cli import run_cli
from tests.job_process import run_job_process

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = Path(__file__).resolve().parent / "templates"
LAMBDA = (TEMPLATES / "lambda_runtimes.yaml").read_text()
SUMMER_2024, WINTER_2026 = date(2024, 8, 1), date(2026, 12, 1)


def corpus(tmp_path: Path) -> list[Path]:
    """The bad templates in tests/templates plus the smoke problems' clean references."""
    paths = sorted(TEMPLATES.iterdir())
    for problem in sorted((ROOT / "datasets" / "smoke").glob("*.yaml")):
        ref = tmp_path / f"ref-{problem.stem}.yaml"
        ref.write_text(yaml.safe_load(problem.read_text())["reference_template"])
        paths.append(ref)
    return paths


@pytest.fixture(scope="module")
def linter(warm_linter: WarmLinter) -> WarmLinter:
    return warm_linter


def keys(findings: list[Finding]) -> list[tuple]:
    return sorted(f.key for f in findings)


def cli_findings(paths: list[Path], mandatory: list[str], cwd: Path) -> dict[str, list[tuple]]:
    """One `cfn-lint --format json` process over every template, grouped by file."""
    cli = Path(sys.executable).with_name("cfn-lint")
    command = [
        str(cli),
        "--format",
        "json",
        "--regions",
        "us-east-1",
        "--config-file",
        os.devnull,
        "--mandatory-checks",
        *mandatory,
        "--",
        *map(str, paths),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=300)
    assert done.stdout, done.stderr
    grouped: dict[str, list[tuple]] = {str(p): [] for p in paths}
    for item in json.loads(done.stdout):
        loc = item["Location"]
        path = tuple(str(p) for p in (loc.get("Path") or ()))
        grouped[item["Filename"]].append(
            (item["Rule"]["Id"], loc["Start"]["LineNumber"], loc["Start"]["ColumnNumber"], path)
        )
    return {name: sorted(found) for name, found in grouped.items()}


def test_findings_equal_the_cli(linter: WarmLinter, tmp_path: Path) -> None:
    paths = corpus(tmp_path)
    assert len(paths) >= 10
    expected = cli_findings(paths, linter.mandatory, tmp_path)
    dirty = 0
    for path in paths:
        ours = keys(linter.lint(path.read_text()))
        assert ours == expected[str(path)], path.name
        dirty += bool(ours)
    assert dirty >= 8  # the corpus really exercises findings, not just clean templates


def test_template_metadata_cannot_silence_counted_rules(linter: WarmLinter) -> None:
    text = (TEMPLATES / "metadata_wash.yaml").read_text()
    rules = {f.rule_id for f in linter.lint(text)}
    assert {"E3002", "W2001", "E3012", "E3030"} <= rules
    # without mandatory checks the template does silence them: the guard above is what stops it
    washable = WarmLinter(LintSettings(mandatory_checks=()))
    assert not {"E3002", "W2001", "E3012", "E3030"} & {f.rule_id for f in washable.lint(text)}


def test_ignore_checks_in_settings_still_apply(linter: WarmLinter) -> None:
    text = (TEMPLATES / "bad_properties.yaml").read_text()
    ignoring = WarmLinter(LintSettings(ignore_checks=("W3010",)))
    assert "W3010" in {f.rule_id for f in linter.lint(text)}
    assert "W3010" not in {f.rule_id for f in ignoring.lint(text)}


def test_no_cfnlintrc_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rc = "ignore_checks:\n  - E3002\n  - W\n"
    home, work = tmp_path / "home", tmp_path / "work"
    for folder in (home, work):
        folder.mkdir()
        (folder / ".cfnlintrc").write_text(rc)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    rules = {
        f.rule_id
        for f in WarmLinter(LintSettings()).lint((TEMPLATES / "bad_properties.yaml").read_text())
    }
    assert {"E3002", "W2001", "W3010"} <= rules


def test_regions_come_from_settings_not_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    template = (
        "Resources:\n  Svc:\n    Type: AWS::AppRunner::Service\n    Properties:\n"
        "      SourceConfiguration:\n        ImageRepository:\n"
        "          ImageIdentifier: public.ecr.aws/nginx/nginx:latest\n"
        "          ImageRepositoryType: ECR_PUBLIC\n"
    )
    monkeypatch.setenv("AWS_REGION", "af-south-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "af-south-1")
    assert "E3006" not in {f.rule_id for f in WarmLinter(LintSettings()).lint(template)}
    elsewhere = WarmLinter(LintSettings(regions=("af-south-1",)))
    assert "E3006" in {f.rule_id for f in elsewhere.lint(template)}


def test_unparseable_template_is_an_E0000_finding(linter: WarmLinter) -> None:
    findings = linter.lint((TEMPLATES / "broken_yaml.yaml").read_text())
    assert [f.rule_id for f in findings] == ["E0000"]
    assert findings[0].level == "E" and findings[0].line is not None


def _hash_probe(text: str) -> int:
    return hash(text)


@pytest.mark.slow
def test_workers_run_with_a_fixed_hash_seed() -> None:
    pinned = subprocess.run(
        [sys.executable, "-c", "print(hash('E3002 order'))"],
        env={**os.environ, "PYTHONHASHSEED": "0"},
        capture_output=True,
        text=True,
        check=True,
    )

    async def in_worker() -> int:
        validator = CfnLintValidator(workers=1)
        try:
            return await asyncio.wrap_future(
                validator._pool.pool.schedule(_hash_probe, args=("E3002 order",))
            )
        finally:
            validator.close()

    assert asyncio.run(in_worker()) == int(pinned.stdout)


@pytest.mark.slow
def test_pool_caches_times_out_and_replaces_dead_workers() -> None:
    async def scenario() -> None:
        validator = CfnLintValidator(workers=1, task_timeout_s=60)
        try:
            text = (TEMPLATES / "bad_properties.yaml").read_text()
            first = await validator.validate(text)
            again = await validator.validate(text)
            assert first.findings == again.findings and first.findings
            assert validator.stats.cache_hits == 1
            # a worker that dies mid-task is a recorded failure, and the pool carries on
            crashed = validator._pool.pool.schedule(os._exit, args=(1,))
            with pytest.raises(ProcessExpired):
                await asyncio.wrap_future(crashed)
            huge = "Resources:\n" + "".join(
                f"  Q{i}:\n    Type: AWS::SQS::Queue\n    Properties:\n      DelaySeconds: x\n"
                for i in range(3000)
            )
            validator.task_timeout_s = 0.05
            timed_out = await validator.validate(huge)
            assert timed_out.failure and "timed out" in timed_out.failure
            validator.task_timeout_s = 60
            after = await validator.validate(text + "\n# changed\n")
            assert after.failure is None and after.findings
        finally:
            validator.close()

    asyncio.run(scenario())


# ---- the clock -----------------------------------------------------------------------------


def runtime_rules(findings: list[Finding]) -> set[tuple[str, str]]:
    """(rule, function) of the Lambda runtime rules, whose verdicts depend on the date."""
    return {
        (f.rule_id, str(f.path[1])) for f in findings if f.rule_id in {"E2531", "E2533", "W2531"}
    }


def test_as_of_freezes_the_clock_of_the_date_dependent_rules() -> None:
    summer, summer_day = WarmLinter(LintSettings(as_of=SUMMER_2024)).lint_dated(LAMBDA)
    winter, winter_day = WarmLinter(LintSettings(as_of=WINTER_2026)).lint_dated(LAMBDA)
    assert (summer_day, winter_day) == (SUMMER_2024, WINTER_2026)
    # python3.8 reached its end of life on 2024-10-14: a warning in 2026, nothing in summer 2024
    assert runtime_rules(summer) == {("E2531", "Node"), ("E2531", "Py37")}
    assert runtime_rules(winter) == {("E2531", "Node"), ("E2531", "Py37"), ("W2531", "Py")}


def test_without_as_of_the_linter_reads_the_real_clock_on_every_call() -> None:
    linter = WarmLinter(LintSettings())
    assert linter.lint_dated(LAMBDA)[1] == date.today()
    for day, warned in ((WINTER_2026, True), (SUMMER_2024, False)):
        with time_machine.travel(datetime(day.year, day.month, day.day, 9, tzinfo=UTC)):
            findings, used = linter.lint_dated(LAMBDA)
        assert used == day
        assert (("W2531", "Py") in runtime_rules(findings)) == warned


class CountingPool:
    """Stands in for the workers: counts what reaches them, answers with the clock's date."""

    def __init__(self) -> None:
        self.calls = 0

    async def lint(self, text: str, timeout: float) -> tuple[list[dict[str, Any]], date]:
        self.calls += 1
        return [], date.today()

    async def describe(self) -> dict[str, Any]:
        raise AssertionError("not used")

    def close(self) -> None:
        pass


def counting(validator: CfnLintValidator) -> CountingPool:
    validator._pool.close()
    pool = CountingPool()
    validator._pool = pool  # type: ignore[assignment]
    return pool


def test_the_cache_never_serves_a_result_of_another_day_or_release() -> None:
    def at(day: date) -> Any:
        return time_machine.travel(datetime(day.year, day.month, day.day, 9, tzinfo=UTC))

    async def scenario() -> None:
        today = CfnLintValidator(cfn_lint_version="1.0.0")  # its pool starts nothing
        pool = counting(today)
        with at(SUMMER_2024):
            first = await today.validate(LAMBDA)
            again = await today.validate(LAMBDA)
        with at(WINTER_2026):
            later = await today.validate(LAMBDA)
        assert pool.calls == 2 and today.stats.cache_hits == 1
        assert [r.provenance["lint_as_of"] for r in (first, again, later)] == [
            SUMMER_2024,
            SUMMER_2024,
            WINTER_2026,
        ]
        assert {r.provenance["cfn_lint_version"] for r in (first, later)} == {"1.0.0"}
        frozen = CfnLintValidator(LintSettings(as_of=SUMMER_2024), cfn_lint_version="1.0.0")
        frozen_pool = counting(frozen)
        for day in (SUMMER_2024, WINTER_2026):
            with at(day):
                await frozen.validate(LAMBDA)
        assert frozen_pool.calls == 1  # a frozen clock reads the same day whenever it runs
        other = CfnLintValidator(LintSettings(as_of=SUMMER_2024), cfn_lint_version="1.0.1")
        assert other.cache_key(LAMBDA, SUMMER_2024) != frozen.cache_key(LAMBDA, SUMMER_2024)
        ignoring = CfnLintValidator(
            LintSettings(as_of=SUMMER_2024, ignore_checks=("W",)), cfn_lint_version="1.0.0"
        )
        assert ignoring.cache_key(LAMBDA, SUMMER_2024) != frozen.cache_key(LAMBDA, SUMMER_2024)
        for validator in (today, frozen, other, ignoring):
            validator.close()

    asyncio.run(scenario())


# ---- settings cfn-lint would reject --------------------------------------------------------


def test_settings_the_release_would_reject_are_named(linter: WarmLinter) -> None:
    described = linter.engine.describe()
    assert described["cfn_lint_version"] == CFN_LINT_VERSION == PINNED_CFN_LINT

    def problems(**settings: Any) -> list[str]:
        return settings_problems(described, LintSettings(**settings))

    accepted = [
        {"regions": ("us-east-1", "eu-west-1")},
        {"regions": ("ALL_REGIONS",)},
        {"ignore_checks": ("W", "E30", "W3010"), "include_checks": ("I",)},
    ]
    for settings in accepted:
        assert problems(**settings) == [], settings
    rejected = {
        "regions": ("us-east-1", "mars-1"),
        "ignore_checks": ("E3002", "E9999"),
        "include_checks": ("X",),
    }
    for key, values in rejected.items():
        found = problems(**{key: values})
        assert len(found) == 1 and "\n" not in found[0], found
        assert found[0].startswith(f"config error at 'lint.{key}'")
        assert values[-1] in found[0] and CFN_LINT_VERSION in found[0]
    assert problems(ignore_checks=("",))  # an empty entry would ignore every rule


@pytest.mark.slow
def test_prepare_refuses_what_the_release_would_reject() -> None:
    async def prepare(settings: LintSettings) -> CfnLintValidator:
        validator = CfnLintValidator(settings, workers=1)
        try:
            await validator.prepare()
        finally:
            validator.close()
        return validator

    with pytest.raises(ConfigError, match=r"'mars-1'.*\(and 1 more\)"):
        asyncio.run(prepare(LintSettings(regions=("mars-1",), ignore_checks=("E9999",))))
    ready = asyncio.run(prepare(LintSettings(include_checks=("I",))))
    assert ready.description is not None
    assert ready.description["cfn_lint_version"] == CFN_LINT_VERSION
    assert "E3002" in ready.description["mandatory_checks"]


@pytest.mark.slow
def test_a_job_with_an_unknown_region_stops_at_start_with_one_line(tmp_path: Path) -> None:
    run = tmp_path / "run"
    done = run_job_process(run, "lint.regions=[mars-1]", timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: config error at 'lint.regions'") and "mars-1" in last
    assert not list(run.rglob("*.parquet"))  # no attempt was made


# ---- raw feedback is cfn-lint's own text ---------------------------------------------------


def one_line_template() -> str:
    """A one-line JSON template (the paper's templates were `json.dump`ed) with several
    findings on line 1, two of them of one rule."""
    resources = {
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketNam": "x"}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"DelaySeconds": "soon"}},
        "Later": {"Type": "AWS::SQS::Queue", "Properties": {"DelaySeconds": "later"}},
        "Fn": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Runtime": "python3.8",
                "Handler": "index.handler",
                "Role": "arn:aws:iam::123456789012:role/r",
                "Code": {"ZipFile": "def handler(e, c): pass"},
            },
        },
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": {"Ref": "Nope"}}},
    }
    return json.dumps({"Parameters": {"Unused": {"Type": "String"}}, "Resources": resources})


def test_raw_feedback_equals_the_cli_default_output(tmp_path: Path) -> None:
    text = one_line_template()
    (tmp_path / "template.json").write_text(text)
    args = ["--regions", "us-east-1", "--config-file", os.devnull, "--", "template.json"]
    done = run_cli(sys.executable, args, WINTER_2026, tmp_path)
    assert done.stdout.strip(), done.stderr[-2000:]
    findings = WarmLinter(LintSettings(as_of=WINTER_2026)).lint(text)
    assert len(findings) >= 6 and {f.line for f in findings} == {1}
    rules = [f.rule_id for f in findings]
    assert len(set(rules)) < len(rules)  # ties on (line, rule): kept in cfn-lint's order
    assert format_raw(FeedbackInput(findings, "template.json")) == done.stdout.strip()
