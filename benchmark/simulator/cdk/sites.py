"""Where each kind of CDK mistake can go on a reference app, found with `ast`.

A site is one `CdkMutation`: a replacement of a span of the reference's lines, made so that it
fails at one stage when the app is synthesized (tests/test_simulator_cdk.py proves each kind
on real synths). A kind whose site does not exist in an app is never drawn there.

| kind | edit | fails as |
| --- | --- | --- |
| `syntax_slip` | drops the comma between two keywords on separate lines | S1001 |
| `misspelt_keyword` | misspells a keyword of a call on the CDK library | S1002 TypeError |
| `wrong_enum` | a CDK class constant that does not exist (`PYTHON_3_99`) | S1002 AttributeError |
| `invalid_name` | a `bucket_name` / `function_name` made invalid (or added) | C1001 |
| `escape_hatch` | `add_property_override` of a property no resource has | E3002 |
| `missing_grant` | deletes a grant, a policy statement or a managed policy (grants.py) | intent |

Each site's variant (which misspelling, which wrong name) is fixed by the site itself, so a
rendered app decodes back to its mistakes (edits.py).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping, Sequence

from benchmark.problems.intent_language import Check
from benchmark.simulator.cdk.grants import missing_grants
from benchmark.simulator.cdk.mutation import CdkMutation

# construct class -> (the name keyword CDK validates at synth, an invalid value of it)
VALIDATED_NAMES = {
    "aws_cdk.aws_s3.Bucket": ("bucket_name", "Data_Bucket"),
    "aws_cdk.aws_lambda.Function": ("function_name", "process orders"),
}
# constructs whose default child may not be a CloudFormation resource: no escape hatch on them
# (helpers of many resources; classes measured on paper33-cdk whose default child is None)
NO_ESCAPE_HATCH = ("_patterns.", "aws_s3_deployment.", "custom_resources.", "triggers.")
NO_ESCAPE_HATCH += ("aws_ec2.VpcEndpointService", "aws_rds.ParameterGroup")
# realistic wrong constants (a CloudFormation spelling, a runtime that does not exist)
WRONG_CONSTANTS = {
    "DESTROY": "DELETE",
    "RETAIN": "KEEP",
    "S3_MANAGED": "SSE_S3",
    "KMS_MANAGED": "SSE_KMS",
    "PAY_PER_REQUEST": "ON_DEMAND",
    "ONE_WEEK": "SEVEN_DAYS",
    "ONE_MONTH": "THIRTY_DAYS",
    "BLOCK_ALL": "BLOCK_ALL_PUBLIC_ACCESS",
}
RUNTIME = re.compile(r"^(PYTHON_3|NODEJS|JAVA|DOTNET)_")
CONSTANT = re.compile(r"^[A-Z][A-Z0-9_]*$")
# property names no CloudFormation resource type has (checked against cfn-lint's schemas in
# tests/test_simulator_cdk.py), as a model might write them from the construct's keywords
NOT_PROPERTIES = ("Versioned", "AutoDelete", "RetainOnDelete", "LogRetention", "EnableLogging")


def cdk_names(tree: ast.Module) -> dict[str, str]:
    """Names bound to the CDK library, each to what it names: `import aws_cdk as cdk` (cdk ->
    aws_cdk), `from aws_cdk import aws_s3 as s3` (s3 -> aws_cdk.aws_s3), `from aws_cdk.aws_s3
    import Bucket` (Bucket -> aws_cdk.aws_s3.Bucket)."""
    out: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "aws_cdk":
                    out[a.asname or a.name.split(".")[0]] = a.name if a.asname else "aws_cdk"
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "aws_cdk":
            out |= {a.asname or a.name: f"{node.module}.{a.name}" for a in node.names}
    return out


def qualified(func: ast.expr, names: Mapping[str, str]) -> str | None:
    """`s3.Bucket` -> `aws_cdk.aws_s3.Bucket`; None if it is not a name on the CDK library."""
    parts: list[str] = []
    while isinstance(func, ast.Attribute):
        parts.insert(0, func.attr)
        func = func.value
    if not isinstance(func, ast.Name) or func.id not in names:
        return None
    return ".".join([names[func.id], *parts])


def _root(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _class_name(func: ast.expr) -> str | None:
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)


def _replace(lines: Sequence[str], row: int, start: int, end: int, text: str) -> tuple[str, ...]:
    line = lines[row]
    return (line[:start] + text + line[end:],)


def misspelt(name: str) -> str:
    """`removal_policy` -> `removalPolicy`; `versioned` -> `verisoned` (two letters swapped)."""
    if "_" in name.strip("_"):
        head, *rest = name.split("_")
        return head + "".join(p[:1].upper() + p[1:] for p in rest)
    i = max(1, len(name) // 2)
    return name[: i - 1] + name[i] + name[i - 1] + name[i + 1 :] if len(name) > 2 else name + "s"


def wrong_constant(name: str) -> str:
    if name in WRONG_CONSTANTS:
        return WRONG_CONSTANTS[name]
    if RUNTIME.match(name):
        return RUNTIME.match(name).group(1) + "_99"  # type: ignore[union-attr]
    return name.replace("_", "") if "_" in name else name + "_DEFAULT"


def _calls(tree: ast.Module, names: Mapping[str, str]) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _root(node.func) in names:
            yield node


def _constructs(tree: ast.Module, names: Mapping[str, str]) -> Iterator[ast.Call]:
    """Construct calls: `lib.Class(self, "Id", ...)` (not `lib.Class.from_x(self, "Id", ...)`,
    which looks an existing resource up)."""
    for call in _calls(tree, names):
        args = call.args
        if (
            (_class_name(call.func) or "")[:1].isupper()
            and len(args) >= 2
            and isinstance(args[0], ast.Name)
            and args[0].id == "self"
            and isinstance(args[1], ast.Constant)
            and isinstance(args[1].value, str)
        ):
            yield call


def syntax_slips(
    tree: ast.Module, lines: Sequence[str], names: Mapping[str, str]
) -> list[CdkMutation]:
    out = []
    for call in _calls(tree, names):
        for kw, after in zip(call.keywords, call.keywords[1:], strict=False):
            row, col = (kw.end_lineno or 0) - 1, kw.end_col_offset or 0
            named = kw.arg is not None and after.arg is not None  # `a=1 **b` would parse
            if named and row + 1 < after.lineno and lines[row][col : col + 1] == ",":
                edit = _replace(lines, row, col, col + 1, "")
                out.append(CdkMutation("syntax_slip", row, row + 1, edit))
    return out


def misspelt_keywords(
    tree: ast.Module, lines: Sequence[str], names: Mapping[str, str]
) -> list[CdkMutation]:
    out = []
    for call in _calls(tree, names):
        for kw in call.keywords:
            if kw.arg is None or misspelt(kw.arg) == kw.arg:
                continue
            row, col, wrong = kw.lineno - 1, kw.col_offset, misspelt(kw.arg)
            if lines[row][col : col + len(kw.arg)] == kw.arg:
                edit = _replace(lines, row, col, col + len(kw.arg), wrong)
                out.append(CdkMutation("misspelt_keyword", row, row + 1, edit, wrong))
    return out


def wrong_enums(
    tree: ast.Module, lines: Sequence[str], names: Mapping[str, str]
) -> list[CdkMutation]:
    out = []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Attribute)
            and CONSTANT.match(node.attr)
            and _root(node.value) in names
            and isinstance(node.value, (ast.Attribute, ast.Name))
            and (_class_name(node.value) or "")[:1].isupper()
            and node.lineno == node.end_lineno
        ):
            continue
        row, end = node.lineno - 1, node.end_col_offset or 0
        wrong = wrong_constant(node.attr)
        if lines[row][end - len(node.attr) : end] == node.attr:
            edit = _replace(lines, row, end - len(node.attr), end, wrong)
            out.append(CdkMutation("wrong_enum", row, row + 1, edit, wrong))
    return out


def invalid_names(
    tree: ast.Module, lines: Sequence[str], names: Mapping[str, str]
) -> list[CdkMutation]:
    out = []
    for call in _constructs(tree, names):
        name = qualified(call.func, names)
        if name not in VALIDATED_NAMES:
            continue
        keyword, bad = VALIDATED_NAMES[name]
        given = next((kw for kw in call.keywords if kw.arg == keyword), None)
        if given is None:  # add the keyword after the construct id
            ident = call.args[1]
            row, col = (ident.end_lineno or 0) - 1, ident.end_col_offset or 0
            edit = _replace(lines, row, col, col, f', {keyword}="{bad}"')
        elif given.value.lineno == given.value.end_lineno:
            row, value = given.value.lineno - 1, given.value
            edit = _replace(lines, row, value.col_offset, value.end_col_offset or 0, f'"{bad}"')
        else:
            continue
        out.append(CdkMutation("invalid_name", row, row + 1, edit, bad))
    return out


def hatchable(name: str | None) -> bool:
    """Whether a construct of class `name` takes an escape hatch to a resource property: a
    service module's construct (the core module's are parameters, outputs, custom resources
    that take any property), not a pattern or deployment helper."""
    parts = (name or "").split(".")
    return len(parts) >= 3 and not any(x in name for x in NO_ESCAPE_HATCH)  # type: ignore[operator]


def escape_hatches(
    tree: ast.Module, lines: Sequence[str], names: Mapping[str, str]
) -> list[CdkMutation]:
    out = []
    constructs = {id(c) for c in _constructs(tree, names)}
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and id(node.value) in constructs
            and isinstance(node.targets[0], (ast.Name, ast.Attribute))
            and hatchable(qualified(node.value.func, names))
        ):
            continue
        target = ast.unparse(node.targets[0])
        cls = _class_name(node.value.func) or ""  # type: ignore[attr-defined]
        prop = NOT_PROPERTIES[sum(map(ord, target)) % len(NOT_PROPERTIES)]
        child = target if cls.startswith("Cfn") else f"{target}.node.default_child"
        row = (node.end_lineno or 0) - 1
        indent = " " * node.col_offset
        added = f'{indent}{child}.add_property_override("{prop}", True)'
        out.append(CdkMutation("escape_hatch", row, row + 1, (lines[row], added), prop))
    return out


def find_cdk_sites(source: str, checks: Sequence[Check] = ()) -> dict[str, list[CdkMutation]]:
    """Every site of every kind on the reference app `source`, by kind (kinds without a site
    left out), each kind's sites in line order. ValueError if the source does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        why = f"{exc.msg} (line {exc.lineno})"
        raise ValueError(f"the reference app does not parse: {why}") from None
    lines = source.splitlines()
    names = cdk_names(tree)
    found = {
        "syntax_slip": syntax_slips(tree, lines, names),
        "misspelt_keyword": misspelt_keywords(tree, lines, names),
        "wrong_enum": wrong_enums(tree, lines, names),
        "invalid_name": invalid_names(tree, lines, names),
        "escape_hatch": escape_hatches(tree, lines, names),
        "missing_grant": missing_grants(tree, lines, checks),
    }
    return {
        kind: sorted(sites, key=lambda m: (m.start, m.key))
        for kind, sites in found.items()
        if sites
    }
