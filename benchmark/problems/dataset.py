"""Problems: one YAML file each under datasets/<name>/, loaded and validated into `Problem`s.

The file schema is documented in datasets/README.md.
"""

from __future__ import annotations

import hashlib
import json
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from benchmark.problems.difficulty import template_metrics
from benchmark.problems.intent_language import KINDS, Check, plain, walk_ids


class DatasetError(ValueError):
    """A problem file that cannot be used; the message names the file and the field."""


class NearMiss(BaseModel):
    """A plausible wrong answer, written as edits of the reference template; some check fails.

    Paths are `/`-separated keys into the template as written (`Resources/Bucket/Properties`);
    a segment that is a number indexes a list.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    why: str
    delete: list[str] = Field(default_factory=list)
    replace: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _edits_something(self) -> NearMiss:
        if not self.delete and not self.replace:
            raise ValueError("a near miss needs at least one path under 'delete' or 'replace'")
        return self


EditKind = Literal[
    "add-resource",
    "change-property",
    "add-encryption",
    "wire-resources",
    "remove-resource",
    "rename-parameter",
    "other",
]
# keys only an edit problem carries: left out of `sha256` while unset, so that adding them kept
# every other problem's digest (and so its recorded rows' identity) as it was
EDIT_FIELDS = ("initial_template", "expected_template", "must_keep", "may_change", "edit_kind")
# STAND-IN (issue 23, simulator helper): the wiring helper owns the language axis; these two
# fields only let the simulator's CDK apps load until it lands (the lead keeps wiring's version)
LANGUAGE_FIELDS = {"language": "cloudformation", "reference_app": None}


class Problem(BaseModel):
    """One natural-language IaC task, with a reference solution and intent checks.

    An edit problem carries an `initial_template`: the `prompt` is then a change request to it,
    `expected_template` the template after the change (the reference when none is given),
    `must_keep` the paths that must survive unchanged and `may_change` globs of the paths the
    request may change (benchmark/validators/collateral.py judges the rest).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    prompt: str
    services: list[str] = Field(default_factory=list)
    difficulty: int | None = Field(default=None, ge=1, le=5)
    source: str | None = None  # provenance: "project", "dpiaceval row 7", ...
    reference_template: str | None = None
    # A prompt-only problem has no reference template; this says why (e.g. the published ground
    # truth does not parse). The simulator and the dataset check skip it; real models run it.
    no_reference: str | None = None
    intent_checks: list[Check] = Field(default_factory=list)
    near_misses: list[NearMiss] = Field(default_factory=list)
    # edit problems (see the class docstring); paths are `/`-separated: Resources/Bucket/Type
    initial_template: str | None = None
    expected_template: str | None = None
    must_keep: list[str] = Field(default_factory=list)
    may_change: list[str] = Field(default_factory=list)  # fnmatch globs on the same paths
    edit_kind: EditKind | None = None
    language: Literal["cloudformation", "cdk-python"] = "cloudformation"  # stand-in (above)
    reference_app: str | None = None  # stand-in (above)

    @property
    def is_edit(self) -> bool:
        """A change request on an existing template rather than a template from nothing."""
        return self.initial_template is not None

    @cached_property
    def sha256(self) -> str:
        """Digest of the problem's content (every field: request, reference template, intent
        checks, edit fields, ...; not the file's comments or layout): part of a job's identity."""
        data = self.model_dump(mode="json")
        for name in EDIT_FIELDS:
            if data[name] in (None, []):
                del data[name]
        for name, default in LANGUAGE_FIELDS.items():
            if data[name] == default:
                del data[name]
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    @model_validator(mode="before")
    @classmethod
    def _expected_is_reference(cls, data: Any) -> Any:
        """An edit problem's expected template is its reference unless it names another."""
        if (
            isinstance(data, dict)
            and data.get("initial_template") is not None
            and data.get("expected_template") is not None
            and data.get("reference_template") is None
        ):
            return {**data, "reference_template": data["expected_template"]}
        return data

    @field_validator(
        "prompt", "reference_template", "no_reference", "initial_template", "expected_template"
    )
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("no_reference")
    @classmethod
    def _only_without_reference(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("reference_template") is not None:
            raise ValueError("only a problem without a reference_template is prompt-only")
        return value

    @model_validator(mode="after")
    def _unique_check_ids(self) -> Problem:
        seen: set[str] = set()
        for check_id in walk_ids(self.intent_checks):
            if check_id in seen:
                raise ValueError(f"duplicate intent check id '{check_id}'")
            seen.add(check_id)
        return self

    @model_validator(mode="after")
    def _edit_fields_need_initial(self) -> Problem:
        if self.initial_template is None:
            for name in EDIT_FIELDS[1:]:
                if getattr(self, name) not in (None, []):
                    raise ValueError(f"'{name}' needs an 'initial_template' (an edit problem)")
        return self


def _field_name(loc: tuple[Any, ...], data: dict[str, Any]) -> str:
    """A pydantic error location as a field name; intent checks are named by index and id."""
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int):
            parts[-1] = f"{parts[-1]}[{item}]" if parts else f"[{item}]"
            node = node[item] if isinstance(node, list) and item < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("id"), str):
                parts[-1] += f" (id '{node['id']}')"
            continue
        if isinstance(node, dict) and item in node:
            parts.append(str(item))
            node = node[item]
        elif isinstance(node, dict) and item == node.get("kind"):
            continue  # the discriminator's tag in the location: already shown by the id
        else:
            parts.append(str(item))
            node = None
    return ".".join(parts) or "(root)"


