"""How reasoning effort and thinking move the simulator: a profile's hand-set `effort` section.

An ASSUMPTION, not a measurement: no profile's effort section comes from a recorded run. It
lets the reasoning-model features run offline (tests, demos, `make plan`) with the shape one
expects: more effort, fewer first-try mistakes, more output, more reasoning tokens.

    effort:
      default: medium        # the level of a call that sets thinking on but no effort
      levels:                # any of benchmark.models.base.EFFORTS
        low: {mistakes: 0.85, output: 1.05, reasoning_tokens: 800}

Per level: `mistakes` multiplies the chance that a first generation has any mistake (capped
at 1: a clean first try is then less likely, never negative); `output` multiplies the reply's
output tokens; `reasoning_tokens` is what each call spends reasoning, added to its output
tokens (reasoning is output, as providers bill it). Which level a call gets:

- `model.effort` set: that level (a level the profile does not list is refused);
- no effort, thinking on (`adaptive` or a budget): the section's `default` level;
- no effort, thinking unset or `off`: no effect at all (the classic simulator).

Thinking `off` makes a call's reasoning 0 (the level still moves mistakes and output); a
thinking budget caps it. A profile without an effort section (every calibrated one so far)
is unaffected by effort and thinking: its calls report no reasoning count (null), or 0 with
thinking `off`. The simulator does not cut a reply at `max_tokens`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from benchmark.models.base import EFFORTS


class EffortError(ValueError):
    """A bad effort section, or an effort the profile has no level for (one line)."""


@dataclass(frozen=True)
class EffortLevel:
    mistakes: float = 1.0  # times the chance of a first generation with any mistake
    output: float = 1.0  # times the reply's output tokens
    reasoning_tokens: int | None = None  # per call; None: not modelled

    def clean_chance(self, clean: float) -> float:
        """The chance of a clean first generation, `clean` before effort."""
        if self.mistakes == 1.0:
            return clean  # bit-identical draws where effort changes nothing
        return 1.0 - min(1.0, (1.0 - clean) * self.mistakes)


NO_EFFECT = EffortLevel()


@dataclass(frozen=True)
class EffortModel:
    """A profile's effort section (an empty one has no levels: effort has no effect)."""

    levels: Mapping[str, EffortLevel]
    default: str | None = None

    def level(self, effort: str | None, thinking: str | int | None) -> EffortLevel:
        """The level a call with this effort and thinking gets (see the module docstring)."""
        if not self.levels:
            return EffortLevel(reasoning_tokens=0) if thinking == "off" else NO_EFFECT
        name = effort
        if name is None:
            if thinking is None or thinking == "off" or self.default is None:
                return EffortLevel(reasoning_tokens=0) if thinking == "off" else NO_EFFECT
            name = self.default
        if name not in self.levels:
            raise EffortError(
                f"effort {name!r}: the simulator profile has no such level "
                f"(it has {', '.join(self.levels)})"
            )
        level = self.levels[name]
        reasoning = level.reasoning_tokens
        if thinking == "off":
            reasoning = 0
        elif isinstance(thinking, int) and reasoning is not None:
            reasoning = min(reasoning, thinking)
        return EffortLevel(level.mistakes, level.output, reasoning)


def _number(value: Any, where: str, *, integer: bool = False) -> float:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value < 0:
        raise EffortError(f"{where}: expected a {'whole ' if integer else ''}number >= 0")
    return value


def effort_model(data: Mapping[str, Any], where: str = "profile") -> EffortModel:
    """The effort section of a profile's data (none: an empty model); EffortError if bad."""
    section = data.get("effort")
    if section is None:
        return EffortModel({})
    if not isinstance(section, Mapping) or not isinstance(section.get("levels"), Mapping):
        raise EffortError(f"{where}: effort: expected a mapping with 'levels'")
    levels = {}
    for name, entry in section["levels"].items():
        at = f"{where}: effort.levels.{name}"
        if name not in EFFORTS:
            raise EffortError(f"{at}: not an effort level ({', '.join(EFFORTS)})")
        if not isinstance(entry, Mapping):
            raise EffortError(f"{at}: expected a mapping")
        unknown = sorted(set(entry) - {"mistakes", "output", "reasoning_tokens"})
        if unknown:
            raise EffortError(f"{at}: unknown key {unknown[0]!r}")
        levels[str(name)] = EffortLevel(
            float(_number(entry.get("mistakes", 1.0), f"{at}.mistakes")),
            float(_number(entry.get("output", 1.0), f"{at}.output")),
            int(_number(entry.get("reasoning_tokens", 0), f"{at}.reasoning_tokens", integer=True)),
        )
    default = section.get("default")
    if default is not None and default not in levels:
        raise EffortError(f"{where}: effort.default: {default!r} is not one of its levels")
    return EffortModel(levels, default)
