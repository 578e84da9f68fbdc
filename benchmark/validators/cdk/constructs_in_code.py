"""Where in app.py the model wrote a construct: from a template's `aws:cdk:path` to a line.

A construct path is the chain of construct ids from the stack down (`AppStack/Store/Logs/Resource`).
The model writes each id it chooses as a string literal: the second positional argument of a
construct call (`s3.Bucket(self, "Data")`, or `id="Data"`), or the first of a method that makes a
child (`lb.add_listener("Http", ...)`). The ids below the deepest one the model wrote are the
library's own (`ServiceRole`, `Resource`) and are not in the code.
"""

from __future__ import annotations

import ast

STACK_CLASS = "AppStack"
# The id a library construct gives its main child (the L1 resource an L2 wraps): what
# `node.default_child` looks for. A finding's construct is the L2 the model wrote, not this child.
DEFAULT_CHILD_IDS = ("Resource", "Default")


def construct_of(cdk_path: str) -> str:
    """The construct the model wrote, from a resource's `aws:cdk:path` or an annotation's path:
    `/AppStack/Data/Resource` -> `AppStack/Data` (leading slash and default child dropped)."""
    path = cdk_path.strip("/")
    for child in DEFAULT_CHILD_IDS:
        if path.endswith("/" + child):
            return path[: -len(child) - 1]
    return path


def _literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _callee(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def _id_node(call: ast.Call, method_only: bool) -> ast.Constant | None:
    """The string literal `call` passes as a construct id, if it passes one."""
    if method_only:  # lb.add_listener("Http", ...): the child's id comes first
        if isinstance(call.func, ast.Attribute) and call.args and _literal(call.args[0]):
            return call.args[0]  # type: ignore[return-value]
        return None
    if len(call.args) >= 2 and _literal(call.args[1]) is not None:
        return call.args[1]  # type: ignore[return-value]
    for keyword in call.keywords:
        if keyword.arg == "id" and _literal(keyword.value) is not None:
            return keyword.value  # type: ignore[return-value]
    return None


def _find(scope: ast.AST, segment: str, method_only: bool) -> tuple[ast.Call, ast.Constant] | None:
    """The first call (in source order) in `scope` that names a construct `segment`."""
    calls = sorted(
        (n for n in ast.walk(scope) if isinstance(n, ast.Call)),
        key=lambda n: (n.lineno, n.col_offset),
    )
    for call in calls:
        node = _id_node(call, method_only)
        if node is not None and node.value == segment:
            return call, node
    return None


def construct_location(code: str, construct: str) -> tuple[int, int] | None:
    """(line, column), 1-based, of the id string in app.py of the deepest construct of
    `construct` (a path from the stack down) that the model wrote; None where none is found.

    Segments are resolved in turn: the first in the `AppStack` class; below a construct class
    the module defines (`Storage(self, "Store")`), the next in that class; below a library
    construct, only a method call naming a child (`lb.add_listener("Http")`). The first
    segment not found ends the walk (the rest is the library's)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    scope: ast.AST = classes.get(STACK_CLASS, tree)
    segments = construct.strip("/").split("/")[1:]  # below the stack
    found: tuple[int, int] | None = None
    method_only = False
    for segment in segments:
        hit = _find(scope, segment, method_only)
        if hit is None:
            break
        call, node = hit
        found = (node.lineno, node.col_offset + 1)
        callee = _callee(call)
        if not method_only and callee in classes:
            scope = classes[callee]
        else:
            method_only = True
    return found


# Escape hatches that write a template path of the model's choosing, and the path they start at.
OVERRIDES = {
    "add_override": (),
    "add_deletion_override": (),
    "add_property_override": ("Properties",),
    "add_property_deletion_override": ("Properties",),
}


def override_location(code: str, keys: tuple[str, ...]) -> tuple[int, int] | None:
    """(line, column) of the one escape-hatch call in app.py that writes the template path
    `keys` (`("Properties", "VersioningConfig")` for `add_property_override("VersioningConfig",
    ...)`); None where no call, or more than one, does."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    hits = []
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        prefix = OVERRIDES.get(getattr(call.func, "attr", ""))
        path = _literal(call.args[0]) if call.args else None
        if prefix is None or path is None:
            continue
        written = (*prefix, *path.split("."))
        if written[: len(keys)] == keys:
            hits.append((call.args[0].lineno, call.args[0].col_offset + 1))
    return hits[0] if len(hits) == 1 else None
