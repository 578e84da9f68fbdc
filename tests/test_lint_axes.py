"""cfn-lint's release and clock as recorded axes: other releases in environments of their own,
equal to that release's CLI under the same frozen date, recorded on every row, re-scorable.

The slow tests build cfn-lint 1.3.5's environment once (1.3.5 to 1.5.0, with the clock between
2024-07-09 and 2024-10-13, reproduce the paper authors' recorded findings) in the harness's own
cache, `runs/.cache/cfn-lint` (or `$CFN_LINT_TEST_ENVS`), so later sessions reuse it. Building
it needs the package index, as `pip install` does.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from tqdm import tqdm

from benchmark.config import PINNED_CFN_LINT, ConfigError, load_settings
from benchmark.loop.feedback_loop import Attempt
from benchmark.problems.dataset import load_dataset
from benchmark.records.tables import RecordWriter, read_table
from benchmark.replication.rescore import main as rescore
from benchmark.runner.factory import create_model
from benchmark.runner.hydra_job import JobInfo, JobSummary, Recorder, prepare_suite, run_job
from benchmark.validators.base import Finding
from benchmark.validators.cfn_lint import envs as cfn_lint_envs
from benchmark.validators.cfn_lint.envs import READY, ensure_env
from benchmark.validators.cfn_lint.validator import (
    CfnLintValidator,
    LintSettings,
    WarmLinter,
    settings_problems,
)
from tests.cfn_lint_cli import cli_json, full, unparsed
from tests.conftest import ENV_BUILT_BY_FIXTURE, OTHER_CFN_LINT
from tests.job_process import SMALL, run_job_process

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = Path(__file__).resolve().parent / "templates"
LAMBDA = TEMPLATES / "lambda_runtimes.yaml"
OLD = OTHER_CFN_LINT
SUMMER_2024, WINTER_2026 = date(2024, 8, 1), date(2026, 12, 1)


# ---- rows no linter judged -----------------------------------------------------------------


class _Ledger:
    max_usd = None

    def charge(self, usd: float | None, tokens: int) -> None:
        pass


def test_rows_name_the_linter_that_judged_them_and_no_date_when_none_did(tmp_path: Path) -> None:
    raw = yaml.safe_load((ROOT / "conf" / "config.yaml").read_text())
    raw = {k: v for k, v in raw.items() if k not in ("defaults", "hydra")}
    for group in ("model", "dataset", "prompts", "loop", "lint"):
        name = "smoke" if group == "dataset" else "paper" if group == "prompts" else "default"
        raw[group] = yaml.safe_load((ROOT / "conf" / group / f"{name}.yaml").read_text())
    raw["dataset"]["path"] = str(ROOT / raw["dataset"]["path"])
    raw["lint"]["cfn_lint_version"] = "1.4.2"  # configured: a row nothing linted says so
    settings = load_settings(raw)
    problem = load_dataset(settings.dataset.path)[0]
    model = create_model(settings, {problem.id: problem}, None)
    writer = RecordWriter(tmp_path)
    bar = tqdm(total=2, disable=True)
    recorder = Recorder(
        settings, JobInfo("s", 0, tmp_path), model, writer, bar, JobSummary("m", True), _Ledger()
    )  # type: ignore[arg-type]
    now = datetime.now(UTC)
    recorder(Attempt(problem, 0, 1, now, now, model_error="server: 400", stop_reason="model_error"))
    judged = {"cfn_lint_version": "1.4.2", "lint_as_of": SUMMER_2024}
    recorder(Attempt(problem, 1, 1, now, now, stop_reason="clean", provenance=judged))
    writer.close()
    rows = read_table(tmp_path, "attempts").set_index("sample")
    assert rows.loc[0, "cfn_lint_version"] == "1.4.2" and rows.loc[0, "lint_as_of"] is None
    assert rows.loc[1, "cfn_lint_version"] == "1.4.2" and rows.loc[1, "lint_as_of"] == SUMMER_2024


# ---- building environments -----------------------------------------------------------------


def fake_builds(monkeypatch: pytest.MonkeyPatch, fail: str | None = None) -> list[Path]:
    """Builds that make an environment without installing anything (or fail with `fail`)."""
    built: list[Path] = []

    def build(folder: Path, version: str) -> str:
        built.append(folder)
        if fail:
            raise RuntimeError(fail)
        (folder / "bin").mkdir()
        cfn_lint_envs.env_python(folder).symlink_to(sys.executable)
        return "fake"

    monkeypatch.setattr(cfn_lint_envs, "_build", build)
    monkeypatch.setattr(cfn_lint_envs, "_installed_version", lambda python: "1.2.3")
    return built


def test_parallel_jobs_build_an_environment_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = fake_builds(monkeypatch)
    found: list[Path] = []
    threads = [
        threading.Thread(target=lambda: found.append(ensure_env("1.2.3", tmp_path)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1 and len(set(found)) == 1
    assert found[0] == tmp_path / "1.2.3" / "bin" / "python"
    assert (tmp_path / "1.2.3" / READY).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".1.2.3.lock", "1.2.3"]


def test_a_killed_build_leaves_nothing_that_passes_for_an_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = fake_builds(monkeypatch)
    (tmp_path / ".1.2.3-building-x1y2").mkdir()  # a build killed before its rename
    (tmp_path / "1.2.3" / "bin").mkdir(parents=True)  # a folder without the ready marker
    ensure_env("1.2.3", tmp_path)
    assert len(built) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [".1.2.3.lock", "1.2.3"]
    ensure_env("1.2.3", tmp_path)
    assert len(built) == 1  # ready: reused


def test_a_failed_build_is_one_line_naming_the_version_and_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_builds(monkeypatch, fail="No matching distribution found for cfn-lint==1.2.3")
    with pytest.raises(ConfigError) as caught:
        ensure_env("1.2.3", tmp_path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("config error at 'lint.cfn_lint_version'")
    assert "cfn-lint 1.2.3" in message and "No matching distribution" in message
    assert [p.name for p in tmp_path.iterdir()] == [".1.2.3.lock"]


def test_the_reason_is_pips_own_last_error_line() -> None:
    pip = (
        "Collecting time-machine\n  Using cached time_machine-3.6.0.whl\n"
        "ERROR: Could not find a version that satisfies the requirement cfn-lint==1.0.999 "
        "(from versions: 0.1.0, 1.0.0)\nERROR: No matching distribution found for "
        "cfn-lint==1.0.999\n"
    )
    assert cfn_lint_envs._reason(pip) == "No matching distribution found for cfn-lint==1.0.999"
    assert cfn_lint_envs._reason("Traceback ...\nOSError: disk full\n") == "OSError: disk full"


# ---- an older release, end to end (slow) ---------------------------------------------------


@pytest.fixture(scope="session")
def envs_dir(cfn_lint_envs: Path) -> Path:
    return cfn_lint_envs


@pytest.fixture(scope="session")
def old_python(other_cfn_lint: Path) -> Path:
    return other_cfn_lint


def corpus(tmp_path: Path) -> list[Path]:
    """tests/templates (the Lambda runtimes among them) and the smoke problems' references."""
    paths = sorted(TEMPLATES.iterdir())
    for problem in sorted((ROOT / "datasets" / "smoke").glob("*.yaml")):
        ref = tmp_path / f"ref-{problem.stem}.yaml"
        ref.write_text(yaml.safe_load(problem.read_text())["reference_template"])
        paths.append(ref)
    return paths


