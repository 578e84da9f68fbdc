"""`simulated/<profile>`: the offline repair simulator (NOT an LLM), in benchmark/models/simulator/.

This module keeps the provider's import path and is its command line:

    python -m benchmark.models.simulated calibrate RUN --out PROFILE.yaml
    python -m benchmark.models.simulated validate PROFILE --run RUN [--out DIR]
    python -m benchmark.models.simulated synthesize PROFILE --dataset DIR --out RUN
    python -m benchmark.models.simulated power PROFILE --effect k=+20% [--samples 5] (make power)
"""

from __future__ import annotations

from benchmark.models.simulator import (
    CATALOGUE,
    Mutation,
    SimulatedModel,
    SimulatorSettings,
    find_sites,
    parse_template,
    render,
    stable_rng,
)

__all__ = [
    "CATALOGUE",
    "Mutation",
    "SimulatedModel",
    "SimulatorSettings",
    "find_sites",
    "parse_template",
    "render",
    "stable_rng",
]

if __name__ == "__main__":
    from benchmark.models.simulator.cli import main

    main()
