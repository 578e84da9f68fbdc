"""Synth workers (STAND-IN: the sandbox helper's warm, sandboxed pool replaces this file at
merge). Here each app is synthesized by a fresh `synth_app` process, unsandboxed, with an
empty environment but what jsii needs, `workers` at a time."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmark.validators.cdk.outcome import SynthOutcome
from benchmark.validators.cdk.sandbox import (
    SandboxError,
    SandboxSettings,
    cdk_available,
    resolved_kind,
)

PROJECT_ROOT = Path(__file__).resolve().parents[3]


@dataclass
class PoolStats:
    synths: int = 0
    cold_starts: int = 0
    recycled: int = 0


class SynthPool:
    def __init__(self, settings: SandboxSettings, workers: int) -> None:
        self.settings = settings
        self.workers = workers
        self.kind = resolved_kind(settings)
        self.stats = PoolStats()
        self._slots = asyncio.Semaphore(workers)

    async def start(self) -> None:
        why = cdk_available()
        if why is not None:
            raise SandboxError(why)

    async def synth(self, code: str) -> SynthOutcome:
        async with self._slots:
            self.stats.synths += 1
            self.stats.cold_starts += 1
            return await self._synth(code)

    async def _synth(self, code: str) -> SynthOutcome:
        cache = PROJECT_ROOT / self.settings.jsii_cache
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="synth-") as scratch:
            app = Path(scratch) / "app.py"
            app.write_text(code, encoding="utf-8")
            env = {
                "PATH": os.defpath,
                "HOME": scratch,
                "JSII_RUNTIME_PACKAGE_CACHE_ROOT": str(cache),
            }
            started = time.monotonic()
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "benchmark.validators.cdk.synth_app",
                str(app),
                str(Path(scratch) / "out"),
                cwd=str(PROJECT_ROOT),
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                out, err = await asyncio.wait_for(process.communicate(), self.settings.wall_s)
            except TimeoutError:
                process.kill()
                await process.wait()
                return SynthOutcome("limit", message="wall-clock limit", limit="wall")
            seconds = time.monotonic() - started
            try:
                data = json.loads(out.decode().strip().splitlines()[-1])
            except (ValueError, IndexError):
                tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
                data = {"status": "python_error", "message": tail[0]}
        return SynthOutcome.from_dict({**data, "seconds": seconds, "sandbox": self.kind})

    def close(self) -> None:
        """Nothing stays running between synths."""
