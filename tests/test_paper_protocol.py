"""The paper's protocol from a script in the shape of the authors': read with ast, never run,
written as a dataset and a prompt set that send the very requests their script sent."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from benchmark.config import load_settings
from benchmark.problems.__main__ import main
from benchmark.problems.dataset import load_dataset
from benchmark.problems.importers.output import DatasetImportError
from benchmark.problems.importers.paper_protocol import read_protocol
from benchmark.records.tables import read_table
from benchmark.replication.paper_repo import paper33_by_topic
from benchmark.runner.hydra_job import JobInfo, run_job
from tests.loopback import LoopbackServer
from tests.paper_fixture import DECOY, TYPO, fixture_prompt, write_script

ROOT = Path(__file__).resolve().parent.parent
GENERATION_SYSTEM = "Fixture system: answer with CloudFormation JSON."
REPAIR_SYSTEM = "Fixture repair system: JSON in, JSON out."


def imported(tmp_path: Path, *extra: str) -> tuple[Path, Path, int]:
    """Run the importer CLI on a fresh fixture script: (dataset folder, conf folder, rc)."""
    repo = tmp_path / "repo"
    repo.mkdir(exist_ok=True)
    if not (repo / "cfFilesBatching2.py").exists():
        write_script(repo)
    out, conf = tmp_path / "local" / "paper-original", tmp_path / "local" / "conf"
    code = main(
        ["import", "paper-protocol", str(repo), "--out", str(out), "--conf-dir", str(conf), *extra]
    )
    return out, conf, code


def test_the_script_is_read_never_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, _, code = imported(tmp_path)
    assert code == 0
    assert not (tmp_path / "repo" / DECOY).exists()  # its top level would have written this
    printed = capsys.readouterr().out
    assert (
        "make sweep DATASET=paper-original PROMPTS=paper-original MODELS=openai/gpt-4o "
        "ARGS='model.response_format=json_object'" in printed
    )
    problems = load_dataset(out)
    paper33 = {p.id: p for p in paper33_by_topic()}
    assert sorted(p.id for p in problems) == sorted(paper33)
    for number, reference in enumerate(paper33_by_topic(), start=1):
        problem = next(p for p in problems if p.id == reference.id)
        assert problem.prompt == fixture_prompt(number)
        assert problem.intent_checks == reference.intent_checks
        assert problem.reference_template == reference.reference_template
        assert (problem.services, problem.difficulty) == (reference.services, reference.difficulty)
        assert f"prompt {number} " in (problem.source or "")
    # a second import over the first is refused unless asked
    assert imported(tmp_path)[2] == 2
    assert imported(tmp_path, "--overwrite")[2] == 0


def test_requests_become_the_harness_placeholders(tmp_path: Path) -> None:
    protocol = read_protocol(write_script(tmp_path))
    assert protocol.system == GENERATION_SYSTEM and protocol.repair_system == REPAIR_SYSTEM
    assert protocol.generation == "Fixture request -> {prompt}"
    # literal braces escaped; the template is told apart from the lint text by data flow
    assert protocol.repair == "Fix {{it}} in ${{AWS::Region}}: {template} / {feedback}\n."
    assert protocol.response_format == "json_object"

    swapped = (
        write_script(tmp_path).read_text().replace("{my_json} / {error}", "{error} / {my_json}")
    )
    (tmp_path / "cfFilesBatching2.py").write_text(swapped)
    assert read_protocol(tmp_path / "cfFilesBatching2.py").repair.endswith(
        ": {feedback}\n / {template}."
    )


APPEND_3 = "prompts_list.append('Topic 3:"
APPEND_33 = "    prompts_list.append('Topic 33"
JSON_MODE = '        response_format={"type": "json_object"},\n'
BAD_EDITS = {  # what is replaced (its first occurrence), by what
    "an append of a variable": (APPEND_3, APPEND_3.replace("(", "(x + ")),
    "a missing prompt": (APPEND_33, "    # " + APPEND_33.strip()),
    "a list filled another way": ("prompts_list = []", "prompts_list = ['extra']"),
    "no json.dumps for the template": ("json.dumps(json.load(f))", "json.load(f)"),
    "a third request": ("for x in range(3):", "c.chat.completions.create()\nfor x in range(3):"),
    "a user message that is not an f-string": ('f"Fixture request -> {criteria}"', '"fixed"'),
    "no response_format on one request": (JSON_MODE, ""),
    "not Python": ("def add_prompts():", "def add_prompts(:"),
}


@pytest.mark.parametrize("edit", sorted(BAD_EDITS))
def test_anything_else_is_one_clear_error(tmp_path: Path, edit: str) -> None:
    old, new = BAD_EDITS[edit]
    script = write_script(tmp_path)
    text = script.read_text()
    assert old in text, edit
    script.write_text(text.replace(old, new, 1))
    with pytest.raises(DatasetImportError) as caught:
        read_protocol(script)
    message = str(caught.value)
    assert str(script) in message and "\n" not in message
    assert not (tmp_path / DECOY).exists()


def composed(conf: Path, *overrides: str):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            config_name="config",
            overrides=[f"hydra.searchpath=[file://{conf}]", *overrides],
        )
    return load_settings(OmegaConf.to_container(cfg, resolve=True))  # type: ignore[arg-type]


@pytest.mark.slow
def test_a_sweep_sends_the_papers_requests(
    tmp_path: Path, loopback: Callable[..., LoopbackServer]
) -> None:
    """Generation, a repair of an invalid template, a repair of a reply that was not JSON:
    every request is the one their script would have sent, in JSON mode."""
    _, conf, code = imported(tmp_path)
    assert code == 0
    pretty_typo = json.dumps(json.loads(TYPO), indent=2)
    clean = '{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}'

    def reply(body: dict, path: str) -> str:
        user = body["messages"][-1]["content"]
        if user.startswith("Fixture request"):
            return pretty_typo
        return clean if ": null / " in user else "Sorry, no JSON this time."

    server = loopback(reply)
    settings = composed(
        conf,
        "dataset=paper-original",
        "prompts=paper-original",
        "model.id=openai/gpt-4o",
        "model.response_format=json_object",
        f"model.providers.openai.base_url={server.openai_base_url}",
        "dataset.limit=1",
        "loop.samples=1",
        "loop.max_iterations=4",
        "progress=false",
        "lint.workers=1",
        "cache.enabled=false",
    )
    summary = asyncio.run(run_job(settings, JobInfo("s", 0, tmp_path / "run"), "sk-test"))
    assert summary.status == "complete" and summary.attempts == 3

    rows = read_table(tmp_path / "run", "attempts").sort_values("iteration")
    first, second, _ = rows.to_dict("records")
    assert first["template"] == TYPO and second["template"] == "null"
    assert set(rows["response_format"]) == {"json_object"}
    bodies = [r.body for r in server.requests]
    assert all(b["response_format"] == {"type": "json_object"} for b in bodies)
    prompt = load_dataset(settings.dataset.path)[0].prompt
    assert bodies[0]["messages"] == [
        {"role": "system", "content": GENERATION_SYSTEM},
        {"role": "user", "content": f"Fixture request -> {prompt}"},
    ]
    # what their repair f-string makes of json.dumps(json.load(f)) and the lint text (which
    # getstatusoutput left with one trailing newline)
    for body, before in ((bodies[1], first), (bodies[2], second)):
        my_json = json.dumps(json.loads(before["template"]))
        error = before["feedback"] + "\n"
        assert body["messages"] == [
            {"role": "system", "content": REPAIR_SYSTEM},
            {
                "role": "user",
                "content": f"Fix {{it}} in ${{AWS::Region}}: {my_json} / {error}.",
            },
        ]
    assert first["feedback"].startswith("E3002 ") and "\ntemplate.json:1:" in first["feedback"]
    assert second["feedback"].startswith("E1001 'Resources' is a required property")
