"""What importers share: the import report, reading tables, resolving paths, writing problems."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from typing import Any

import yaml

from benchmark.problems.dataset import Problem, load_dataset

MAX_CELL = 16 * 1024 * 1024  # characters in one CSV cell


class DatasetImportError(ValueError):
    """An import that cannot proceed (missing file or column); the message says which."""


@dataclass
class ImportReport:
    """Counts an import prints: what was read, written, translated and skipped, and why."""

    rows_read: int = 0
    written: int = 0
    out_dir: Path | None = None
    rows_skipped: Counter[str] = field(default_factory=Counter)
    checks_translated: int = 0
    checks_from_resources: int = 0
    policies_read: int = 0
    conditions_skipped: Counter[str] = field(default_factory=Counter)
    checks_dropped: Counter[str] = field(default_factory=Counter)
    checks_unverified: int = 0  # translated checks of prompt-only problems: nothing to try them on
    prompt_only: Counter[str] = field(default_factory=Counter)  # no reference template, by why
    notes: Counter[str] = field(default_factory=Counter)
    row_notes: list[str] = field(default_factory=list)  # one line per skipped row or file
    unit: str = "rows"  # what was read: rows of a table, or templates of a folder

    def lines(self) -> list[str]:
        def why(counter: Counter[str]) -> str:
            return ", ".join(f"{reason}: {n}" for reason, n in counter.most_common())

        out = [
            f"{self.unit} read: {self.rows_read}",
            f"problems written: {self.written} -> {self.out_dir}",
        ]
        if self.prompt_only:
            out.append(
                f"prompt-only problems (no reference template, no difficulty): "
                f"{self.prompt_only.total()}" + _paren(why(self.prompt_only))
            )
        skipped = self.rows_skipped
        out.append(f"{self.unit} skipped: {skipped.total()}" + _paren(why(skipped)))
        if self.policies_read or self.checks_from_resources:
            out.append(
                f"intent checks written: {self.checks_translated + self.checks_from_resources} "
                f"({self.checks_translated} translated from {self.policies_read} Checkov "
                f"policies, {self.checks_from_resources} from needed_resources)"
            )
            out.append(
                f"Checkov conditions not translated: {self.conditions_skipped.total()}"
                + _paren(why(self.conditions_skipped))
            )
            out.append(
                f"translated checks dropped: {self.checks_dropped.total()}"
                + _paren(why(self.checks_dropped))
            )
            if self.checks_unverified:
                out.append(
                    f"translated checks kept unverified (prompt-only problems: no reference to "
                    f"try them on): {self.checks_unverified}"
                )
        elif self.checks_translated:
            out.append(f"intent checks read: {self.checks_translated}")
        out.extend(f"note: {note}: {n}" for note, n in self.notes.most_common())
        out.extend(f"  {line}" for line in self.row_notes)
        return out


def _paren(text: str) -> str:
    return f" ({text})" if text else ""


def slug(text: str, limit: int = 48) -> str:
    """Lower-case, dash-separated, problem-id-safe."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", text)
    return re.sub(r"[^a-z0-9]+", "-", spaced.lower()).strip("-")[:limit].strip("-") or "x"


def read_text(path: Path) -> str:
    """UTF-8 (with or without BOM), else Windows-1252, else Latin-1: published files vary."""
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def read_rows(path: Path, required: tuple[str, ...]) -> list[dict[str, Any]]:
    """Rows of a CSV or JSONL file; a missing file or required column is one clear error."""
    if not path.is_file():
        raise DatasetImportError(f"{path}: file not found")
    text = read_text(path)
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetImportError(f"{path}: line {number}: not JSON: {exc}") from exc
            if not isinstance(record, dict):
                raise DatasetImportError(f"{path}: line {number}: not a JSON object")
            rows.append(record)
        columns = {key for row in rows for key in row}
    else:
        # newline="": a quoted cell keeps its line breaks (a template spans many lines); a
        # template may pass csv's default cell limit of 128 KiB
        csv.field_size_limit(max(csv.field_size_limit(), MAX_CELL))
        reader = csv.DictReader(io.StringIO(text, newline=""))
        try:
            columns = set(reader.fieldnames or [])
            rows = list(reader)
        except csv.Error as exc:
            raise DatasetImportError(f"{path}: line {reader.line_num}: not CSV: {exc}") from exc
    missing = [name for name in required if name not in columns]
    if missing:
        raise DatasetImportError(
            f"{path}: missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(m) for m in missing)} (found: {', '.join(sorted(columns)) or 'none'})"
        )
    return rows


def resolve(reference: str, bases: list[Path]) -> Path | None:
    """A relative path written with either slash, found under one of `bases`.

    Leading folders are dropped one at a time, so `Data\\x\\y.yaml` is found from the repository
    root or from inside `Data/`.
    """
    parts = PureWindowsPath(reference.strip()).parts
    if not parts:
        return None
    if Path(reference.strip()).is_absolute() and Path(reference.strip()).is_file():
        return Path(reference.strip())
    for base in bases:
        for start in range(len(parts)):
            candidate = base.joinpath(*parts[start:])
            if candidate.is_file():
                return candidate
    return None


def services_of(template: dict[str, Any]) -> list[str]:
    """Service names of a template's resources: AWS::EC2::VPC -> EC2."""
    resources = template.get("Resources")
    bodies = resources.values() if isinstance(resources, dict) else []
    return services_of_types(body.get("Type") for body in bodies if isinstance(body, dict))


def services_of_types(types: Iterable[Any]) -> list[str]:
    """Service names of resource types: AWS::EC2::VPC -> EC2 (others ignored)."""
    return sorted(
        {
            kind.split("::")[1]
            for kind in types
            if isinstance(kind, str) and kind.startswith("AWS::") and kind.count("::") == 2
        }
    )


class _LiteralDumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_LiteralDumper.add_representer(str, _str)


def problem_yaml(problem: Problem) -> str:
    data = problem.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    edit = "initial_template" in data and data.get("expected_template") is not None
    if edit and data.get("reference_template") == data["expected_template"]:
        del data["reference_template"]  # an edit problem's reference: written once
    return yaml.dump(data, Dumper=_LiteralDumper, sort_keys=False, allow_unicode=True, width=100)


def write_problems(problems: list[Problem], out_dir: Path, overwrite: bool) -> None:
    """One YAML file per problem; the folder is then loaded back to prove the files are valid."""
    existing = sorted(out_dir.glob("*.yaml")) if out_dir.is_dir() else []
    if existing and not overwrite:
        raise DatasetImportError(
            f"{out_dir}: already holds problem files; pass --overwrite to replace"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in existing:
        path.unlink()
    for problem in problems:
        (out_dir / f"{problem.id}.yaml").write_text(problem_yaml(problem), encoding="utf-8")
    if problems:
        load_dataset(out_dir)
