"""Import DPIaC-Eval (IaCGen, MIT) from the user's own download into the project's problem format.

Input: one of `iac_basic.csv` (`row_number, ground_truth_path, prompt`),
`iac_with_difficulty_levels.csv` (adds `difficulty_level, resources, resource_count, loc,
parameter_count`) or `iac_with_user_intent.csv` (adds `user_intent, user_intent_file_path,
user_intent_id, needed_resources`). Paths in the CSV are relative, written with Windows
backslashes, and found from the CSV's folder or its parent (or `root`).

Each row becomes a problem: the prompt, the ground-truth template as the reference, the
difficulty computed from it (a CSV value that differs is reported, not stored), and intent
checks: one `resource_exists` per type in `needed_resources`, plus the Checkov policies'
conditions translated where the operator maps. Translated checks that the reference template
itself fails are dropped (reported) unless `keep_failing`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from benchmark.datasets.checkov import translate_policy
from benchmark.datasets.difficulty import template_metrics
from benchmark.datasets.output import (
    DatasetImportError,
    ImportReport,
    read_rows,
    read_text,
    resolve,
    services_of,
    slug,
    write_problems,
)
from benchmark.intent import evaluate, parse_template
from benchmark.problems import DatasetError, Problem, parse_problem

REQUIRED = ("row_number", "ground_truth_path", "prompt")
SOURCE = "DPIaC-Eval (IaCGen, MIT)"


def _split(cell: Any) -> list[str]:
    return [part.strip() for part in str(cell or "").split(",") if part.strip()]


def _needed_resources(cell: Any) -> list[dict[str, Any]]:
    counts = Counter(_split(cell))
    return [
        {
            "id": f"needs-{slug(kind.removeprefix('AWS::'))}",
            "kind": "resource_exists",
            "description": f"The template creates {n} x {kind} (DPIaC-Eval needed_resources).",
            "type": kind,
            **({"at_least": n} if n > 1 else {}),
        }
        for kind, n in sorted(counts.items())
    ]


class _RowSkipped(Exception):
    """This row is skipped; the message is the reason, counted in the report."""


class DpiacevalImporter:
    def __init__(
        self,
        csv_path: Path,
        root: Path | None = None,
        skip_missing: bool = False,
        keep_failing: bool = False,
    ) -> None:
        self.csv_path = csv_path
        self.bases = [root] if root else [csv_path.parent.parent, csv_path.parent]
        self.skip_missing = skip_missing
        self.keep_failing = keep_failing
        self.report = ImportReport()

    def _file(self, row: dict[str, Any], column: str, reference: str) -> Path:
        found = resolve(reference, self.bases)
        if found is not None:
            return found
        message = (
            f"{self.csv_path}: row {row.get('row_number')}: column '{column}': "
            f"file not found: {reference!r} (searched under {', '.join(map(str, self.bases))})"
        )
        if self.skip_missing:
            raise _RowSkipped(f"{column} file not found")
        raise DatasetImportError(message)

    def _policy_checks(self, row: dict[str, Any], number: int) -> list[dict[str, Any]]:
        checks: list[dict[str, Any]] = []
        for index, reference in enumerate(_split(row.get("user_intent_file_path")), start=1):
            path = self._file(row, "user_intent_file_path", reference)
            try:
                policy = yaml.safe_load(read_text(path))
            except yaml.YAMLError:
                self.report.conditions_skipped["policy file is not YAML"] += 1
                continue
            self.report.policies_read += 1
            policy_id = (
                (policy.get("metadata") or {}).get("id") if isinstance(policy, dict) else None
            )
            prefix = slug(str(policy_id or f"row-{number}-{index}"), limit=32)
            translation = translate_policy(policy, prefix)
            self.report.conditions_skipped.update(translation.skipped)
            checks.extend(translation.checks)
        return checks

    def _problem(self, row: dict[str, Any]) -> Problem:
        try:
            number = int(str(row["row_number"]).strip())
        except ValueError:
            raise _RowSkipped("row_number is not an integer") from None
        prompt = str(row.get("prompt") or "").strip()
        if not prompt:
            raise _RowSkipped("empty prompt")
        path = self._file(row, "ground_truth_path", str(row["ground_truth_path"]))
        text = read_text(path)
        try:
            metrics = template_metrics(text)
        except ValueError:
            raise _RowSkipped("ground truth does not parse") from None
        stated = str(row.get("difficulty_level") or "").strip()
        if stated and stated != str(metrics.difficulty):
            self.report.notes[
                "difficulty_level differs from the computed level (stored computed)"
            ] += 1
        parsed = parse_template(text)
        resource_checks = _needed_resources(row.get("needed_resources"))
        policy_checks = self._policy_checks(row, number)
        kept = []
        for check_data in policy_checks:
            check = parse_problem(
                {"id": "probe", "title": "-", "prompt": "-", "intent_checks": [check_data]},
                f"{self.csv_path}: row {number}",
            ).intent_checks[0]
            if self.keep_failing or evaluate(check, parsed).passed:
                kept.append(check_data)
            else:
                self.report.checks_dropped["fails on the reference template"] += 1
        self.report.checks_translated += len(kept)
        self.report.checks_from_resources += len(resource_checks)
        data = {
            "id": f"dpiaceval-{number:03d}-{slug(path.stem, limit=40)}",
            "title": f"DPIaC-Eval row {number}: {path.stem}",
            "prompt": prompt,
            "services": services_of(parsed.written or {}),
            "difficulty": metrics.difficulty,
            "source": f"{SOURCE} row {number}, {row['ground_truth_path'].strip()}",
            "reference_template": text,
            "intent_checks": resource_checks + kept,
        }
        return parse_problem(data, f"{self.csv_path}: row {number}")

    def run(self, out_dir: Path, overwrite: bool = False) -> ImportReport:
        rows = read_rows(self.csv_path, REQUIRED)
        self.report.rows_read = len(rows)
        problems: dict[str, Problem] = {}
        for row in rows:
            try:
                problem = self._problem(row)
            except _RowSkipped as skipped:
                self.report.rows_skipped[str(skipped)] += 1
                continue
            except DatasetError as exc:
                raise DatasetImportError(str(exc)) from exc
            if problem.id in problems:
                self.report.rows_skipped["duplicate row_number"] += 1
                continue
            problems[problem.id] = problem
        write_problems(list(problems.values()), out_dir, overwrite)
        self.report.written = len(problems)
        self.report.out_dir = out_dir
        return self.report


def import_dpiaceval(
    csv_path: str | Path,
    out_dir: str | Path,
    root: str | Path | None = None,
    skip_missing: bool = False,
    keep_failing: bool = False,
    overwrite: bool = False,
) -> ImportReport:
    importer = DpiacevalImporter(
        Path(csv_path), Path(root) if root else None, skip_missing, keep_failing
    )
    return importer.run(Path(out_dir), overwrite)
