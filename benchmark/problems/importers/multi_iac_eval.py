"""Import Multi-IaC-Eval's published CSV (Davidson et al., arXiv 2509.05303) as edit problems.

The CSV has one triplet per row: `initial` (the template before), `utterance` (the change
request), `expected` (the template after), with `source` (the IaC format) and `source_repo`
(where the initial template came from). Only CloudFormation rows are imported, decided in two
steps: a row whose `source` names another format (Terraform, CDK, HCL, ...) is skipped at once;
any other row is CloudFormation when its `initial` cell parses (cfn-lint's decoder, YAML or
JSON) to a CloudFormation template, as the project's loader requires of every template. A row
whose `source` does not say CloudFormation and whose `initial` has no `Resources` (or
`AWSTemplateFormatVersion`) key at all is another format too, whatever `source` holds.

Each kept row becomes an edit problem: `initial_template`, `expected_template` (its reference),
`prompt` = the utterance, `source` = the row and its `source_repo`, and no intent checks (the
data has none: intent is "not available" in records and reports, never "passed"). Ids are
stable and file-name-safe: the source repository's name and a digest of the triplet, so
re-importing, reordering or re-downloading the CSV gives the same ids.

The data is licensed CC-BY-NC 4.0: the project ships none of it; you download it yourself.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from benchmark.problems.dataset import DatasetError, Problem, parse_problem, template_shape_error
from benchmark.problems.difficulty import template_metrics
from benchmark.problems.importers.output import (
    DatasetImportError,
    ImportReport,
    read_rows,
    services_of,
    slug,
    write_problems,
)

COLUMNS = ("source", "initial", "expected", "utterance", "source_repo")
PREFIX = "mie"  # ids of rows without a source_repo
# `source` values of the other formats in the data (compared lower-case, letters only)
OTHER_FORMATS = ("terraform", "hcl", "cdk", "tf", "pulumi", "bicep", "arm")
# what any CloudFormation template has, in YAML or JSON: a Resources (or format version) key
CFN_MARKER = re.compile(r"""(^|[{,])\s*["']?(Resources|AWSTemplateFormatVersion)["']?\s*:""", re.M)


class _Skipped(Exception):
    """A row that is not imported: `kind` counts it, the message says why in one line."""

    def __init__(self, kind: str, why: str, other_format: bool = False) -> None:
        super().__init__(why)
        self.kind = kind
        self.other_format = other_format  # `source` names another format: never an error


def _other_format(source: str) -> bool:
    letters = re.sub(r"[^a-z]", "", source.lower())
    return any(letters == name or letters.startswith(name) for name in OTHER_FORMATS)


def _text(row: dict[str, Any], column: str) -> str:
    """A cell with its line endings made `\\n` (the published cells mix CRLF and LF)."""
    value = row.get(column)
    return "" if value is None else str(value).replace("\r\n", "\n").replace("\r", "\n")


def _template(text: str, column: str, source: str) -> dict[str, Any]:
    """The decoded template of a cell, or why it is not a CloudFormation template."""
    from cfnlint.decode.decode import decode_str  # heavy: imported only when importing

    template, errors = decode_str(text)
    why = " ".join(str(errors[0].message).split()) if errors else template_shape_error(template)
    if why is None:
        return template
    if column == "initial" and "cloudformation" not in source.lower():
        if not CFN_MARKER.search(text):  # not even meant as a template: another format
            raise _Skipped(
                "not CloudFormation",
                f"not CloudFormation (source {source!r}; initial has no Resources section)",
                other_format=True,
            )
        if source.strip():
            raise _Skipped(
                "not CloudFormation",
                f"not CloudFormation (source {source!r}; initial is not a CloudFormation "
                f"template: {why[:120]})",
            )
    raise _Skipped("unparseable", f"{column} does not parse as CloudFormation: {why[:120]}")


def problem_id(row: dict[str, Any]) -> str:
    """The source repository's name and a digest of the triplet (line endings ignored)."""
    repo = _text(row, "source_repo").strip().rstrip("/")
    name = slug(repo.rsplit("/", 1)[-1].removesuffix(".git"), limit=40) if repo else PREFIX
    triplet = "\0".join(_text(row, c).strip() for c in ("initial", "utterance", "expected"))
    return f"{name}-{hashlib.sha256(triplet.encode()).hexdigest()[:10]}"


def _problem(row: dict[str, Any], number: int, csv_name: str) -> Problem:
    source = _text(row, "source").strip()
    if _other_format(source):
        raise _Skipped("not CloudFormation", f"not CloudFormation (source {source!r})", True)
    initial, expected = _text(row, "initial"), _text(row, "expected")
    request = " ".join(_text(row, "utterance").split())
    for column, value in (("initial", initial), ("utterance", request), ("expected", expected)):
        if not value.strip():
            raise _Skipped(f"empty {column}", f"empty {column}")
    _template(initial, "initial", source)
    after = _template(expected, "expected", source)
    repo = _text(row, "source_repo").strip()
    data = {
        "id": problem_id(row),
        "title": " ".join(request.split()[:8]),
        "prompt": request,
        "services": services_of(after),
        "difficulty": template_metrics(expected).difficulty,
        "source": f"multi-iac-eval {csv_name} row {number}" + (f": {repo}" if repo else ""),
        "initial_template": initial,
        "expected_template": expected,
    }
    try:
        return parse_problem(data, f"row {number}")
    except DatasetError as exc:
        raise _Skipped("invalid", str(exc)) from exc


def import_multi_iac_eval(
    csv_path: str | Path, out_dir: str | Path, strict: bool = False, overwrite: bool = False
) -> ImportReport:
    """One edit problem per CloudFormation row; a note per skipped row. `strict`: a skipped
    CloudFormation row (empty, unparseable, duplicate) is an error; rows of other formats are
    still skipped, as the importer never takes them."""
    path = Path(csv_path)
    rows = read_rows(path, COLUMNS)
    report = ImportReport(rows_read=len(rows))
    problems: dict[str, Problem] = {}
    first_row: dict[str, int] = {}
    for number, row in enumerate(rows, start=1):
        try:
            problem = _problem(row, number, path.name)
            if problem.id in problems:
                first = first_row[problem.id]
                raise _Skipped(
                    "duplicate id", f"duplicate id {problem.id!r} (the same triplet as row {first})"
                )
        except _Skipped as skipped:
            if strict and not skipped.other_format:
                raise DatasetImportError(f"{path}: row {number}: {skipped} (--strict)") from None
            report.rows_skipped[skipped.kind] += 1
            report.row_notes.append(f"row {number}: skipped: {skipped}")
            continue
        problems[problem.id] = problem
        first_row[problem.id] = number
    write_problems(list(problems.values()), Path(out_dir), overwrite)
    report.written = len(problems)
    report.out_dir = Path(out_dir)
    if problems:
        report.notes["no intent checks in the data: intent is 'not available'"] = len(problems)
    return report
