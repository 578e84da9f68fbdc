"""`iacbench`: the one front door to the harness (also `python -m benchmark`).

Each command hands its arguments to the module that owns it, so every option is defined once:
run, sweep and plan go to the Hydra app (`benchmark.run`) as overrides; the others go to their
module's argparse `main(argv, prog=...)`. `iacbench COMMAND --help` shows a command's options
and examples; exit codes are the module's own.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from benchmark import __version__

PROG = "iacbench"
HELP = ("-h", "--help")


@dataclass(frozen=True)
class Tool:
    """A command an argparse module runs: `module.main([*prefix, *args], prog=...)`."""

    module: str
    summary: str
    prefix: tuple[str, ...] = ()  # the module's own subcommand, where it has several


@dataclass(frozen=True)
class HydraApp:
    """A command the Hydra app runs: `flags` and the user's overrides become its sys.argv."""

    module: str
    summary: str
    flags: tuple[str, ...]
    examples: tuple[str, ...]


Entry = Tool | HydraApp | dict[str, Tool]  # a command, or a group of them (import)

# The module behind each command, in one table. Each is imported only when its command runs
# (cli.main's dispatch): importing every tool up front would cost seconds of start-up (pandas,
# matplotlib, cfn-lint, boto3) for every command, `--help` included.
IMPORTS: dict[str, Tool] = {
    "paper-run": Tool(
        "benchmark.replication.import_paper", "the authors' recorded run as a run folder"
    ),
    "paper-protocol": Tool(
        "benchmark.problems.__main__",
        "the authors' prompts and requests as a dataset and prompt set",
        ("import", "paper-protocol"),
    ),
    "dpiaceval": Tool(
        "benchmark.problems.__main__",
        "DPIaC-Eval as a dataset, with its Checkov intents",
        ("import", "dpiaceval"),
    ),
    "generic": Tool(
        "benchmark.problems.__main__",
        "any CSV or JSONL prompt list as a dataset",
        ("import", "generic"),
    ),
}
COMMANDS: dict[str, Entry] = {
    "run": HydraApp(
        "benchmark.run",
        "one job: a model on a dataset through the feedback loop",
        (),
        ("iacbench run dataset=smoke", "iacbench run model.id=openai/gpt-4o --cfg job"),
    ),
    "sweep": HydraApp(
        "benchmark.run",
        "a Hydra multirun: one job per combination of the overrides",
        ("-m",),
        (
            "iacbench sweep model.id=simulated/default loop.max_iterations=10 "
            "prompts=paper,structured dataset=paper33",
            "iacbench sweep dataset=smoke resume=runs/<sweep>   # the same sweep, resumed",
        ),
    ),
    "plan": HydraApp(
        "benchmark.run",
        "calls, tokens and cost of a sweep, no call made",
        ("-m", "plan=true"),
        ("iacbench plan model.id=openai/gpt-4o,simulated/default dataset=paper33",),
    ),
    "report": Tool("analysis.report", "HTML + Markdown report of a run folder"),
    "frontier": Tool(
        "analysis.frontier", "which setting gives the most clean templates for a budget"
    ),
    "compare": Tool("analysis.compare", "a candidate run against a baseline run or the paper"),
    "drift": Tool("analysis.drift", "the same templates linted two ways"),
    "paper-figures": Tool("analysis.paper_figures", "the paper's Fig. 5 from their data"),
    "rescore": Tool(
        "benchmark.replication.rescore", "re-lint a run's templates into a new run folder"
    ),
    "import": IMPORTS,
    "check": Tool(
        "benchmark.problems.__main__", "datasets' references lint-clean and intact", ("check",)
    ),
    "calibrate": Tool("studies.cli", "a simulator profile from a run", ("calibrate",)),
    "validate-profile": Tool(
        "studies.cli",
        "a simulator profile against its source run",
        ("validate-profile",),
    ),
    "synthesize": Tool("studies.cli", "a simulated run of a profile", ("synthesize",)),
    "power": Tool("studies.cli", "SIMULATED power of compare for an effect", ("power",)),
    "sites": Tool("studies.cli", "lint the simulator's sites on a dataset", ("sites",)),
    "clean-cache": Tool(
        "benchmark.validators.cfn_lint.clean_cache", "empty the persistent lint cache"
    ),
    "cleanup": Tool(
        "benchmark.validators.deploy.cleanup",
        "delete the stacks a deploying sweep left",
        ("cleanup",),
    ),
}


