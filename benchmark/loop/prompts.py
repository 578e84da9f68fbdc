"""Turn a prompt set and a problem into the messages of each turn, for both protocols."""

from __future__ import annotations

from typing import Any

from benchmark.config import ConfigError, PromptSetConfig
from benchmark.models.base import ChatMessage
from benchmark.problems.dataset import Problem

FORMAT_NAMES = {"yaml": "YAML", "json": "JSON"}
_PLACEHOLDERS = {"prompt", "template", "feedback", "format_name", "format_tag"}


def _fill(text: str, prompts: PromptSetConfig, **values: str) -> str:
    fmt = prompts.output_format
    return text.format_map({"format_name": FORMAT_NAMES[fmt], "format_tag": fmt, **values})


def check_prompt_set(prompts: PromptSetConfig) -> None:
    """Fail at start, in one line, if a prompt names a placeholder the harness does not fill."""
    dummy = dict.fromkeys(_PLACEHOLDERS, "")
    fields = ("system", "repair_system", "generation", "repair", "repair_followup", "agent")
    for field in fields:
        # the agent text as it will be sent: the set's own or the shared default
        text = prompts.agent_text if field == "agent" else getattr(prompts, field)
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
    return [
        ChatMessage("system", prompts.system),
        ChatMessage("user", _fill(prompts.generation, prompts, prompt=problem.prompt.strip())),
    ]


def agent_messages(prompts: PromptSetConfig, problem: Problem) -> list[ChatMessage]:
    """The agent protocol's first turn: the set's system prompt and its agent task text."""
    task = _fill(prompts.agent_text, prompts, prompt=problem.prompt.strip())
    return [ChatMessage("system", prompts.system), ChatMessage("user", task)]


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
