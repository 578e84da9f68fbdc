"""Typed settings: the composed Hydra config, validated once at start, before any model call.

Every section mirrors a config group in conf/ and a part of the code. An unknown key or a bad
value becomes one clear line (`ConfigError`), never a traceback halfway through a sweep.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Mapping
from datetime import date
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal

from omegaconf import OmegaConf
from pydantic import (
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

# the model section lives in its own module; its names stay importable from here
from benchmark.config_model import (  # noqa: F401 - re-exported
    PROVIDER_CONFIGS,
    BedrockConfig,
    ModelConfig,
    ProviderConfig,
    _Strict,
)
from benchmark.problems.dataset import DatasetError, Problem, load_dataset
from benchmark.secrecy import redact_url
from benchmark.simulator.profile import ProfileError, load_profile

# conf/hydra/launcher/*.yaml deliberately share the plugins' names, so Hydra validates them
# against the plugins' schemas; its note that this matching is deprecated is noise here. Set on
# import of this module, which launcher workers (joblib's loky processes) import too.
warnings.filterwarnings("ignore", message="(?s).*validated against ConfigStore schema")
# conf/config.yaml searches datasets/local/conf for importers' configs; Hydra warns on every
# run while no importer has written one: that absence is normal.
warnings.filterwarnings(
    "ignore", message=r"provider=hydra\.searchpath in main, path=.*/datasets/local/conf is not"
)

# `${first_set:${resume},runs/...}` in conf/config.yaml: the first argument that is not null.
OmegaConf.register_new_resolver(
    "first_set", lambda *values: next((v for v in values if v is not None), None), replace=True
)


# `${project_root:}` in conf/config.yaml: this checkout's root, so that `hydra.searchpath` finds
# the configs importers write under datasets/local/conf from any working directory.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
OmegaConf.register_new_resolver("project_root", lambda: str(PROJECT_ROOT), replace=True)

PINNED_CFN_LINT = version("cfn-lint")  # pyproject.toml pins it
# the agent protocol's task text for prompt sets that have none of their own
DEFAULT_AGENT_PROMPT = PROJECT_ROOT / "conf" / "prompts" / "agent.txt"
# an edit problem's first message, for prompt sets that have none of their own (the sets an
# importer writes); the shipped sets carry their own `edit`
DEFAULT_EDIT_PROMPT = PROJECT_ROOT / "conf" / "prompts" / "edit.txt"
DEFAULT_AGENT_EDIT_PROMPT = PROJECT_ROOT / "conf" / "prompts" / "agent_edit.txt"


class ConfigError(ValueError):
    """A configuration that cannot run. The message is one line and names the key."""


Language = Literal["cloudformation", "cdk-python"]  # the IaC language a model answers in


class DatasetConfig(_Strict):
    name: str
    path: str
    language: Language = "cloudformation"  # every problem's; a prompt set for it must match
    only: list[str] | None = None  # problem ids to keep
    limit: int | None = Field(default=None, ge=1)


class PromptSetConfig(_Strict):
    """A prompt set: the words sent to the model and how feedback is written."""

    name: str
    language: Language = "cloudformation"  # the datasets it is for (DatasetConfig.language)
    output_format: Literal["yaml", "json", "python"]  # python: a CDK app, cdk-python only
    system: str
    generation: str  # placeholders: {prompt} {format_name} {format_tag}
    repair: str  # stateless repair: {template} {feedback} {format_name} {format_tag}
    repair_followup: str  # conversation repair: {feedback} {template} {format_name} {format_tag}
    # the stateless repair call's system prompt; null: `system` (the paper's script used two)
    repair_system: str | None = None
    # how the extracted template is kept: `written` as the model wrote it; `json_dumps` as
    # Python's json.dumps(json.loads(text)) on one line, and the text `null` when it is not
    # JSON (the paper's script stored, linted and sent back its templates this way)
    template_as: Literal["written", "json_dumps"] = "written"
    # feedback design (benchmark/loop/feedback.py)
    feedback: Literal["raw", "structured", "explained", "excerpt", "errors-only", "intent"] = "raw"
    # sources whose failures are also fed back: failed checks ("intent", "security"),
    # deployment errors ("deploy") or an edit's collateral changes ("collateral"); none by default
    feed_back_checks: list[Literal["intent", "security", "deploy", "collateral"]] = Field(
        default_factory=list
    )
    # the agent protocol's task text: {prompt} {format_name} {format_tag}; null: the shared
    # default, conf/prompts/agent.txt
    agent: str | None = None
    # an edit problem's first call (the edit variant of `generation`): {prompt} (the change
    # request) {template} (the initial template) {format_name} {format_tag}; null: the shared
    # default, conf/prompts/edit.txt
    edit: str | None = None
    # the agent protocol's task text for an edit problem, placeholders as `edit`; null: the
    # shared default, conf/prompts/agent_edit.txt
    agent_edit: str | None = None

    @model_validator(mode="after")
    def _format_fits_language(self) -> PromptSetConfig:
        if (self.output_format == "python") != (self.language == "cdk-python"):
            raise ValueError(
                f"output_format {self.output_format} does not fit language {self.language} "
                "(a cdk-python prompt set answers python; a cloudformation one yaml or json)"
            )
        return self

    @property
    def agent_text(self) -> str:
        """The agent protocol's task text: this set's own, else the shared default."""
        return self.agent if self.agent is not None else _read(DEFAULT_AGENT_PROMPT)

    @property
    def edit_text(self) -> str:
        """An edit problem's first message: this set's own, else the shared default."""
        return self.edit if self.edit is not None else _read(DEFAULT_EDIT_PROMPT)

    @property
    def agent_edit_text(self) -> str:
        """The agent protocol's task text for an edit problem: this set's own, else the
        shared default."""
        return self.agent_edit if self.agent_edit is not None else _read(DEFAULT_AGENT_EDIT_PROMPT)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip("\n")


class LoopConfig(_Strict):
    # fixed loops: 1 generation + (n-1) repairs; agent: the most validate_template calls
    max_iterations: int = Field(default=10, ge=1)
    samples: int = Field(default=5, ge=1)
    protocol: Literal["stateless", "conversation", "agent"] = "stateless"
    max_turns: int = Field(default=20, ge=1)  # agent: the most model calls in one chain
    tool_result_max_chars: int = Field(default=8000, ge=100)  # agent: each tool result's cap
    clean_when: Literal["no_errors", "no_errors_or_warnings", "no_findings"] = (
        "no_errors_or_warnings"
    )
    concurrency: int = Field(default=8, ge=1)  # chains in flight at once within a job


class LintConfig(_Strict):
    """cfn-lint's settings. Its version and its clock are axes of the result: findings move
    between releases and, through date-dependent rules, between days."""

    # null: the pinned cfn-lint, linted in process; another 1.x release runs in a cached
    # environment of its own (benchmark/validators/cfn_lint/envs.py)
    cfn_lint_version: str | None = Field(default=None, pattern=r"^1\.\d+\.\d+$")
    as_of: date | None = None  # null: today; a date freezes the linter's clock to that day
    envs_dir: str = "runs/.cache/cfn-lint"  # where other releases' environments are built
    regions: list[str] = Field(default_factory=lambda: ["us-east-1"], min_length=1)
    ignore_checks: list[str] = Field(default_factory=list)
    include_checks: list[str] = Field(default_factory=list)
    workers: int = Field(default=2, ge=1)
    task_timeout_s: float = Field(default=60.0, gt=0)
    cache_size: int = Field(default=4096, ge=0)  # results kept in this process's memory
    # the persistent lint cache, shared by every process (validators/cfn_lint/result_cache.py)
    cache: Literal["on", "off"] = "on"
    cache_path: str = "runs/.cache/lint.sqlite"  # $IACBENCH_LINT_CACHE stands in for this default
    cache_max_entries: int = Field(default=100_000, ge=1)  # the least recently used go first

    @field_validator("cache", mode="before")
    @classmethod
    def _switch(cls, value: object) -> object:
        """`lint.cache=true|false` (or YAML 1.1's bare on/off, read as booleans) means on/off."""
        return {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else value

    @property
    def resolved_version(self) -> str:
        """The cfn-lint release that will lint: the configured one, else the pinned one."""
        return self.cfn_lint_version or PINNED_CFN_LINT

    @property
    def in_process(self) -> bool:
        return self.resolved_version == PINNED_CFN_LINT


class SecurityConfig(_Strict):
    """Checkov's CloudFormation checks (benchmark/validators/security_scan.py), optional."""

    enabled: bool = False
    workers: int = Field(default=1, ge=1)
    task_timeout_s: float = Field(default=60.0, gt=0)


class DeployConfig(_Strict):
    """Deployability through the CloudFormation API (validators/deploy/validator.py), opt-in.

    Credentials come only from boto3's standard chain (environment, `profile`, instance role);
    nothing here is a secret, and no credential is ever written to a run folder or a log.
    """

    enabled: bool = False
    # changeset: ValidateTemplate + a CREATE change set (no resources, free); stack: the stack
    # is really created, then deleted (real resources, real cost)
    mode: Literal["changeset", "stack"] = "changeset"
    # always explicit: AWS_REGION is never read
    region: str = Field(default="us-east-1", pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$")
    profile: str | None = None  # a named profile of the standard chain; null: boto3's default
    endpoint_url: str | None = Field(default=None, pattern=r"^https?://")  # a local emulator
    # false: reporting (like intent, security); true: a template is clean only if it deploys
    # too (IaCGen's loop), deploy findings count as errors and are always fed back
    gating: bool = False
    timeout_s: float = Field(default=900.0, gt=0)  # a change set / stack to finish creating
    delete_timeout_s: float = Field(default=900.0, gt=0)  # a deletion to finish
    poll_s: float = Field(default=5.0, gt=0)  # between status polls
    max_concurrent: int = Field(default=4, ge=1)  # deployments in flight at once in a job
    max_stacks: int | None = Field(default=None, ge=1)  # per sweep; required in stack mode
    max_retries: int = Field(default=8, ge=0)  # botocore's standard retries (throttling)
    request_timeout_s: float = Field(default=60.0, gt=0)  # connect and read, per API call
    parameters_dir: str = "parameters"  # <dataset.path>/<this>/<problem id>.yaml, optional

    @model_validator(mode="after")
    def _stack_mode_is_capped(self) -> DeployConfig:
        if self.enabled and self.mode == "stack" and self.max_stacks is None:
            raise ValueError(
                "stack mode creates real AWS resources: set deploy.max_stacks, the most stacks "
                "this sweep may create"
            )
        return self


class CdkConfig(_Strict):
    """Synthesis of model-written CDK apps (benchmark/validators/cdk/), for a cdk-python
    dataset only: each app runs in a sandbox with these walls."""

    # auto: bubblewrap where it works, else `unshare -rn` (network and environment cut, files
    # not walled); bwrap / unshare: that one or a one-line error at start
    sandbox: Literal["auto", "bwrap", "unshare"] = "auto"
    workers: int | None = Field(default=None, ge=1)  # warm synth workers; null: one per core
    memory_mb: int = Field(default=1536, ge=256)  # memory cap per synth (cgroup)
    cpu_s: int = Field(default=60, ge=1)  # CPU seconds per synth
    wall_s: float = Field(default=120.0, gt=0)  # wall-clock seconds per synth
    file_size_mb: int = Field(default=50, ge=1)  # largest file a synth may write
    processes: int = Field(default=64, ge=1)  # processes a synth may run at once
    jsii_cache: str = "runs/.cache/jsii"  # jsii's package cache (relative: to the project root)

    @property
    def resolved_workers(self) -> int:
        return self.workers or os.cpu_count() or 1


class CacheConfig(_Strict):
    """The on-disk response cache (benchmark/models/cache.py); never used for the simulator."""

    enabled: bool = True
    path: str = "runs/.cache/responses.sqlite"


class BudgetConfig(_Strict):
    """Spend limits for a whole sweep (benchmark/runner/budget.py); null means no limit.

    A sweep whose planned maximum cost (benchmark/runner/plan/) exceeds `max_usd` is refused at
    start unless `allow_partial`: then it runs until the ledger reaches `max_usd`."""

    max_usd: float | None = Field(default=None, gt=0)
    max_tokens: int | None = Field(default=None, gt=0)
    allow_partial: bool = False


class PlanningConfig(_Strict):
    """How the plan estimates calls, tokens and cost before any call (benchmark/runner/plan/)."""

    # the simulator profile that stands in for a real model: a name in conf/model/simulator/
    # or a path (a profile calibrated on a run of that model is the best stand-in); a
    # simulated model is planned with its own profile
    profile: str = "default"
    draws: int = Field(default=400, ge=1)  # simulated chains per problem behind the expectation
    # expected tokens = characters / chars_per_token (neither SDK counts tokens offline);
    # the maximum counts generously, at prompt_cache.CHARS_PER_TOKEN
    chars_per_token: float = Field(default=4.0, gt=0)
    seed: int = 0


class Settings(_Strict):
    model: ModelConfig
    dataset: DatasetConfig
    prompts: PromptSetConfig
    loop: LoopConfig
    lint: LintConfig
    security: SecurityConfig = SecurityConfig()
    deploy: DeployConfig = DeployConfig()
    cdk: CdkConfig = CdkConfig()
    cache: CacheConfig = CacheConfig()
    budget: BudgetConfig = BudgetConfig()
    planning: PlanningConfig = PlanningConfig()
    plan: bool = False  # print the plan, write plan.json and exit before any call
    seed: int = 0
    progress: bool = True
    resume: str | None = None  # a run folder to continue (also: rerun into the same folder)

    def result_fingerprint(
        self, recorded_problems: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """The settings that can change a result; transport, cache and budget cannot.
        `recorded_problems` (id -> digest, from rows) replaces today's digest of those problems:
        the fingerprint of the settings as they were when the rows were made."""
        data = self.model_dump(
            exclude={"progress", "resume", "cache", "budget", "planning", "plan"}
        )
        data["model"].pop("providers")
        data["model"].pop("prices")  # which prices bill a call, not its answer
        _reasoning_keys(data["model"], self.model)
        for billing_only in (
            "prompt_cache",
            "prompt_cache_ttl",
            "prompt_cache_min_tokens",
            "batch",
            "batch_poll_s",
            "batch_max_requests",
        ):
            data["model"].pop(billing_only)  # how a call is made and billed, not its answer
        data["model"]["endpoint"] = self.model.provider_config().endpoint
        data["model"]["simulator"].pop("price_as", None)  # billing only, like prices
        for transport_only in (
            "workers",
            "task_timeout_s",
            "cache_size",
            "envs_dir",
            "cache",
            "cache_path",
            "cache_max_entries",
        ):
            data["lint"].pop(transport_only)
        data["lint"]["cfn_lint_version"] = self.lint.resolved_version
        data["loop"].pop("concurrency")
        if self.loop.protocol == "agent":  # the text the agent is given, resolved
            data["prompts"]["agent"] = self.prompts.agent_text
        else:  # absent for the fixed loops, so runs from before the agent keep their hash
            data["prompts"].pop("agent")
            data["loop"].pop("max_turns")
            data["loop"].pop("tool_result_max_chars")
        data["dataset"]["problems_sha256"] = _problems_digest(self.dataset, recorded_problems)
        _language_keys(data, self)
        data["prompts"].pop("edit")
        data["prompts"].pop("agent_edit")
        if any(p.is_edit for p in _problems(self.dataset)):  # absent otherwise: old hashes hold
            agent = self.loop.protocol == "agent"
            data["prompts"]["edit"] = (
                self.prompts.agent_edit_text if agent else self.prompts.edit_text
            )
        data["security"] = {"enabled": self.security.enabled}
        data.pop("deploy")
        if self.deploy.enabled:  # absent when off, so runs from before deploy keep their hash
            data["deploy"] = self.deploy.model_dump(
                include={"enabled", "mode", "region", "endpoint_url", "gating", "parameters_dir"}
            )
            data["deploy"]["endpoint_url"] = redact_url(self.deploy.endpoint_url)
        if self.model.provider == "simulated":  # a profile file's content shapes every reply
            data["model"]["simulator_profile_sha256"] = _profile_digest(self.model)
        return data


def _language_keys(data: dict[str, Any], settings: Settings) -> None:
    """The language axis, absent for CloudFormation so older runs keep their hash; for CDK the
    sandbox's limits (a limit can turn an app into a finding), not how many workers run it."""
    cdk = data.pop("cdk")
    if settings.dataset.language == "cloudformation":
        data["dataset"].pop("language")
    else:
        limits = ("memory_mb", "cpu_s", "wall_s", "file_size_mb", "processes")
        data["cdk"] = {k: cdk[k] for k in limits}
    if settings.prompts.language == "cloudformation":
        data["prompts"].pop("language")


def _reasoning_keys(data: dict[str, Any], model: ModelConfig) -> None:
    """The reasoning keys as they shape the answer, each dropped at the value that behaves as
    before they existed (so older runs keep their hash): effort/thinking/display when null,
    `api` unless it resolves to other than chat, and `max_tokens` as the number sent where an
    override for this effort applies."""
    for key in ("effort", "thinking", "thinking_display"):
        if data[key] is None:
            data.pop(key)
    data.pop("max_tokens_by_effort")
    if model.effort is not None and model.max_tokens_by_effort.get(model.effort) is not None:
        data["max_tokens"] = model.resolved_max_tokens()
    data.pop("api")
    api = model.resolved_api()
    if api not in (None, "chat"):
        data["api"] = api


def _problems(dataset: DatasetConfig) -> list[Problem]:
    """Exactly the problems a job runs (`only` and `limit` kept), or a ConfigError."""
    try:
        problems = load_dataset(dataset.path, dataset.only, dataset.limit)
    except DatasetError as exc:
        raise ConfigError(f"config error at 'dataset': {exc}") from None
    for problem in problems:
        if problem.language != dataset.language:
            raise ConfigError(
                f"config error at 'dataset.language': dataset {dataset.name} is "
                f"{dataset.language} but its problem {problem.id} is {problem.language}"
            )
    return problems


def _problems_digest(dataset: DatasetConfig, recorded: Mapping[str, str] | None = None) -> str:
    """One digest of the content of exactly the problems a job runs (`only` and `limit` kept);
    `recorded` (problem id -> digest) stands in for problems as rows recorded them."""
    problems = _problems(dataset)
    recorded = recorded or {}
    text = json.dumps({p.id: recorded.get(p.id, p.sha256) for p in problems}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _profile_digest(model: ModelConfig) -> str:

    try:
        return load_profile(str(model.simulator.get("profile") or model.name)).digest
    except ProfileError as exc:
        raise ConfigError(f"config error at 'model.simulator.profile': {exc}") from None


def _one_line(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(root)"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    why = first["msg"].removeprefix("Value error, ")  # pydantic's prefix for a ValueError
    return f"config error at '{where}': {why}{more}"


def load_settings(raw: dict[str, Any]) -> Settings:
    """Validate a resolved config dict (Hydra's keys excluded) into `Settings`."""
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None
    if not Path(settings.dataset.path).is_dir():
        folder = settings.dataset.path
        raise ConfigError(f"config error at 'dataset.path': folder {folder} not found")
    language, prompts = settings.dataset.language, settings.prompts
    if prompts.language != language:
        fix = "prompts=cdk" if language == "cdk-python" else "prompts=paper (or another)"
        raise ConfigError(
            f"config error at 'prompts': prompt set '{prompts.name}' is for {prompts.language} "
            f"but dataset '{settings.dataset.name}' is {language}: use {fix}"
        )
    if language == "cdk-python" and settings.loop.protocol == "agent":
        raise ConfigError(
            "config error at 'loop.protocol': the agent protocol validates templates, not CDK "
            "apps; use stateless or conversation with a cdk-python dataset"
        )
    fmt = settings.model.response_format
    if fmt is not None and settings.prompts.output_format != "json":
        raise ConfigError(
            f"config error at 'model.response_format': {fmt} makes the model answer JSON, but "
            f"prompt set '{settings.prompts.name}' asks for {settings.prompts.output_format}"
        )
    return settings


def resolve_api_key(settings: Settings) -> str | None:
    """The key for the configured provider from its environment variable, or a ConfigError."""
    if settings.model.provider == "simulated":
        return None
    transport = settings.model.provider_config()
    env = transport.api_key_env
    if env is None:
        return None
    key = os.environ.get(env)
    if not key and not transport.api_key_optional:
        raise ConfigError(
            f"missing API key: set the environment variable {env} for model {settings.model.id}"
        )
    return key or None
