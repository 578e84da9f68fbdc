"""Build the configured model from settings: one place that knows every provider's arguments."""

from __future__ import annotations

from collections.abc import Mapping

from benchmark.config import BedrockConfig, ConfigError, Settings
from benchmark.models import PROVIDERS, provider_class
from benchmark.models.base import ModelAPI
from benchmark.models.cache import CachedModel, ResponseCache
from benchmark.models.retry import RetryingModel
from benchmark.problems import Problem


def create_model(
    settings: Settings, problems: Mapping[str, Problem], api_key: str | None
) -> ModelAPI:
    model = settings.model
    cls = provider_class(model.provider)
    check_response_format(model.provider, model.response_format)
    if model.provider == "simulated":
        from benchmark.models.simulator import ProfileError, SimulatedModel

        options = {"seed": settings.seed, **model.simulator}
        try:
            return SimulatedModel.from_options(model.name, problems, options, settings.lint.as_of)
        except ProfileError as exc:
            raise ConfigError(f"config error at 'model.simulator': {exc}") from None
    transport = model.provider_config()
    if model.provider == "openai-compatible" and not transport.base_url:
        raise ConfigError(
            "config error at 'model.providers.openai_compatible.base_url': "
            "openai-compatible models need the server's base URL"
        )
    if isinstance(transport, BedrockConfig):
        provider = _bedrock(cls, model.name, transport)
    else:
        provider = cls(  # type: ignore[call-arg]
            model.name,
            api_key=api_key or "not-needed",
            base_url=transport.base_url,
            timeout_s=transport.timeout_s,
            max_retries=0,  # RetryingModel retries; the SDK's own retries would stack on top
            max_concurrency=transport.max_concurrency,
        )
    wrapped: ModelAPI = RetryingModel(
        provider,
        max_retries=transport.max_retries,
        timeout_s=transport.timeout_s,
        backoff_base_s=transport.backoff_base_s,
        backoff_max_s=transport.backoff_max_s,
        max_concurrency=transport.max_concurrency,
    )
    if settings.cache.enabled:
        wrapped = CachedModel(wrapped, ResponseCache(settings.cache.path), transport.endpoint)
    return wrapped


def _bedrock(cls: type[ModelAPI], name: str, transport: BedrockConfig) -> ModelAPI:
    """A Bedrock model; no AWS credentials (or an unknown profile) is one line, before any call."""
    try:
        return cls(  # type: ignore[call-arg]
            name,
            region=transport.region,
            profile=transport.profile,
            endpoint_url=transport.endpoint_url,
            timeout_s=transport.timeout_s,
            max_concurrency=transport.max_concurrency,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def check_response_format(provider: str, response_format: str | None) -> None:
    """A ConfigError, one line, when the provider cannot send `model.response_format`."""
    if response_format is None or response_format in provider_class(provider).response_formats:
        return
    able = [p for p in PROVIDERS if response_format in provider_class(p).response_formats]
    raise ConfigError(
        f"config error at 'model.response_format': provider {provider} cannot send "
        f"{response_format}; providers that can: {', '.join(able) or 'none'}"
    )
