"""What the documentation says to run: its Markdown files, their code, and the commands in them.

A fenced block preceded by `<!-- run -->` is run by the quick suite, by `<!-- run: slow -->` by
the slow one; a block preceded by `<!-- output -->` holds lines the run block before it must
print (`…` stands for anything). Every other `make …` and `python -m …` is checked only for
naming a real target, variable and module (tests/test_docs.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNIPPET = re.compile(r'^--8<-- "([^":]+)(?::[\w-]+)?"\s*$', re.MULTILINE)
FENCE = re.compile(r"^(`{3,})([^\n`]*)\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL)
MARKER = re.compile(r"<!--\s*(run(?::\s*slow)?|output)\s*-->\s*$")
INLINE_CODE = re.compile(r"`([^`]+)`")  # a span may wrap onto the next line
MAKE = re.compile(r"(?<![\w.-])make ((?:[a-z][a-z-]*)(?:\s+[A-Z_]+=\S*)*)")
# `iacbench COMMAND [ARGS]` (or .venv/bin/iacbench ...): the console script, benchmark/cli.py
IACBENCH = re.compile(r"(?<![\w.-])iacbench ([a-z][a-z-]*)((?:[ \t]+[^\s`#|;&]+)*)")
PYTHON_M = re.compile(r"python -m ([A-Za-z_][\w.]*)((?:[ \t]+[^\s`#|;&]+)*)")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a Markdown file and the marker before it, if any."""

    path: Path
    line: int
    lang: str
    code: str
    marker: str | None  # "run", "run: slow", "output" or None


@dataclass
class Mention:
    """A `make` or `python -m` command the docs name somewhere (in a block or in prose)."""

    path: Path
    text: str
    target: str
    args: list[str] = field(default_factory=list)


def doc_files() -> list[Path]:
    """README.md, every page under docs/, and every file those pages include as a snippet."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
    included = {
        ROOT / match.group(1) for page in pages for match in SNIPPET.finditer(page.read_text())
    }
    return pages + sorted(included - set(pages))


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of one Markdown file, in order, each with the marker just above it."""
    text = path.read_text()
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.search(before)
        lang = match.group(2).strip().split(" ")[0]
        line = text.count("\n", 0, match.start()) + 1
        kind = re.sub(r"\s+", " ", marker.group(1)) if marker else None
        found.append(Block(path, line, lang, match.group(3), kind))
    return found


def runnable(path: Path) -> list[tuple[Block, Block | None]]:
    """The marked run blocks of a file, each with the output block that follows it, if any."""
    found = blocks(path)
    pairs = []
    for index, block in enumerate(found):
        if block.marker in ("run", "run: slow"):
            after = found[index + 1] if index + 1 < len(found) else None
            pairs.append((block, after if after and after.marker == "output" else None))
    return pairs


def code_texts(path: Path) -> list[str]:
    """Every piece of code of a file: its shell blocks (continuation lines joined) and its
    inline code spans outside blocks."""
    text = path.read_text()
    pieces = [
        block.code.replace("\\\n", " ")
        for block in blocks(path)
        if block.lang in ("", "bash", "sh", "console", "shell")
    ]
    prose = FENCE.sub("", text)
    pieces += [re.sub(r"\s+", " ", span) for span in INLINE_CODE.findall(prose)]
    return pieces


def iacbench_mentions(path: Path) -> list[Mention]:
    """The `iacbench` commands a file names (`target`: the command, `args`: the rest)."""
    found = []
    for piece in code_texts(path):
        for line in piece.splitlines() or [piece]:
            code = line.split(" # ", 1)[0]
            for match in IACBENCH.finditer(code):
                found.append(Mention(path, match.group(0), match.group(1), match.group(2).split()))
    return found


def mentions(path: Path) -> tuple[list[Mention], list[Mention]]:
    """The `make` and the `python -m` commands a file names."""
    makes, modules = [], []
    for piece in code_texts(path):
        for line in piece.splitlines() or [piece]:
            code = line.split(" # ", 1)[0]
            for match in MAKE.finditer(code):
                target, *args = match.group(1).split()
                makes.append(Mention(path, match.group(0), target, args))
            for match in PYTHON_M.finditer(code):
                args = match.group(2).split()
                modules.append(Mention(path, match.group(0), match.group(1), args))
    return makes, modules


def expected_lines(output: Block) -> list[tuple[str, re.Pattern[str]]]:
    """Each line of an output block with its pattern: spaces collapsed, `…` matching anything."""
    patterns = []
    for line in output.code.splitlines():
        if line.strip():
            parts = [re.escape(normalise(part)) for part in line.split("…")]
            patterns.append((normalise(line), re.compile(".*".join(parts))))
    return patterns


def normalise(text: str) -> str:
    """Runs of blanks collapsed to one, ends trimmed: tables compare by their cells."""
    return re.sub(r"[ \t]+", " ", text).strip()


def makefile_targets_and_variables() -> tuple[set[str], set[str]]:
    """The Makefile's targets, and the variables it reads."""
    text = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", text, re.MULTILINE))
    variables = set(re.findall(r"\$[({]([A-Z_]+)[)}]", text))
    variables |= set(re.findall(r"^([A-Z_]+)\s*\?=", text, re.MULTILINE))
    return targets, variables
