"""The synth stage: the front of a CDK job's validator suite. A model's app is synthesized in
the sandbox pool; what it makes (a template, or findings from Python and CDK) goes on to the
suite's usual validators (benchmark/validators/suite.py)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from benchmark.config import ConfigError
from benchmark.records.origin import package_version
from benchmark.validators.base import Finding
from benchmark.validators.cdk.findings import synth_findings
from benchmark.validators.cdk.outcome import SynthOutcome
from benchmark.validators.cdk.pool import SynthPool
from benchmark.validators.cdk.sandbox import SandboxError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SynthResult:
    outcome: SynthOutcome
    findings: list[Finding]  # the stage's own (python, cdk); none for a clean synth

    @property
    def provenance(self) -> dict[str, Any]:
        """`attempts` columns this stage vouches for."""
        return {
            "synth_seconds": self.outcome.seconds,
            "sandbox": self.outcome.sandbox or None,
            "cdk_version": package_version("aws-cdk-lib"),
        }


class CdkSynthStage:
    """Synthesizes each app in `pool`; bad code is an outcome with findings, never a raise."""

    name = "cdk-synth"

    def __init__(self, pool: SynthPool) -> None:
        self.pool = pool

    async def prepare(self) -> None:
        """Start the pool: a sandbox that cannot run here is a ConfigError, one line."""
        try:
            await self.pool.start()
        except SandboxError as exc:
            raise ConfigError(f"config error at 'cdk': {exc}") from None
        if self.pool.cgroup_problem:  # the memory and process walls are missing: say so
            log.warning("cdk sandbox without its cgroup walls: %s", self.pool.cgroup_problem)

    async def run(self, code: str, problem: Any) -> SynthResult:
        outcome = await self.pool.synth(code)
        return SynthResult(outcome, synth_findings(outcome, code))

    def close(self) -> None:
        self.pool.close()
