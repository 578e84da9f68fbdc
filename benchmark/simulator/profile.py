"""Simulator profiles: YAML files that say how the simulator behaves and where that came from.

A profile is `kind: hand-set` (the classic simulator's knobs under `settings:`) or
`kind: rates` (rates under `generation:` and `repair:`, usually written by `calibrate`, with
the counts and confidence intervals behind each, its `source:`, a `usage:` section for
planning and its rule `coverage:`). Shipped profiles live in conf/model/simulator/ and are
named by `simulated/<name>`; `model.simulator.profile=PATH` takes any file, e.g. one written
beside a run.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from benchmark.simulator.agent import AgentError, AgentPolicy, agent_policy
from benchmark.simulator.behaviour import (
    MIN_PROBLEMS_PER_LEVEL,
    Behaviour,
    Calibrated,
    FixModel,
    HandSet,
    Rates,
    SimulatorSettings,
)
from benchmark.simulator.cdk.behaviour import CdkRates, CdkRatesError, cdk_rates
from benchmark.simulator.editing import EditRates, EditRatesError, edit_rates
from benchmark.simulator.effort import EffortError, EffortModel, effort_model
from benchmark.simulator.transplant import SECTIONS, Entry

PROFILE_DIR = Path(__file__).resolve().parents[2] / "conf" / "model" / "simulator"
KINDS = ("hand-set", "rates")
# model.simulator keys that apply to every profile (the rest are hand-set settings)
# (price_as is billing only: benchmark/runner/prices.py reads it)
# (named_as_source: rates only, validate-profile's replay of its source; see Calibrated)
COMMON_OPTIONS = ("profile", "seed", "latency_s", "price_as", "named_as_source")


class ProfileError(ValueError):
    """A profile that cannot be used. The message is one line naming the file and key."""


def available_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


def resolve_profile(ref: str) -> Path:
    """A profile name in conf/model/simulator/, or a path to a profile file."""
    named = PROFILE_DIR / f"{ref}.yaml"
    if "/" not in ref and not ref.endswith((".yaml", ".yml")) and named.is_file():
        return named
    path = Path(ref)
    if path.is_file():
        return path
    raise ProfileError(
        f"simulator profile {ref!r} not found: not a file, and not one of "
        f"{', '.join(available_profiles())} (conf/model/simulator/)"
    )


@dataclass(frozen=True)
class Profile:
    name: str
    kind: str
    data: Mapping[str, Any]
    path: Path
    digest: str  # sha256 of the file: part of a simulated job's configuration fingerprint

    @property
    def label(self) -> str:
        return str(self.data.get("label", ""))

    @property
    def effort(self) -> EffortModel:
        """Its hand-set effort section (simulator/effort.py); none: effort has no effect."""
        return effort_model(self.data, str(self.path))

    @property
    def agent(self) -> AgentPolicy:
        """Its hand-set agent section (simulator/agent.py); none: the default policy."""
        return agent_policy(self.data, str(self.path))

    @property
    def edit(self) -> EditRates:
        """Its hand-set edit section (simulator/editing.py); none: the documented default."""
        return edit_rates(self.data, str(self.path))

    @property
    def cdk(self) -> CdkRates:
        """Its hand-set cdk section (simulator/cdk/behaviour.py); none: the documented default."""
        return cdk_rates(self.data, str(self.path))

    def behaviour(self, options: Mapping[str, Any]) -> tuple[Behaviour, SimulatorSettings]:
        """The behaviour this profile describes, with `model.simulator` options applied.

        Returns the behaviour and the hand-set settings object that carries seed and latency
        (for a rates profile only those two of its fields are used)."""
        extra = {k: v for k, v in options.items() if k not in COMMON_OPTIONS}
        common = {k: v for k, v in options.items() if k in ("seed", "latency_s")}
        if self.kind == "hand-set":
            fields = {**dict(self.data.get("settings") or {}), **extra, **common}
            settings = _settings(fields, self.path)
            return HandSet(settings), settings
        if extra:
            raise ProfileError(
                f"model.simulator.{sorted(extra)[0]}: a hand-set setting, but profile "
                f"{self.name!r} ({self.path}) is calibrated rates; only "
                f"{', '.join(COMMON_OPTIONS)} apply to it"
            )
        replay = bool(options.get("named_as_source", False))
        return Calibrated(rates_from(self.data, self.path), replay), _settings(common, self.path)


def _settings(fields: Mapping[str, Any], where: Path) -> SimulatorSettings:
    known = {f.name for f in dataclasses.fields(SimulatorSettings)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ProfileError(
            f"{where}: unknown simulator setting {unknown[0]!r} (known: {', '.join(sorted(known))})"
        )
    try:
        return SimulatorSettings(**fields)
    except (TypeError, ValueError) as exc:
        raise ProfileError(f"{where}: {exc}") from None


def load_profile(ref: str) -> Profile:
    path = resolve_profile(ref)
    raw = path.read_bytes()
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: a profile is a mapping")
    kind = data.get("kind")
    if kind not in KINDS:
        raise ProfileError(f"{path}: 'kind' must be one of {', '.join(KINDS)}, not {kind!r}")
    name = str(data.get("name") or path.stem)
    profile = Profile(name, kind, data, path, hashlib.sha256(raw).hexdigest())
    try:
        profile.effort  # noqa: B018 - checked now, in one line, not in the middle of a sweep
        profile.edit  # noqa: B018 - likewise
        profile.cdk  # noqa: B018 - likewise
    except (EffortError, EditRatesError, CdkRatesError) as exc:
        raise ProfileError(str(exc)) from None
    try:
        profile.agent  # noqa: B018 - checked now, like the effort section
    except AgentError as exc:
        raise ProfileError(str(exc)) from None
    if kind == "rates":
        rates_from(data, path)  # fail now, in one line, not in the middle of a sweep
    return profile


class _ProfileDumper(yaml.SafeDumper):
    """Short lists of numbers (intervals) on one line; everything else in block style."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = len(data) <= 4 and all(isinstance(v, (int, float, type(None))) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_ProfileDumper.add_representer(list, _represent_list)