def old_validator(envs_dir: Path, as_of: date | None, **kwargs: Any) -> CfnLintValidator:
    return CfnLintValidator(
        LintSettings(as_of=as_of, **kwargs), workers=2, cfn_lint_version=OLD, envs_dir=envs_dir
    )


async def lint_all(validator: CfnLintValidator, texts: list[str]) -> list[list[Finding]]:
    try:
        await validator.prepare()
        results = await asyncio.gather(*(validator.validate(t) for t in texts))
    finally:
        validator.close()
    assert not [r.failure for r in results if r.failure]
    assert all(r.provenance["cfn_lint_version"] == OLD for r in results)
    assert all(r.provenance["lint_as_of"] == validator.settings.as_of for r in results)
    return [r.findings for r in results]


@pytest.mark.slow
@ENV_BUILT_BY_FIXTURE
@pytest.mark.parametrize("as_of", [SUMMER_2024, WINTER_2026])
def test_an_older_release_equals_its_own_cli_under_the_same_frozen_date(
    old_python: Path, envs_dir: Path, tmp_path: Path, as_of: date
) -> None:
    # the whole corpus on the paper's day, the date-dependent templates on the other
    paths = corpus(tmp_path)
    if as_of != SUMMER_2024:
        paths = [LAMBDA, TEMPLATES / "bad_properties.yaml", TEMPLATES / "conditions_and_subs.yaml"]
    validator = old_validator(envs_dir, as_of)
    ours = asyncio.run(lint_all(validator, [p.read_text() for p in paths]))
    assert validator.description is not None
    mandatory = validator.description["mandatory_checks"]
    expected = cli_json(old_python, paths, as_of, tmp_path, mandatory, unparsed(paths, ours))
    for path, findings in zip(paths, ours, strict=True):
        assert full(findings) == expected[str(path)], path.name
    assert sum(bool(f) for f in ours) >= min(8, len(paths) - 1)  # findings really exercised
    runtimes = {
        (f.rule_id, str(f.path[1]))
        for f in ours[paths.index(LAMBDA)]
        if f.rule_id.startswith(("E253", "W253"))
    }
    # 1.3.5 reads its runtime table against the frozen day: the verdicts move with the date
    assert runtimes == (
        {("E2531", "Node"), ("E2531", "Py37")}
        if as_of == SUMMER_2024
        else {("E2533", "Node"), ("E2533", "Py"), ("E2533", "Py37")}
    )


