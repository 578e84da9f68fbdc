"""Synthetic data with known structure, for tests and demos of the analysis.

`write_synthetic_run` writes a run folder exactly as a sweep would (one job folder per group,
rows through `benchmark.records.tables.RecordWriter`), or, with `recorded=True`, as an imported
published run (origin `recorded`: chains that go on after a clean template, and the authors'
own findings beside the configured linter's); `write_relinted_run` writes the same templates
judged by another linter, as `benchmark.replication.rescore` would; `write_paper_raw` writes a
folder in the layout of the paper authors' raw data. Nothing here is a measurement of any model.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.records.tables import ATTEMPT_KEY, RecordWriter, attempt_id, read_table
from benchmark.replication.paper_repo import RECORDED_SOURCE

Curve = tuple[float, float, float]  # (A, k, C) of A·e^(−k(t−1)) + C

ERROR_RULES = ["E3012", "E3003", "E1019", "E3002", "E3030"]
WARNING_RULES = ["W2001", "W3005", "W1020"]
NEW_RULE = "W3697"  # a rule the configured (newer) cfn-lint has and the recorded one had not
LINT_VERSION = "1.58.0"
LINT_DATE = date(2025, 1, 1)
# (Checkov id, name, pass exponent: a check passes with probability p ** exponent)
SECURITY_CHECKS = [
    ("CKV_AWS_18", "Ensure the S3 bucket has access logging enabled", 3.0),
    ("CKV_AWS_21", "Ensure the S3 bucket has versioning enabled", 2.0),
    ("CKV_AWS_117", "Ensure that AWS Lambda function is configured inside a VPC", 1.5),
    ("CKV_AWS_28", "Ensure DynamoDB point in time recovery (backup) is enabled", 1.0),
    ("CKV_AWS_116", "Ensure that AWS Lambda function is configured for a DLQ", 0.5),
    ("CKV_AWS_107", "Ensure IAM policies do not allow credentials exposure", 0.25),
]
PATHS = [
    "Resources/Bucket/Properties/BucketName",
    "Resources/Table/Properties/KeySchema",
    "Resources/Role/Properties/Policies/0",
    "Resources/Function/Properties/Runtime",
    "Parameters/Env",
    "Outputs/Arn/Value",
]


@dataclass(frozen=True)
class GroupSpec:
    """One model × prompt set × protocol of a synthetic run and the curves it follows."""

    model: str = "synthetic/model"
    prompt_set: str = "paper"
    protocol: str = "stateless"
    errors: Curve = (3.0, 1.0, 0.3)
    warnings: Curve = (1.0, 0.6, 0.2)
    intent: tuple[float, float] = (0.6, 0.9)  # pass probability at iteration 1 and at the end
    model_error_rate: float = 0.0
    # per-check pass probability p at iteration 1 and at the end (None: no security checks);
    # check i passes with probability p ** exponent_i (SECURITY_CHECKS)
    security: tuple[float, float] | None = None
    # provenance of the group's rows
    cfn_lint_version: str | None = LINT_VERSION
    lint_as_of: date | None = LINT_DATE
    dataset: str = "synthetic"
    output_format: str = "yaml"
    response_format: str | None = None
    origin: str | None = None  # None: `simulated` or `run` from write_synthetic_run's flag
    # reasoning models (issue 19): recorded as given; None leaves the column null, as in runs
    # written before it (and as the provider's default is recorded)
    effort: str | None = None
    thinking: str | None = None
    thinking_display: str | None = None
    model_api: str | None = None
    max_iterations: int | None = None  # None: write_synthetic_run's `max_iterations`
    cost_usd: float | None = 0.002  # per attempt; None: no price for this model
    output_tokens: int = 600  # per attempt, reasoning included
    reasoning_tokens: int | None = None  # per attempt, of output_tokens
    truncation_rate: float = 0.0  # share of attempts cut at the token limit (truncation set)


DESIGNS = ["raw", "structured", "explained", "excerpt", "errors-only", "intent"]
PROTOCOLS = ["stateless", "conversation"]


def design_groups(
    rates: Sequence[float] = (0.5, 0.8, 1.0, 1.2, 0.9, 0.7),
    *,
    model: str = "synthetic/model",
    designs: Sequence[str] = DESIGNS,
    protocols: Sequence[str] = PROTOCOLS,
    conversation_factor: float = 1.2,
    security: tuple[float, float] | None = (0.7, 0.9),
) -> list[GroupSpec]:
    """A feedback-design experiment: each design (prompt set) × protocol, the design's error
    decay rate from `rates` (× `conversation_factor` under the conversation protocol)."""
    return [
        GroupSpec(
            model=model,
            prompt_set=design,
            protocol=protocol,
            errors=(3.0, rate * (conversation_factor if protocol == "conversation" else 1.0), 0.3),
            security=security,
        )
        for design, rate in zip(designs, rates, strict=True)
        for protocol in protocols
    ]


def decay(t: np.ndarray | float, curve: Curve) -> np.ndarray:
    a, k, c = curve
    return a * np.exp(-k * (np.asarray(t, dtype=float) - 1.0)) + c


def _next_findings(
    previous: list[tuple[str, str]], count: int, rules: Sequence[str], rng: np.random.Generator
) -> list[tuple[str, str]]:
    kept = [f for f in previous if rng.random() < 0.6][:count]
    while len(kept) < count:
        kept.append((str(rng.choice(rules)), str(rng.choice(PATHS))))
    return kept


def write_synthetic_run(
    root: str | Path,
    groups: Sequence[GroupSpec] = (GroupSpec(),),
    *,
    problems: int = 12,
    samples: int = 2,
    max_iterations: int = 10,
    simulated: bool = False,
    recorded: bool = False,
    new_rule_rate: float = 0.3,
    seed: int = 0,
    sweep_id: str = "synthetic",
    problem_ids: Sequence[str] | None = None,
) -> Path:
    """Write a run folder `root/<job>/{attempts,findings,checks}/part-*.parquet`.

    Each problem has a difficulty factor (gamma, mean 1); at iteration t a chain's error and
    warning counts are Poisson with mean factor × curve(t). A chain stops at its first
    iteration with neither, or (with `model_error_rate`) at a model error.

    `recorded=True` writes an imported published run instead: origin `recorded`, every chain
    runs all `max_iterations` (stop_reason null until `max_iterations`; a clean template can
    be followed by an unclean one), `recorded_from` names a file, and each attempt carries two
    lintings: the Poisson findings as the authors recorded them (source RECORDED_SOURCE) and
    the configured linter's (source `cfn-lint`), which are the same plus, with probability
    `new_rule_rate`, one finding of NEW_RULE. The attempt's counts and `clean` are the
    configured linter's.
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    ids = list(problem_ids) if problem_ids else [f"problem-{i:03d}" for i in range(problems)]
    factors = rng.gamma(4.0, 0.25, size=len(ids))
    start = datetime(2025, 1, 1, tzinfo=UTC)
    default_iterations = max_iterations
    for job, spec in enumerate(groups):
        writer = RecordWriter(root / str(job), compact_every=10_000)
        max_iterations = spec.max_iterations or default_iterations
        base = {
            "sweep_id": sweep_id,
            "job_id": job,
            "model": spec.model,
            "provider": spec.model.split("/")[0],
            "prompt_set": spec.prompt_set,
            "protocol": spec.protocol,
            "max_iterations": max_iterations,
        }
        reasoning = {
            "effort": spec.effort,
            "thinking": spec.thinking,
            "thinking_display": spec.thinking_display,
            "model_api": spec.model_api,
            "reasoning_tokens": spec.reasoning_tokens,
        }
        origin = spec.origin or ("recorded" if recorded else "simulated" if simulated else "run")
        for pid, factor in zip(ids, factors, strict=True):
            for sample in range(samples):
                errors_now: list[tuple[str, str]] = []
                warnings_now: list[tuple[str, str]] = []
                for iteration in range(1, max_iterations + 1):
                    key = {**base, "problem_id": pid, "sample": sample, "iteration": iteration}
                    row: dict[str, Any] = {
                        "attempt_id": attempt_id(key),
                        **key,
                        "simulated": simulated,
                        "origin": origin,
                        "dataset": spec.dataset,
                        "output_format": spec.output_format,
                        "response_format": spec.response_format,
                        "clean_rule": "no_errors_or_warnings",
                        "temperature": 0.7,
                        "max_tokens": 4096,
                        "cfn_lint_version": spec.cfn_lint_version,
                        "lint_as_of": spec.lint_as_of,
                        "git_sha": "0" * 40,
                        "input_tokens": 900,
                        "output_tokens": spec.output_tokens,
                        "cost_usd": spec.cost_usd,
                        **reasoning,
                        "started_at": start + timedelta(seconds=iteration),
                        "finished_at": start + timedelta(seconds=iteration + 1),
                        "seed": seed,
                    }
                    if recorded:
                        row["recorded_from"] = f"published/{pid}/{sample}/{iteration}.json"
                    if iteration > 1 and rng.random() < spec.model_error_rate:
                        row.update(
                            errors=0,
                            warnings=0,
                            infos=0,
                            clean=False,
                            stop_reason="model_error",
                            model_error="rate_limit: synthetic",
                            cost_usd=None,
                            lint_as_of=None,
                        )
                        writer.append(row)
                        break
                    n_err = int(rng.poisson(factor * decay(iteration, spec.errors)))
                    n_warn = int(rng.poisson(factor * decay(iteration, spec.warnings)))
                    errors_now = _next_findings(errors_now, n_err, ERROR_RULES, rng)
                    warnings_now = _next_findings(warnings_now, n_warn, WARNING_RULES, rng)
                    shown = errors_now + warnings_now
                    if recorded and rng.random() < new_rule_rate:
                        shown = [*shown, (NEW_RULE, str(rng.choice(PATHS)))]
                    n_warn = sum(rule.startswith("W") for rule, _ in shown)
                    clean = n_err == 0 and n_warn == 0
                    p0, p1 = spec.intent
                    share = p1 + (p0 - p1) * np.exp(-(iteration - 1))
                    passed = [bool(rng.random() < share) for _ in range(3)]
                    secure: list[bool] = []
                    if spec.security is not None:
                        s0, s1 = spec.security
                        p = s1 + (s0 - s1) * np.exp(-(iteration - 1))
                        secure = [bool(rng.random() < p**w) for _, _, w in SECURITY_CHECKS]
                        row.update(
                            security_passed=sum(secure),
                            security_total=len(secure),
                            checkov_version="3.2.0",
                        )
                    last = iteration == max_iterations
                    if spec.truncation_rate and rng.random() < spec.truncation_rate:
                        row.update(truncation="max_tokens", truncated=True)
                    row.update(
                        template="Resources: {}",
                        parse_ok=True,
                        errors=n_err,
                        warnings=n_warn,
                        infos=0,
                        clean=clean,
                        intent_passed=sum(passed),
                        intent_total=3,
                        stop_reason=(
                            "max_iterations"
                            if last and (recorded or not clean)
                            else "clean"
                            if clean and not recorded
                            else None
                        ),
                    )
                    findings = _synthetic_findings(row, key, shown, "cfn-lint")
                    if recorded:
                        findings += _synthetic_findings(
                            row, key, errors_now + warnings_now, RECORDED_SOURCE, len(findings)
                        )
                    checks = [
                        {
                            "attempt_id": row["attempt_id"],
                            **key,
                            "check_index": i,
                            "source": "intent",
                            "check_id": f"intent-{i}",
                            "passed": ok,
                        }
                        for i, ok in enumerate(passed)
                    ]
                    checks += [
                        {
                            "attempt_id": row["attempt_id"],
                            **key,
                            "check_index": len(passed) + i,
                            "source": "security",
                            "check_id": check_id,
                            "passed": ok,
                            "description": name,
                            "resource": "AWS::S3::Bucket.Bucket",
                        }
                        for i, ((check_id, name, _), ok) in enumerate(
                            zip(SECURITY_CHECKS[: len(secure)], secure, strict=True)
                        )
                    ]
                    writer.append(row, findings, checks)
                    if clean and not recorded:
                        break
        writer.close()
    return root


