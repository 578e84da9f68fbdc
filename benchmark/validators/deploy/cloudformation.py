"""The CloudFormation API calls behind the deploy validator: synchronous boto3, one attempt each.

One boto3 client serves every thread (clients are thread-safe; sessions are not, so a session is
used only to make the client). botocore's standard retry mode retries throttling and 5xx with
backoff. Status polls are a loop of their own rather than botocore waiters because a waiter
cannot be interrupted: setting `stop` ends every wait at once (SIGINT/SIGTERM), and the stacks
are deleted right after.

Everything created carries the tags `iac-feedback-bench:sweep`, `:job` and `:attempt`, so a
janitor (`python -m benchmark.validators.deploy cleanup`) can find what a killed process left.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from benchmark.validators.deploy.tags import TAG_PREFIX

Mode = Literal["changeset", "stack"]


# rule ids of deploy findings name the stage that failed
VALIDATE_RULE = "D1001"  # ValidateTemplate rejected the template
CHANGE_SET_RULE = "D2001"  # CreateChangeSet rejected it, or the change set FAILED
CREATE_RULE = "D3001"  # CreateStack rejected it
RESOURCE_RULE = "D3002"  # a resource failed to create
STACK_RULE = "D3003"  # the stack failed without a failed resource to blame
STAGES = {
    VALIDATE_RULE: "template validation",
    CHANGE_SET_RULE: "change set",
    CREATE_RULE: "stack creation request",
    RESOURCE_RULE: "resource creation",
    STACK_RULE: "stack creation",
}

# what a call to the API can raise besides a bug: an error answer, a transport failure, an
# answer that is not the API's (a proxy's or an emulator's HTML error page)
API_ERRORS = (ClientError, BotoCoreError, ResponseParserError)

# error codes that judge the template; any other API error means the harness could not judge it
TEMPLATE_ERRORS = frozenset({"ValidationError", "InsufficientCapabilitiesException"})
MAX_RESOURCE_FAILURES = 5  # the first failed resources are the causes; the rest are cancelled
CANCELLED = "Resource creation cancelled"


def make_client(
    region: str,
    endpoint_url: str | None = None,
    profile: str | None = None,
    max_retries: int = 8,
    request_timeout_s: float = 60.0,
) -> Any:
    """A CloudFormation client for `region` (always explicit; never taken from the environment)
    with credentials from boto3's standard chain. Raises `NoCredentials` when the chain is empty.
    """
    session = boto3.session.Session(profile_name=profile, region_name=region)
    if session.get_credentials() is None:
        raise NoCredentials(
            "no AWS credentials in the standard chain (environment, profile, instance role)"
        )
    config = Config(
        region_name=region,
        retries={"mode": "standard", "max_attempts": max_retries + 1},
        connect_timeout=request_timeout_s,
        read_timeout=request_timeout_s,
        user_agent_extra=TAG_PREFIX,
    )
    return session.client("cloudformation", endpoint_url=endpoint_url, config=config)


class NoCredentials(RuntimeError):
    """boto3 found no credentials."""


class Interrupted(RuntimeError):
    """`stop` was set while waiting: the job is shutting down."""


class Rejected(Exception):
    """CloudFormation judged the template: it does not deploy, for these reasons."""

    def __init__(self, failures: list[StageFailure]) -> None:
        super().__init__(failures[0].message if failures else "rejected")
        self.failures = failures


class WaitTimeout(RuntimeError):
    """A status did not settle within its timeout."""


@dataclass(frozen=True)
class StageFailure:
    """One reason a template did not deploy."""

    rule_id: str
    message: str
    logical_id: str | None = None
    resource_type: str | None = None


@dataclass
class StackRef:
    """A stack the harness created (or may have: a create call that did not answer)."""

    name: str
    stack_id: str | None = None
    change_set_id: str | None = None

    @property
    def handle(self) -> str:
        return self.stack_id or self.name


@dataclass
class DeployOutcome:
    """What one attempt's deployment found."""

    deployable: bool | None = None  # None: not judged (timeout, API error, interrupted)
    failures: list[StageFailure] = field(default_factory=list)
    error: str | None = None  # why it was not judged
    leftover: str | None = None  # a stack whose deletion was not confirmed, and why
    timings: dict[str, float] = field(default_factory=dict)  # validate / create / delete


