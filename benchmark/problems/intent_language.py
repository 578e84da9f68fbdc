"""Intent checks: a small declarative language for "does this template do what was asked".

Each check is named (`id`), explained in one line (`description`) and has a `kind`:

- `resource_exists`: at least `at_least` resources whose type matches `type`.
- `property_exists` / `property_equals` / `property_contains` / `property_matches`: a JMESPath
  `path`, evaluated on each resource of `resource_type` (the resource mapping: `Type`,
  `Properties`, `DependsOn`, `UpdatePolicy`, ...), exists / equals `value` / contains `value` /
  has a string leaf matching the regex `pattern`. `quantifier: any` (default) needs one such
  resource, `all` needs every one (and at least one). Without `resource_type` the path is
  evaluated once on the whole template as written (before any transform is expanded).
- `references`: a resource of `from_type` refers to one of `to_type` by `Ref`, `Fn::GetAtt`,
  `Fn::Sub` or `DependsOn` (restrict with `via`; restrict where with a JMESPath `path`).
- `output_exists`: an output, optionally named to match `name_matches` (regex, any case) and
  optionally with a value referring to a resource of `value_references`.
- `any_of`: at least one of the nested `checks` passes.

Type patterns (`type`, `resource_type`, `from_type`, `to_type`, `value_references`) may use
`*` wildcards (`AWS::EC2::*`). Values compare after normalisation: `true`, `"true"` and
`"True"` are equal, as are `80` and `"80"`, since CloudFormation treats them alike.
Templates are parsed with cfn-lint's decoder; resource checks see the template after
`AWS::LanguageExtensions` (Fn::ForEach) is expanded, as CloudFormation would deploy it.
An unparseable template fails every check.
"""

from __future__ import annotations

import copy
import fnmatch
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import jmespath
from jmespath.exceptions import JMESPathError
from pydantic import BaseModel, ConfigDict, Field, field_validator

Via = Literal["Ref", "GetAtt", "Sub", "DependsOn"]
ALL_VIA: tuple[Via, ...] = ("Ref", "GetAtt", "Sub", "DependsOn")
LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"


# ---- the language ---------------------------------------------------------------------------


