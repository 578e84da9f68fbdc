"""`python -m studies`: calibrate, validate, synthesize, power, check sites."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmark.config import ConfigError
from benchmark.help_examples import examples
from benchmark.problems.dataset import DatasetError
from benchmark.simulator.profile import ProfileError, write_profile
from studies import power
from studies.calibrate import MIN_SHARE_LISTED, calibrate, profile_header
from studies.design import Design, PowerError, design_problems
from studies.effects import LEVERS, Effect
from studies.power_report import reached, write
from studies.recorded_chains import CalibrationError
from studies.sitecheck import check_sites
from studies.split import Split
from studies.synthesize import synthesize
from studies.validate_profile import PASS_SHARE, validate


def _where(pairs: Sequence[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CalibrationError(f"--where {pair!r}: expected KEY=VALUE")
        out[key] = value
    return out


def _dataset(value: str | None) -> str | None:
    """A dataset folder, or a name under datasets/ (as `make` passes DATASET)."""
    if value is None or Path(value).is_dir() or not (Path("datasets") / value).is_dir():
        return value
    return str(Path("datasets") / value)


def _calibrate(args: argparse.Namespace) -> int:

    profile = calibrate(
        args.run,
        name=args.name,
        where=_where(args.where),
        dataset=_dataset(args.dataset),
        findings_source=args.findings_source,
        seed=args.seed,
        split=Split.parse(args.train, "--train") if args.train else None,
        harvest_fragments=args.harvest,
    )
    path = write_profile(profile, args.out, profile_header(profile))
    source, gen, coverage = profile["source"], profile["generation"], profile["coverage"]
    print(f"profile {profile['name']!r} -> {path}")
    print(
        f"source: {source['run']} ({source['model']}, origin {source['origin']}, "
        f"cfn-lint {source['cfn_lint_version']}, lint date {source['lint_as_of']}): "
        f"{source['chains']} chains, {source['attempts_used']} of {source['attempts']} attempts "
        f"used ({source['chains_past_clean']} chains went on past a clean attempt: cut there)"
    )
    print(
        f"generation: clean {gen['clean']['rate']}, findings when not clean "
        f"{gen['findings']['mean']}, not parsed {gen['parse_failure']['rate']}"
    )
    harvested = coverage.get("harvested") or {}
    print(
        f"coverage: the simulator can raise {coverage['covered_share']:.1%} of the source's "
        f"{coverage['findings']} errors and warnings"
        + (
            f" ({coverage['harvested_share']:.1%} by {len(harvested)} rules' harvested "
            "fragments: the profile carries the source's text, keep it out of commits)"
            if harvested
            else ""
        )
    )
    for row in coverage["uncovered"]:
        flag = "  <- at least 1 %" if row["share"] >= MIN_SHARE_LISTED else ""
        print(f"  uncovered {row['rule']}: {row['findings']} findings, {row['share']:.1%}{flag}")
    read = source["named_rules_read_from"]
    print(
        f"named rules read from: the feedback text at {read['text']} attempts, the recorded "
        f"findings at {read['recorded findings']}, not readable at {read['unread']} (left out)"
    )
    never = [rule for rule, block in profile["repair"]["fix"].items() if block.get("never_named")]
    if never:
        prior = profile["repair"]["never_named_prior"]
        print(
            f"never named in the source ({len(never)} rules: {', '.join(never[:8])}"
            f"{', ...' if len(never) > 8 else ''}): named, they are fixed at a rate drawn from "
            f"Beta{tuple(prior['beta'])} (mean {prior['mean']}, 95 % {prior['ci']})"
        )
    return 0


def _validate(args: argparse.Namespace) -> int:

    result = validate(
        args.profile,
        args.run,
        args.out,
        where=_where(args.where),
        dataset=_dataset(args.dataset),
        replicates=args.replicates,
        seed=args.seed,
        n_boot=args.n_boot,
        progress=True,
        lint_workers=args.lint_workers,
        test=Split.parse(args.test, "--test") if args.test else None,
    )
    verdict = "passes" if result.passed else "FAILS"
    held_out = f" (held out: {result.test})" if result.test else ""
    print(
        f"SIMULATED: profile {result.profile!r} {verdict} against its source {result.source}"
        f"{held_out}: {result.inside} of {len(result.table)} points inside the source's 95 % "
        f"intervals (at least {PASS_SHARE:.0%} needed)"
    )
    for row in result.misses().itertuples(index=False):
        print(
            f"  outside: {row.measure} at iteration {row.iteration}: simulated "
            f"{row.simulated_value:.3f}, source {row.source_value:.3f} "
            f"[{row.source_ci_low:.3f}, {row.source_ci_high:.3f}]"
        )
    print(f"table and figure: {result.out_dir}/validation.md")
    return 0 if result.passed else 1


def _synthesize(args: argparse.Namespace) -> int:

    summary = synthesize(
        args.profile,
        args.dataset,
        args.out,
        samples=args.samples,
        max_iterations=args.iterations,
        only=args.only.split(",") if args.only else None,
        prompts=args.prompts,
        protocol=args.protocol,
        seed=args.seed,
        continue_past_clean=not args.stop_at_clean,
        progress=True,
        lint_workers=args.lint_workers,
    )
    print(f"SIMULATED run of {summary.model}: {summary.chains} chains -> {args.out}")
    return 0


def _power(args: argparse.Namespace) -> int:

    if (args.effect is None) == (args.candidate is None):
        raise PowerError("give either --effect (k=+25%, C=-0.05, clean@5=+0.1) or --candidate")
    if args.candidate is not None and args.target is None:
        raise PowerError("--candidate needs --target (k, C or clean@n): what compare should detect")
    effect = Effect.parse(args.effect) if args.effect else Effect.target_only(args.target)
    design = Design(
        design_problems(args.dataset, args.problems),
        samples=args.samples,
        iterations=args.iterations,
        clean_when=args.clean_when,
        named_levels="E" if args.errors_only else "EW",
    )
    settings = power.Settings(args.replicates, args.n_boot, args.fit_boot, args.level, args.seed)
    result = power.analyse(
        args.profile,
        design,
        effect,
        candidate=args.candidate,
        lever=args.lever,
        sizes=_sizes(args.sizes) or power.DEFAULT_SIZES,
        wanted=args.power,
        settings=settings,
        progress=not args.quiet,
        as_source=args.as_source,
    )
    out = args.out or f"runs/power/{_folder(result, args.candidate is not None)}"
    md, _ = write(result, out)
    print(f"SIMULATED: power of make compare for {result.candidate} against {result.profile}")
    print(result.table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"smallest design reaching {result.wanted:.0%} power: {reached(result)}")
    print(f"table and figure: {md}")
    return 0


def _sizes(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(n) for n in text.split(","))
    except ValueError:
        raise PowerError(f"--sizes {text!r}: expected numbers like 1,2,5,10") from None


def _folder(result: Any, two_profiles: bool) -> str:
    """runs/power/<profile>_<effect>, e.g. default_k+25pct or default_vs_other_clean5."""
    base = result.profile.split("/")[-1]
    if two_profiles:
        return f"{base}_vs_{result.candidate.split('/')[-1]}_{result.effect.name}".replace("@", "")
    label = result.effect.label.replace(" ", "").replace("%", "pct").replace("@", "")
    return f"{base}_{label}"


def _sites(args: argparse.Namespace) -> int:

    table = check_sites(args.dataset, per_kind=args.per_kind, seed=args.seed)
    print(table.to_string(index=False))
    return 0


def parser(prog: str = "python -m studies") -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog=prog,
        description="The offline repair simulator (not an LLM): profiles from recorded runs.",
    )
    sub = root.add_subparsers(dest="command", required=True)

    c = sub.add_parser(
        "calibrate",
        help="estimate a profile from a recorded run's chains",
        description="Estimate a simulator profile from a recorded run's chains.",
        **examples(
            "iacbench calibrate runs/paper-gpt-4o --out conf/model/simulator/gpt-4o.yaml",
            "iacbench calibrate runs/<sweep> --out my.yaml --where prompt_set=paper --name mine",
        ),
    )
    c.add_argument("run", help="a run folder (or any folder above one)")
    c.add_argument("--out", required=True, help="the profile file to write (YAML)")
    c.add_argument("--name", help="the profile's name (default: from the source's model)")
    c.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="pick one model x prompt set x protocol group (repeatable)",
    )
    c.add_argument(
        "--dataset",
        help="the source's dataset: a folder or a name under datasets/ (default: the one its "
        "saved config names, else datasets/<its name>)",
    )
    c.add_argument(
        "--findings-source",
        help="the validator whose findings are read (default cfn-lint, behind the counts)",
    )
    c.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    c.add_argument(
        "--train",
        metavar="SPLIT",
        help="learn from these chains only: trials=1-3 (an imported run) or samples=0-14",
    )
    c.add_argument(
        "--harvest",
        action="store_true",
        help="raise the rules the catalogue cannot with the smallest fragments of the source "
        "that raise them alone (each linted on a reference); the profile then carries the "
        "source's text and says so in its header",
    )
    c.set_defaults(run_command=_calibrate)

    # "validate" is the name it had before `iacbench validate-profile`
    v = sub.add_parser(
        "validate-profile",
        aliases=["validate"],
        help="simulate a profile against its source run, per iteration",
        description="Simulate a profile against its source run and check it, per iteration.",
        **examples(
            "iacbench validate-profile gpt-4o --run runs/paper-gpt-4o",
            "iacbench validate-profile my.yaml --run runs/<sweep> --where prompt_set=paper",
        ),
    )
    v.add_argument("profile", help="a profile name (conf/model/simulator/) or file")
    v.add_argument("--run", required=True, help="the source run folder")
    v.add_argument("--out", help="output folder (default RUN-validation/<profile>, beside the run)")
    v.add_argument("--where", action="append", default=[], metavar="KEY=VALUE")
    v.add_argument(
        "--dataset",
        help="the source's dataset: a folder or a name under datasets/ (default: the one its "
        "saved config names, else datasets/<its name>)",
    )
    v.add_argument("--replicates", type=int, default=4, help="simulated samples per source sample")
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--n-boot", type=int, default=2000)
    v.add_argument("--lint-workers", type=int, default=2)
    v.add_argument(
        "--test",
        metavar="SPLIT",
        help="compare with these chains only (held out: e.g. trials=4-6 or samples=15-29)",
    )
    v.set_defaults(run_command=_validate)

    s = sub.add_parser(
        "synthesize",
        help="a synthetic (simulated) run of a profile",
        description="A synthetic (simulated) run folder of a profile, without Hydra.",
        **examples(
            "iacbench synthesize default --dataset datasets/paper33 --out runs/synthetic",
        ),
    )
    s.add_argument("profile", help="a profile name (conf/model/simulator/) or file")
    s.add_argument("--dataset", required=True, help="a dataset folder")
    s.add_argument("--out", required=True, help="a new run folder")
    s.add_argument("--samples", type=int, default=5)
    s.add_argument("--iterations", type=int, default=10)
    s.add_argument("--only", help="comma-separated problem ids")
    s.add_argument("--prompts", default="paper")
    s.add_argument("--protocol", default="stateless", choices=["stateless", "conversation"])
    s.add_argument("--seed", type=int, default=0)
    s.add_argument(
        "--stop-at-clean",
        action="store_true",
        help="stop chains at a clean attempt (default: go on, as the paper's loop did)",
    )
    s.add_argument("--lint-workers", type=int, default=2)
    s.set_defaults(run_command=_synthesize)

    w = sub.add_parser(
        "power",
        help="power of make compare for an effect, by samples per problem",
        description="SIMULATED power of `iacbench compare` for an effect, by samples per problem.",
        **examples(
            "iacbench power default --effect k=+20%",
            "iacbench power default --candidate synthetic-example --target clean@5",
        ),
    )
    w.add_argument("profile", help="the baseline: a profile name (conf/model/simulator/) or file")
    w.add_argument(
        "--effect", help="k=+0.3, k=+25%%, C=-0.05 or clean@5=+0.1 (candidate - baseline)"
    )
    w.add_argument("--candidate", help="instead of --effect: the candidate's profile")
    w.add_argument("--target", help="with --candidate: k, C or clean@n")
    w.add_argument(
        "--lever",
        choices=list(LEVERS),
        help="what the effect changes (default: fix for k, persistent for C, fix-all for "
        "clean@n, generation for clean@1)",
    )
    w.add_argument("--dataset", default="paper33", help="the design's problems: a folder or name")
    w.add_argument("--problems", type=int, help="the first n problems (cycled past the dataset)")
    w.add_argument("--samples", type=int, default=5, help="the design's samples per problem")
    w.add_argument("--iterations", type=int, default=10)
    w.add_argument(
        "--clean-when",
        default="no_errors_or_warnings",
        choices=["no_errors", "no_errors_or_warnings", "no_findings"],
    )
    w.add_argument("--errors-only", action="store_true", help="feedback names errors only")
    w.add_argument("--replicates", type=int, default=100, help="simulated experiments per size")
    w.add_argument("--sizes", help="samples per problem to try (default 1,2,3,5,8,13,20,30,50)")
    w.add_argument("--power", type=float, default=0.8, help="the power wanted")
    w.add_argument("--level", type=float, default=0.95, help="make compare's CI level")
    w.add_argument("--n-boot", type=int, default=1000, help="compare's bootstrap resamples")
    w.add_argument("--fit-boot", type=int, default=200, help="compare's refits (k, C)")
    w.add_argument("--seed", type=int, default=0)
    w.add_argument("--out", help="output folder (default runs/power/<profile>_<effect>)")
    w.add_argument("--quiet", action="store_true", help="no progress bar")
    w.add_argument(
        "--as-source",
        action="store_true",
        help="rules the profile's source never named stay as unfixed as there (default: "
        "named, fixed at a rate drawn per replicate from the profile's prior)",
    )
    w.set_defaults(run_command=_power)

    k = sub.add_parser(
        "sites",
        help="lint sampled catalogue sites of a dataset, alone",
        description="Lint sampled catalogue sites of a dataset, each alone on its reference.",
        **examples("iacbench sites datasets/paper33 --per-kind 5"),
    )
    k.add_argument("dataset", help="a dataset folder")
    k.add_argument("--per-kind", type=int, default=20, help="sites linted per kind (sampled)")
    k.add_argument("--seed", type=int, default=0)
    k.set_defaults(run_command=_sites)
    return root


def main(argv: Sequence[str] | None = None, prog: str = "python -m studies") -> None:
    args = parser(prog).parse_args(argv)
    try:
        code = args.run_command(args)
    except (
        CalibrationError,
        ProfileError,
        PowerError,
        ConfigError,
        DatasetError,
        FileExistsError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 2
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 2
    sys.exit(code)
