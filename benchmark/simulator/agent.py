"""The simulator as an agent (`loop.protocol=agent`): a documented policy from its profile.

An ASSUMPTION, SET BY HAND, NOT MEASURED on any model. When a call offers tools
(`GenerateConfig.tools`) the simulator plays an agent through them, one tool turn a call:

1. it writes a draft (the first generation) and calls `validate_template` on it;
2. when validate answered "no findings" it calls `submit_template` with that template;
3. when the feedback names E3002/E3003/E3030-type findings (`lookup_rules`) it first calls
   `get_resource_schema` for the resource type of each such finding's path (one turn, the
   calls in parallel), with chance `lookup_probability`; a lookup that answered without error
   multiplies the chance of fixing that finding by `lookup_fix_factor` (capped at 1);
4. otherwise it repairs the last validated template from its feedback, exactly as the fixed
   loop's repair at that iteration (the same draws: without lookups and skips an agent chain
   writes the templates a stateless chain writes), and validates the result;
5. any template it writes (draft or repair) is submitted WITHOUT validating with chance
   `skip_validation_probability`;
6. a forced tool (`tool_choice`) is honoured: a forced `submit_template` submits the last
   validated template (the draft if none was validated), a forced `validate_template`
   validates the template the policy would write. A tool not offered is never called.

The chain's state is read from the `CallContext`, never kept: `iteration` = 1 + validate calls
so far, `previous_template` / `previous_feedback` = the last validated template and its
feedback (else read from the messages' last validate result), `schema_lookups` = types looked
up since; a lookup whose tool result `is_error` does not count. Draws are seeded by (seed,
problem, sample, iteration), as every simulator draw, so a chain replays the same on resume.

    agent:                           # in a profile; none: DEFAULT_POLICY
      skip_validation_probability: 0.05
      lookup_probability: 0.8
      lookup_fix_factor: 6.0
      lookup_rules: [E3002, E3003, E3030]
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from benchmark.models.base import ChatMessage, ToolCall
from benchmark.simulator.behaviour import SimProblem, mentions
from benchmark.simulator.mutations import Mutation

VALIDATE = "validate_template"
LOOKUP = "get_resource_schema"
SUBMIT = "submit_template"
NO_FINDINGS = "no findings"
LOOKUP_RULES = ("E3002", "E3003", "E3030")  # property name, required property, allowed value


class AgentError(ValueError):
    """A bad `agent` section of a profile (one line)."""


@dataclass(frozen=True)
class AgentPolicy:
    """The agent's knobs (see the module docstring)."""

    skip_validation_probability: float = 0.05
    lookup_probability: float = 0.8
    lookup_fix_factor: float = 6.0
    lookup_rules: tuple[str, ...] = LOOKUP_RULES
    source: str = "default"  # "profile": its own agent section; "default": DEFAULT_POLICY


# The policy of a profile without an agent section (every calibrated one): the same assumption.
DEFAULT_POLICY = AgentPolicy()
_PROBABILITIES = ("skip_validation_probability", "lookup_probability")


