"""Turn a prompt set and a problem into the messages of each turn, for both protocols."""

from __future__ import annotations

from benchmark.config import ConfigError, PromptSetConfig
from benchmark.models.base import ChatMessage
from benchmark.problems import Problem

FORMAT_NAMES = {"yaml": "YAML", "json": "JSON"}
_PLACEHOLDERS = {"prompt", "template", "feedback", "format_name", "format_tag"}


def _fill(text: str, prompts: PromptSetConfig, **values: str) -> str:
    fmt = prompts.output_format
    return text.format_map({"format_name": FORMAT_NAMES[fmt], "format_tag": fmt, **values})


def check_prompt_set(prompts: PromptSetConfig) -> None:
    """Fail at start, in one line, if a prompt names a placeholder the harness does not fill."""
    dummy = dict.fromkeys(_PLACEHOLDERS, "")
    for field in ("system", "generation", "repair", "repair_followup"):
        try:
            getattr(prompts, field).format_map(dummy)
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


def repair_messages(
    prompts: PromptSetConfig,
    protocol: str,
    history: list[ChatMessage],
    reply: str,
    template: str,
    feedback: str,
) -> list[ChatMessage]:
    """Messages for the next repair call.

    stateless (the paper's): only the previous template and the lint output, no problem text.
    conversation (IaCGen's): the whole history, the model's reply, then the feedback.
    """
    if protocol == "stateless":
        text = _fill(prompts.repair, prompts, template=template.rstrip("\n"), feedback=feedback)
        return [ChatMessage("system", prompts.system), ChatMessage("user", text)]
    followup = _fill(prompts.repair_followup, prompts, feedback=feedback)
    return [*history, ChatMessage("assistant", reply), ChatMessage("user", followup)]
