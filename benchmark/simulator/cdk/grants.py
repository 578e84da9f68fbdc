"""Where a missing permission can go on a reference app, and which intent checks notice it.

Two shapes of site, each deleted whole:

- a statement `x.grant_*(...)` / `x.add_to_policy(...)` / `x.add_to_role_policy(...)` /
  `x.add_to_principal_policy(...)`;
- one element, on lines of its own, of a `managed_policies=[...]` or `statements=[...]` list
  of two or more (a managed policy, a policy statement).

A site is made only where the problem has an intent check that would fail without it: a check
on permissions (a policy document, inline policies, managed policy ARNs, or an IAM or policy
resource type) whose value or pattern names one of the site's strings (its actions, its
managed policy's name); a `grant_*` call names no action, so any permissions check counts.
Its `checks` are those checks' descriptions: the repair sees it only when one is fed back.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Sequence

from benchmark.problems.intent_language import AnyOf, Check
from benchmark.simulator.cdk.mutation import CdkMutation

GRANT = re.compile(r"^(grant\w*|add_to_policy|add_to_role_policy|add_to_principal_policy)$")
POLICY_LISTS = ("managed_policies", "statements")
# intent checks a missing permission may fail: on these paths, or on these resource types
GRANT_PATHS = ("PolicyDocument", "Policies", "Statement", "ManagedPolicyArns")
GRANT_TYPES = re.compile(r"AWS::IAM::|Policy$")


def policy_checks(checks: Sequence[Check]) -> list[Check]:
    """The intent checks about permissions (nested `any_of` included)."""
    out: list[Check] = []
    for check in checks:
        if isinstance(check, AnyOf):
            out += policy_checks(check.checks)
            continue
        fields = check.model_dump()
        path = str(fields.get("path") or "")
        types = [str(fields.get(k) or "") for k in ("type", "resource_type", "from_type")]
        if any(p in path for p in GRANT_PATHS) or any(GRANT_TYPES.search(t) for t in types):
            out.append(check)
    return out


def names_one_of(check: Check, strings: Sequence[str]) -> bool:
    """Whether the check's value or pattern names one of `strings`."""
    fields = check.model_dump()
    value, pattern = fields.get("value"), fields.get("pattern")
    if isinstance(value, str) and value in strings:
        return True
    if isinstance(pattern, str):
        flags = re.IGNORECASE if fields.get("ignore_case") else 0
        return any(re.search(pattern, s, flags) for s in strings)
    return False


def _strings(node: ast.AST) -> list[str]:
    return [
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]


def _statements(tree: ast.Module) -> Iterator[tuple[ast.AST, str]]:
    """Grant and add-to-policy statements (in a body of two or more), with the method."""
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list) or len(body) < 2:
            continue
        for stmt in body:
            if (
                isinstance(stmt, ast.Expr)
                and isinstance(stmt.value, ast.Call)
                and isinstance(stmt.value.func, ast.Attribute)
                and GRANT.match(stmt.value.func.attr)
            ):
                yield stmt, stmt.value.func.attr


def _elements(tree: ast.Module, lines: Sequence[str]) -> Iterator[ast.expr]:
    """Elements on lines of their own of `managed_policies=[...]` / `statements=[...]`."""
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.keyword)
            and node.arg in POLICY_LISTS
            and isinstance(node.value, ast.List)
            and len(node.value.elts) >= 2
        ):
            continue
        for elt in node.value.elts:
            first, last = lines[elt.lineno - 1], lines[(elt.end_lineno or elt.lineno) - 1]
            alone_before = not first[: elt.col_offset].strip()
            alone_after = last[elt.end_col_offset or 0 :].strip() in ("", ",")
            if alone_before and alone_after:
                yield elt


def missing_grants(
    tree: ast.Module, lines: Sequence[str], checks: Sequence[Check]
) -> list[CdkMutation]:
    """Every missing-permission site that an intent check of the problem would notice."""
    about = policy_checks(checks)
    if not about:
        return []
    candidates: list[tuple[ast.AST, str, list[str]]] = []
    for stmt, method in _statements(tree):
        strings = _strings(stmt) if not method.startswith("grant") else []
        candidates.append((stmt, method, strings))
    for elt in _elements(tree, lines):
        strings = _strings(elt)
        candidates.append((elt, strings[0] if strings else "element", strings))
    out = []
    for node, signature, strings in candidates:
        noticing = [c for c in about if not strings or names_one_of(c, strings)]
        if noticing:
            start, end = node.lineno - 1, node.end_lineno or node.lineno  # type: ignore[attr-defined]
            checks_ = tuple(c.description for c in noticing)
            out.append(CdkMutation("missing_grant", start, end, (), signature, checks_))
    return out
