"""Simulator profiles: the shipped ones load, names and paths resolve, bad ones are one line,
and a calibrated profile's rates drive the draws."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmark.config import ConfigError
from benchmark.models.base import CallContext, ChatMessage, GenerateConfig
from benchmark.problems.dataset import load_dataset
from benchmark.records.origin import config_hash
from benchmark.runner.factory import create_model
from benchmark.simulator import SimulatedModel, SimulatorSettings
from benchmark.simulator.behaviour import Calibrated, Chain, HandSet
from benchmark.simulator.profile import (
    ProfileError,
    available_profiles,
    load_profile,
    rates_from,
)
from studies.synthesize import compose_settings

ROOT = Path(__file__).resolve().parents[1]
SMOKE = {p.id: p for p in load_dataset(ROOT / "datasets" / "smoke")}
PAPER = {p.id: p for p in load_dataset(ROOT / "datasets" / "paper33")}
FENCE = re.compile(r"```(?:yaml|json)\n(.*?)```", re.DOTALL)
CONFIG = GenerateConfig(1.0, 4096)


def settings(*overrides: str):
    return compose_settings([f"dataset.path={ROOT / 'datasets' / 'smoke'}", *overrides])


def rates_profile(tmp_path: Path, **changes: Any) -> Path:
    """A one-rule rates profile: every finding is E3002, with the rates given."""
    data: dict[str, Any] = {
        "name": "one-rule",
        "kind": "rates",
        "generation": {
            "parse_failure": 0.0,
            "clean": 0.0,
            "findings": {"mean": 1.0},
            "rules": {"E3002": 1.0},
        },
        "repair": {
            "parse_failure": 0.0,
            "parse_fixed": 1.0,
            "fix": {"E3002": {"model": {"fix": 1.0}}},
            "introduce": {},
        },
    }
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split("__")
        for key in parents:
            node = node[key]
        node[last] = value
    path = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def reply(sim: SimulatedModel, pid: str, sample: int, it: int, prev: str | None, fb: str | None):
    context = CallContext(pid, sample, it, "yaml", prev, fb)
    out = asyncio.run(sim.generate([ChatMessage("user", "x")], CONFIG, context))
    return FENCE.search(out.text).group(1)  # type: ignore[union-attr]


def test_every_shipped_profile_loads_and_says_what_it_is() -> None:
    assert {"default", "synthetic-truth", "synthetic-example"} <= set(available_profiles())
    for name in available_profiles():
        profile = load_profile(name)
        assert profile.kind in ("hand-set", "rates") and profile.label, name
        if profile.kind == "rates":
            rates_from(profile.data, profile.path)
    example = load_profile("synthetic-example").data
    assert example["source"]["simulated"] is True and example["source"]["origin"] == "simulated"
    assert "simulated" in example["label"]


def test_the_default_profile_is_the_hand_set_default() -> None:
    profile = load_profile("default")
    behaviour, carried = profile.behaviour({"seed": 3})
    assert isinstance(behaviour, HandSet)
    assert behaviour.settings == dataclasses.replace(SimulatorSettings(), seed=3)
    assert carried.seed == 3
    # simulated/default through the factory answers exactly as the hand-set model does
    model = create_model(settings("model.id=simulated/default"), SMOKE, None)
    plain = SimulatedModel("default", problems=SMOKE, settings=SimulatorSettings())
    for pid in SMOKE:
        for sample in range(4):
            first = reply(model, pid, sample, 1, None, None)  # type: ignore[arg-type]
            assert first == reply(plain, pid, sample, 1, None, None)
            fb = "E3002 E3003 E3012 E1020"
            assert reply(model, pid, sample, 2, first, fb) == reply(
                plain, pid, sample, 2, first, fb
            )  # type: ignore[arg-type]


def test_hand_set_settings_can_be_overridden_but_not_on_a_rates_profile() -> None:
    model = create_model(
        settings("model.id=simulated/default", "+model.simulator.fix_probability=0.25"), SMOKE, None
    )
    assert model.settings.fix_probability == 0.25  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=r"model\.simulator\.fix_probability.*calibrated"):
        create_model(
            settings("model.id=simulated/synthetic-truth", "+model.simulator.fix_probability=0.2"),
            SMOKE,
            None,
        )


def test_names_and_paths_resolve_and_unknown_ones_are_one_line(tmp_path: Path) -> None:
    named = create_model(settings("model.id=simulated/synthetic-truth"), SMOKE, None)
    assert named.id == "simulated/synthetic-truth"
    assert isinstance(named.behaviour, Calibrated)  # type: ignore[attr-defined]
    path = rates_profile(tmp_path)
    by_path = create_model(
        settings("model.id=simulated/default", f"model.simulator.profile={path}"), SMOKE, None
    )
    assert by_path.id == "simulated/one-rule"  # rows name the profile that made them
    with pytest.raises(ConfigError) as info:
        settings("model.id=simulated/nope").result_fingerprint()
    assert "\n" not in str(info.value) and "default" in str(info.value)


def test_a_profiles_content_is_part_of_the_configuration_hash(tmp_path: Path) -> None:
    path = rates_profile(tmp_path)
    before = config_hash(
        settings("model.id=simulated/x", f"model.simulator.profile={path}").result_fingerprint()
    )
    path.write_text(path.read_text().replace("fix: 1.0", "fix: 0.5"), encoding="utf-8")
    after = config_hash(
        settings("model.id=simulated/x", f"model.simulator.profile={path}").result_fingerprint()
    )
    assert before != after


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "magic"}, "'kind' must be one of"),
        ({"generation__clean": 1.5}, r"generation\.clean: a probability"),
        ({"generation__findings": {"mean": 0.5}}, r"generation\.findings.*>= 1"),
        ({"generation__rules": {}}, r"generation\.rules"),
        ({"repair__fix": {"E3002": {"model": {"persistent_share": 0.1}}}}, r"fix\.E3002.*'fix'"),
        ({"repair__introduce": {"E3002": "often"}}, r"introduce\.E3002: expected a number"),
    ],
)
def test_a_bad_profile_is_one_line_naming_file_and_key(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    path = rates_profile(tmp_path, **change)
    with pytest.raises(ProfileError, match=message) as info:
        load_profile(str(path))
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def model_of(path: Path, problems=PAPER) -> SimulatedModel:
    return SimulatedModel("t", problems=problems, profile=load_profile(str(path)))


def _ids(sim: SimulatedModel, samples: int = 6) -> list[str]:
    return [pid for pid in sorted(sim._problems) for _ in range(samples)]


def first_drafts(sim: SimulatedModel, samples: int = 6) -> list[tuple]:
    out = []
    for pid in sorted(sim._problems):
        problem = sim.problem(pid)
        for sample in range(samples):
            out.append(sim.behaviour.first_draw(problem, Chain(0, pid, sample, 1)))
    return out


def test_generation_rates_drive_the_first_draw(tmp_path: Path) -> None:
    clean = first_drafts(model_of(rates_profile(tmp_path, generation__clean=1.0)))
    assert all(state == () for state in clean)
    sim = model_of(rates_profile(tmp_path))
    for state, pid in zip(first_drafts(sim), _ids(sim), strict=True):
        # one finding of the only rule, wherever the problem has a site for it
        has_site = bool(sim.problem(pid).sites_by_rule.get("E3002"))
        assert [m.rule_id for m in state] == (["E3002"] if has_site else [])
    broken = first_drafts(model_of(rates_profile(tmp_path, generation__parse_failure=1.0)))
    assert all(any(m.rule_id == "E0000" for m in state) for state in broken)
    sim = model_of(rates_profile(tmp_path, generation__findings={"mean": 4.0}))
    roomy = {
        pid for pid in sim._problems if len(sim.problem(pid).sites_by_rule.get("E3002", [])) >= 30
    }
    many = [s for s, pid in zip(first_drafts(sim), _ids(sim), strict=True) if pid in roomy]
    mean = sum(len(s) for s in many) / len(many)
    assert len(roomy) >= 10 and 3.5 < mean < 4.5  # 1 + Poisson(3), where 4 mistakes fit


def test_a_rule_without_a_site_is_stood_in_for_by_one_of_its_level(tmp_path: Path) -> None:
    path = rates_profile(
        tmp_path, generation__rules={"W3037": 0.9, "W2001": 0.1}
    )  # W3037 (an IAM action's case): no mutation raises it
    drafts = first_drafts(model_of(path))
    assert drafts and all(state[0].rule_id == "W2001" for state in drafts if state)


def test_repair_rates_drive_the_repair(tmp_path: Path) -> None:
    def repaired(path: Path, feedback: str) -> list[tuple[tuple, tuple]]:
        sim = model_of(path)
        out = []
        for pid in sorted(sim._problems)[:14]:
            problem = sim.problem(pid)
            if not {"E3002", "W2001"} <= set(problem.sites_by_rule):
                continue
            for sample in range(4):
                first = sim.behaviour.first_draw(problem, Chain(0, pid, sample, 1))
                second = sim.behaviour.repair(problem, first, feedback, Chain(0, pid, sample, 2))
                out.append((first, second))
        return out

    assert all(after == () for _, after in repaired(rates_profile(tmp_path), "E3002 x"))
    # the feedback must name the rule (unmentioned findings stay, by default)
    assert all(after == before for before, after in repaired(rates_profile(tmp_path), "W1 y"))
    stuck = rates_profile(
        tmp_path,
        repair__fix={"E3002": {"model": {"fix": 1.0, "persistent_share": 1.0}}},
    )
    assert all(after == before for before, after in repaired(stuck, "E3002"))
    adds = rates_profile(tmp_path, repair__introduce={"W2001": 1.0})
    for _, after in repaired(adds, "E3002"):
        assert [m.rule_id for m in after] == ["W2001"]
    breaks = rates_profile(tmp_path, repair__parse_failure=1.0, repair__parse_fixed=0.0)
    for _, after in repaired(breaks, "E3002"):
        assert [m.rule_id for m in after] == ["E0000"]


@pytest.mark.slow
@pytest.mark.parametrize("name", available_profiles())
def test_every_shipped_profile_runs_a_job(tmp_path: Path, name: str) -> None:
    from benchmark.records.tables import read_table
    from benchmark.runner.hydra_job import JobInfo, run_job

    job = settings(
        f"model.id=simulated/{name}",
        "loop.samples=2",
        "loop.max_iterations=3",
        "lint.workers=1",
        "progress=false",
    )
    summary = asyncio.run(run_job(job, JobInfo("profiles", 0, tmp_path), None))
    assert summary.status == "complete" and summary.chains == 2 * len(SMOKE)
    attempts = read_table(tmp_path, "attempts")
    assert attempts["model_error"].isna().all()
    assert attempts["simulated"].all() and set(attempts["model"]) == {f"simulated/{name}"}