class _Check(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str

    @field_validator("description")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if not value.strip() or "\n" in value.strip():
            raise ValueError("must be one non-empty line")
        return value.strip()


class ResourceExists(_Check):
    kind: Literal["resource_exists"]
    type: str
    at_least: int = Field(default=1, ge=1)


class _PropertyCheck(_Check):
    resource_type: str | None = None
    path: str
    quantifier: Literal["any", "all"] = "any"

    @field_validator("path")
    @classmethod
    def _compiles(cls, value: str) -> str:
        _compile(value)
        return value


class PropertyExists(_PropertyCheck):
    kind: Literal["property_exists"]


class PropertyEquals(_PropertyCheck):
    kind: Literal["property_equals"]
    value: Any


class PropertyContains(_PropertyCheck):
    kind: Literal["property_contains"]
    value: Any


class PropertyMatches(_PropertyCheck):
    kind: Literal["property_matches"]
    pattern: str
    ignore_case: bool = False

    @field_validator("pattern")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from exc
        return value


class References(_Check):
    kind: Literal["references"]
    from_type: str
    to_type: str
    via: tuple[Via, ...] = ALL_VIA
    path: str | None = None

    @field_validator("path")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            _compile(value)
        return value


class OutputExists(_Check):
    kind: Literal["output_exists"]
    name_matches: str | None = None
    value_references: str | None = None


class AnyOf(_Check):
    kind: Literal["any_of"]
    checks: list[Check] = Field(min_length=2)


Check = Annotated[
    ResourceExists
    | PropertyExists
    | PropertyEquals
    | PropertyContains
    | PropertyMatches
    | References
    | OutputExists
    | AnyOf,
    Field(discriminator="kind"),
]
AnyOf.model_rebuild()

KINDS: tuple[str, ...] = (
    "resource_exists",
    "property_exists",
    "property_equals",
    "property_contains",
    "property_matches",
    "references",
    "output_exists",
    "any_of",
)


def _compile(path: str) -> Any:
    try:
        return jmespath.compile(path)
    except JMESPathError as exc:
        raise ValueError(f"not a JMESPath expression: {exc}") from exc


def walk_ids(checks: Sequence[Check]) -> Iterator[str]:
    """Every check id, nested ones included."""
    for check in checks:
        yield check.id
        if isinstance(check, AnyOf):
            yield from walk_ids(check.checks)


# ---- parsing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedTemplate:
    """A template as written and as deployed (LanguageExtensions expanded); None if unparseable."""

    written: dict[str, Any] | None
    expanded: dict[str, Any] | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def plain(node: Any) -> Any:
    """cfn-lint's node types (str/dict/list subclasses) as plain Python values."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


def parse_template(text: str) -> ParsedTemplate:
    # deferred: importing cfn-lint takes ~0.7 s (measured); only linting needs it
    from cfnlint.decode.decode import decode_str

    try:
        template, errors = decode_str(text)
    except Exception as exc:  # the decoder should not raise, but a crash must not end a run
        return ParsedTemplate(None, None, f"{type(exc).__name__}: {exc}")
    if errors:
        return ParsedTemplate(None, None, str(errors[0].message))
    if not isinstance(template, dict):
        return ParsedTemplate(None, None, "template is not a mapping")
    written = plain(template)
    return ParsedTemplate(written, _expand(template, written))


def _expand(template: Any, written: dict[str, Any]) -> dict[str, Any]:
    declared = written.get("Transform", [])
    declared = declared if isinstance(declared, list) else [declared]
    if LANGUAGE_EXTENSIONS not in declared:
        return written
    try:
        # deferred: importing cfn-lint takes ~0.7 s (measured); only linting needs it
        from cfnlint.template import Template
        from cfnlint.template.transforms import Transform

        cfn = Template("intent.yaml", copy.deepcopy(template), ["us-east-1"])
        if Transform().transform(cfn):
            return written
        return plain(cfn.template)
    except Exception:  # a template the transform cannot expand is judged as written
        return written


# ---- evaluation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    passed: bool
    resource: str | None = None  # the logical id that satisfied the check, if any


def evaluate(check: Check, parsed: ParsedTemplate) -> Outcome:
    if parsed.expanded is None or parsed.written is None:
        return Outcome(False)
    return _EVALUATORS[check.kind](check, parsed)


def evaluate_text(checks: Sequence[Check], text: str) -> tuple[ParsedTemplate, list[Outcome]]:
    parsed = parse_template(text)
    return parsed, [evaluate(check, parsed) for check in checks]


EMPTY_TEMPLATE = 'AWSTemplateFormatVersion: "2010-09-09"\nResources: {}\n'


def vacuous_failures(checks: Sequence[Check]) -> list[str]:
    """One line per check that passes on an empty template: it proves nothing."""
    _, outcomes = evaluate_text(checks, EMPTY_TEMPLATE)
    return [
        f"intent check '{check.id}': passes on an empty template (vacuous)"
        for check, outcome in zip(checks, outcomes, strict=True)
        if outcome.passed
    ]


def resources(template: dict[str, Any], pattern: str = "*") -> list[tuple[str, dict[str, Any]]]:
    section = template.get("Resources")
    if not isinstance(section, dict):
        return []
    return [
        (name, body)
        for name, body in section.items()
        if isinstance(body, dict)
        and isinstance(body.get("Type"), str)
        and fnmatch.fnmatchcase(body["Type"], pattern)
    ]


def _resource_exists(check: ResourceExists, parsed: ParsedTemplate) -> Outcome:
    found = resources(parsed.expanded or {}, check.type)
    return Outcome(len(found) >= check.at_least, found[0][0] if found else None)


def _property(check: _PropertyCheck, parsed: ParsedTemplate) -> Outcome:
    expression = _compile(check.path)
    if check.resource_type is None:
        return Outcome(_holds(check, _search(expression, parsed.written)))
    found = resources(parsed.expanded or {}, check.resource_type)
    results = [(name, _holds(check, _search(expression, body))) for name, body in found]
    passing = [name for name, ok in results if ok]
    if check.quantifier == "all":
        return Outcome(
            bool(results) and len(passing) == len(results), passing[0] if passing else None
        )
    return Outcome(bool(passing), passing[0] if passing else None)


def _search(expression: Any, data: Any) -> Any:
    try:
        return expression.search(data)
    except JMESPathError:
        return None


def _holds(check: _PropertyCheck, result: Any) -> bool:
    if result is None or result == [] or result == {} or result == "":
        return False  # absent, or present but empty
    if isinstance(check, PropertyEquals):
        return normalise(result) == normalise(check.value)
    if isinstance(check, PropertyContains):
        return contains(result, check.value)
    if isinstance(check, PropertyMatches):
        flags = re.IGNORECASE if check.ignore_case else 0
        return any(re.search(check.pattern, leaf, flags) for leaf in _leaves(result))
    return True  # PropertyExists


def normalise(value: Any) -> Any:
    """Scalars as CloudFormation sees them: booleans and numbers as their string forms."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else str(value)
    if isinstance(value, str):
        return value.lower() if value.lower() in ("true", "false") else value
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, dict):
        return {str(k): normalise(v) for k, v in value.items()}
    return value


