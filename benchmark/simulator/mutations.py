"""Mutations: deliberate mistakes on a reference template, how they are rendered and read back.

A mutation is one or more edits of the reference tree (set a value, rename a key, delete a key)
or the text-level syntax break. A chain's state is the tuple of its active mutations in
catalogue order; the template is always rendered from the unmodified reference plus that
tuple, so a fix restores the original exactly. `decode` inverts `render`: given a template
this simulator rendered, it recovers the active mutations (and proves it by re-rendering the
same bytes), which is how a chain's state is rebuilt from what was recorded.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from benchmark.simulator.template import KeyPath, get_path, serialise, try_parse

Op = Literal["set", "rename", "delete", "text"]
SYNTAX = ("#syntax",)  # the path of the text-level syntax break
MAX_DECODE_LEAVES = 512  # candidate subsets tried before a decode gives up


@dataclass(frozen=True)
class Edit:
    op: Op
    path: KeyPath
    value: Any = None  # new value (set), new key (rename), anchor key (text)


@dataclass(frozen=True)
class Mutation:
    """One deliberate mistake, expected to raise one finding of `rule_id`.

    `guards` are paths no other active mutation may touch (a mistypo'd resource type hides its
    properties from the linter; an obsolete DependsOn is obsolete only while its Ref stands).
    """

    kind: str
    rule_id: str
    edits: tuple[Edit, ...]
    guards: tuple[KeyPath, ...] = field(default=())

    @classmethod
    def one(cls, kind: str, rule_id: str, op: Op, path: KeyPath, value: Any = None) -> Mutation:
        return cls(kind, rule_id, (Edit(op, path, value),))

    @property
    def path(self) -> KeyPath:
        return self.edits[0].path

    @property
    def is_text(self) -> bool:
        return any(e.op == "text" for e in self.edits)

    @cached_property
    def key(self) -> str:
        """A stable identity: the same mistake at the same place has the same key everywhere."""
        edits = [[e.op, list(e.path), e.value] for e in self.edits]
        return json.dumps([self.kind, self.rule_id, edits], sort_keys=True, default=str)

    def overlaps(self, other: Mutation) -> bool:
        """True if an edit of one touches an edit or guard of the other (prefix either way)."""
        mine = [e.path for e in self.edits]
        theirs = [e.path for e in other.edits]
        return any(_related(a, b) for a in mine for b in (*theirs, *other.guards)) or any(
            _related(a, b) for a in theirs for b in self.guards
        )


def _related(a: KeyPath, b: KeyPath) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


# ---- applying and rendering ------------------------------------------------------------------

# Where a missing top-level section is created: before the first of these that exists.
_SECTION_BEFORE = {"Parameters": ("Mappings", "Conditions", "Resources")}


def apply(template: dict[str, Any], mutations: Sequence[Mutation]) -> dict[str, Any]:
    """A copy of `template` with the tree edits applied in order (text edits are skipped)."""
    tree = copy.deepcopy(template)
    for m in mutations:
        for edit in m.edits:
            if edit.op != "text":
                tree = _apply_edit(tree, edit)
    return tree


def _apply_edit(tree: dict[str, Any], edit: Edit) -> dict[str, Any]:
    section = edit.path[0]
    if len(edit.path) > 1 and isinstance(section, str) and section not in tree:
        tree = _insert_section(tree, section)
    parent: Any = tree
    for part in edit.path[:-1]:
        parent = parent[part]
    last = edit.path[-1]
    if edit.op == "set":
        parent[last] = copy.deepcopy(edit.value)
    elif edit.op == "delete":
        del parent[last]
    elif edit.op == "rename":
        renamed = {(edit.value if k == last else k): v for k, v in parent.items()}
        parent.clear()
        parent.update(renamed)
    return tree


def _insert_section(tree: dict[str, Any], section: str) -> dict[str, Any]:
    anchors = [a for a in _SECTION_BEFORE.get(section, ()) if a in tree]
    if not anchors:
        return {**tree, section: {}}
    out: dict[str, Any] = {}
    for k, v in tree.items():
        if k == anchors[0]:
            out[section] = {}
        out[k] = v
    return out


_KEY_LINE = r"""^(\s*["']?{key}["']?)"""


def break_syntax(text: str, anchor: str) -> str:
    """Drop the colon after key `anchor` (else after `Resources`): YAML and JSON both break."""
    for key in (anchor, "Resources"):
        pattern = re.compile(_KEY_LINE.format(key=re.escape(key)) + ":", re.MULTILINE)
        broken, n = pattern.subn(r"\1", text, count=1)
        if n:
            return broken
    return text[: len(text) // 2]  # cannot happen for a template with Resources


def render(template: dict[str, Any], mutations: Sequence[Mutation], output_format: str) -> str:
    text = serialise(apply(template, mutations), output_format)
    for m in mutations:
        for edit in m.edits:
            if edit.op == "text":
                text = break_syntax(text, edit.value)
    return text


# ---- reading a rendered template back --------------------------------------------------------


def decode(
    template: dict[str, Any], sites: Sequence[Mutation], text: str, output_format: str
) -> tuple[Mutation, ...] | None:
    """The active mutations (in `sites` order) that render `text`, or None if none do.

    A parsed template is compared with the reference edit by edit; a template that does not
    parse is tried with the colon of each syntax-break anchor restored. Whatever is found is
    re-rendered and must give `text` byte for byte (or its `json.dumps` form, `renders_as`).
    """
    order = {m.key: i for i, m in enumerate(sites)}
    tree_sites = [m for m in sites if not m.is_text]
    tree = try_parse(text)
    if tree is not None:
        return _decode_tree(template, tree_sites, tree, text, output_format, (), order)
    for syntax in (m for m in sites if m.is_text):
        anchor = syntax.edits[0].value
        for restored in _restorations(text, anchor):
            restored_tree = try_parse(restored)
            if restored_tree is None:
                continue
            found = _decode_tree(
                template, tree_sites, restored_tree, text, output_format, (syntax,), order
            )
            if found is not None:
                return found
    return None


def renders_as(rendered: str, text: str) -> bool:
    """Whether `text` is `rendered` as written, or as the loop keeps a JSON template under
    `template_as: json_dumps` (Python's `json.dumps` of it, one line)."""
    if rendered == text:
        return True
    try:
        return json.dumps(json.loads(rendered)) == text
    except ValueError:
        return False


def _restorations(text: str, anchor: str) -> Iterator[str]:
    """`text` with a colon put back after one line-leading occurrence of `anchor`."""
    for key in (anchor, "Resources"):
        pattern = re.compile(_KEY_LINE.format(key=re.escape(key)) + r"(?![:\w\"'-])", re.MULTILINE)
        for match in pattern.finditer(text):
            yield text[: match.end()] + ":" + text[match.end() :]


def _decode_tree(
    template: dict[str, Any],
    sites: Sequence[Mutation],
    tree: dict[str, Any],
    text: str,
    output_format: str,
    extra: tuple[Mutation, ...],
    order: dict[str, int],
) -> tuple[Mutation, ...] | None:
    candidates = [m for m in sites if all(_shows(tree, e) for e in m.edits)]
    leaves = 0

    def search(i: int, chosen: tuple[Mutation, ...]) -> tuple[Mutation, ...] | None:
        nonlocal leaves
        if i == len(candidates):
            leaves += 1
            active = tuple(sorted((*chosen, *extra), key=lambda m: order[m.key]))
            return active if renders_as(render(template, active, output_format), text) else None
        if leaves >= MAX_DECODE_LEAVES:
            return None
        m = candidates[i]
        if not any(m.overlaps(c) for c in chosen):
            found = search(i + 1, (*chosen, m))
            if found is not None:
                return found
        return search(i + 1, chosen)

    return search(0, ())


def _shows(tree: dict[str, Any], edit: Edit) -> bool:
    """Whether `tree` carries `edit` (a necessary condition; `render` decides)."""
    *parent_path, last = edit.path
    found, parent = get_path(tree, tuple(parent_path))
    if not found:
        return False
    if edit.op == "set":
        here, value = get_path(parent, (last,))
        return here and value == edit.value
    if edit.op == "delete":
        return isinstance(parent, dict) and last not in parent
    if edit.op == "rename":
        return isinstance(parent, dict) and edit.value in parent and last not in parent
    return False
