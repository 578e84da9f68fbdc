"""cfn-lint's own command line, run by any environment's Python with its clock frozen to a day:
the reference the harness's engines are compared with."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from benchmark.validators.base import Finding

# time-machine started before cfn-lint is imported, then cfn-lint's own entry point
WRAPPER = """\
import sys, datetime, time_machine
day = datetime.date.fromisoformat(sys.argv.pop(1))
noon = datetime.datetime(day.year, day.month, day.day, 12, tzinfo=datetime.timezone.utc)
time_machine.travel(noon, tick=False).start()
sys.argv[0] = "cfn-lint"
from cfnlint.runner import main
main()
"""

Full = tuple[Any, ...]  # rule, message, start line, start column, end line, end column, path


def run_cli(
    python: str | Path, args: list[str], as_of: date, cwd: Path
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONHASHSEED"] = "0"
    return subprocess.run(
        [str(python), "-s", "-c", WRAPPER, as_of.isoformat(), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )


def cli_json(
    python: str | Path,
    paths: list[Path],
    as_of: date,
    cwd: Path,
    mandatory: list[str],
    alone: Iterable[Path] = (),
    regions: tuple[str, ...] = ("us-east-1",),
) -> dict[str, list[Full]]:
    """`cfn-lint --format json` over every template, findings grouped by file: one process for
    all of them but `alone`, one process each for those. Templates that do not parse belong in
    `alone`: releases before 1.12 stop at the first such file and lint none after it."""
    alone = set(alone)
    groups = [[p] for p in paths if p in alone] + [[p for p in paths if p not in alone]]
    grouped: dict[str, list[Full]] = {str(p): [] for p in paths}
    for group in filter(None, groups):
        args = ["--format", "json", "--regions", *regions, "--config-file", os.devnull]
        args += ["--mandatory-checks", *mandatory, "--", *map(str, group)]
        done = run_cli(python, args, as_of, cwd)
        assert done.stdout, done.stderr[-3000:]
        for item in json.loads(done.stdout):
            loc = item["Location"]
            grouped[item["Filename"]].append(
                (
                    item["Rule"]["Id"],
                    item["Message"],
                    loc["Start"]["LineNumber"],
                    loc["Start"]["ColumnNumber"],
                    loc["End"]["LineNumber"],
                    loc["End"]["ColumnNumber"],
                    tuple(str(p) for p in loc.get("Path") or ()),
                )
            )
    return {name: sorted(found) for name, found in grouped.items()}


def unparsed(paths: list[Path], findings: list[list[Finding]]) -> list[Path]:
    """The templates whose findings hold a parse error (E0000)."""
    return [p for p, f in zip(paths, findings, strict=True) if any(x.rule_id == "E0000" for x in f)]


def full(findings: list[Finding]) -> list[Full]:
    """Our findings in the CLI's terms, message included."""
    return sorted(
        (
            f.rule_id,
            f.message,
            f.line,
            f.column,
            f.end_line,
            f.end_column,
            tuple(str(p) for p in f.path),
        )
        for f in findings
    )
