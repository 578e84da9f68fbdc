"""Model providers: a registry from provider name to implementation, imported lazily.

A model id is "provider/name", e.g. "anthropic/claude-sonnet-4-5", "openai/gpt-4o",
"openai-compatible/meta-llama/Llama-3-8B", "bedrock/us.anthropic.claude-haiku-4-5-20251001-v1:0"
(the name may itself contain '/').
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from benchmark.models.base import ModelAPI

if TYPE_CHECKING:
    from benchmark.models.base import ModelAPI

PROVIDERS: dict[str, str] = {
    "anthropic": "benchmark.models.anthropic:AnthropicModel",
    "openai": "benchmark.models.openai:OpenAIModel",
    "openai-compatible": "benchmark.models.openai_compatible:OpenAICompatibleModel",
    "simulated": "benchmark.simulator:SimulatedModel",
    "bedrock": "benchmark.models.bedrock:BedrockModel",
}


def _known() -> str:
    return ", ".join(sorted(PROVIDERS))


def parse_model_id(model_id: str) -> tuple[str, str]:
    """Split "provider/name" into (provider, name); ValueError if either part is bad."""
    provider, sep, name = model_id.partition("/")
    if provider not in PROVIDERS:
        raise ValueError(
            f"unknown provider {provider!r} in model id {model_id!r}; "
            f"expected 'provider/name' with provider one of: {_known()}"
        )
    if not sep or not name.strip():
        raise ValueError(f"model id {model_id!r} has no model name; expected '{provider}/<name>'")
    return provider, name


def provider_class(provider: str) -> type[ModelAPI]:
    """The ModelAPI subclass for `provider`, importing its module on first use."""

    try:
        target = PROVIDERS[provider]
    except KeyError:
        raise ValueError(f"unknown provider {provider!r}; known: {_known()}") from None
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, ModelAPI)):
        raise TypeError(f"{target} is not a ModelAPI subclass")
    return cls
