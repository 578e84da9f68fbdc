"""The warning every output carries when any of its rows came from the offline simulator."""

SIMULATED_BANNER = "SIMULATED DATA — not a result about any LLM"
