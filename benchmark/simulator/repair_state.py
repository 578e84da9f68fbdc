"""What a repair call's context says the simulator wrote last time, for every writer of replies
(templates: model.py; CDK apps: cdk/author.py). The simulator keeps no memory between calls:
the previous attempt in the CallContext is decoded back into its mistakes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from benchmark.models.base import CallContext, ModelError

State = TypeVar("State")


def previous_mistakes(
    context: CallContext, decode: Callable[[str], State | None], written: str, hint: str = ""
) -> State | None:
    """The mistakes of the previous attempt (`decode` of its text), or None when the loop kept it
    as `null` (template_as: json_dumps keeps an unparseable reply so, as the paper's script
    did): nothing of it is left, so the caller draws anew. A ModelError (simulator_state) when
    the context carries no previous attempt or one this simulator did not write; `written`
    names what it writes (template, app), `hint` adds a likely cause."""
    where = f"{context.problem_id} sample {context.sample} iteration {context.iteration}"
    if context.previous_template is None or context.previous_feedback is None:
        raise ModelError(
            f"simulated: {where} is a repair call without the previous attempt's "
            f"{written} and feedback in its CallContext",
            kind="simulator_state",
        )
    if context.previous_template.strip() == "null":
        return None
    previous = decode(context.previous_template)
    if previous is None:
        raise ModelError(
            f"simulated: {where}: the previous {written} is not one this simulator "
            f"wrote for this problem{hint}",
            kind="simulator_state",
        )
    return previous
