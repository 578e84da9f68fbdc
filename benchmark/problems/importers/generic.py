"""Import any prompt list (CSV or JSONL) with a column mapping into the project's problem format.

(A folder of templates is imported by `template_folder`; `import generic <folder>` goes there.)

Fields that can be mapped (`--map field=column`): `prompt` (required), `id`, `title`,
`services` (comma-separated or a JSON list), `reference_template` (the template text),
`reference_path` (a template file, relative to the input file, either slash), and
`intent_checks` (a JSON list in the project's check language). Unmapped fields default to a
column of the same name when there is one. Difficulty is computed when a reference template is
given, never taken from the input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmark.problems.dataset import DatasetError, Problem, parse_problem
from benchmark.problems.difficulty import template_metrics
from benchmark.problems.importers.output import (
    DatasetImportError,
    ImportReport,
    read_rows,
    read_text,
    resolve,
    slug,
    write_problems,
)
from benchmark.problems.importers.template_folder import SUFFIXES as TEMPLATE_SUFFIXES

FIELDS = (
    "id",
    "title",
    "prompt",
    "services",
    "reference_template",
    "reference_path",
    "intent_checks",
)


def parse_mapping(pairs: list[str]) -> dict[str, str]:
    """`["prompt=question", "id=task_id"]` -> {"prompt": "question", "id": "task_id"}."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise DatasetImportError(f"--map {pair!r}: expected field=column")
        if field.strip() not in FIELDS:
            raise DatasetImportError(f"--map {pair!r}: unknown field; expected one of {FIELDS}")
        mapping[field.strip()] = column.strip()
    return mapping


def _list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value or "").strip()
    if text.startswith("["):
        return _list(json.loads(text))
    return [part.strip() for part in text.split(",") if part.strip()]


class _RowSkipped(Exception):
    pass


def _problem(
    row: dict[str, Any], number: int, mapping: dict[str, str], input_path: Path, prefix: str
) -> Problem:
    def get(field: str) -> Any:
        value = row.get(mapping[field]) if field in mapping else None
        return None if value is None or (isinstance(value, str) and not value.strip()) else value

    prompt = get("prompt")
    if prompt is None:
        raise _RowSkipped("empty prompt")
    prompt = str(prompt).strip()
    raw_id = get("id")
    data: dict[str, Any] = {
        "id": slug(str(raw_id), limit=64) if raw_id is not None else f"{prefix}-{number:04d}",
        "title": str(get("title") or " ".join(prompt.split()[:8])),
        "prompt": prompt,
        "source": f"{input_path.name} row {number}",
    }
    if get("services") is not None:
        data["services"] = _list(get("services"))
    template = get("reference_template")
    if template is None and get("reference_path") is not None:
        found = resolve(str(get("reference_path")), [input_path.parent])
        if found is None:
            raise DatasetImportError(
                f"{input_path}: row {number}: column '{mapping['reference_path']}': "
                f"file not found: {get('reference_path')!r}"
            )
        template = read_text(found)
    if template is not None:
        try:
            data["difficulty"] = template_metrics(str(template)).difficulty
        except ValueError:
            raise _RowSkipped("reference template does not parse") from None
        data["reference_template"] = str(template)
    checks = get("intent_checks")
    if checks is not None:
        try:
            data["intent_checks"] = json.loads(checks) if isinstance(checks, str) else checks
        except json.JSONDecodeError as exc:
            raise DatasetImportError(
                f"{input_path}: row {number}: column '{mapping['intent_checks']}': not JSON: {exc}"
            ) from exc
    try:
        return parse_problem(data, f"{input_path}: row {number}")
    except DatasetError as exc:
        raise DatasetImportError(str(exc)) from exc


def import_generic(
    input_path: str | Path,
    out_dir: str | Path,
    mapping: dict[str, str] | None = None,
    id_prefix: str | None = None,
    overwrite: bool = False,
) -> ImportReport:
    path = Path(input_path)
    if path.is_dir():
        raise DatasetImportError(
            f"{path}: a folder: `import generic` reads a folder of templates, "
            "with no --map (the request comes from each template)"
        )
    if path.suffix.lower() in TEMPLATE_SUFFIXES:
        raise DatasetImportError(
            f"{path}: a template, not a prompt list (.csv or .jsonl): to import templates, "
            f"pass their folder: import generic {path.parent}"
        )
    mapping = dict(mapping or {})
    rows = read_rows(path, tuple(mapping.values()))
    columns = {key for row in rows for key in row}
    for field in FIELDS:
        if field not in mapping and field in columns:
            mapping[field] = field
    if "prompt" not in mapping:
        raise DatasetImportError(
            f"{path}: missing column 'prompt' (map another with --map prompt=COLUMN)"
        )
    prefix = slug(id_prefix or path.stem, limit=32)
    report = ImportReport(rows_read=len(rows))
    problems: dict[str, Problem] = {}
    for number, row in enumerate(rows, start=1):
        try:
            problem = _problem(row, number, mapping, path, prefix)
        except _RowSkipped as skipped:
            report.rows_skipped[str(skipped)] += 1
            continue
        if problem.id in problems:
            report.rows_skipped["duplicate id"] += 1
            continue
        problems[problem.id] = problem
        report.checks_translated += len(problem.intent_checks)
    write_problems(list(problems.values()), Path(out_dir), overwrite)
    report.written = len(problems)
    report.out_dir = Path(out_dir)
    return report
