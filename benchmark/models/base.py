"""The one interface every provider implements, and the values that cross it."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

from benchmark.models.capabilities import EFFORTS as EFFORTS  # re-exported: the contract's home
from benchmark.models.capabilities import Capabilities
from benchmark.models.usage import JUDGED, flaw, retries_flaw

Role = Literal["system", "user", "assistant", "tool"]

# finish reasons that mean "stopped at max_tokens": Anthropic's stop_reason, Chat Completions'
# finish_reason, Responses' incomplete_details.reason (Bedrock's stopReason is the first)
TOKEN_LIMIT_REASONS = frozenset({"max_tokens", "length", "max_output_tokens"})


class ProblemLike(Protocol):
    """What a model may ask of a problem (`benchmark.problems.dataset.Problem` is one). A
    Protocol, not an import, so that models/ stays a leaf that knows nothing of problems."""

    @property
    def id(self) -> str: ...

    @property
    def reference_template(self) -> str | None: ...


@dataclass(frozen=True)
class ToolSpec:
    """A tool the model may call: its name, what it does, and its arguments as a JSON schema."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """One tool call of an assistant turn. `arguments` is the raw JSON text as the model sent
    it (a provider that gets a dict writes `json.dumps` of it)."""

    id: str
    name: str
    arguments: str

    def parsed(self) -> dict[str, Any] | None:
        """The arguments as a dict; None when they are not a JSON object (a malformed call)."""
        try:
            value = json.loads(self.arguments)
        except (ValueError, TypeError, RecursionError):
            return None
        return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class ChatMessage:
    """One turn. `carry` holds provider-specific items of an assistant turn that must be sent
    back with it for reasoning to carry across turns (Anthropic thinking blocks with their
    signatures, OpenAI Responses reasoning items), in API dict form. Only the provider that
    produced them reads them; one that does not understand them ignores them.

    An assistant turn may hold `tool_calls`; each is answered by one `tool` turn (`content`
    is the result text, `is_error` marks a failed call), consecutive tool turns answering one
    assistant turn's calls in order."""

    role: Role
    content: str
    carry: tuple[dict[str, Any], ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()  # on an assistant turn
    tool_call_id: str | None = None  # on a tool turn: the call it answers
    tool_name: str | None = None  # on a tool turn
    is_error: bool = False  # on a tool turn: the call failed


@dataclass(frozen=True)
class GenerateConfig:
    """Output-affecting parameters of one call (transport settings live on the provider)."""

    temperature: float
    max_tokens: int
    seed: int | None = None
    response_format: str | None = None  # json_object / json_schema, where the provider has it
    effort: str | None = None  # one of EFFORTS; None: the provider's default (send nothing)
    thinking: str | int | None = None  # "off" | "adaptive" | a token budget; None: default
    thinking_display: str | None = None  # "summarized" | "omitted" (Anthropic); None: default
    tools: tuple[ToolSpec, ...] = ()  # the tools the model may call (agent protocol)
    # None / "auto": the model decides; "required": some tool; a tool's name: that tool
    tool_choice: str | None = None


@dataclass(frozen=True)
class CallContext:
    """Where a call sits in the benchmark: the simulator needs it; a real provider may read
    how many calls its chain can still make (prompt caching pays only if one does).

    On a repair call `previous_template` and `previous_feedback` are what the chain's previous
    attempt recorded (its extracted template and the feedback it led to), so a chain's state
    can be derived from the record rather than kept in memory.

    In the agent protocol `iteration` is 1 + the validate calls made so far, `previous_*` are
    the last validated template and what validate_template returned for it, `turn` is the
    chain's turn (1-based) and `schema_lookups` the resource types looked up since the last
    validate call.
    """

    problem_id: str
    sample: int
    iteration: int
    output_format: Literal["yaml", "json", "python"]
    previous_template: str | None = None
    previous_feedback: str | None = None
    max_iterations: int | None = None  # the chain's last possible iteration (None: unknown)
    turn: int | None = None  # agent protocol: the chain's turn, 1-based
    schema_lookups: tuple[str, ...] = ()  # agent protocol: types looked up since validating


@dataclass
class ModelOutput:
    """One reply and its usage. `input_tokens` counts the whole prompt; of it, `cached_tokens`
    were read from the provider's prompt cache and `cache_write_tokens` written to it, of
    which `cache_write_1h_tokens` with the 1-hour TTL (Anthropic; billed higher).

    Made from whatever a server sent, it judges its own figures (benchmark/models/usage.py):
    one that is not an integer, negative or absurd becomes None, and `usage_flags` says
    which and why ({"output_tokens": "not an integer"}), as for a missing input or output
    count.

    `output_tokens` is ALL billed output, reasoning included; `reasoning_tokens` is its share
    spent reasoning (a provider that reports reasoning apart adds it into `output_tokens`), so
    cost at the output rate already prices reasoning. `carry` is what the next turn's
    assistant ChatMessage.carry gets."""

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
    reasoning_tokens: int | None = None  # of output_tokens: spent reasoning (None: unreported)
    carry: list[dict[str, Any]] = field(default_factory=list)
    thinking_display: str | None = None  # as reported
    service_tier: str | None = None  # as reported
    speed: str | None = None  # as reported
    tool_calls: list[ToolCall] = field(default_factory=list)  # in the order the model sent them

    @property
    def hit_token_limit(self) -> bool:
        """The reply stopped at max_tokens (it may be cut short)."""
        return self.finish_reason in TOKEN_LIMIT_REASONS

    def __post_init__(self) -> None:
        # setdefault: an output read back from the response cache keeps its first reasons
        self.usage_flags = dict(self.usage_flags)
        # read back from the response cache, calls are plain dicts
        self.tool_calls = [c if isinstance(c, ToolCall) else ToolCall(**c) for c in self.tool_calls]
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
    # native tool use (GenerateConfig.tools); `loop.protocol=agent` is refused at start without
    supports_tools: ClassVar[bool] = False

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def id(self) -> str:
        return f"{self.provider}/{self.name}"

    @property
    def simulated(self) -> bool:
        return False

    @property
    def api(self) -> str:
        """Which API the provider speaks ("messages", "chat", "responses", "converse",
        "simulated"); recorded on rows as `model_api`. "" where it does not say."""
        return ""

    async def fetch_capabilities(self) -> Capabilities | None:
        """What the provider's Models API says this model supports (None: it says nothing).
        Called at most once per job, by the start-of-job check, which caches the answer."""
        return None

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
