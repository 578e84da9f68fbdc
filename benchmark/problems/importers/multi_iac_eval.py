"""Import Multi-IaC-Eval's published CSV (Davidson et al., arXiv 2509.05303) as edit problems.

The CSV has one triplet per row: `initial` (the template before), `utterance` (the change
request), `expected` (the template after), with `source` (the file the initial template came
from, with an index: several triplets are made from one file, e.g. `bucket.yaml_2`) and
`source_repo` (the GitHub repository of that file). Only CloudFormation rows are imported: a
row whose `source` is a file of another format (`.tf`, `.hcl`, `.py`, `.ts`, ...) or names one
(`terraform`, `cdk`), or whose `initial` has no `Resources` or `AWSTemplateFormatVersion` key
at all, is another format; any other row must parse (cfn-lint's decoder, YAML or JSON) to a
CloudFormation template, as the project's loader requires of every template.

Each kept row becomes an edit problem: `initial_template`, `expected_template` (its reference),
`prompt` = the utterance, `source` = the row, its `source` and `source_repo`, `may_change` =
the paths the expected template changes (the request's only statement: making that change is
not collateral), and no intent checks (the data has none: intent is "not available" in records
and reports, never "passed").
Ids are stable and file-name-safe: the `source` file's name and a digest of the triplet, so
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
from benchmark.validators.collateral import requested_changes

COLUMNS = ("source", "initial", "expected", "utterance", "source_repo")
PREFIX = "mie"  # ids of rows without a source
# `source` as a format's name, or as a file of another format (before the `_<index>`)
OTHER_FORMATS = {"terraform", "tf", "hcl", "opentofu", "cdk", "pulumi", "bicep"}
OTHER_FILE = re.compile(r"\.(tf|tfvars|hcl|py|ts|js|java|go|cs|zip)(_\d+)?$", re.IGNORECASE)
# what any CloudFormation template has, in YAML or JSON: a Resources (or format version) key
CFN_MARKER = re.compile(r"""(^|[{,])\s*["']?(Resources|AWSTemplateFormatVersion)["']?\s*:""", re.M)


class _Skipped(Exception):
    """A row that is not imported: `kind` counts it, the message says why in one line."""

    def __init__(self, kind: str, why: str, other_format: bool = False) -> None:
        super().__init__(why)
        self.kind = kind
        self.other_format = other_format  # a row of another format: never an error


def _other_format(source: str) -> bool:
    return source.lower() in OTHER_FORMATS or OTHER_FILE.search(source) is not None


def _text(row: dict[str, Any], column: str) -> str:
    """A cell with its line endings made `\\n` (the published cells mix CRLF and LF)."""
    value = row.get(column)
    return "" if value is None else str(value).replace("\r\n", "\n").replace("\r", "\n")


def _template(text: str, column: str) -> dict[str, Any]:
    """The decoded template of a cell, or why it is not a CloudFormation template."""
    from cfnlint.decode.decode import decode_str  # heavy: imported only when importing

    template, errors = decode_str(text)
    why = " ".join(str(errors[0].message).split()) if errors else template_shape_error(template)
    if why is None:
        return template
    raise _Skipped("unparseable", f"{column} does not parse as CloudFormation: {why[:120]}")


def triplet_digest(row: dict[str, Any]) -> str:
    """A digest of the row's initial, utterance and expected (line endings ignored)."""
    triplet = "\0".join(_text(row, c).strip() for c in ("initial", "utterance", "expected"))
    return hashlib.sha256(triplet.encode()).hexdigest()


def problem_id(row: dict[str, Any]) -> str:
    """The `source` file's name (index included) and the start of the triplet's digest."""
    source = _text(row, "source").strip().replace("\\", "/").rstrip("/")
    name = slug(source.rsplit("/", 1)[-1], limit=40) if source else PREFIX
    return f"{name}-{triplet_digest(row)[:10]}"


def _problem(row: dict[str, Any], number: int, csv_name: str) -> Problem:
    source = _text(row, "source").strip()
    initial, expected = _text(row, "initial"), _text(row, "expected")
    if _other_format(source) or (initial.strip() and not CFN_MARKER.search(initial)):
        why = "" if _other_format(source) else "; initial has no Resources section"
        raise _Skipped("not CloudFormation", f"not CloudFormation (source {source!r}{why})", True)
    request = " ".join(_text(row, "utterance").split())
    for column, value in (("initial", initial), ("utterance", request), ("expected", expected)):
        if not value.strip():
            raise _Skipped(f"empty {column}", f"empty {column}")
    _template(initial, "initial")
    after = _template(expected, "expected")
    repo = _text(row, "source_repo").strip()
    data = {
        "id": problem_id(row),
        "title": " ".join(request.split()[:8]),
        "prompt": request,
        "services": services_of(after),
        "difficulty": template_metrics(expected).difficulty,
        "source": f"multi-iac-eval {csv_name} row {number}: {source or '(no source)'}"
        + (f" from {repo}" if repo else ""),
        "initial_template": initial,
        "expected_template": expected,
        # the change is stated only by the expected template: what it changes may change
        "may_change": requested_changes(initial, expected),
    }
    try:
        return parse_problem(data, f"row {number}")
    except DatasetError as exc:
        raise _Skipped("invalid", str(exc)) from exc


def import_multi_iac_eval(
    csv_path: str | Path, out_dir: str | Path, strict: bool = False, overwrite: bool = False
) -> ImportReport:
    """One edit problem per CloudFormation row; a note per skipped row. `strict`: a skipped
    CloudFormation row (empty, unparseable, a duplicate) is an error; rows of other formats
    are still skipped, as the importer never takes them."""
    path = Path(csv_path)
    rows = read_rows(path, COLUMNS)
    report = ImportReport(rows_read=len(rows))
    problems: dict[str, Problem] = {}
    first_row: dict[str, int] = {}  # triplet digest -> the row it was first read from
    for number, row in enumerate(rows, start=1):
        try:
            problem = _problem(row, number, path.name)
            digest = triplet_digest(row)
            if digest in first_row:
                raise _Skipped(
                    "duplicate",
                    f"duplicate of row {first_row[digest]} (the same initial, utterance "
                    "and expected)",
                )
        except _Skipped as skipped:
            if strict and not skipped.other_format:
                raise DatasetImportError(f"{path}: row {number}: {skipped} (--strict)") from None
            report.rows_skipped[skipped.kind] += 1
            report.row_notes.append(f"row {number}: skipped: {skipped}")
            continue
        problems[problem.id] = problem
        first_row[digest] = number
    write_problems(list(problems.values()), Path(out_dir), overwrite)
    report.written = len(problems)
    report.out_dir = Path(out_dir)
    if problems:
        report.notes["no intent checks in the data: intent is 'not available'"] = len(problems)
    return report
