"""One self-contained HTML page (and the same in Markdown) for a sweep.

Usage: python -m analysis.report RUN [--out DIR]

Sections: what ran; per-iteration measures with 95 % CIs; curves with fitted decay lines and
bootstrap bands; feedback designs compared (when a model ran several prompt sets or
protocols); security compliance per iteration (when the run has Checkov checks); per group the
fit table (A, k, C, half-life, plateau, R², AIC against rivals), churn, rule heatmap, security
and a comparison with the paper's published baseline. A loud banner appears wherever any
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
from analysis.banner import SIMULATED_BANNER, recorded_banner
from analysis.churn import churn_by_iteration
from analysis.compare import FEW_PROBLEMS, NAMES, Side, compare, paper_side, went_on_note
from analysis.deploy import deploy_section, has_deploy
from analysis.designs import design_figure, design_table, display_table, has_designs, method_note
from analysis.fit import bootstrap_params, fit_decay, summarize
from analysis.load import (
    GROUP_KEYS,
    Run,
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
from analysis.paper import baseline_per_template
from analysis.plan import NOTE as PLAN_NOTE
from analysis.plan import SIMULATED_NOTE as PLAN_SIMULATED_NOTE
from analysis.plan import display_table as plan_display
from analysis.plan import load_plan, planned_vs_actual
from analysis.provenance import LINT_DATE_SPAN_DAYS, Provenance, Rescore, installed_cfn_lint
from analysis.render import Page, write_csv
from analysis.rules import rule_frequency, rule_matrix
from analysis.security import (
    DEFINITION,
    IACGEN_LABEL,
    IACGEN_NOTE,
    IACGEN_RATE,
    NO_SECURITY,
    compliance_by_iteration,
    compliance_table,
    failed_checks,
    failed_table,
    has_security,
)
from benchmark.progress import progress_bar

PAPER_ORIGINAL = "paper-original"  # the dataset of the authors' own prompts
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


def _values(series: pd.Series) -> str:
    values = sorted({str(v) for v in series.dropna().unique()})
    return ", ".join(values) if values else "–"


def what_ran(run: Run, status: pd.DataFrame) -> list[str]:
    """Bullet lines describing the sweep: configuration, scale, versions, cost."""
    a = run.attempts
    provenance = Provenance.of_attempts(a, "run", str(run.path))
    samples = a.groupby(["model", "prompt_set", "protocol", "problem_id"])["sample"].nunique()
    cost = a["cost_usd"]
    priced = int(cost.notna().sum())
    stops = a["stop_reason"].dropna().value_counts()
    lines = [
        f"models: {_values(a['model'])}",
        f"prompt sets: {_values(a['prompt_set'])}; protocols: {_values(a['protocol'])}",
        f"limits: max_iterations {_values(a['max_iterations'])}; samples per problem "
        f"{_values(samples)}; max_tokens {_values(a['max_tokens'])}; temperature "
        f"{_values(a['temperature'])}; clean rule {_values(a['clean_rule'])}",
        f"problems: {a['problem_id'].nunique()} (dataset {_values(a['dataset'])})",
        f"chains: {len(status)} ("
        + ", ".join(f"{n} {s}" for s, n in status["status"].value_counts().items())
        + f"); attempts: {len(a)}",
        "stop reasons: " + (", ".join(f"{r} {n}" for r, n in stops.items()) or "–"),
        f"origin: {provenance.origin_text}",
        f"lint: {provenance.lint_text}",
        f"output format: {provenance.format_text}",
        (f"checkov version: {_values(a['checkov_version'])}; " if has_security(a) else "")
        + "benchmark version "
        f"{_values(a['benchmark_version'])}; git {_values(a['git_sha'].str[:10])}"
        + (" (dirty tree)" if a["git_dirty"].fillna(False).astype(bool).any() else ""),
        f"tokens: {int(a['input_tokens'].fillna(0).sum()):,} in, "
        f"{int(a['output_tokens'].fillna(0).sum()):,} out",
        f"cost: ${cost.sum():.2f} over {priced} priced attempts"
        + (f" ({len(a) - priced} attempts without a known price)" if priced < len(a) else ""),
        f"sweeps: {_values(a['sweep_id'])}; "
        f"jobs: {len(a[['sweep_id', 'job_id']].drop_duplicates())}",
    ]
    if a["started_at"].notna().any():
        lines.append(f"time: {a['started_at'].min()} to {a['finished_at'].max()}")
    if run.simulated:
        sim_models = _values(a.loc[a["simulated"].fillna(False).astype(bool), "model"])
        lines.append(f"simulated rows: {run.simulated_rows} of {len(a)} (models: {sim_models})")
    return lines


def group_provenance(
    run: Run, groups: list[tuple], group_keys: list[str]
) -> dict[tuple, Provenance]:
    """Origin, linter, dataset, prompt set and output format of each group's rows."""
    return {
        g: Provenance.of_attempts(
            select(run.attempts, g, group_keys), group_label(g, group_keys), str(run.path)
        )
        for g in groups
    }


