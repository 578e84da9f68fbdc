"""`python -m tests.bench.rss_probe OUT.json [overrides]`: one `benchmark.run` job in this
process; at exit OUT.json gets this process's peak RSS and its largest lint worker's (KiB).

Peaks are read from /proc (VmHWM), not getrusage: `ru_maxrss` survives fork + exec, so a child
process would report its parent's size whenever that was larger. Workers are sampled every
0.2 s while they live (VmHWM only grows, so at most the last 0.2 s of a worker is missed).
"""

from __future__ import annotations

import atexit
import json
import sys
import threading
import time
from pathlib import Path

_workers_peak = 0


def hwm_kib(pid: int | str = "self") -> int:
    """Peak resident set size of a live process, KiB (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children() -> set[int]:
    pids: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        try:
            pids.update(int(p) for p in (task / "children").read_text().split())
        except OSError:
            continue
    return pids


def sample_workers() -> None:
    global _workers_peak
    while True:
        for pid in children():
            _workers_peak = max(_workers_peak, hwm_kib(pid))
        time.sleep(0.2)


def write_peak(out: Path) -> None:
    out.write_text(json.dumps({"self_kib": hwm_kib(), "largest_child_kib": _workers_peak}))


def main() -> None:
    out, overrides = Path(sys.argv[1]), sys.argv[2:]
    atexit.register(write_peak, out)  # runs after Hydra's sys.exit too
    threading.Thread(target=sample_workers, daemon=True).start()
    from benchmark.run import main as run_main

    sys.argv = [sys.argv[0], *overrides, "hydra.job.name=run"]
    run_main()


if __name__ == "__main__":
    main()
