"""Both batch wire formats for the loopback server, with scripted delays, failures and expiry.

OpenAI (Batch API): `POST /v1/files` (a multipart upload of the requests' JSONL, purpose
batch), `POST /v1/batches`, `GET /v1/batches/{id}`, `GET /v1/files/{id}/content` (the output
and error files as JSONL). Anthropic (Message Batches): `POST /v1/messages/batches`,
`GET /v1/messages/batches/{id}` and `GET /v1/messages/batches/{id}/results` (JSONL).

Each request in a batch is answered as the online call would be: the server's replies, usage
and `faults` hook (decided by the request, `seen` counting its earlier sightings, online or in
batches); a faulted request becomes an error line. The requests are answered when their batch
ends (the retrieval that first reports it ended), inside the usage's `batch` scope: a batch
runs its requests concurrently, so none reads a prompt-cache entry another one of them wrote,
and entries are timed from the batch's submission (tests/loopback_usage.py). `BatchScript`
sets the rest:

- `polls`: retrievals answering "in progress" before a batch ends (OpenAI reports partial
  counts meanwhile; Anthropic's counts move only at the end, as documented);
- `lost(body, seen)`: "expired" or "canceled" for a request its batch never reaches (`seen`:
  how many earlier batches held the same request), which ends the batch that way;
- `release`: while this event is clear no batch ends (none after the first `hold_after`
  created), so a job can be killed with a batch pending.

`created` logs every batch created: (api, batch id, custom ids, request bodies).
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.loopback import LoggedRequest, LoopbackServer

CHAT_PATH = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}


@dataclass
class BatchScript:
    polls: int = 1
    lost: Callable[[dict[str, Any], int], str | None] | None = None
    release: threading.Event | None = None
    hold_after: int = 0  # batches created before this many are never held


@dataclass
class _Batch:
    api: str
    id: str
    custom_ids: list[str]
    bodies: list[dict[str, Any]]
    input_file_id: str | None
    created_at: float
    submitted_at: float = 0.0  # on the usage's clock
    number: int = 0  # 0 for the first batch this server created
    # (kind, payload) per request: ("lost", why), ("pending", None) until the batch ends,
    # then ("answer", (status, body))
    outcomes: list[tuple[str, Any]] = field(default_factory=list)
    answered: bool = False
    polls: int = 0
    output_file_id: str | None = None
    error_file_id: str | None = None
    path: str | None = None  # the endpoint its requests go to (None: the API's chat path)

    @property
    def endpoint(self) -> str:
        return self.path or CHAT_PATH[self.api]

    @property
    def lost_kinds(self) -> set[str]:
        return {payload for kind, payload in self.outcomes if kind == "lost"}


def parse_multipart(content_type: str, raw: bytes) -> dict[str, tuple[str | None, bytes]]:
    """name -> (filename, content) of a multipart/form-data body."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    parts: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        parts[str(name)] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return parts


