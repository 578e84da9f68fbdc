"""The simulator writes CDK apps for cdk-python problems (benchmark/simulator/cdk/).

The apps are tests/cdk_apps/ (the paper33-cdk problem format). The slow tests synthesize each
kind of mistake for real and show it fails at its stage.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from benchmark.models.base import CallContext, GenerateConfig, ModelError
from benchmark.problems.dataset import Problem, load_dataset
from benchmark.simulator import SimulatedModel
from benchmark.simulator.cdk.behaviour import CdkRates, cdk_rates
from benchmark.simulator.cdk.edits import decode, render
from benchmark.simulator.cdk.mutation import KINDS, CdkMutation
from benchmark.simulator.cdk.sites import NOT_PROPERTIES, find_cdk_sites
from benchmark.simulator.profile import ProfileError, load_profile

APPS = Path(__file__).resolve().parent / "cdk_apps"


@pytest.fixture(scope="module")
def problems() -> dict[str, Problem]:
    return {p.id: p for p in load_dataset(APPS)}


def sites_of(problem: Problem) -> dict[str, list[CdkMutation]]:
    assert problem.reference_app is not None
    return find_cdk_sites(problem.reference_app, problem.intent_checks)


def feedback_for(active: Sequence[CdkMutation], intent: bool = True) -> str:
    """The feedback the real stages would give an app with `active` mistakes: synth stops at
    the first error (syntax before anything runs, then the first statement that raises),
    cfn-lint reports every escape hatch, and failed intent checks follow (if fed back)."""
    by_line = sorted(active, key=lambda m: m.start)
    syntax = [m for m in by_line if m.kind == "syntax_slip"]
    raising = [m for m in by_line if m.rule_id in ("S1002", "C1001")]
    if syntax:
        lines = [f"1. S1001 (error) at app.py, line {syntax[0].start + 1}: invalid syntax"]
    elif raising:
        m = raising[0]
        lines = [f"1. {m.rule_id} (error) at app.py, line {m.start + 1}: '{m.signature}'"]
    else:
        lines = [
            f"{n}. E3002 (error) at Resources.X.Properties: "
            f"Additional properties are not allowed ('{m.signature}' was unexpected)"
            for n, m in enumerate((m for m in by_line if m.kind == "escape_hatch"), start=1)
        ]
    failed = sorted({c for m in active if m.kind == "missing_grant" for c in m.checks})
    if intent and failed:
        lines += ["The template does not yet do what was asked:", *(f"- {c}" for c in failed)]
    return "\n".join(lines)


def model(problems: dict[str, Problem], **rates: object) -> SimulatedModel:
    sim = SimulatedModel("default", problems=problems)
    if rates:
        sim.cdk.behaviour = type(sim.cdk.behaviour)(CdkRates(**rates))  # type: ignore[arg-type]
    return sim


def call(sim: SimulatedModel, context: CallContext) -> str:
    output = asyncio.run(
        sim.generate([], GenerateConfig(temperature=0.0, max_tokens=4096), context)
    )
    return output.text


def app_of(reply: str) -> str:
    return reply.split("```python\n", 1)[1].rsplit("```", 1)[0]


def chain(sim: SimulatedModel, pid: str, sample: int, iterations: int, intent: bool = True):
    """The mistakes of each attempt of one chain, fed back as the real stages would."""
    problem = sim.cdk.problem(pid)
    states: list[tuple[CdkMutation, ...]] = []
    previous: str | None = None
    feedback: str | None = None
    for iteration in range(1, iterations + 1):
        context = CallContext(pid, sample, iteration, "json", previous, feedback)
        previous = app_of(call(sim, context))
        active = decode(problem.reference, problem.sites, previous)
        assert active is not None
        states.append(active)
        if not active:
            break
        feedback = feedback_for(active, intent)
    return states


# ---- sites -----------------------------------------------------------------------------------


def test_each_app_has_the_sites_its_code_allows(problems: dict[str, Problem]) -> None:
    kinds = {pid: set(sites_of(p)) for pid, p in problems.items()}
    assert kinds["bucket-reader"] == set(KINDS)
    assert kinds["queue-table"] == set(KINDS)
    # no bucket or function to name, no grant: those kinds are never drawn there
    assert kinds["topic-logs"] == set(KINDS) - {"invalid_name", "missing_grant"}


def test_a_grant_is_a_site_only_where_an_intent_check_would_notice(
    problems: dict[str, Problem],
) -> None:
    app = problems["bucket-reader"]
    without = app.model_copy(update={"intent_checks": app.intent_checks[:1]})
    assert "missing_grant" in sites_of(app)
    assert "missing_grant" not in sites_of(without)


def test_a_missing_permission_is_noticed_by_the_checks_naming_it(
    problems: dict[str, Problem],
) -> None:
    grants = {m.signature: m.checks for m in sites_of(problems["queue-table"])["missing_grant"]}
    # the statement names its action: only the check on it notices; a grant names none
    assert grants["add_to_role_policy"] == ("The worker may send messages to the queue.",)
    assert len(grants["grant_write_data"]) == 2
    app = (
        "import aws_cdk as cdk\n"
        "from aws_cdk import aws_iam as iam\n\n\n"
        "class AppStack(cdk.Stack):\n"
        "    def __init__(self, scope, construct_id, **kwargs) -> None:\n"
        "        super().__init__(scope, construct_id, **kwargs)\n"
        "        iam.Role(\n"
        '            self,\n            "Node",\n'
        '            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),\n'
        "            managed_policies=[\n"
        '                iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSSMCore"),\n'
        '                iam.ManagedPolicy.from_aws_managed_policy_name("CloudWatchAgent"),\n'
        "            ],\n"
        "        )\n"
    )
    check = {
        "id": "ssm",
        "kind": "property_matches",
        "description": "The role allows Systems Manager.",
        "resource_type": "AWS::IAM::Role",
        "path": "Properties.ManagedPolicyArns",
        "pattern": "AmazonSSMCore$",
    }
    problem = problems["topic-logs"].model_copy(update={"reference_app": app})
    checks = Problem.model_validate({**problem.model_dump(), "intent_checks": [check]})
    sites = find_cdk_sites(app, checks.intent_checks)["missing_grant"]
    assert [(m.signature, m.checks) for m in sites] == [
        ("AmazonSSMCore", ("The role allows Systems Manager.",))
    ]
    assert "AmazonSSMCore" not in render(app, sites) and "CloudWatchAgent" in render(app, sites)


def test_sites_follow_how_the_app_imports_the_library() -> None:
    app = (
        "import aws_cdk as cdk\n"
        "from aws_cdk import aws_cloudfront\n"
        "from aws_cdk.aws_s3 import Bucket\n\n\n"
        "class AppStack(cdk.Stack):\n"
        "    def __init__(self, scope, construct_id, **kwargs) -> None:\n"
        "        super().__init__(scope, construct_id, **kwargs)\n"
        '        Bucket(self, "Data", versioned=True)\n'
        '        aws_cloudfront.Function(self, "Edge", function_name="edge")\n'
    )
    sites = find_cdk_sites(app)
    # the S3 bucket's name is validated by CDK; a CloudFront function is not a Lambda one
    assert [m.signature for m in sites["invalid_name"]] == ["Data_Bucket"]
    assert {m.signature for m in sites["misspelt_keyword"]} == {"verisoned", "functionName"}


def test_escape_hatch_properties_exist_on_no_resource_type() -> None:
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER  # deferred: loads every schema

    region = "us-east-1"
    found: set[str] = set()
    for type_name in PROVIDER_SCHEMA_MANAGER.get_resource_types(region):
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, type_name).schema
        found |= set(schema.get("properties", {}))
    assert found and not set(NOT_PROPERTIES) & found


# ---- render and decode -------------------------------------------------------------------------


def test_every_site_renders_and_decodes_back(problems: dict[str, Problem]) -> None:
    for problem in problems.values():
        sim = model(problems)
        cdk = sim.cdk.problem(problem.id)
        assert render(cdk.reference, ()).rstrip() == cdk.reference.rstrip()
        for m in cdk.sites:
            assert decode(cdk.reference, cdk.sites, render(cdk.reference, (m,))) == (m,)
        first = {kind: sites[0] for kind, sites in cdk.sites_by_kind.items()}
        together = cdk.canonical(
            [m for m in first.values() if not any(m.overlaps(o) and m != o for o in first.values())]
        )
        assert (
            cdk.canonical(decode(cdk.reference, cdk.sites, render(cdk.reference, together)) or ())
            == together
        )


def test_an_app_it_did_not_write_is_a_state_error(problems: dict[str, Problem]) -> None:
    sim = model(problems)
    context = CallContext("bucket-reader", 0, 2, "json", "print('hello')\n", "S1002")
    with pytest.raises(ModelError) as caught:
        call(sim, context)
    assert caught.value.kind == "simulator_state"
    kept_nothing = CallContext("bucket-reader", 0, 2, "json", "null", "S1001")
    assert "class AppStack" in call(sim, kept_nothing)  # nothing kept: drawn anew


def test_the_agent_protocol_refuses_a_cdk_problem_in_one_line(
    problems: dict[str, Problem],
) -> None:
    from benchmark.models.base import ToolSpec

    tool = ToolSpec("validate_template", "validate", {"type": "object"})
    config = GenerateConfig(temperature=0.0, max_tokens=4096, tools=(tool,))
    context = CallContext("topic-logs", 0, 1, "json")
    with pytest.raises(ModelError, match="CloudFormation only") as caught:
        asyncio.run(model(problems).generate([], config, context))
    assert caught.value.fatal and "\n" not in str(caught.value)


# ---- replies ---------------------------------------------------------------------------------


def test_a_reply_is_one_python_block_labelled_simulated_and_byte_stable(
    problems: dict[str, Problem],
) -> None:
    context = CallContext("queue-table", 3, 1, "json")
    first = call(model(problems), context)
    assert first == call(model(problems), context)  # another instance: the same bytes
    assert first.startswith("Simulated repair model (not an LLM)")
    assert first.count("```python\n") == 1 and "class AppStack(cdk.Stack)" in first
    assert model(problems).simulated
    # a repair call, as a resumed chain makes it from the recorded rows: the same bytes too
    repair = CallContext("queue-table", 3, 2, "json", app_of(first), "1. S1002 (error) ...")
    assert call(model(problems), repair) == call(model(problems), repair)


def test_a_clean_app_is_the_reference_and_stays_it(problems: dict[str, Problem]) -> None:
    sim = model(problems, clean=1.0)
    reference = problems["topic-logs"].reference_app
    first = app_of(call(sim, CallContext("topic-logs", 0, 1, "json")))
    assert first == reference
    again = app_of(call(sim, CallContext("topic-logs", 0, 2, "json", first, "")))
    assert again == first


def test_a_shown_mistake_is_fixed_and_an_unshown_one_kept(problems: dict[str, Problem]) -> None:
    sim = model(problems, introduce_when_fixing=0.0, introduce_otherwise=0.0)
    cdk = sim.cdk.problem("bucket-reader")
    kwarg = next(m for m in cdk.sites_by_kind["misspelt_keyword"] if m.signature == "tiemout")
    enum = next(m for m in cdk.sites_by_kind["wrong_enum"] if m.signature == "PYTHON_3_99")
    app = render(cdk.reference, (enum, kwarg))
    fixes = 0
    for sample in range(20):
        told = "1. S1002 (error) at app.py, line 21: AttributeError: PYTHON_3_99"
        context = CallContext("bucket-reader", sample, 2, "json", app, told)
        after = decode(cdk.reference, cdk.sites, app_of(call(sim, context)))
        assert after is not None and kwarg in after  # not shown: never fixed
        fixes += enum not in after
    assert 12 <= fixes <= 20  # shown: fixed at about fix.wrong_enum (0.85)


def test_a_syntax_slip_hides_every_other_mistake(problems: dict[str, Problem]) -> None:
    sim = model(problems, introduce_when_fixing=0.0, introduce_otherwise=0.0)
    cdk = sim.cdk.problem("bucket-reader")
    slip = cdk.sites_by_kind["syntax_slip"][0]
    enum = next(m for m in cdk.sites_by_kind["wrong_enum"] if m.signature == "PYTHON_3_99")
    app = render(cdk.reference, (slip, enum))
    told = feedback_for((slip, enum))
    assert "S1002" not in told
    for sample in range(10):
        context = CallContext("bucket-reader", sample, 2, "json", app, told)
        after = decode(cdk.reference, cdk.sites, app_of(call(sim, context)))
        assert after is not None and enum in after


def test_a_missing_grant_is_fixed_only_when_intent_is_fed_back(
    problems: dict[str, Problem],
) -> None:
    sim = model(problems, introduce_when_fixing=0.0, introduce_otherwise=0.0)
    cdk = sim.cdk.problem("bucket-reader")
    grant = cdk.sites_by_kind["missing_grant"][0]
    app = render(cdk.reference, (grant,))
    assert "grant_read" not in app
    silent = [CallContext("bucket-reader", s, 2, "json", app, "") for s in range(20)]
    assert all(grant in (sim.cdk.state(c)) for c in silent)
    told = feedback_for((grant,))
    fed = [CallContext("bucket-reader", s, 2, "json", app, told) for s in range(20)]
    assert sum(grant not in sim.cdk.state(c) for c in fed) >= 6  # fix.missing_grant 0.6


def test_chains_decay_then_plateau_and_intent_feedback_helps(
    problems: dict[str, Problem],
) -> None:
    sim = model(problems)
    for intent in (True, False):
        with_mistakes = [0] * 6
        for pid in problems:
            for sample in range(30):
                states = chain(sim, pid, sample, 6, intent)
                for i in range(6):
                    with_mistakes[i] += bool(states[min(i, len(states) - 1)])
        assert with_mistakes[0] > with_mistakes[2] >= with_mistakes[5]
        if intent:
            told = with_mistakes
            assert told[5] > 0  # persistent mistakes: a plateau above zero
    assert told[5] < with_mistakes[5]  # unshown grants stay missing


# ---- profiles ---------------------------------------------------------------------------------


def test_a_profile_cdk_section_overrides_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("kind: hand-set\ncdk:\n  clean: 0.5\n  fix: {escape_hatch: 0.1}\n")
    rates = load_profile(str(path)).cdk
    assert rates.clean == 0.5 and rates.fix["escape_hatch"] == 0.1
    assert rates.fix["syntax_slip"] == CdkRates().fix["syntax_slip"]
    assert cdk_rates({}) == CdkRates()
    path.write_text("kind: hand-set\ncdk:\n  kinds: {typo: 0.5}\n")
    with pytest.raises(ProfileError, match=r"cdk\.kinds\.typo: not a kind") as caught:
        load_profile(str(path))
    assert "\n" not in str(caught.value)


def test_the_simulator_attempts_cdk_problems_and_the_plan_counts_them(
    problems: dict[str, Problem],
) -> None:
    from benchmark.runner.plan.job import plan_job  # deferred: imports the whole runner
    from tests.test_job import settings_for

    assert all(model(problems).skip_reason(p) is None for p in problems.values())
    settings = settings_for(
        f"dataset.path={APPS}", "dataset.name=cdk-apps", "model.id=simulated/default",
        "planning.draws=20",
    )  # fmt: skip
    plan = plan_job(settings)
    assert plan.chains == 3 * settings.loop.samples and plan.calls.expected > 0


# ---- each mistake fails at its stage when synthesized (slow: real synths) ------------------------


def synthesized(code: str, tmp_path: Path) -> dict:
    from benchmark.validators.cdk.synth_app import node_path, synth  # deferred: the cdk extra

    os.environ.setdefault("JSII_NODE", node_path())
    out = tmp_path / f"out{len(list(tmp_path.iterdir()))}"
    out.mkdir()
    return synth(code, out)


@pytest.mark.slow
def test_each_mistake_kind_fails_at_its_stage_when_synthesized(
    problems: dict[str, Problem], tmp_path: Path
) -> None:
    pytest.importorskip("aws_cdk")
    assert assert_stages(problems, tmp_path) > 50


def assert_stages(problems: dict[str, Problem], tmp_path: Path, per_kind: int = 0) -> int:
    """Synthesize every site (`per_kind`: only the first and last few of each kind) of every
    app alone; each fails at its stage. The synths made."""
    from benchmark.validators.cfn_lint.validator import LintSettings, WarmLinter
    from benchmark.validators.intent import check_results

    linter = WarmLinter(LintSettings())
    made = 0
    expected = {
        "syntax_slip": "syntax_error",
        "misspelt_keyword": "python_error",
        "wrong_enum": "python_error",
        "invalid_name": "cdk_error",
        "escape_hatch": "ok",
        "missing_grant": "ok",
    }
    for problem in problems.values():
        cdk = SimulatedModel("default", problems=problems).cdk.problem(problem.id)
        clean = synthesized(cdk.reference, tmp_path)
        assert clean["status"] == "ok"
        assert all(r.passed for r in check_results(problem.intent_checks, clean["template"]))
        baseline = {f.rule_id for f in linter.lint(clean["template"])}
        chosen = [
            m
            for sites in cdk.sites_by_kind.values()
            for m in (sites if not per_kind else {*sites[:per_kind], *sites[-per_kind:]})
        ]
        for m in chosen:
            got = synthesized(render(cdk.reference, (m,)), tmp_path)
            where = f"{problem.id} {m.key}"
            assert got["status"] == expected[m.kind], (where, got)
            if m.kind in ("misspelt_keyword", "wrong_enum", "invalid_name"):
                assert m.signature in got["message"], (where, got)
            if m.kind == "escape_hatch":
                rules = {f.rule_id for f in linter.lint(got["template"])} - baseline
                assert rules == {"E3002"}, (where, rules)
            if m.kind == "missing_grant":
                failed = {
                    r.description
                    for r in check_results(problem.intent_checks, got["template"])
                    if not r.passed
                }
                assert failed and failed <= set(m.checks), (where, failed)
        made += 1 + len(chosen)
    return made


PAPER33_CDK = Path(__file__).resolve().parent.parent / "datasets" / "paper33-cdk"


@pytest.mark.slow
@pytest.mark.skipif(not PAPER33_CDK.is_dir(), reason="datasets/paper33-cdk not there yet")
def test_each_mistake_fails_at_its_stage_on_paper33_cdk(tmp_path: Path) -> None:
    """The same proof over the project's dataset: every site of every reference app."""
    pytest.importorskip("aws_cdk")
    problems = {p.id: p for p in load_dataset(PAPER33_CDK)}
    assert_stages(problems, tmp_path, per_kind=1)