class LiveStacks:
    """Thread-safe registry of stacks created and not yet confirmed deleted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stacks: dict[str, StackRef] = {}

    def add(self, ref: StackRef) -> None:
        with self._lock:
            self._stacks[ref.name] = ref

    def remove(self, name: str) -> None:
        with self._lock:
            self._stacks.pop(name, None)

    def snapshot(self) -> list[StackRef]:
        with self._lock:
            return list(self._stacks.values())

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._stacks


def error_code(exc: BaseException) -> str | None:
    return exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None


def describe_error(exc: BaseException) -> str:
    """One line for an API failure, without request ids or credentials."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        operation = getattr(exc, "operation_name", "call")
        return f"{operation}: {error.get('Code', '?')}: {error.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"


def _gone(exc: ClientError) -> bool:
    return error_code(exc) == "ValidationError" and "does not exist" in str(exc)


def template_parameters(parameters: Mapping[str, str], declared: Iterable[str]) -> list[dict]:
    """Parameter values for the declared parameters that have one; the rest take defaults."""
    names = set(declared)
    return [
        {"ParameterKey": key, "ParameterValue": value}
        for key, value in sorted(parameters.items())
        if key in names
    ]


class Deployer:
    """Deploys one template per call (`deploy`) and always deletes what it created."""

    def __init__(
        self,
        client: Any,
        mode: Mode,
        timeout_s: float,
        delete_timeout_s: float,
        poll_s: float,
        stop: threading.Event,
        live: LiveStacks,
    ) -> None:
        self.client, self.mode = client, mode
        self.timeout_s, self.delete_timeout_s, self.poll_s = timeout_s, delete_timeout_s, poll_s
        self.stop, self.live = stop, live

    def deploy(
        self,
        template: str,
        stack_name: str,
        tags: Sequence[dict[str, str]],
        parameters: Mapping[str, str],
        declared: Iterable[str] = (),
    ) -> DeployOutcome:
        """Validate, create (a change set or the stack), record why it failed, delete."""
        out = DeployOutcome()
        try:
            with self._timed(out, "validate"):
                summary = self._validate(template)
            capabilities = list(summary.get("Capabilities") or [])
            if summary.get("DeclaredTransforms"):
                capabilities.append("CAPABILITY_AUTO_EXPAND")
            values = template_parameters(parameters, declared)
            with self._timed(out, "create"):
                if self.mode == "changeset":
                    self._change_set(template, stack_name, tags, values, capabilities)
                else:
                    self._stack(template, stack_name, tags, values, capabilities)
            out.deployable = True
        except Rejected as rejected:
            out.deployable, out.failures = False, rejected.failures
        except Interrupted:
            out.error = "interrupted before CloudFormation answered (SIGINT/SIGTERM)"
        except WaitTimeout as exc:
            out.error = str(exc)
        except API_ERRORS as exc:
            out.error = describe_error(exc)
        finally:
            if stack_name in self.live:
                with self._timed(out, "delete"):
                    out.leftover = self._delete(stack_name)
        return out

    @contextmanager
    def _timed(self, out: DeployOutcome, stage: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            out.timings[stage] = round(time.monotonic() - started, 3)

    def _validate(self, template: str) -> dict[str, Any]:
        try:
            return self.client.validate_template(TemplateBody=template)
        except ClientError as exc:
            if error_code(exc) in TEMPLATE_ERRORS:
                raise Rejected([StageFailure(VALIDATE_RULE, _message(exc))]) from None
            raise

    def _change_set(
        self,
        template: str,
        name: str,
        tags: Sequence[dict[str, str]],
        parameters: list[dict],
        capabilities: list[str],
    ) -> None:
        ref = StackRef(name)
        self.live.add(ref)  # before the call: a call that never answers may still create it
        try:
            created = self.client.create_change_set(
                StackName=name,
                ChangeSetName=name,
                ChangeSetType="CREATE",
                TemplateBody=template,
                Parameters=parameters,
                Capabilities=capabilities,
                Tags=list(tags),
            )
        except ClientError as exc:
            if error_code(exc) in TEMPLATE_ERRORS:
                raise Rejected([StageFailure(CHANGE_SET_RULE, _message(exc))]) from None
            raise
        ref.stack_id, ref.change_set_id = created["StackId"], created["Id"]
        state = self._poll(
            lambda: self.client.describe_change_set(ChangeSetName=created["Id"]),
            lambda s: s["Status"] not in ("CREATE_PENDING", "CREATE_IN_PROGRESS"),
            self.timeout_s,
            "change set",
        )
        if state["Status"] != "CREATE_COMPLETE":
            reason = state.get("StatusReason") or f"change set ended {state['Status']}"
            raise Rejected([StageFailure(CHANGE_SET_RULE, reason)])

    def _stack(
        self,
        template: str,
        name: str,
        tags: Sequence[dict[str, str]],
        parameters: list[dict],
        capabilities: list[str],
    ) -> None:
        ref = StackRef(name)
        self.live.add(ref)
        try:
            created = self.client.create_stack(
                StackName=name,
                TemplateBody=template,
                Parameters=parameters,
                Capabilities=capabilities,
                Tags=list(tags),
                OnFailure="ROLLBACK",
                # CloudFormation itself gives up on the stack, even if this process dies
                TimeoutInMinutes=max(1, math.ceil(self.timeout_s / 60)),
            )
        except ClientError as exc:
            if error_code(exc) in TEMPLATE_ERRORS:
                raise Rejected([StageFailure(CREATE_RULE, _message(exc))]) from None
            raise
        ref.stack_id = created["StackId"]
        stack = self._poll(
            lambda: self.client.describe_stacks(StackName=created["StackId"])["Stacks"][0],
            lambda s: not s["StackStatus"].endswith("_IN_PROGRESS"),
            self.timeout_s,
            "stack",
        )
        if stack["StackStatus"] != "CREATE_COMPLETE":
            failures = self._failed_resources(created["StackId"])
            if not failures:
                reason = stack.get("StackStatusReason") or "no reason given"
                failures = [
                    StageFailure(STACK_RULE, f"stack ended {stack['StackStatus']}: {reason}")
                ]
            raise Rejected(failures)

    def _failed_resources(self, stack_id: str) -> list[StageFailure]:
        """The first resources that failed to create, oldest first, cancellations last."""
        events = [
            event
            for page in self.client.get_paginator("describe_stack_events").paginate(
                StackName=stack_id
            )
            for event in page["StackEvents"]
        ]
        failed = [
            e
            for e in reversed(events)  # the API lists the newest first
            if e.get("ResourceStatus") == "CREATE_FAILED"
            and e.get("PhysicalResourceId") != stack_id
            and e.get("ResourceType") != "AWS::CloudFormation::Stack"
        ]
        failed.sort(key=lambda e: CANCELLED in (e.get("ResourceStatusReason") or ""))
        return [
            StageFailure(
                RESOURCE_RULE,
                e.get("ResourceStatusReason") or "CREATE_FAILED",
                e.get("LogicalResourceId"),
                e.get("ResourceType"),
            )
            for e in failed[:MAX_RESOURCE_FAILURES]
        ]

    def _delete(self, name: str) -> str | None:
        """Delete one registered stack. While shutting down only the request is sent (the
        caller waits for every stack at once); otherwise wait. Returns why it may remain."""
        ref = next((r for r in self.live.snapshot() if r.name == name), StackRef(name))
        try:
            request_deletion(self.client, ref)
        except API_ERRORS as exc:
            return f"stack {name} may remain: {describe_error(exc)}"
        if self.stop.is_set():
            return None
        left = wait_deleted(self.client, [ref], self.delete_timeout_s, self.poll_s)
        if not left:
            self.live.remove(name)
        return left.get(name)

    def _poll(
        self,
        describe: Callable[[], dict[str, Any]],
        settled: Callable[[dict[str, Any]], bool],
        timeout_s: float,
        what: str,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            state = describe()
            if settled(state):
                return state
            if time.monotonic() >= deadline:
                status = state.get("Status") or state.get("StackStatus")
                raise WaitTimeout(f"{what} still {status} after {timeout_s:g}s")
            if self.stop.wait(self.poll_s):
                raise Interrupted


def _message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message") or exc)


def request_deletion(client: Any, ref: StackRef) -> None:
    """Ask CloudFormation to delete a stack (its change set first, where there is one).

    Deleting a stack that does not exist succeeds, so a name registered before a create call
    that never answered is safe to delete."""
    if ref.change_set_id:
        # still being created, or gone: deleting the stack removes it either way
        with suppress(*API_ERRORS):
            client.delete_change_set(ChangeSetName=ref.change_set_id)
        ref.change_set_id = None  # asked once: a second request would only fail
    client.delete_stack(StackName=ref.handle)


def wait_deleted(
    client: Any, refs: Sequence[StackRef], timeout_s: float, poll_s: float
) -> dict[str, str]:
    """Wait until every stack is gone; returns name -> why it is not, for those left."""
    pending = {ref.name: ref for ref in refs}
    left: dict[str, str] = {}
    deadline = time.monotonic() + timeout_s
    while True:
        waiting: dict[str, str] = {}
        for name, ref in list(pending.items()):
            state, reason = _deletion_state(client, ref)
            if state == "pending":
                waiting[name] = reason
                continue
            pending.pop(name)
            if state == "failed":
                left[name] = reason
        if not pending:
            return left
        if time.monotonic() >= deadline:
            return {**left, **{n: f"{r} after {timeout_s:g}s" for n, r in waiting.items()}}
        time.sleep(poll_s)


def _deletion_state(client: Any, ref: StackRef) -> tuple[str, str]:
    """("gone" | "failed" | "pending", why) for one stack being deleted."""
    try:
        stack = client.describe_stacks(StackName=ref.handle)["Stacks"][0]
    except ClientError as exc:
        if _gone(exc):
            return "gone", ""
        return "pending", f"stack {ref.name}: {describe_error(exc)}"
    except API_ERRORS as exc:
        return "pending", f"stack {ref.name}: {describe_error(exc)}"
    status = stack["StackStatus"]
    if status == "DELETE_COMPLETE":
        return "gone", ""
    if status == "DELETE_FAILED":
        return "failed", f"stack {ref.name} DELETE_FAILED: {stack.get('StackStatusReason') or '?'}"
    return "pending", f"stack {ref.name} still {status}"


def delete_tagged(
    client: Any, stacks: Sequence[dict], timeout_s: float, poll_s: float
) -> dict[str, str]:
    """Delete listed stacks (from `tagged_stacks`) and their change sets, then wait for them;
    returns name -> why it is left."""
    left: dict[str, str] = {}
    requested = []
    for stack in stacks:
        ref = StackRef(stack["StackName"], stack["StackId"])
        # a change set still being created cannot be deleted, but deleting its stack removes it
        with suppress(*API_ERRORS):
            pages = client.get_paginator("list_change_sets").paginate(StackName=ref.stack_id)
            for summary in [s for page in pages for s in page.get("Summaries", [])]:
                if summary.get("StackId") in (None, ref.stack_id):
                    with suppress(*API_ERRORS):
                        client.delete_change_set(ChangeSetName=summary["ChangeSetId"])
        try:
            client.delete_stack(StackName=ref.stack_id)
        except API_ERRORS as exc:
            left[ref.name] = f"stack {ref.name}: {describe_error(exc)}"
            continue
        requested.append(ref)
    left.update(wait_deleted(client, requested, timeout_s, poll_s))
    return left
