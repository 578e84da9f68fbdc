"""Analysis of feedback-loop sweeps: per-iteration measures, decay fits, churn, paper baseline.

Modules: `load` (read a run, fill stopped chains forward), `measures` (per-iteration measures
with problem-bootstrap CIs), `fit` (decay-then-plateau fit), `churn` (fixed / persisting /
introduced findings), `rules` (rule frequency by iteration), `paper` (the paper's published
baseline and raw-data importer), `compare` (model vs baseline), `designs` (feedback designs
compared), `security` (Checkov compliance per iteration), `figures`, `report`.
"""

from analysis.banner import SIMULATED_BANNER

__all__ = ["SIMULATED_BANNER"]
