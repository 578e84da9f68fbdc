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

The published data is read as it is: a policy whose metadata id repeats another's in its row
gets ids from its file name (noted); a ground truth that does not parse gives a prompt-only
problem (no reference, no difficulty, `no_reference` saying why; its translated checks are kept
unverified); a row that cannot become a problem (missing file, empty prompt, ...) is skipped
and counted, or with `strict` stops the import with one line naming the file, row and reason.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from benchmark.problems.dataset import DatasetError, Problem, parse_problem
from benchmark.problems.difficulty import template_metrics
from benchmark.problems.importers.checkov import translate_policy
from benchmark.problems.importers.output import (
    DatasetImportError,
    ImportReport,
    read_rows,
    read_text,
    resolve,
    services_of,
    services_of_types,
    slug,
    write_problems,
)
from benchmark.problems.intent_language import ParsedTemplate, evaluate, parse_template

REQUIRED = ("row_number", "ground_truth_path", "prompt")
SOURCE = "DPIaC-Eval (IaCGen, MIT)"
REPEATED_POLICY_ID = "policy metadata id repeats another in its row (ids from the file name)"
UNPARSEABLE = "ground truth does not parse"


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
    """This row cannot become a problem: `reason` is counted, `detail` completes it for --strict."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


class DpiacevalImporter:
    def __init__(
        self,
        csv_path: Path,
        root: Path | None = None,
        strict: bool = False,
        keep_failing: bool = False,
    ) -> None:
        self.csv_path = csv_path
        self.bases = [root] if root else [csv_path.parent.parent, csv_path.parent]
        self.strict = strict
        self.keep_failing = keep_failing
        self.report = ImportReport()

    def _file(self, column: str, reference: str) -> Path:
        found = resolve(reference, self.bases)
        if found is None:
            searched = ", ".join(map(str, self.bases))
            raise _RowSkipped(
                f"{column} file not found", f"'{reference.strip()}' (searched under {searched})"
            )
        return found

    def _policy_checks(self, row: dict[str, Any], number: int) -> list[dict[str, Any]]:
        checks: list[dict[str, Any]] = []
        prefixes: set[str] = set()
        for index, reference in enumerate(_split(row.get("user_intent_file_path")), start=1):
            path = self._file("user_intent_file_path", reference)
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
            if prefix in prefixes:  # as published: two files of one row may share an id
                self.report.notes[REPEATED_POLICY_ID] += 1
                prefix = slug(path.stem, limit=32)
                if prefix in prefixes:
                    prefix = f"{prefix}-{index}"
            prefixes.add(prefix)
            translation = translate_policy(policy, prefix)
            self.report.conditions_skipped.update(translation.skipped)
            checks.extend(translation.checks)
        return checks

    def _kept(
        self, checks: list[dict[str, Any]], reference: ParsedTemplate | None, where: str
    ) -> list[dict[str, Any]]:
        """Translated checks that hold on the reference (without one: all, unverified)."""
        kept = []
        for check_data in checks:
            try:
                check = parse_problem(
                    {"id": "probe", "title": "-", "prompt": "-", "intent_checks": [check_data]},
                    where,
                ).intent_checks[0]
            except DatasetError:
                self.report.checks_dropped["not a valid check after translation"] += 1
                continue
            if reference is None or self.keep_failing or evaluate(check, reference).passed:
                kept.append(check_data)
            else:
                self.report.checks_dropped["fails on the reference template"] += 1
        return kept

    def _problem(self, row: dict[str, Any]) -> Problem:
        try:
            number = int(str(row["row_number"]).strip())
        except ValueError:
            raise _RowSkipped("row_number is not an integer", repr(row["row_number"])) from None
        where = f"{self.csv_path}: row {number}"
        prompt = str(row.get("prompt") or "").strip()
        if not prompt:
            raise _RowSkipped("empty prompt")
        path = self._file("ground_truth_path", str(row["ground_truth_path"]))
        text = read_text(path)
        data: dict[str, Any] = {
            "id": f"dpiaceval-{number:03d}-{slug(path.stem, limit=40)}",
            "title": f"DPIaC-Eval row {number}: {path.stem}",
            "prompt": prompt,
            "source": f"{SOURCE} row {number}, {str(row['ground_truth_path']).strip()}",
        }
        try:
            metrics = template_metrics(text)
        except ValueError as exc:
            reason = str(exc).removeprefix("template does not parse: ")
            reference = None
            data["services"] = services_of_types(_split(row.get("resources")))
            data["no_reference"] = f"{UNPARSEABLE}: {reason}"
        else:
            stated = str(row.get("difficulty_level") or "").strip()
            if stated and stated != str(metrics.difficulty):
                self.report.notes[
                    "difficulty_level differs from the computed level (stored computed)"
                ] += 1
            reference = parse_template(text)
            data["services"] = services_of(reference.written or {})
            data["difficulty"] = metrics.difficulty
            data["reference_template"] = text
        resource_checks = _needed_resources(row.get("needed_resources"))
        kept = self._kept(self._policy_checks(row, number), reference, where)
        data["intent_checks"] = resource_checks + kept
        try:
            problem = parse_problem(data, where)
        except DatasetError as exc:
            invalid = str(exc).removeprefix(f"{where}: ")
            raise _RowSkipped(f"not a valid problem ({invalid})") from None
        self.report.checks_translated += len(kept)
        self.report.checks_from_resources += len(resource_checks)
        if reference is None:
            self.report.prompt_only[UNPARSEABLE] += 1
            self.report.checks_unverified += len(kept)
        return problem

    def run(self, out_dir: Path, overwrite: bool = False) -> ImportReport:
        rows = read_rows(self.csv_path, REQUIRED)
        self.report.rows_read = len(rows)
        problems: dict[str, Problem] = {}
        for row in rows:
            try:
                problem = self._problem(row)
                if problem.id in problems:
                    raise _RowSkipped("duplicate row_number", problem.id)
            except _RowSkipped as skipped:
                if self.strict:
                    detail = f": {skipped.detail}" if skipped.detail else ""
                    raise DatasetImportError(
                        f"{self.csv_path}: row {row.get('row_number')}: {skipped.reason}{detail}"
                    ) from None
                self.report.rows_skipped[skipped.reason] += 1
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
    strict: bool = False,
    keep_failing: bool = False,
    overwrite: bool = False,
) -> ImportReport:
    importer = DpiacevalImporter(Path(csv_path), Path(root) if root else None, strict, keep_failing)
    return importer.run(Path(out_dir), overwrite)