HEADER = (
    "# A profile of the offline repair simulator (NOT an LLM), written by\n"
    "#   python -m studies calibrate\n"
    "# Use it with model.simulator.profile=<this file>; every row it writes is simulated.\n"
    "# Rates carry their counts (count of n) and 95 % intervals; see\n"
    "# studies/calibrate.py for what each one is.\n"
)


def write_profile(data: Mapping[str, Any], path: str | Path, header: str = HEADER) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.dump(
        dict(data), Dumper=_ProfileDumper, sort_keys=False, allow_unicode=True, width=100
    )
    path.write_text(header + text, encoding="utf-8")
    return path


# ---- reading rates -----------------------------------------------------------------------------


def _value(entry: Any, key: str, where: str) -> float:
    """A rate written as a number, or as a mapping with its counts and `key` (rate, mean)."""
    value = entry.get(key) if isinstance(entry, Mapping) else entry
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProfileError(f"{where}: expected a number (or a mapping with '{key}'), got {value!r}")
    return float(value)


def _known(entry: Any, key: str) -> bool:
    value = entry.get(key) if isinstance(entry, Mapping) else entry
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _probability(entry: Any, where: str) -> float:
    value = _value(entry, "rate", where)
    if not 0.0 <= value <= 1.0:
        raise ProfileError(f"{where}: a probability must be within [0, 1], got {value}")
    return value


def _observed(entry: Any, default: float, where: str) -> float:
    """A probability, or `default` where the source never saw the situation (n = 0)."""
    if entry is None or (isinstance(entry, Mapping) and entry.get("rate") is None):
        return default
    return _probability(entry, where)


