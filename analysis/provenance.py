"""What produced a run's rows, and whether two runs were judged alike.

Per run, or per side of a comparison: the **origin** of its rows (`run`: this harness called
the model; `simulated`: the offline simulator; `recorded`: rows of someone else's published
run, imported; a null origin, in runs written before the column, is read from `simulated`),
the **cfn-lint release(s)** and **lint date(s)** that judged them, and the dataset, prompt set,
output format and response format.

**Like with like.** cfn-lint's findings move between releases (new rules) and, through rules
that read the clock (end-of-life Lambda runtimes), between days. Two sides are linted alike
when each was judged by one known cfn-lint release, the same one, and every linted row of both
carries a recorded lint date (`lint_as_of`) within LINT_DATE_SPAN_DAYS (1) of every other: a
run that crosses midnight is one lint date, a sweep spread over a week, or a run and another
linted a month later, are not. Rows written before `lint_as_of` existed have no known date and
are never alike with anything until re-scored
(`iacbench rescore RUN --cfn-lint VERSION --as-of DATE`, which freezes the
linter's clock to DATE).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import pandas as pd

from analysis.load import linted_mask

LINT_DATE_SPAN_DAYS = 1
NOT_RECORDED = "not recorded"
ALLOW_HINT = "or pass --allow-lint-mismatch (make: ALLOW_LINT_MISMATCH=1)"


def origins(attempts: pd.DataFrame) -> pd.Series:
    """Each row's origin; a null origin (older runs) is `simulated` or `run` from `simulated`."""
    simulated = attempts["simulated"].fillna(False).astype(bool).to_numpy()
    inferred = pd.Series(np.where(simulated, "simulated", "run"), index=attempts.index)
    if "origin" not in attempts:
        return inferred
    stated = attempts["origin"].astype(object)
    return stated.where(stated.notna(), inferred)


def summarize_sources(values: pd.Series) -> str | None:
    """`recorded_from` values in a few words: up to three listed, else their common folder."""
    distinct = sorted({str(v) for v in values.dropna()})
    if not distinct:
        return None
    if len(distinct) <= 3:
        return ", ".join(distinct)
    try:
        common = os.path.commonpath(distinct)
    except ValueError:  # absolute and relative paths mixed
        common = ""
    return f"{common}/… ({len(distinct)} files)" if common else f"{len(distinct)} files"


def _distinct(series: pd.Series | None) -> tuple[str, ...]:
    if series is None:
        return ()
    return tuple(sorted({str(v) for v in series.dropna()}))


def _most_common(counts: dict) -> object | None:
    """The key with the largest count, the largest key on a tie."""
    if not counts:
        return None
    top = max(counts.values())
    return max(k for k, n in counts.items() if n == top)