def provenance_table(provenances: dict[tuple, Provenance]) -> pd.DataFrame:
    rows = []
    for p in provenances.values():
        row = p.row()
        rows.append({"group": row.pop("side"), **{k: v for k, v in row.items() if k != "run"}})
    return pd.DataFrame(rows)


def lint_note(provenances: dict[tuple, Provenance], run_path: str) -> str | None:
    """A note when the run's rows were not linted alike (one release, dates within a day),
    or carry no lint date at all, with the re-scoring command that mends it."""
    sides = list(provenances.values())
    release = next((p.main_version for p in sides if p.main_version), installed_cfn_lint())
    undated = sum(p.undated for p in sides)
    if undated:
        return (
            f"Lint date not recorded for {undated} row{'s' if undated != 1 else ''} (written "
            "before lint_as_of): cfn-lint's findings depend on the date, so make compare "
            "refuses this run until it is re-scored: `python -m benchmark.replication.rescore "
            f"{run_path} --cfn-lint {release or 'VERSION'} --as-of DATE` (DATE: the lint date "
            "of the runs it is to be compared with)."
        )
    versions = {p.version for p in sides}
    dates = [d for p in sides for d in p.dates]
    alike = (
        all(p.uniform for p in sides)
        and len(versions) == 1
        and (max(dates) - min(dates)).days <= LINT_DATE_SPAN_DAYS
    )
    if alike:
        return None
    when = max((p.main_date for p in sides if p.main_date), default=None)
    detail = "; ".join(f"{p.label}: {p.lint_text}" for p in sides)
    advice = ""
    if release and when:
        command = Rescore(run_path, release, when).command
        advice = f" Put the run on one linter and date: `{command}`."
    return (
        "Not linted alike: cfn-lint's findings move between releases and between days, and "
        f"this run's rows were not judged by one release within {LINT_DATE_SPAN_DAYS} day "
        f"({detail}).{advice}"
    )


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
    if _paper_original_intent(run.attempts):
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
    planned = _plan_section(page, run_dir, run)
    labels = {g: group_label(g, group_keys) for g in datasets}

    page.heading("Curves")
    curves_section(page, datasets, long, fits, boots, labels, group_keys)
    if long.loc[long["measure"] == "intent", "value"].isna().all():
        page.text("No intent checks were recorded in this run.", note=True)
    if designs is not None:
        _designs_section(page, designs, group_keys, n_boot, fit_boot)
    if security is not None:
        _security_section(page, security, labels, group_keys)
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
                f"churn_{_slug(label)}",
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
                f"rules_{_slug(label)}",
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
        _paper_section(page, data, part, label, sim, n_boot, fit_boot, seed, provenances[group])

    files = {"per_iteration.csv": long, "fits.csv": fits, "churn.csv": churn, "rules.csv": rules}
    if planned is not None:
        files["plan.csv"] = planned
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


def _plan_section(page: Page, run_dir: str | Path, run: Run) -> pd.DataFrame | None:
    """Planned against actual (calls, tokens, cost), per job and in total, if the run has a
    plan.json; returns the comparison."""
    plan = load_plan(run_dir)
    if plan is None:
        return None
    frame = planned_vs_actual(plan, run.attempts)
    if frame.empty:
        return None
    page.heading("Planned against actual")
    page.table(plan_display(frame), caption="Per job: actual (planned expected, maximum)")
    page.text(PLAN_NOTE, note=True)
    if any(job.get("simulated") for job in plan.get("jobs", [])):
        page.text(PLAN_SIMULATED_NOTE, note=True)
    return frame


def _designs_section(
    page: Page, designs: pd.DataFrame, group_keys: list[str], n_boot: int, fit_boot: int
) -> None:
    """The feedback-design comparison: one table row and one figure row per design."""
    page.heading("Feedback designs")
    page.text(method_note(designs, n_boot, fit_boot), note=True)
    fewest = int(designs["problems"].min())
    if fewest < FEW_PROBLEMS:
        page.text(
            f"Some rows rest on only {fewest} problems: bootstrap CIs over so few problems are "
            "unreliable (too narrow).",
            note=True,
        )
    page.table(
        display_table(designs, group_keys),
        caption="Feedback designs × protocols: error decay (k, C), clean fraction, intent and "
        "security, 95 % CIs",
    )
    page.figure(
        design_figure(designs),
        "designs",
        "Feedback designs: value and 95 % CI per design (rows); protocols differ by marker "
        "(filled / open) and whisker line style (solid / dashed). k on a log axis.",
    )