@pytest.mark.slow
@ENV_BUILT_BY_FIXTURE
def test_settings_are_checked_against_the_releases_own_regions_and_rules(
    old_python: Path, envs_dir: Path
) -> None:
    validator = old_validator(envs_dir, None, include_checks=("I",))  # "I" is fine
    asyncio.run(lint_all(validator, []))
    described = validator.description
    assert described is not None and described["cfn_lint_version"] == OLD
    # a region and a rule that came after 1.3.5: known to the pinned release, not to this one
    newer_only = {"regions": ("us-east-1", "mx-central-1"), "ignore_checks": ("W3697",)}
    pinned = WarmLinter(LintSettings()).engine.describe()
    for key, values in newer_only.items():
        (message,) = settings_problems(described, LintSettings(**{key: values}))
        assert message.startswith(f"config error at 'lint.{key}'"), message
        assert f"'{values[-1]}'" in message and f"cfn-lint {OLD}" in message
        assert settings_problems(pinned, LintSettings(**{key: values})) == []


@pytest.mark.slow
@ENV_BUILT_BY_FIXTURE
def test_a_crashed_or_hung_worker_of_another_release_is_replaced(
    old_python: Path, envs_dir: Path
) -> None:
    text = (TEMPLATES / "bad_properties.yaml").read_text()
    huge = "Resources:\n" + "".join(
        f"  Q{i}:\n    Type: AWS::SQS::Queue\n    Properties:\n      DelaySeconds: x\n"
        for i in range(3000)
    )

    async def scenario() -> None:
        validator = CfnLintValidator(
            LintSettings(as_of=SUMMER_2024), workers=1, cfn_lint_version=OLD, envs_dir=envs_dir
        )
        try:
            first = await validator.validate(text)
            assert first.failure is None and first.findings
            (worker,) = validator._pool._live  # type: ignore[attr-defined]
            worker.process.kill()
            worker.process.wait()
            crashed = await validator.validate(text + "\n# 2\n")
            assert crashed.failure and "exited with code" in crashed.failure
            after = await validator.validate(text + "\n# 3\n")
            assert after.failure is None and full(after.findings) == full(first.findings)
            validator.task_timeout_s = 0.05
            hung = await validator.validate(huge)
            assert hung.failure and "timed out" in hung.failure
            validator.task_timeout_s = 60
            again = await validator.validate(text + "\n# 4\n")
            assert again.failure is None and full(again.findings) == full(first.findings)
            (replacement,) = validator._pool._live  # type: ignore[attr-defined]
            assert replacement is not worker and validator.stats.failures == 2
        finally:
            validator.close()

    asyncio.run(scenario())


@pytest.mark.slow
def test_a_release_that_cannot_be_built_is_one_line_at_start(tmp_path: Path) -> None:
    raw = yaml.safe_load((ROOT / "conf" / "lint" / "default.yaml").read_text())
    settings = load_settings(
        {
            "model": {"id": "simulated/default"},
            "dataset": {"name": "smoke", "path": str(ROOT / "datasets" / "smoke")},
            "prompts": yaml.safe_load((ROOT / "conf" / "prompts" / "paper.yaml").read_text()),
            "loop": {},
            "lint": {**raw, "cfn_lint_version": "1.0.999", "envs_dir": str(tmp_path)},
        }
    )
    with pytest.raises(ConfigError) as caught:
        asyncio.run(prepare_suite(settings))
    message = str(caught.value)
    assert "\n" not in message and "cfn-lint 1.0.999" in message, message
    assert not (tmp_path / "1.0.999").exists()


