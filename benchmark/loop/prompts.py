"""Turn a prompt set and a problem into the messages of each turn, for both protocols."""

from __future__ import annotations

from typing import Any

from benchmark.config import ConfigError, PromptSetConfig
from benchmark.models.base import ChatMessage
from benchmark.problems.dataset import Problem

FORMAT_NAMES = {"yaml": "YAML", "json": "JSON", "python": "Python"}
_PLACEHOLDERS = {"prompt", "template", "feedback", "format_name", "format_tag"}


def _fill(text: str, prompts: PromptSetConfig, **values: str) -> str:
    fmt = prompts.output_format
    return text.format_map({"format_name": FORMAT_NAMES[fmt], "format_tag": fmt, **values})


def feedback_filename(output_format: str) -> str:
    """The file the feedback names: template.yaml / template.json, or a CDK app's app.py."""
    return "app.py" if output_format == "python" else f"template.{output_format}"


def check_prompt_set(prompts: PromptSetConfig) -> None:
    """Fail at start, in one line, if a prompt names a placeholder the harness does not fill."""
    dummy = dict.fromkeys(_PLACEHOLDERS, "")
    fields = ("system", "repair_system", "generation", "repair", "repair_followup")
    shared = {  # as they will be sent: the set's own or the shared default
        "agent": prompts.agent_text,
        "edit": prompts.edit_text,
        "agent_edit": prompts.agent_edit_text,
    }
    texts = {**{field: getattr(prompts, field) for field in fields}, **shared}
    for field, text in texts.items():
        if text is None:
            continue
        try:
            text.format_map(dummy)
        except (KeyError, ValueError, IndexError) as exc:
            raise ConfigError(
                f"config error at 'prompts.{field}' of prompt set '{prompts.name}': "
                f"bad placeholder {exc} (known: {sorted(_PLACEHOLDERS)})"
            ) from None


def generation_messages(prompts: PromptSetConfig, problem: Problem) -> list[ChatMessage]:
    """The first call: the request (`generation`), or for an edit problem the change request
    with the initial template (`edit`)."""
    return [ChatMessage("system", prompts.system), _first(prompts, problem, agent=False)]


def agent_messages(prompts: PromptSetConfig, problem: Problem) -> list[ChatMessage]:
    """The agent protocol's first turn: the set's system prompt and its agent task text (its
    edit variant, with the initial template, for an edit problem)."""
    return [ChatMessage("system", prompts.system), _first(prompts, problem, agent=True)]


def _first(prompts: PromptSetConfig, problem: Problem, agent: bool) -> ChatMessage:
    request = problem.prompt.strip()
    if problem.initial_template is None:
        text = prompts.agent_text if agent else prompts.generation
        return ChatMessage("user", _fill(text, prompts, prompt=request))
    edit = prompts.agent_edit_text if agent else prompts.edit_text
    initial = problem.initial_template.strip("\n")
    return ChatMessage("user", _fill(edit, prompts, prompt=request, template=initial))


def repair_messages(
    prompts: PromptSetConfig,
    protocol: str,
    history: list[ChatMessage],
    reply: str,
    template: str,
    feedback: str,
    carry: tuple[dict[str, Any], ...] = (),
) -> list[ChatMessage]:
    """Messages for the next repair call.

    stateless (the paper's): only the previous template and the lint output, no problem text,
    under the prompt set's repair system prompt (its generation one when it has none).
    conversation (IaCGen's): the whole history, the model's reply (with `carry`, the reasoning
    items it came with, for the provider to send back), then the feedback.
    """
    template = template.rstrip("\n")
    if protocol == "stateless":
        text = _fill(prompts.repair, prompts, template=template, feedback=feedback)
        system = prompts.repair_system if prompts.repair_system is not None else prompts.system
        return [ChatMessage("system", system), ChatMessage("user", text)]
    followup = _fill(prompts.repair_followup, prompts, template=template, feedback=feedback)
    return [*history, ChatMessage("assistant", reply, carry), ChatMessage("user", followup)]
