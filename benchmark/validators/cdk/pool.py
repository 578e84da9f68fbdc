"""A warm pool of sandboxed synth workers: the CDK library loaded once per worker.

Isolation, measured (`make bench BENCH_ARGS=--only cdk`, 2-core machine, bucket+Lambda+grant):

- **fork** (the default): each worker imports aws_cdk once inside its sandbox, then forks a
  child per template; the child runs the model's code with its own RLIMIT_CPU and scratch
  folder and exits. Whatever the code changes in Python (a monkeypatch of aws_cdk, a global in
  sys.modules) dies with the child, so the next template starts from the worker's clean state
  (tests/test_cdk_pool.py::test_monkeypatch_does_not_reach_the_next_template). The child shares
  the worker's jsii kernel (Node) through the inherited pipe; a child that ended abnormally may
  have left it mid-message, so the worker is then recycled whole. What a child leaves in Node
  (the objects it created, never released: the child exits without telling the kernel) stays
  until the worker is recycled, after `RECYCLE_AFTER` templates at most; Python code cannot
  change the construct library's JavaScript itself through jsii.
- **fresh**: a new sandbox (interpreter, import, Node) per template: the same isolation and
  more, at the cold price.

Measured 2026-12-07 (`python -m tests.bench --only cdk`: 40 warm, 5 cold, load average ~7):
fork 0.044 s per template (22.7 templates/s per worker) vs fresh 5.9 s (0.17/s), 133×; a
worker's start (import + a warm-up synth of the project's own app, so Node has loaded the
common construct modules) 10-13 s; a warm worker holds ~0.95 GiB resident (Python + Node),
~1.2 GiB peak in its cgroup with page cache. fork keeps the isolation at warm speed, so it is
the default. Bad code is an outcome, never an exception; a worker that died is replaced;
`close()` kills everything and removes cgroups and scratch.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from filelock import FileLock

from benchmark.validators.cdk.outcome import SynthOutcome
from benchmark.validators.cdk.sandbox import (
    Cgroup,
    SandboxError,
    SandboxSettings,
    bwrap_command,
    cdk_available,
    environment,
    markers,
    preexec,
    resolved_kind,
    unshare_command,
)

WORKER = [sys.executable, "-B", "-s", "-m", "benchmark.validators.cdk.worker"]
START_TIMEOUT_S = 300.0  # a cold jsii cache: the first import unpacks ~200 MB
REPLY_MARGIN_S = 15.0  # past the worker's own wall clock before the pool kills the worker
STREAM_LIMIT = 64 * 2**20  # a reply carries a whole template
RECYCLE_AFTER = 500  # templates per worker: Node keeps every object a forked child created
WARM_STAMP = ".iacbench-filled"  # written once a warm-up filled the whole jsii cache
WARM_UP_FILE_MB = 1024  # filling the jsii cache writes files larger than a template's limit


@dataclass
class PoolStats:
    synths: int = 0
    cold_starts: int = 0
    recycled: int = 0


class _Locked:
    """A file lock taken without blocking the event loop (filelock, acquired in a thread)."""

    def __init__(self, path: Path) -> None:
        self.lock = FileLock(path)

    async def __aenter__(self) -> None:
        await asyncio.to_thread(self.lock.acquire)

    async def __aexit__(self, *exc: object) -> None:
        self.lock.release()


class _Worker:
    """One sandbox: its process, cgroup and scratch folder."""

    def __init__(self, proc: asyncio.subprocess.Process, cgroup: Cgroup, scratch: Path) -> None:
        self.proc, self.cgroup, self.scratch = proc, cgroup, scratch
        self.synths = 0

    async def ask(self, message: dict[str, Any] | None, timeout: float) -> dict[str, Any] | None:
        """Send one line (if any) and read one reply: None when it timed out, `{"died": true}`
        when the worker ended first."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            if message is not None:
                self.proc.stdin.write((json.dumps(message) + "\n").encode())
                await self.proc.stdin.drain()
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        except TimeoutError:
            return None
        except (ConnectionError, ValueError):
            return {"died": True}
        return json.loads(line) if line else {"died": True}

    def log_tail(self) -> str:
        """The last line the worker wrote to stderr (its log beside the scratch folder)."""
        log = self.scratch.parent / f"{self.scratch.name}.log"
        lines = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
        return lines[-1] if lines else "no output"

    def kill(self) -> None:
        # the transport kills the sandbox's first process (without reaping it: asyncio's child
        # watcher does) and is closed now, not by the garbage collector on a loop that may be
        # closed by then (asyncio's Process has no public close); the group and the cgroup go
        # next
        self.proc._transport.close()  # type: ignore[attr-defined]
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.cgroup.remove()
        shutil.rmtree(self.scratch, ignore_errors=True)


