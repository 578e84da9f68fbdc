"""One self-contained HTML page (and the same in Markdown) for a sweep.

Usage: python -m analysis.report RUN [--out DIR]

Sections: what ran; per-iteration measures with 95 % CIs; curves with fitted decay lines and
bootstrap bands; feedback designs compared (when a model ran several prompt sets or
protocols); security compliance per iteration (when the run has Checkov checks); per group the
fit table (A, k, C, half-life, plateau, R², AIC against rivals), churn, rule heatmap, security
and a comparison with the paper's published baseline; for CDK apps the stage chains stop at, and
CloudFormation vs CDK for a model that ran both. A loud banner appears wherever any
attempt row came from the simulated model; a plain notice where rows are recorded (a published
run, imported). "What ran" states, per group, the rows' origin, dataset, prompt set, output
format, cfn-lint release and lint date, and says when the groups were not linted alike.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import figures
from analysis.agent_section import agent_section
from analysis.banner import SIMULATED_BANNER, recorded_banner
from analysis.churn import churn_by_iteration
from analysis.compare import FEW_PROBLEMS
from analysis.compare_language import language_section
from analysis.compare_sides import went_on_note
from analysis.cost_frontier import with_axes
from analysis.cost_section import cost_section, pass_k_section
from analysis.deploy import deploy_section, has_deploy
from analysis.designs import design_table, has_designs
from analysis.edit_section import edit_section
from analysis.fit import bootstrap_params, fit_decay, summarize
from analysis.load import (
    GROUP_KEYS,
    chain_status,
    fill_chains,
    group_label,
    load_run,
    select,
    went_on_after_clean,
)
from analysis.measures import (
    LABELS,
    ProblemData,
    per_iteration,
    problem_data,
    resample_weights,
    wide_table,
)
from analysis.mended import mended_notes
from analysis.multiples import curves_section
from analysis.provenance import Provenance
from analysis.render import Page, write_csv
from analysis.report_header import group_provenance, lint_note, provenance_table, what_ran
from analysis.report_sections import (
    designs_section,
    intent_not_available,
    paper_original_intent,
    paper_section,
    plan_section,
    security_section,
    slug,
)
from analysis.rules import rule_frequency, rule_matrix
from analysis.security import (
    NO_SECURITY,
    compliance_by_iteration,
    compliance_table,
    failed_checks,
    failed_table,
    has_security,
)
from analysis.stage_section import stage_section
from benchmark.progress import progress_bar

PAPER_ORIGINAL_INTENT = (
    "Intent checks on dataset paper-original: they were written for this project's own wording "
    "of each topic (paper33), not for the authors' prompts, so a template that does what the "
    "authors asked can still fail one, and the reverse."
)
RECORDED_FINDINGS = (
    "Churn and rules count the configured cfn-lint's findings only; the findings recorded by "
    "the authors are left out (`python -m analysis.drift {run} --recorded` compares the two)."
)
FITTED = [("errors", "mean"), ("warnings", "mean"), ("findings", "mean"), ("clean", "mean")]


@dataclass
class Report:
    markdown: Path
    html: Path
    simulated: bool
    per_iteration: pd.DataFrame
    fits: pd.DataFrame
    designs: pd.DataFrame | None = None  # `designs.design_table`, when the section is shown
    security: pd.DataFrame | None = None  # `security.compliance_by_iteration`, when present
    recorded: str | None = None  # the recorded notice, when the run holds recorded rows
    deploy: pd.DataFrame | None = None  # `deploy.deploy_by_iteration`, when present


def fit_groups(
    datasets: dict[tuple, ProblemData],
    group_keys: list[str],
    n_boot: int,
    seed: int,
    progress: bool,
) -> tuple[pd.DataFrame, dict[tuple, np.ndarray]]:
    """Fit summary per group × fitted measure, and the bootstrap parameters (for bands)."""
    rng = np.random.default_rng(seed)
    rows, boots = [], {}
    jobs = [(g, m) for g in datasets for m in FITTED]
    for group, (measure, stat) in progress_bar(jobs, desc="decay fits", disable=not progress):
        data = datasets[group]
        t = data.iterations.astype(float)
        y = data.point(measure, stat)
        boot = None
        fit = fit_decay(t, y)
        if fit is not None and n_boot > 0 and len(data.problems) > 1:
            weights = resample_weights(len(data.problems), n_boot, rng)
            boot = bootstrap_params(t, data.replicates(measure, weights, stat), fit.params)
            boots[(group, measure)] = boot
        row = summarize(t, y, boot)
        rows.append(
            {**dict(zip(group_keys, group, strict=True)), "measure": LABELS[(measure, stat)], **row}
        )
    return pd.DataFrame(rows), boots


def _fit_display(fits: pd.DataFrame) -> pd.DataFrame:
    def ci(row: pd.Series, name: str, fmt: str = "{:.3g}") -> str:
        if name not in row or pd.isna(row[name]):
            return "–"
        return f"{fmt.format(row[name])} [{fmt.format(row[name + '_low'])}, " + (
            f"{fmt.format(row[name + '_high'])}]"
        )

    out = pd.DataFrame({"measure": fits["measure"]})
    for name in ("A", "k", "C", "half_life"):
        out[name] = fits.apply(lambda r, n=name: ci(r, n), axis=1)
    for name in ("plateau_iteration", "r2"):
        out[name] = fits.get(name)
    for model in ("decay+plateau", "exponential", "linear"):
        out[f"AIC {model}"] = fits.get(f"aic[{model}]")
    out["best (AIC)"] = fits.get("best_by_aic")
    method = fits["ci_method"] if "ci_method" in fits else pd.Series(index=fits.index)
    note = fits["note"] if "note" in fits else pd.Series(index=fits.index)
    out["CI method"] = method.astype(object).fillna(note.astype(object))
    return out


def build_report(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    n_boot: int = 2000,
    fit_boot: int = 500,
    seed: int = 0,
    stopped: str = "carry",
    group_keys: list[str] = GROUP_KEYS,
    progress: bool = False,
) -> Report:
    """Read the run, compute everything, write report.md / report.html / CSVs / figures."""
    run = load_run(run_dir)
    run.attempts, group_keys = with_axes(run.attempts, group_keys)
    out = Path(out_dir) if out_dir else Path(run_dir) / "report"
    sim = run.simulated
    detail = f"{run.simulated_rows} of {len(run.attempts)} attempt rows are simulated"
    status = chain_status(run.attempts, group_keys)
    chains = fill_chains(run.attempts, stopped, group_keys)  # type: ignore[arg-type]
    datasets = problem_data(chains, group_keys)
    long = per_iteration(chains, group_keys, n_boot=n_boot, seed=seed, progress=progress)
    fits, boots = fit_groups(datasets, group_keys, fit_boot, seed, progress)
    churn = churn_by_iteration(run.attempts, run.findings, group_keys)
    rules = rule_frequency(chains, run.findings, group_keys)
    security = failed = None
    if has_security(run.attempts):
        security = compliance_by_iteration(datasets, group_keys, n_boot, seed)
        failed = failed_checks(chains, run.checks, group_keys)
    designs = None
    if has_designs(run.attempts, group_keys):
        designs = design_table(long, fits, security, group_keys)

    provenances = group_provenance(run, list(datasets), group_keys)
    recorded = run.recorded_rows > 0
    notices = []
    if recorded:
        whole = Provenance.of_attempts(run.attempts, "run")
        notices.append(recorded_banner(whole.recorded_from))
    origin = "+".join(sorted({o for p in provenances.values() for o in p.origins})) or "run"
    page = Page(
        f"Sweep report: {run.name}",
        out,
        simulated=sim,
        banner_detail=detail,
        recorded=notices,
    )
    page.heading("What ran")
    page.bullets(what_ran(run, status))
    page.table(
        provenance_table(provenances),
        caption="Per group: origin, dataset, prompt set, output format, cfn-lint and lint date",
    )
    for note in mended_notes(run.attempts):  # usage recorded as null, replies cut
        page.text(note, note=True)
    uneven = lint_note(provenances, str(run_dir))
    if uneven:
        page.text(uneven, note=True)
    went_on = went_on_after_clean(run.attempts, group_keys)
    if went_on:
        page.text(went_on_note("This run", went_on), note=True)
    if recorded:
        page.text(RECORDED_FINDINGS.format(run=run_dir), note=True)
    if paper_original_intent(run.attempts):
        page.text(PAPER_ORIGINAL_INTENT, note=True)
    policy = "carried forward from its last scored attempt" if stopped == "carry" else "excluded"
    page.text(
        f"Method: every chain is extended to its group's last iteration. A chain that stopped "
        f"clean repeats its clean attempt (clean, same counts); a chain that stopped for another "
        f"reason is {policy}; "
        f"unscored chains are dropped. Per-iteration CIs: percentile bootstrap over problems "
        f"({n_boot} resamples); fit CIs: {fit_boot} refits of problem-resampled curves. "
        f"Plateau iteration: first iteration with 95 % of the fitted decay done.",
        note=True,
    )
    planned = plan_section(page, run_dir, run)
    labels = {g: group_label(g, group_keys) for g in datasets}

    costs = cost_section(page, run.attempts, n_boot, seed, stopped)
    passk = pass_k_section(page, chains, labels, group_keys, n_boot, seed)
    agent = agent_section(page, run.attempts, group_keys, n_boot, seed)
    edits = edit_section(page, run.attempts, group_keys, stopped, n_boot, seed)  # type: ignore[arg-type]
    stages = stage_section(page, run.attempts, run.findings, group_keys, stopped, n_boot, seed)  # type: ignore[arg-type]
    sides = language_section(page, run.attempts, group_keys, stopped, n_boot, seed)  # type: ignore[arg-type]

    page.heading("Curves")
    curves_section(page, datasets, long, fits, boots, labels, group_keys)
    unavailable = intent_not_available(long, labels, group_keys)
    if unavailable:
        page.text(unavailable, note=True)
    if designs is not None:
        designs_section(page, designs, group_keys, n_boot, fit_boot)
    if security is not None:
        security_section(page, security, labels, group_keys)
    else:
        page.text(NO_SECURITY, note=True)
    deploy = None
    if has_deploy(run.attempts):
        deploy = deploy_section(page, run, chains, labels, group_keys, n_boot, seed)

    for group, data in datasets.items():
        label = labels[group]
        page.heading(label)
        part = select(long, group, group_keys)
        if len(data.problems) < FEW_PROBLEMS:
            page.text(
                f"Only {len(data.problems)} problems: bootstrap CIs over so few problems are "
                "unreliable (too narrow).",
                note=True,
            )
        page.table(wide_table(part), caption="Per iteration, value [95 % CI]")
        page.table(
            _fit_display(select(fits, group, group_keys)),
            caption="Decay fit y = A·e^(−k(t−1)) + C, 95 % CIs",
        )
        group_churn = select(churn, group, group_keys)
        if not group_churn.empty:
            shown = group_churn[
                [
                    "iteration",
                    "steps",
                    "before",
                    "fixed",
                    "persisting",
                    "introduced",
                    "after",
                    "introduced_share",
                    "errors_fixed",
                    "errors_introduced",
                ]
            ]
            page.heading("Churn", level=3)
            total = group_churn[["fixed", "persisting", "introduced", "after"]].sum()
            share = total["introduced"] / total["after"] if total["after"] else float("nan")
            page.text(
                f"Over {int(group_churn['steps'].sum())} repair steps, {int(total['fixed'])} "
                f"findings were fixed, {int(total['persisting'])} persisted and "
                f"{int(total['introduced'])} were introduced: {share:.0%} of the findings present "
                "after a repair were not there before it."
            )
            page.table(
                shown,
                caption="Churn per repair step (matched by rule id and path)",
                floatfmt="{:.2f}",
            )
            page.figure(
                figures.churn(group_churn, f"Churn: {label}"),
                f"churn_{slug(label)}",
                f"Findings fixed (//, below zero), persisting (..) and introduced (xx) "
                f"per repair step, {label}",
            )
        group_rules = select(rules, group, group_keys)
        if not group_rules.empty:
            page.heading("Rules", level=3)
            last = group_rules[group_rules["iteration"] == group_rules["iteration"].max()]
            survivors = last.sort_values("findings", ascending=False).head(10)
            page.table(
                survivors[["rule_id", "level", "findings", "chains", "share", "survival"]],
                caption=f"Rules still present at iteration {int(last['iteration'].max())} "
                "(survival: occurrences now / at iteration 1)",
                floatfmt="{:.2f}",
            )
            page.figure(
                figures.heatmap(rule_matrix(group_rules), f"Rules by iteration: {label}"),
                f"rules_{slug(label)}",
                f"Findings per rule and iteration (15 most frequent rules), {label}",
            )
        if security is not None and failed is not None:
            page.heading("Security", level=3)
            page.table(
                compliance_table(select(security, group, group_keys)),
                caption="Security compliance per iteration, value [95 % CI]",
            )
            group_failed = select(failed, group, group_keys)
            if not group_failed.empty:
                page.table(
                    failed_table(group_failed),
                    caption="Most often failed security checks at the first and last iteration "
                    "(chains whose template fails the check, share of chains with checks)",
                )
        paper_section(page, data, part, label, sim, n_boot, fit_boot, seed, provenances[group])

    files = {
        "per_iteration.csv": long,
        "fits.csv": fits,
        "churn.csv": churn,
        "rules.csv": rules,
        "cost_frontier.csv": costs.table,
        "pass_at_k.csv": passk,
    }
    if planned is not None:
        files["plan.csv"] = planned
    if agent is not None:
        files["agent.csv"] = agent[0].table
        files["agent_lookups.csv"] = agent[1]
    if edits is not None:
        files["edit.csv"], files["edit_loop.csv"] = edits
    if stages is not None:
        files["cdk_stages.csv"], files["cdk_failures.csv"] = stages
    if sides is not None:
        files["language.csv"] = sides
    if designs is not None:
        files["designs.csv"] = designs
    if security is not None and failed is not None:
        files["security.csv"] = security
        files["security_checks.csv"] = failed
    if deploy is not None:
        files["deploy.csv"] = deploy
    page.heading("Data files")
    page.bullets([*files, "figures/*.png|svg"])
    for name, frame in files.items():
        write_csv(frame, out / name, sim, origin)
    md, html_path = page.write("report")
    return Report(
        md,
        html_path,
        sim,
        long,
        fits,
        designs,
        security,
        notices[0] if notices else None,
        deploy,
    )


def main(argv: list[str] | None = None, prog: str = "python -m analysis.report") -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__,
        epilog=(
            "examples:\n"
            "  iacbench report runs/<sweep>\n"
            "  iacbench report runs/<sweep>/0 --out /tmp/report --n-boot 500\n"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run", help="a run folder (runs/<sweep> or one job folder)")
    parser.add_argument("--out", help="output folder (default <run>/report)")
    parser.add_argument("--n-boot", type=int, default=2000, help="resamples for measure CIs")
    parser.add_argument("--fit-boot", type=int, default=500, help="refits for fit CIs")
    parser.add_argument("--stopped", choices=["carry", "exclude"], default="carry")
    parser.add_argument(
        "--group-by", default=",".join(GROUP_KEYS), help="attempt columns that define a series"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        report = build_report(
            args.run,
            args.out,
            args.n_boot,
            args.fit_boot,
            args.seed,
            args.stopped,
            [k.strip() for k in args.group_by.split(",") if k.strip()],
            progress=True,
        )
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if report.simulated:
        print(f"*** {SIMULATED_BANNER} ***")
    if report.recorded:
        print(report.recorded)
    print(f"wrote {report.html} and {report.markdown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
