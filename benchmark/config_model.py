"""The `model` section of the settings: the model under test, its reasoning knobs, and each
provider's transport (conf/model/default.yaml). Re-exported by benchmark.config."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from benchmark.models import parse_model_id
from benchmark.models.capabilities import table_capabilities
from benchmark.secrecy import looks_like_key, redact_url

Effort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]  # models.base.EFFORTS
# `model.max_tokens: auto`: the reply's room by effort (thinking and answer share it), plus
# the budget when `model.thinking` is one; capped at the model's max_output_tokens where known
AUTO_MAX_TOKENS: dict[str | None, int] = {
    None: 4096,
    "none": 4096,
    "minimal": 4096,
    "low": 8192,
    "medium": 16000,
    "high": 32000,
    "xhigh": 64000,
    "max": 128000,
}
# providers with a thinking setting (OpenAI's reasoning has only its effort)
THINKING_PROVIDERS = frozenset({"anthropic", "bedrock", "simulated"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ProviderConfig(_Strict):
    """Transport settings of one provider. Keys come from the environment, never from config."""

    api_key_env: str | None = None  # name of the environment variable holding the key
    api_key_optional: bool = False  # local servers (Ollama, vLLM) usually take no key
    base_url: str | None = None
    timeout_s: float = Field(default=120.0, gt=0)  # hard limit on every call
    max_retries: int = Field(default=4, ge=0)  # the harness's retries; the SDK's own are off
    backoff_base_s: float = Field(default=1.0, gt=0)  # jittered exponential backoff ...
    backoff_max_s: float = Field(default=60.0, gt=0)  # ... capped here, Retry-After honoured
    max_concurrency: int = Field(default=8, ge=1)  # the ceiling of calls in flight
    # fewer calls in flight, and later, where the rate-limit headers say so (ratelimit.py);
    # Bedrock sends none: there it only holds calls back for a moment after a throttle
    adapt_to_rate_limits: bool = True
    # A job stops (status failed, the rest left for a resume) after this many attempts in a row
    # could not reach the server (refused, DNS, TLS, connect timeout; each after its retries).
    # 0 or null: never stop early.
    stop_after_connection_failures: int | None = Field(default=10, ge=0)

    @field_validator("api_key_env")
    @classmethod
    def _a_variable_name(cls, value: str | None) -> str | None:
        """The name of a variable, never a key: the message must not echo what was typed."""
        if value is not None and (looks_like_key(value) or not ENV_NAME.fullmatch(value)):
            raise ValueError(
                "this looks like a key, not the name of an environment variable (such as "
                "OPENAI_API_KEY); put the key in the environment and name its variable here"
                if looks_like_key(value)
                else "not an environment variable name (letters, digits and _)"
            )
        return value

    @property
    def endpoint(self) -> str | None:
        """Where calls go when not to the provider's public API (part of the fingerprint,
        credentials in the URL redacted)."""
        return redact_url(self.base_url)


class BedrockConfig(ProviderConfig):
    """Amazon Bedrock's transport. Credentials come from the standard AWS chain (environment,
    the shared files' `profile`, an instance or container role), never from config.

    Bedrock sends no rate-limit headers, so `adapt_to_rate_limits` paces nothing: up to
    `max_concurrency` calls run and a ThrottlingException is retried with backoff (holding
    back other calls' start for about a second). No batch mode (`model.batch` is refused)."""

    region: str = Field(default="us-east-1", pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$")  # explicit
    profile: str | None = None  # a profile of ~/.aws/config; null: the default chain
    endpoint_url: str | None = None  # null: bedrock-runtime.<region>.amazonaws.com

    @model_validator(mode="after")
    def _aws_only(self) -> BedrockConfig:
        if self.api_key_env is not None:
            raise ValueError(
                "api_key_env must be null: Bedrock reads AWS credentials from the standard "
                "chain (environment, profile, instance role)"
            )
        if self.base_url is not None:
            raise ValueError("base_url is not used by Bedrock; set endpoint_url")
        return self

    @property
    def endpoint(self) -> str | None:
        return redact_url(self.endpoint_url)


# Providers whose section has fields of its own; every other section is a ProviderConfig.
PROVIDER_CONFIGS: dict[str, type[ProviderConfig]] = {"bedrock": BedrockConfig}


class ModelConfig(_Strict):
    id: str  # "<provider>/<model name>", e.g. "anthropic/claude-sonnet-4-5"
    temperature: float = Field(default=1.0, ge=0.0, le=2.0)
    # an int, or auto: sized to the effort and thinking (AUTO_MAX_TOKENS)
    max_tokens: PositiveInt | Literal["auto"] = 4096
    # max_tokens for one effort level; null (or absent): max_tokens
    max_tokens_by_effort: dict[Effort, PositiveInt | None] = Field(default_factory=dict)
    effort: Effort | None = None  # null: the provider's default (nothing sent)
    thinking: Literal["off", "adaptive"] | PositiveInt | None = None  # or a budget in tokens
    thinking_display: Literal["summarized", "omitted"] | None = None  # Anthropic
    api: Literal["auto", "chat", "responses"] = "auto"  # openai only; auto: by model family
    prices: str | None = None  # a user price file merged over the shipped table (billing only)
    seed: int | None = None  # sent where the API takes one (OpenAI); part of provenance anyway
    # Structured output where the provider offers it (OpenAI, OpenAI-compatible): json_object is
    # OpenAI's JSON mode (the paper's requests used it); json_schema sends a schema of a
    # CloudFormation template object (non-strict). null: plain text.
    response_format: Literal["json_object", "json_schema"] | None = None
    # Anthropic prompt caching (benchmark/models/prompt_cache.py): auto marks the prefixes a
    # later call sends again, where they are long enough; OpenAI caches on its own.
    prompt_cache: Literal["auto", "off"] = "auto"
    # auto: 5m online; in batch mode per round, 5m while the rounds seen end well within
    # 5 minutes, else (and in the first round) 1h (prompt_cache.BatchCacheTtl)
    prompt_cache_ttl: Literal["auto", "5m", "1h"] = "auto"
    prompt_cache_min_tokens: int | None = Field(default=None, ge=1)  # null: the model's minimum
    # Batch mode (benchmark/models/batch.py): each round's requests go to the provider's batch
    # API (Anthropic Message Batches, OpenAI Batch API) at about half the price, hours slower.
    batch: bool = False
    batch_poll_s: float = Field(default=30.0, gt=0)  # seconds between polls of a batch
    batch_max_requests: int | None = Field(default=None, ge=1)  # null: the provider's limit
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    # the simulator: profile (a name in conf/model/simulator/ or a path), latency_s, and any
    # setting of a hand-set profile (benchmark/simulator/behaviour.py: SimulatorSettings)
    simulator: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        parse_model_id(value)
        return value

    @field_validator("thinking", mode="before")
    @classmethod
    def _yaml_off(cls, value: Any) -> Any:
        """YAML reads a bare `off` as false."""
        return "off" if value is False else value

    @field_validator("prices")
    @classmethod
    def _existing_file(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).is_file():
            raise ValueError(f"price file {value} not found")
        return value

    @model_validator(mode="after")
    def _knobs_the_provider_has(self) -> ModelConfig:
        provider = self.provider
        if self.thinking is not None and provider not in THINKING_PROVIDERS:
            raise ValueError(
                f"thinking: {provider} has no thinking setting (use model.effort); "
                f"providers with one: {', '.join(sorted(THINKING_PROVIDERS))}"
            )
        if self.thinking_display is not None and provider not in THINKING_PROVIDERS:
            raise ValueError(f"thinking_display: {provider} has no thinking display")
        if self.api != "auto" and provider != "openai":
            raise ValueError(f"api: only openai models choose an API, not {provider}")
        return self

    def resolved_max_tokens(self, model_limit: int | None = None) -> int:
        """The `max_tokens` sent: the override for this effort, else the number, else the
        auto rule (AUTO_MAX_TOKENS + a thinking budget) capped at `model_limit` if known."""
        override = self.max_tokens_by_effort.get(self.effort) if self.effort else None
        if override is not None:
            return override
        if self.max_tokens != "auto":
            return self.max_tokens
        budget = self.thinking if isinstance(self.thinking, int) else 0
        tokens = AUTO_MAX_TOKENS[self.effort] + budget
        return min(tokens, model_limit) if model_limit else tokens

    def table_max_tokens(self) -> int:
        """`resolved_max_tokens` capped by the documented table (for planning; the job caps at
        the capabilities it checked at start)."""
        caps = table_capabilities(self.provider, self.name)
        return self.resolved_max_tokens(caps.max_output_tokens if caps else None)

    def resolved_api(self) -> str | None:
        """The OpenAI API the model is called through (None for other providers)."""
        if self.provider != "openai":
            return None
        if self.api != "auto":
            return self.api
        # deferred: the openai SDK loads only for openai models
        from benchmark.models.openai import default_api

        return default_api(self.name)

    @field_validator("providers", mode="wrap")
    @classmethod
    def _typed_providers(
        cls, value: Any, handler: ValidatorFunctionWrapHandler
    ) -> dict[str, ProviderConfig]:
        """Validate each section with its provider's class; an error names its section."""
        if not isinstance(value, Mapping):
            return handler(value)
        typed: dict[str, ProviderConfig] = {}
        for key in value.keys() & PROVIDER_CONFIGS.keys():
            try:
                typed[key] = PROVIDER_CONFIGS[key].model_validate(value[key])
            except ValidationError as exc:
                errors = [
                    {
                        "type": e["type"],
                        "loc": (key, *e["loc"]),
                        "input": e["input"],
                        "ctx": e.get("ctx", {}),
                    }
                    for e in exc.errors(include_url=False)
                ]
                raise ValidationError.from_exception_data(exc.title, errors) from None  # type: ignore[arg-type]
        return {**handler({k: v for k, v in value.items() if k not in typed}), **typed}

    @property
    def provider(self) -> str:
        return parse_model_id(self.id)[0]

    @property
    def name(self) -> str:
        return parse_model_id(self.id)[1]

    def provider_config(self) -> ProviderConfig:
        key = self.provider.replace("-", "_")
        return self.providers.get(key) or PROVIDER_CONFIGS.get(key, ProviderConfig)()
