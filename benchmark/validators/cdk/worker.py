"""A synth worker: runs inside the sandbox, answers JSON lines on stdin/stdout.

`python -m benchmark.validators.cdk.worker MODE CPU_S WALL_S SCRATCH` where MODE is

- `fork`: import aws_cdk once (the cold cost), say `{"ready": true}`, then for each request
  `{"code": ...}` fork a child that synthesizes it in a folder of its own under SCRATCH with
  RLIMIT_CPU=CPU_S, kill it after WALL_S, and answer one reply line. The child's changes to
  Python state (a monkeypatch of aws_cdk, sys.modules) die with it. The child talks to the
  worker's jsii kernel (Node) over the inherited pipe; a child that ended abnormally (killed,
  signalled, left processes behind) may have left that pipe mid-message, so the reply asks the
  pool to recycle the worker (`"recycle": true`).
- `fresh`: say ready, read one request, synthesize in this process, answer, exit (the cold
  path: a fresh sandboxed interpreter per template).
- `warm-cache`: import aws_cdk (fills the jsii package cache) and exit.

Reply: `{"result": <synth_app dict> | null, "signal": int | null, "exit": int | null,
"cpu_s": float, "wall": bool, "recycle": bool}`.
Only this module and synth_app run in the sandbox; they import nothing but the standard library
and the CDK.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

from benchmark.validators.cdk.synth_app import synth

EFBIG_TEXT = "File too large"
# synthesized once by the worker itself (the project's code, not the model's) before it is
# ready: Node loads the construct modules most apps use, so the first template is warm too
WARM_UP_APP = """
import aws_cdk as cdk
from aws_cdk import aws_iam as iam, aws_lambda as lambda_, aws_s3 as s3, aws_sqs as sqs


class AppStack(cdk.Stack):
    def __init__(self, scope, construct_id, **kwargs):
        super().__init__(scope, construct_id, **kwargs)
        bucket = s3.Bucket(self, "Data")
        queue = sqs.Queue(self, "Queue")
        fn = lambda_.Function(
            self, "Fn", runtime=lambda_.Runtime.PYTHON_3_12, handler="index.handler",
            code=lambda_.Code.from_inline("def handler(event, context):\\n    return 1\\n"),
        )
        bucket.grant_read(fn)
        queue.grant_send_messages(fn)
        fn.add_to_role_policy(iam.PolicyStatement(actions=["s3:ListAllMyBuckets"], resources=["*"]))
"""


def _pids() -> set[int]:
    return {int(name) for name in os.listdir("/proc") if name.isdigit()}


def _safe_synth(code: str, outdir: Path) -> dict[str, Any]:
    """synth_app.synth, with what escapes it (SystemExit, a fork that failed...) as an outcome."""
    try:
        result = synth(code, outdir)
    except BaseException as exc:  # the model's code may raise anything, SystemExit included
        result = {
            "status": "python_error",
            "error_type": type(exc).__name__,
            "message": str(exc).splitlines()[0] if str(exc) else "",
        }
    if result.get("error_type") == "OSError" and EFBIG_TEXT in result.get("message", ""):
        result.update(status="limit", limit="file_size")
    return result


def _child(code: str, folder: Path, cpu_s: int, write_fd: int, closing: int) -> None:
    """In the forked child: walls of this template, then synth; never returns."""
    try:
        os.close(closing)  # the protocol's stdout: the model's code must not answer for itself
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.chdir(folder)
        data = json.dumps(_safe_synth(code, folder / "out")).encode()
        view = memoryview(data)
        while view:
            view = view[os.write(write_fd, view) :]
    finally:
        os._exit(0)  # no atexit: the jsii kernel belongs to the worker


def run_forked(
    code: str, folder: Path, cpu_s: int, wall_s: float, known: set[int], closing: int
) -> dict:
    """One template in a forked child; the reply dict."""
    folder.mkdir(parents=True, exist_ok=True)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child(code, folder, cpu_s, write_fd, closing)
    os.close(write_fd)
    pidfd = os.pidfd_open(pid)
    deadline = time.monotonic() + wall_s
    chunks: list[bytes] = []
    watching = [read_fd, pidfd]
    timed_out = False
    while pidfd in watching:
        ready, _, _ = select.select(watching, [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            timed_out = True
            os.kill(pid, signal.SIGKILL)
            break
        if read_fd in ready:
            chunk = os.read(read_fd, 1 << 16)
            chunks.append(chunk) if chunk else watching.remove(read_fd)
        if pidfd in ready:
            watching.remove(pidfd)
    _, status, usage = os.wait4(pid, 0)
    while read_fd in watching and select.select([read_fd], [], [], 0)[0]:
        chunk = os.read(read_fd, 1 << 16)
        chunks.append(chunk) if chunk else watching.remove(read_fd)
    os.close(read_fd)
    os.close(pidfd)
    strays = _pids() - known - {os.getpid()}
    for stray in strays:
        with contextlib.suppress(ProcessLookupError):
            os.kill(stray, signal.SIGKILL)
    shutil.rmtree(folder, ignore_errors=True)
    signalled = os.WIFSIGNALED(status)
    try:
        result = json.loads(b"".join(chunks)) if chunks and not signalled else None
    except ValueError:
        result = None
    return {
        "result": result,
        "signal": os.WTERMSIG(status) if signalled else None,
        "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "wall": timed_out,
        "recycle": timed_out or signalled or result is None or bool(strays) or not known <= _pids(),
    }


def main(argv: list[str]) -> None:
    mode, cpu_s, wall_s, scratch = argv[0], int(argv[1]), float(argv[2]), Path(argv[3])
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # stray prints (the library's, the model's) must not reach the protocol

    def say(message: dict) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    if mode == "fresh":
        size = cpu_s
        resource.setrlimit(resource.RLIMIT_CPU, (size, size + 1))
        say({"ready": True})
        request = json.loads(sys.stdin.readline())
        started = time.process_time()
        result = _safe_synth(request["code"], scratch / "out")
        say({"result": result, "signal": None, "exit": 0, "cpu_s": time.process_time() - started})
        return
    import aws_cdk  # noqa: F401  (deferred: this import is the cold cost the pool pays once)

    if mode == "warm-cache":
        return
    warm = synth(WARM_UP_APP, scratch / "warm-up")
    shutil.rmtree(scratch / "warm-up", ignore_errors=True)
    if warm["status"] != "ok":
        sys.exit(f"the warm-up app failed: {warm.get('error_type')}: {warm.get('message')}")
    known = _pids() - {os.getpid()}
    say({"ready": True})
    for number, line in enumerate(sys.stdin):
        request = json.loads(line)
        folder = scratch / f"t{number}"
        say(run_forked(request["code"], folder, cpu_s, wall_s, known, out.fileno()))


if __name__ == "__main__":
    main(sys.argv[1:])