def _listing(commands: Mapping[str, Entry]) -> str:
    width = max(map(len, commands)) + 2
    lines = []
    for name, entry in commands.items():
        summary = entry.summary if not isinstance(entry, dict) else ", ".join(entry)
        lines.append(f"  {name:<{width}}{summary}")
    return "\n".join(lines)


def _parser(
    prog: str, description: str, choices: Mapping[str, Entry], examples: Sequence[str]
) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        usage="%(prog)s [-h] COMMAND ...",
        description=description,
        epilog="commands:\n"
        + _listing(choices)
        + "\n\nexamples:\n"
        + "\n".join(f"  {line}" for line in examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "command",
        choices=list(choices),
        metavar="COMMAND",
        help=f"one of the commands below; `{prog} COMMAND --help` shows its options",
    )
    parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def _hydra_help(name: str, app: HydraApp) -> str:
    command = " ".join(["python -m", app.module, *app.flags])
    return "\n".join(
        [
            f"usage: {PROG} {name} [OVERRIDE ...] [HYDRA FLAG ...]",
            "",
            f"{app.summary[0].upper()}{app.summary[1:]}.",
            f"Runs `{command}` followed by these arguments.",
            "Overrides are Hydra's KEY=VALUE (comma-separated values make a sweep), such as",
            "model.id=, dataset=, prompts=, loop.max_iterations=, loop.samples=; conf/config.yaml",
            f"lists them all. Hydra's flags pass through: `{PROG} {name} --cfg job` prints the",
            "composed config, `--info` the config search path, `--hydra-help` Hydra's own help.",
            "",
            "examples:",
            *(f"  {line}" for line in app.examples),
        ]
    )


def _run_hydra(name: str, app: HydraApp, args: list[str]) -> int:
    if any(arg in HELP for arg in args):
        print(_hydra_help(name, app))
        return 0
    module = importlib.import_module(app.module)  # lazy: see COMMANDS
    saved = sys.argv
    sys.argv = [PROG, *app.flags, *args]  # Hydra reads its command line from sys.argv
    try:
        module.main()
    finally:
        sys.argv = saved
    return 0  # a failure leaves by SystemExit, with Hydra's or the sweep summary's code


def _run_tool(path: str, tool: Tool, args: list[str]) -> int:
    module = importlib.import_module(tool.module)  # lazy: see COMMANDS
    # a module with subcommands names them itself after `prog` ("iacbench check")
    prog = PROG if tool.prefix else f"{PROG} {path}"
    code = module.main([*tool.prefix, *args], prog=prog)
    return 0 if code is None else int(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    root = _parser(
        PROG,
        __doc__.split("\n\n")[0],
        COMMANDS,
        (
            "iacbench sweep dataset=smoke                  # offline: the simulator",
            "iacbench report runs/<sweep>",
            "iacbench COMMAND --help",
        ),
    )
    root.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    chosen = root.parse_args(args)
    name, rest, entry = chosen.command, chosen.args, COMMANDS[chosen.command]
    if isinstance(entry, dict):
        group = _parser(
            f"{PROG} {name}",
            "Import a published run or dataset.",
            entry,
            (f"{PROG} {name} paper-run <their repository>", f"{PROG} {name} SOURCE --help"),
        ).parse_args(rest)
        name, rest, entry = f"{name} {group.command}", group.args, entry[group.command]
    if isinstance(entry, HydraApp):
        return _run_hydra(name, entry, rest)
    return _run_tool(name, entry, rest)


if __name__ == "__main__":
    sys.exit(main())
