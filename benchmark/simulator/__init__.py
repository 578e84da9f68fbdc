"""The offline repair simulator (NOT an LLM), split by job.

| module | job |
| --- | --- |
| `template.py` | parse a reference template; cfn-lint's resource schemas and property slots |
| `mutations.py` | a mutation's edits; apply, render, and decode a rendered template back |
| `catalogue.py` | where each kind of mistake can go on a template, and the rule it raises |
| `behaviour.py` | hand-set and calibrated behaviour: first draw, repair |
| `agent.py` | the agent policy (loop.protocol=agent): its profile section, the chain's state |
| `edit_sites.py` | where a collateral change can go on an edit problem, and its rule |
| `editing.py` | collateral changes on edit problems, at a profile's `edit` rates |
| `profile.py` | profile YAML files (conf/model/simulator/): load, check, write |
| `model.py` | `SimulatedModel`, the `simulated` provider |
| `sites.py` | a seeded sample of the catalogue's sites on a dataset |
| `chains.py` | a profile's chains as counts of findings (numpy), for many chains at once |
| `cdk/` | CDK apps (Python) for cdk-python problems: mistakes at every synth stage, repairs |

The studies that drive it (calibrate, validate a profile, synthetic runs, power, site check)
live in studies/ at the top level.
"""

from benchmark.simulator.behaviour import SimulatorSettings, stable_rng
from benchmark.simulator.catalogue import CATALOGUE, covered_rules, find_sites
from benchmark.simulator.model import SimulatedModel
from benchmark.simulator.mutations import Edit, Mutation, decode, render
from benchmark.simulator.profile import Profile, ProfileError, load_profile
from benchmark.simulator.template import parse_template

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
