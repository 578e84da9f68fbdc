"""The offline repair simulator (NOT an LLM), split by job.

| module | job |
| --- | --- |
| `template.py` | parse a reference template; cfn-lint's resource schemas and property slots |
| `mutations.py` | a mutation's edits; apply, render, and decode a rendered template back |
| `catalogue.py` | where each kind of mistake can go on a template, and the rule it raises |
| `behaviour.py` | hand-set and calibrated behaviour: first draw, repair |
| `profile.py` | profile YAML files (conf/model/simulator/): load, check, write |
| `model.py` | `SimulatedModel`, the `simulated` provider |
| `calibrate.py` | estimate a profile from a recorded run |
| `synthesize.py` | a synthetic recorded run from a profile (for tests and worked examples) |
| `validate.py` | simulate a profile against its source run, per iteration, with a figure |
| `chains.py` | a profile's chains as counts of findings (numpy), for many chains at once |
| `effects.py` | an effect on k, C or clean@n, and the candidate process that shows it |
| `power.py` | power of `make compare` by samples per problem, on replicate experiments |
| `power_report.py` | a power analysis as a page: table, figure, SIMULATED labels |
| `cli.py` | `python -m benchmark.models.simulated calibrate|validate|synthesize|power|sites` |
"""

from benchmark.models.simulator.behaviour import SimulatorSettings, stable_rng
from benchmark.models.simulator.catalogue import CATALOGUE, covered_rules, find_sites
from benchmark.models.simulator.model import SimulatedModel
from benchmark.models.simulator.mutations import Edit, Mutation, decode, render
from benchmark.models.simulator.profile import Profile, ProfileError, load_profile
from benchmark.models.simulator.template import parse_template

__all__ = [
    "CATALOGUE",
    "Edit",
    "Mutation",
    "Profile",
    "ProfileError",
    "SimulatedModel",
    "SimulatorSettings",
    "covered_rules",
    "decode",
    "find_sites",
    "load_profile",
    "parse_template",
    "render",
    "stable_rng",
]