def _synthetic_findings(
    row: dict[str, Any],
    key: dict[str, Any],
    found: Sequence[tuple[str, str]],
    source: str,
    first_index: int = 0,
) -> list[dict[str, Any]]:
    return [
        {
            "attempt_id": row["attempt_id"],
            **key,
            "finding_index": first_index + i,
            "source": source,
            "rule_id": rule,
            "level": rule[0],
            "message": f"synthetic {rule}",
            "path": path,
            "line": 1,
            "column": 1,
        }
        for i, (rule, path) in enumerate(found)
    ]


def write_relinted_run(
    source: str | Path,
    root: str | Path,
    *,
    cfn_lint_version: str = "1.59.0",
    lint_as_of: date | None = date(2025, 6, 1),
    add_rule: str | None = NEW_RULE,
    add_rate: float = 0.3,
    drop_rules: Sequence[str] = (),
    seed: int = 0,
) -> Path:
    """The templates of the run at `source` judged again, as `benchmark.replication.rescore`
    writes it:
    keys, attempt ids, templates and stop reasons kept; findings of `drop_rules` gone, one
    `add_rule` warning added to a template with probability `add_rate`; counts, `clean` and
    the lint provenance new. Job folders keep their names."""
    rng = np.random.default_rng(seed)
    source, root = Path(source), Path(root)
    for job_dir in sorted(p for p in source.iterdir() if (p / "attempts").is_dir()):
        attempts = read_table(job_dir, "attempts")
        findings = read_table(job_dir, "findings")
        writer = RecordWriter(root / job_dir.name, compact_every=10_000)
        linted = findings[findings["source"] == "cfn-lint"]
        by_attempt = {aid: part for aid, part in linted.groupby("attempt_id")}
        for row in attempts.sort_values(ATTEMPT_KEY).to_dict("records"):
            row = {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
            key = {k: row[k] for k in ATTEMPT_KEY}
            if row["template"] is None:
                writer.append(row)
                continue
            part = by_attempt.get(row["attempt_id"])
            shown = [] if part is None else list(zip(part["rule_id"], part["path"], strict=True))
            shown = [(r, p) for r, p in shown if r not in drop_rules]
            if add_rule is not None and rng.random() < add_rate:
                shown.append((add_rule, str(rng.choice(PATHS))))
            levels = [rule[0] for rule, _ in shown]
            errors, warnings = levels.count("E"), levels.count("W")
            row.update(
                errors=errors,
                warnings=warnings,
                infos=levels.count("I"),
                clean=errors == 0 and warnings == 0,
                cfn_lint_version=cfn_lint_version,
                lint_as_of=lint_as_of,
            )
            writer.append(row, _synthetic_findings(row, key, shown, "cfn-lint"))
        writer.close()
    return root


# ---- hand-built rows ---------------------------------------------------------------------


def attempt_row(
    problem_id: str,
    sample: int,
    iteration: int,
    *,
    errors: int = 0,
    warnings: int = 0,
    infos: int = 0,
    clean: bool | None = None,
    stop_reason: str | None = None,
    model_error: str | None = None,
    model: str = "synthetic/model",
    prompt_set: str = "paper",
    protocol: str = "stateless",
    max_iterations: int = 10,
    simulated: bool = False,
    sweep_id: str = "hand",
    job_id: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    """One attempt row with the schema's keys; clean defaults to no errors and no warnings."""
    key = {
        "sweep_id": sweep_id,
        "job_id": job_id,
        "model": model,
        "provider": model.split("/")[0],
        "prompt_set": prompt_set,
        "protocol": protocol,
        "max_iterations": max_iterations,
        "problem_id": problem_id,
        "sample": sample,
        "iteration": iteration,
    }
    if clean is None:
        clean = model_error is None and errors == 0 and warnings == 0
    if stop_reason is None and clean:
        stop_reason = "clean"
    if stop_reason is None and model_error is not None:
        stop_reason = "model_error"
    return {
        "attempt_id": attempt_id(key),
        **key,
        "template": None if model_error else "Resources: {}",
        "parse_ok": None if model_error else True,
        "errors": errors,
        "warnings": warnings,
        "infos": infos,
        "clean": clean,
        "stop_reason": stop_reason,
        "model_error": model_error,
        "simulated": simulated,
        "origin": "simulated" if simulated else "run",
        "clean_rule": "no_errors_or_warnings",
        "dataset": "hand",
        "cfn_lint_version": LINT_VERSION,
        "lint_as_of": None if model_error else LINT_DATE,
        **extra,
    }


def finding_row(
    attempt: dict[str, Any], index: int, rule_id: str, path: str, line: int = 1
) -> dict[str, Any]:
    """A finding of `attempt` (level from the rule's first letter)."""
    key = {k: attempt[k] for k in ATTEMPT_KEY}
    return {
        "attempt_id": attempt["attempt_id"],
        **key,
        "finding_index": index,
        "source": "cfn-lint",
        "rule_id": rule_id,
        "level": rule_id[0],
        "message": f"{rule_id} at {path}",
        "path": path,
        "line": line,
        "column": 1,
    }


def check_row(
    attempt: dict[str, Any],
    index: int,
    check_id: str,
    passed: bool,
    source: str = "security",
    resource: str = "AWS::S3::Bucket.Bucket",
) -> dict[str, Any]:
    """A check result of `attempt` (security by default)."""
    key = {k: attempt[k] for k in ATTEMPT_KEY}
    return {
        "attempt_id": attempt["attempt_id"],
        **key,
        "check_index": index,
        "source": source,
        "check_id": check_id,
        "passed": passed,
        "description": f"synthetic {check_id}",
        "resource": resource,
    }


def write_job(
    job_dir: str | Path,
    attempts: Sequence[dict[str, Any]],
    findings: Sequence[dict[str, Any]] = (),
    checks: Sequence[dict[str, Any]] = (),
) -> Path:
    """Append rows through RecordWriter, as a job would, and compact them into Parquet parts."""
    writer = RecordWriter(job_dir)
    for attempt in attempts:
        aid = attempt["attempt_id"]
        writer.append(
            attempt,
            [f for f in findings if f["attempt_id"] == aid],
            [c for c in checks if c["attempt_id"] == aid],
        )
    writer.close()
    return Path(job_dir)


# ---- the paper authors' raw-data layout --------------------------------------------------


def cfn_lint_cell(findings: Sequence[tuple[str, str]], filename: str = "template.yaml") -> str:
    """cfn-lint's default output for one template: `RULE message` + `file:line:col` blocks."""
    blocks = [
        f"{rule} {message}\n{filename}:{i + 3}:{i + 1}"
        for i, (rule, message) in enumerate(findings)
    ]
    return "\n\n".join(blocks)


def synthetic_paper_data(
    *,
    trials: int = 6,
    iterations: int = 10,
    templates: int = 165,
    errors: Curve = (1.0, 1.0, 0.2),
    warnings: Curve = (0.4, 0.5, 0.13),
    seed: int = 0,
) -> tuple[dict[tuple[int, int], list[str]], dict[tuple[int, int], tuple[int, int, int]]]:
    """Cells keyed by (trial, iteration), each template a mix of awkward multi-line messages,
    and the true (errors, warnings, clean templates) of every (trial, iteration)."""
    rng = np.random.default_rng(seed)
    messages = [
        "Property Resources/Bucket/Properties/Tags should be of type List",
        'Value "us-east-1a, us-east-1b" is not one of [\'a\', "b"]\nwhen checking "Zones"',
        "Parameter Env not used.",
        "'Handler' is a required property,\nsee: https://example.com/a,b",
    ]
    cells: dict[tuple[int, int], list[str]] = {}
    truth: dict[tuple[int, int], tuple[int, int, int]] = {}
    for trial in range(1, trials + 1):
        for iteration in range(1, iterations + 1):
            column, totals = [], [0, 0, 0]
            for _ in range(templates):
                n_e = int(rng.poisson(decay(iteration, errors)))
                n_w = int(rng.poisson(decay(iteration, warnings)))
                found = [
                    (str(rng.choice(ERROR_RULES)), str(rng.choice(messages))) for _ in range(n_e)
                ]
                found += [
                    (str(rng.choice(WARNING_RULES)), str(rng.choice(messages))) for _ in range(n_w)
                ]
                rng.shuffle(found)
                column.append(cfn_lint_cell(found))
                totals[0] += n_e
                totals[1] += n_w
                totals[2] += not found
            cells[(trial, iteration)] = column
            truth[(trial, iteration)] = (totals[0], totals[1], totals[2])
    return cells, truth


def synthetic_paper_cells(**kwargs: Any) -> dict[tuple[int, int], list[str]]:
    """Only the cells of `synthetic_paper_data`."""
    return synthetic_paper_data(**kwargs)[0]


def write_paper_raw(
    folder: str | Path,
    cells: Mapping[tuple[int, int], Sequence[str]],
    headers: Sequence[str] = ("Errors", "0"),
    layout: str = "trial folders",
) -> Path:
    """Write the authors' lint text, one column, a header, one row per template, `\n` line
    ends (pandas' `to_csv`, as they wrote it), in one of two layouts: `trial folders`
    (`trial{t}/errorsCSV{i}.csv`) or `repository` (their repository as published:
    `JSON_run_v2/JSONwork_batching{t}/errorCSVs/errorsCSV{i}.csv`)."""
    folder = Path(folder)
    for n, ((trial, iteration), column) in enumerate(sorted(cells.items())):
        if layout == "repository":
            trial_dir = folder / "JSON_run_v2" / f"JSONwork_batching{trial}" / "errorCSVs"
        elif layout == "trial folders":
            trial_dir = folder / f"trial{trial}"
        else:
            raise ValueError(f"unknown layout {layout!r}")
        path = trial_dir / f"errorsCSV{iteration}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="", encoding="utf-8") as handle:
            out = csv.writer(handle, lineterminator="\n")
            out.writerow([headers[n % len(headers)]])
            for cell in column:
                out.writerow([cell])
    return folder
