"""Build the configured model from settings: one place that knows every provider's arguments."""

from __future__ import annotations

from collections.abc import Mapping

from benchmark.config import ConfigError, Settings
from benchmark.models import provider_class
from benchmark.models.base import ModelAPI
from benchmark.models.cache import CachedModel, ResponseCache
from benchmark.models.retry import RetryingModel
from benchmark.problems import Problem


def create_model(
    settings: Settings, problems: Mapping[str, Problem], api_key: str | None
) -> ModelAPI:
    model = settings.model
    cls = provider_class(model.provider)
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
        wrapped = CachedModel(wrapped, ResponseCache(settings.cache.path), transport.base_url)
    return wrapped
