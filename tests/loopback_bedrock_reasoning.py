"""The loopback server as a thinking Anthropic model on Bedrock's Converse API.

A request whose `additionalModelRequestFields.thinking` is adaptive or enabled is answered
with two reasoning blocks before the text, in Converse's JSON form: a `reasoningText` with a
`signature` only this server can have made, and a `redactedContent` (base64, as JSON carries
a blob). Such a request must send every earlier assistant turn led by exactly the reasoning
blocks its reply carried (as Anthropic checks thinking blocks by their signatures): else it is
answered 400 ValidationException. `issued` holds the blocks handed out, `carried` counts the
turns sent back whole, `fields` the `additionalModelRequestFields` of each request.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from tests.loopback import Fault, LoggedRequest, LoopbackServer, Reply, _Answer

THINKING_TEXT = "The bucket needs versioning; check the lint rule first."


class ThinkingBedrockServer(LoopbackServer):
    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.issued: list[list[dict[str, Any]]] = []  # the reasoning blocks of each reply
        self.carried = 0
        self.fields: list[dict[str, Any]] = []

    def respond(self, entry: LoggedRequest) -> _Answer:
        body = entry.body if isinstance(entry.body, dict) else {}
        if entry.api == "bedrock":
            fields = body.get("additionalModelRequestFields") or {}
            with self._lock:
                self.fields.append(fields)
            if _thinking(fields) and (problem := self._check_carry(body)) is not None:
                return self._fault_answer(entry, problem, f"req_loop_{entry.index:04d}")
        return super().respond(entry)

    def _check_carry(self, body: dict[str, Any]) -> Fault | None:
        turns = [m for m in body.get("messages") or [] if m.get("role") == "assistant"]
        for turn in turns:
            blocks = [b for b in turn.get("content") or [] if "reasoningContent" in b]
            with self._lock:
                known = blocks in self.issued
            if not known or "reasoningContent" not in (turn["content"][0] or {}):
                message = "messages: an assistant turn lacks the thinking blocks of its reply"
                return Fault(400, message=message)
        with self._lock:
            self.carried += len(turns)
        return None

    def _bedrock_body(self, req: dict[str, Any], reply: Reply) -> dict[str, Any]:
        body = super()._bedrock_body(req, reply)
        if not _thinking(req.get("additionalModelRequestFields") or {}):
            return body
        with self._lock:
            n = len(self.issued)
            signature = hashlib.sha256(f"loopback-secret:{n}".encode()).hexdigest()
            blocks = [
                {
                    "reasoningContent": {
                        "reasoningText": {"text": THINKING_TEXT, "signature": signature}
                    }
                },
                {
                    "reasoningContent": {
                        "redactedContent": base64.b64encode(b"opaque %d" % n).decode()
                    }
                },
            ]
            self.issued.append(blocks)
        body["output"]["message"]["content"] = [*blocks, *body["output"]["message"]["content"]]
        return body


def _thinking(fields: dict[str, Any]) -> bool:
    return (fields.get("thinking") or {}).get("type") in ("adaptive", "enabled")
