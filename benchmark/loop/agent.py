"""The agent protocol: the model drives the loop with three tools until it submits.

The model gets the problem and the tools of benchmark/loop/agent_tools.py. Every template it
shows to `validate_template`, and the one it submits, is an attempt row like a fixed-loop
attempt (iteration = its order in the chain), handed to the same `on_attempt` callback. The
submitted template is always validated by the harness. A reply with no tool call but a template
is a submission; one with neither gets one reminder, then the chain ends `no_submission`.
Reaching `loop.max_iterations` validate calls or the turn before `loop.max_turns` asks once for
a submission (tool_choice = submit_template); a chain that still does not submit ends
`max_turns`. A turn's usage goes on the first row it made, or, a turn that made none (schema
lookups only), on the chain's next row.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from benchmark.config import LoopConfig, PromptSetConfig
from benchmark.loop.agent_tools import (
    NO_FINDINGS,
    REMINDER,
    SCHEMA,
    SUBMIT,
    SUBMIT_NOW,
    TOOLS,
    VALIDATE,
    ReadCall,
    cap,
    read_call,
)
from benchmark.loop.agent_turns import (
    AgentState,
    RecordedRow,
    ToolResult,
    Turn,
    dump_turns,
    merged_usage,
    no_usage,
    rebuild,
)
from benchmark.loop.extract import extract_template
from benchmark.loop.feedback_loop import (
    Attempt,
    FatalModelError,
    RecordedAttempt,
    feedback_text,
    judge,
)
from benchmark.loop.prompts import agent_messages
from benchmark.models.base import (
    CallContext,
    GenerateConfig,
    ModelAPI,
    ModelError,
    ModelOutput,
)
from benchmark.problems.dataset import Problem
from benchmark.validators.cfn_lint.schemas import resource_schema
from benchmark.validators.suite import ValidatorSuite

NOT_A_TEMPLATE = frozenset({"whole-reply", "empty"})  # extraction rules that found none


@dataclass(frozen=True)
class AgentResume:
    """Where a recorded agent chain goes on."""

    state: AgentState


class AgentLoop:
    """Runs problem x sample agent chains against one model with one prompt set."""

    def __init__(
        self,
        model: ModelAPI,
        suite: ValidatorSuite,
        prompts: PromptSetConfig,
        loop: LoopConfig,
        generate_config: Callable[[int], GenerateConfig],
        regions: Sequence[str],
        may_start: Callable[[], bool] = lambda: True,
    ) -> None:
        self.model, self.suite, self.prompts, self.loop = model, suite, prompts, loop
        self.generate_config = generate_config  # sample index -> config (tools added here)
        self.regions = list(regions)  # the job's lint regions: where schemas are looked up
        self.may_start = may_start  # asked before every turn (the sweep's budget)

    def resume_point(self, problem: Problem, recorded: Sequence[RecordedAttempt]) -> AgentResume:
        """Where a chain with these recorded rows (iterations 1..n, none final) goes on."""
        rows = [
            RecordedRow(r.template, r.feedback, r.tool, r.findings, r.agent_turns) for r in recorded
        ]
        state = rebuild(agent_messages(self.prompts, problem), rows)
        if self.loop.max_turns <= 1:
            state.forced = True
        return AgentResume(state)

    async def run_chain(
        self,
        problem: Problem,
        sample: int,
        on_attempt: Callable[[Attempt], None],
        resume: AgentResume | None = None,
    ) -> Attempt | None:
        """Run one chain to its end; `on_attempt` receives each row as its turn finishes.
        Returns the last row, or None if `may_start` refused a turn (budget spent)."""
        if resume is not None:
            state = resume.state
        else:
            state = AgentState(agent_messages(self.prompts, problem))
            state.forced = self.loop.max_turns <= 1  # the only turn must submit
        while True:
            if not self.may_start():
                return None
            last = await self._turn(problem, sample, state, on_attempt)
            if last is not None and last.stop_reason is not None:
                if last.stop_reason == "fatal_model_error":
                    raise FatalModelError(last.model_error or "fatal model error")
                return last

    async def _turn(
        self,
        problem: Problem,
        sample: int,
        state: AgentState,
        on_attempt: Callable[[Attempt], None],
    ) -> Attempt | None:
        """One model call and its tools; returns the last row it recorded, if any."""
        started = datetime.now(UTC)
        forced = state.forced
        config = dataclasses.replace(
            self.generate_config(sample), tools=TOOLS, tool_choice=SUBMIT if forced else None
        )
        context = CallContext(
            problem.id,
            sample,
            state.validate_calls + 1,
            self.prompts.output_format,
            previous_template=state.last_validated[0] if state.last_validated else None,
            previous_feedback=state.last_validated[1] if state.last_validated else None,
            max_iterations=self.loop.max_iterations,
            turn=state.turn + 1,
            schema_lookups=tuple(state.lookups_since_validate),
        )
        try:
            output = await self.model.generate(list(state.messages), config, context)
        except ModelError as exc:
            row = self._row(problem, sample, state, started)
            row.model_error, row.error_kind = f"{exc.kind}: {exc}", exc.kind
            row.stop_reason = "fatal_model_error" if exc.fatal else "model_error"
            return self._emit([row], None, state, on_attempt)
        state.turn += 1
        turn = Turn(state.turn, output.text, list(output.carry), list(output.tool_calls))
        rows: list[Attempt] = []
        end: str | None = None  # how the chain ends without a row of its own
        if forced:
            end = await self._forced(problem, sample, state, turn, output, rows, started)
        elif output.tool_calls:
            await self._calls(problem, sample, state, turn, rows, started)
        else:
            extraction = extract_template(output.text)
            if extraction.rule not in NOT_A_TEMPLATE:
                rows.append(await self._submission(problem, sample, state, "reply", output.text))
            elif not state.reminded:
                state.reminded = True
                turn.note, turn.note_kind = REMINDER, "reminder"
            else:
                end = "no_submission"
        ended = end is not None or any(r.stop_reason is not None for r in rows)
        if not ended and not state.forced and self._at_limit(state):
            state.forced = True
            what = (
                f"{self.loop.max_iterations} validate_template calls"
                if state.validate_calls >= self.loop.max_iterations
                else f"{self.loop.max_turns} turns"
            )
            note = SUBMIT_NOW.format(what=what)
            turn.note = f"{turn.note}\n\n{note}" if turn.note else note
            turn.note_kind = "submit_now"
        if end is not None:
            row = self._row(problem, sample, state, started)
            row.stop_reason = end
            rows.append(row)
        state.messages += turn.messages()
        return self._emit(rows, (turn, output), state, on_attempt)

    def _at_limit(self, state: AgentState) -> bool:
        return (
            state.validate_calls >= self.loop.max_iterations
            or state.turn >= self.loop.max_turns - 1
        )

    async def _forced(
        self,
        problem: Problem,
        sample: int,
        state: AgentState,
        turn: Turn,
        output: ModelOutput,
        rows: list[Attempt],
        started: datetime,
    ) -> str | None:
        """The turn that was asked to submit: its submission, else the chain ends."""
        for call in turn.tool_calls:
            read = read_call(call)
            if call.name == SUBMIT and read.error is None:
                rows.append(await self._submission(problem, sample, state, SUBMIT, read))
                return None
        if not turn.tool_calls and extract_template(output.text).rule not in NOT_A_TEMPLATE:
            rows.append(await self._submission(problem, sample, state, "reply", output.text))
            return None
        return "max_turns"

    async def _calls(
        self,
        problem: Problem,
        sample: int,
        state: AgentState,
        turn: Turn,
        rows: list[Attempt],
        started: datetime,
    ) -> None:
        """Run a turn's tool calls in order; a submission or a linter failure ends the turn."""
        cap_at = self.loop.tool_result_max_chars
        for call in turn.tool_calls:
            read = read_call(call)
            if read.error is not None:
                turn.results.append(ToolResult(call.id, call.name, cap(read.error, cap_at), True))
                continue
            if call.name == SUBMIT:
                rows.append(await self._submission(problem, sample, state, SUBMIT, read))
                return
            if call.name == SCHEMA:
                kind = read.arguments["resource_type"].strip()
                text = resource_schema(
                    kind, read.arguments.get("property_path"), self.regions, cap_at
                )
                state.lookups_since_validate.append(kind)
                state.lookups_since_row.append(kind)
                turn.results.append(ToolResult(call.id, SCHEMA, text, text.startswith("error:")))
                continue
            if state.validate_calls >= self.loop.max_iterations:
                why = f"error: the limit of {self.loop.max_iterations} validate_template calls "
                why += "is reached; submit your template with submit_template"
                turn.results.append(ToolResult(call.id, VALIDATE, why, True))
                continue
            row = await self._validate(problem, sample, state, read)
            rows.append(row)
            turn.results.append(ToolResult(call.id, VALIDATE, row.feedback or NO_FINDINGS))
            if row.stop_reason is not None:  # the linter failed: nothing to say
                return

    def _row(self, problem: Problem, sample: int, state: AgentState, started: datetime) -> Attempt:
        """A new row of the chain, numbered in order, with the lookups since the last row."""
        state.rows += 1
        row = Attempt(problem, sample, state.rows, started_at=started)
        row.agent = {
            "tool": None,  # set by the rows that judge a template
            "turn": state.turn or None,
            "schema_lookups": len(state.lookups_since_row),
            "schema_lookup_types": json.dumps(state.lookups_since_row),
            "submitted": False,
        }
        state.lookups_since_row = []
        return row

    async def _check(
        self, problem: Problem, sample: int, state: AgentState, text: str, tool: str
    ) -> Attempt:
        """A row for `text` as a template, judged by the job's validator suite."""
        row = self._row(problem, sample, state, datetime.now(UTC))
        row.agent["tool"] = tool
        await judge(row, text, self.suite, self.prompts.template_as)
        return row

    async def _validate(
        self, problem: Problem, sample: int, state: AgentState, read: ReadCall
    ) -> Attempt:
        row = await self._check(problem, sample, state, read.arguments["template"], VALIDATE)
        assert row.extraction is not None
        template = row.extraction.template
        text = feedback_text(row, self.prompts, self.suite)
        row.feedback = cap(text or NO_FINDINGS, self.loop.tool_result_max_chars)
        state.validate_calls += 1
        state.last_validated = (template, row.feedback)
        state.validated[template] = sum(row.counts.values())
        state.lookups_since_validate = []
        return row

    async def _submission(
        self, problem: Problem, sample: int, state: AgentState, tool: str, given: ReadCall | str
    ) -> Attempt:
        """The submitted template's row, always validated by the harness."""
        text = given if isinstance(given, str) else given.arguments["template"]
        row = await self._check(problem, sample, state, text, tool)
        assert row.extraction is not None
        template = row.extraction.template
        row.agent["submitted"] = True
        row.agent["submission_validated"] = template in state.validated
        row.agent["open_findings_at_submit"] = state.validated.get(template)
        row.stop_reason = row.stop_reason or "submitted"
        return row

    def _emit(
        self,
        rows: list[Attempt],
        made: tuple[Turn, ModelOutput] | None,
        state: AgentState,
        on_attempt: Callable[[Attempt], None],
    ) -> Attempt | None:
        """Hand the turn's rows to `on_attempt`: the first carries the turns since the last
        row and their usage; a turn with no row waits for the next one."""
        if made is not None:
            state.pending.append(made[0])
            state.pending_usage.append(made[1])
        if not rows:
            return None
        for n, row in enumerate(rows):
            if n == 0:
                row.output = merged_usage(state.pending_usage) if state.pending_usage else None
                row.agent["agent_turns"] = dump_turns(state.pending)
            else:
                row.output = no_usage(rows[0].output) if rows[0].output else None
                row.agent["agent_turns"] = dump_turns([])
            if row.output is not None and made is None:
                row.output = dataclasses.replace(row.output, text="", tool_calls=[])
            row.finished_at = row.finished_at or datetime.now(UTC)
            on_attempt(row)
        state.pending, state.pending_usage = [], []
        return rows[-1]
