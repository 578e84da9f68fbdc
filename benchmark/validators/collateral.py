"""The collateral-change validator: what an edit attempt changed that the request did not ask for.

An edit problem (`Problem.is_edit`) starts from an `initial_template`. This validator compares
the attempt with it (both parsed with cfn-lint's decoder, as the intent validator does): the
entries of `Resources`, `Outputs` and `Parameters` by name, what is inside a kept entry with
DeepDiff. It reports each collateral change as a `Finding` of source `collateral`, level `W`:

- `X1001` a resource of the initial template was removed (its logical id is gone);
- `X1002` a kept resource's `Type` changed;
- `X1003` a kept resource's property (or other attribute: `DependsOn`, `DeletionPolicy`, ...)
  was changed, removed or added; one finding per top-level property;
- `X1004` an output was removed or changed;
- `X1005` a parameter was removed, renamed (removed, and one with the same definition added) or
  changed;
- `X1006` a `must_keep` path is not exactly as it was where no rule above says how (outside the
  three sections, e.g. `Conditions` or `Description`).

A `must_keep` path wins over every exemption below: a change under it is always reported, by
the rule above that names it.

A change is not collateral when its path (or a path above it) matches a `may_change` glob
(matched segment by segment: `*` stays within one `/`-separated key), or when it is on a
resource whose type one of the problem's intent checks names (the change the request asked
for), or on an output an `output_exists` check names. Anything new (a resource, an output) is
never collateral. An unparseable attempt keeps nothing: it is compared as an empty template.

Like intent, these findings count for nothing in `errors`/`warnings`/`clean`; a prompt set feeds
them back by listing `collateral` in `feed_back_checks`. The attempt's columns:
`collateral_changes` (how many findings) and `expected_distance` (DeepDiff's deep distance,
0..1, between the attempt and `expected_template`; null without one).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from deepdiff import DeepDiff

from benchmark.problems.intent_language import (
    AnyOf,
    OutputExists,
    References,
    ResourceExists,
    parse_template,
)
from benchmark.validators.base import AttemptRef, Finding, ValidationResult

SOURCE = "collateral"
RULES = {
    "X1001": "resource removed",
    "X1002": "resource type changed",
    "X1003": "property of a kept resource changed, removed or added",
    "X1004": "output removed or changed",
    "X1005": "parameter removed, renamed or changed",
    "X1006": "a must_keep path changed (where no rule above says how)",
}
SECTIONS = ("Resources", "Outputs", "Parameters")  # what is judged; must_keep reaches any path
_MISSING = object()  # a path's value where the template does not have it

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Scope:
    """What an edit problem lets change, read from its fields."""

    must_keep: tuple[str, ...] = ()
    may_change: tuple[str, ...] = ()
    targeted_types: tuple[str, ...] = ()  # type patterns its intent checks name
    targeted_outputs: tuple[str, ...] = ()  # output-name regexes its intent checks name

    @classmethod
    def of(cls, problem: Any) -> Scope:
        checks = list(_flatten(getattr(problem, "intent_checks", None) or []))
        types = [t for check in checks for t in _named_types(check)]
        outputs = [
            check.name_matches
            for check in checks
            if isinstance(check, OutputExists) and check.name_matches
        ]
        return cls(
            tuple(problem.must_keep or ()),
            tuple(problem.may_change or ()),
            tuple(types),
            tuple(outputs),
        )

    def may(self, path: Path) -> bool:
        """`path`, or a path above it, matches a `may_change` glob."""
        keys = [str(p) for p in path]
        for glob in self.may_change:
            parts = glob.strip("/").split("/")
            if len(parts) <= len(keys) and all(
                fnmatch.fnmatchcase(key, part) for key, part in zip(keys, parts, strict=False)
            ):
                return True
        return False

    def targets_type(self, resource_type: Any) -> bool:
        return isinstance(resource_type, str) and any(
            fnmatch.fnmatchcase(resource_type, pattern) for pattern in self.targeted_types
        )

    def targets_output(self, name: str) -> bool:
        return any(re.search(pattern, name, re.IGNORECASE) for pattern in self.targeted_outputs)


def _flatten(checks: Iterable[Any]) -> Iterable[Any]:
    for check in checks:
        yield check
        if isinstance(check, AnyOf):
            yield from _flatten(check.checks)


def _named_types(check: Any) -> list[str]:
    if isinstance(check, ResourceExists):
        return [check.type]
    if isinstance(check, References):
        return [check.from_type, check.to_type]
    resource_type = getattr(check, "resource_type", None)  # the property checks
    return [resource_type] if isinstance(resource_type, str) else []


def _finding(rule_id: str, message: str, path: Path) -> Finding:
    return Finding(rule_id, "W", message, path, source=SOURCE)


def _at(template: Any, path: Sequence[str | int]) -> Any:
    node = template
    for key in path:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return node


def _keys(path: str) -> Path:
    return tuple(int(p) if p.isdigit() else p for p in path.strip("/").split("/"))


def _shown(path: Sequence[str | int]) -> str:
    return "/".join(str(p) for p in path)


def _section(template: dict[str, Any], name: str) -> dict[str, Any]:
    section = template.get(name)
    return section if isinstance(section, dict) else {}


def _changes(initial: dict[str, Any], attempt: dict[str, Any]) -> list[tuple[str, Path]]:
    """Every difference in the judged sections, as (kind, path), kind added, removed or
    changed: entries (logical ids, output and parameter names) by name, and what changed in an
    entry both have as DeepDiff finds it (DeepDiff alone would call a section whose names all
    changed one changed value)."""
    out: list[tuple[str, Path]] = []
    for name in SECTIONS:
        before, after = _section(initial, name), _section(attempt, name)
        out += [("removed", (name, key)) for key in before if key not in after]
        out += [("added", (name, key)) for key in after if key not in before]
        for key in (key for key in before if key in after):
            diff = DeepDiff(before[key], after[key], view="tree", verbose_level=0)
            for report, items in diff.items():
                kind = next((k for k in ("added", "removed") if k in report), "changed")
                out += [(kind, (name, key, *i.path(output_format="list"))) for i in items]
    return out


def collateral_findings(
    initial: dict[str, Any], attempt: dict[str, Any], scope: Scope
) -> list[Finding]:
    """The collateral changes from `initial` to `attempt` (plain decoded templates).

    A change under a `must_keep` path is judged with no exemption (no `may_change`, no intent
    check lets it through) and named by its own rule; X1006 reports a `must_keep` path that
    changed where no rule above says how (outside the judged sections, say)."""
    kept = [_keys(path) for path in scope.must_keep]
    strict = Scope()  # what a must_keep path is judged by: nothing may change it
    findings: list[Finding] = []
    seen: set[Path] = set()
    named: set[Path] = set()  # must_keep paths a rule's finding already reports
    for kind, path in _changes(initial, attempt):
        under = [k for k in kept if path[: len(k)] == k or k[: len(path)] == path]
        finding = _judge(kind, path, initial, attempt, strict if under else scope)
        if finding is None:
            continue
        named.update(under)
        if finding.path not in seen:
            seen.add(finding.path)
            findings.append(finding)
    findings += [
        _finding("X1006", f"'{path}' must stay as it was; it changed", _keys(path))
        for path in scope.must_keep
        if _keys(path) not in named and _at(initial, _keys(path)) != _at(attempt, _keys(path))
    ]
    return findings


def _judge(
    kind: str, path: Path, initial: dict[str, Any], attempt: dict[str, Any], scope: Scope
) -> Finding | None:
    """One change's finding, or None when it is allowed (or new)."""
    if len(path) < 2 or path[0] not in ("Resources", "Outputs", "Parameters") or scope.may(path):
        return None
    section, name = path[0], str(path[1])
    if section == "Outputs":
        if (len(path) == 2 and kind == "added") or scope.targets_output(name):
            return None
        what = "removed" if len(path) == 2 and kind == "removed" else "changed"
        return _finding("X1004", f"output '{name}' was {what}", path[:2])
    if section == "Parameters":
        if len(path) == 2 and kind == "added":
            return None
        return _parameter(path[:2], kind if len(path) == 2 else "changed", initial, attempt)
    before = _at(initial, path[:2])
    resource_type = before.get("Type") if isinstance(before, dict) else None
    if (len(path) == 2 and kind == "added") or scope.targets_type(resource_type):
        return None
    after = _at(attempt, path[:2])
    if after is _MISSING:
        message = f"resource '{name}' ({resource_type}) was removed"
        return _finding("X1001", message, path[:2])
    new_type = after.get("Type") if isinstance(after, dict) else None
    if new_type != resource_type:
        message = f"resource '{name}' changed type from {resource_type} to {new_type}"
        return _finding("X1002", message, (*path[:2], "Type"))
    where = path[:4] if len(path) >= 4 and path[2] == "Properties" else path[:3]
    what = kind if where == path else "changed"  # a whole property added or removed, or in it
    message = f"'{_shown(where)}' of resource '{name}' was {what}"
    return _finding("X1003", message, where)