def agent_policy(data: Mapping[str, Any], where: str = "profile") -> AgentPolicy:
    """The `agent` section of a profile's data (none: DEFAULT_POLICY); AgentError if bad."""
    section = data.get("agent")
    if section is None:
        return DEFAULT_POLICY
    if not isinstance(section, Mapping):
        raise AgentError(f"{where}: agent: expected a mapping")
    known = {*_PROBABILITIES, "lookup_fix_factor", "lookup_rules"}
    unknown = sorted(set(section) - known)
    if unknown:
        raise AgentError(f"{where}: agent: unknown key {unknown[0]!r} (known: {sorted(known)})")
    values: dict[str, Any] = {"source": "profile"}
    for name in (*_PROBABILITIES, "lookup_fix_factor"):
        if name not in section:
            continue
        value = section[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise AgentError(f"{where}: agent.{name}: expected a number >= 0")
        if name in _PROBABILITIES and value > 1:
            raise AgentError(f"{where}: agent.{name}: a probability must be within [0, 1]")
        values[name] = float(value)
    if "lookup_rules" in section:
        rules = section["lookup_rules"]
        if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
            raise AgentError(f"{where}: agent.lookup_rules: expected a list of rule ids")
        values["lookup_rules"] = tuple(rules)
    return AgentPolicy(**values)


# ---- the chain's state -------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentState:
    """What the agent knows at a turn: the last validated template and its feedback (None
    before the first validate call), validate calls so far, and the types looked up since
    whose lookup answered without error."""

    validated: str | None
    feedback: str | None
    validations: int
    looked_up: frozenset[str]
    lookups_since: int  # lookup calls since the last validate (failed ones too)
    turn: int

    @property
    def clean(self) -> bool:
        return self.feedback is not None and self.feedback.strip().lower().startswith(NO_FINDINGS)


def read_state(
    messages: Sequence[ChatMessage],
    iteration: int,
    previous_template: str | None,
    previous_feedback: str | None,
    schema_lookups: Sequence[str],
    turn: int | None,
) -> AgentState:
    """The state from a call's context; the messages' tool results fill what it lacks and say
    which lookups failed (only those since the last validate call count)."""
    calls = {c.id: c for m in messages if m.role == "assistant" for c in m.tool_calls}
    answered: dict[str, bool] = {}  # type looked up since the last validate -> without error
    last_validate: tuple[str, str] | None = None
    for m in messages:
        if m.role != "tool" or m.tool_call_id not in calls:
            continue
        args = calls[m.tool_call_id].parsed() or {}
        if m.tool_name == LOOKUP:
            kind = str(args.get("resource_type"))
            answered[kind] = answered.get(kind, False) or not m.is_error
        elif m.tool_name == VALIDATE and not m.is_error and "template" in args:
            last_validate = (str(args["template"]), m.content)
            answered.clear()
    validated, feedback = previous_template, previous_feedback
    if iteration > 1 and (validated is None or feedback is None) and last_validate:
        validated, feedback = last_validate
    failed = {kind for kind, ok in answered.items() if not ok}
    looked_up = (set(schema_lookups) | {kind for kind, ok in answered.items() if ok}) - failed
    if turn is None:
        turn = 1 + sum(1 for m in messages if m.role == "assistant")
    return AgentState(
        validated if iteration > 1 else None,
        feedback if iteration > 1 else None,
        iteration - 1,
        frozenset(looked_up),
        max(len(schema_lookups), len(answered)),
        turn,
    )


# ---- the policy's move -------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """One turn: a tool and its arguments (several lookups, or one template call)."""

    tool: str
    template: str | None = None
    active: tuple[Mutation, ...] = ()  # the template's mistakes
    resource_types: tuple[str, ...] = ()
    note: str = ""

    def calls(self, make_id: Callable[[int], str]) -> list[ToolCall]:
        """The tool calls, ids from `make_id(k)` (unique within the chain)."""
        if self.tool == LOOKUP:
            return [
                ToolCall(make_id(k), LOOKUP, json.dumps({"resource_type": t}))
                for k, t in enumerate(self.resource_types)
            ]
        return [ToolCall(make_id(0), self.tool, json.dumps({"template": self.template}))]


def resource_type(problem: SimProblem, m: Mutation) -> str | None:
    """The resource type of a mistake's path (Resources/<id>/...), else None."""
    path = m.path
    if len(path) < 2 or path[0] != "Resources":
        return None
    resources = problem.template.get("Resources")
    resource = resources.get(path[1]) if isinstance(resources, Mapping) else None
    kind = resource.get("Type") if isinstance(resource, Mapping) else None
    return kind if isinstance(kind, str) else None


def lookup_targets(
    policy: AgentPolicy, problem: SimProblem, active: Sequence[Mutation], feedback: str
) -> dict[str, str]:
    """Mistake key -> resource type, for the named mistakes a schema lookup would help."""
    out = {}
    for m in active:
        if m.rule_id in policy.lookup_rules and mentions(feedback, m.rule_id):
            kind = resource_type(problem, m)
            if kind is not None:
                out[m.key] = kind
    return out
