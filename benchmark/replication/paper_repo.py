"""The paper authors' published run, read as they published it: layout, lint text, templates.

Palavalli & Santolucito (arXiv 2411.19043) published their GPT-4o run in their repository
(Mayur-Palavalli/LLM-IaC-generation). What is read here, as facts of that layout:

- `JSON_run_v2/JSONwork_batching{T}/errorCSVs/errorsCSV{I}.csv`, trials T = 1..6, iterations
  I = 1..10. One column; its header is `Errors` in the first file and `0` in the others (the
  script wrote them differently); then one row per template. Row N (1-based) is the default
  text output of `cfn-lint FILE` on template N: blocks separated by a blank line, each
  `RULE message` line(s) then `path:line:column`. An empty cell is a clean template.
- `JSON_run_v2/JSONwork_batching{T}/json_set_{I}/JSONtemplate{N}.json`: that template, as the
  script wrote it (`json.dump`, one line). A file may hold `null`: the reply was not JSON.
- Template N answers prompt (N-1) // 5 (0-based, in the paper's topic order) as query
  (N-1) % 5: 33 prompts x 5 queries = 165 templates per trial and iteration.
- `cfFilesBatching2.py` at the root holds the prompts and the chat messages
  (`benchmark.problems.importers.paper_protocol` reads it with `ast`; it is never run).

Prompt index P (0-based, their order) is paper33's topic P + 1: each paper33 problem's
`source` names its topic (`project (paper topic K)`), so `paper33_by_topic` gives the problem
whose intent checks and reference template stand for prompt P.

Also accepted: the `JSON_run_v2` folder itself, one `JSONwork_batching{T}` folder, and a folder
of `trial{T}/errorsCSV{I}.csv` files (lint text only, no templates).

This module only reads; `benchmark.replication.import_paper` turns the run into records and
`analysis.paper` into the paper's figures.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.problems.dataset import Problem, load_dataset

PROMPTS = 33
QUERIES = 5  # samples per prompt in one trial
TEMPLATES = PROMPTS * QUERIES  # 165
SCRIPT = "cfFilesBatching2.py"
RUN_FOLDER = "JSON_run_v2"
RECORDED_SOURCE = "cfn-lint (recorded by the authors)"  # findings parsed from their text
RECORDED_LINTER = "recorded"  # attempts.feedback_linter of their text: their cfn-lint, unknown

_TRIAL_DIR = re.compile(r"^JSONwork_batching(\d+)$")
_LEGACY_TRIAL_DIR = re.compile(r"^trial(\d+)$", re.IGNORECASE)
_CSV = re.compile(r"^errorsCSV(\d+)\.csv$", re.IGNORECASE)
_SET_DIR = re.compile(r"^json_set_(\d+)$")
_TEMPLATE = re.compile(r"^JSONtemplate(\d+)\.json$")
_BLANK = re.compile(r"\n[ \t]*\n")
_RULE = re.compile(r"^[EWI]\d+$")
_LOCATION = re.compile(r"^(?P<path>.+):(?P<line>\d+):(?P<column>\d+)$")
_TOPIC = re.compile(r"\bpaper topic (\d+)\b")
PAPER33 = Path(__file__).resolve().parents[2] / "datasets" / "paper33"


@dataclass(frozen=True)
class Trial:
    """The files of one trial: lint text per iteration and, where published, the templates."""

    trial: int
    folder: Path
    csvs: dict[int, Path]  # iteration -> errorsCSV file
    template_dirs: dict[int, Path] = field(default_factory=dict)  # iteration -> json_set folder

    @property
    def iterations(self) -> list[int]:
        return sorted(self.csvs)

    def template_file(self, iteration: int, number: int) -> Path | None:
        """`JSONtemplate{number}.json` of an iteration (1-based number), if published."""
        folder = self.template_dirs.get(iteration)
        if folder is None:
            return None
        path = folder / f"JSONtemplate{number}.json"
        return path if path.is_file() else None


@dataclass(frozen=True)
class PaperRepo:
    """What was found under the folder the user gave."""

    root: Path
    layout: str  # "repository", "JSON_run_v2", "one trial", "trial folders"
    trials: list[Trial]
    script: Path | None = None  # cfFilesBatching2.py, where the folder is the repository root

    @property
    def has_templates(self) -> bool:
        return any(t.template_dirs for t in self.trials)


@dataclass(frozen=True)
class RecordedFinding:
    """One block of the authors' cfn-lint text. `rule_id` is None for a block without one."""

    rule_id: str | None
    level: str  # E / W / I from the rule id's letter; E for a block without a rule id
    message: str
    file: str | None  # the path cfn-lint printed (a path on the authors' machine)
    line: int | None
    column: int | None


