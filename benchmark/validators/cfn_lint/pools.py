"""Warm lint engines in worker processes: the pinned release in process, others in their env.

Both pools answer `lint(text, timeout)` with the findings as plain dicts and the date cfn-lint's
clock read, and `describe()` with what the release knows (version, regions, rule ids). A task
that runs past its timeout, or a worker that dies, is an exception for that task; the worker is
replaced and the pool carries on. Every worker runs with PYTHONHASHSEED=0 (some cfn-lint
messages embed set order).

- `InProcessPool`: pebble processes spawned from this interpreter, so the installed (pinned)
  cfn-lint. Spawned children import the parent's cfn-lint, so this cannot run another release.
- `ExternalPool`: `engine.py` run as a script by the Python of another release's
  environment (`cfn_lint_envs`), JSON lines over its stdin and stdout, one thread per worker
  in this process waiting on it. Nothing of this project is on that interpreter's path.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import multiprocessing
import os
import queue
import subprocess
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from pebble import ProcessPool

from benchmark.validators.cfn_lint import engine as lint_engine

WORKER_HASH_SEED = "0"
STARTUP_TIMEOUT_S = 300.0  # importing cfn-lint and building its rules, on a loaded machine
ENGINE_SCRIPT = Path(lint_engine.__file__).resolve()

Linted = tuple[list[dict[str, Any]], date]


class LintPool(Protocol):
    async def lint(self, text: str, timeout: float) -> Linted: ...

    async def describe(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


class WorkerExited(RuntimeError):
    """A worker process ended while it held a task (crashed, killed, out of memory)."""


class EngineError(RuntimeError):
    """The engine raised on one template; its worker is fine and stays."""


# ---- in process: the pinned release -------------------------------------------------------

_WORKER_ENGINE: lint_engine.Engine | None = None


def _init_worker(settings: dict[str, Any]) -> None:
    global _WORKER_ENGINE
    _WORKER_ENGINE = lint_engine.Engine(settings)


def _lint_in_worker(text: str) -> Linted:
    assert _WORKER_ENGINE is not None, "worker was not initialised"
    return _WORKER_ENGINE.lint(text)


def _describe_in_worker() -> dict[str, Any]:
    assert _WORKER_ENGINE is not None, "worker was not initialised"
    return _WORKER_ENGINE.describe()


class InProcessPool:
    """Warm engines of the installed cfn-lint in spawned worker processes (pebble)."""

    def __init__(self, settings: dict[str, Any], workers: int) -> None:

        # Workers are spawned lazily and replaced after a crash, each reading the environment
        # as it starts: the seed stays set for this process's lifetime so every worker gets it.
        os.environ["PYTHONHASHSEED"] = WORKER_HASH_SEED
        # A spawned child first restores its parent's default start method. Inside a loky
        # worker (Hydra's joblib launcher) that is loky's own, unknown to the child, and every
        # worker would die before it ran: make it the standard library's spawn.
        if multiprocessing.get_start_method(allow_none=True) not in (
            None,
            *multiprocessing.get_all_start_methods(),
        ):
            multiprocessing.set_start_method("spawn", force=True)
        self.pool = ProcessPool(
            max_workers=workers,
            initializer=_init_worker,
            initargs=(settings,),
            context=multiprocessing.get_context("spawn"),
        )

    async def lint(self, text: str, timeout: float) -> Linted:
        future = self.pool.schedule(_lint_in_worker, args=(text,), timeout=timeout)
        return await asyncio.wrap_future(future)

    async def describe(self) -> dict[str, Any]:
        future = self.pool.schedule(_describe_in_worker, timeout=STARTUP_TIMEOUT_S)
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        self.pool.close()
        with contextlib.suppress(TimeoutError):  # tasks still running (interrupted): stop them
            self.pool.join(timeout=10)
        self.pool.stop()


# ---- another release: its own interpreter --------------------------------------------------


def _worker_environ() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONHASHSEED"] = WORKER_HASH_SEED
    env["PYTHONIOENCODING"] = "utf-8"
    return env


class _Worker:
    """One `engine.py` process and the threads that read its output."""

    def __init__(self, python: Path, settings: dict[str, Any]) -> None:
        # -s: no user site-packages; -P: the script's folder (this project) is not on sys.path
        self.process = subprocess.Popen(
            [str(python), "-s", "-P", str(ENGINE_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env=_worker_environ(),
        )
        self.replies: queue.Queue[str | None] = queue.Queue()
        self.stderr: deque[str] = deque(maxlen=20)
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        try:
            self._send(settings)
            ready = self._receive(STARTUP_TIMEOUT_S)
        except BaseException:
            self.kill()
            raise
        if "ready" not in ready:
            self.kill()
            raise WorkerExited(f"cfn-lint worker could not start: {ready.get('error')}")
        self.description: dict[str, Any] = ready["ready"]

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout:
            for line in self.process.stdout:
                self.replies.put(line)
        self.replies.put(None)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        with self.process.stderr:
            for line in self.process.stderr:
                if line.strip():
                    self.stderr.append(line.strip())

    def _send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(message, default=str) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError):
            raise WorkerExited(self._exit_reason()) from None

    def _receive(self, timeout: float) -> dict[str, Any]:
        try:
            line = self.replies.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"cfn-lint worker gave no answer in {timeout:g}s") from None
        if line is None:
            raise WorkerExited(self._exit_reason())
        return json.loads(line)

    def _exit_reason(self) -> str:
        code = None
        with contextlib.suppress(subprocess.TimeoutExpired):
            code = self.process.wait(timeout=10)
        self._readers[1].join(timeout=2)  # the last words on stderr
        last = f": {self.stderr[-1]}" if self.stderr else ""
        return f"cfn-lint worker exited with code {code}{last}"

    def lint(self, request_id: int, text: str, timeout: float) -> Linted:
        self._send({"id": request_id, "text": text})
        reply = self._receive(timeout)
        if reply.get("id") != request_id:
            raise WorkerExited(
                f"cfn-lint worker answered request {reply.get('id')}, not {request_id}"
            )
        if "error" in reply:
            raise EngineError(reply["error"])
        return reply["findings"], date.fromisoformat(reply["as_of"])

    def stop(self) -> None:
        """End of input ends the worker; one that does not stop in time is killed."""
        if self.process.poll() is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.close()
                self.process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.process.stdin is not None:  # the readers close stdout and stderr at their end
            with contextlib.suppress(OSError):
                self.process.stdin.close()


class ExternalPool:
    """Warm engines of cfn-lint `version` in worker processes of that release's environment.

    The environment is built on first use (`describe()` in a job's prepare step, else the
    first lint); workers start lazily, one per slot, and a slot whose worker timed out or died
    starts a fresh one for its next task."""

    def __init__(
        self, version: str, envs_dir: str | Path, settings: dict[str, Any], workers: int
    ) -> None:
        self.version, self.envs_dir, self.settings = version, envs_dir, settings
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix=f"cfn-lint-{version}")
        self._slots: queue.Queue[_Worker | None] = queue.Queue()
        for _ in range(workers):
            self._slots.put(None)
        self._live: set[_Worker] = set()
        self._lock = threading.Lock()
        self._python: Path | None = None
        self._env_error: Exception | None = None
        self._ids = itertools.count()

    @property
    def python(self) -> Path:
        """The release's interpreter; an environment that could not be built is tried once."""
        with self._lock:
            if self._env_error is not None:
                raise self._env_error
            if self._python is None:
                # imported here: pebble's workers import this module and need none of it
                from benchmark.validators.cfn_lint.envs import ensure_env  # deferred (above)

                try:
                    self._python = ensure_env(self.version, self.envs_dir)
                except Exception as exc:
                    self._env_error = exc
                    raise
            return self._python

    def _start(self) -> _Worker:
        worker = _Worker(self.python, self.settings)
        with self._lock:
            self._live.add(worker)
        return worker

    def _drop(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._live.discard(worker)

    def _in_worker(self, task: str, text: str = "", timeout: float = 0.0) -> Any:
        worker = self._slots.get()
        try:
            if worker is None:
                worker = self._start()
            if task == "describe":
                return worker.description
            return worker.lint(next(self._ids), text, timeout)
        except EngineError:
            raise
        except BaseException:
            if worker is not None:
                self._drop(worker)  # timed out or died: its slot starts a new one
                worker = None
            raise
        finally:
            self._slots.put(worker)

    async def lint(self, text: str, timeout: float) -> Linted:
        return await asyncio.wrap_future(
            self._executor.submit(self._in_worker, "lint", text, timeout)
        )

    async def describe(self) -> dict[str, Any]:
        return await asyncio.wrap_future(self._executor.submit(self._in_worker, "describe"))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            live = list(self._live)
            self._live.clear()
        for worker in live:
            worker.stop()
