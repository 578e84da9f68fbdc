"""`iacbench` (benchmark/cli.py): one front door, every command's help with examples, the
arguments and exit codes handed through, and `make help` naming every variable a target reads."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

import benchmark.run
from benchmark import cli
from benchmark.records.tables import read_table
from benchmark.runner.sweep_summary import SweepSummary

ROOT = Path(__file__).resolve().parent.parent
IACBENCH = Path(sys.executable).parent / "iacbench"  # the console script of this environment
PATHS = [
    *(name for name, entry in cli.COMMANDS.items() if not isinstance(entry, dict)),
    *(f"import {source}" for source in cli.IMPORTS),
]
MAKE_BUILTINS = {"MAKE", "MAKEFILE_LIST"}


def help_of(*args: str, capsys: pytest.CaptureFixture[str]) -> str:
    """What `iacbench ARGS --help` prints; its exit code must be 0."""
    try:
        code = cli.main([*args, "--help"])
    except SystemExit as done:  # argparse leaves after printing help
        code = done.code
    assert code in (0, None)
    return capsys.readouterr().out


@pytest.mark.parametrize("path", PATHS)
def test_every_command_has_help_with_an_example_of_itself(
    path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = help_of(*path.split(), capsys=capsys)
    assert text.startswith(f"usage: iacbench {path} "), text[:200]
    examples = text.split("examples:\n", 1)[1].splitlines()
    assert any(line.strip().startswith(f"iacbench {path} ") for line in examples), text


def test_the_top_and_the_import_group_list_their_commands(
    capsys: pytest.CaptureFixture[str],
) -> None:
    top = help_of(capsys=capsys)
    assert all(f"\n  {name} " in top for name in cli.COMMANDS)
    group = help_of("import", capsys=capsys)
    assert all(f"\n  {source} " in group for source in cli.IMPORTS)


def test_python_dash_m_benchmark_is_the_same_front_door() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmark", "--help"], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert "usage: iacbench" in done.stdout and "\n  validate-profile " in done.stdout


@pytest.mark.parametrize(
    ("command", "argv"),
    [
        ("run", ["iacbench", "dataset=smoke"]),
        ("sweep", ["iacbench", "-m", "dataset=smoke"]),
        ("plan", ["iacbench", "-m", "plan=true", "dataset=smoke"]),
    ],
)
def test_run_sweep_and_plan_hand_their_overrides_to_hydra_and_its_exit_code_back(
    command: str, argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = []

    def hydra_app() -> None:
        seen.append(list(sys.argv))
        sys.exit(7)  # as Hydra or the sweep summary leave on failure

    monkeypatch.setattr(benchmark.run, "main", hydra_app)
    before = list(sys.argv)
    with pytest.raises(SystemExit) as done:
        cli.main([command, "dataset=smoke"])
    assert done.value.code == 7 and seen == [argv]
    assert sys.argv == before  # restored for whoever called


def test_a_tools_exit_code_and_one_line_error_pass_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["report", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err


def test_an_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["sweeep"])
    assert done.value.code == 2
    assert "iacbench: error: argument COMMAND: invalid choice: 'sweeep'" in capsys.readouterr().err


def test_iacbench_sweep_writes_a_run_folder_and_names_the_next_command(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    done = subprocess.run(
        [
            str(IACBENCH),
            "sweep",
            "dataset=smoke",
            "dataset.limit=1",
            "loop.samples=1",
            "loop.max_iterations=2",
            "progress=false",
            "lint.workers=1",
            f"hydra.sweep.dir={sweep}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((sweep / "0" / "job.json").read_text())["status"] == "complete"
    assert len(read_table(sweep, "attempts")) == 2
    assert done.stdout.splitlines()[-1] == f"next: make report RUN={sweep}"


def summary_config(sweep: Path) -> object:
    return OmegaConf.create(
        {"plan": False, "hydra": {"sweep": {"dir": str(sweep)}, "overrides": {"task": []}}}
    )


@pytest.mark.parametrize("status", ["complete", "failed"])
def test_a_sweep_names_the_report_as_next_only_when_every_job_completed(
    status: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "0").mkdir()
    (tmp_path / "0" / "job.json").write_text(json.dumps({"status": status}))
    if status == "complete":
        SweepSummary().on_multirun_end(summary_config(tmp_path))
    else:
        with pytest.raises(SystemExit):
            SweepSummary().on_multirun_end(summary_config(tmp_path))
    said = "next: make report RUN=" in capsys.readouterr().out
    assert said == (status == "complete")


def recipe_variables(makefile: str) -> set[str]:
    """Every `$(NAME)` a target's recipe reads, make's own variables and lower-case helpers
    (`$(comma)`) aside."""
    recipes = [line for line in makefile.splitlines() if line.startswith("\t")]
    names = set(re.findall(r"\$\(([A-Z][A-Z0-9_]*)\)", "\n".join(recipes)))
    return names - MAKE_BUILTINS


def test_make_help_lists_every_variable_a_target_reads() -> None:
    variables = recipe_variables((ROOT / "Makefile").read_text())
    assert {"BASELINE_WHERE", "CANDIDATE_WHERE", "ARGS", "IACBENCH", "NAME"} <= variables
    shown = subprocess.run(
        ["make", "-s", "--no-print-directory", "help"], cwd=ROOT, capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    listed = set(re.findall(r"\b([A-Z][A-Z0-9_]*)=", shown.stdout.split("variables", 1)[1]))
    assert variables - listed == set()


def test_every_target_that_runs_the_harness_calls_iacbench() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert not re.search(r"\$\(PY\) -m (benchmark|analysis)", makefile)
    shown = subprocess.run(
        ["make", "-n", "--no-print-directory", "sweep", "PY=/venv/bin/python"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert shown.stdout.startswith("/venv/bin/iacbench sweep model.id=simulated/default,")