def parse_problem(data: Any, where: str) -> Problem:
    """Validate one problem mapping, its reference a CloudFormation template (importers use
    it too, so what they write loads); errors name `where` and the field."""
    if not isinstance(data, dict):
        raise DatasetError(f"{where}: a problem file must be a YAML mapping")
    try:
        problem = Problem.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = _field_name(tuple(first["loc"]), data)
        message = " ".join(str(first["msg"]).split())
        if first["type"] == "union_tag_invalid":
            field += ".kind"
            message = f"unknown check kind {first['input'].get('kind')!r}; expected one of {KINDS}"
        elif first["type"] == "union_tag_not_found":
            field += ".kind"
            message = f"missing; expected one of {KINDS}"
        elif "duplicate intent check id" in message:
            field = "intent_checks"
        raise DatasetError(f"{where}: field '{field}': {message}") from exc
    verify_reference(problem, where)
    return problem


FOR_EACH = "Fn::ForEach::"  # a LanguageExtensions loop: [identifier, collection, {resources}]


def template_shape_error(template: Any) -> str | None:
    """Why a decoded template is not a CloudFormation template, or None: it needs a non-empty
    `Resources` mapping whose every entry is a mapping with a `Type` string (an
    `Fn::ForEach::` loop's fragment is held to the same rule)."""
    if not isinstance(template, dict):
        return "not a mapping"
    resources = template.get("Resources")
    if resources == {}:
        return "'Resources' is empty"
    if not isinstance(resources, dict):
        keys = ", ".join(str(k) for k in list(template)[:6]) or "none"
        return f"no 'Resources' mapping of typed resources (top-level keys: {keys})"
    return _resources_error(resources)


def _resources_error(resources: dict[Any, Any]) -> str | None:
    for name, resource in resources.items():
        if str(name).startswith(FOR_EACH):
            if not (isinstance(resource, list) and len(resource) == 3):
                return f"loop '{name}' is not [identifier, collection, resources]"
            fragment = resource[2]
            error = _resources_error(fragment) if isinstance(fragment, dict) else "no mapping"
            if error:
                return f"loop '{name}': {error}"
        elif not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            return f"resource '{name}' has no 'Type' string"
    return None


