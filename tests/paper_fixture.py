"""The paper authors' published repository in miniature, written by the tests themselves.

Same layout and text format as Mayur-Palavalli/LLM-IaC-generation (facts only; every word
here is the project's own): `cfFilesBatching2.py` at the root, and under
`JSON_run_v2/JSONwork_batching{T}/`: `errorCSVs/errorsCSV{I}.csv` written by pandas `to_csv`
(one column, header `Errors` in the first file and `0` in the others, one row per template,
`""` for a clean one) and `json_set_{I}/JSONtemplate{N}.json` written by `json.dump` (one
line, `null` where the reply was not JSON). The lint text is cfn-lint's default output on
each file, as their script captured it, path on their machine included.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from benchmark.loop.feedback import FeedbackInput, format_raw
from benchmark.replication.paper_repo import PROMPTS, TEMPLATES
from benchmark.validators.base import Finding

DECOY = "DECOY_RAN"  # the script writes this file next to itself if it is ever executed
THEIR_MACHINE = "/Users/someone/Documents"

# Templates as their script stored them: json.dump of the parsed reply.
CLEAN = json.dumps(
    {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}}}
)
CLEAN_AGAIN = json.dumps(
    {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "asked again with an empty error, answered differently",
        "Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}},
    }
)
TYPO = json.dumps(
    {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketNam": "x"}}}}
)
UNUSED = json.dumps(
    {
        "Parameters": {"Env": {"Type": "String"}},
        "Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}},
    }
)
NULL = json.dumps(None)  # "null": the reply did not parse as JSON
# a resource type cfn-lint flags (W3697, maintenance mode) only since its lifecycle data (2025)
LEGACY = json.dumps(
    {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Config": {
                "Type": "AWS::AutoScaling::LaunchConfiguration",
                "Properties": {"ImageId": "ami-12345678", "InstanceType": "t3.micro"},
            }
        },
    }
)
# rules that appeared in cfn-lint releases after the authors' run (1.4.x, 2024): their lint
# text cannot name them, today's findings hold them
LATER_RULES = frozenset({"E3710", "W3696", "W3697"})


def as_released_in_2024(lint: Callable[[str], list[Finding]]) -> Callable[[str], list[Finding]]:
    """`lint` without the rules later releases added: the linter that wrote their text."""
    return lambda text: [f for f in lint(text) if f.rule_id not in LATER_RULES]


# template number -> its text at iterations 1, 2, 3 (None: no file published)
CHAINS: dict[int, list[str | None]] = {
    1: [TYPO, CLEAN, CLEAN],  # repaired, then copied forward
    2: [CLEAN, CLEAN, CLEAN_AGAIN],  # clean: copied at 2, re-asked with "" and changed at 3
    6: [NULL, TYPO, CLEAN],  # the reply was not JSON at first
    7: [UNUSED, UNUSED, CLEAN],  # a warning the first repair left alone
    11: [TYPO, None, CLEAN],  # the file of iteration 2 is missing
    TEMPLATES: [CLEAN, CLEAN, CLEAN],
}
TRIALS = (1, 2)
ITERATIONS = 3
NO_RULE_BLOCK = "Unexpected error: the linter could not finish this template"


def fixture_prompt(number: int) -> str:
    """The fixture's own prompt text for topic `number` (not the authors')."""
    return f"Topic {number}: write a CloudFormation template (fixture wording, case {number})."


def write_script(root: Path, prompts: list[str] | None = None, body: str | None = None) -> Path:
    """A script in the shape of theirs: prompts appended in a function, two chat requests,
    and top-level statements that would do real work; one of them writes the decoy file."""
    prompts = [fixture_prompt(n) for n in range(1, PROMPTS + 1)] if prompts is None else prompts
    appends = "\n".join(f"    prompts_list.append({text!r})" for text in prompts)
    script = root / "cfFilesBatching2.py"
    script.write_text(
        body
        if body is not None
        else f"""\
