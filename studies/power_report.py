"""A power analysis as a page: power.md / power.html, power.csv and figures/power.png|svg, every
one labelled SIMULATED (analysis.render stamps the banner on page and figure, the CSV carries a
`simulated` column)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from analysis.render import Page, write_csv
from studies.power import PowerResult

CAVEAT = (
    "Chains are drawn from the profile's rates by a chain-level model of the simulator "
    "(benchmark/simulator/chains.py: counts of findings per rule, no template, no "
    "cfn-lint), so this power is only as good as the profile: its problems differ only by "
    "difficulty and by the rules the simulator can raise on them, and real models' problems "
    "and samples differ more, so real power may be lower."
)


def reached(result: PowerResult) -> str:
    """The answer in words: the smallest samples per problem reaching the wanted power."""
    if result.smallest is None:
        top = int(result.table["samples"].max())
        return (
            f"not reached up to {top} samples per problem (power grows with the chains per "
            "group, samples × problems: try --sizes beyond it, --problems, or a larger effect)"
        )
    chains = result.smallest * len(result.design.problems)
    return f"{result.smallest} samples per problem ({chains} chains per group)"


def summary_lines(result: PowerResult) -> list[str]:
    """The design, the effect as calibrated, what detected means, and the answer."""
    e, d, c, s = result.effect, result.design, result.calibration, result.settings
    lever = f"; lever {c.lever}, theta = {c.theta:.3g}" if c.lever != "profile" else ""
    feedback = "errors only" if d.named_levels == "E" else "errors and warnings"
    null = c.goal == c.baseline_value
    where = "on either side (the false-positive rate)" if null else "on the effect's side"
    return [
        f"baseline: {result.profile}; candidate: {result.candidate}",
        f"design: {len(d.problems)} problems, {d.samples} samples per problem, {d.iterations} "
        f"iterations, clean rule {d.clean_when}, feedback names {feedback}; both groups on the "
        "same problems (make compare's bootstrap paired by problem)",
        f"population {e.name}: baseline {c.baseline_value:.3g}, candidate "
        f"{c.candidate_value:.3g} (wanted {c.goal:.3g}){lever}",
        f"detected: make compare's {s.level:.0%} CI of {e.measured} (candidate − baseline) "
        f"excludes zero {where}; "
        f"{s.replicates} replicates per size, {s.n_boot} bootstrap resamples, "
        f"{s.fit_boot} refits, seed {s.seed}",
        f"power at the design's {d.samples} samples per problem: {result.power_at(d.samples):.2f}",
        f"smallest design reaching {result.wanted:.0%} power: {reached(result)}",
    ]


def figure(result: PowerResult) -> Any:
    """Power against samples per problem with Wilson 95 % bands, the design's own size, the
    wanted power and the answer."""
    # deferred: matplotlib.pyplot takes ~0.8 s to import (measured); only figures need it
    import matplotlib.pyplot as plt

    t, design = result.table, result.design.samples
    fig, ax = plt.subplots(figsize=(6.0, 3.8))
    ax.fill_between(t["samples"], t["ci_low"], t["ci_high"], alpha=0.25, label="Wilson 95 % CI")
    ax.plot(t["samples"], t["power"], "o-", label=result.effect.label)
    mark = {"ms": 10, "mfc": "none", "color": "C1", "label": f"the design: {design}"}
    ax.plot([design], [result.power_at(design)], "s", **mark)
    ax.axhline(result.wanted, linestyle="--", color="grey", lw=1, label=f"{result.wanted:.0%}")
    if result.smallest:
        ax.axvline(
            result.smallest,
            linestyle=":",
            color="black",
            lw=1,
            label=f"smallest: {result.smallest}",
        )
    ax.set_xscale("log")
    ticks = _spaced(t["samples"].tolist())
    ax.set_xticks(ticks, [str(n) for n in ticks])
    ax.minorticks_off()
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("samples per problem")
    ax.set_ylabel(f"power (make compare, {result.settings.level:.0%} CI)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return fig


def _spaced(sizes: list[int], ratio: float = 1.2) -> list[int]:
    """The sizes to label on a log axis: each at least `ratio` times the last one labelled."""
    out: list[int] = []
    for n in sorted(sizes):
        if not out or n >= ratio * out[-1]:
            out.append(n)
    return out


def write(result: PowerResult, out_dir: str | Path) -> tuple[Path, Path]:
    """power.md / power.html, power.csv and figures/power.png|svg (all labelled simulated)."""

    out = Path(out_dir)
    page = Page(f"Power: {result.effect.label} on {result.profile}", out, simulated=True)
    page.bullets(summary_lines(result))
    page.table(result.table, caption="Power by samples per problem (Wilson 95 % CI)")
    page.figure(
        figure(result),
        "power",
        f"Power of make compare by samples per problem on {len(result.design.problems)} "
        "problems (band: Wilson 95 % CI over replicates; dashed: the power wanted)",
    )
    page.text(CAVEAT, note=True)
    write_csv(result.table, out / "power.csv", True, "simulated")
    return page.write("power")