def contains(result: Any, value: Any) -> bool:
    """Substring of a string, element of a (flattened) list, key or sub-mapping of a mapping."""
    if isinstance(result, str):
        return not isinstance(value, dict | list) and str(normalise(value)) in result
    if isinstance(result, list):
        return any(_element_matches(item, value) for item in _flatten(result))
    if isinstance(result, dict):
        return _submapping(value, result) if isinstance(value, dict) else value in result
    return normalise(result) == normalise(value)


def _element_matches(item: Any, value: Any) -> bool:
    if isinstance(item, dict) and isinstance(value, dict):
        return _submapping(value, item)
    return normalise(item) == normalise(value)


def _submapping(sub: dict[str, Any], sup: dict[str, Any]) -> bool:
    return all(
        key in sup
        and (
            _submapping(want, sup[key])
            if isinstance(want, dict) and isinstance(sup[key], dict)
            else normalise(sup[key]) == normalise(want)
        )
        for key, want in sub.items()
    )


def _flatten(items: list[Any]) -> Iterator[Any]:
    for item in items:
        if isinstance(item, list):
            yield from _flatten(item)
        else:
            yield item


def _leaves(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif value is not None:
        yield str(normalise(value))


_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


def referenced_ids(node: Any, via: Sequence[Via] = ALL_VIA) -> set[str]:
    """Logical ids that `node` names through Ref, Fn::GetAtt or Fn::Sub (nested anywhere)."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= referenced_ids(item, via)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and "Ref" in via and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt" and "GetAtt" in via:
                if isinstance(value, list) and value and isinstance(value[0], str):
                    found.add(value[0])
                elif isinstance(value, str):
                    found.add(value.split(".")[0])
            elif key == "Fn::Sub" and "Sub" in via:
                text = value[0] if isinstance(value, list) and value else value
                if isinstance(text, str):
                    found |= {m.split(".")[0] for m in _SUB_VARIABLE.findall(text)}
            found |= referenced_ids(value, via)
    return found


def _references(check: References, parsed: ParsedTemplate) -> Outcome:
    template = parsed.expanded or {}
    targets = {name for name, _ in resources(template, check.to_type)}
    for name, body in resources(template, check.from_type):
        scope = body if check.path is None else _search(_compile(check.path), body)
        named = referenced_ids(scope, check.via)
        if "DependsOn" in check.via and check.path is None:
            depends = body.get("DependsOn", [])
            named |= set(depends if isinstance(depends, list) else [depends])
        if (named - {name}) & targets:
            return Outcome(True, name)
    return Outcome(False)


def _output_exists(check: OutputExists, parsed: ParsedTemplate) -> Outcome:
    template = parsed.expanded or {}
    outputs = template.get("Outputs")
    if not isinstance(outputs, dict):
        return Outcome(False)
    wanted = (
        {name for name, _ in resources(template, check.value_references)}
        if check.value_references
        else None
    )
    for name, body in outputs.items():
        if check.name_matches and not re.search(check.name_matches, name, re.IGNORECASE):
            continue
        value = body.get("Value") if isinstance(body, dict) else None
        if value is None:
            continue
        if wanted is not None and not referenced_ids(value) & wanted:
            continue
        return Outcome(True)
    return Outcome(False)


def _any_of(check: AnyOf, parsed: ParsedTemplate) -> Outcome:
    for sub in check.checks:
        outcome = evaluate(sub, parsed)
        if outcome.passed:
            return outcome
    return Outcome(False)


_EVALUATORS: dict[str, Any] = {
    "resource_exists": _resource_exists,
    "property_exists": _property,
    "property_equals": _property,
    "property_contains": _property,
    "property_matches": _property,
    "references": _references,
    "output_exists": _output_exists,
    "any_of": _any_of,
}
