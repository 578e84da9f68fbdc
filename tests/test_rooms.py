"""The data flows one way: analysis/ reads run folders and never imports the loop side."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# read-side modules analysis may use: the records schema and reader, the authors' repository
# layout (to read recorded findings), progress bars
READ_SIDE = {"benchmark.records.tables", "benchmark.replication.paper_repo", "benchmark.progress"}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_analysis_imports_only_the_read_side_of_benchmark() -> None:
    offending = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted((ROOT / "analysis").rglob("*.py"))
        for name in imported_modules(path)
        if (name == "benchmark" or name.startswith("benchmark.")) and name not in READ_SIDE
    }
    assert not offending, sorted(offending)