def verify_reference(problem: Problem, where: str) -> None:
    """A reference template (and an edit problem's initial and expected ones) must parse (YAML
    with intrinsic tags, or JSON) to a CloudFormation template; anything else (a Kubernetes
    manifest, say) is refused here, at load, in one line, rather than failing a job's calls
    later. Every `must_keep` path must be in the initial template."""
    if problem.reference_template is not None:  # None: prompt-only, nothing to check
        decoded_template(problem.reference_template, "reference_template", where)
    if problem.expected_template not in (None, problem.reference_template):
        decoded_template(problem.expected_template, "expected_template", where)
    if problem.initial_template is None:
        return
    initial = plain(decoded_template(problem.initial_template, "initial_template", where))
    for index, path in enumerate(problem.must_keep):
        if not path_exists(initial, path):
            raise DatasetError(
                f"{where}: field 'must_keep[{index}]': path '{path}' is not in the initial template"
            )


def decoded_template(text: str, field: str, where: str) -> Any:
    """`text` decoded by cfn-lint, or a one-line DatasetError naming `field`."""
    from cfnlint.decode.decode import decode_str  # heavy: imported only when there is one

    template, errors = decode_str(text)
    if errors:
        detail = " ".join(str(errors[0].message).split())
        raise DatasetError(f"{where}: field '{field}': does not parse: {detail}")
    why = template_shape_error(template)
    if why:
        raise DatasetError(f"{where}: field '{field}': not a CloudFormation template: {why}")
    return template


def path_segments(path: str) -> list[str | int]:
    """`Resources/Bucket/Properties/Tags/0` as keys; a number indexes a list."""
    return [int(p) if p.isdigit() else p for p in path.strip("/").split("/")]


def path_exists(template: Any, path: str) -> bool:
    node = template
    for segment in path_segments(path):
        try:
            node = node[segment]
        except (KeyError, IndexError, TypeError):
            return False
    return True


def verify_difficulty(problem: Problem, where: str) -> None:
    """The stored difficulty must be the one computed from the reference template."""

    if problem.reference_template is None or problem.difficulty is None:
        return
    try:
        metrics = template_metrics(problem.reference_template)
    except ValueError as exc:
        raise DatasetError(f"{where}: field 'reference_template': {exc}") from exc
    if metrics.difficulty != problem.difficulty:
        raise DatasetError(
            f"{where}: field 'difficulty': is {problem.difficulty} but the reference template "
            f"computes to {metrics.difficulty} ({metrics.lines} lines, {metrics.resources} "
            f"resources, {metrics.parameters} parameters)"
        )


def load_problem(path: Path) -> Problem:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        detail = " ".join(str(exc).split())
        raise DatasetError(f"{path}: cannot read problem file: {detail}") from exc
    return _parsed(text, str(path))


@lru_cache(maxsize=4096)
def _parsed(text: str, where: str) -> Problem:
    """A problem file's text, parsed and checked; cached by content, as a job loads its problems
    more than once (its config hash digests them)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise DatasetError(f"{where}: cannot read problem file: {detail}") from exc
    problem = parse_problem(data, where)
    verify_difficulty(problem, where)
    return problem


def load_dataset(
    directory: str | Path, only: list[str] | None = None, limit: int | None = None
) -> list[Problem]:
    """Problems under `directory` sorted by id; `only` picks ids, `limit` keeps the first n."""
    return [problem for problem, _ in load_dataset_files(directory, only, limit)]


def load_dataset_files(
    directory: str | Path, only: list[str] | None = None, limit: int | None = None
) -> list[tuple[Problem, Path]]:
    """Like `load_dataset`, with the file each problem came from."""
    root = Path(directory)
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset folder not found")
    files = sorted(p for p in root.glob("*.yaml") if p.is_file())
    if not files:
        raise DatasetError(f"{root}: no problem files (*.yaml)")
    problems: dict[str, tuple[Problem, Path]] = {}
    for path in files:
        problem = load_problem(path)
        if problem.id in problems:
            raise DatasetError(
                f"{path}: field 'id': duplicate id '{problem.id}' "
                f"(also in {problems[problem.id][1]})"
            )
        problems[problem.id] = (problem, path)
    if only:
        missing = sorted(set(only) - problems.keys())
        if missing:
            raise DatasetError(f"{root}: unknown problem ids {missing}")
        problems = {pid: problems[pid] for pid in only}
    ordered = [problems[pid] for pid in sorted(problems)]
    return ordered[:limit] if limit is not None else ordered
