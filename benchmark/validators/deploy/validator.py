"""The deploy validator: does CloudFormation accept the template? Opt-in (`deploy.enabled`).

`deploy.mode=changeset` (the default) calls ValidateTemplate, then creates a CREATE change set
for a throwaway stack name and waits for its status: this creates no resources and costs
nothing. `deploy.mode=stack` creates the stack for real, waits, and records the first failed
resources. Either way what was created is deleted right after the attempt, and again (by tag)
at job end and on SIGINT/SIGTERM; a job also deletes, at start, what a killed run of the same
job left. Every failure CloudFormation reports becomes a finding of source `deploy` whose rule
id names the stage (`cloudformation.STAGES`); `attempts.deployable` is True / False, or null
where nothing was judged (a timeout, an API error, the sweep's `max_stacks` reached), with the
reason in `lint_failure`.

It is a reporting validator unless `deploy.gating`: its findings count for nothing and are fed
back only when a prompt set lists `deploy` in `feed_back_checks`. The boto3 calls are blocking,
so each attempt's deployment runs in a thread of a pool of `deploy.max_concurrent`, sharing one
client (boto3 clients are thread-safe); the job's event loop never waits on them.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from botocore.exceptions import BotoCoreError

from benchmark.config import ConfigError, DeployConfig
from benchmark.problems.intent_language import parse_template
from benchmark.records.tables import attempt_id
from benchmark.secrecy import redact_url
from benchmark.validators.base import AttemptRef, Finding, ValidationResult
from benchmark.validators.deploy.cloudformation import (
    API_ERRORS,
    VALIDATE_RULE,
    Deployer,
    DeployOutcome,
    LiveStacks,
    NoCredentials,
    delete_tagged,
    describe_error,
    make_client,
    request_deletion,
    wait_deleted,
)
from benchmark.validators.deploy.ledger import StackLedger
from benchmark.validators.deploy.tags import SWEEP_TAG, attempt_tags, tag_value, tagged_stacks

SOURCE = "deploy"
STACK_PREFIX = "iacfb"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeployJob:
    """Whose attempts these are: what every stack is tagged with and where the ledger lives."""

    sweep_id: str
    job_id: int
    key_base: dict[str, Any]  # the attempt key without problem, sample, iteration
    ledger_dir: Path  # the sweep folder: the stack ledger is shared by its jobs
    dataset_dir: Path  # where the optional parameter files are


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def announcement(config: DeployConfig, sweep_id: str) -> str:
    """The one line a job prints at start: what this mode creates, and what it costs."""
    where = f"region {config.region}" + (
        f", endpoint {redact_url(config.endpoint_url)}" if config.endpoint_url else ""
    )
    cap = f"at most {config.max_stacks} this sweep" if config.max_stacks else "no sweep cap"
    if config.mode == "changeset":
        creates = (
            "each attempt creates one CREATE change set on a REVIEW_IN_PROGRESS stack "
            f"(no resources, no cost; {cap})"
        )
    else:
        creates = f"each attempt CREATES ITS STACK'S REAL AWS RESOURCES, WHICH COSTS MONEY ({cap})"
    return (
        f"deploy: {config.mode} mode, {where}: {creates}; deleted after every attempt; "
        f"tagged {SWEEP_TAG}={tag_value(sweep_id)}; leftovers: "
        f"python -m benchmark.validators.deploy cleanup --region {config.region} "
        f"--sweep {tag_value(sweep_id)}"
    )


def load_parameter_files(folder: Path) -> dict[str, dict[str, str]]:
    """problem id -> {parameter: value} from `<folder>/<problem id>.yaml|.json`, if any.

    Values are CloudFormation's strings: numbers and booleans as written, lists joined with
    commas (CommaDelimitedList). A bad file is one line naming it, before anything is created.
    """
    out: dict[str, dict[str, str]] = {}
    if not folder.is_dir():
        return out
    for path in sorted(folder.iterdir()):
        if path.suffix not in (".yaml", ".yml", ".json") or not path.is_file():
            continue
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot read parameter file: {exc}") from None
        if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
            raise ConfigError(f"{path}: a parameter file is a mapping of parameter names to values")
        values = {}
        for name, value in data.items():
            if isinstance(value, list) and all(_scalar(v) for v in value):
                values[name] = ",".join(_text(v) for v in value)
            elif _scalar(value):
                values[name] = _text(value)
            else:
                raise ConfigError(f"{path}: parameter '{name}': a value is a scalar or a list")
        out[path.stem] = values
    return out


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def declared_parameters(template: str) -> list[str]:
    """The template's parameter names (ValidateTemplate's own list is not complete everywhere:
    local emulators return none)."""
    written = parse_template(template).written
    parameters = written.get("Parameters") if isinstance(written, dict) else None
    return list(parameters) if isinstance(parameters, dict) else []


class DeployValidator:
    """CloudFormation's verdict on each template, with nothing left behind."""

    name = SOURCE

    def __init__(self, config: DeployConfig, job: DeployJob, client: Any = None) -> None:
        self.config, self.job = config, job
        self.gating = config.gating
        self.parameters = load_parameter_files(job.dataset_dir / config.parameters_dir)
        try:
            self.client = client or make_client(
                config.region,
                config.endpoint_url,
                config.profile,
                config.max_retries,
                config.request_timeout_s,
            )
        except NoCredentials as exc:
            raise ConfigError(f"deploy: {exc}") from None
        except BotoCoreError as exc:  # e.g. an unknown profile
            raise ConfigError(f"deploy: {describe_error(exc)}") from None
        self.stop = threading.Event()
        self.live = LiveStacks()
        self.deployer = Deployer(
            self.client,
            config.mode,
            config.timeout_s,
            config.delete_timeout_s,
            config.poll_s,
            self.stop,
            self.live,
        )
        self.leftovers: dict[str, str] = {}
        self._capped = False
        _say(announcement(config, job.sweep_id))
        self.ledger = StackLedger(job.ledger_dir, config.max_stacks)
        try:
            self.inherited = self._delete_leftovers("left by an earlier run of this job")
        except ConfigError:
            self.ledger.close()
            raise
        for reason in self.inherited.values():
            _say(f"deploy: LEFT BEHIND by an earlier run: {reason}")
        self._pool = ThreadPoolExecutor(config.max_concurrent, thread_name_prefix="deploy")

    async def validate(
        self, template: str, problem: Any = None, attempt: AttemptRef | None = None
    ) -> ValidationResult:
        if attempt is None:
            return ValidationResult(failure="no attempt reference: nothing was deployed")
        columns: dict[str, Any] = {
            "deploy_mode": self.config.mode,
            "deploy_endpoint": redact_url(self.config.endpoint_url),
        }
        if not template.strip():  # nothing to send: CloudFormation takes no empty template
            finding = Finding(VALIDATE_RULE, "E", "the template is empty", source=SOURCE)
            return ValidationResult(findings=[finding], columns={**columns, "deployable": False})
        aid = attempt_id(
            {
                **self.job.key_base,
                "problem_id": attempt.problem_id,
                "sample": attempt.sample,
                "iteration": attempt.iteration,
            }
        )
        stack = f"{STACK_PREFIX}-{aid}-{secrets.token_hex(3)}"
        if self.stop.is_set():
            return ValidationResult(failure="stopped: nothing was deployed", columns=columns)
        if not self.ledger.claim(stack, self.job.job_id, aid, self.config.mode):
            if not self._capped:
                self._capped = True
                _say(f"deploy: deploy.max_stacks={self.config.max_stacks} reached: no more")
            reason = f"deploy.max_stacks={self.config.max_stacks} reached: not deployed"
            return ValidationResult(failure=reason, columns=columns)
        tags = attempt_tags(self.job.sweep_id, self.job.job_id, aid)
        values = self.parameters.get(attempt.problem_id, {})
        try:
            outcome: DeployOutcome = await asyncio.get_running_loop().run_in_executor(
                self._pool,
                self.deployer.deploy,
                template,
                stack,
                tags,
                values,
                declared_parameters(template) if values else (),
            )
        except Exception as exc:  # a bug is the validator failing, never the sweep crashing
            what = "stopped" if self.stop.is_set() else "deploy failed"  # pool shut down
            failure = f"{what}: {type(exc).__name__}: {exc}"
            return ValidationResult(failure=failure, columns=columns)
        if outcome.leftover:
            self.leftovers[stack] = outcome.leftover
        elif stack not in self.live:
            self.ledger.deleted(stack)
        columns.update(
            deployable=outcome.deployable,
            deploy_validate_s=outcome.timings.get("validate"),
            deploy_create_s=outcome.timings.get("create"),
            deploy_delete_s=outcome.timings.get("delete"),
        )
        failure = "; ".join(x for x in (outcome.error, outcome.leftover) if x) or None
        return ValidationResult(
            findings=[
                Finding(
                    rule_id=f.rule_id,
                    level="E",
                    message=(
                        f"{f.logical_id} ({f.resource_type}): {f.message}"
                        if f.logical_id
                        else f.message
                    ),
                    path=("Resources", f.logical_id) if f.logical_id else (),
                    source=SOURCE,
                )
                for f in outcome.failures
            ],
            failure=failure,
            columns=columns,
        )

    def _delete_leftovers(self, why: str) -> dict[str, str]:
        """Delete this job's tagged stacks; name -> why it is still there, for those left."""
        try:
            stacks = tagged_stacks(self.client, self.job.sweep_id, self.job.job_id)
            if not stacks:
                return {}
            _say(f"deploy: deleting {len(stacks)} stacks {why}")
            config = self.config
            left = delete_tagged(self.client, stacks, config.delete_timeout_s, config.poll_s)
        except API_ERRORS as exc:
            raise ConfigError(f"deploy: cannot list stacks: {describe_error(exc)}") from None
        for stack in stacks:
            if stack["StackName"] not in left:
                self.ledger.deleted(stack["StackName"])
        return left

    def close(self) -> None:
        """Stop every wait, then delete everything this job created and confirm it."""
        self.stop.set()
        # threads in a call finish it (bounded by the request timeout) and request deletion
        closer = threading.Thread(
            target=self._pool.shutdown, kwargs={"wait": True, "cancel_futures": True}
        )
        closer.start()
        closer.join(self.config.request_timeout_s * 2)
        live = self.live.snapshot()
        left: dict[str, str] = {}
        if live:
            _say(f"deploy: deleting {len(live)} stacks still in flight")
            for ref in live:
                try:
                    request_deletion(self.client, ref)
                except API_ERRORS as exc:
                    left[ref.name] = f"stack {ref.name}: {describe_error(exc)}"
            left.update(
                wait_deleted(
                    self.client,
                    [r for r in live if r.name not in left],
                    self.config.delete_timeout_s,
                    self.config.poll_s,
                )
            )
            for ref in live:
                if ref.name not in left:
                    self.live.remove(ref.name)
                    self.ledger.deleted(ref.name)
        try:
            left.update(self._delete_leftovers("left behind at job end"))
        except ConfigError as exc:
            left["(listing)"] = str(exc)
        self.leftovers = left
        for reason in left.values():
            _say(f"deploy: LEFT BEHIND: {reason}")
        if left:
            _say(
                f"deploy: delete them with: python -m benchmark.validators.deploy cleanup --region "
                f"{self.config.region} --sweep {tag_value(self.job.sweep_id)}"
            )
        self.ledger.close()