def _parameter(path: Path, kind: str, initial: dict[str, Any], attempt: dict[str, Any]) -> Finding:
    name = str(path[1])
    if kind != "removed":
        return _finding("X1005", f"parameter '{name}' was changed", path)
    body = _at(initial, path)
    before = initial.get("Parameters") or {}
    renamed = [
        other
        for other, value in (attempt.get("Parameters") or {}).items()
        if other not in before and value == body
    ]
    message = (
        f"parameter '{name}' was renamed to '{renamed[0]}'"
        if renamed
        else f"parameter '{name}' was removed"
    )
    return _finding("X1005", message, path)


def expected_distance(expected: dict[str, Any], attempt: dict[str, Any]) -> float:
    """DeepDiff's deep distance between two templates: 0 the same, towards 1 the more apart."""
    diff = DeepDiff(expected, attempt, get_deep_distance=True, verbose_level=0)
    return float(diff.get("deep_distance", 0.0))


def requested_changes(initial: str, expected: str) -> list[str]:
    """The paths `expected` changes in `initial` (both template texts), in `may_change` form:
    what an importer can write for a problem whose only statement of the change is its
    expected template (no intent checks), so that making that change is not collateral."""
    return [
        _shown(f.path) for f in collateral_findings(_written(initial), _written(expected), Scope())
    ]