@dataclass(frozen=True)
class Provenance:
    """Where one side's rows came from and what judged them."""

    label: str  # "baseline", "candidate", "A", a group label ...
    path: str | None = None  # the run folder as the user named it
    origins: dict[str, int] = field(default_factory=dict)  # origin -> attempt rows
    versions: dict[str, int] = field(default_factory=dict)  # cfn-lint release -> linted rows
    dates: dict[date, int] = field(default_factory=dict)  # lint date -> linted rows
    undated: int = 0  # linted rows without a recorded lint date
    lint_cached: int = 0  # linted rows whose findings a lint cache gave (the same as a lint)
    datasets: tuple[str, ...] = ()
    prompt_sets: tuple[str, ...] = ()
    output_formats: tuple[str, ...] = ()
    response_formats: tuple[str, ...] = ()
    recorded_from: str | None = None  # summary of `recorded_from` of the recorded rows
    efforts: tuple[str, ...] = ()  # model.effort (issue 19); null: the provider's default
    thinkings: tuple[str, ...] = ()  # model.thinking: off | adaptive | budget:<n>
    thinking_displays: tuple[str, ...] = ()
    model_apis: tuple[str, ...] = ()  # messages | chat | responses | converse | simulated
    published: str | None = None  # a published table: how it was linted, in words
    origin_words: str | None = None  # a published table: its origin, in words

    @classmethod
    def of_attempts(cls, attempts: pd.DataFrame, label: str, path: str | None = None) -> Provenance:
        """Read from attempt rows; lint version and date from the rows the linter judged."""
        origin = origins(attempts)
        linted = attempts[linted_mask(attempts)]
        versions = (
            linted["cfn_lint_version"]
            .astype(object)
            .where(linted["cfn_lint_version"].notna(), NOT_RECORDED)
        )
        if "lint_as_of" in linted:
            stamped = pd.to_datetime(linted["lint_as_of"], errors="coerce").dropna()
            dates = Counter(stamped.dt.date)
        else:
            dates = Counter()
        recorded = attempts[origin == "recorded"]
        sources = recorded.get("recorded_from")
        return cls(
            label=label,
            path=path,
            origins=dict(Counter(origin)),
            versions=dict(Counter(versions)),
            dates=dict(dates),
            undated=len(linted) - sum(dates.values()),
            lint_cached=int(linted["lint_cached"].eq(True).sum()) if "lint_cached" in linted else 0,
            datasets=_distinct(attempts.get("dataset")),
            prompt_sets=_distinct(attempts.get("prompt_set")),
            output_formats=_distinct(attempts.get("output_format")),
            response_formats=_distinct(attempts.get("response_format")),
            efforts=_distinct(attempts.get("effort")),
            thinkings=_distinct(attempts.get("thinking")),
            thinking_displays=_distinct(attempts.get("thinking_display")),
            model_apis=_distinct(attempts.get("model_api")),
            recorded_from=summarize_sources(sources) if sources is not None else None,
        )

    # ---- what it says -------------------------------------------------------------------

    @property
    def simulated(self) -> bool:
        return "simulated" in self.origins

    @property
    def recorded(self) -> bool:
        return "recorded" in self.origins

    @property
    def version(self) -> str | None:
        """The one known cfn-lint release that judged every linted row, if there is one."""
        known = [v for v in self.versions if v != NOT_RECORDED]
        return known[0] if len(known) == 1 and NOT_RECORDED not in self.versions else None

    @property
    def main_version(self) -> str | None:
        """The release that judged most rows (a suggestion for re-scoring)."""
        return _most_common({v: n for v, n in self.versions.items() if v != NOT_RECORDED})  # type: ignore[return-value]

    @property
    def main_date(self) -> date | None:
        """The lint date of most rows, the later one on a tie."""
        return _most_common(self.dates)  # type: ignore[return-value]

    @property
    def uniform(self) -> bool:
        """One known release, and every linted row dated within the allowed span."""
        if self.published or self.version is None or self.undated or not self.dates:
            return False
        return (max(self.dates) - min(self.dates)).days <= LINT_DATE_SPAN_DAYS

    @property
    def origin_text(self) -> str:
        if self.origin_words:
            return self.origin_words
        if not self.origins:
            return "–"
        if len(self.origins) == 1:
            (name,) = self.origins
            text = name
        else:
            text = ", ".join(f"{name} {n}" for name, n in sorted(self.origins.items()))
        if self.recorded and self.recorded_from:
            text += f" (from {self.recorded_from})"
        return text

    @property
    def lint_text(self) -> str:
        """`cfn-lint 1.58.0, linted 2025-01-01`, with every release and date when they vary."""
        if self.published:
            return self.published
        if not self.versions:
            return "nothing linted"
        if len(self.versions) == 1:
            (release,) = self.versions
            lint = f"cfn-lint {release}"
        else:
            lint = "cfn-lint " + ", ".join(
                f"{v} ({n} rows)" for v, n in sorted(self.versions.items())
            )
        if self.dates:
            first, last = min(self.dates), max(self.dates)
            lint += f", linted {first}" if first == last else f", linted {first} to {last}"
            if len(self.dates) > 2:
                lint += f" ({len(self.dates)} dates)"
        if self.undated:
            lint += (
                f", lint date not recorded for {self.undated} rows"
                if self.dates
                else ", lint date not recorded (run written before lint_as_of)"
            )
        if self.lint_cached:
            lint += f" ({self.lint_cached} rows from the lint cache)"
        return lint

    @property
    def format_text(self) -> str:
        text = ", ".join(self.output_formats) or "–"
        if self.response_formats:
            text += f" (response_format {', '.join(self.response_formats)})"
        return text

    @property
    def thinking_text(self) -> str:
        """`adaptive (display summarized)`; `–` where not recorded or the provider's default."""
        text = ", ".join(self.thinkings) or "–"
        if self.thinking_displays:
            text += f" (display {', '.join(self.thinking_displays)})"
        return text

    def row(self) -> dict[str, str]:
        """One table row: side, origin, dataset, prompt set, output format, cfn-lint, and
        the reasoning settings (effort, thinking, the API spoken)."""
        return {
            "side": self.label,
            "run": self.path or "–",
            "origin": self.origin_text,
            "dataset": ", ".join(self.datasets) or "–",
            "prompt set": ", ".join(self.prompt_sets) or "–",
            "output format": self.format_text,
            "effort": ", ".join(self.efforts) or "–",
            "thinking": self.thinking_text,
            "model api": ", ".join(self.model_apis) or "–",
            "cfn-lint and lint date": self.lint_text,
        }

    def sentence(self) -> str:
        """The same in one line, for bullets and the console."""
        r = self.row()
        return (
            f"{self.label}: origin {r['origin']}; {r['cfn-lint and lint date']}; dataset "
            f"{r['dataset']}; prompt set {r['prompt set']}; output format {r['output format']}; "
            f"effort {r['effort']}; thinking {r['thinking']}; model api {r['model api']}"
        )


