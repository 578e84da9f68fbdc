"""The simulator on edit problems: it starts from the expected template, makes collateral
changes at its profile's rates, and its repairs restore some and add others (issue 22)."""

from __future__ import annotations

import pytest
import yaml

from benchmark.models.base import CallContext
from benchmark.problems.dataset import Problem
from benchmark.simulator import SimulatedModel, SimulatorSettings
from benchmark.simulator.behaviour import Chain, HandSet
from benchmark.simulator.edit_sites import COLLATERAL_RULES, collateral_sites, kept_resources
from benchmark.simulator.editing import (
    DEFAULT_EDIT_RATES,
    Editing,
    EditRates,
    EditRatesError,
    edit_rates,
    is_collateral,
)
from benchmark.simulator.mutations import apply, render
from benchmark.simulator.profile import ProfileError, load_profile
from benchmark.simulator.template import parse_template

INITIAL = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  RetentionDays:
    Type: Number
    Default: 7
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      Tags:
        - Key: team
          Value: data
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      MessageRetentionPeriod: 345600
      Tags:
        - Key: team
          Value: data
  Logs:
    Type: AWS::Logs::LogGroup
    Properties:
      RetentionInDays: !Ref RetentionDays
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      FifoTopic: true
      TopicName: events.fifo
"""
EXPECTED = INITIAL.replace(
    "      Tags:\n        - Key: team\n          Value: data\n  Queue:",
    "      BucketEncryption:\n        ServerSideEncryptionConfiguration:\n"
    "          - ServerSideEncryptionByDefault:\n              SSEAlgorithm: aws:kms\n"
    "      Tags:\n        - Key: team\n          Value: data\n  Queue:",
    1,
)
CHECKS = [
    {
        "id": "encrypted",
        "kind": "property_exists",
        "description": "the bucket is encrypted",
        "resource_type": "AWS::S3::Bucket",
        "path": "Properties.BucketEncryption",
    }
]


def edit_problem(**extra: object) -> Problem:
    return Problem(
        id="encrypt-bucket",
        title="Encrypt the bucket",
        prompt="Encrypt the bucket with KMS.",
        initial_template=INITIAL,
        expected_template=EXPECTED,
        intent_checks=CHECKS,
        may_change=["Resources/Bucket/Properties/BucketEncryption*"],
        edit_kind="add-encryption",
        **extra,
    )


def model(rates: EditRates | None = None, **settings: object) -> SimulatedModel:
    sim = SimulatedModel(
        "default",
        problems={"encrypt-bucket": edit_problem()},
        settings=SimulatorSettings(**settings),
    )
    if rates is not None:
        sim.editing = Editing(sim.behaviour, rates)
    return sim


def first(sim: SimulatedModel, sample: int) -> tuple:
    ctx = CallContext("encrypt-bucket", sample, 1, "yaml")
    return sim.next_state(sim.problem("encrypt-bucket"), ctx)


def test_expected_template_is_the_reference_and_sites_spare_what_the_request_touches() -> None:
    assert edit_problem().is_edit and edit_problem().reference_template == EXPECTED
    expected, initial = parse_template(EXPECTED), parse_template(INITIAL)
    problem = edit_problem()
    # the bucket is changed (and its type named by an intent check): never collateral
    assert kept_resources(expected, initial, (), problem.may_change, problem.intent_checks) == [
        "Queue",
        "Logs",
        "Topic",
    ]
    sites = collateral_sites(expected, initial, (), problem.may_change, problem.intent_checks)
    drops = [m.path for m in sites["drop_resource"]]
    # Logs is the only user of RetentionDays: dropping it would leave W2001 for lint to see
    assert drops == [("Resources", "Queue"), ("Resources", "Topic")]
    altered = {m.path for m in sites["alter_property"]}
    assert ("Resources", "Topic", "Properties", "FifoTopic") in altered
    assert ("Resources", "Queue", "Properties", "Tags", 0, "Value") in altered
    assert not any(p[1] == "Bucket" for p in altered)
    (rename,) = sites["rename_parameter"]
    renamed = apply(expected, [rename])
    assert "RetentionDaysValue" in renamed["Parameters"]
    assert renamed["Resources"]["Logs"]["Properties"]["RetentionInDays"] == {
        "Ref": "RetentionDaysValue"
    }
    for kind, found in sites.items():
        assert all(m.rule_id == COLLATERAL_RULES[kind] for m in found)


def test_must_keep_wins_over_may_change() -> None:
    expected, initial = parse_template(EXPECTED), parse_template(INITIAL)
    kept = kept_resources(expected, initial, ["Resources/Queue"], ["Resources/*"], [])
    assert kept == ["Queue"]


def test_a_clean_first_edit_without_damage_is_the_expected_template() -> None:
    sim = model(EditRates(collateral=0.0), clean_start_probability=1.0)
    problem = sim.problem("encrypt-bucket")
    for sample in range(5):
        assert first(sim, sample) == ()
    text = render(problem.template, (), "yaml")
    assert parse_template(text) == parse_template(EXPECTED)
    assert parse_template(text) != parse_template(INITIAL)


def test_collateral_changes_appear_at_about_the_profiles_rate() -> None:
    sim = model(EditRates(collateral=0.3))
    n = 600
    damaged = sum(any(is_collateral(m) for m in first(sim, s)) for s in range(n))
    # binomial(600, 0.3): mean 180, sd 11.2; +-5 sd
    assert 124 <= damaged <= 236
    none = model(EditRates(collateral=0.0))
    assert not any(any(is_collateral(m) for m in first(none, s)) for s in range(100))


def test_collateral_draws_are_deterministic_and_decode_from_the_template() -> None:
    a, b = model(), model()
    problem = a.problem("encrypt-bucket")
    for sample in range(40):
        state = first(a, sample)
        assert state == first(b, sample)
        assert a.decode("encrypt-bucket", render(problem.template, state, "yaml"), "yaml") == state


def test_the_same_mistakes_as_without_the_edit_section() -> None:
    """Collateral changes come from their own random stream: the lint mistakes do not move."""
    plain_model, damaged = model(EditRates(collateral=0.0)), model(EditRates(collateral=1.0))
    for sample in range(40):
        lint = [m for m in first(damaged, sample) if not is_collateral(m)]
        assert tuple(lint) == first(plain_model, sample)


def _fixing_repairs(rates: EditRates, n: int) -> tuple[int, int]:
    """Over n repairs that fix a lint mistake the feedback names: (repairs that added a
    collateral change, repairs that removed the one there was)."""
    sim = model(rates, fix_probability=1.0, introduce_probability=0.0)
    problem = sim.problem("encrypt-bucket")
    editing = Editing(HandSet(sim.settings), rates)
    mistake = next(m for m in problem.sites if not is_collateral(m) and m.rule_id != "E0000")
    damage = next(m for m in problem.collateral_by_kind["drop_resource"])
    added = removed = 0
    for sample in range(n):
        chain = Chain(0, problem.id, sample, 2)
        out = editing.repair(problem, problem.canonical([mistake]), mistake.rule_id, chain)
        assert mistake not in out  # the lint fix happened
        added += any(is_collateral(m) for m in out)
        out = editing.repair(problem, problem.canonical([damage]), "X1001 resource removed", chain)
        removed += damage not in out
    return added, removed


def test_repairs_that_fix_lint_sometimes_add_damage_and_named_damage_is_restored() -> None:
    added, removed = _fixing_repairs(
        EditRates(damage_when_fixing=0.2, restore_named=0.6, damage_otherwise=0.0), 500
    )
    assert 60 <= added <= 140  # binomial(500, 0.2): mean 100, sd 8.9
    assert 240 <= removed <= 360  # binomial(500, 0.6): mean 300, sd 11


def test_profile_edit_section_and_its_default() -> None:
    assert load_profile("default").edit == EditRates(
        collateral=0.25, restore_named=0.7, restore_unnamed=0.05
    )
    assert edit_rates({}) is DEFAULT_EDIT_RATES  # a calibrated profile without the section
    assert edit_rates({"edit": {"kinds": {"drop_resource": 2}}}).kinds == {"drop_resource": 2.0}


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"collateral": 1.5}, "edit.collateral: a probability"),
        ({"often": 0.1}, "unknown key 'often'"),
        ({"kinds": {"melt": 1}}, "edit.kinds.melt: not a collateral kind"),
    ],
)
def test_a_bad_edit_section_is_one_line(tmp_path, section: dict, message: str) -> None:
    with pytest.raises(EditRatesError, match=message):
        edit_rates({"edit": section})
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"kind": "hand-set", "edit": section}))
    with pytest.raises(ProfileError, match=message):
        load_profile(str(path))
