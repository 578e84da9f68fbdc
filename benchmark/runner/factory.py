"""Build the configured model from settings: one place that knows every provider's arguments;
and the loop the protocol asks for."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from benchmark.config import BedrockConfig, ConfigError, ModelConfig, Settings
from benchmark.loop.agent import AgentLoop
from benchmark.loop.feedback_loop import FeedbackLoop
from benchmark.models import PROVIDERS, provider_class
from benchmark.models.base import GenerateConfig, ModelAPI
from benchmark.models.batch import BATCH_WIRES, BatchingModel, batch_wire
from benchmark.models.batch_journal import BatchJournal
from benchmark.models.cache import CachedModel, ResponseCache
from benchmark.models.prompt_cache import BatchCacheTtl, PromptCache, min_cacheable_tokens
from benchmark.models.ratelimit import RateLimiter
from benchmark.models.retry import RetryingModel
from benchmark.problems.dataset import Problem
from benchmark.secrecy import Redactor
from benchmark.simulator import ProfileError, SimulatedModel
from benchmark.validators.suite import ValidatorSuite

# why a provider has no batch mode, where there is more to say than that it has no batch API
NO_BATCH = {
    "bedrock": "has no batch mode here (Bedrock batch inference is a separate job API over S3)",
}


def create_model(
    settings: Settings,
    problems: Mapping[str, Problem],
    api_key: str | None,
    work_dir: Path | None = None,
) -> ModelAPI:
    """The configured model, wrapped: retries and rate limits online, or batches (journalled
    in `work_dir`, the job folder) in batch mode; the response cache in front of either."""
    model = settings.model
    cls = provider_class(model.provider)
    check_response_format(model.provider, model.response_format)
    check_tool_use(model.provider, settings.loop.protocol)
    if model.provider == "simulated":
        options = {"seed": settings.seed, **model.simulator}
        try:
            return SimulatedModel.from_options(model.name, problems, options, settings.lint.as_of)
        except ProfileError as exc:
            raise ConfigError(f"config error at 'model.simulator': {exc}") from None
    transport = model.provider_config()
    if model.batch and model.provider not in BATCH_WIRES:
        why = NO_BATCH.get(model.provider, "has no batch API")
        raise ConfigError(
            f"config error at 'model.batch': {model.provider} {why}; batch mode works with: "
            f"{', '.join(sorted(BATCH_WIRES))}"
        )
    if model.provider == "openai-compatible" and not transport.base_url:
        raise ConfigError(
            "config error at 'model.providers.openai_compatible.base_url': "
            "openai-compatible models need the server's base URL"
        )
    limiter = RateLimiter(transport.max_concurrency, adaptive=transport.adapt_to_rate_limits)
    if isinstance(transport, BedrockConfig):
        provider = _bedrock(cls, model.name, transport)
    else:
        options: dict[str, Any] = {}
        if model.provider == "anthropic":
            options["prompt_cache"] = prompt_cache(settings)
        if model.provider == "openai":
            options["api"] = model.resolved_api()  # auto: by family (models.openai.default_api)
        if transport.adapt_to_rate_limits and not model.batch:
            options["rate_limiter"] = limiter  # the provider shows it every response's headers
        try:
            provider = cls(  # type: ignore[call-arg]
                model.name,
                api_key=api_key or "not-needed",
                base_url=transport.base_url,
                timeout_s=transport.timeout_s,
                max_retries=0,  # RetryingModel retries; the SDK's own would stack on top
                max_concurrency=transport.max_concurrency,
                **options,
            )
        except ValueError as exc:  # a setting this provider cannot take
            raise ConfigError(f"config error at 'model': {exc}") from None
    wrapped: ModelAPI
    if model.batch:
        if work_dir is None:
            raise ValueError("batch mode needs the job folder for its batch journal")
        wrapped = BatchingModel(
            provider,
            batch_wire(provider),
            BatchJournal(work_dir),
            poll_s=model.batch_poll_s,
            max_requests=model.batch_max_requests,
            max_retries=transport.max_retries,
            backoff_base_s=transport.backoff_base_s,
            backoff_max_s=transport.backoff_max_s,
            cache_ttl=batch_cache_ttl(settings),
        )
    else:
        wrapped = RetryingModel(
            provider,
            max_retries=transport.max_retries,
            timeout_s=transport.timeout_s,
            backoff_base_s=transport.backoff_base_s,
            backoff_max_s=transport.backoff_max_s,
            limiter=limiter,
        )
    if settings.cache.enabled:
        # the cache lives under runs/: a reply echoing a secret of this environment stays out
        redactor = Redactor.from_environment([transport.api_key_env])
        wrapped = CachedModel(
            wrapped,
            ResponseCache(settings.cache.path),
            transport.endpoint,
            holds_secret=lambda text: redactor.text(text)[1] > 0,
        )
    return wrapped


def generate_config(model: ModelConfig, sample: int, max_tokens: int) -> GenerateConfig:
    """What every call of sample `sample` sends: `max_tokens` as resolved at job start (auto
    and per-effort overrides), the seed + sample, and the reasoning knobs as configured."""
    return GenerateConfig(
        model.temperature,
        max_tokens,
        None if model.seed is None else model.seed + sample,
        model.response_format,
        effort=model.effort,
        thinking=model.thinking,
        thinking_display=model.thinking_display,
    )


def create_loop(
    settings: Settings,
    model: ModelAPI,
    suite: ValidatorSuite,
    max_tokens: int,
    may_start: Callable[[], bool],
) -> FeedbackLoop | AgentLoop:
    """The loop `loop.protocol` asks for: the harness-driven feedback loop (stateless,
    conversation) or the model-driven agent loop."""

    def config(sample: int) -> GenerateConfig:
        return generate_config(settings.model, sample, max_tokens)

    if settings.loop.protocol == "agent":
        regions = settings.lint.regions
        return AgentLoop(model, suite, settings.prompts, settings.loop, config, regions, may_start)
    return FeedbackLoop(model, suite, settings.prompts, settings.loop, config, may_start)


def job_label(settings: Settings, model_id: str) -> str:
    """The progress bar's label: model, prompt set, protocol, iterations, and the reasoning
    knobs that are set."""
    loop, model = settings.loop, settings.model
    knobs = [f"effort={model.effort}"] if model.effort is not None else []
    knobs += [f"thinking={model.thinking}"] if model.thinking is not None else []
    return " ".join(
        [model_id, settings.prompts.name, loop.protocol, f"n={loop.max_iterations}", *knobs]
    )


def prompt_cache(settings: Settings) -> PromptCache:
    """Anthropic prompt caching as configured under `model.prompt_cache*`."""
    model = settings.model
    ttl = model.prompt_cache_ttl
    return PromptCache(
        enabled=model.prompt_cache == "auto",
        min_tokens=model.prompt_cache_min_tokens or min_cacheable_tokens(model.name),
        ttl_online="5m" if ttl == "auto" else ttl,
        ttl_batch="1h" if ttl == "auto" else ttl,
        protocol=settings.loop.protocol,
        samples=settings.loop.samples,
    )


def batch_cache_ttl(settings: Settings) -> BatchCacheTtl | None:
    """Who picks each batch round's prompt-cache TTL: Anthropic's, with caching on (None:
    no TTL to pick). `auto` picks from the rounds seen; `5m` / `1h` fix it."""
    model = settings.model
    if model.provider != "anthropic" or model.prompt_cache != "auto":
        return None
    ttl = model.prompt_cache_ttl
    return BatchCacheTtl(fixed=None if ttl == "auto" else ttl)


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


def check_tool_use(provider: str, protocol: str) -> None:
    """A ConfigError, one line, when `loop.protocol=agent` meets a provider without tool use."""
    if protocol != "agent" or provider_class(provider).supports_tools:
        return
    able = [p for p in PROVIDERS if provider_class(p).supports_tools]
    raise ConfigError(
        f"config error at 'loop.protocol': agent needs native tool use, which provider "
        f"{provider} does not have here; providers that have it: {', '.join(able) or 'none'}"
    )


def check_response_format(provider: str, response_format: str | None) -> None:
    """A ConfigError, one line, when the provider cannot send `model.response_format`."""
    if response_format is None or response_format in provider_class(provider).response_formats:
        return
    able = [p for p in PROVIDERS if response_format in provider_class(p).response_formats]
    note = getattr(provider_class(provider), "response_format_note", None)  # the why, if said
    raise ConfigError(
        f"config error at 'model.response_format': provider {provider} cannot send "
        f"{response_format}{f' ({note})' if note else ''}; providers that can: "
        f"{', '.join(able) or 'none'}"
    )
