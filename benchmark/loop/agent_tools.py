"""The agent protocol's three tools: what the model is told of them and how a call is read.

`validate_template(template)` runs the job's validator suite and answers with the prompt set's
feedback design's text (what the fixed loop would feed back), or "no findings";
`get_resource_schema(resource_type, property_path?)` answers from cfn-lint's own schemas for
the job's regions; `submit_template(template)` hands in the final answer and ends the chain.
Running them is the chain's business (benchmark/loop/agent.py): here are their specs, the
reading of a call's arguments, and the fixed texts the harness sends.
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmark.models.base import ToolCall, ToolSpec

VALIDATE = "validate_template"
SCHEMA = "get_resource_schema"
SUBMIT = "submit_template"
NO_FINDINGS = "no findings"

_TEMPLATE_ARG = {
    "type": "object",
    "properties": {
        "template": {"type": "string", "description": "the whole CloudFormation template"}
    },
    "required": ["template"],
    "additionalProperties": False,
}
TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        VALIDATE,
        "Check a whole CloudFormation template with the benchmark's linter. Returns what it "
        f"found, or '{NO_FINDINGS}'.",
        _TEMPLATE_ARG,
    ),
    ToolSpec(
        SCHEMA,
        "Show a CloudFormation resource type's properties: which are required, their types "
        "and allowed values. Give a dotted property path (e.g. "
        "Properties.VersioningConfiguration) to see one property in detail.",
        {
            "type": "object",
            "properties": {
                "resource_type": {"type": "string", "description": "e.g. AWS::S3::Bucket"},
                "property_path": {
                    "type": "string",
                    "description": "optional dotted path, e.g. Properties.Tags",
                },
            },
            "required": ["resource_type"],
            "additionalProperties": False,
        },
    ),
    ToolSpec(
        SUBMIT,
        "Hand in your final, whole CloudFormation template. This ends the task; only the "
        "submitted template is judged.",
        _TEMPLATE_ARG,
    ),
)
TOOL_NAMES = tuple(t.name for t in TOOLS)

REMINDER = (
    "Your reply called no tool and held no template. Use validate_template to check a "
    "template, and submit_template to hand in your final template."
)
SUBMIT_NOW = (
    "You have reached the limit of {what}. Submit your final template now with submit_template."
)


@dataclass(frozen=True)
class ReadCall:
    """A tool call as read: its arguments, or why it cannot run (a tool error to send back)."""

    call: ToolCall
    arguments: dict[str, str]
    error: str | None = None


def read_call(call: ToolCall) -> ReadCall:
    """Check one call's name and arguments against the tools' specs (never raises)."""
    if call.name not in TOOL_NAMES:
        return ReadCall(
            call, {}, f"error: unknown tool {call.name!r}; the tools are {', '.join(TOOL_NAMES)}"
        )
    arguments = call.parsed()
    if arguments is None:
        return ReadCall(
            call,
            {},
            f"error: the arguments of {call.name} are not a JSON object: {call.arguments!r:.200}",
        )
    spec = next(t for t in TOOLS if t.name == call.name)
    for name in spec.parameters["required"]:
        if not isinstance(arguments.get(name), str) or not arguments[name].strip():
            return ReadCall(call, {}, f"error: {call.name} needs a text argument {name!r}")
    known = spec.parameters["properties"]
    optional = {k: v for k, v in arguments.items() if k in known and isinstance(v, str)}
    return ReadCall(call, optional)


def cap(text: str, max_chars: int) -> str:
    """`text` cut to at most `max_chars` characters, the cut said at its end."""
    if len(text) <= max_chars:
        return text
    note = "\n[cut: {} of {} characters not shown]"
    kept = max(0, max_chars - len(note.format(len(text), len(text))))
    return text[:kept] + note.format(len(text) - kept, len(text))
