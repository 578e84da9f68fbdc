"""The Anthropic API's reasoning surface, for the loopback server (its `route` hook).

    api = ReasoningApi([Turn("first"), Turn("second")], models={"claude-x": capabilities()})
    with LoopbackServer(route=api) as server:
        ...  # AnthropicModel(..., base_url=server.anthropic_base_url)

`POST /v1/messages` answers as the Messages API does with `output_config` (effort, format) and
`thinking` (disabled, adaptive, enabled with budget_tokens; display summarized / omitted):
thinking and redacted_thinking blocks with signatures, `usage.output_tokens_details`,
`service_tier` and `speed`, a scripted `stop_reason`, `max_tokens` (the text cut) when the
turn's thinking and text tokens pass the request's `max_tokens`, and, for
`"stream": true`, the same message as server-sent events. Every reply, event and Models API
object is built from the SDK's own types (`anthropic.types`) and dumped, so the wire cannot
drift from what the SDK reads.

Like the API, it answers 400 to a request it would refuse: an effort or thinking type the model
does not support (per `models`), an invalid schema, a thinking block sent back changed (its
signature no longer matches) or placed after text. Stricter than the API (which demands the
blocks back only around tool use), it also answers 400 to an assistant turn that comes back
without the thinking blocks it was answered with, so a test sees whether a provider carries
them. `GET /v1/models/{id}` answers a ModelInfo with the model's capabilities (404 if unknown).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, get_args, get_type_hints
from urllib.parse import unquote

import jsonschema
from anthropic import types as t
from anthropic.types.raw_message_delta_event import Delta

from tests.loopback import LoggedRequest

EFFORT_LEVELS = ("low", "medium", "high", "xhigh", "max")
THINKING_TYPES = {"off": "disabled", "adaptive": "adaptive", "budget": "enabled"}
CARRIED = ("thinking", "redacted_thinking")
INPUT_TOKENS = 21
Answer = tuple[int, Any, str]


def sdk_efforts() -> tuple[str, ...]:
    """output_config.effort's values, as the SDK's OutputConfigParam types them."""
    (literal, _none) = get_args(get_type_hints(t.OutputConfigParam)["effort"])
    return get_args(literal)


@dataclass(frozen=True)
class Turn:
    """One scripted reply. `thinking` is its thinking text (None: the model did not think);
    with thinking off or `display: omitted` the block is empty or absent, as the API sends."""

    text: str
    thinking: str | None = "Plan the template: a bucket, versioned."
    redacted: bool = False  # add a redacted_thinking block after the thinking one
    stop_reason: str = "end_turn"
    thinking_tokens: int = 30  # reported when thinking is on
    text_tokens: int = 12
    tool_uses: tuple[t.ToolUseBlock, ...] = ()  # after the text (none when it is empty)


def capabilities(
    efforts: Iterable[str] = EFFORT_LEVELS,
    thinking: Iterable[str] = ("off", "adaptive", "budget"),
    *,
    structured_outputs: bool = True,
    batch: bool = True,
) -> t.ModelCapabilities:
    """A model's `capabilities` as the Models API reports them."""
    efforts, thinking = set(efforts), set(thinking)

    def yes(flag: bool) -> t.CapabilitySupport:
        return t.CapabilitySupport(supported=flag)

    types = {kind: yes(name in thinking) for name, kind in THINKING_TYPES.items()}
    return t.ModelCapabilities(
        batch=yes(batch),
        citations=yes(True),
        code_execution=yes(False),
        context_management=t.ContextManagementCapability(supported=False),
        effort=t.EffortCapability(
            supported=bool(efforts), **{level: yes(level in efforts) for level in EFFORT_LEVELS}
        ),
        image_input=yes(True),
        pdf_input=yes(True),
        server_tools=t.ServerToolsCapability(
            supported=False, code_execution=yes(False), web_search=yes(False)
        ),
        structured_outputs=yes(structured_outputs),
        thinking=t.ThinkingCapability(
            supported=bool(thinking - {"off"}),
            types=t.ThinkingTypes(between_tools=yes(False), **types),
        ),
    )


