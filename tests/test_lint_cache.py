"""The persistent lint cache (benchmark/validators/cfn_lint/result_cache.py): a hit is exactly a
fresh lint, under two releases and two dates; its key holds all that changes a finding; several
processes write at once; a bad file is set aside in one line; bounded; off; emptied; marked on
the rows of every lint path (a job, rescore, import-paper)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import multiprocessing
import sqlite3
from datetime import date
from pathlib import Path

import pytest
import yaml
from tqdm import tqdm

from benchmark import cli
from benchmark.config import LintConfig
from benchmark.problems.check import warm_lint
from benchmark.problems.dataset import load_dataset
from benchmark.records.tables import read_table
from benchmark.replication import import_paper as importer
from benchmark.replication.rescore import rescore_job
from benchmark.runner.hydra_job import SUMMARY_FILE, JobInfo, run_job
from benchmark.validators.cfn_lint import result_cache
from benchmark.validators.cfn_lint.result_cache import (
    PATH_ENV,
    LintCache,
    Linter,
    resolve_path,
    rules_digest,
)
from benchmark.validators.cfn_lint.validator import (
    CfnLintValidator,
    LintSettings,
    WarmLinter,
    open_cache,
)
from studies.synthesize import compose_settings
from tests.conftest import ENV_BUILT_BY_FIXTURE, OTHER_CFN_LINT
from tests.paper_fixture import write_repository

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = Path(__file__).resolve().parent / "templates"
LAMBDA = (TEMPLATES / "lambda_runtimes.yaml").read_text()
SUMMER_2024, WINTER_2026 = date(2024, 8, 1), date(2026, 12, 1)
SMALL = ["loop.samples=2", "loop.max_iterations=3", "progress=false", "lint.workers=1"]


def sample_templates() -> list[str]:
    """Real templates: the suite's own (broken ones too) and some of paper33's references."""
    own = [path.read_text() for path in sorted(TEMPLATES.iterdir())]
    problems = load_dataset(ROOT / "datasets" / "paper33")
    references = [p.reference_template for p in problems if p.reference_template][::4]
    return own + references


# ---- a hit is a fresh lint ---------------------------------------------------------------------


@pytest.mark.parametrize("day", [SUMMER_2024, WINTER_2026])
def test_a_hit_returns_exactly_the_fresh_lints_findings(tmp_path: Path, day: date) -> None:
    texts = sample_templates()
    settings = LintSettings(as_of=day)
    cache = LintCache(tmp_path / "lint.sqlite")
    cold = WarmLinter(settings, cache)
    fresh = [cold.lint_dated(text) for text in texts]  # every one a miss: linted and stored
    assert cold.linted == len(set(texts))
    warm = WarmLinter(settings, LintCache(tmp_path / "lint.sqlite"))
    assert [warm.lint_dated(text) for text in texts] == fresh
    assert warm.linted == 0 and warm._engine is None  # not even its rules were built
    assert any(findings for findings, _ in fresh)  # findings, not only clean templates


def test_a_day_is_never_served_anothers_findings(tmp_path: Path) -> None:
    cache = LintCache(tmp_path / "lint.sqlite")
    summer = WarmLinter(LintSettings(as_of=SUMMER_2024), cache).lint(LAMBDA)
    winter = WarmLinter(LintSettings(as_of=WINTER_2026), cache)
    assert winter.lint(LAMBDA) != summer  # a runtime deprecated between the two days
    assert winter.linted == 1 and len(cache) == 2


@pytest.mark.slow
@ENV_BUILT_BY_FIXTURE
@pytest.mark.parametrize("day", [SUMMER_2024, WINTER_2026])
def test_a_hit_of_another_release_is_its_fresh_lint(
    other_cfn_lint: Path, cfn_lint_envs: Path, tmp_path: Path, day: date
) -> None:
    texts = sample_templates()
    path = tmp_path / "lint.sqlite"

    def validator() -> CfnLintValidator:
        return CfnLintValidator(
            LintSettings(as_of=day),
            workers=1,
            cfn_lint_version=OTHER_CFN_LINT,
            envs_dir=cfn_lint_envs,
            result_cache=LintCache(path),
        )

    async def judge(lint: CfnLintValidator) -> list[tuple]:
        try:
            return [(r.findings, r.provenance) for r in [await lint.validate(t) for t in texts]]
        finally:
            lint.close()

    cold, warm = validator(), validator()
    fresh = asyncio.run(judge(cold))
    again = asyncio.run(judge(warm))
    assert [f for f, _ in again] == [f for f, _ in fresh]
    assert warm.stats.linted == 0 and cold.stats.linted == len(set(texts))
    assert {p["lint_cached"] for _, p in again} == {True}
    assert {p["cfn_lint_version"] for _, p in again} == {OTHER_CFN_LINT}
    # the pinned release's entries are others: the same texts are a miss for it
    pinned = WarmLinter(LintSettings(as_of=day), LintCache(path))
    pinned.lint(texts[0])
    assert pinned.linted == 1


def test_a_run_the_cache_answers_whole_starts_no_lint_worker(tmp_path: Path) -> None:
    path = tmp_path / "lint.sqlite"

    async def judge(lint: CfnLintValidator) -> list:
        try:
            await lint.prepare()
            return [(await lint.validate(LAMBDA)).findings]
        finally:
            lint.close()

    fresh = asyncio.run(judge(CfnLintValidator(workers=1, result_cache=LintCache(path))))
    warm = CfnLintValidator(workers=1, result_cache=LintCache(path))

    async def no_worker(*args: object) -> None:
        raise AssertionError("a lint worker was asked")

    warm._pool.describe = no_worker  # type: ignore[method-assign]
    warm._pool.lint = no_worker  # type: ignore[method-assign]
    assert asyncio.run(judge(warm)) == fresh
    assert warm.description is not None and warm.stats.linted == 0


# ---- the key ---------------------------------------------------------------------------------


def test_everything_that_can_change_a_finding_changes_the_key() -> None:
    base = Linter("1.40.0", "digest", LintSettings().key())
    key = base.key("Resources: {}", SUMMER_2024)
    others = [
        base.key("Resources: {} ", SUMMER_2024),  # the exact text
        base.key("Resources: {}", WINTER_2026),  # the date
        Linter("1.3.5", "digest", LintSettings().key()).key("Resources: {}", SUMMER_2024),
        Linter("1.40.0", "patched", LintSettings().key()).key("Resources: {}", SUMMER_2024),
    ]
    for changed in (
        LintSettings(regions=("eu-west-1",)),
        LintSettings(ignore_checks=("W",)),
        LintSettings(include_checks=("I",)),
        LintSettings(mandatory_checks=()),
        LintSettings(as_of=SUMMER_2024),  # frozen clock vs the real one on that day
    ):
        others.append(Linter("1.40.0", "digest", changed.key()).key("Resources: {}", SUMMER_2024))
    assert key not in others and len(set(others)) == len(others)


def test_a_patched_install_has_another_rule_set_digest(tmp_path: Path) -> None:
    package = tmp_path / "cfnlint"
    (package / "rules").mkdir(parents=True)
    rule = package / "rules" / "E3002.py"
    rule.write_text("LIMIT = 10\n")
    before = rules_digest.__wrapped__(package)
    rule.write_text("LIMIT = 99\n")  # the same size, another rule
    assert rules_digest.__wrapped__(package) != before


def test_the_environment_variable_stands_in_for_the_default_path_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(PATH_ENV, str(tmp_path / "session.sqlite"))
    assert resolve_path(LintConfig().cache_path) == tmp_path / "session.sqlite"
    assert resolve_path("elsewhere/lint.sqlite") == Path("elsewhere/lint.sqlite")


# ---- the store -------------------------------------------------------------------------------


def _write_many(path: str, writer: int, count: int) -> None:
    cache = LintCache(path)
    for i in range(count):
        shared = f"shared-{i}"  # every writer writes these too
        cache.put(shared, [{"rule_id": "E1", "n": i}], SUMMER_2024)
        cache.put(f"own-{writer}-{i}", [{"rule_id": "W2", "n": i, "w": writer}], SUMMER_2024)
        assert cache.get(shared) is not None
    cache.close()


def test_several_processes_write_at_once_and_nothing_is_lost(tmp_path: Path) -> None:
    path = tmp_path / "lint.sqlite"
    writers, count = 4, 150
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_write_many, args=(str(path), w, count)) for w in range(writers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=300)
    assert [p.exitcode for p in processes] == [0] * writers
    cache = LintCache(path)
    assert len(cache) == count + writers * count
    assert cache.get(f"own-3-{count - 1}") == (
        [{"rule_id": "W2", "n": count - 1, "w": 3}],
        SUMMER_2024,
    )
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda p: p.write_bytes(b"not a database, just bytes" * 100), id="garbage"),
        pytest.param(
            lambda p: sqlite3.connect(p).execute("CREATE TABLE other (x)").connection.commit(),
            id="foreign-sqlite",
        ),
        pytest.param(
            lambda p: LintCache(p)._db.execute("UPDATE meta SET value='0' WHERE name='schema'"),
            id="other-schema",
        ),
    ],
)
def test_a_file_that_is_not_this_cache_is_set_aside_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spoil
) -> None:
    path = tmp_path / "lint.sqlite"
    spoil(path)
    capsys.readouterr()
    cache = LintCache(path)
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "set aside" in err and "Traceback" not in err
    assert list(tmp_path.glob("lint.sqlite.aside-*"))
    cache.put("k", [{"rule_id": "E1"}], SUMMER_2024)
    assert cache.get("k") == ([{"rule_id": "E1"}], SUMMER_2024)


def test_a_failure_in_use_is_one_line_and_the_lint_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "lint.sqlite"
    cache = LintCache(path)
    linter = WarmLinter(LintSettings(), cache)
    with sqlite3.connect(path) as other:  # the file changed under the run
        other.execute("DROP TABLE results")
    findings = linter.lint(LAMBDA)
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "linting without the cache" in err
    assert linter.linted == 1 and findings == WarmLinter(LintSettings()).lint(LAMBDA)
    cache.put("k", [], SUMMER_2024)  # no cache now, and no error
    assert cache.get("k") is None and not cache.usable


def test_a_place_that_cannot_hold_it_is_one_line_and_no_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    cache = LintCache(blocked / "lint.sqlite")  # its folder is a file
    assert not cache.usable and cache.get("k") is None
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_its_size_is_bounded_the_least_recently_used_go_first(tmp_path: Path) -> None:
    now = [1_000_000.0]
    cache = LintCache(tmp_path / "lint.sqlite", max_entries=2, clock=lambda: now[0])
    cache.put("a", [], SUMMER_2024)
    now[0] += 120
    cache.put("b", [], SUMMER_2024)
    now[0] += 120
    assert cache.get("a") is not None  # used again: now the newest
    cache.put("c", [], SUMMER_2024)
    assert len(cache) == 2
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("c") is not None


def test_off_opens_no_cache_and_no_cache_setting_changes_the_config_hash() -> None:
    on = compose_settings(["lint.cache_path=/tmp/a.sqlite", "lint.cache_max_entries=7"])
    off = compose_settings(["lint.cache=off"])
    assert on.lint.cache == "on" and off.lint.cache == "off"
    assert open_cache(off.lint) is None
    assert on.result_fingerprint() == off.result_fingerprint()
    assert CfnLintValidator.from_config(off.lint).result_cache is None


def test_clean_cache_empties_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "lint.sqlite"
    cache = LintCache(path)
    cache.put("k", [], SUMMER_2024)
    cache.close()
    assert cli.main(["clean-cache", "--path", str(path)]) == 0
    assert "1 entries removed" in capsys.readouterr().out
    assert not list(tmp_path.iterdir())
    assert len(LintCache(path)) == 0


# ---- every lint path marks its rows --------------------------------------------------------


def test_a_job_run_again_lints_nothing_and_marks_its_rows(tmp_path: Path) -> None:
    cache = f"lint.cache_path={tmp_path / 'lint.sqlite'}"
    first, second = tmp_path / "first", tmp_path / "second"
    for run in (first, second):
        settings = compose_settings([*SMALL, cache])
        summary = asyncio.run(run_job(settings, JobInfo("s", 0, run), None))
        assert summary.status == "complete", summary.fatal_error
    before, after = (json.loads((r / SUMMARY_FILE).read_text()) for r in (first, second))
    assert before["lint_calls"] > 0 and after["lint_calls"] == 0
    rows = read_table(second, "attempts")
    linted = rows[rows["lint_as_of"].notna()]
    assert len(linted) and linted["lint_cached"].all()
    assert read_table(first, "attempts")["lint_cached"].isin([True, False]).all()

    saved = second / ".hydra" / "config.yaml"  # what a Hydra job saves beside its rows
    saved.parent.mkdir()
    saved.write_text(yaml.safe_dump(settings.model_dump(mode="json")))
    rescored = tmp_path / "rescored"
    spied: list[CfnLintValidator] = []
    with pytest.MonkeyPatch.context() as patch:
        build = CfnLintValidator.from_config
        patch.setattr(
            CfnLintValidator, "from_config", lambda lint: spied.append(build(lint)) or spied[-1]
        )
        asyncio.run(rescore_job(second, rescored, settings, tqdm(disable=True)))
    assert [v.stats.linted for v in spied] == [0]  # an unchanged run: no lint call at all
    again = read_table(rescored, "attempts")
    assert again.loc[again["lint_as_of"].notna(), "lint_cached"].all()


def test_import_paper_twice_lints_once(
    tmp_path: Path, warm_linter: WarmLinter, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository = write_repository(tmp_path / "repo", warm_linter.lint)
    monkeypatch.setenv(PATH_ENV, str(tmp_path / "lint.sqlite"))
    validators: list[CfnLintValidator] = []
    build = importer.build_suite

    def spy(settings):
        suite = build(settings)
        validators.extend(v for v in suite.validators if isinstance(v, CfnLintValidator))
        return suite

    monkeypatch.setattr(importer, "build_suite", spy)
    for out in ("a", "b"):
        args = ["--out", str(tmp_path / out), "--workers", "1", "--no-progress"]
        with contextlib.redirect_stdout(io.StringIO()):
            assert importer.main([str(repository), *args]) == 0
    assert validators[0].stats.linted > 0 and validators[1].stats.linted == 0
    rows = read_table(tmp_path / "b", "attempts")
    assert rows.loc[rows["template"].notna(), "lint_cached"].all()


def test_the_commands_without_a_config_lint_through_the_default_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(PATH_ENV, str(tmp_path / "lint.sqlite"))
    warm_lint()(LAMBDA)  # the linter of check-datasets
    assert len(LintCache(tmp_path / "lint.sqlite")) == 1
    assert LintConfig().cache_path == result_cache.DEFAULT_PATH
