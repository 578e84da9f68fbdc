"""One writer per run folder, and a resume or a rescore that is refused writes nothing.

The refusals happen in the `run_folder_guard` Hydra callback (or in rescore) before anything is
written, so each test compares the whole folder, bytes and modification times, before and after.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from benchmark.replication.rescore import main as rescore
from benchmark.runner.folder_lock import LOCK_FILE, FolderLock

ROOT = Path(__file__).resolve().parent.parent
TINY = ("loop.samples=1", "loop.max_iterations=2", "dataset.limit=1", "progress=false")

pytestmark = pytest.mark.slow  # each test starts `python -m benchmark.run`


def benchmark_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchmark.run", *args, "lint.workers=1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def snapshot(folder: Path) -> dict[str, tuple[bytes | None, int]]:
    """Every file's bytes and every entry's modification time (a folder's changes when an
    entry is added or removed in it)."""
    entries = [folder, *folder.rglob("*")]
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None, p.stat().st_mtime_ns)
        for p in entries
    }


def one_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr[-3000:]
    return lines[0]


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-job multirun on the simulator, finished: multirun.yaml, plan.json, sweep.json,
    0/.hydra, 0/job.json and rows."""
    sweep = tmp_path_factory.mktemp("finished") / "sweep"
    done = benchmark_run("-m", *TINY, f"hydra.sweep.dir={sweep}")
    assert done.returncode == 0, done.stderr[-3000:]
    return sweep


@pytest.fixture
def sweep(finished_sweep: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "sweep"
    shutil.copytree(finished_sweep, copy)
    return copy


@pytest.mark.parametrize("mode", ["multirun", "run"])
def test_a_second_sweep_into_a_locked_folder_is_refused_naming_the_holder_and_writes_nothing(
    sweep: Path, mode: str
) -> None:
    folder = sweep if mode == "multirun" else sweep / "0"
    holder = FolderLock(folder)  # this test process is the first sweep, still writing
    holder.acquire()
    try:
        before = snapshot(folder)
        if mode == "multirun":  # the same command again, as from a second terminal
            done = benchmark_run("-m", *TINY, f"hydra.sweep.dir={folder}")
        else:
            done = benchmark_run(*TINY, f"hydra.run.dir={folder}")
        after = snapshot(folder)
    finally:
        holder.release()
    assert done.returncode == 2
    line = one_error(done.stderr)
    assert f"pid {os.getpid()} on {socket.gethostname()}" in line
    assert "pytest" in line  # the holder's command
    assert after == before


def test_a_stale_lock_is_taken_over_with_a_note(tmp_path: Path) -> None:
    folder = tmp_path / "sweep"
    child = subprocess.Popen(  # takes the lock, says so, and is killed holding it
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; "
            "from benchmark.runner.folder_lock import FolderLock; "
            f"FolderLock(Path({str(folder)!r})).acquire(); print('held', flush=True); "
            "sys.stdin.read()",
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "held\n"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert (folder / LOCK_FILE).read_bytes()  # the dead holder is still named in the file
    done = benchmark_run("-m", *TINY, "plan=true", f"hydra.sweep.dir={folder}")
    assert done.returncode == 0, done.stderr[-3000:]
    notes = [line for line in done.stderr.splitlines() if line.startswith("note: took over")]
    assert len(notes) == 1 and f"pid {child.pid} " in notes[0], done.stderr[-3000:]
    assert (folder / "plan.json").exists()
    assert (folder / LOCK_FILE).read_bytes() == b""  # released at exit: nobody to take over from


def test_a_refused_resume_leaves_every_byte_of_the_folder_as_it_was(sweep: Path) -> None:
    before = snapshot(sweep)
    assert {"multirun.yaml", "plan.json", "sweep.json", "0/job.json"} <= before.keys()
    assert "0/.hydra/config.yaml" in before
    changed = [arg.replace("max_iterations=2", "max_iterations=3") for arg in TINY]
    done = benchmark_run("-m", *changed, f"resume={sweep}")
    assert done.returncode == 2
    line = one_error(done.stderr)
    assert "job 0" in line and "loop.max_iterations: 2 -> 3" in line
    assert snapshot(sweep) == before


@pytest.mark.parametrize("mode", [["-m"], []], ids=["multirun", "run"])
def test_resume_of_a_missing_folder_is_one_line_and_creates_nothing(
    tmp_path: Path, mode: list[str]
) -> None:
    missing = tmp_path / "mistyped"
    done = benchmark_run(*mode, *TINY, f"resume={missing}")
    assert done.returncode == 2
    assert f"resume={missing}: no such run folder" in one_error(done.stderr)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("loop", {"max_iterations": 5}, "config hash"),
        ("lint", {"as_of": "2024-08-01"}, "lint.as_of 2024-08-01, rows linted as of"),
    ],
)
def test_rescore_refuses_saved_settings_that_are_not_the_rows(
    sweep: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    key: str,
    value: dict[str, object],
    named: str,
) -> None:
    saved = sweep / "0" / ".hydra" / "config.yaml"
    config = yaml.safe_load(saved.read_text())
    config[key].update(value)  # as a refused resume on an older version rewrote it
    saved.write_text(yaml.safe_dump(config, sort_keys=False))
    out = tmp_path / "rescored"
    assert rescore([str(sweep), "--out", str(out)]) == 2
    line = one_error(capsys.readouterr().err)
    assert f"cannot rescore {sweep / '0'}" in line and named in line
    assert not out.exists()


def test_a_resume_after_a_problem_changed_names_it_and_writes_nothing(tmp_path: Path) -> None:
    problems = tmp_path / "problems"
    shutil.copytree(ROOT / "datasets" / "smoke", problems)
    sweep = tmp_path / "sweep"
    tiny = (*TINY, f"dataset.path={problems}")
    assert benchmark_run("-m", *tiny, f"hydra.sweep.dir={sweep}").returncode == 0
    first = sorted(problems.glob("*.yaml"))[0]
    problem = yaml.safe_load(first.read_text())
    problem["prompt"] += " Tag every resource with its owner."
    first.write_text(yaml.safe_dump(problem, sort_keys=False))
    before = snapshot(sweep)
    done = benchmark_run("-m", *tiny, f"resume={sweep}")
    assert done.returncode == 2
    line = one_error(done.stderr)
    assert f"problem files changed since its attempts were recorded: {problem['id']};" in line
    assert snapshot(sweep) == before
