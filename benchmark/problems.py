"""Problems: one YAML file each under datasets/<name>/, loaded and validated into `Problem`s."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class DatasetError(ValueError):
    """A problem file that cannot be used; the message names the file and the field."""


class Problem(BaseModel):
    """One natural-language IaC task with the project's own reference solution."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    prompt: str
    services: list[str] = Field(default_factory=list)
    difficulty: int | None = Field(default=None, ge=1, le=5)
    reference_template: str
    intent_checks: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("prompt", "reference_template")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value


def load_problem(path: Path) -> Problem:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DatasetError(f"{path}: cannot read problem file: {exc}") from exc
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: a problem file must be a YAML mapping")
    try:
        return Problem.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise DatasetError(f"{path}: field '{field}': {first['msg']}") from exc


def load_dataset(
    directory: str | Path, only: list[str] | None = None, limit: int | None = None
) -> list[Problem]:
    """Problems under `directory` sorted by id; `only` picks ids, `limit` keeps the first n."""
    root = Path(directory)
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset folder not found")
    files = sorted(p for p in root.glob("*.yaml") if p.is_file())
    if not files:
        raise DatasetError(f"{root}: no problem files (*.yaml)")
    problems: dict[str, Problem] = {}
    origin: dict[str, Path] = {}
    for path in files:
        problem = load_problem(path)
        if problem.id in problems:
            raise DatasetError(
                f"{path}: field 'id': duplicate id '{problem.id}' (also in {origin[problem.id]})"
            )
        problems[problem.id] = problem
        origin[problem.id] = path
    if only:
        missing = sorted(set(only) - problems.keys())
        if missing:
            raise DatasetError(f"{root}: unknown problem ids {missing}")
        problems = {pid: problems[pid] for pid in only}
    ordered = [problems[pid] for pid in sorted(problems)]
    return ordered[:limit] if limit is not None else ordered
