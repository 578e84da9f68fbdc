"""The paper authors' published GPT-4o run, imported as a run folder that every analysis reads.

    python -m benchmark.replication.import_paper PAPER --out runs/paper-gpt-4o \\
        [--cfn-lint VERSION] [--as-of DATE] [--workers N]

PAPER is their repository as downloaded (Mayur-Palavalli/LLM-IaC-generation), or its
`JSON_run_v2` folder. Every published template becomes one `attempts` row (origin `recorded`:
neither simulated nor run here), judged now by the configured cfn-lint and paper33's intent
checks, with the authors' own cfn-lint text kept beside it.

- Key: model `openai/gpt-4o`, provider openai, prompt set `paper-original` (the name
  `python -m benchmark.problems import paper-protocol` gives their prompts), protocol
  stateless, max_iterations = their iteration count (10).
- Problem: template N of a trial answers their prompt (N-1) // 5, which is paper topic
  (N-1) // 5 + 1, i.e. the paper33 problem of that topic. Sample: (trial - 1) * 5 + query,
  query = (N-1) % 5, so trial 1 holds samples 0-4 and trial 6 samples 25-29 (30 per problem).
- Every iteration is an attempt: their loop kept every template to the last iteration, so
  `stop_reason` is null until `max_iterations`. `template` is the published file's text
  (`null` where their reply was not JSON), `reply` is null (not published), `feedback` is that
  iteration's recorded lint text (what their loop sent with the template to the next repair),
  `recorded_from` the template file's path in their repository. Usage, cost, seed,
  temperature and max_tokens are null: unknown.
- Findings: the configured cfn-lint's (source `cfn-lint`), then the authors' text parsed into
  findings (source `cfn-lint (recorded by the authors)`, path empty, line and column from the
  printed location). Counts and `clean` are the configured linter's.
- A template file or CSV row that is missing never loses the row: the attempt is recorded
  unscored, with the reason in `lint_failure`.

Each distinct template text is linted once (about 5,000 of 9,900 in their run), and once only
across imports and rescores: the persistent lint cache answers the next time (rows say
`lint_cached`). The folder
holds one job (`0/`) with the composed settings in `.hydra/config.yaml`, so
`python -m benchmark.replication.rescore` can re-lint it under another cfn-lint release or date.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from benchmark.config import PROJECT_ROOT, Settings, load_settings
from benchmark.help_examples import examples
from benchmark.problems.dataset import Problem
from benchmark.problems.importers.paper_protocol import read_protocol
from benchmark.progress import progress_bar
from benchmark.records.origin import config_hash, provenance
from benchmark.records.tables import (
    RecordWriter,
    attempt_id,
    check_rows,
    finding_rows,
    outcome_columns,
)
from benchmark.replication.paper_repo import (
    PAPER33,
    QUERIES,
    RECORDED_LINTER,
    RECORDED_SOURCE,
    SCRIPT,
    PaperRepo,
    RecordedFinding,
    discover,
    paper33_by_topic,
)
from benchmark.replication.published_run import Published, read_published
from benchmark.runner.hydra_job import JobSummary, write_summary
from benchmark.runner.run_folder_check import fingerprint_as_saved
from benchmark.runner.suite_factory import build_suite
from benchmark.validators.suite import ValidatorSuite, Verdict

MODEL = "openai/gpt-4o"
NAME = "paper-original"  # dataset and prompt set: the authors' prompts and requests
CONFIG_DIR = PROJECT_ROOT / "conf"
LINT_SOURCE = "cfn-lint"


@dataclass
class ImportSummary:
    source: str
    out: str
    trials: int = 0
    iterations: int = 0
    attempts: int = 0
    distinct_templates: int = 0
    null_templates: int = 0
    missing_templates: int = 0
    missing_lint_rows: int = 0
    unchanged_from_previous: int = 0  # same text as the chain's previous iteration
    clean_then_changed: int = 0  # clean by their lint, yet a different text at the next one
    compared: int = 0  # attempts with both their lint text and a re-lint
    agreeing: int = 0  # ... whose findings agree on (rule, line, column), as multisets
    recorded_findings: int = 0
    recorded_found_again: int = 0
    relinted_findings: int = 0
    lint_failures: int = 0
    cfn_lint_version: str = ""
    lint_as_of: str = ""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        share = f" ({self.agreeing / self.compared:.1%})" if self.compared else ""
        return [
            f"imported {self.source} -> {self.out}",
            f"trials: {self.trials}; iterations: {self.iterations}; attempts: {self.attempts}",
            f"distinct templates: {self.distinct_templates} (linted once each); null templates "
            f"(reply not JSON): {self.null_templates}",
            f"missing: {self.missing_templates} template files, {self.missing_lint_rows} CSV "
            "rows (those attempts are recorded unscored)",
            f"unchanged from the previous iteration: {self.unchanged_from_previous}; clean by "
            f"their lint yet changed at the next iteration: {self.clean_then_changed}",
            f"recorded vs re-linted (cfn-lint {self.cfn_lint_version}, as of {self.lint_as_of})"
            f": same findings (rule, line, column) on {self.agreeing} of {self.compared} "
            f"templates{share}; {self.recorded_found_again} of {self.recorded_findings} "
            f"recorded findings found again; {self.relinted_findings} re-linted findings",
            *(f"note: {note}" for note in self.notes),
            f"next: make report RUN={self.out}",
            "      a sweep on their protocol, linted alike (python -m benchmark.problems import "
            "paper-protocol first):",
            f"      make sweep DATASET={NAME} PROMPTS={NAME} MODELS=<provider/model> "
            f"ARGS='{self.lint_overrides}'",
            f"      make compare BASELINE={self.out} CANDIDATE=runs/<sweep>",
        ]

    @property
    def lint_overrides(self) -> str:
        """The lint settings a sweep needs to be compared with this run."""
        return f"lint.cfn_lint_version={self.cfn_lint_version} lint.as_of={self.lint_as_of}"


# ---- reading what was published -------------------------------------------------------------


# ---- settings --------------------------------------------------------------------------------


def compose_settings(
    repo: PaperRepo,
    iterations: int,
    samples: int,
    cfn_lint: str | None,
    as_of: date | None,
    workers: int | None,
) -> tuple[dict[str, Any], Settings, list[str]]:
    """The run's settings as the project's config composes them, with the authors' protocol:
    (the config to save, the validated settings, notes)."""
    notes: list[str] = []
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["dataset=paper33", "prompts=paper"])
    raw: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    raw["model"]["id"] = MODEL
    raw["dataset"]["name"] = NAME
    raw["loop"].update(max_iterations=iterations, samples=samples, protocol="stateless")
    raw["lint"].update(cfn_lint_version=cfn_lint, as_of=as_of)
    if workers is not None:
        raw["lint"]["workers"] = workers
    if repo.script is not None:
        protocol = read_protocol(repo.script)
        raw["prompts"] = protocol.prompt_set()
        raw["model"]["response_format"] = protocol.response_format
    else:
        raw["prompts"].update(name=NAME, template_as="json_dumps")
        notes.append(
            f"{SCRIPT} not found beside the run: the saved prompt set holds the project's "
            "paper words, not the authors', and response_format is unknown (null)"
        )
    checked = {**raw, "dataset": {**raw["dataset"], "path": str(PAPER33)}}
    return raw, load_settings(checked), notes


# ---- linting ---------------------------------------------------------------------------------


async def judge_all(
    suite: ValidatorSuite, published: list[Published], concurrency: int, progress: bool
) -> dict[tuple[str, str], Verdict]:
    """A verdict per distinct (template text, problem); each text is linted once (the
    validator's cache answers its other problems, which only add intent checks)."""
    await suite.prepare()  # another cfn-lint release builds its environment here
    by_text: dict[str, dict[str, Problem]] = {}
    for item in published:
        if item.template is not None:
            by_text.setdefault(item.template, {})[item.problem.id] = item.problem
    verdicts: dict[tuple[str, str], Verdict] = {}
    gate = asyncio.Semaphore(concurrency)

    async def judge(text: str, problems: dict[str, Problem]) -> None:
        async with gate:
            for problem_id, problem in problems.items():
                verdicts[(text, problem_id)] = await suite.check(text, problem)

    bar = progress_bar(
        total=len(by_text),
        desc="linting published templates",
        unit="tmpl",
        disable=not progress,
    )
    tasks = [asyncio.create_task(judge(text, problems)) for text, problems in by_text.items()]
    try:
        for done in asyncio.as_completed(tasks):
            await done
            bar.update(1)
    finally:
        bar.close()
        for task in tasks:
            task.cancel()
    return verdicts


# ---- rows ------------------------------------------------------------------------------------


def _key(item: Published, sweep_id: str, iterations: int) -> dict[str, Any]:
    return {
        "sweep_id": sweep_id,
        "job_id": 0,
        "model": MODEL,
        "provider": "openai",
        "prompt_set": NAME,
        "protocol": "stateless",
        "max_iterations": iterations,
        "problem_id": item.problem.id,
        "sample": item.sample,
        "iteration": item.iteration,
    }


def recorded_rows(
    aid: str, key: dict[str, Any], found: list[RecordedFinding], start: int
) -> list[dict[str, Any]]:
    """`findings` rows of the authors' lint text, numbered after the re-linted ones."""
    return [
        {
            "attempt_id": aid,
            **key,
            "finding_index": start + i,
            "source": RECORDED_SOURCE,
            "rule_id": f.rule_id,
            "level": f.level,
            "message": f.message,
            "path": "",
            "line": f.line,
            "column": f.column,
            "end_line": None,
            "end_column": None,
        }
        for i, f in enumerate(found)
    ]


def _identity(rule: str | None, line: int | None, column: int | None) -> tuple[Any, ...]:
    return (rule, line, column)


def write_run(
    published: list[Published],
    verdicts: dict[tuple[str, str], Verdict],
    settings: Settings,
    job_dir: Path,
    summary: ImportSummary,
    recorded_hash: str,
) -> JobSummary:
    iterations = settings.loop.max_iterations
    sweep_id = job_dir.parent.name
    constant = {
        "simulated": False,
        "origin": "recorded",
        "dataset": settings.dataset.name,
        "output_format": settings.prompts.output_format,
        "clean_rule": settings.loop.clean_when,
        "response_format": settings.model.response_format,
        "config_hash": recorded_hash,
        **provenance(),
        # the SDKs of this machine made no call for these rows
        "anthropic_version": None,
        "openai_version": None,
        "boto3_version": None,
        "botocore_version": None,
    }
    job = JobSummary(model=MODEL, simulated=False, cost_usd=None)
    writer = RecordWriter(job_dir, compact_every=2000, sync_each=False)  # made again if killed
    try:
        for item in sorted(published, key=lambda p: (p.problem.id, p.sample, p.iteration)):
            key = _key(item, sweep_id, iterations)
            aid = attempt_id(key)
            last = item.iteration == iterations
            verdict = verdicts.get((item.template, item.problem.id)) if item.template else None
            failures = verdict.failures if verdict else [f"not published: {item.recorded_from}"]
            scored = verdict is not None and not verdict.gating_failed
            row = {
                "attempt_id": aid,
                **key,
                **constant,
                "problem_sha256": item.problem.sha256,
                "reply": None,
                "template": item.template,
                "extraction_rule": None,
                **outcome_columns(
                    verdict.counts if verdict else {"E": 0, "W": 0, "I": 0},
                    scored,
                    verdict.parse_ok if verdict else None,
                    verdict.clean if verdict else False,
                    failures,
                    verdict.checks if verdict else [],
                ),
                "stop_reason": "max_iterations" if last else None,
                "feedback": None if last else item.lint_text,
                # their text, by their cfn-lint: parsed into the recorded findings below
                "feedback_linter": None if last or item.lint_text is None else RECORDED_LINTER,
                "recorded_from": item.recorded_from,
                **(verdict.provenance if verdict else {}),
            }
            relinted = verdict.findings if verdict else []
            findings = finding_rows(aid, key, relinted)
            findings += recorded_rows(aid, key, item.recorded, len(findings))
            writer.append(row, findings, check_rows(aid, key, verdict.checks if verdict else []))
            job.attempts += 1
            job.lint_failures += bool(row["lint_failure"])
            if last:
                job.chains += 1
                job.clean_chains += bool(row["clean"])
            if scored and item.lint_text is not None:
                _agreement(summary, item.recorded, relinted)
    finally:
        writer.close()
    job.stop_reasons = {"max_iterations": job.chains}
    job.status = "complete"
    return job


def _agreement(summary: ImportSummary, recorded: list[RecordedFinding], relinted: list) -> None:
    theirs = Counter(_identity(f.rule_id, f.line, f.column) for f in recorded)
    ours = Counter(
        _identity(f.rule_id, f.line, f.column) for f in relinted if f.source == LINT_SOURCE
    )
    summary.compared += 1
    summary.agreeing += theirs == ours
    summary.recorded_findings += theirs.total()
    summary.recorded_found_again += (theirs & ours).total()
    summary.relinted_findings += ours.total()


def chain_facts(published: list[Published], summary: ImportSummary) -> None:
    """How their loop treated templates: unchanged ones, and clean ones that still changed."""
    by_chain = {(p.trial, p.number, p.iteration): p for p in published}
    for item in published:
        after = by_chain.get((item.trial, item.number, item.iteration + 1))
        if after is None or item.template is None or after.template is None:
            continue
        same = after.template == item.template
        summary.unchanged_from_previous += same
        summary.clean_then_changed += item.clean_by_their_lint and not same


# ---- the command -----------------------------------------------------------------------------


async def import_paper(
    source: Path,
    out: Path,
    cfn_lint: str | None = None,
    as_of: date | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> ImportSummary:
    started = time.monotonic()
    repo = discover(source)
    paper33 = paper33_by_topic()
    published, notes = read_published(repo, paper33)
    iterations = max(p.iteration for p in published)
    samples = len(repo.trials) * QUERIES
    saved, settings, more = compose_settings(repo, iterations, samples, cfn_lint, as_of, workers)
    summary = ImportSummary(source=str(source), out=str(out), notes=[*notes, *more])
    summary.trials, summary.iterations, summary.attempts = len(repo.trials), iterations, 0
    texts = {p.template for p in published if p.template is not None}
    summary.distinct_templates = len(texts)
    summary.null_templates = sum((p.template or "").strip() == "null" for p in published)
    summary.missing_templates = sum(p.template is None for p in published)
    summary.missing_lint_rows = sum(p.lint_text is None for p in published)
    chain_facts(published, summary)

    # rows carry the hash of the settings saved beside them (rescore checks one against the other)
    recorded_hash = config_hash(fingerprint_as_saved(settings, saved["dataset"]))
    suite = build_suite(settings)
    job_dir = out / "0"
    try:
        verdicts = await judge_all(suite, published, 2 * settings.lint.workers, progress)
        job = write_run(published, verdicts, settings, job_dir, summary, recorded_hash)
    finally:
        suite.close()
    linted = next((v.provenance for v in verdicts.values() if v.provenance), {})
    summary.cfn_lint_version = str(linted.get("cfn_lint_version", settings.lint.resolved_version))
    summary.lint_as_of = str(linted.get("lint_as_of", settings.lint.as_of or date.today()))
    summary.attempts = job.attempts
    summary.lint_failures = job.lint_failures
    summary.seconds = round(time.monotonic() - started, 1)
    job.seconds = summary.seconds
    hydra_dir = job_dir / ".hydra"
    hydra_dir.mkdir(parents=True, exist_ok=True)
    (hydra_dir / "config.yaml").write_text(
        yaml.safe_dump(json.loads(json.dumps(saved, default=str)), sort_keys=False),
        encoding="utf-8",
    )
    (job_dir / "import.json").write_text(json.dumps(asdict(summary), indent=2) + "\n")
    write_summary(job_dir, job)  # the job's success marker, last
    return summary


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def main(
    argv: list[str] | None = None, prog: str = "python -m benchmark.replication.import_paper"
) -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__,
        **examples(
            "iacbench import paper-run <their repository> --out runs/paper-gpt-4o",
            "iacbench import paper-run <their repository>/JSON_run_v2 --as-of 2024-11-01",
        ),
    )
    parser.add_argument("paper", type=Path, help="their repository root (or its JSON_run_v2)")
    parser.add_argument("--out", type=Path, default=Path("runs") / "paper-gpt-4o")
    parser.add_argument("--cfn-lint", metavar="VERSION", help="lint.cfn_lint_version (1.x.y)")
    parser.add_argument("--as-of", type=_date, metavar="DATE", help="lint.as_of (YYYY-MM-DD)")
    parser.add_argument("--workers", type=int, help="lint.workers: lint processes")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        print(f"error: {args.out} exists and is not empty; choose --out", file=sys.stderr)
        return 2
    try:
        summary = asyncio.run(
            import_paper(
                args.paper, args.out, args.cfn_lint, args.as_of, args.workers, not args.no_progress
            )
        )
    except (ValueError, FileNotFoundError) as exc:  # ConfigError, DatasetError, layout errors
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(summary.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
