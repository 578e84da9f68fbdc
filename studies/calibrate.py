"""Estimate a simulator profile from a recorded run's chains.

    python -m studies calibrate RUN --out PROFILE.yaml

What is estimated, each with the counts behind it and a 95 % interval:

* generation: the share of replies that do not parse; of the parsed ones, the share with no
  error or warning, and the mean number of findings of the others, overall and by the problem's
  difficulty; the rules those findings belong to;
* repair (each step n -> n+1 of a chain whose attempt n is not clean): the share of replies that
  do not parse (after one that did) and that parse (after one that did not); per rule, the
  share of its findings gone after the next repair (at the first repair after they appeared
  and at later ones, when the feedback named the rule and when it did not), and the share of
  repairs that add one; a two-class model of each rule's fixes (a persistent share the model
  keeps missing) fitted by maximum likelihood to how long its findings lasted;
* usage, for planning: chains per iteration, where they stop, feedback sizes, tokens.

Chains are read as the harness runs them: each ends at its first clean attempt. A recorded run
whose loop went on past clean templates (the paper authors' did) is cut there, so what is
learnt is only what the harness would have seen, and a simulated run is comparable with it.
Findings are matched across a step by (rule, path), as the report's churn does. Only errors
and warnings are modelled; informational findings are reported under coverage.

Intervals: Wilson score intervals for shares (scipy's `binomtest`); a percentile bootstrap
over problems (scipy's `bootstrap`, paired) for means, since a problem's samples are
correlated. Shares of findings (rules) treat findings as independent, which they are not
quite; read those intervals as a lower bound on the uncertainty.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.problems.dataset import Problem, load_dataset
from benchmark.records.tables import read_table
from benchmark.simulator.catalogue import covered_rules, find_sites
from benchmark.simulator.model import difficulty_of
from benchmark.simulator.profile import HEADER
from benchmark.simulator.template import parse_template
from studies.calibration_fits import LEVEL, RuleFixes, mean_by_problem, rounded, share
from studies.feedback_linter import UNREAD, Naming, read_naming
from studies.harvest import harvest, with_harvest
from studies.recorded_chains import (
    CHAIN,
    SYNTAX_RULE,
    CalibrationError,
    harness_view,
    parsed,
    select,
    source_dataset,
)
from studies.repair_rates import COUNTED, repair_section
from studies.split import Split, take

MIN_SHARE_LISTED = 0.01  # uncovered rules at or above this share of findings are flagged


# ---- the estimation --------------------------------------------------------------------------


@dataclass
class Tallies:
    generation: list[dict[str, Any]] = field(default_factory=list)  # one per chain
    repair_from_parsed: list[int] = field(default_factory=lambda: [0, 0])  # [broke, steps]
    repair_from_broken: list[int] = field(default_factory=lambda: [0, 0])  # [parsed, steps]
    fixes: dict[str, RuleFixes] = field(default_factory=lambda: defaultdict(RuleFixes))
    introducing_steps: Counter[str] = field(default_factory=Counter)  # steps adding rule r
    introduced: Counter[str] = field(default_factory=Counter)  # findings added
    parsed_steps: int = 0


def _identities(rows: pd.DataFrame) -> Counter[tuple[str, str]]:
    counted = rows[rows["level"].isin(COUNTED) & (rows["rule_id"] != SYNTAX_RULE)]
    return Counter(zip(counted["rule_id"], counted["path"].fillna(""), strict=True))


def tally_chain(
    chain: pd.DataFrame, findings: Mapping[str, pd.DataFrame], t: Tallies, naming: Naming
) -> None:
    """Walk one chain (harness view, sorted by iteration) and add up what it shows. A repair
    whose feedback's named rules cannot be read (feedback_linter.py) ends the findings'
    lifetimes, as a reply that does not parse does."""
    empty = pd.DataFrame(columns=["rule_id", "level", "path"])
    states = []
    for _, attempt in chain.iterrows():
        rows = findings.get(attempt["attempt_id"], empty)
        states.append((attempt, rows, parsed(attempt, rows["rule_id"])))

    first, rows, ok = states[0]
    identities = _identities(rows) if ok else Counter()
    t.generation.append(
        {
            "problem_id": first["problem_id"],
            "parsed": ok,
            "findings": sum(identities.values()),
            "rules": Counter(rule for rule, _ in identities.elements()),
        }
    )
    ages: dict[tuple[str, str], list[int]] = {k: [0] * n for k, n in identities.items()}
    for (before, _, ok_before), (_, rows_after, ok_after) in pairwise(states):
        if not ok_before:
            t.repair_from_broken[1] += 1
            t.repair_from_broken[0] += ok_after
            ages = {k: [0] * n for k, n in _identities(rows_after).items()} if ok_after else {}
            continue
        t.repair_from_parsed[1] += 1
        if not ok_after:  # what happened to the findings is hidden: their lifetimes end here
            t.repair_from_parsed[0] += 1
            _censor(ages, t)
            ages = {}
            continue
        t.parsed_steps += 1
        after = _identities(rows_after)
        if naming.how.get(before["attempt_id"]) == UNREAD:
            _censor(ages, t)
            ages = {identity: [0] * n for identity, n in after.items()}
            continue
        new_ages: dict[tuple[str, str], list[int]] = {}
        for identity, lives in ages.items():
            rule = identity[0]
            kept = min(len(lives), after.get(identity, 0))
            survivors = sorted(lives, reverse=True)[:kept]  # the oldest are the ones that stay
            gone = sorted(lives, reverse=True)[kept:]
            fx = t.fixes[rule]
            if not naming.named(before["attempt_id"], rule):
                fx.unmentioned[0] += len(gone)
                fx.unmentioned[1] += len(lives)
                new_ages[identity] = [0] * kept  # lifetimes are counted over named repairs only
                continue
            for age in lives:
                bucket = fx.first if age == 0 else fx.later
                bucket[1] += 1
            for age in gone:
                (fx.first if age == 0 else fx.later)[0] += 1
                fx.fixed_after[age + 1] += 1
            new_ages[identity] = [age + 1 for age in survivors]
        added: Counter[str] = Counter()
        for identity, n in after.items():
            extra = n - len(new_ages.get(identity, []))
            if extra > 0:
                added[identity[0]] += extra
                new_ages.setdefault(identity, []).extend([0] * extra)
        for rule, n in added.items():
            t.introducing_steps[rule] += 1
            t.introduced[rule] += n
        ages = new_ages
    _censor(ages, t)


def _censor(ages: Mapping[tuple[str, str], list[int]], t: Tallies) -> None:
    for (rule, _), lives in ages.items():
        for age in lives:
            if age > 0:
                t.fixes[rule].open_after[age] += 1


def _one_source(findings: pd.DataFrame, wanted: str | None) -> pd.DataFrame:
    """The findings of one validator: `wanted`, else cfn-lint, else the only one there is."""
    sources = sorted(findings["source"].fillna("").unique())
    if wanted is None:
        if "cfn-lint" in sources or not sources:
            wanted = "cfn-lint"
        elif len(sources) == 1:
            wanted = sources[0]
        else:
            raise CalibrationError(
                f"findings come from {len(sources)} sources ({', '.join(sources)}); "
                "pick one with --findings-source"
            )
    if sources and wanted not in sources:
        raise CalibrationError(
            f"--findings-source {wanted!r}: not among the run's ({', '.join(sources)})"
        )
    return findings[findings["source"].fillna("") == wanted]


def _difficulties(problem_ids: Iterable[str], dataset: Path | None) -> dict[str, int | None]:
    if dataset is None or not dataset.is_dir():
        return dict.fromkeys(problem_ids)
    found = {p.id: p for p in load_dataset(dataset)}
    return {pid: difficulty_of(found[pid]) if pid in found else None for pid in problem_ids}


def _generation(t: Tallies, difficulty: Mapping[str, int | None], seed: int) -> dict[str, Any]:
    gens = pd.DataFrame(t.generation)
    parsed_gens = gens[gens["parsed"]]
    dirty = parsed_gens[parsed_gens["findings"] > 0]

    def block(rows: pd.DataFrame, dirty_rows: pd.DataFrame) -> dict[str, Any]:
        per_problem = dirty_rows.groupby("problem_id")["findings"].agg(["sum", "size"])
        return {
            "problems": int(rows["problem_id"].nunique()),
            "clean": share(int((rows["findings"] == 0).sum()), len(rows)),
            "findings": mean_by_problem(per_problem["sum"], per_problem["size"], seed),
        }

    rules: Counter[str] = Counter()
    for counts in parsed_gens["rules"]:
        rules.update(counts)
    total = sum(rules.values())
    by_level: dict[str, Any] = {}
    levels = parsed_gens["problem_id"].map(difficulty)
    for level in sorted({lv for lv in levels if lv is not None}):
        rows = parsed_gens[levels == level]
        by_level[str(level)] = block(rows, rows[rows["findings"] > 0])
    overall = block(parsed_gens, dirty)
    return {
        "templates": len(gens),
        "parse_failure": share(int((~gens["parsed"]).sum()), len(gens)),
        "clean": overall["clean"],
        "findings": overall["findings"],
        "by_difficulty": by_level,
        "rules": {rule: share(n, total) for rule, n in rules.most_common()},
    }


def _usage(view: pd.DataFrame, seed: int) -> dict[str, Any]:
    """What a planner needs: where chains stop, and how large feedback and replies are."""
    lengths = view.groupby(CHAIN, as_index=False).agg(
        attempts=("iteration", "size"),
        last_clean=("clean", "last"),
        last_iteration=("iteration", "max"),
        max_iterations=("max_iterations", "max"),
    )
    per_problem = lengths.groupby("problem_id")["attempts"].agg(["sum", "size"])
    by_iteration = []
    for iteration, rows in view.groupby("iteration"):
        clean = rows["clean"].fillna(False).astype(bool)
        repaired = rows[~clean & (rows["iteration"] < rows["max_iterations"])]  # fed back
        feedback = repaired["feedback"].dropna().str.len()
        stopped_clean = int(clean.sum())
        by_iteration.append(
            {
                "iteration": int(iteration),
                "chains": len(rows),
                "stopped_clean": stopped_clean,
                "feedback_chars": _stats(feedback),
                "input_tokens": _stats(rows["input_tokens"].dropna()),
                "output_tokens": _stats(rows["output_tokens"].dropna()),
            }
        )
    clean_end = lengths["last_clean"].fillna(False).astype(bool)
    at_max = ~clean_end & (lengths["last_iteration"] >= lengths["max_iterations"])
    chains = len(lengths)
    return {
        "chains": chains,
        "attempts_per_chain": mean_by_problem(per_problem["sum"], per_problem["size"], seed),
        "stop": {
            "clean": share(int(clean_end.sum()), chains),
            "max_iterations": share(int(at_max.sum()), chains),
            "other": share(int((~clean_end & ~at_max).sum()), chains),
        },
        "by_iteration": by_iteration,
    }


def _stats(values: pd.Series) -> dict[str, Any] | None:
    if values.empty:
        return None
    v = values.astype(float)
    return {
        "n": len(v),
        "mean": rounded(v.mean()),
        "p50": rounded(v.quantile(0.5)),
        "p90": rounded(v.quantile(0.9)),
    }


def _coverage(
    all_findings: pd.DataFrame, generation_rules: Mapping[str, Any], problems: Sequence[Problem]
) -> dict[str, Any]:
    counted = all_findings[all_findings["level"].isin(COUNTED)]
    counts = counted["rule_id"].value_counts()
    total = int(counts.sum())
    covered = covered_rules()
    sites: dict[str, int] = Counter()
    for problem in problems:
        if problem.reference_template:
            try:
                found = find_sites(parse_template(problem.reference_template))
            except ValueError:
                continue
            for rule in {m.rule_id for ms in found.values() for m in ms}:
                sites[rule] += 1
    rows = []
    for rule, n in counts.items():
        row: dict[str, Any] = {
            "rule": str(rule),
            "findings": int(n),
            "share": rounded(n / total),
            "covered": str(rule) in covered,
        }
        if problems:
            row["problems_with_a_site"] = int(sites.get(str(rule), 0))
        rows.append(row)
    uncovered = [r for r in rows if not r["covered"]]
    infos = all_findings[all_findings["level"] == "I"]["rule_id"].value_counts()
    return {
        "findings": total,
        "covered_share": rounded(sum(r["share"] for r in rows if r["covered"])),
        "uncovered": uncovered,
        "uncovered_at_least_1pct": [r["rule"] for r in uncovered if r["share"] >= MIN_SHARE_LISTED],
        "generation_rules_uncovered": [r for r in generation_rules if r not in covered],
        "rules": rows,
        "informational_not_modelled": {str(k): int(v) for k, v in infos.items()},
    }


def _source(
    run: Path,
    group: pd.DataFrame,
    view: pd.DataFrame,
    past_clean: int,
    findings_source: str | None,
    naming: Naming,
    split: Split | None,
) -> dict[str, Any]:
    def distinct(column: str) -> Any:
        if column not in group:
            return None
        values = sorted({str(v) for v in group[column].dropna()})
        return values[0] if len(values) == 1 else (values or None)

    lint_dates = group["lint_as_of"].dropna() if "lint_as_of" in group else pd.Series([])
    run_dates = group["started_at"].dropna()
    return {
        "run": str(run),
        "sweep_id": distinct("sweep_id"),
        "origin": distinct("origin"),
        "simulated": bool(group["simulated"].fillna(False).any()),
        "model": distinct("model"),
        "dataset": distinct("dataset"),
        "prompt_set": distinct("prompt_set"),
        "protocol": distinct("protocol"),
        "output_format": distinct("output_format"),
        "clean_rule": distinct("clean_rule"),
        "max_iterations": int(group["max_iterations"].max()),
        "cfn_lint_version": distinct("cfn_lint_version"),
        "lint_as_of": _date_range(lint_dates),
        "run_dates": _date_range(run_dates),
        "problems": int(group["problem_id"].nunique()),
        "chains": int(group.groupby(CHAIN).ngroups),
        "attempts": len(group),
        "attempts_used": len(view),
        "findings_source": findings_source,
        "feedback_linter": list(naming.shown_by),  # "recorded": the recorder's own text
        # how each repair's named rules were read: its text (one linter behind text and
        # findings), the recording linter's findings, or not at all (left out of fix rates)
        "named_rules_read_from": naming.summary(),
        "chains_past_clean": past_clean,
        "split": split.describe() if split else None,
    }


def _date_range(values: pd.Series) -> str | None:
    if values.empty:
        return None
    days = sorted({pd.Timestamp(v).date().isoformat() for v in values})
    return days[0] if len(days) == 1 else f"{days[0]}..{days[-1]}"


def profile_header(profile: Mapping[str, Any]) -> str:
    """The header of a written profile; one carrying text harvested from its source says so
    (the source may have no licence: keep such a profile out of commits)."""
    harvested = (profile.get("coverage") or {}).get("harvested") or {}
    if not harvested:
        return HEADER
    return HEADER + (
        f"# CARRIES TEXT FROM ITS SOURCE ({len(harvested)} fragments under coverage.harvested,\n"
        f"# harvested from {profile['source']['run']}): that source may have no licence; keep\n"
        "# this file out of commits and do not publish it.\n"
    )


def calibrate(
    run: str | Path,
    *,
    name: str | None = None,
    where: Mapping[str, str] | None = None,
    dataset: str | Path | None = None,
    findings_source: str | None = None,
    seed: int = 0,
    split: Split | None = None,
    harvest_fragments: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """A `kind: rates` profile estimated from `run` (a run folder, or any folder above one).

    `findings_source` picks the validator whose findings are read (default: cfn-lint, the one
    behind the attempts' counts; an imported run may also carry the authors' own lint).
    `split` keeps only its chains (split.py: by trial or by sample), recorded in the profile.
    `harvest_fragments`: raise uncovered rules with fragments of the source (harvest.py)."""
    run = Path(run)
    attempts = read_table(run, "attempts")
    if attempts.empty:
        raise CalibrationError(f"{run}: no attempt rows (is this a run folder?)")
    group = take(select(attempts, where or {}), split)
    every = read_table(run, "findings")
    every = every[every["attempt_id"].isin(set(group["attempt_id"]))]
    findings = _one_source(every.copy(), findings_source)
    findings["level"] = findings["level"].fillna(findings["rule_id"].str[:1])
    view, past_clean = harness_view(group)
    if view.empty:
        raise CalibrationError(f"{run}: no scored attempt to calibrate on")
    naming = read_naming(run, view, every)
    by_attempt = {k: v for k, v in findings.groupby("attempt_id")}
    tallies = Tallies()
    for _, chain in view.groupby(CHAIN, sort=True):
        tally_chain(chain.sort_values("iteration"), by_attempt, tallies, naming)

    found_by = str(findings["source"].iloc[0]) if len(findings) else None
    source = _source(run, group, view, past_clean, found_by, naming, split)
    dataset_dir = Path(dataset) if dataset else source_dataset(run, str(source["dataset"]))
    problem_ids = sorted(group["problem_id"].unique())
    difficulty = _difficulties(problem_ids, dataset_dir)
    problems = (
        [p for p in load_dataset(dataset_dir) if p.id in set(problem_ids)]
        if dataset_dir.is_dir()
        else []
    )
    generation = _generation(tallies, difficulty, seed)
    coverage = _coverage(findings, generation["rules"], problems)
    if harvest_fragments:
        seen = findings[findings["attempt_id"].isin(set(view["attempt_id"]))]
        wanted = [r["rule"] for r in coverage["uncovered"] if r["rule"] != SYNTAX_RULE]
        coverage = with_harvest(coverage, harvest(view, seen, problems, wanted, progress))
    label_model = source["model"] if isinstance(source["model"], str) else "several models"
    profile_name = name or f"{str(label_model).replace('/', '-')}-{source['dataset']}"
    kind_of_source = "a simulated run" if source["simulated"] else f"a {source['origin']} run"
    return {
        "name": profile_name,
        "kind": "rates",
        "label": (
            f"calibrated from {kind_of_source} of {label_model} ({source['chains']} chains); "
            "a simulator, not an LLM"
        ),
        "calibrated_at": datetime.now(UTC).date().isoformat(),
        "confidence": LEVEL,
        "source": source,
        "generation": generation,
        "repair": repair_section(
            tallies.fixes,
            (tallies.repair_from_parsed, tallies.repair_from_broken),
            (tallies.introducing_steps, tallies.introduced),
            tallies.parsed_steps,
        ),
        "usage": _usage(view, seed),
        "coverage": coverage,
    }
