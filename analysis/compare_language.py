"""CloudFormation vs CDK (issue 23): the same model writing CloudFormation (paper33) and a CDK
app in Python (paper33-cdk) in one run, side by side.

Pairs: a CDK group and a CloudFormation group with the same group keys but the prompt set
(model, protocol, effort, thinking, ...; a prompt set serves one language, so it must differ).
Settings that should be alike (`LIKE`: iteration limit, clean rule, temperature; and the linter,
by `analysis.provenance.lint_mismatch`, as `make compare` judges it) are compared and every
difference is named in a note, never hidden.

Per language: the clean rate at iterations 1, 2, 5 and the last shared one, the intent pass
rate and findings per template (every stage's, as counted on the attempt row) at the first and
the last, each with a 95 % percentile bootstrap CI over problems; then CDK − CloudFormation,
*paired* over the problem ids both sides hold (paper33-cdk keeps paper33's ids: one draw of
problems for both sides), each side on its own problems where they share none. The verdict
(`analysis.verdict.language_sentence`) names a figure higher or lower only where the CI of the
difference excludes zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.banner import SIMULATED_BANNER
from analysis.edit_section import ci_cell
from analysis.load import GROUP_KEYS, StoppedPolicy, fill_chains, select
from analysis.measures import ProblemData, percentile_ci, resample_weights
from analysis.provenance import Provenance, lint_mismatch
from analysis.render import Page
from analysis.stage_measures import CDK, CLOUDFORMATION, languages
from analysis.verdict import language_sentence

POINTS = (1, 2, 5)  # clean rate at these iterations (and at the last shared one)
LIKE = ("max_iterations", "clean_rule", "temperature")  # and the linter: `lint_mismatch`
LANGUAGE_NAMES = {CLOUDFORMATION: "CloudFormation", CDK: "CDK (Python)"}
METHOD = (
    "The same model on both languages: CloudFormation templates (e.g. paper33) and CDK apps in "
    "Python (paper33-cdk: the same topics, requests and intent checks). A CDK attempt that "
    "never synthesized counts as not clean, with its Python or CDK findings as its findings "
    "and its intent checks failed. Chains are filled as in the rest of the report. value "
    "[95 % CI]; CDK − CloudFormation paired over the shared problems (one bootstrap draw of "
    "problems for both sides)."
)


@dataclass
class LanguagePair:
    """One model's CloudFormation group and CDK group, and how their settings differ."""

    label: str
    groups: dict[str, tuple]  # language -> group
    keys: list[str]  # the columns the groups are over (the report's, and prompt_set)
    notes: list[str] = field(default_factory=list)


def _group_language(attempts: pd.DataFrame, group_keys: list[str]) -> pd.DataFrame:
    frame = attempts[group_keys].assign(_language=languages(attempts).to_numpy())
    return frame.drop_duplicates().reset_index(drop=True)


def language_pairs(
    attempts: pd.DataFrame, group_keys: list[str] = GROUP_KEYS
) -> list[LanguagePair]:
    """Every CDK group with a CloudFormation group that differs from it only in prompt set
    (kept apart here even where the report's grouping leaves it out)."""
    if "prompt_set" not in group_keys:
        group_keys = [*group_keys, "prompt_set"]
    same = [k for k in group_keys if k != "prompt_set"]
    table = _group_language(attempts, group_keys)
    cdk = table[table["_language"] == CDK]
    cfn = table[table["_language"] == CLOUDFORMATION]
    pairs = []
    for left in cdk.itertuples(index=False):
        mine = dict(zip(table.columns, left, strict=True))
        for right in cfn.itertuples(index=False):
            theirs = dict(zip(table.columns, right, strict=True))
            if any(mine[k] != theirs[k] for k in same):
                continue
            groups = {
                CLOUDFORMATION: tuple(theirs[k] for k in group_keys),
                CDK: tuple(mine[k] for k in group_keys),
            }
            label = " · ".join(str(mine[k]) for k in same) or "all"
            label += f" (prompt sets {theirs['prompt_set']} vs {mine['prompt_set']})"
            notes = _unlike(attempts, groups, group_keys)
            pairs.append(LanguagePair(label, groups, list(group_keys), notes))
    return pairs


def _unlike(attempts: pd.DataFrame, groups: dict[str, tuple], group_keys: list[str]) -> list[str]:
    """One note per LIKE setting the two sides do not share, and one when they were not linted
    alike (`analysis.provenance.lint_mismatch`, the rule `make compare` applies)."""
    sides = {
        lang: Provenance.of_attempts(select(attempts, g, group_keys), LANGUAGE_NAMES[lang])
        for lang, g in groups.items()
    }
    mismatch = lint_mismatch(sides[CLOUDFORMATION], sides[CDK])
    notes = [mismatch.opening] if mismatch else []
    for column in LIKE:
        if column not in attempts:
            continue
        seen = {
            lang: sorted({str(v) for v in select(attempts, g, group_keys)[column].dropna()})
            for lang, g in groups.items()
        }
        if seen[CLOUDFORMATION] != seen[CDK]:
            notes.append(
                f"Not alike: {column} is {', '.join(seen[CLOUDFORMATION]) or 'unset'} for "
                f"CloudFormation and {', '.join(seen[CDK]) or 'unset'} for CDK; part of any "
                "difference may be this setting's."
            )
    return notes