@pytest.mark.slow
@ENV_BUILT_BY_FIXTURE
def test_rescoring_with_an_older_release_and_a_frozen_date_equals_its_cli(
    old_python: Path, envs_dir: Path, tmp_path: Path
) -> None:
    run, out = tmp_path / "run", tmp_path / "rescored"
    done = run_job_process(run, *SMALL, f"lint.as_of={WINTER_2026}", f"lint.envs_dir={envs_dir}")
    assert done.returncode == 0, done.stderr[-3000:]
    before = read_table(run, "attempts")
    assert set(before["cfn_lint_version"]) == {PINNED_CFN_LINT}
    assert set(before["lint_as_of"]) == {WINTER_2026}

    args = [str(run), "--out", str(out), "--cfn-lint", OLD, "--as-of", str(SUMMER_2024)]
    assert rescore(args) == 0
    after = read_table(out, "attempts")
    assert sorted(after["attempt_id"]) == sorted(before["attempt_id"])
    assert set(after["cfn_lint_version"]) == {OLD} and set(after["lint_as_of"]) == {SUMMER_2024}
    assert set(after["config_hash"]).isdisjoint(before["config_hash"])  # another config
    saved = yaml.safe_load((out / ".hydra" / "config.yaml").read_text())["lint"]
    assert (saved["cfn_lint_version"], saved["as_of"]) == (OLD, str(SUMMER_2024))

    # every attempt's findings are exactly what cfn-lint 1.3.5's CLI says on that day
    findings = read_table(out, "findings")
    paths = {}
    for row in after.itertuples():
        path = tmp_path / "templates" / f"{row.attempt_id}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(row.template)
        paths[row.attempt_id] = path
    mandatory = old_validator(envs_dir, SUMMER_2024)
    try:
        asyncio.run(mandatory.prepare())
    finally:
        mandatory.close()
    assert mandatory.description is not None
    expected = cli_json(
        old_python,
        list(paths.values()),
        SUMMER_2024,
        tmp_path,
        mandatory.description["mandatory_checks"],
        alone=[paths[a] for a in set(findings.loc[findings["rule_id"] == "E0000", "attempt_id"])],
    )
    dirty = 0
    for attempt_id, path in paths.items():
        rows = findings[findings["attempt_id"] == attempt_id]
        ours = sorted(
            (
                r.rule_id,
                r.message,
                r.line,
                r.column,
                r.end_line,
                r.end_column,
                tuple(r.path.split("/")) if r.path else (),
            )
            for r in rows.itertuples()
        )
        assert ours == expected[str(path)], attempt_id
        dirty += bool(ours)
    assert dirty >= 3

    # and back: the pinned release with the real clock, stated on the command line
    back = tmp_path / "back"
    assert (
        rescore([str(out), "--out", str(back), "--cfn-lint", PINNED_CFN_LINT, "--as-of", "today"])
        == 0
    )
    again = read_table(back, "attempts")
    assert set(again["cfn_lint_version"]) == {PINNED_CFN_LINT}
    assert set(again["lint_as_of"]) == {date.today()}
    assert yaml.safe_load((back / ".hydra" / "config.yaml").read_text())["lint"]["as_of"] is None


@pytest.mark.slow
@ENV_BUILT_BY_FIXTURE
def test_a_job_on_an_older_release_records_it_and_the_day_it_linted(
    old_python: Path, envs_dir: Path, tmp_path: Path
) -> None:
    from studies.synthesize import compose_settings

    run = tmp_path / "run"
    overrides = ["loop.samples=2", "loop.max_iterations=3", "progress=false", "lint.workers=1"]
    settings = compose_settings(
        [*overrides, f"lint.cfn_lint_version={OLD}", f"lint.envs_dir={envs_dir}"]
    )
    summary = asyncio.run(run_job(settings, JobInfo("s", 0, run), None))
    assert summary.status == "complete" and summary.lint_failures == 0
    attempts = read_table(run, "attempts")
    assert set(attempts["cfn_lint_version"]) == {OLD}
    assert set(attempts["lint_as_of"]) == {date.today()}  # no as_of: the day it linted
