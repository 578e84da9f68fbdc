"""An agent chain's turns and state: what is recorded of them, and how a chain is rebuilt.

Each attempt row of an agent chain carries, in `agent_turns`, the turns since the previous row
(a reply, its tool calls, the tool results, any note the harness added), so that a killed chain
is rebuilt from its rows alone: its messages, its counts, and what it validated.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmark.loop.agent_tools import SCHEMA, VALIDATE
from benchmark.models.base import ChatMessage, ModelOutput, ToolCall
from benchmark.models.usage import COUNTS, SECONDS

# usage figures of a turn that add up when several turns land on one row
_SUMMED = (*COUNTS, *SECONDS)


@dataclass
class ToolResult:
    tool_call_id: str
    name: str
    content: str
    is_error: bool = False


@dataclass
class Turn:
    """One model call of a chain and what answered it."""

    turn: int  # 1-based
    reply: str
    carry: list[dict[str, Any]] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    results: list[ToolResult] = field(default_factory=list)
    note: str | None = None  # the harness's user turn after it (a reminder, "submit now")
    note_kind: str | None = None  # reminder | submit_now

    def messages(self) -> list[ChatMessage]:
        """The turn as the next call's messages: the reply, its results, the note."""
        out = [ChatMessage("assistant", self.reply, tuple(self.carry), tuple(self.tool_calls))]
        out += [
            ChatMessage("tool", r.content, tool_call_id=r.tool_call_id, tool_name=r.name,
                        is_error=r.is_error)
            for r in self.results
        ]  # fmt: skip
        if self.note is not None:
            out.append(ChatMessage("user", self.note))
        return out

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Turn:
        return cls(
            turn=int(data["turn"]),
            reply=str(data.get("reply") or ""),
            carry=list(data.get("carry") or []),
            tool_calls=[ToolCall(**c) for c in data.get("tool_calls") or []],
            results=[ToolResult(**r) for r in data.get("results") or []],
            note=data.get("note"),
            note_kind=data.get("note_kind"),
        )


def dump_turns(turns: Sequence[Turn]) -> str:
    return json.dumps([t.as_dict() for t in turns], ensure_ascii=False)


def load_turns(text: str | None) -> list[Turn]:
    return [Turn.from_dict(d) for d in json.loads(text)] if text else []


@dataclass
class AgentState:
    """Where an agent chain stands; everything in it can be rebuilt from the chain's rows."""

    messages: list[ChatMessage]
    turn: int = 0  # turns made
    rows: int = 0  # attempt rows recorded: the next row's iteration is rows + 1
    validate_calls: int = 0
    last_validated: tuple[str, str] | None = None  # the template and what validate said
    validated: dict[str, int] = field(default_factory=dict)  # template -> findings reported
    lookups_since_validate: list[str] = field(default_factory=list)
    lookups_since_row: list[str] = field(default_factory=list)
    pending: list[Turn] = field(default_factory=list)  # turns not yet on a row
    pending_usage: list[ModelOutput] = field(default_factory=list)
    reminded: bool = False
    forced: bool = False  # a submission was asked for: the next turn is the last


@dataclass(frozen=True)
class RecordedRow:
    """What rebuilding needs of one recorded attempt row of an agent chain."""

    template: str
    feedback: str
    tool: str | None
    findings: int | None  # errors + warnings + infos the row recorded
    agent_turns: str | None


def rebuild(first: list[ChatMessage], rows: Sequence[RecordedRow]) -> AgentState:
    """The state of a chain after `rows` (iterations 1..n, none final), from `first`, the
    chain's opening messages. Lookup-only turns after the last row were not recorded: the
    chain makes them again."""
    state = AgentState(list(first), rows=len(rows))
    for row in rows:
        for turn in load_turns(row.agent_turns):
            state.messages += turn.messages()
            state.turn = max(state.turn, turn.turn)
            state.reminded |= turn.note_kind == "reminder"
            state.forced |= turn.note_kind == "submit_now"
            for result in turn.results:
                if result.name == SCHEMA and not result.is_error:
                    call = next(c for c in turn.tool_calls if c.id == result.tool_call_id)
                    state.lookups_since_validate.append(
                        str((call.parsed() or {}).get("resource_type", ""))
                    )
                elif result.name == VALIDATE and not result.is_error:
                    state.lookups_since_validate = []
        if row.tool == VALIDATE:
            state.validate_calls += 1
            state.last_validated = (row.template, row.feedback)
            state.validated[row.template] = row.findings or 0
    return state


def _sum(values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def merged_usage(outputs: Sequence[ModelOutput]) -> ModelOutput:
    """The last output with the usage of all of `outputs` added up (turns that made no row
    of their own land on the next row). A cache hit only if every one was."""
    last = outputs[-1]
    if len(outputs) == 1:
        return last
    figures = {name: _sum([getattr(o, name) for o in outputs]) for name in _SUMMED}
    extra = dict(last.extra)
    if not all(o.extra.get("cache_hit") == "true" for o in outputs):
        extra.pop("cache_hit", None)
    retries = sum(int(o.extra.get("retries", 0)) for o in outputs)
    extra.pop("retries", None)
    if retries:
        extra["retries"] = str(retries)
    flags: dict[str, str] = {}
    for output in outputs:
        flags.update(output.usage_flags)
    return dataclasses.replace(last, **figures, extra=extra, usage_flags=flags)


def no_usage(output: ModelOutput) -> ModelOutput:
    """`output` for a turn's second and later rows: its usage is on the turn's first row."""
    zero = {name: (None if getattr(output, name) is None else 0) for name in _SUMMED}
    zero["latency_s"] = None if output.latency_s is None else 0.0
    extra = {k: v for k, v in output.extra.items() if k != "retries"}
    return dataclasses.replace(output, **zero, extra=extra)
