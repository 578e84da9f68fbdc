"""A CDK app with mistakes: rendered from the reference and its active mistakes, read back.

The app is always the unmodified reference with the active mistakes' line spans replaced, so
a fix restores the reference exactly and the same mistakes give the same bytes (the response
cache and a resumed chain rely on it). `decode` inverts `render`: it aligns the written app
with the reference line by line, each reference line either kept or the start of a site's
replacement, and returns the sites it had to use (None if the app is not one this simulator
rendered from this reference).
"""

from __future__ import annotations

from collections.abc import Sequence

from benchmark.simulator.cdk.mutation import CdkMutation


def _lines(text: str) -> list[str]:
    """`text`'s lines, trailing blanks dropped, trailing whitespace ignored."""
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def render(reference: str, active: Sequence[CdkMutation]) -> str:
    """The reference app with `active` (non-overlapping) mistakes made, newline-terminated."""
    lines = reference.splitlines()
    out: list[str] = []
    row = 0
    for m in sorted(active, key=lambda m: m.start):
        out += lines[row : m.start]
        out += m.lines
        row = m.end
    out += lines[row:]
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out) + "\n"


def decode(
    reference: str, sites: Sequence[CdkMutation], text: str
) -> tuple[CdkMutation, ...] | None:
    """The mistakes behind `text`, an app rendered from `reference`; None if it is not one."""
    ref, got = _lines(reference), _lines(text)
    starting: dict[int, list[CdkMutation]] = {}
    for m in sites:
        starting.setdefault(m.start, []).append(m)
    # depth-first over (reference row, text row), keeping a line before trying a mistake
    stack: list[tuple[int, int, tuple[CdkMutation, ...]]] = [(0, 0, ())]
    seen: set[tuple[int, int]] = set()
    while stack:
        i, j, used = stack.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == len(ref) and j == len(got):
            return used
        moves = []
        for m in starting.get(i, ()):
            n = len(m.lines)
            if [line.rstrip() for line in m.lines] == got[j : j + n]:
                moves.append((m.end, j + n, (*used, m)))
        if i < len(ref) and j < len(got) and ref[i] == got[j]:
            moves.append((i + 1, j + 1, used))
        stack.extend(moves)  # the kept line is popped first
    return None