class ReasoningApi:
    """The `route` for LoopbackServer (see the module docstring). `turns`: scripted replies in
    order, or a callable (request body) -> Turn; `models`: model id -> capabilities (a model
    not named is accepted with anything and unknown to the Models API)."""

    def __init__(
        self,
        turns: Sequence[Turn] | Callable[[dict[str, Any]], Turn],
        *,
        models: Mapping[str, t.ModelCapabilities] | None = None,
        max_tokens: int = 128_000,
        service_tier: str = "standard",
        speed: str = "standard",
    ) -> None:
        self.turns = turns
        self.models = dict(models or {})
        self.max_tokens = max_tokens
        self.service_tier, self.speed = service_tier, speed
        self.refusals: list[str] = []  # the 400s answered, their messages
        self.streamed = 0  # replies sent as events
        self._issued: dict[str, dict[str, Any]] = {}  # signature / data -> block as sent
        self._answered: dict[str, list[dict[str, Any]]] = {}  # reply text -> its blocks
        self._next = 0
        self._lock = threading.Lock()

    def __call__(self, entry: LoggedRequest) -> Answer | None:
        path = entry.path.split("?", 1)[0].rstrip("/")
        if entry.method == "GET" and path.startswith("/v1/models/"):
            return self._model(unquote(path.removeprefix("/v1/models/")))
        if entry.method == "POST" and path == "/v1/messages":
            body = entry.body if isinstance(entry.body, dict) else {}
            problem = self._problem(body)
            if problem is not None:
                with self._lock:
                    self.refusals.append(problem)
                return _error(400, "invalid_request_error", problem)
            return self._reply(entry.index, body)
        return None

    # -- checks ----------------------------------------------------------------------------

    def _problem(self, body: dict[str, Any]) -> str | None:
        caps = self.models.get(body.get("model", ""))
        out = body.get("output_config") or {}
        effort = out.get("effort")
        if effort is not None and effort not in sdk_efforts():
            return f"output_config.effort: Input should be {', '.join(sdk_efforts())}"
        if effort is not None and caps is not None:
            level = getattr(caps.effort, effort, None)
            if not (caps.effort.supported and level is not None and level.supported):
                return f"output_config.effort: {effort} is not supported on this model"
        fmt = out.get("format")
        if fmt is not None:
            try:
                jsonschema.validators.validator_for(fmt["schema"]).check_schema(fmt["schema"])
            except (jsonschema.SchemaError, KeyError, TypeError) as exc:
                return f"output_config.format: invalid schema ({type(exc).__name__})"
        return self._thinking_problem(body, caps) or self._carry_problem(body)

    def _thinking_problem(
        self, body: dict[str, Any], caps: t.ModelCapabilities | None
    ) -> str | None:
        thinking = body.get("thinking")
        if thinking is None:
            return None
        kind = thinking.get("type")
        if kind not in THINKING_TYPES.values():
            return f"thinking.type: {kind!r} is not a thinking type"
        if caps is not None and not getattr(caps.thinking.types, kind).supported:
            return f"thinking.type: {kind} is not supported on this model"
        if thinking.get("display") not in (None, "summarized", "omitted"):
            return "thinking.display: Input should be 'summarized' or 'omitted'"
        budget = thinking.get("budget_tokens")
        if kind == "enabled" and not (
            isinstance(budget, int) and 1024 <= budget < body.get("max_tokens", 0)
        ):
            return "thinking.budget_tokens: must be >= 1024 and less than max_tokens"
        return None

    def _carry_problem(self, body: dict[str, Any]) -> str | None:
        for i, message in enumerate(body.get("messages", [])):
            if message.get("role") != "assistant":
                continue
            content = message.get("content")
            blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
            carried = [b for b in blocks if b.get("type") in CARRIED]
            kinds = [b.get("type") for b in blocks]
            if kinds[: len(carried)] != [b.get("type") for b in carried]:
                return f"messages.{i}.content: thinking blocks must come before text"
            for j, block in enumerate(carried):
                key = block.get("signature") or block.get("data") or ""
                with self._lock:
                    issued = self._issued.get(key)
                if issued != block:
                    return f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
            text = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
            text += "".join(f"|{b.get('id')}" for b in blocks if b.get("type") == "tool_use")
            with self._lock:
                answered = self._answered.get(text, [])
            if answered and carried != answered:
                return f"messages.{i}: the thinking blocks this turn was answered with are missing"
        return None

    # -- replies ---------------------------------------------------------------------------

    def _turn(self, body: dict[str, Any]) -> Turn:
        if callable(self.turns):
            return self.turns(body)
        with self._lock:
            turn = self.turns[self._next]
            self._next += 1
        return turn

    def _reply(self, index: int, body: dict[str, Any]) -> Answer:
        turn = self._turn(body)
        thinking = body.get("thinking") or {}
        thinks = thinking.get("type") in ("adaptive", "enabled") and turn.thinking is not None
        blocks: list[t.ContentBlock] = []
        if thinks:
            shown = "" if thinking.get("display") == "omitted" else turn.thinking
            blocks.append(t.ThinkingBlock(type="thinking", thinking=shown or "", signature=""))
            if turn.redacted:
                blocks.append(t.RedactedThinkingBlock(type="redacted_thinking", data=""))
        message_model = body.get("model", "unknown")
        for n, block in enumerate(blocks):  # sign each block: a digest of what it says
            digest = hashlib.sha256(f"{message_model}/{n}/{block.to_json()}".encode()).hexdigest()
            if isinstance(block, t.ThinkingBlock):
                block.signature = f"sig-{digest}"
            else:
                block.data = f"redacted-{digest}"
        reasoning = turn.thinking_tokens if thinks else 0
        # thinking counts toward max_tokens: what it leaves is all the text may use
        room = max(0, body.get("max_tokens", 0) - reasoning)
        stop_reason, words, spent = turn.stop_reason, turn.text, turn.text_tokens
        if spent > room:  # cut where the limit falls, as the API does
            words = words[: len(words) * room // spent]
            stop_reason, spent = "max_tokens", room
        text: list[t.ContentBlock] = [t.TextBlock(type="text", text=words)]
        if turn.tool_uses:  # a turn that only calls tools has no text block
            text = [*(text if words else []), *turn.tool_uses]
            stop_reason = "tool_use" if stop_reason == "end_turn" else stop_reason
        usage = t.Usage(
            input_tokens=INPUT_TOKENS,
            output_tokens=reasoning + spent,
            output_tokens_details=t.OutputTokensDetails(thinking_tokens=reasoning),
            service_tier=self.service_tier,  # type: ignore[arg-type]
            speed=self.speed,  # type: ignore[arg-type]
        )
        message = t.Message(
            id=f"msg_loop_{index:04d}",
            type="message",
            role="assistant",
            model=body.get("model", "unknown"),
            content=[*blocks, *text],
            stop_reason=stop_reason,  # type: ignore[arg-type]
            stop_sequence=None,
            usage=usage,
        )
        carried = [block.to_dict() for block in blocks]
        with self._lock:
            for block in carried:
                self._issued[block.get("signature") or block["data"]] = block
            if carried:  # keyed as _carry_problem reads a turn: its text, then its calls
                self._answered[words + "".join(f"|{b.id}" for b in turn.tool_uses)] = carried
        if body.get("stream"):
            with self._lock:
                self.streamed += 1
            return 200, _sse(message), "text/event-stream"
        return 200, message.model_dump(mode="json"), "application/json"

    def _model(self, model_id: str) -> Answer:
        caps = self.models.get(model_id)
        if caps is None:
            return _error(404, "not_found_error", f"model: {model_id}")
        info = t.ModelInfo(
            id=model_id,
            type="model",
            display_name=model_id,
            created_at=datetime(2026, 11, 1, tzinfo=UTC),
            lifecycle="active",
            capabilities=caps,
            max_tokens=self.max_tokens,
            max_input_tokens=1_000_000,
        )
        return 200, info.model_dump(mode="json"), "application/json"


def _sse(message: t.Message) -> bytes:
    """`message` as the stream of events the API sends for it (deltas in two pieces)."""
    start = message.model_copy(
        update={
            "content": [],
            "stop_reason": None,
            "usage": message.usage.model_copy(
                update={"output_tokens": 1, "output_tokens_details": None}
            ),
        }
    )
    events: list[Any] = [t.RawMessageStartEvent(type="message_start", message=start)]
    for i, block in enumerate(message.content):
        if isinstance(block, t.ThinkingBlock):
            opening: Any = t.ThinkingBlock(type="thinking", thinking="", signature="")
            half = len(block.thinking) // 2
            deltas: list[Any] = [
                t.ThinkingDelta(type="thinking_delta", thinking=block.thinking[:half]),
                t.ThinkingDelta(type="thinking_delta", thinking=block.thinking[half:]),
                t.SignatureDelta(type="signature_delta", signature=block.signature),
            ]
        elif isinstance(block, t.TextBlock):
            opening, half = t.TextBlock(type="text", text=""), len(block.text) // 2
            deltas = [
                t.TextDelta(type="text_delta", text=block.text[:half]),
                t.TextDelta(type="text_delta", text=block.text[half:]),
            ]
        elif isinstance(block, t.ToolUseBlock):  # its input as JSON text, in two pieces
            opening, whole = block.model_copy(update={"input": {}}), json.dumps(block.input)
            deltas = [
                t.InputJSONDelta(type="input_json_delta", partial_json=whole[:5]),
                t.InputJSONDelta(type="input_json_delta", partial_json=whole[5:]),
            ]
        else:  # redacted_thinking arrives whole
            opening, deltas = block, []
        events.append(
            t.RawContentBlockStartEvent(type="content_block_start", index=i, content_block=opening)
        )
        events += [
            t.RawContentBlockDeltaEvent(type="content_block_delta", index=i, delta=d)
            for d in deltas
        ]
        events.append(t.RawContentBlockStopEvent(type="content_block_stop", index=i))
    usage = t.MessageDeltaUsage(
        output_tokens=message.usage.output_tokens,
        output_tokens_details=message.usage.output_tokens_details,
    )
    delta = Delta(stop_reason=message.stop_reason, stop_sequence=None)
    events.append(t.RawMessageDeltaEvent(type="message_delta", delta=delta, usage=usage))
    events.append(t.RawMessageStopEvent(type="message_stop"))
    lines = [b'event: ping\ndata: {"type": "ping"}\n\n']
    lines += [
        f"event: {e.type}\ndata: {json.dumps(e.model_dump(mode='json'))}\n\n".encode()
        for e in events
    ]
    return b"".join(lines)


def _error(status: int, kind: str, message: str) -> Answer:
    return (
        status,
        {"type": "error", "error": {"type": kind, "message": message}},
        "application/json",
    )