class SynthPool:
    """`workers` warm sandboxed workers (default: one per usable core)."""

    def __init__(
        self,
        settings: SandboxSettings | None = None,
        workers: int | None = None,
        isolation: Literal["fork", "fresh"] = "fork",
    ) -> None:
        self.settings = settings or SandboxSettings()
        self.size = workers or len(os.sched_getaffinity(0))
        self.isolation = isolation
        self.kind = ""
        self.stats = PoolStats()
        self.cgroup_problem: str | None = None  # one line: the limits no cgroup could enforce
        self.memory_peaks: list[int] = []  # bytes, of every worker closed or recycled
        # idle workers; None once no worker is left and none can start (`_broken` says why)
        self._idle: asyncio.Queue[_Worker | None] = asyncio.Queue()
        self._broken: str | None = None
        self._all: set[_Worker] = set()
        self._markers: list = []
        self._root = Path()  # the workers' scratch folders: made by start(), removed by close()

    async def start(self) -> None:
        """Resolve the sandbox, warm the jsii cache, start the workers (SandboxError: one line)."""
        missing = cdk_available()
        if missing:
            raise SandboxError(missing)
        self.kind = resolved_kind(self.settings)
        self._root = Path(tempfile.mkdtemp(prefix="iacbench-cdk-"))
        try:
            await self._start()
        except BaseException:
            self.close()
            raise

    async def _start(self) -> None:
        self.settings.cache_dir.mkdir(parents=True, exist_ok=True)
        # one filler at a time: pools of other processes (test workers, jobs) share the cache
        cache = self.settings.cache_dir
        async with _Locked(cache.parent / f"{cache.name}.lock"):
            await self._fill_cache()
        self._markers = markers(self.settings.cache_dir)
        if self.isolation == "fork":
            started = await asyncio.gather(*(self._ready("fork") for _ in range(self.size)))
            for worker in started:
                self._idle.put_nowait(worker)

    async def _fill_cache(self) -> None:
        """Fill the jsii cache once (a sandbox running the project's own code, cache writable)."""
        stamp = self.settings.cache_dir / WARM_STAMP
        if stamp.exists():
            return
        # a cache left half-filled (a killed warm-up) is refilled from empty
        for entry in self.settings.cache_dir.iterdir():
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        worker = await self._launch("warm-cache", writable_cache=True)
        code = await asyncio.wait_for(worker.proc.wait(), START_TIMEOUT_S)
        tail = worker.log_tail()
        self._retire(worker)
        if code != 0:
            raise SandboxError(f"filling the jsii cache {self.settings.cache_dir} failed: {tail}")
        stamp.write_text("filled by the synth pool's warm-up\n")

    async def _launch(self, mode: str, writable_cache: bool = False) -> _Worker:
        scratch = Path(tempfile.mkdtemp(prefix="w-", dir=self._root))
        cgroup = Cgroup(self.settings.memory_mb, self.settings.processes)
        self.cgroup_problem = self.cgroup_problem or cgroup.reason
        s = self.settings
        argv = [*WORKER, mode, str(s.cpu_s), str(s.wall_s), str(scratch)]
        if self.kind == "bwrap":
            copies = None
            if not writable_cache:
                folder = scratch.parent / f"{scratch.name}-markers"
                folder.mkdir()
                copies = {m: folder / f"m{i}" for i, m in enumerate(self._markers)}
                for copy in copies.values():
                    copy.touch()
            command = bwrap_command(argv, scratch, s.cache_dir, copies)
        else:
            command = unshare_command(argv)
        with open(scratch.parent / f"{scratch.name}.log", "ab") as log:
            proc = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                cwd=scratch,
                env=environment(scratch, s.cache_dir),
                preexec_fn=preexec(
                    replace(s, file_size_mb=WARM_UP_FILE_MB) if writable_cache else s, cgroup
                ),
                start_new_session=True,
                limit=STREAM_LIMIT,
            )
        worker = _Worker(proc, cgroup, scratch)
        self._all.add(worker)
        self.stats.cold_starts += 1
        return worker

    async def _ready(self, mode: str) -> _Worker:
        worker = await self._launch(mode)
        hello = await worker.ask(None, START_TIMEOUT_S)
        if not hello or not hello.get("ready"):  # ended, timed out or said something else
            last = worker.log_tail()
            self._retire(worker)
            raise SandboxError(f"the {self.kind} synth worker did not start: {last}")
        return worker

    def _retire(self, worker: _Worker) -> None:
        self.memory_peaks.append(worker.cgroup.memory_peak())
        worker.kill()
        self._all.discard(worker)

    async def synth(self, code: str) -> SynthOutcome:
        """Synthesize one app; bad code, a limit or a dead worker come back as an outcome."""
        started = time.monotonic()
        if self.isolation == "fresh":
            worker = await self._ready("fresh")
        else:
            found = await self._idle.get()
            if found is None:  # wake the next waiter too, then fail in one line
                self._idle.put_nowait(None)
                raise SandboxError(f"no synth worker is left: {self._broken}")
            worker = found
        oom, pids = worker.cgroup.counter("oom"), worker.cgroup.counter("pids")
        reply = await worker.ask({"code": code}, self.settings.wall_s + REPLY_MARGIN_S)
        hit_memory = worker.cgroup.counter("oom") > oom
        hit_pids = worker.cgroup.counter("pids") > pids
        outcome = self._outcome(reply, hit_memory, hit_pids, time.monotonic() - started)
        self.stats.synths += 1
        worker.synths += 1
        spent = worker.synths >= RECYCLE_AFTER
        if self.isolation == "fresh":
            self._retire(worker)
        elif (
            spent
            or not reply
            or reply.get("died")
            or reply.get("recycle")
            or hit_memory
            or hit_pids
        ):
            self._retire(worker)
            self.stats.recycled += 1
            await self._replace()
        else:
            self._idle.put_nowait(worker)
        return outcome

    async def _replace(self) -> None:
        """Start a worker in place of a retired one. If it cannot start and none is left, the
        pool is broken: every synth waiting for a worker, and every later one, fails with the
        reason instead of waiting forever."""
        try:
            self._idle.put_nowait(await self._ready("fork"))
        except SandboxError as exc:
            if not self._all:
                self._broken = str(exc)
                self._idle.put_nowait(None)
            raise

    def _outcome(
        self, reply: dict[str, Any] | None, memory: bool, pids: bool, seconds: float
    ) -> SynthOutcome:
        base = {"seconds": round(seconds, 3), "sandbox": self.kind}
        limit = None
        if memory:
            limit = "memory"
        elif pids:
            limit = "processes"
        elif reply is None or reply.get("wall"):  # None: the worker did not answer in time
            limit = "wall"
        elif reply.get("signal") == signal.SIGXCPU or (
            reply.get("signal") is not None and reply["cpu_s"] >= self.settings.cpu_s - 0.5
        ):
            limit = "cpu"
        if limit is not None:
            message = f"the app exceeded the sandbox's {limit} limit"
            return SynthOutcome("limit", limit=limit, message=message, **base)
        result = reply.get("result") if reply else None
        if result is None:
            how = f"signal {reply['signal']}" if reply and reply.get("signal") else "exit"
            message = f"the app ended the synth process ({how})"
            return SynthOutcome("python_error", error_type="ProcessExit", message=message, **base)
        result = {**result, **base}
        return SynthOutcome.from_dict(result)

    def close(self) -> None:
        """Kill every worker, remove their cgroups and the scratch folders."""
        for worker in list(self._all):
            self._retire(worker)
        while not self._idle.empty():
            self._idle.get_nowait()
        if self._root != Path():
            shutil.rmtree(self._root, ignore_errors=True)
