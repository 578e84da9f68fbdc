"""`python -m tests.bench [--only lint,lint_envs,sweep,resume,memory,cost,ratelimits,
batch_resume,lint_cache,cdk] [--quick] [--out DIR]`.

Prints one table row per figure (name, measured, target, pass/fail) and writes every raw number,
with the machine's facts, to `<out>/bench-<UTC timestamp>.json` (default out: runs/bench).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path
from typing import Any

from benchmark.validators.cfn_lint.result_cache import PATH_ENV as LINT_CACHE_ENV
from tests.bench import ROOT, Context, Row, Section

BENCHMARKS = (
    "lint",
    "lint_envs",
    "sweep",
    "resume",
    "memory",
    "cost",
    "ratelimits",
    "batch_resume",
    "lint_cache",
    "cdk",
)


def machine() -> dict[str, Any]:
    from benchmark.records.origin import provenance

    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "load_average": os.getloadavg(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        **provenance(),
    }


def table(sections: list[Section]) -> str:
    rows: list[Row] = [row for section in sections for row in section.rows]
    head = ("benchmark", "measured", "target", "result")
    cells = [head] + [
        (r.name, r.measured, r.target, {True: "pass", False: "FAIL", None: ""}[r.passed])
        for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for c in cells[1:]:
        lines.append("  ".join(x.ljust(w) for x, w in zip(c, widths, strict=True)).rstrip())
    return "\n".join(lines)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated subset")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (the smoke test)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench")
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(args.only) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    return args


def main(argv: list[str] | None = None) -> Path:
    """Run the chosen benchmarks; returns the JSON report's path."""
    args = parse(argv)
    started = datetime.now(UTC)
    clock = time.monotonic()
    facts = machine()
    sections: list[Section] = []
    saved_cache = os.environ.get(LINT_CACHE_ENV)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-") as work:
            ctx = Context(quick=args.quick, work=Path(work), verbose=not args.quick)
            with ctx.cleanup:
                for name in BENCHMARKS:
                    if name in args.only:
                        print(f"bench: {name} ...", file=sys.stderr, flush=True)
                        # each benchmark lints through a persistent lint cache of its own that
                        # starts empty: none is answered by an earlier one or an earlier bench
                        os.environ[LINT_CACHE_ENV] = str(ctx.work / f"lint-cache-{name}.sqlite")
                        sections.append(import_module(f"tests.bench.{name}").run(ctx))
    finally:
        if saved_cache is None:
            os.environ.pop(LINT_CACHE_ENV, None)
        else:
            os.environ[LINT_CACHE_ENV] = saved_cache
    facts["load_average_after"] = os.getloadavg()
    text = table(sections)
    print(text, flush=True)
    report = {
        "started_at": started.isoformat(),
        "seconds": round(time.monotonic() - clock, 1),
        "command": " ".join(["python -m tests.bench", *(sys.argv[1:] if argv is None else argv)]),
        "quick": args.quick,
        "machine": facts,
        "table": text,
        "sections": {s.name: {"rows": [asdict(r) for r in s.rows], "raw": s.raw} for s in sections},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"bench-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"bench: {path} ({report['seconds']:.0f}s)", file=sys.stderr, flush=True)
    return path


if __name__ == "__main__":
    main()
