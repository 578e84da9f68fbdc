"""The labels every output carries for rows that this harness did not get from a model.

Simulated rows (the offline simulator) get a loud warning; recorded rows (someone else's
published run, imported) a plain notice: they are real model output, just not produced here.
"""

from __future__ import annotations

SIMULATED_BANNER = "SIMULATED DATA — not a result about any LLM"
RECORDED_BANNER = "recorded: rows of a published run, imported; neither simulated nor run here"


def recorded_banner(source: str | None = None, who: str = "") -> str:
    """The recorded notice, naming where the rows came from and (in a comparison) which side."""
    text = RECORDED_BANNER + (f" (from {source})" if source else "")
    return f"{who}: {text}" if who else text
