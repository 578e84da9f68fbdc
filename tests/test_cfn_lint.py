"""The in-process linter: equal to the CLI, safe from lint-washing, isolated from the machine."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pebble import ProcessExpired

from benchmark.validators.base import Finding
from benchmark.validators.cfn_lint import CfnLintValidator, LintSettings, WarmLinter

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = Path(__file__).resolve().parent / "templates"


def corpus(tmp_path: Path) -> list[Path]:
    """The bad templates in tests/templates plus the smoke problems' clean references."""
    paths = sorted(TEMPLATES.iterdir())
    for problem in sorted((ROOT / "datasets" / "smoke").glob("*.yaml")):
        ref = tmp_path / f"ref-{problem.stem}.yaml"
        ref.write_text(yaml.safe_load(problem.read_text())["reference_template"])
        paths.append(ref)
    return paths


@pytest.fixture(scope="module")
def linter() -> WarmLinter:
    return WarmLinter(LintSettings())


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
                validator._pool.schedule(_hash_probe, args=("E3002 order",))
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
            crashed = validator._pool.schedule(os._exit, args=(1,))
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