def _security_section(
    page: Page, security: pd.DataFrame, labels: dict[tuple, str], group_keys: list[str]
) -> None:
    """Compliance per iteration for every group, beside IaCGen's reported rate."""
    page.heading("Security compliance")
    page.text(DEFINITION, note=True)
    page.text(IACGEN_NOTE, note=True)
    panels: list[tuple[str, list[figures.CurveSeries]]] = []
    for measure, label in (
        ("compliance", "compliant (all checks passed)"),
        ("pass_share", "checks passed (mean share)"),
    ):
        series = []
        for group, name in labels.items():
            part = select(security, group, group_keys)
            if part[measure].isna().all():
                continue
            series.append(figures.CurveSeries.from_table(name, part, measure))
        if series:
            panels.append((label, series))
    if panels:
        page.figure(
            figures.lines(panels, reference=(IACGEN_RATE, IACGEN_LABEL)),
            "security",
            "Security compliance (left) and mean share of checks passed (right) per iteration, "
            "95 % bootstrap CIs; dotted line: IaCGen's reported compliance rate, 8.4 % "
            "(DPIaC-Eval, arXiv:2506.05623).",
        )
    rows = []
    for group, name in labels.items():
        part = select(security, group, group_keys)
        first, last = part.iloc[0], part.iloc[-1]
        rows.append(
            {
                "group": name,
                "chains with checks @1": int(first["checked"]),
                "compliant @1 [95 % CI]": _cell(first, "compliance"),
                f"compliant @{int(last['iteration'])} [95 % CI]": _cell(last, "compliance"),
                "checks passed @1": _cell(first, "pass_share"),
                f"checks passed @{int(last['iteration'])}": _cell(last, "pass_share"),
            }
        )
    page.table(
        pd.DataFrame(rows),
        caption=f"Security compliance at the first and last iteration (IaCGen: {IACGEN_RATE:.3f})",
    )


def _cell(row: pd.Series, name: str) -> str:
    if pd.isna(row[name]):
        return "–"
    return f"{row[name]:.3f} [{row[name + '_low']:.3f}, {row[name + '_high']:.3f}]"


def _paper_original_intent(attempts: pd.DataFrame) -> bool:
    """Whether some row of dataset paper-original has intent checks."""
    rows = attempts[attempts["dataset"] == PAPER_ORIGINAL]
    return bool((rows["intent_total"].fillna(0) > 0).any())


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-").lower()[:60]


def _paper_section(
    page: Page,
    data: ProblemData,
    long: pd.DataFrame,
    label: str,
    sim: bool,
    n_boot: int,
    fit_boot: int,
    seed: int,
    provenance: Provenance,
) -> None:
    """Compare one group against the paper's published per-template means."""
    candidate = Side(label, data=data, simulated=sim, provenance=provenance)
    result = compare(paper_side(), candidate, n_boot=n_boot, seed=seed, fit_boot=fit_boot)
    page.heading(f"Against the paper's baseline: {label}", level=3)
    page.text(result.verdict)
    for note in [*result.notes, *result.baseline.notes]:
        page.text(note, note=True)
    wide = result.per_iteration.pivot(index="iteration", columns="measure", values="diff")
    page.table(wide.reset_index(), caption="Candidate − paper per iteration", floatfmt="{:+.3f}")
    paper = baseline_per_template()
    panels = []
    for measure in ("errors", "warnings", "clean"):
        name = NAMES[measure]
        part = long[(long["measure"] == measure) & (long["stat"] == "mean")]
        fit = result.fits[result.fits["measure"] == name].set_index("param")
        series = []
        for side, who in ((label, "candidate"), ("paper (published)", "baseline")):
            params = fit.loc[["A", "k", "C"], who].to_numpy(dtype=float)
            if who == "candidate":
                series.append(
                    figures.CurveSeries(
                        side,
                        part["iteration"].to_numpy(dtype=float),
                        part["value"].to_numpy(),
                        part["ci_low"].to_numpy(),
                        part["ci_high"].to_numpy(),
                        params,
                    )
                )
            else:
                series.append(
                    figures.CurveSeries(
                        side,
                        paper["iteration"].to_numpy(dtype=float),
                        paper[measure].to_numpy(),
                        params=params,
                    )
                )
        panels.append((name, series))
    page.figure(
        figures.curves(panels, ncols=3),
        f"paper_{_slug(label)}",
        f"{label} (95 % CIs) against the paper's published means per template, with "
        "fitted decay curves",
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