def _section(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    section = data.get(key)
    if not isinstance(section, Mapping):
        raise ProfileError(f"{where}: missing section '{key}'")
    return section


def _fix_model(entry: Any, where: str) -> FixModel:
    model = entry.get("model", entry) if isinstance(entry, Mapping) else None
    if not isinstance(model, Mapping):
        raise ProfileError(f"{where}: expected a mapping with 'model: {{fix: ...}}'")
    fields = {}
    for name in ("fix", "persistent_share", "persistent_fix", "unmentioned"):
        if name in model:
            fields[name] = _probability(model[name], f"{where}.model.{name}")
    if "fix" not in fields:
        raise ProfileError(f"{where}.model: missing 'fix'")
    given = model.get("prior")
    prior = given.get("beta") if isinstance(given, Mapping) else None
    if prior is not None:
        if not (isinstance(prior, list) and len(prior) == 2 and all(_known(v, "") for v in prior)
                and min(prior) > 0):  # fmt: skip
            raise ProfileError(f"{where}.model.prior.beta: expected [a, b], both > 0")
        return FixModel(**fields, prior=(float(prior[0]), float(prior[1])))
    return FixModel(**fields)


def rates_from(data: Mapping[str, Any], path: Path | str = "profile") -> Rates:
    """The `Rates` of a `kind: rates` profile; ProfileError naming the key if one is bad."""
    where = str(path)
    gen = _section(data, "generation", where)
    rep = _section(data, "repair", where)
    g, r = f"{where}: generation", f"{where}: repair"
    clean = {"all": _probability(gen.get("clean"), f"{g}.clean")}
    findings = {"all": _value(gen.get("findings"), "mean", f"{g}.findings")}
    for level, entry in (gen.get("by_difficulty") or {}).items():
        if not isinstance(entry, Mapping):
            raise ProfileError(f"{g}.by_difficulty.{level}: expected a mapping")
        estimable = _known(entry.get("clean"), "rate") and _known(entry.get("findings"), "mean")
        if (
            estimable
            and int(entry.get("problems", MIN_PROBLEMS_PER_LEVEL)) >= MIN_PROBLEMS_PER_LEVEL
        ):
            clean[str(level)] = _probability(entry.get("clean"), f"{g}.by_difficulty.{level}")
            findings[str(level)] = _value(
                entry.get("findings"), "mean", f"{g}.by_difficulty.{level}.findings"
            )
    for key, mean in findings.items():
        if mean < 1.0:
            raise ProfileError(
                f"{g}.findings ({key}): the mean of a reply that is not clean is >= 1"
            )
    shares = {
        str(rule): _probability(entry, f"{g}.rules.{rule}")
        for rule, entry in (gen.get("rules") or {}).items()
    }
    if not shares or sum(shares.values()) <= 0:
        raise ProfileError(f"{g}.rules: no rule with a positive share")
    return Rates(
        generation_parse_failure=_observed(gen.get("parse_failure"), 0.0, f"{g}.parse_failure"),
        clean=clean,
        findings_mean=findings,
        rule_shares=shares,
        repair_parse_failure=_observed(rep.get("parse_failure"), 0.0, f"{r}.parse_failure"),
        parse_fixed=_observed(rep.get("parse_fixed"), 1.0, f"{r}.parse_fixed"),
        fix={
            str(rule): _fix_model(entry, f"{r}.fix.{rule}")
            for rule, entry in (rep.get("fix") or {}).items()
            if not (isinstance(entry, Mapping) and entry.get("model", {}) is None)
        },
        fix_default={
            str(level): _fix_model(entry, f"{r}.fix_default.{level}")
            for level, entry in (rep.get("fix_default") or {}).items()
        },
        introduce={
            str(rule): _probability(entry, f"{r}.introduce.{rule}")
            for rule, entry in (rep.get("introduce") or {}).items()
        },
        transplants=_transplants(data.get("coverage"), where),
    )


def _transplants(coverage: Any, where: str) -> dict[str, tuple[tuple[Entry, ...], ...]]:
    """`coverage.harvested`: rule -> [[{section, name, fragment}, ...]] (studies/harvest.py)."""
    harvested = coverage.get("harvested") if isinstance(coverage, Mapping) else None
    out: dict[str, tuple[tuple[Entry, ...], ...]] = {}
    for rule, fragments in (harvested or {}).items():
        found = []
        for entries in fragments if isinstance(fragments, list) else [None]:
            if not isinstance(entries, list) or not all(
                isinstance(e, Mapping) and e.get("section") in SECTIONS and e.get("name")
                for e in entries
            ):
                raise ProfileError(
                    f"{where}: coverage.harvested.{rule}: expected lists of {{section: one of "
                    f"{', '.join(SECTIONS)}, name: ..., fragment: ...}}"
                )
            found.append(
                tuple((str(e["section"]), str(e["name"]), e.get("fragment")) for e in entries)
            )
        out[str(rule)] = tuple(found)
    return out
