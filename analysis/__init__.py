"""Analysis of feedback-loop sweeps: per-iteration measures, decay fits, churn, paper baseline.

Modules: `load` (read a run, fill stopped chains forward), `measures` (per-iteration measures
with problem-bootstrap CIs), `fit` (decay-then-plateau fit), `churn` (fixed / persisting /
introduced findings), `rules` (rule frequency by iteration), `paper` (the paper's published
baseline and raw-data importer), `provenance` (origin, cfn-lint release and lint date of a
run's rows; the like-with-like rule), `compare` (model vs baseline), `drift` (the same
templates linted two ways), `designs` (feedback designs compared), `security` (Checkov
compliance per iteration), `cost_frontier` (what a clean template costs per
effort and iteration limit; the Pareto front), `frontier` (the best setting for a budget),
`pass_at_k` (pass@k and pass^k over samples), `figures`, `report`.
"""

from analysis.banner import RECORDED_BANNER, SIMULATED_BANNER

__all__ = ["RECORDED_BANNER", "SIMULATED_BANNER"]
