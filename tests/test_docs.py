"""The README and the documentation site say only what is true: every `make` target and variable
and every `python -m` module they name exists, every block marked to run runs and prints what
the docs show, and the site builds in strict mode."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from benchmark.cli import COMMANDS, HydraApp
from tests.docs_blocks import (
    ROOT,
    Block,
    doc_files,
    expected_lines,
    iacbench_mentions,
    makefile_targets_and_variables,
    mentions,
    normalise,
    runnable,
)

DOCS = doc_files()
# What a run block sees of the project: its files, linked into a folder of its own whose runs/
# is empty, so a documented command writes nothing into the checkout.
LINKED = ["Makefile", "pyproject.toml", "mkdocs.yml", "README.md", ".venv"]
LINKED += ["conf", "datasets", "benchmark", "analysis", "tests", "docs"]


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_readme_fits_on_a_few_screens() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    for command in ("make install", "make test", "make test-all"):
        assert f"`{command}`" in readme or f"\n{command} " in readme, command


def test_the_docs_were_found() -> None:
    names = {_id(path) for path in DOCS}
    assert {"README.md", "docs/index.md", "docs/getting-started.md"} <= names
    # snippets: the walk-through is README's, the references are the folders' own READMEs
    assert {"datasets/README.md", "analysis/README.md"} <= names
    assert any(runnable(path) for path in DOCS)


@pytest.mark.parametrize("path", DOCS, ids=_id)
def test_every_make_command_names_a_real_target_and_variables(path: Path) -> None:
    targets, variables = makefile_targets_and_variables()
    makes, _ = mentions(path)
    wrong = [m.text for m in makes if m.target not in targets]
    wrong += [
        f"{m.text}: {arg.split('=')[0]}"
        for m in makes
        for arg in m.args
        if arg.split("=")[0] not in variables
    ]
    assert not wrong, f"{_id(path)} names make targets or variables the Makefile lacks: {wrong}"


@pytest.mark.parametrize("path", DOCS, ids=_id)
def test_every_python_m_names_a_runnable_module(path: Path) -> None:
    _, modules = mentions(path)
    wrong = [m.text for m in modules if not _runnable_module(m.target)]
    assert not wrong, f"{_id(path)} names modules that `python -m` cannot run: {wrong}"


def _runnable_module(name: str) -> bool:
    """A module, or a package with a __main__, that `python -m` would run."""
    if name in ("pip", "venv", "pytest", "mkdocs"):
        return True
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError:
        return False
    if spec is None:
        return False
    if spec.submodule_search_locations is None:
        return True
    return importlib.util.find_spec(f"{name}.__main__") is not None


def _iacbench_help(words: tuple[str, ...]) -> str:
    """`iacbench WORDS --help` (in process: the CLI imports a tool only to run it)."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmark", *words, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, f"iacbench {' '.join(words)} --help: {out.stderr[-500:]}"
    return out.stdout


@pytest.mark.parametrize("path", DOCS, ids=_id)
def test_every_iacbench_command_is_one_it_has(path: Path) -> None:
    wrong = []
    for mention in iacbench_mentions(path):
        entry = COMMANDS.get(mention.target)
        if entry is None:
            wrong.append(mention.text)
        elif isinstance(entry, dict) and mention.args and mention.args[0] not in entry:
            wrong.append(mention.text)  # a group (import) with a source it does not have
    assert not wrong, f"{_id(path)} names iacbench commands it does not have: {wrong}"


@pytest.mark.slow  # one process per command named
def test_every_flag_of_an_iacbench_command_is_one_it_takes() -> None:
    flags: dict[tuple[str, ...], set[str]] = {}
    for path in DOCS:
        for mention in iacbench_mentions(path):
            entry = COMMANDS.get(mention.target)
            if entry is None or isinstance(entry, HydraApp):
                continue  # unknown: the test above; run/sweep/plan take Hydra overrides
            grouped = isinstance(entry, dict) and mention.args
            words = (mention.target, mention.args[0]) if grouped else (mention.target,)
            named = set(re.findall(r"--[a-z][a-z0-9-]*", " ".join(mention.args)))
            flags.setdefault(words, set()).update(named)
    wrong = []
    for words, named in sorted(flags.items()):
        if named:
            text = _iacbench_help(words)
            wrong += [
                f"iacbench {' '.join(words)} {flag}" for flag in sorted(named) if flag not in text
            ]
    assert not wrong, f"the docs name flags their iacbench commands do not take: {wrong}"


def test_the_iacbench_checker_catches_a_stale_command(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Run `iacbench comapre --baseline paper`, then\n"
        "```bash\niacbench import nowhere x.csv\n.venv/bin/iacbench rescore runs/x\n```\n"
    )
    found = [(m.target, m.args) for m in iacbench_mentions(page)]
    assert found == [  # the blocks first, then the inline spans
        ("import", ["nowhere", "x.csv"]),
        ("rescore", ["runs/x"]),
        ("comapre", ["--baseline", "paper"]),
    ]
    assert "comapre" not in COMMANDS and "nowhere" not in COMMANDS["import"]


def test_the_checker_catches_a_stale_command(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Run `make comapre BASELINE=paper` or `make compare BASELNE_WHERE=x`,\n"
        "```bash\npython -m benchmark.nowhere runs/x\n```\n"
    )
    targets, variables = makefile_targets_and_variables()
    makes, modules = mentions(page)
    assert [m.target for m in makes] == ["comapre", "compare"]
    assert "comapre" not in targets and "BASELNE_WHERE" not in variables
    assert "BASELINE_WHERE" in variables and "CANDIDATE_WHERE" in variables
    assert [m.target for m in modules] == ["benchmark.nowhere"]
    assert not _runnable_module("benchmark.nowhere")