import json
import subprocess
from pathlib import Path
from openai import OpenAI

Path(__file__).with_name({DECOY!r}).write_text("this script was executed")

prompts_list = []
def add_prompts():
{appends}
    print(len(prompts_list))

add_prompts()

def generate(x, criteria):
    client = OpenAI(api_key="")
    response = client.chat.completions.create(
        model="gpt-4o",
        response_format={{"type": "json_object"}},
        messages=[
            {{"role": "system", "content": "Fixture system: answer with CloudFormation JSON."}},
            {{"role": "user", "content": f"Fixture request -> {{criteria}}"}},
        ],
    )
    my_json = json.loads(response.choices[0].message.content)
    with open(f"JSONtemplate{{x}}.json", "w") as f:
        json.dump(my_json, f)
    return subprocess.getstatusoutput("cfn-lint x.json")

def repair(z, x, errors):
    error = errors[z]
    with open(f"json_set_{{x + 1}}/JSONtemplate{{z + 1}}.json") as f:
        my_json = json.dumps(json.load(f))
    client = OpenAI(api_key="")
    response = client.chat.completions.create(
        model="gpt-4o",
        response_format={{"type": "json_object"}},
        messages=[
            {{"role": "system", "content": "Fixture repair system: JSON in, JSON out."}},
            {{
                "role": "user",
                "content": f"Fix {{{{it}}}} in ${{{{AWS::Region}}}}: {{my_json}} / {{error}}.",
            }},
        ],
    )
    return response

for x in range(3):
    generate(x, prompts_list[x])
""",
        encoding="utf-8",
    )
    return script


def their_path(trial: int, iteration: int, number: int) -> str:
    return (
        f"{THEIR_MACHINE}/JSON_run_v2/JSONwork_batching{trial}/json_set_{iteration}/"
        f"JSONtemplate{number}.json"
    )


def lint_text(findings: list[Finding], trial: int, iteration: int, number: int) -> str:
    """cfn-lint's default text output on their file, as `subprocess.getstatusoutput` kept it:
    every finding is followed by a blank line, and one trailing newline is stripped."""
    text = format_raw(FeedbackInput(findings, their_path(trial, iteration, number)))
    return text + "\n" if text else text


def write_repository(
    root: Path,
    lint: Callable[[str], list[Finding]],
    chains: dict[int, list[str | None]] | None = None,
) -> Path:
    """Their repository: the script, and two trials of three iterations, linted by `lint`
    (`chains`: template number -> texts, default CHAINS).

    Trial 2 differs: its first cell of template 1 carries a block without a rule id, and its
    last CSV lacks the row of template 165."""
    chains = CHAINS if chains is None else chains
    root.mkdir(parents=True, exist_ok=True)
    write_script(root)
    run = root / "JSON_run_v2"
    for trial in TRIALS:
        folder = run / f"JSONwork_batching{trial}"
        for iteration in range(1, ITERATIONS + 1):
            cells = [""] * TEMPLATES
            for number, texts in chains.items():
                text = texts[iteration - 1]
                shown = text if text is not None else TYPO  # their CSV row exists either way
                cells[number - 1] = lint_text(lint(shown), trial, iteration, number)
                if text is not None:
                    path = folder / f"json_set_{iteration}" / f"JSONtemplate{number}.json"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(text, encoding="utf-8")
            if trial == 2 and iteration == 1:
                cells[0] += f"\n{NO_RULE_BLOCK}\n"
            if trial == 2 and iteration == ITERATIONS:
                cells = cells[:-1]
            csv = folder / "errorCSVs" / f"errorsCSV{iteration}.csv"
            csv.parent.mkdir(parents=True, exist_ok=True)
            frame = (
                pd.DataFrame(cells, columns=["Errors"]) if iteration == 1 else pd.DataFrame(cells)
            )
            frame.to_csv(csv, index=False)
    (run / ".DS_Store").write_bytes(b"\0\1\2")
    (root / "testCSV.csv").write_text("Errors\n")
    return root