def prompt_and_query(number: int) -> tuple[int, int]:
    """Template number N (1-based) -> (prompt index, 0-based in topic order; query 0..4)."""
    if number < 1:
        raise ValueError(f"template numbers start at 1, got {number}")
    return (number - 1) // QUERIES, (number - 1) % QUERIES


def paper33_by_topic(folder: str | Path = PAPER33) -> list[Problem]:
    """paper33's problems in the paper's topic order (index P answers the authors' prompt P).

    ValueError unless the folder holds exactly topics 1..33, each once."""
    by_topic: dict[int, Problem] = {}
    for problem in load_dataset(folder):
        match = _TOPIC.search(problem.source or "")
        if match is None:
            raise ValueError(f"{folder}: problem {problem.id} names no paper topic in 'source'")
        topic = int(match.group(1))
        if topic in by_topic:
            raise ValueError(
                f"{folder}: paper topic {topic} twice ({by_topic[topic].id}, {problem.id})"
            )
        by_topic[topic] = problem
    if sorted(by_topic) != list(range(1, PROMPTS + 1)):
        raise ValueError(f"{folder}: expected paper topics 1..{PROMPTS}, found {sorted(by_topic)}")
    return [by_topic[topic] for topic in range(1, PROMPTS + 1)]


def _numbered(folder: Path, pattern: re.Pattern[str], dirs: bool) -> dict[int, Path]:
    out: dict[int, Path] = {}
    for path in folder.iterdir():
        match = pattern.match(path.name)
        if match and (path.is_dir() if dirs else path.is_file()):
            out[int(match.group(1))] = path
    return out


def _trial(number: int, folder: Path) -> Trial:
    csv_dir = folder / "errorCSVs"
    csvs = _numbered(csv_dir, _CSV, dirs=False) if csv_dir.is_dir() else {}
    return Trial(number, folder, csvs, _numbered(folder, _SET_DIR, dirs=True))


def discover(folder: str | Path) -> PaperRepo:
    """Find the trials under `folder`; ValueError naming what was expected if none is there."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: folder not found")
    script = root / SCRIPT
    if (root / RUN_FOLDER).is_dir():
        found = discover(root / RUN_FOLDER)
        return PaperRepo(root, "repository", found.trials, script if script.is_file() else None)
    match = _TRIAL_DIR.match(root.name)
    if match:
        trials = [_trial(int(match.group(1)), root)]
        layout = "one trial"
    else:
        trials = [_trial(n, path) for n, path in _numbered(root, _TRIAL_DIR, dirs=True).items()]
        layout = "JSON_run_v2"
    trials = [t for t in trials if t.csvs]
    if not trials:
        legacy = _numbered(root, _LEGACY_TRIAL_DIR, dirs=True)
        trials = [Trial(n, path, _numbered(path, _CSV, dirs=False)) for n, path in legacy.items()]
        trials = [t for t in trials if t.csvs]
        layout = "trial folders"
    if not trials:
        raise ValueError(
            f"{root}: no published run found: expected the authors' repository root (with "
            f"{RUN_FOLDER}/), {RUN_FOLDER}/JSONwork_batching*/errorCSVs/errorsCSV*.csv, or "
            "trial*/errorsCSV*.csv"
        )
    return PaperRepo(root, layout, sorted(trials, key=lambda t: t.trial), None)


def read_cells(path: str | Path) -> list[str]:
    """The template cells of one errorsCSV file (header row dropped; `""` is a clean one)."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise ValueError(f"{path}: empty file (expected a header row)")
    cells = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) > 1 and any(cell.strip() for cell in row[1:]):
            raise ValueError(f"{path}: row {number} has {len(row)} columns, expected one")
        cells.append(row[0] if row else "")
    return cells


def split_blocks(cell: str) -> list[str]:
    """cfn-lint default output -> one string per finding (blocks separated by a blank line)."""
    text = cell.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        return []
    return [block.strip() for block in _BLANK.split(text) if block.strip()]


def parse_block(block: str) -> RecordedFinding:
    """Rule id, level, message and location of one block of cfn-lint's text output."""
    lines = block.split("\n")
    first, _, rest = lines[0].strip().partition(" ")
    rule = first if _RULE.match(first) else None
    location = _LOCATION.match(lines[-1].strip()) if len(lines) > 1 else None
    body = lines[1:-1] if location else lines[1:]
    message = "\n".join([rest if rule else lines[0].strip(), *body]).strip()
    return RecordedFinding(
        rule_id=rule,
        level=rule[0] if rule else "E",
        message=message,
        file=location.group("path") if location else None,
        line=int(location.group("line")) if location else None,
        column=int(location.group("column")) if location else None,
    )


def parse_cell(cell: str) -> list[RecordedFinding]:
    return [parse_block(block) for block in split_blocks(cell)]


def read_template(path: Path) -> str:
    """A published template file's text, as stored (it may be `null`)."""
    return path.read_text(encoding="utf-8", errors="replace")
