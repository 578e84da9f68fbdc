"""The simulator's effort and thinking: a hand-set assumption, read from the profile's section."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from benchmark.models.base import CallContext, ChatMessage, GenerateConfig, ModelError
from benchmark.problems.dataset import load_dataset
from benchmark.simulator import ProfileError, SimulatedModel, load_profile

ROOT = Path(__file__).resolve().parents[1]
SMOKE = {p.id: p for p in load_dataset(ROOT / "datasets" / "smoke")}
SAMPLES = 150  # first tries per problem and level: thousands of seeded draws in all


def model(profile: str = "default") -> SimulatedModel:
    return SimulatedModel.from_options(profile, SMOKE, {"seed": 7})


def first_tries(sim: SimulatedModel, effort: str | None, thinking: str | int | None = None):
    """Every smoke problem's first try, SAMPLES times, at this effort and thinking."""
    config = GenerateConfig(1.0, 4096, effort=effort, thinking=thinking)

    async def all_of() -> list:
        return await asyncio.gather(
            *(
                sim.generate(
                    [ChatMessage("user", "Write the template.")],
                    config,
                    CallContext(pid, sample, 1, "yaml"),
                )
                for pid in SMOKE
                for sample in range(SAMPLES)
            )
        )

    return asyncio.run(all_of())


def mistaken_share(outputs: list) -> float:
    return sum(bool(o.extra["simulator_rules"]) for o in outputs) / len(outputs)


def test_higher_effort_makes_fewer_first_try_mistakes_as_the_profile_assumes() -> None:
    sim = model()
    levels = sim.profile.effort.levels  # type: ignore[union-attr]
    base = 1 - 0.4  # default.yaml: clean_start_probability 0.4
    shares = {e: mistaken_share(first_tries(sim, e)) for e in ("none", "low", "high", "max")}
    n = len(SMOKE) * SAMPLES
    for effort, share in shares.items():
        expected = base * levels[effort].mistakes
        assert abs(share - expected) < 4 * (expected * (1 - expected) / n) ** 0.5, effort
    assert shares["none"] > shares["low"] > shares["high"] > shares["max"]


def test_reasoning_tokens_are_reported_and_counted_in_the_output() -> None:
    sim = model()
    classic = first_tries(sim, None)[0]
    high = first_tries(sim, "high")[0]
    assert classic.reasoning_tokens is None  # neither effort nor thinking: the old simulator
    assert high.reasoning_tokens == 3500  # default.yaml: high
    words = len(high.text.split())
    assert high.output_tokens == round(words * 1.15) + 3500
    assert classic.output_tokens == len(classic.text.split())
    assert first_tries(sim, "high", "off")[0].reasoning_tokens == 0
    assert first_tries(sim, "high", 1000)[0].reasoning_tokens == 1000  # a budget caps it
    assert first_tries(sim, None, "adaptive")[0].reasoning_tokens == 1500  # the default level
    assert first_tries(sim, "none")[0].reasoning_tokens == 0


def test_a_calibrated_profile_without_an_effort_section_ignores_effort() -> None:
    sim = model("synthetic-truth")
    assert "effort" not in sim.profile.data  # type: ignore[union-attr]
    plain, high = first_tries(sim, None), first_tries(sim, "max")
    assert [o.text for o in plain] == [o.text for o in high]
    assert [o.output_tokens for o in plain] == [o.output_tokens for o in high]
    assert high[0].reasoning_tokens is None
    assert first_tries(sim, "max", "off")[0].reasoning_tokens == 0


def test_an_effort_the_profile_lacks_is_a_fatal_one_line_error(tmp_path: Path) -> None:
    text = (ROOT / "conf/model/simulator/default.yaml").read_text()
    path = tmp_path / "two-levels.yaml"
    path.write_text(text.split("effort:\n  default")[0] + "effort:\n  levels:\n    low: {}\n")
    sim = SimulatedModel.from_options("x", SMOKE, {"profile": str(path)})
    with pytest.raises(ModelError) as caught:
        first_tries(sim, "max")
    assert caught.value.fatal and "'max'" in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("section", "says"),
    [
        ("effort: {levels: {huge: {}}}", "not an effort level"),
        ("effort: {levels: {low: {mistakes: -1}}}", "mistakes"),
        ("effort: {levels: {low: {speed: 2}}}", "unknown key 'speed'"),
        ("effort: {default: high, levels: {low: {}}}", "effort.default"),
        ("effort: [low]", "expected a mapping"),
    ],
)
def test_a_bad_effort_section_is_refused_when_the_profile_loads(
    tmp_path: Path, section: str, says: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"kind: hand-set\nsettings: {{}}\n{section}\n")
    with pytest.raises(ProfileError) as caught:
        load_profile(str(path))
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_the_effort_section_is_part_of_the_profile_digest(tmp_path: Path) -> None:
    text = (ROOT / "conf/model/simulator/default.yaml").read_text()
    path = tmp_path / "tuned.yaml"
    path.write_text(text.replace("reasoning_tokens: 3500", "reasoning_tokens: 3600"))
    assert load_profile(str(path)).digest != load_profile("default").digest
