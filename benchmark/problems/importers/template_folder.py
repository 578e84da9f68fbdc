"""Import a folder of CloudFormation templates as a dataset (`import generic <folder>`).

Each template is a problem: the template is its reference, the request is its `Description`
(`--request-from description`, the default) or its leading comment block (`comments`: the
first run of `#` lines before its sections; a `---` marker, `AWSTemplateFormatVersion` and
`Description` may come first). Templates of the same stem in YAML and JSON (twins, as in
aws-cloudformation/iac-model-evaluation) are taken once, the YAML one (its comments and
short-form tags are what the JSON lost). Only the folder's own files are read, not subfolders.
A file that is not a CloudFormation template, or has no request, is skipped with a note.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from benchmark.problems.dataset import DatasetError, Problem, parse_problem, template_shape_error
from benchmark.problems.difficulty import template_metrics
from benchmark.problems.importers.output import (
    DatasetImportError,
    ImportReport,
    read_text,
    services_of,
    slug,
    write_problems,
)

RequestFrom = Literal["description", "comments"]
REQUEST_FROM: tuple[RequestFrom, ...] = ("description", "comments")
# suffixes of templates, the preferred twin first
SUFFIXES = (".yaml", ".yml", ".template", ".json")
TWINS_NOTE = "YAML/JSON twins taken once (the YAML file)"
HEADER_KEYS = ("AWSTemplateFormatVersion", "Description", '"AWSTemplateFormatVersion"')


class _Skipped(Exception):
    """A template that is not imported; the message says why in one line."""


def leading_comments(text: str) -> str:
    """The template's first run of `#` lines before its sections, joined. Passed over on the
    way: blank lines, a `---` marker or `%` directive, and the `AWSTemplateFormatVersion` and
    `Description` keys with their indented lines (a request may follow its Description)."""
    lines: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            lines.append(stripped.lstrip("#").strip())
            continue
        if lines:
            break  # the block has ended
        if not stripped or stripped == "---" or stripped.startswith("%") or line[0].isspace():
            continue  # before the block: blank, a marker, a key's indented continuation
        if not line.startswith(HEADER_KEYS):
            break  # a section (Parameters, Resources, ...): no leading comments
    return " ".join(" ".join(lines).split())


def _request(template: dict[str, Any], text: str, request_from: RequestFrom) -> str:
    if request_from == "comments":
        request = leading_comments(text)
        if not request:
            raise _Skipped("no leading comment block (try --request-from description)")
        return request
    description = template.get("Description")
    if not isinstance(description, str) or not description.strip():
        raise _Skipped("no Description (try --request-from comments)")
    return " ".join(description.split())


def _problem(path: Path, problem_id: str, request_from: RequestFrom) -> Problem:
    from cfnlint.decode.decode import decode_str  # heavy: imported only when importing

    text = read_text(path).replace("\r\n", "\n")
    template, errors = decode_str(text)
    why = " ".join(str(errors[0].message).split()) if errors else template_shape_error(template)
    if why:
        raise _Skipped(f"not a CloudFormation template: {why[:120]}")
    request = _request(template, text, request_from)
    data = {
        "id": problem_id,
        "title": " ".join(request.split()[:8]),
        "prompt": request,
        "services": services_of(template),
        "difficulty": template_metrics(text).difficulty,
        "source": f"{path.parent.name}/{path.name}",
        "reference_template": text,
    }
    try:
        return parse_problem(data, str(path))
    except DatasetError as exc:
        raise _Skipped(str(exc)) from exc


def template_files(folder: Path) -> tuple[list[Path], int]:
    """One file per stem (the YAML of a YAML/JSON pair), and how many twins were left out.
    Stems are compared as ids (`iot-thing-PrincipalAttachment.yaml` and
    `iot-thing-principalAttachment.json` are twins, as published)."""
    by_stem: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in SUFFIXES:
            by_stem.setdefault(slug(path.stem, limit=64), []).append(path)
    chosen = [
        min(paths, key=lambda p: SUFFIXES.index(p.suffix.lower())) for paths in by_stem.values()
    ]
    return chosen, sum(len(paths) - 1 for paths in by_stem.values())


def import_template_folder(
    folder: str | Path,
    out_dir: str | Path,
    request_from: RequestFrom = "description",
    id_prefix: str | None = None,
    overwrite: bool = False,
) -> ImportReport:
    root = Path(folder)
    files, twins = template_files(root)
    if not files:
        raise DatasetImportError(
            f"{root}: no templates ({', '.join('*' + s for s in SUFFIXES)}) in this folder"
        )
    report = ImportReport(rows_read=len(files) + twins, unit="templates")
    if twins:
        report.notes[TWINS_NOTE] = twins
    prefix = f"{slug(id_prefix, limit=24)}-" if id_prefix else ""
    problems: dict[str, Problem] = {}
    for path in files:
        problem_id = prefix + slug(path.stem, limit=64 - len(prefix))
        try:
            if problem_id in problems:
                raise _Skipped(f"duplicate id {problem_id!r}")
            problems[problem_id] = _problem(path, problem_id, request_from)
        except _Skipped as skipped:
            report.rows_skipped[str(skipped).split(":")[0]] += 1
            report.row_notes.append(f"{path.name}: skipped: {skipped}")
    write_problems(list(problems.values()), Path(out_dir), overwrite)
    report.written = len(problems)
    report.out_dir = Path(out_dir)
    return report
