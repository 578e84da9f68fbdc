"""The batch journal: what was submitted in which batch, kept in the job folder so that a
resumed job collects a batch instead of paying for it twice."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmark.models.base import (
    CallContext,
)
from benchmark.models.prompt_cache import Ttl

JOURNAL_FILE = "batches.jsonl"


def request_key(context: CallContext, params: dict[str, Any]) -> str:
    """What identifies a request across runs: the chain position and what the model reads
    (the request's content without its prompt-cache marks)."""
    material = [context.problem_id, context.sample, context.iteration, _unmarked(params)]
    text = json.dumps(material, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _unmarked(value: Any) -> Any:
    """`value` without `cache_control`; a lone text block becomes its text, as the API reads it."""
    if isinstance(value, dict):
        return {k: _unmarked(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        items = [_unmarked(v) for v in value]
        lone = items[0] if len(items) == 1 and isinstance(items[0], dict) else {}
        if lone.keys() == {"type", "text"} and lone["type"] == "text":
            return lone["text"]
        return items
    return value


@dataclass(frozen=True)
class Submission:
    """A request's place in one batch; `because`: why it was resubmitted (None: first)."""

    batch_id: str
    custom_id: str
    because: str | None = None


class BatchJournal:
    """`batches.jsonl`: every batch created (id and requests) and how it ended, fsynced."""

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / JOURNAL_FILE
        self._history: dict[str, list[Submission]] = {}  # request key -> its submissions
        self.ended: dict[str, str] = {}
        self.created = 0  # batches this journal recorded, earlier runs included
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(json.JSONDecodeError, KeyError, TypeError):
                    self._load(json.loads(line))

    def _load(self, entry: dict[str, Any]) -> None:
        if entry["event"] == "submitted":
            self.created += 1
            for request in entry["requests"]:
                submission = Submission(
                    entry["batch_id"], request["custom_id"], request.get("because")
                )
                self._history.setdefault(request["key"], []).append(submission)
        elif entry["event"] == "ended":
            self.ended[entry["batch_id"]] = entry["status"]

    def history(self, key: str) -> list[Submission]:
        """The batches a request was submitted in, oldest first."""
        return list(self._history.get(key, []))

    def _append(self, entry: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, separators=(",", ":")) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self._load(entry)

    def submitted(
        self,
        batch_id: str,
        round_no: int,
        requests: list[dict[str, Any]],
        cache_ttl: Ttl | None = None,
    ) -> None:
        self._append(
            {
                "event": "submitted",
                "batch_id": batch_id,
                "round": round_no,
                "at": datetime.now(UTC).isoformat(),
                "cache_ttl": cache_ttl,  # the prompt-cache TTL its requests wrote with
                "requests": requests,
            }
        )

    def finished(self, batch_id: str, status: str) -> None:
        self._append({"event": "ended", "batch_id": batch_id, "status": status})
