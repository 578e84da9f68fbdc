"""Shared by the CDK sandbox tests: apps that try each wall, and a pool kept for a module.

Starting a warm worker costs seconds (aws_cdk imported, a warm-up synth), so each test module
keeps one pool per sandbox kind on an event loop of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from benchmark.validators.cdk.outcome import SynthOutcome
from benchmark.validators.cdk.pool import SynthPool
from benchmark.validators.cdk.sandbox import SandboxSettings, cdk_available, resolved_kind

# small walls, so the limit tests end in seconds; memory keeps its default (a warm worker
# peaks near 1.2 GB in its cgroup, page cache included)
TEST_SETTINGS = {"cpu_s": 5, "wall_s": 15, "processes": 64, "file_size_mb": 5}


def app(body: str, head: str = "") -> str:
    """A contract app whose AppStack runs `body` (indented 8) after a bucket."""
    lines = "\n".join("        " + line for line in body.strip("\n").splitlines())
    return f"""import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
{head}

class AppStack(cdk.Stack):
    def __init__(self, scope, construct_id, **kwargs):
        super().__init__(scope, construct_id, **kwargs)
        s3.Bucket(self, "Data")
{lines}
"""


BUCKET_APP = app("pass")


def usable(kind: str) -> str | None:
    """Why the pool of `kind` cannot run here (a skip reason), or None."""
    if (missing := cdk_available()) is not None:
        return missing
    try:
        resolved_kind(SandboxSettings(kind=kind))  # type: ignore[arg-type]
    except ValueError as exc:
        return str(exc)
    return None


@dataclass
class Running:
    """A started pool and the loop it lives on."""

    pool: SynthPool
    loop: asyncio.AbstractEventLoop

    def synth(self, code: str) -> SynthOutcome:
        return self.loop.run_until_complete(self.pool.synth(code))


@contextmanager
def running_pool(kind: str, workers: int = 1, **settings: object) -> Iterator[Running]:
    reason = usable(kind)
    if reason is not None:
        pytest.skip(reason)
    loop = asyncio.new_event_loop()
    pool = SynthPool(SandboxSettings(kind=kind, **{**TEST_SETTINGS, **settings}), workers)  # type: ignore[arg-type]
    try:
        loop.run_until_complete(pool.start())
        yield Running(pool, loop)
    finally:
        pool.close()
        loop.close()