class BatchService:
    """The batch endpoints of one loopback server."""

    def __init__(self, server: LoopbackServer, script: BatchScript | None = None) -> None:
        self.server = server
        self.script = script or BatchScript()
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, _Batch] = {}
        self.created: list[tuple[str, str, list[str], list[dict[str, Any]]]] = []
        self._numbers = itertools.count(1)
        self._sightings: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._answering = threading.Lock()  # one ending batch answered at a time

    # -- routing ---------------------------------------------------------------------------

    @staticmethod
    def api_for(path: str) -> str | None:
        parts = path.split("?", 1)[0].strip("/").split("/")
        if parts[:3] == ["v1", "messages", "batches"]:
            return "anthropic"
        if parts[:2] in (["v1", "files"], ["v1", "batches"]):
            return "openai"
        return None

    def handle(self, entry: LoggedRequest) -> tuple[int, Any, str] | None:
        """(status, JSON body or bytes, content type) for a batch route, else None."""
        parts = entry.path.split("?", 1)[0].strip("/").split("/")
        method = entry.method
        if parts[:3] == ["v1", "messages", "batches"]:
            rest = parts[3:]
            if method == "POST" and not rest:
                return self._anthropic_create(entry)
            if method == "GET" and len(rest) == 1:
                return self._anthropic_retrieve(rest[0])
            if method == "GET" and len(rest) == 2 and rest[1] == "results":
                return self._anthropic_results(rest[0])
        elif parts[:2] == ["v1", "files"]:
            rest = parts[2:]
            if method == "POST" and not rest:
                return self._openai_upload(entry)
            if method == "GET" and len(rest) == 2 and rest[1] == "content":
                return self._openai_content(rest[0])
        elif parts[:2] == ["v1", "batches"]:
            rest = parts[2:]
            if method == "POST" and not rest:
                return self._openai_create(entry)
            if method == "GET" and len(rest) == 1:
                return self._openai_retrieve(rest[0])
        return None

    # -- shared ----------------------------------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._numbers):04d}"

    def _create(
        self,
        api: str,
        batch_id: str,
        requests: list[tuple[str, dict[str, Any]]],
        input_file_id: str | None = None,
        path: str | None = None,
    ) -> _Batch:
        batch = _Batch(
            api,
            batch_id,
            [cid for cid, _ in requests],
            [body for _, body in requests],
            input_file_id,
            time.time(),
            self.server.usage.clock(),
            path=path,
        )
        from tests.loopback import request_key  # the same identity as online faults

        path = batch.endpoint
        for _, body in requests:
            with self._lock:
                key = request_key(body, path)
                seen = self._sightings[key]
                self._sightings[key] += 1
            why = self.script.lost(body, seen) if self.script.lost else None
            batch.outcomes.append(("lost", why) if why else ("pending", None))
        with self._lock:
            batch.number = len(self.created)
            self.batches[batch_id] = batch
            self.created.append((api, batch_id, batch.custom_ids, batch.bodies))
        return batch

    def _poll(self, batch: _Batch) -> bool:
        """Count one retrieval; True once the batch has ended."""
        with self._lock:
            batch.polls += 1
            polls = batch.polls
        release = self.script.release
        held = release is not None and not release.is_set()
        held = held and batch.number >= self.script.hold_after
        ended = polls > self.script.polls and not held
        if ended:
            self._answer(batch)
        return ended

    def _answer(self, batch: _Batch) -> None:
        """Answer an ending batch's requests, as run concurrently since its submission."""
        path = batch.endpoint
        with self._answering:
            if batch.answered:
                return
            with self.server.usage.batch(batch.submitted_at):
                for n, (kind, _) in enumerate(batch.outcomes):
                    if kind == "pending":
                        body, rid = batch.bodies[n], f"{batch.id}-{batch.custom_ids[n]}"
                        answer = self.server.process(batch.api, body, path, rid)
                        batch.outcomes[n] = ("answer", answer)
            batch.answered = True

    @staticmethod
    def _not_found(api: str, what: str) -> tuple[int, Any, str]:
        if api == "openai":
            error = {"message": f"No {what}", "type": "invalid_request_error", "code": None}
            return 404, {"error": error}, "application/json"
        error = {"type": "not_found_error", "message": f"No {what}"}
        return 404, {"type": "error", "error": error}, "application/json"

    # -- Anthropic -------------------------------------------------------------------------

    def _anthropic_create(self, entry: LoggedRequest) -> tuple[int, Any, str]:
        body = entry.body if isinstance(entry.body, dict) else {}
        requests = [(r["custom_id"], r["params"]) for r in body.get("requests", [])]
        batch = self._create("anthropic", self._new_id("msgbatch_loop_"), requests)
        return 200, self._anthropic_object(batch, ended=False), "application/json"

    def _anthropic_retrieve(self, batch_id: str) -> tuple[int, Any, str]:
        batch = self.batches.get(batch_id)
        if batch is None or batch.api != "anthropic":
            return self._not_found("anthropic", f"message batch {batch_id}")
        return 200, self._anthropic_object(batch, ended=self._poll(batch)), "application/json"

    def _anthropic_object(self, batch: _Batch, *, ended: bool) -> dict[str, Any]:
        counts = {"processing": len(batch.outcomes), "succeeded": 0, "errored": 0}
        counts |= {"canceled": 0, "expired": 0}
        if ended:
            counts["processing"] = 0
            for kind, payload in batch.outcomes:
                if kind == "lost":
                    counts[payload] += 1
                else:
                    counts["succeeded" if payload[0] == 200 else "errored"] += 1
        created = datetime.fromtimestamp(batch.created_at, tz=UTC)
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": counts,
            "created_at": created.isoformat(),
            "expires_at": (created + timedelta(hours=24)).isoformat(),
            "ended_at": datetime.now(UTC).isoformat() if ended else None,
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": (
                f"{self.server.url}/v1/messages/batches/{batch.id}/results" if ended else None
            ),
        }

    def _anthropic_results(self, batch_id: str) -> tuple[int, Any, str]:
        batch = self.batches.get(batch_id)
        if batch is None or batch.api != "anthropic":
            return self._not_found("anthropic", f"message batch {batch_id}")
        lines = []
        for custom_id, (kind, payload) in zip(batch.custom_ids, batch.outcomes, strict=True):
            if kind == "lost":
                result: dict[str, Any] = {"type": payload}
            elif payload[0] == 200:
                result = {"type": "succeeded", "message": payload[1]}
            else:
                error = payload[1].get("error", {})
                result = {"type": "errored", "error": {"type": "error", "error": error}}
            lines.append(json.dumps({"custom_id": custom_id, "result": result}))
        return 200, ("\n".join(lines) + "\n").encode(), "application/binary"

    # -- OpenAI ----------------------------------------------------------------------------

    def _openai_upload(self, entry: LoggedRequest) -> tuple[int, Any, str]:
        parts = parse_multipart(entry.headers.get("content-type", ""), entry.raw)
        filename, content = parts.get("file", (None, b""))
        purpose = parts.get("purpose", (None, b""))[1].decode()
        file_id = self._new_id("file-loop-")
        self.files[file_id] = content
        file_object = {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": int(time.time()),
            "filename": filename or "upload.jsonl",
            "purpose": purpose,
            "status": "processed",
        }
        return 200, file_object, "application/json"

    def _openai_content(self, file_id: str) -> tuple[int, Any, str]:
        content = self.files.get(file_id)
        if content is None:
            return self._not_found("openai", f"file {file_id}")
        return 200, content, "application/octet-stream"

    def _openai_create(self, entry: LoggedRequest) -> tuple[int, Any, str]:
        body = entry.body if isinstance(entry.body, dict) else {}
        content = self.files.get(str(body.get("input_file_id")))
        if content is None:
            return self._not_found("openai", f"file {body.get('input_file_id')}")
        lines = [json.loads(line) for line in content.decode().splitlines() if line.strip()]
        requests = [(line["custom_id"], line["body"]) for line in lines]
        batch = self._create(
            "openai",
            self._new_id("batch_loop_"),
            requests,
            body["input_file_id"],
            path=str(body.get("endpoint") or CHAT_PATH["openai"]),
        )
        return 200, self._openai_object(batch, ended=False), "application/json"

    def _openai_retrieve(self, batch_id: str) -> tuple[int, Any, str]:
        batch = self.batches.get(batch_id)
        if batch is None or batch.api != "openai":
            return self._not_found("openai", f"batch {batch_id}")
        ended = self._poll(batch)
        if ended and batch.output_file_id is None and batch.error_file_id is None:
            self._openai_files(batch)
        return 200, self._openai_object(batch, ended=ended), "application/json"

    def _openai_files(self, batch: _Batch) -> None:
        output, errors = [], []
        for n, (custom_id, (kind, payload)) in enumerate(
            zip(batch.custom_ids, batch.outcomes, strict=True)
        ):
            line: dict[str, Any] = {"id": f"batch_req_{batch.id}_{n}", "custom_id": custom_id}
            if kind == "lost":
                code = "batch_expired" if payload == "expired" else "batch_cancelled"
                message = f"This request could not be executed before the batch {payload}."
                line |= {"response": None, "error": {"code": code, "message": message}}
                errors.append(line)
                continue
            status, body = payload
            rid = f"req_{batch.id}_{n}"
            line |= {"response": {"status_code": status, "request_id": rid, "body": body}}
            line["error"] = None
            (output if status == 200 else errors).append(line)
        if output:
            batch.output_file_id = self._new_id("file-out-")
            self.files[batch.output_file_id] = _jsonl(output)
        if errors:
            batch.error_file_id = self._new_id("file-err-")
            self.files[batch.error_file_id] = _jsonl(errors)

    def _openai_object(self, batch: _Batch, *, ended: bool) -> dict[str, Any]:
        total = len(batch.outcomes)
        answered = [p for kind, p in batch.outcomes if kind != "lost"]
        if ended:
            completed = sum(status == 200 for status, _ in answered)
            failed = total - completed
            lost = batch.lost_kinds
            status = "expired" if "expired" in lost else "cancelled" if lost else "completed"
        else:  # partial progress, as the Batch API reports it
            completed = min(len(answered), total * batch.polls // max(1, self.script.polls + 1))
            failed = 0
            status = "validating" if batch.polls <= 1 and self.script.polls > 1 else "in_progress"
        now = int(time.time())
        return {
            "id": batch.id,
            "object": "batch",
            "endpoint": batch.endpoint,
            "errors": None,
            "input_file_id": batch.input_file_id,
            "completion_window": "24h",
            "status": status,
            "output_file_id": batch.output_file_id if ended else None,
            "error_file_id": batch.error_file_id if ended else None,
            "created_at": int(batch.created_at),
            "in_progress_at": int(batch.created_at),
            "expires_at": int(batch.created_at) + 86_400,
            "completed_at": now if ended and status == "completed" else None,
            "expired_at": now if ended and status == "expired" else None,
            "cancelled_at": now if ended and status == "cancelled" else None,
            "request_counts": {"total": total, "completed": completed, "failed": failed},
            "metadata": None,
        }


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()
