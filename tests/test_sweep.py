"""A real Hydra multirun on the simulator, end to end: two jobs, both tables, nothing leaked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmark.records.tables import ATTEMPT_KEY, read_table

ROOT = Path(__file__).resolve().parent.parent
FAKE_KEYS = {
    "ANTHROPIC_API_KEY": "sk-ant-FAKE0123456789abcdef",
    "OPENAI_API_KEY": "sk-FAKE9876543210",
    # the AWS chain's (Bedrock and deploy runs scan for them too: tests/test_bedrock_sweep.py)
    "AWS_ACCESS_KEY_ID": "AKIAFAKESWEEP0123456",
    "AWS_SECRET_ACCESS_KEY": "fakeSweepSecret/0123456789abcdefghijklmn",
    "AWS_SESSION_TOKEN": "FAKEsweepSESSIONtoken0123456789abcdef",
}


def run_benchmark(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, **FAKE_KEYS}
    return subprocess.run(
        [sys.executable, "-m", "benchmark.run", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


# not slow: the quick suite's one end-to-end Hydra multirun (two simulated jobs, lint workers)
def test_two_job_multirun_writes_both_tables(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    done = run_benchmark(
        "-m",
        "loop.protocol=stateless,conversation",
        "loop.samples=2",
        "loop.max_iterations=4",
        "progress=false",
        f"hydra.sweep.dir={sweep}",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "not an LLM" in done.stderr  # the offline banner, once per job
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert [p.name for p in jobs] == ["0", "1"]
    for job in jobs:
        summary = json.loads((job / "job.json").read_text())
        assert summary["status"] == "complete" and summary["simulated"] is True

    attempts = read_table(sweep, "attempts")
    findings = read_table(sweep, "findings")
    assert set(attempts["protocol"]) == {"stateless", "conversation"}
    assert attempts["simulated"].all() and set(attempts["provider"]) == {"simulated"}
    assert not attempts.duplicated(subset=ATTEMPT_KEY).any()
    assert len(findings) > 0 and set(findings["attempt_id"]) <= set(attempts["attempt_id"])
    # every chain ends exactly once, on its last recorded iteration
    chains = attempts.groupby(["job_id", "problem_id", "sample"])
    assert chains.ngroups == 2 * 3 * 2
    for _, chain in chains:
        chain = chain.sort_values("iteration")
        assert chain["stop_reason"].notna().tolist() == [False] * (len(chain) - 1) + [True]
        assert chain["iteration"].tolist() == list(range(1, len(chain) + 1))
    # counts agree with the findings table
    per_attempt = findings[findings["level"] == "E"].groupby("attempt_id").size()
    errors = attempts.set_index("attempt_id")["errors"]
    assert (per_attempt.reindex(errors.index, fill_value=0) == errors).all()
    assert attempts["cfn_lint_version"].nunique() == 1 and attempts["git_sha"].notna().all()

    for path in sweep.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for key in FAKE_KEYS.values():
                assert key.encode() not in data, f"API key leaked into {path}"


def test_config_error_is_one_line_and_no_rows(tmp_path: Path) -> None:
    done = run_benchmark("loop.max_iterations=0", f"hydra.run.dir={tmp_path / 'r'}")
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith("error: config error at 'loop.max_iterations'")
    )
    assert not list(tmp_path.rglob("part-*.parquet"))


def test_missing_api_key_is_one_line_before_any_call(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmark.run",
            "model.id=openai/gpt-4o",
            f"hydra.run.dir={tmp_path / 'r'}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "OPENAI_API_KEY" in done.stderr.strip().splitlines()[-1]


def test_unknown_prompt_set_is_a_clear_error(tmp_path: Path) -> None:
    done = run_benchmark("prompts=telepathic", f"hydra.run.dir={tmp_path / 'r'}")
    assert done.returncode != 0
    assert "prompts" in done.stderr and "paper" in done.stderr  # names the options
    assert not list(tmp_path.rglob("part-*.parquet"))
