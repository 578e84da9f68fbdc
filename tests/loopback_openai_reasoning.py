"""The loopback server as an OpenAI reasoning model: Chat Completions with `reasoning_effort`
and the Responses API (`POST /v1/responses`) with encrypted reasoning items.

Every reply is built from the SDK's own types (`ChatCompletion`, `Response`,
`ResponseReasoningItem`, ...), validated as they are built, so the wire cannot drift from
what the installed `openai` SDK reads.

The model it plays:
- it reasons `REASONING_TOKENS[effort]` tokens per reply (the model's default effort,
  "medium", when none is sent); `efforts` limits what a model accepts: another effort is
  answered 400 `unsupported_value`, as OpenAI answers it;
- reasoning counts against the output cap (`max_completion_tokens` / `max_output_tokens`):
  a reply whose reasoning and text do not fit is cut (Chat Completions `finish_reason:
  "length"`, Responses `status: "incomplete"`, `incomplete_details.reason:
  "max_output_tokens"`), as is a scripted `Reply(finish_reason=...)`;
- on the Responses API each reply carries one reasoning item whose `encrypted_content` only
  this server can have made (when the request asks for it with `include`). A request must
  send every earlier assistant turn right after the reasoning item that reply carried (with
  `store: false` nothing is kept server-side): else it is answered 400 `missing_reasoning`.
  `issued` lists the items handed out; `carried` counts the ones sent back.

Token counts: one token per 4 characters of the prompt's JSON and of the reply's text.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from openai.types.chat import ChatCompletion, ChatCompletionMessage
from openai.types.chat.chat_completion import Choice
from openai.types.completion_usage import (
    CompletionTokensDetails,
    CompletionUsage,
    PromptTokensDetails,
)
from openai.types.responses import (
    Response,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseReasoningItem,
    ResponseUsage,
)
from openai.types.responses.response import IncompleteDetails
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

from tests.loopback import Fault, LoggedRequest, LoopbackServer, Reply, _Answer
from tests.loopback_usage import count_tokens

RESPONSES_PATHS = ("/v1/responses", "/responses")
REASONING_TOKENS = {
    "none": 0,
    "minimal": 8,
    "low": 32,
    "medium": 128,
    "high": 512,
    "xhigh": 1024,
    "max": 2048,
}
DEFAULT_EFFORT = "medium"
SERVICE_TIER = "default"


class ReasoningServer(LoopbackServer):
    """A LoopbackServer whose OpenAI replies come from a reasoning model (see the module)."""

    def __init__(self, *args: Any, efforts: frozenset[str] | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.efforts = efforts  # None: every effort of the SDK is accepted
        self.issued: dict[str, str] = {}  # reasoning item id -> its encrypted_content
        self.carried = 0  # reasoning items sent back that this server issued

    @property
    def responses_bodies(self) -> list[Any]:
        with self._lock:
            return [r.body for r in self.requests if _is_responses(r.path)]

    def respond(self, entry: LoggedRequest) -> _Answer:
        if _is_responses(entry.path):
            entry.api = "openai"  # answered in OpenAI's error shape, faults included
        body = entry.body if isinstance(entry.body, dict) else {}
        problem = self._refusal(body, _is_responses(entry.path)) if entry.api else None
        if problem is not None:
            with self._lock:
                self.injected[problem.kind] += 1
            return self._fault_answer(entry, problem, f"req_loop_{entry.index:04d}")
        return super().respond(entry)

    def _refusal(self, body: dict[str, Any], responses: bool) -> Fault | None:
        """The 400 OpenAI would answer (an unsupported effort), or this server's own (a turn
        sent without its reasoning); None for a good request."""
        if responses:
            effort = (body.get("reasoning") or {}).get("effort")
        else:
            effort = body.get("reasoning_effort")
        if effort is not None and self.efforts is not None and effort not in self.efforts:
            message = (
                f"Unsupported value: '{effort}' is not supported with the "
                f"'{body.get('model')}' model. Supported values are: "
                f"{', '.join(sorted(self.efforts))}."
            )
            return Fault(400, message=message, code="unsupported_value")
        if responses:
            return self._check_carry(body.get("input") or [])
        return None

    def _check_carry(self, items: list[Any]) -> Fault | None:
        carried = 0
        for i, item in enumerate(items):
            if not (isinstance(item, dict) and item.get("role") == "assistant"):
                continue
            before = items[i - 1] if i and isinstance(items[i - 1], dict) else {}
            issued = self.issued.get(str(before.get("id")))
            if before.get("type") != "reasoning" or issued != before.get("encrypted_content"):
                message = (
                    f"input[{i}]: an assistant turn without the reasoning item its reply "
                    "carried (with store=false, send it back before the turn)"
                )
                return Fault(400, message=message, code="missing_reasoning")
            carried += 1
        with self._lock:
            self.carried += carried
        return None

    def process(self, api: Any, body: dict[str, Any], path: str, rid: str) -> tuple[int, Any]:
        """One request inside a batch; a Responses one is answered (or refused) as online."""
        if not _is_responses(path):
            return super().process(api, body, path, rid)
        entry = LoggedRequest(-1, "openai", path, {}, body)
        problem = self._refusal(body, responses=True)
        reply = self._reply_for(body, path) if problem is None else None
        if reply is None:
            answer = self._fault_answer(entry, problem or Fault(500, message="no reply"), rid)
            return answer.status, json.loads(answer.payload)
        return 200, self.response_body(reply, body)

    def response_body(self, reply: Reply, req: dict[str, Any]) -> dict[str, Any]:
        """The Responses API body answering `req` with `reply` (a batch result's `body`)."""
        with self._lock:
            index = self._batch_answers
            self._batch_answers += 1
        entry = LoggedRequest(index, "openai", RESPONSES_PATHS[0], {}, req)
        return self._response(entry, req, reply).to_dict(mode="json")

    def _success_answer(
        self, entry: LoggedRequest, req: dict[str, Any], reply: Reply, rid: str
    ) -> _Answer:
        if not _is_responses(entry.path):
            return super()._success_answer(entry, req, reply, rid)
        body = self._response(entry, req, reply).to_dict(mode="json")
        return _Answer(200, {"x-request-id": rid}, json.dumps(body).encode())

    def _openai_body(
        self, entry: LoggedRequest, req: dict[str, Any], reply: Reply
    ) -> dict[str, Any]:
        cap = req.get("max_completion_tokens") or req.get("max_tokens")
        effort = req.get("reasoning_effort") or DEFAULT_EFFORT
        text, reasoning, cut = _fit(reply, effort, cap)
        prompt = count_tokens(json.dumps(req.get("messages")))
        completion = ChatCompletion(
            id=f"chatcmpl-loop-{entry.index:04d}",
            object="chat.completion",
            created=int(time.time()),
            model=str(req.get("model", "unknown")),
            service_tier=SERVICE_TIER,
            system_fingerprint="fp_loopback",
            choices=[
                Choice(
                    index=0,
                    message=ChatCompletionMessage(role="assistant", content=text, refusal=None),
                    finish_reason="length" if cut else "stop",
                )
            ],
            usage=CompletionUsage(
                prompt_tokens=prompt,
                completion_tokens=count_tokens(text) + reasoning,
                total_tokens=prompt + count_tokens(text) + reasoning,
                prompt_tokens_details=PromptTokensDetails(cached_tokens=0),
                completion_tokens_details=CompletionTokensDetails(reasoning_tokens=reasoning),
            ),
        )
        return completion.to_dict(mode="json")

    def _response(self, entry: LoggedRequest, req: dict[str, Any], reply: Reply) -> Response:
        effort = (req.get("reasoning") or {}).get("effort") or DEFAULT_EFFORT
        text, reasoning, cut = _fit(reply, effort, req.get("max_output_tokens"))
        item_id = f"rs_loop_{entry.index:04d}"
        encrypted = hashlib.sha256(f"loopback-secret:{item_id}".encode()).hexdigest()
        with self._lock:
            self.issued[item_id] = encrypted
        wanted = "reasoning.encrypted_content" in (req.get("include") or [])
        output: list[Any] = [
            ResponseReasoningItem(
                id=item_id,
                type="reasoning",
                summary=[],
                encrypted_content=encrypted if wanted else None,
            )
        ]
        if text:
            output.append(
                ResponseOutputMessage(
                    id=f"msg_loop_{entry.index:04d}",
                    type="message",
                    role="assistant",
                    status="incomplete" if cut else "completed",
                    content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
                )
            )
        prompt = count_tokens(json.dumps([req.get("instructions"), req.get("input")]))
        output_tokens = count_tokens(text) + reasoning
        return Response(
            id=f"resp_loop_{entry.index:04d}",
            object="response",
            created_at=time.time(),
            model=str(req.get("model", "unknown")),
            output=output,
            parallel_tool_calls=False,
            tool_choice="auto",
            tools=[],
            service_tier=SERVICE_TIER,
            status="incomplete" if cut else "completed",
            incomplete_details=IncompleteDetails(reason="max_output_tokens") if cut else None,
            usage=ResponseUsage(
                input_tokens=prompt,
                input_tokens_details=InputTokensDetails(cached_tokens=0, cache_write_tokens=0),
                output_tokens=output_tokens,
                output_tokens_details=OutputTokensDetails(reasoning_tokens=reasoning),
                total_tokens=prompt + output_tokens,
            ),
        )


def _is_responses(path: str) -> bool:
    return path.split("?", 1)[0].rstrip("/") in RESPONSES_PATHS


def _fit(reply: Reply, effort: str, cap: int | None) -> tuple[str, int, bool]:
    """(text, reasoning tokens, cut): the reply under an output cap that reasoning fills first
    (4 characters a token); a scripted token-limit finish reason cuts it too."""
    reasoning = REASONING_TOKENS.get(effort, REASONING_TOKENS[DEFAULT_EFFORT])
    scripted = reply.finish_reason in ("length", "max_output_tokens")
    if cap is None or reasoning + count_tokens(reply.text) <= cap:
        return reply.text, reasoning, scripted
    reasoning = min(reasoning, cap)
    return reply.text[: (cap - reasoning) * 4], reasoning, True
