"""`python -m benchmark.problems check [DIR ...]` and `python -m benchmark.problems import ...`
(dpiaceval, multi-iac-eval, generic, paper-protocol)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from benchmark.help_examples import examples
from benchmark.problems.check import check_dataset, warm_lint
from benchmark.problems.check_cdk import Synth, local_synth
from benchmark.problems.dataset import DatasetError, load_dataset
from benchmark.problems.importers.dpiaceval import import_dpiaceval
from benchmark.problems.importers.generic import import_generic, parse_mapping
from benchmark.problems.importers.multi_iac_eval import import_multi_iac_eval
from benchmark.problems.importers.output import DatasetImportError
from benchmark.problems.importers.paper_protocol import import_paper_protocol
from benchmark.problems.importers.template_folder import REQUEST_FROM, import_template_folder
from benchmark.validators.cdk.sandbox import cdk_available

DATASETS = Path(__file__).resolve().parents[2] / "datasets"
DEFAULT_CHECKED = (
    DATASETS / "paper33",
    DATASETS / "smoke",
    DATASETS / "edit33",
    DATASETS / "paper33-cdk",
)
LOCAL = DATASETS / "local"  # where imports go by default: users' copies, never committed


def _parser(prog: str = "python -m benchmark.problems") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser(
        "check",
        help="lint references, run intent checks, find vacuity",
        description="Lint every reference template, run its intent checks, find vacuous checks.",
        **examples(
            "iacbench check                        # the shipped datasets",
            "iacbench check datasets/local/dpiaceval",
        ),
    )
    check.add_argument("dirs", nargs="*", type=Path, help="dataset folders (default: shipped)")

    importing = commands.add_parser("import", help="import a published dataset")
    sources = importing.add_subparsers(dest="source", required=True)

    dpi = sources.add_parser(
        "dpiaceval",
        help="DPIaC-Eval CSV + ground truth + Checkov intents",
        description="Import DPIaC-Eval: its CSV, ground-truth templates and Checkov intents.",
        **examples(
            "iacbench import dpiaceval <download>/iac_basic.csv",
            "iacbench import dpiaceval <download>/iac_with_user_intent.csv --strict",
        ),
    )
    dpi.add_argument(
        "csv",
        type=Path,
        help="iac_basic.csv, iac_with_difficulty_levels.csv or "
        "iac_with_user_intent.csv from your download",
    )
    dpi.add_argument("--out", type=Path, default=LOCAL / "dpiaceval")
    dpi.add_argument(
        "--root",
        type=Path,
        help="folder the CSV's relative paths start from "
        "(default: the CSV's parent folder, then its own folder)",
    )
    dpi.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first row that cannot be imported (missing file, empty prompt, ...) "
        "instead of skipping and counting it",
    )
    dpi.add_argument(
        "--keep-failing",
        action="store_true",
        help="keep translated checks that the reference template fails",
    )
    dpi.add_argument("--overwrite", action="store_true")

    mie = sources.add_parser(
        "multi-iac-eval",
        help="Multi-IaC-Eval CSV: its CloudFormation rows as edit problems",
        description="Import Multi-IaC-Eval's CSV (source, initial, expected, utterance, "
        "source_repo): each CloudFormation row an edit problem, no intent checks.",
        **examples(
            "iacbench import multi-iac-eval <download>/multi_iac_eval.csv",
            "iacbench import multi-iac-eval <download>/multi_iac_eval.csv --strict",
        ),
    )
    mie.add_argument("csv", type=Path, help="the published CSV, from your download")
    mie.add_argument("--out", type=Path, default=LOCAL / "multi-iac-eval")
    mie.add_argument(
        "--strict",
        action="store_true",
        help="a skipped CloudFormation row (empty, unparseable, duplicate) is an error "
        "(rows of another format, Terraform or CDK, are still skipped)",
    )
    mie.add_argument("--overwrite", action="store_true")

    gen = sources.add_parser(
        "generic",
        help="a folder of templates, or any CSV/JSONL prompt list with a column mapping",
        description="Import a folder of CloudFormation templates (each its own reference, the "
        "request from its Description or leading comments), or any CSV or JSONL prompt list, "
        "naming its columns with --map.",
        **examples(
            "iacbench import generic prompts.jsonl --out datasets/local/mine "
            "--map prompt=question --map id=task_id",
            "iacbench import generic <clone>/cloudformation --out datasets/local/iac-model-eval "
            "--request-from comments",
        ),
    )
    gen.add_argument("input", type=Path, help="a folder of templates, or a .csv or .jsonl file")
    gen.add_argument("--out", type=Path, required=True)
    gen.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="e.g. --map prompt=question --map id=task_id (repeatable)",
    )
    gen.add_argument(
        "--id-prefix",
        help="ids for rows without an id column (default: file stem); "
        "for a folder, put before each template's stem",
    )
    gen.add_argument(
        "--request-from",
        choices=REQUEST_FROM,
        default="description",
        help="a folder of templates: the request is each template's Description (default) "
        "or its leading comment block",
    )
    gen.add_argument("--overwrite", action="store_true")

    paper = sources.add_parser(
        "paper-protocol",
        help="the paper authors' prompts and requests, read from their script (never run)",
        description="The paper authors' prompts and requests, read from their script (never run).",
        **examples(
            "iacbench import paper-protocol <their repository>",
            "iacbench sweep dataset=paper-original prompts=paper-original",
        ),
    )
    paper.add_argument("repo", type=Path, help="their repository root (or its cfFilesBatching2.py)")
    paper.add_argument("--out", type=Path, default=LOCAL / "paper-original")
    paper.add_argument(
        "--conf-dir",
        type=Path,
        default=LOCAL / "conf",
        help="where the dataset and prompt-set configs go (conf/config.yaml's hydra.searchpath)",
    )
    paper.add_argument("--overwrite", action="store_true")
    return parser


def _check(dirs: list[Path]) -> int:

    started = time.monotonic()
    lint = warm_lint()
    synth: Synth | None = None
    failed = False
    for directory in dirs or list(DEFAULT_CHECKED):
        if is_cdk_dataset(directory):
            reason = cdk_available()
            if reason:
                # a CDK dataset asked for by name fails; the default set skips it and says so
                failed |= bool(dirs)
                print(f"{directory}: skipped: {reason}")
                continue
            synth = synth or local_synth()
        report = check_dataset(directory, lint, synth)
        failed |= not report.ok
        status = "ok" if report.ok else f"{len(report.failures)} failure(s)"
        print(f"{directory}: {report.problems} problems, {status}")
        if report.prompt_only:
            n = len(report.prompt_only)
            print(
                f"  note: {n} prompt-only problem{'s' if n > 1 else ''} skipped (no reference "
                f"to check against): {', '.join(report.prompt_only)}"
            )
        if report.no_intent:
            n = len(report.no_intent)
            print(
                f"  note: {n} imported problem{'s' if n > 1 else ''} without intent checks "
                f"(intent: not available; references linted only)"
            )
        if report.lint_failing:
            checked = report.problems - len(report.prompt_only)
            print(f"  references failing cfn-lint: {len(report.lint_failing)} of {checked}")
            for problem_id, rules in sorted(report.lint_failing.items()):
                print(f"    {problem_id}: {', '.join(rules)}")
        for line in report.edits:
            print(f"  edit {line}")
        for line in report.failures:
            print(f"  {line}")
    print(f"checked in {time.monotonic() - started:.1f}s")
    return 1 if failed else 0


def is_cdk_dataset(directory: Path) -> bool:
    """Whether any problem under `directory` is a CDK app (a folder that does not load is left
    to the check, which reports why)."""
    try:
        return any(p.language == "cdk-python" for p in load_dataset(directory))
    except DatasetError:
        return False


def main(argv: list[str] | None = None, prog: str = "python -m benchmark.problems") -> int:
    args = _parser(prog).parse_args(argv)
    if args.command == "check":
        return _check(args.dirs)

    try:
        if args.source == "dpiaceval":
            report = import_dpiaceval(
                args.csv, args.out, args.root, args.strict, args.keep_failing, args.overwrite
            )
        elif args.source == "multi-iac-eval":
            report = import_multi_iac_eval(args.csv, args.out, args.strict, args.overwrite)
        elif args.source == "generic" and args.input.is_dir():
            if args.map:
                raise DatasetImportError(
                    f"{args.input}: --map reads a prompt list's columns; "
                    "a folder of templates has none"
                )
            report = import_template_folder(
                args.input, args.out, args.request_from, args.id_prefix, args.overwrite
            )
        elif args.source == "paper-protocol":
            report = import_paper_protocol(args.repo, args.out, args.conf_dir, args.overwrite)
        else:
            report = import_generic(
                args.input, args.out, parse_mapping(args.map), args.id_prefix, args.overwrite
            )
    except DatasetImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(report.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
