"""The language axis: CDK problems, prompt sets and datasets say they are cdk-python; a CDK
reply is a Python module; a job whose dataset and prompt set disagree stops at start."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from benchmark.config import ConfigError, PromptSetConfig
from benchmark.loop.extract import extract_template
from benchmark.loop.prompts import feedback_filename, generation_messages
from benchmark.problems.dataset import DatasetError, load_dataset, parse_problem
from benchmark.records.origin import config_hash
from tests.test_config import ROOT, settings_for

CDK_FIXTURE = ROOT / "tests" / "cdk_dataset"  # two small CDK problems in the shipped format

ROOT = Path(__file__).resolve().parent.parent
APP = (CDK_FIXTURE / "versioned-bucket.yaml").read_text()
CDK_JOB = ("dataset=paper33-cdk", "prompts=cdk")


def cdk_problem(**changes: object) -> dict:
    data = yaml.safe_load(APP)
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_a_cdk_problem_loads_with_its_app_and_language() -> None:
    problems = load_dataset(CDK_FIXTURE)
    assert [p.language for p in problems] == ["cdk-python", "cdk-python"]
    assert all(
        p.reference_template is None and "class AppStack" in p.reference_app for p in problems
    )


def test_the_language_keys_at_their_defaults_keep_every_digest() -> None:
    smoke = load_dataset(ROOT / "datasets" / "smoke")[0]
    # built anew, so no digest cached on the loaded problem (another test may have asked for
    # it first) is copied along
    data = {**smoke.model_dump(), "language": "cloudformation", "reference_app": None}
    spelled = type(smoke).model_validate(data)
    assert spelled.sha256 == smoke.sha256
    app = parse_problem(cdk_problem(), "app.yaml")
    other = parse_problem(cdk_problem(reference_app=app.reference_app + "# more\n"), "app.yaml")
    assert app.sha256 != other.sha256  # the app is content


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"reference_app": None}, "field 'reference_app': missing (language cdk-python)"),
        (
            {"reference_template": "Resources: {}"},
            "field 'reference_template': a cdk-python problem has a reference_app instead",
        ),
        ({"reference_app": "class AppStack(:\n"}, "field 'reference_app': does not parse"),
        ({"reference_app": "class Other:\n    pass\n"}, "defines no class AppStack"),
        ({"language": "cloudformation"}, "only a problem with language cdk-python has one"),
        ({"language": "pulumi"}, "field 'language'"),
    ],
)
def test_a_bad_cdk_problem_is_one_line(changes: dict, message: str) -> None:
    with pytest.raises(DatasetError) as caught:
        parse_problem(cdk_problem(**changes), "app.yaml")
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert str(caught.value).startswith("app.yaml: ")


def test_the_cdk_prompt_set_states_the_contract() -> None:
    settings = settings_for(*CDK_JOB)
    assert (settings.prompts.language, settings.prompts.output_format) == ("cdk-python", "python")
    problem = load_dataset(CDK_FIXTURE)[0]
    system, user = generation_messages(settings.prompts, problem)
    for term in ("class AppStack(cdk.Stack)", "aws_cdk", "constructs", "cdk.App", "synth()"):
        assert term in user.content
    assert "```python" in user.content and problem.prompt.strip() in user.content
    assert "AWS CDK" in system.content
    for text in (settings.prompts.repair, settings.prompts.repair_followup):
        assert "Python" in text and "CDK" in text and "cfn-lint" in text


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ("dataset=paper33-cdk",),
            "prompt set 'paper' is for cloudformation but dataset 'paper33-cdk' is cdk-python: "
            "use prompts=cdk",
        ),
        (("prompts=cdk",), "prompt set 'cdk' is for cdk-python but dataset 'smoke'"),
        ((*CDK_JOB, "loop.protocol=agent"), "config error at 'loop.protocol'"),
    ],
)
def test_a_language_mismatch_stops_the_job_at_start(overrides: tuple, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_for(*overrides)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_python_output_needs_the_cdk_language() -> None:
    with pytest.raises(ValueError, match="output_format python does not fit language"):
        PromptSetConfig(
            name="x",
            output_format="python",
            system="s",
            generation="g",
            repair="r",
            repair_followup="f",
        )


def test_a_dataset_whose_problems_are_in_another_language_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(APP)
    with pytest.raises(ConfigError, match="dataset smoke is cloudformation but its problem"):
        settings_for(f"dataset.path={tmp_path}").result_fingerprint()


def test_the_language_axis_stays_out_of_cloudformation_hashes() -> None:
    """Older runs keep their hash: no language or cdk key unless the dataset is CDK."""
    data = settings_for().result_fingerprint()
    assert "language" not in data["dataset"] and "language" not in data["prompts"]
    assert "cdk" not in data
    assert config_hash(settings_for("cdk.memory_mb=2048").result_fingerprint()) == config_hash(data)


def test_a_cdk_hash_holds_the_sandbox_limits_not_its_workers() -> None:
    base = config_hash(settings_for(*CDK_JOB).result_fingerprint())
    assert settings_for(*CDK_JOB).result_fingerprint()["dataset"]["language"] == "cdk-python"
    for same in ("cdk.workers=3", "cdk.sandbox=unshare", "cdk.jsii_cache=/tmp/j"):
        assert config_hash(settings_for(*CDK_JOB, same).result_fingerprint()) == base, same
    for other in ("cdk.memory_mb=2048", "cdk.cpu_s=5", "cdk.wall_s=9", "cdk.processes=8"):
        assert config_hash(settings_for(*CDK_JOB, other).result_fingerprint()) != base, other


FENCED = (
    "Here it is:\n```python\nimport aws_cdk as cdk\n\nclass AppStack(cdk.Stack):\n    pass\n```\n"
)


@pytest.mark.parametrize(
    ("reply", "rule", "module"),
    [
        (
            FENCED,
            "fenced-python",
            "import aws_cdk as cdk\n\nclass AppStack(cdk.Stack):\n    pass\n",
        ),
        ("```py\nclass A:\n    x = 1\n```", "fenced-python", "class A:\n    x = 1\n"),
        ("```\nclass A: pass\n```", "fenced-python", "class A: pass\n"),
        ("```python\nclass A:\n    x = 1\n", "unclosed-fence", "class A:\n    x = 1\n"),
        ("class A:\n    pass\n", "whole-reply", "class A:\n    pass\n"),
        ("  ", "empty", ""),
    ],
)
def test_a_python_module_is_extracted(reply: str, rule: str, module: str) -> None:
    extraction = extract_template(reply, "python")
    assert (extraction.rule, extraction.template) == (rule, module)


def test_the_longest_block_that_defines_a_class_wins() -> None:
    usage = "```python\n" + "print('how to run it')\n" * 20 + "```\n"
    reply = f"{FENCED}\nRun it with:\n{usage}```yaml\nResources: {{}}\n```\n"
    extraction = extract_template(reply, "python")
    assert extraction.rule == "fenced-python" and "class AppStack" in extraction.template
    assert extract_template("```python\nx = 1\n```", "python").template == "x = 1\n"


def test_the_feedback_names_app_py_for_python() -> None:
    assert feedback_filename("python") == "app.py"
    assert feedback_filename("yaml") == "template.yaml"


def test_make_sweep_on_a_cdk_dataset_picks_the_cdk_prompt_set() -> None:
    def dry(*args: str) -> str:
        made = subprocess.run(["make", "-n", "sweep", *args], cwd=ROOT, capture_output=True)
        return made.stdout.decode()

    assert "prompts=cdk dataset=paper33-cdk" in dry("DATASET=paper33-cdk")
    assert "prompts=paper dataset=paper33" in dry()
    assert "prompts=structured dataset=paper33-cdk" in dry(
        "DATASET=paper33-cdk", "PROMPTS=structured"
    )