def _written(text: str) -> dict[str, Any]:
    """A template as written, plain values; an unparseable one as empty: nothing kept."""
    return parse_template(text).written or {}


class CollateralValidator:
    """Judges an edit problem's attempts against its initial template; the suite runs it for
    edit problems only (`applies`)."""

    name = SOURCE
    gating = False

    def applies(self, problem: Any) -> bool:
        return bool(getattr(problem, "is_edit", False))

    async def validate(
        self, template: str, problem: Any, attempt: AttemptRef | None = None
    ) -> ValidationResult:
        if not self.applies(problem):
            return ValidationResult()
        try:
            initial = parse_template(problem.initial_template)
            if initial.written is None:
                return ValidationResult(failure=f"initial template: {initial.error}")
            written = _written(template)
            findings = collateral_findings(initial.written, written, Scope.of(problem))
            expected = problem.expected_template
            distance = (
                expected_distance(_written(expected), written) if expected is not None else None
            )
        except Exception as exc:  # a bug here is reported as the validator failing, not raised
            return ValidationResult(failure=f"collateral check failed: {type(exc).__name__}: {exc}")
        columns = {"collateral_changes": len(findings), "expected_distance": distance}
        return ValidationResult(findings=findings, columns=columns)

    def close(self) -> None:
        """Nothing to release."""