def _sandbox(tmp_path: Path) -> Path:
    """A folder that looks like the checkout to a documented command, with runs/ of its own."""
    box = tmp_path / "project"
    box.mkdir()
    for name in LINKED:
        if (ROOT / name).exists():
            (box / name).symlink_to(ROOT / name)
    (box / "runs").mkdir()
    return box


def _run_file(path: Path, tmp_path: Path, kinds: tuple[str, ...]) -> None:
    """Runs a file's marked blocks of these kinds in order, in one sandbox, checking outputs."""
    box = _sandbox(tmp_path)
    env = {**os.environ, "PY": str(ROOT / ".venv" / "bin" / "python"), "NO_COLOR": "1"}
    env.pop("MAKEFLAGS", None)
    for block, output in runnable(path):
        if block.marker not in kinds:
            continue
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block.code],
            cwd=box,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        printed = done.stdout + done.stderr
        where = f"{_id(path)}:{block.line}"
        assert done.returncode == 0, f"{where} exited {done.returncode}:\n{printed[-3000:]}"
        if output is not None:
            _check_output(where, output, printed)


def _check_output(where: str, output: Block, printed: str) -> None:
    lines = [normalise(line) for line in printed.replace("\r", "\n").splitlines()]
    missing = [
        shown
        for shown, pattern in expected_lines(output)
        if not any(pattern.search(line) for line in lines)
    ]
    assert not missing, (
        f"{where}: the docs show lines it did not print: {missing}\n{printed[-3000:]}"
    )


QUICK = [path for path in DOCS if any(b.marker == "run" for b, _ in runnable(path))]
SLOW = [path for path in DOCS if any(b.marker == "run: slow" for b, _ in runnable(path))]


@pytest.mark.parametrize("path", QUICK, ids=_id)
def test_quick_documented_commands_run(path: Path, tmp_path: Path) -> None:
    _run_file(path, tmp_path, ("run",))


@pytest.mark.slow
@pytest.mark.parametrize("path", SLOW, ids=_id)
def test_documented_walk_throughs_run_and_print_what_they_show(path: Path, tmp_path: Path) -> None:
    _run_file(path, tmp_path, ("run", "run: slow"))


def _mkdocs(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        cwd=config.parent,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_site_builds_in_strict_mode(tmp_path: Path) -> None:
    done = _mkdocs(ROOT / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stderr[-3000:]
    walk_through = (tmp_path / "site" / "getting-started" / "index.html").read_text()
    assert "sweep runs/demo: 2 of 2 jobs complete" in walk_through  # README's, included
    assert (
        "Problem file schema"
        in (tmp_path / "site" / "datasets-reference" / "index.html").read_text()
    )


@pytest.mark.parametrize(
    ("page", "broken"),
    [
        ("loop.md", "See [nowhere](no-such-page.md).\n"),
        ("loop.md", "See [a heading](models.md#no-such-heading).\n"),
        ("orphan.md", "# A page no one lists in nav\n"),
        ("loop.md", '--8<-- "no/such/file.md"\n'),
    ],
    ids=["link", "anchor", "page-not-in-nav", "snippet"],
)
def test_a_broken_site_fails_the_build(tmp_path: Path, page: str, broken: str) -> None:
    copy = tmp_path / "project"
    copy.mkdir()
    for name in ("mkdocs.yml", "docs", "README.md", "datasets", "analysis"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("*.py", "paper33"))
        else:
            shutil.copy(source, copy / name)
    target = copy / "docs" / page
    target.write_text((target.read_text() if target.exists() else "") + "\n" + broken)
    done = _mkdocs(copy / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0, f"{page} with {broken!r} built anyway"


def test_an_output_block_that_was_not_printed_fails() -> None:
    shown = Block(
        ROOT / "README.md", 1, "text", "wrote …/report.md\njob 0 done: 3 chains\n", "output"
    )
    _check_output("here", shown, "\rwrote  runs/x/report.md\njob 0 done:   3 chains in 2s\n")
    with pytest.raises(AssertionError, match="job 1 done"):
        _check_output("here", replace(shown, code="job 1 done: 3 chains\n"), "job 0 done: 3 chains")


def _help(module: str, words: tuple[str, ...] = (), depth: int = 2) -> str:
    """`python -m MODULE [WORDS] --help`, and that of every subcommand below it."""
    done = subprocess.run(
        [sys.executable, "-m", module, *words, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    text = done.stdout
    usage = text.split("\n\n", 1)[0]
    choices = re.search(r"\{([\w,-]+)\}", usage)
    if choices and depth:
        for word in choices.group(1).split(","):
            text += _help(module, (*words, word), depth - 1)
    return text


@pytest.mark.slow
def test_every_documented_flag_is_one_its_module_takes() -> None:
    flags: dict[str, set[str]] = {}
    for path in DOCS:
        for mention in mentions(path)[1]:
            named = set(re.findall(r"--[a-z][a-z0-9-]*", " ".join(mention.args)))
            flags.setdefault(mention.target, set()).update(named)
    wrong = []
    for module, named in sorted(flags.items()):
        if named and module.startswith(("benchmark", "analysis")):
            text = _help(module)
            wrong += [f"python -m {module} {flag}" for flag in sorted(named) if flag not in text]
    assert not wrong, f"the docs name flags their modules do not take: {wrong}"
