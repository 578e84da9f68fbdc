"""The one interface every provider implements, and the values that cross it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar, Literal, Protocol

from benchmark.models.usage import JUDGED, flaw, retries_flaw

Role = Literal["system", "user", "assistant"]
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")  # ordered low -> high


class ProblemLike(Protocol):
    """What a model may ask of a problem (`benchmark.problems.dataset.Problem` is one). A
    Protocol, not an import, so that models/ stays a leaf that knows nothing of problems."""

    @property
    def id(self) -> str: ...

    @property
    def reference_template(self) -> str | None: ...


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class GenerateConfig:
    """Output-affecting parameters of one call (transport settings live on the provider)."""

    temperature: float
    max_tokens: int
    seed: int | None = None
    response_format: str | None = None  # json_object / json_schema, where the provider has it
    effort: str | None = None  # one of EFFORTS; None: the provider's default (send nothing)
    thinking: str | int | None = None  # "off" | "adaptive" | a token budget; None: default
    thinking_display: str | None = None  # "summarized" | "omitted"; None: provider default


@dataclass(frozen=True)
class CallContext:
    """Where a call sits in the benchmark: the simulator needs it; a real provider may read
    how many calls its chain can still make (prompt caching pays only if one does).

    On a repair call `previous_template` and `previous_feedback` are what the chain's previous
    attempt recorded (its extracted template and the feedback it led to), so a chain's state
    can be derived from the record rather than kept in memory.
    """

    problem_id: str
    sample: int
    iteration: int
    output_format: Literal["yaml", "json"]
    previous_template: str | None = None
    previous_feedback: str | None = None
    max_iterations: int | None = None  # the chain's last possible iteration (None: unknown)


@dataclass
class ModelOutput:
    """One reply and its usage. `input_tokens` counts the whole prompt; of it, `cached_tokens`
    were read from the provider's prompt cache and `cache_write_tokens` written to it, of
    which `cache_write_1h_tokens` with the 1-hour TTL (Anthropic; billed higher).

    Made from whatever a server sent, it judges its own figures (benchmark/models/usage.py):
    one that is not an integer, negative or absurd becomes None, and `usage_flags` says
    which and why ({"output_tokens": "not an integer"}), as for a missing input or output
    count."""

    text: str
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None
    latency_s: float | None = None
    request_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    cache_write_tokens: int | None = None
    batch_id: str | None = None  # the provider batch that answered it (batch mode)
    cache_write_1h_tokens: int | None = None
    usage_flags: dict[str, str] = field(default_factory=dict)  # figure -> why it was dropped
    reasoning_tokens: int | None = None  # of output_tokens, the share spent reasoning

    def __post_init__(self) -> None:
        # setdefault: an output read back from the response cache keeps its first reasons
        self.usage_flags = dict(self.usage_flags)
        for name in JUDGED:
            why = flaw(name, getattr(self, name))
            if why is not None:
                setattr(self, name, None)
                self.usage_flags.setdefault(name, why)
        retries = self.extra.get("retries")
        if retries is not None and (why := retries_flaw(retries)) is not None:
            self.extra = {k: v for k, v in self.extra.items() if k != "retries"}
            self.usage_flags.setdefault("retries", why)


class ModelError(Exception):
    """A call that failed. `fatal` errors (bad key, unknown model) must stop the job.

    `retry_after` is the server's Retry-After hint in seconds, when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        fatal: bool = False,
        kind: str = "error",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.fatal = fatal
        self.kind = kind
        self.retry_after = retry_after


class ModelAPI(ABC):
    """A model behind a provider. One instance per job; safe to call concurrently."""

    provider: str
    # the `model.response_format` values this provider can send; any other is refused at start
    response_formats: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def id(self) -> str:
        return f"{self.provider}/{self.name}"

    @property
    def simulated(self) -> bool:
        return False

    def skip_reason(self, problem: ProblemLike) -> str | None:
        """Why this model cannot attempt `problem`, or None. Real models attempt every problem;
        the simulator needs a reference template. The job skips such problems with a note."""
        return None

    @abstractmethod
    async def generate(
        self, messages: list[ChatMessage], config: GenerateConfig, context: CallContext
    ) -> ModelOutput:
        """Return the model's reply to `messages`, or raise ModelError."""

    def status(self) -> str | None:
        """A short note for the progress bar (a rate limit, a batch's state), if any."""
        return None

    def chain_opened(self) -> None:  # noqa: B027 - optional hook
        """A chain that will call this model was planned (batch mode counts live chains)."""

    def chain_closed(self) -> None:  # noqa: B027 - optional hook
        """That chain will make no further call."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release network clients."""
