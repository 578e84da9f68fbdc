"""The mutation catalogue on the shipped datasets: every kind has sites, sites raise their rule
alone, and a rendered template decodes back to the mutations behind it."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from pathlib import Path

import pytest

from benchmark.problems.dataset import load_dataset
from benchmark.simulator.behaviour import SimProblem
from benchmark.simulator.catalogue import CATALOGUE, covered_rules, find_sites
from benchmark.simulator.lint_data import runtime_lifecycle, runtime_rule
from benchmark.simulator.mutations import decode, render
from benchmark.simulator.template import parse_template
from studies.sitecheck import check_sites

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = [
    p
    for name in ("smoke", "paper33")
    for p in load_dataset(ROOT / "datasets" / name)
    if p.reference_template
]
JOIN_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Join ["-", [!Ref AWS::StackName, data]]
"""


def sim_problem(problem_id: str, text: str) -> SimProblem:
    tree = parse_template(text)
    return SimProblem(problem_id, tree, find_sites(tree))


def test_every_kind_has_sites_on_the_shipped_datasets() -> None:
    kinds = {kind for p in PROBLEMS for kind in find_sites(parse_template(p.reference_template))}
    kinds |= set(find_sites(parse_template(JOIN_TEMPLATE)))  # no shipped problem joins strings
    assert kinds == set(CATALOGUE)


def test_the_frequent_rules_of_real_runs_are_covered() -> None:
    frequent = {
        "E3002", "E3003", "E1010", "E1020", "E3012", "E3030", "E1001", "E3031", "E1151",
        "W2001", "W1011", "W1020", "W3005", "E2531", "E2533", "W2531", "E3032", "W2501",
        "E1029", "E1017", "E1022", "E3016", "E3006", "E1041", "E6101", "E0000",
    }  # fmt: skip
    assert frequent <= covered_rules()
    # retired services, reported only by cfn-lint releases since 2025: 38 % of the findings
    # today's cfn-lint makes on the authors' run
    assert {"W3697", "W3696", "E3710"} <= covered_rules()


def test_runtime_rule_follows_cfn_lints_lifecycle_dates() -> None:
    data = runtime_lifecycle()["python3.8"]
    deprecated, create, update = (
        date.fromisoformat(data[k]) for k in ("deprecated", "create-block", "update-block")
    )
    assert runtime_rule("python3.8", deprecated - timedelta(days=1)) is None
    assert runtime_rule("python3.8", deprecated) == "W2531"
    assert runtime_rule("python3.8", create) == "E2531"
    assert runtime_rule("python3.8", update) == "E2533"
    assert runtime_rule("no-such-runtime", update) is None
    problem = next(p for p in PROBLEMS if p.id == "cfn-macro-date-functions")
    for day in (deprecated, create, update):
        sites = find_sites(parse_template(problem.reference_template), day)["eol_runtime"]
        assert all(runtime_rule(m.edits[0].value, day) == m.rule_id for m in sites)
        assert {m.rule_id for m in sites} <= {"W2531", "E2531", "E2533"}


@pytest.mark.parametrize("output_format", ["yaml", "json"])
def test_rendered_templates_decode_to_their_mutations(output_format: str) -> None:
    rng = random.Random(7)
    checked = 0
    for p in [*PROBLEMS, None]:
        problem = sim_problem(p.id if p else "join", p.reference_template if p else JOIN_TEMPLATE)
        for _ in range(12):
            active: list = []
            for _ in range(rng.randint(0, 5)):
                free = problem.free(problem.sites, active)
                if free:
                    active.append(rng.choice(free))
            state = problem.canonical(active)
            text = render(problem.template, state, output_format)
            assert decode(problem.template, problem.sites, text, output_format) == state
            checked += 1
    assert checked > 400


def test_a_json_template_kept_as_json_dumps_still_decodes() -> None:
    """Under `template_as: json_dumps` the loop hands back one-line JSON, not the rendering."""
    rng = random.Random(11)
    checked = 0
    for p in PROBLEMS[:12]:
        problem = sim_problem(p.id, p.reference_template)
        tree_sites = [m for m in problem.sites if not m.is_text]
        for _ in range(4):
            active: list = []
            for _ in range(rng.randint(1, 3)):
                free = problem.free(tree_sites, active)
                if free:
                    active.append(rng.choice(free))
            state = problem.canonical(active)
            kept = json.dumps(json.loads(render(problem.template, state, "json")))
            assert decode(problem.template, problem.sites, kept, "json") == state
            checked += 1
    assert checked == 48


def test_a_template_the_simulator_did_not_render_does_not_decode() -> None:
    a, b = (sim_problem(p.id, p.reference_template) for p in PROBLEMS[:2])
    other = render(b.template, (), "yaml")
    assert decode(a.template, a.sites, other, "yaml") is None
    edited = render(a.template, (), "yaml").replace("Resources:", "Resources:\n  Extra: {}", 1)
    assert decode(a.template, a.sites, edited, "yaml") is None
    assert decode(a.template, a.sites, "not: [a template", "yaml") is None


@pytest.mark.slow
def test_sampled_sites_raise_their_rule_and_almost_always_nothing_else() -> None:
    # 3 sites of each kind on paper33 (each a whole reference linted); every site of the smoke
    # problems is checked exactly, in both formats, in test_simulated.py
    table = check_sites(ROOT / "datasets" / "paper33", per_kind=3, seed=1).set_index("kind")
    assert (table["linted"] == 3).all(), table
    assert (table["raises_its_rule"] == 1.0).all(), table
    assert (table["exact"] >= 0.8).all(), table
    assert table["exact"].mean() >= 0.95, table