def published(
    label: str,
    lint: str,
    dataset: str,
    prompt_set: str,
    output_format: str,
    origin: str,
    words: str,
    source: str | None = None,
) -> Provenance:
    """A side that is a published table, not rows of a run folder: every field in words;
    `origin` is `published` (the paper's means) or `recorded` (the authors' lint text)."""
    return Provenance(
        label=label,
        path=source,
        origins={origin: 0},
        datasets=(dataset,),
        prompt_sets=(prompt_set,),
        output_formats=(output_format,),
        recorded_from=source,
        published=lint,
        origin_words=words,
    )


def installed_cfn_lint() -> str | None:
    try:
        return version("cfn-lint")
    except PackageNotFoundError:
        return None


# ---- like with like ----------------------------------------------------------------------


@dataclass(frozen=True)
class Rescore:
    """One `benchmark.replication.rescore` call: a run folder onto a given linter and date."""

    path: str
    cfn_lint: str
    as_of: date
    role: str = "run"  # the side its output then stands for

    @property
    def out(self) -> str:
        return f"{self.path.rstrip('/')}-cfn-lint-{self.cfn_lint}-{self.as_of}"

    @property
    def command(self) -> str:
        return (
            f"iacbench rescore {self.path} --cfn-lint {self.cfn_lint} "
            f"--as-of {self.as_of} --out {self.out}"
        )


@dataclass(frozen=True)
class LintMismatch:
    """Two sides judged by different cfn-lint releases or on different dates."""

    baseline: Provenance
    candidate: Provenance
    rescores: tuple[Rescore, ...]
    whom: str  # which side(s) the rescores put on the other's linter

    @property
    def difference(self) -> str:
        return (
            f"{self.baseline.label}: {self.baseline.lint_text}; "
            f"{self.candidate.label}: {self.candidate.lint_text}"
        )

    @property
    def message(self) -> str:
        """The one-line refusal, with the commands that mend it."""
        commands = "; ".join(f"`{r.command}`" for r in self.rescores)
        then = " and ".join(f"{r.out} as the {r.role}" for r in self.rescores)
        return (
            f"{self.baseline.label} and {self.candidate.label} were not linted alike "
            f"({self.difference}); rescore {self.whom}: {commands}, then compare with {then}; "
            f"{ALLOW_HINT}"
        )

    @property
    def opening(self) -> str:
        """The verdict's first sentence when the comparison goes ahead anyway."""
        return (
            f"Not like with like: the two sides were linted differently ({self.difference}), "
            "so part of any difference below is the linter's, not the model's."
        )


def lint_mismatch(baseline: Provenance, candidate: Provenance) -> LintMismatch | None:
    """None when the two sides were linted alike (see the module docstring); a published
    table is never checked here (its verdict says how it was linted)."""
    if baseline.published or candidate.published:
        return None
    if baseline.uniform and candidate.uniform and baseline.version == candidate.version:
        dates = [*baseline.dates, *candidate.dates]
        if (max(dates) - min(dates)).days <= LINT_DATE_SPAN_DAYS:
            return None
    same_folder = baseline.path is not None and baseline.path == candidate.path
    if baseline.uniform or candidate.uniform:
        reference = baseline if baseline.uniform else candidate
        other = candidate if reference is baseline else baseline
        release, when = reference.version, reference.main_date
        targets = [baseline] if same_folder else [other]
        whom = (
            "the run (it holds both sides) on one linter and date"
            if same_folder
            else f"the {other.label} with the {reference.label}'s cfn-lint and lint date"
        )
    else:
        release = baseline.main_version or candidate.main_version or installed_cfn_lint()
        when = baseline.main_date or candidate.main_date or date.today()
        targets = [baseline] if same_folder else [baseline, candidate]
        whom = (
            "the run (it holds both sides) on one linter and date"
            if same_folder
            else "both sides on one linter and date"
        )
    assert release is not None and when is not None
    rescores = tuple(
        Rescore(t.path or t.label, release, when, "run of both sides" if same_folder else t.label)
        for t in targets
    )
    return LintMismatch(baseline, candidate, rescores, whom)


def context_notes(baseline: Provenance, candidate: Provenance) -> list[str]:
    """What differs between the sides besides the linter (stated, not refused)."""
    notes = []
    axis = (
        ": a legitimate axis, compared here, so the differences below include its effect "
        "(and its cost)"
    )
    for name, a, b, why in (
        ("datasets", baseline.datasets, candidate.datasets, ""),
        ("output formats", baseline.output_formats, candidate.output_formats, ""),
        ("response formats", baseline.response_formats, candidate.response_formats, ""),
        ("efforts", baseline.efforts, candidate.efforts, axis),
        ("thinking settings", baseline.thinkings, candidate.thinkings, axis),
        ("model APIs", baseline.model_apis, candidate.model_apis, axis),
    ):
        if a != b and not (baseline.published or candidate.published):
            notes.append(
                f"The {name} differ ({baseline.label}: {', '.join(a) or '–'}; "
                f"{candidate.label}: {', '.join(b) or '–'}){why}."
            )
    return notes