def _figures(last: int) -> list[tuple[str, str, int]]:
    """(name, measure, iteration) of every compared figure, up to the last shared iteration."""
    out = [(f"clean rate @{t}", "clean", t) for t in POINTS if t < last]
    out += [(f"clean rate @{last}", "clean", last), ("intent pass rate @1", "intent", 1)]
    out += [
        (f"intent pass rate @{last}", "intent", last),
        ("findings per template @1", "findings", 1),
    ]
    out.append((f"findings per template @{last}", "findings", last))
    return out


def compare_pair(
    chains: pd.DataFrame,
    pair: LanguagePair,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[pd.DataFrame, bool]:
    """Per compared figure: each language's value and CI, the difference CDK − CloudFormation
    and its CI; and whether the difference was paired. `chains`: filled over `pair.keys`."""
    data = {
        lang: ProblemData.from_chains(select(chains, g, pair.keys), g)
        for lang, g in pair.groups.items()
    }
    shared = np.intersect1d(data[CDK].problems, data[CLOUDFORMATION].problems)
    paired = len(shared) > 0
    if paired:
        data = {lang: d.subset(shared) for lang, d in data.items()}
    last = int(min(d.iterations.max() for d in data.values()))
    rng = np.random.default_rng(seed)
    weights = {lang: resample_weights(len(d.problems), n_boot, rng) for lang, d in data.items()}
    if paired:
        weights[CDK] = weights[CLOUDFORMATION]
    rows = []
    for name, measure, t in _figures(last):
        row: dict[str, object] = {"figure": name}
        draws = {}
        for lang, d in data.items():
            at = int(np.searchsorted(d.iterations, t))
            draws[lang] = d.replicates(measure, weights[lang])[:, at]
            low, high = percentile_ci(draws[lang][:, None], level)
            row.update(
                {
                    lang: float(d.point(measure)[at]),
                    f"{lang}_low": float(low[0]),
                    f"{lang}_high": float(high[0]),
                }
            )
        low, high = percentile_ci((draws[CDK] - draws[CLOUDFORMATION])[:, None], level)
        row.update(
            diff=float(row[CDK]) - float(row[CLOUDFORMATION]),  # type: ignore[arg-type]
            ci_low=float(low[0]),
            ci_high=float(high[0]),
        )
        rows.append(row)
    return pd.DataFrame(rows), paired


def _ids(chains: pd.DataFrame, pair: LanguagePair) -> np.ndarray:
    """The problem ids both languages hold."""
    held = [select(chains, g, pair.keys)["problem_id"].unique() for g in pair.groups.values()]
    return np.intersect1d(*held)


def display(table: pd.DataFrame) -> pd.DataFrame:
    """Figures as rows, one column per language and one for the difference."""
    out = pd.DataFrame({"figure": table["figure"]})
    for lang in (CLOUDFORMATION, CDK):
        out[LANGUAGE_NAMES[lang]] = [
            ci_cell(r[lang], r[f"{lang}_low"], r[f"{lang}_high"]) for _, r in table.iterrows()
        ]
    out["CDK − CloudFormation"] = [
        ci_cell(r["diff"], r["ci_low"], r["ci_high"], "{:+.2f}") for _, r in table.iterrows()
    ]
    return out


def language_section(
    page: Page,
    attempts: pd.DataFrame,
    group_keys: list[str] = GROUP_KEYS,
    stopped: StoppedPolicy = "carry",
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame | None:
    """The section, when some model ran both languages; returns every pair's figures (for the
    CSV)."""
    pairs = language_pairs(attempts, group_keys)
    if not pairs:
        return None
    chains = fill_chains(attempts, stopped, pairs[0].keys)
    page.heading("CloudFormation vs CDK")
    page.text(METHOD, note=True)
    tables = []
    for pair in pairs:
        table, paired = compare_pair(chains, pair, n_boot, seed)
        problems = {
            lang: select(chains, g, pair.keys)["problem_id"].nunique()
            for lang, g in pair.groups.items()
        }
        shared = "problems; paired" if paired else "problems, none shared: unpaired"
        page.table(
            display(table),
            caption=f"{pair.label}: value [95 % CI] ({problems[CLOUDFORMATION]} CloudFormation "
            f"and {problems[CDK]} CDK {shared})",
        )
        sentence = language_sentence(pair.label, table, 0.95, paired)
        simulated = [select(attempts, g, pair.keys)["simulated"] for g in pair.groups.values()]
        if bool(np.asarray(pd.concat(simulated).fillna(False), dtype=bool).any()):
            sentence = f"{SIMULATED_BANNER}: {sentence}"
        page.text(sentence)
        left_out = sum(problems.values()) - 2 * len(_ids(chains, pair))
        if paired and left_out:
            page.text(
                f"{left_out} problems held by one language only are left out of this table.",
                note=True,
            )
        for note in pair.notes:
            page.text(note, note=True)
        tables.append(table.assign(pair=pair.label, paired=paired))
    return pd.concat(tables, ignore_index=True)
