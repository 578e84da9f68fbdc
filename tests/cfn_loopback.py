"""A scripted CloudFormation on 127.0.0.1 for the failures moto cannot produce.

It speaks the CloudFormation query API (form-encoded POST, XML answers) for the calls the deploy
validator makes, keeps stacks and change sets in memory, and follows a script: a change set that
fails or never settles, a stack that rolls back or never settles, a deletion that hangs or
fails, throttled calls. The real boto3 client is pointed at it (`endpoint_url=server.url`).

States move on each Describe call, never on a clock, so a test never depends on timing: a
change set is CREATE_IN_PROGRESS on its first describe and settles on the second.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

NS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
ACCOUNT = "123456789012"


@dataclass
class Script:
    """How the fake behaves. Each `*_reason` is the text CloudFormation would report."""

    validate: Literal["ok", "reject"] = "ok"
    reject_if: str | None = None  # reject only templates containing this text
    validate_reason: str = "Template format error: unsupported structure."
    capabilities: list[str] = field(default_factory=list)  # ValidateTemplate's answer
    change_set: Literal["complete", "fail", "hang"] = "complete"
    change_set_reason: str = "Parameters: [BucketName] must have values"
    stack: Literal["complete", "rollback", "hang"] = "complete"
    # (logical id, type, reason) of resources that fail, in order, for stack="rollback"
    failed_resources: list[tuple[str, str, str]] = field(
        default_factory=lambda: [
            ("Bucket", "AWS::S3::Bucket", "artifacts already exists in stack arn:..."),
            ("Table", "AWS::DynamoDB::Table", "Resource creation cancelled"),
        ]
    )
    delete: Literal["complete", "hang", "fail"] = "complete"
    delete_reason: str = "The bucket you tried to delete is not empty"
    throttle: dict[str, int] = field(default_factory=dict)  # action -> first N calls throttled


@dataclass
class FakeStack:
    name: str
    stack_id: str
    status: str
    tags: dict[str, str]
    reason: str = ""
    describes: int = 0
    events: list[dict[str, str]] = field(default_factory=list)


@dataclass
class FakeChangeSet:
    name: str
    change_set_id: str
    stack_id: str
    status: str = "CREATE_IN_PROGRESS"
    reason: str = ""
    describes: int = 0


class Gone(Exception):
    pass


class FakeCloudFormation:
    """The server. `stacks` and `change_sets` are its state; `calls` counts actions."""

    def __init__(self, script: Script | None = None) -> None:
        self.script = script or Script()
        self.stacks: dict[str, FakeStack] = {}
        self.change_sets: dict[str, FakeChangeSet] = {}
        self.calls: Counter[str] = Counter()
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.created = threading.Event()  # set on the first CreateChangeSet / CreateStack
        self._ids = itertools.count(1)
        self._httpd: ThreadingHTTPServer | None = None

    # ---- lifecycle ------------------------------------------------------------------------
    def start(self) -> FakeCloudFormation:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                params = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
                status, xml = fake.handle(params)
                data = xml.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> FakeCloudFormation:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- what a test checks ----------------------------------------------------------------
    def live_stacks(self) -> list[FakeStack]:
        with self.lock:
            return [s for s in self.stacks.values() if s.status != "DELETE_COMPLETE"]

    def live_change_sets(self) -> list[FakeChangeSet]:
        with self.lock:
            return list(self.change_sets.values())

    # ---- the API ---------------------------------------------------------------------------
    def handle(self, params: dict[str, str]) -> tuple[int, str]:
        action = params.get("Action", "?")
        with self.lock:
            self.calls[action] += 1
            self.requests.append(params)
            if self.calls[action] <= self.script.throttle.get(action, 0):
                return _error("Throttling", "Rate exceeded")
            try:
                result = getattr(self, f"_{action}")(params)
            except Gone as exc:
                return _error("ValidationError", f"Stack with id {exc} does not exist")
            except _ApiError as exc:
                return _error(exc.code, exc.message)
        return 200, _response(action, result)

    def _find(self, handle: str) -> FakeStack:
        if handle in self.stacks:
            return self.stacks[handle]
        for stack in self.stacks.values():
            if stack.name == handle and stack.status != "DELETE_COMPLETE":
                return stack
        raise Gone(handle)

    def _ValidateTemplate(self, params: dict[str, str]) -> str:
        rejected = self.script.reject_if is None or self.script.reject_if in params["TemplateBody"]
        if self.script.validate == "reject" and rejected:
            raise _ApiError("ValidationError", self.script.validate_reason)
        return "<Parameters/>" + _members("Capabilities", self.script.capabilities)

    def _new_stack(self, params: dict[str, str], status: str) -> FakeStack:
        name = params["StackName"]
        if any(s.name == name and s.status != "DELETE_COMPLETE" for s in self.stacks.values()):
            raise _ApiError("AlreadyExistsException", f"Stack [{name}] already exists")
        tags = {}
        for n in itertools.count(1):
            if f"Tags.member.{n}.Key" not in params:
                break
            tags[params[f"Tags.member.{n}.Key"]] = params[f"Tags.member.{n}.Value"]
        stack_id = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{name}/{uuid.uuid4()}"
        stack = FakeStack(name, stack_id, status, tags)
        self.stacks[stack_id] = stack
        self.created.set()
        return stack

    def _CreateChangeSet(self, params: dict[str, str]) -> str:
        stack = self._new_stack(params, "REVIEW_IN_PROGRESS")
        cs_id = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:changeSet/{params['ChangeSetName']}/"
        cs_id += str(uuid.uuid4())
        self.change_sets[cs_id] = FakeChangeSet(params["ChangeSetName"], cs_id, stack.stack_id)
        return f"<Id>{escape(cs_id)}</Id><StackId>{escape(stack.stack_id)}</StackId>"

    def _DescribeChangeSet(self, params: dict[str, str]) -> str:
        cs = self.change_sets.get(params["ChangeSetName"])
        if cs is None:
            raise _ApiError("ChangeSetNotFound", f"{params['ChangeSetName']} not found")
        cs.describes += 1
        if cs.describes >= 2 and self.script.change_set != "hang":
            if self.script.change_set == "complete":
                cs.status = "CREATE_COMPLETE"
            else:
                cs.status, cs.reason = "FAILED", self.script.change_set_reason
        stack = self.stacks[cs.stack_id]
        return (
            f"<ChangeSetName>{escape(cs.name)}</ChangeSetName>"
            f"<ChangeSetId>{escape(cs.change_set_id)}</ChangeSetId>"
            f"<StackId>{escape(cs.stack_id)}</StackId><StackName>{escape(stack.name)}</StackName>"
            f"<Status>{cs.status}</Status><StatusReason>{escape(cs.reason)}</StatusReason>"
            "<ExecutionStatus>UNAVAILABLE</ExecutionStatus>"
        )

    def _DeleteChangeSet(self, params: dict[str, str]) -> str:
        cs = self.change_sets.get(params["ChangeSetName"])
        if cs is None:
            raise _ApiError("ChangeSetNotFound", "ChangeSet not found")
        if cs.status == "CREATE_IN_PROGRESS":
            raise _ApiError("InvalidChangeSetStatus", "Cannot delete a change set in progress")
        del self.change_sets[cs.change_set_id]
        return ""

    def _ListChangeSets(self, params: dict[str, str]) -> str:
        stack = self._find(params["StackName"])
        members = "".join(
            f"<member><StackId>{escape(cs.stack_id)}</StackId>"
            f"<ChangeSetId>{escape(cs.change_set_id)}</ChangeSetId>"
            f"<ChangeSetName>{escape(cs.name)}</ChangeSetName><Status>{cs.status}</Status>"
            "</member>"
            for cs in self.change_sets.values()
            if cs.stack_id == stack.stack_id
        )
        return f"<Summaries>{members}</Summaries>"

    def _CreateStack(self, params: dict[str, str]) -> str:
        stack = self._new_stack(params, "CREATE_IN_PROGRESS")
        return f"<StackId>{escape(stack.stack_id)}</StackId>"

    def _settle(self, stack: FakeStack) -> None:
        stack.describes += 1
        if stack.describes < 2:
            return
        if stack.status == "CREATE_IN_PROGRESS" and self.script.stack != "hang":
            if self.script.stack == "complete":
                stack.status = "CREATE_COMPLETE"
            else:
                for logical_id, kind, reason in self.script.failed_resources:
                    self._event(stack, logical_id, kind, "CREATE_FAILED", reason)
                self._event(stack, stack.name, "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE")
                stack.status = "ROLLBACK_COMPLETE"
                stack.reason = "The following resource(s) failed to create: [Bucket]."
        elif stack.status == "DELETE_IN_PROGRESS" and self.script.delete != "hang":
            if self.script.delete == "complete":
                stack.status = "DELETE_COMPLETE"
                for cs_id, cs in list(self.change_sets.items()):
                    if cs.stack_id == stack.stack_id:
                        del self.change_sets[cs_id]
            else:
                stack.status, stack.reason = "DELETE_FAILED", self.script.delete_reason

    def _event(
        self, stack: FakeStack, logical_id: str, kind: str, status: str, reason: str = ""
    ) -> None:
        physical = stack.stack_id if kind == "AWS::CloudFormation::Stack" else ""
        stack.events.insert(  # newest first, as the API lists them
            0,
            {
                "EventId": str(next(self._ids)),
                "LogicalResourceId": logical_id,
                "PhysicalResourceId": physical,
                "ResourceType": kind,
                "ResourceStatus": status,
                "ResourceStatusReason": reason,
            },
        )

    def _DescribeStacks(self, params: dict[str, str]) -> str:
        if "StackName" in params:
            stack = self._find(params["StackName"])
            self._settle(stack)
            if stack.status == "DELETE_COMPLETE" and not params["StackName"].startswith("arn:"):
                raise Gone(params["StackName"])
            chosen = [stack]
        else:
            chosen = [s for s in self.stacks.values() if s.status != "DELETE_COMPLETE"]
        members = "".join(
            f"<member><StackName>{escape(s.name)}</StackName>"
            f"<StackId>{escape(s.stack_id)}</StackId><StackStatus>{s.status}</StackStatus>"
            f"<StackStatusReason>{escape(s.reason)}</StackStatusReason>"
            "<CreationTime>2026-01-01T00:00:00Z</CreationTime>" + _tags(s.tags) + "</member>"
            for s in chosen
        )
        return f"<Stacks>{members}</Stacks>"

    def _DescribeStackEvents(self, params: dict[str, str]) -> str:
        stack = self._find(params["StackName"])
        members = "".join(
            "<member>"
            + f"<StackId>{escape(stack.stack_id)}</StackId>"
            + f"<StackName>{escape(stack.name)}</StackName>"
            + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in event.items())
            + "<Timestamp>2026-01-01T00:00:00Z</Timestamp></member>"
            for event in stack.events
        )
        return f"<StackEvents>{members}</StackEvents>"

    def _DeleteStack(self, params: dict[str, str]) -> str:
        try:
            stack = self._find(params["StackName"])
        except Gone:
            return ""  # deleting a stack that does not exist succeeds, as on AWS
        if stack.status not in ("DELETE_COMPLETE", "DELETE_IN_PROGRESS"):
            stack.status, stack.describes = "DELETE_IN_PROGRESS", 0
        return ""


class _ApiError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _members(name: str, values: list[str]) -> str:
    return f"<{name}>" + "".join(f"<member>{escape(v)}</member>" for v in values) + f"</{name}>"


def _tags(tags: dict[str, str]) -> str:
    members = "".join(
        f"<member><Key>{escape(k)}</Key><Value>{escape(v)}</Value></member>"
        for k, v in tags.items()
    )
    return f"<Tags>{members}</Tags>"


def _response(action: str, result: str) -> str:
    return (
        f'<{action}Response xmlns="{NS}"><{action}Result>{result}</{action}Result>'
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    )


def _error(code: str, message: str) -> tuple[int, str]:
    return 400, (
        f'<ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )
