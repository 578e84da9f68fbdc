"""A sweep's plan: every job's, their total, `plan.json`, the table, and the budget's verdict.

In a multirun each job is its own process and knows only its own plan, so the sweep's plan is
made once, before any job starts, by a Hydra callback (`SweepPlan`, conf/config.yaml): it
expands the sweep's overrides into its jobs exactly as the basic sweeper does, composes and
plans each, and writes `<sweep>/plan.json` (every job and the total). `plan=true` prints it and
stops there, writing plan.json only into a folder named with `hydra.sweep.dir=` (or `resume=`):
a plan alone leaves no dated run folder behind.
The budget (`budget.max_usd` caps the whole sweep, benchmark/runner/budget.py) is compared with the
total's maximum cost. Each job also plans itself at start (`<job>/plan.json`, or the run
folder's `plan.json` for a single run) and is refused when its own maximum exceeds the budget:
for a single run that is the whole check; under another sweeper (whose jobs are not known in
advance) each job is checked alone, which can pass a sweep whose jobs together exceed it.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hydra import compose
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from benchmark.config import BudgetConfig, ConfigError, Settings, load_settings
from benchmark.loop.prompts import check_prompt_set
from benchmark.problems.dataset import DatasetError
from benchmark.runner.plan.agent import plan_agent_job
from benchmark.runner.plan.findings import load_examples
from benchmark.runner.plan.job import JobPlan, plan_job
from benchmark.runner.prices import unpriced_budget_refusal
from benchmark.secrecy import scrub
from benchmark.simulator.profile import ProfileError

PLAN_FILE = "plan.json"
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


@dataclass
class SweepPlan:
    jobs: list[JobPlan]
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    chars_per_token: float = 4.0
    draws: int = 400
    failed: dict[int, str] = field(default_factory=dict)  # job -> why it could not be planned

    def total(self) -> dict[str, Any]:
        """Sums over the jobs; a cost is null where any job's is (a model without a price)."""

        def add(values: Sequence[float | None]) -> float | None:
            return None if any(v is None for v in values) else sum(values)  # type: ignore[misc]

        def both(get: Any) -> dict[str, float | None]:
            return {
                "expected": add([get(j).expected for j in self.jobs]),
                "maximum": add([get(j).maximum for j in self.jobs]),
            }

        cost: dict[str, Any] = {"billed": both(lambda j: j.cost)}
        for basis in ("online", "batch"):
            if all(basis in j.cost_usd for j in self.jobs):
                cost[basis] = both(lambda j, b=basis: j.cost_usd[b])
        return {
            "jobs": len(self.jobs),
            "chains": sum(j.chains for j in self.jobs),
            "reasoning_tokens_assumed": add([j.reasoning_tokens for j in self.jobs]),
            "calls": both(lambda j: j.calls),
            "input_tokens": both(lambda j: j.input_tokens),
            "output_tokens": both(lambda j: j.output_tokens),
            "cost_usd": cost,
        }

    @property
    def max_cost(self) -> float | None:
        return self.total()["cost_usd"]["billed"]["maximum"]

    def refusal(self) -> str | None:
        """The one line that refuses this sweep, or None: a dollar budget that cannot count
        an unpriced model's spend, or a planned maximum above it."""
        unpriced = [j.model for j in self.jobs if not j.priced]
        return unpriced_budget_refusal(self.budget, unpriced) or budget_refusal(
            self.max_cost, self.budget, complete=not self.failed
        )

    def as_dict(self) -> dict[str, Any]:
        measured, _ = load_examples()
        return {
            "version": 1,
            "planned_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "method": {
                "profiles": sorted({j.profile_path for j in self.jobs}),
                "draws_per_problem": self.draws,
                "token_count": (
                    f"characters / {self.chars_per_token:g} (planning.chars_per_token); "
                    "maximum at 3 characters a token; no offline tokenizer in the SDKs"
                ),
                "feedback_examples": measured,
                "prices": "benchmark/models/prices.yaml (model.prices: a user's table over it)",
                "reasoning_tokens": (
                    "ASSUMED, not measured: per call, the profile's hand-set effort section at "
                    "model.effort / model.thinking (benchmark/simulator/effort.py); in output "
                    "tokens and cost"
                ),
                "not_counted": "retried failed requests (not billed), response-cache hits",
            },
            "jobs": [j.as_dict() for j in self.jobs],
            "failed": {str(k): v for k, v in self.failed.items()},
            "total": self.total(),
            "budget": {
                "max_usd": self.budget.max_usd,
                "allow_partial": self.budget.allow_partial,
                "refused": self.refusal(),
            },
        }

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / PLAN_FILE
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(scrub(self.as_dict()), indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
        return path


def budget_refusal(
    max_cost: float | None, budget: BudgetConfig, complete: bool = True
) -> str | None:
    """One line when the planned maximum cost exceeds `budget.max_usd` (and partial runs are
    not allowed); None otherwise, also when the maximum is unknown (a model without a price,
    which `SweepPlan.refusal` refuses on its own under a dollar budget)."""
    if budget.max_usd is None or budget.allow_partial or max_cost is None:
        return None
    if max_cost <= budget.max_usd:
        return None
    what = "this sweep" if complete else "the jobs that could be planned"
    return (
        f"budget: the planned maximum cost of {what} is ${max_cost:,.2f}, above "
        f"budget.max_usd=${budget.max_usd:g}; pass budget.allow_partial=true to run it anyway "
        "and stop new attempts once the budget is spent"
    )


def plan_settings(settings: Settings, job_id: int = 0, overrides: Sequence[str] = ()) -> JobPlan:
    """`plan_job` (`plan_agent_job` for the agent protocol), with a bad profile or dataset as
    a ConfigError (one line)."""

    planner = plan_agent_job if settings.loop.protocol == "agent" else plan_job
    try:
        return planner(settings, job_id, overrides)
    except ProfileError as exc:
        key = "model.simulator" if settings.model.provider == "simulated" else "planning.profile"
        raise ConfigError(f"config error at '{key}': {exc}") from None
    except ValueError as exc:  # no problem to plan
        raise ConfigError(f"plan: {exc}") from None


def single(settings: Settings, plan: JobPlan) -> SweepPlan:
    p = settings.planning
    return SweepPlan([plan], settings.budget, p.chars_per_token, p.draws)


# ---- the table -------------------------------------------------------------------------------


def _n(v: float | None) -> str:
    return "?" if v is None else f"{v:,.0f}"


def _assumed(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def _usd(v: float | None) -> str:
    return "n/a" if v is None else f"${v:,.2f}"


def _pair(b: Any, fmt: Any) -> str:
    return f"{fmt(b.expected)} / {fmt(b.maximum)}"


def format_plan(plan: SweepPlan) -> str:
    """The plan as a text table: a row per job, then the total (expected / maximum)."""
    head = [
        "job",
        "model",
        "effort",
        "prompts",
        "protocol",
        "n",
        "chains",
        "calls",
        "input tokens",
        "output tokens",
        "reasoning (assumed)",
        "cost online",
        "cost batch",
        "billed",
    ]
    rows = []
    for j in plan.jobs:
        batch = j.cost_usd.get("batch")
        rows.append(
            [
                str(j.job_id),
                j.model,
                _effort(j),
                j.prompt_set,
                j.protocol,
                str(j.max_iterations),
                str(j.chains),
                _pair(j.calls, _n),
                _pair(j.input_tokens, _n),
                _pair(j.output_tokens, _n),
                _assumed(j.reasoning_tokens),
                _pair(j.cost_usd["online"], _usd),
                _pair(batch, _usd) if batch else "-",
                j.billed,
            ]
        )
    t = plan.total()
    cost = t["cost_usd"]

    def pair(d: dict[str, Any] | None, fmt: Any) -> str:
        return "-" if d is None else f"{fmt(d['expected'])} / {fmt(d['maximum'])}"

    rows.append(
        [
            "total",
            f"{t['jobs']} jobs",
            "",
            "",
            "",
            "",
            str(t["chains"]),
            pair(t["calls"], _n),
            pair(t["input_tokens"], _n),
            pair(t["output_tokens"], _n),
            _assumed(t["reasoning_tokens_assumed"]),
            pair(cost.get("online"), _usd),
            pair(cost.get("batch"), _usd),
            pair(cost["billed"], _usd),
        ]
    )
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [head, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(len(lines) - 1, lines[1])
    profiles = sorted({f"{j.profile} ({_short(j.profile_path)})" for j in plan.jobs})
    notes = sorted({n for j in plan.jobs for n in j.notes})
    footer = [
        "expected / maximum. Expected: chains drawn from simulator profile "
        + ", ".join(profiles)
        + f"; tokens = characters / {plan.chars_per_token:g} (no offline tokenizer in the "
        "SDKs). Maximum: every chain makes loop.max_iterations calls (1 generation + n-1 "
        "repairs; an agent chain: loop.max_turns turns), every reply max_tokens long, every "
        "input token at its highest rate. "
        "Retried failed requests (not billed) and response-cache hits are not counted. "
        "Billed: batch prices where model.batch=true. Reasoning (assumed): expected reasoning "
        "tokens from the profile's hand-set effort section, an assumption, not measured; part "
        "of the output tokens and the cost ('-': not modelled: no model.effort or model.thinking "
        "set, or a profile without an effort section).",
        *(f"note: {n}" for n in notes),
        *(f"job {k}: not planned: {why}" for k, why in plan.failed.items()),
    ]
    wrapped = [textwrap.fill(line, 100, subsequent_indent="  ") for line in footer]
    return "\n".join([*lines, "", *wrapped])


def _effort(j: JobPlan) -> str:
    """The job's effort, with its thinking where set ("-": the provider's defaults)."""
    parts = [j.effort or ""] + ([f"thinking={j.thinking}"] if j.thinking is not None else [])
    return " ".join(p for p in parts if p) or "-"


def _short(path: str) -> str:
    """A path relative to the working directory where it is inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return path


# ---- the sweep, before any job starts ----------------------------------------------------------


def sweep_job_overrides(config: DictConfig) -> list[list[str]] | None:
    """Each job's overrides, in job order, as the basic sweeper makes them (None under
    another sweeper: its jobs are not known in advance)."""

    sweeper = config.hydra.get("sweeper", {})
    if sweeper.get("_target_", BASIC_SWEEPER) != BASIC_SWEEPER:
        return None
    params = [f"{k}={v}" for k, v in (sweeper.get("params") or {}).items()]
    arguments = [*params, *OmegaConf.to_container(config.hydra.overrides.task, resolve=False)]  # type: ignore[misc]
    parsed = OverridesParser.create().parse_overrides(arguments)
    return BasicSweeper.split_arguments(parsed, None)[0]


def plan_overrides(config_name: str, jobs: Sequence[Sequence[str]]) -> SweepPlan:
    """Compose and plan every job (inside a running Hydra app)."""

    plans, failed = [], {}
    settings = None
    for job_id, overrides in enumerate(jobs):
        try:
            cfg = compose(config_name=config_name, overrides=list(overrides))
            settings = load_settings(OmegaConf.to_container(cfg, resolve=True))  # type: ignore[arg-type]
            check_prompt_set(settings.prompts)
            plans.append(plan_settings(settings, job_id, overrides))
        except (ConfigError, DatasetError, HydraException, OmegaConfBaseException) as exc:
            # the job itself fails with this line when it starts; the others go on
            failed[job_id] = str(exc).strip().splitlines()[0]
    if settings is None:
        return SweepPlan([], failed=failed)
    p = settings.planning
    return SweepPlan(plans, settings.budget, p.chars_per_token, p.draws, failed)


def sweep_dir_named(config: DictConfig) -> bool:
    """Whether the sweep's folder was named on the command line (`hydra.sweep.dir=...` or
    `resume=...`) rather than left to the dated default."""
    named = (o.lstrip("+").split("=", 1)[0] for o in config.hydra.overrides.hydra)
    return config.get("resume") is not None or "hydra.sweep.dir" in named


class PlanSweep(Callback):
    """Before a multirun's jobs start: the sweep's plan (`<sweep>/plan.json`, the table), then
    stop if `plan=true`, or refuse the sweep in one line if its maximum cost exceeds the
    budget (exit code 2)."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        jobs = sweep_job_overrides(config)
        if jobs is None:
            print("plan: not a basic-sweeper multirun: each job plans itself", file=sys.stderr)
            return
        plan = plan_overrides(str(kwargs.get("config_name") or "config"), jobs)
        if bool(config.get("plan", False)):
            print(format_plan(plan))
            if sweep_dir_named(config):
                where = str(plan.write(Path(config.hydra.sweep.dir)))
            else:  # a plan alone leaves no run folder behind unless one was named
                where = "not written (hydra.sweep.dir=<folder> keeps plan.json there)"
            print(f"plan: {where}; plan=true: no job started, no call made", flush=True)
            sys.exit(0)
        path = plan.write(Path(config.hydra.sweep.dir))
        refused = plan.refusal()
        if refused:
            print(f"error: {refused}", file=sys.stderr, flush=True)
            sys.exit(2)
        cost = plan.total()["cost_usd"]["billed"]
        print(
            f"plan: {len(plan.jobs)} jobs, expected cost {_usd(cost['expected'])} "
            f"(at most {_usd(cost['maximum'])}) -> {path}",
            file=sys.stderr,
            flush=True,
        )
