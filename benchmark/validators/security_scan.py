"""The security validator: Checkov's CloudFormation checks, an optional extra (`.[security]`).

Checkov is imported only inside worker processes (spawned, one template at a time each), so
this module imports fine without it. Every evaluated check becomes a `CheckResult` with
`source="security"`, passed or failed, so pass/total can be computed; nothing is a finding.
A template's own suppressions (`Metadata: checkov: skip`, `# checkov:skip=` comments) are
ignored: a model cannot silence a security check, as it cannot silence a mandatory lint rule.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import json
import logging
import multiprocessing
import os
import tempfile
from contextlib import suppress
from typing import Any

from pebble import ProcessPool

from benchmark.records.origin import package_version
from benchmark.validators.base import AttemptRef, CheckResult, ValidationResult

SOURCE = "security"
SKIP_MESSAGE = "security validator skipped: checkov is not installed; pip install -e '.[security]'"
_FILE_NAME = "template.yaml"  # checkov reads JSON and YAML alike through its YAML loader
_WARM_UP = "Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n"

log = logging.getLogger(__name__)


def security_available() -> bool:
    """Whether checkov is installed. Found, not imported: importing it takes about a second."""
    return importlib.util.find_spec("checkov") is not None


def checkov_version() -> str | None:
    """The installed checkov's version, for provenance; None without it."""
    return package_version("checkov")


def _no_suppressions(*_args: Any, **_kwargs: Any) -> list[Any]:
    return []


def _loads(text: str) -> bool:
    """Whether checkov's loader reads `text` at all: only a syntax error is a parse failure."""
    # optional dependency (the security extra); importing it takes ~2 s (measured)
    from checkov.cloudformation.parser import cfn_yaml

    try:
        cfn_yaml.loads(text, _FILE_NAME)
        return True
    except Exception:
        try:
            json.loads(text)  # checkov's own fallback, for JSON indented with tabs
            return True
        except ValueError:
            return False


class WarmChecker:
    """Checkov's CloudFormation checks, loaded once and run on many templates. One per process."""

    def __init__(self) -> None:
        # optional dependency (the security extra); importing it takes ~2 s (measured)
        from checkov.cloudformation.context_parser import ContextParser
        from checkov.common.models.enums import ParallelizationType
        from checkov.common.parallelizer.parallel_runner import parallel_runner

        logging.disable(logging.ERROR)  # checkov logs every unparseable template at ERROR
        parallel_runner.type = ParallelizationType.NONE  # else it forks a process per template
        ContextParser.collect_skip_comments = staticmethod(_no_suppressions)  # type: ignore[method-assign]
        self.check(_WARM_UP)  # loads the graph checks: a cold run takes ~100 ms, a warm one ~3

    def check(self, text: str) -> tuple[bool, list[CheckResult]]:
        """(parse_ok, one result per evaluated check), sorted by resource and check id."""
        # optional dependency (the security extra); importing it takes ~2 s (measured)
        from checkov.cloudformation.runner import Runner
        from checkov.runner_filter import RunnerFilter

        # Runner.run reads files only; a fresh Runner per template (~2 ms) carries nothing over.
        with tempfile.TemporaryDirectory(prefix="security-") as folder:
            path = os.path.join(folder, _FILE_NAME)
            with open(path, "w", encoding="utf-8", errors="replace") as handle:
                handle.write(text)
            ran = Runner().run(
                root_folder=None,
                files=[path],
                runner_filter=RunnerFilter(framework=["cloudformation"], show_progress_bar=False),
            )
        reports = ran if isinstance(ran, list) else [ran]
        checks = [
            CheckResult(
                check_id=str(record.check_id),
                passed=passed,
                description=str(record.check_name),
                resource=str(record.resource),  # "AWS::S3::Bucket.LogicalId"
                source=SOURCE,
            )
            for report in reports
            for passed, records in ((True, report.passed_checks), (False, report.failed_checks))
            for record in records
        ]
        checks.sort(key=lambda c: (c.resource or "", c.check_id, c.passed))
        # checkov also rejects well-formed templates it cannot model (Properties not a mapping,
        # a dot in a logical id): those get no checks but still parse, as they do for cfn-lint
        parse_ok = not any(report.parsing_errors for report in reports) or _loads(text)
        return parse_ok, checks


# ---- worker process side ------------------------------------------------------------------

_WORKER_CHECKER: WarmChecker | None = None


def _init_worker() -> None:
    global _WORKER_CHECKER
    _WORKER_CHECKER = WarmChecker()


def _check_in_worker(text: str) -> tuple[bool, list[CheckResult]]:
    assert _WORKER_CHECKER is not None, "worker was not initialised"
    return _WORKER_CHECKER.check(text)


# ---- parent process side ------------------------------------------------------------------


class SecurityValidator:
    """Checkov's CloudFormation checks in a pool of warm worker processes."""

    name = "security"
    gating = False

    def __init__(self, workers: int = 1, task_timeout_s: float = 60.0) -> None:

        self.task_timeout_s = task_timeout_s
        self._pool = ProcessPool(
            max_workers=workers,
            initializer=_init_worker,
            context=multiprocessing.get_context("spawn"),
        )

    async def validate(
        self, template: str, problem: Any = None, attempt: AttemptRef | None = None
    ) -> ValidationResult:
        try:
            future = self._pool.schedule(
                _check_in_worker, args=(template,), timeout=self.task_timeout_s
            )
            parse_ok, checks = await asyncio.wrap_future(future)
        except TimeoutError:
            return ValidationResult(failure=f"checkov timed out after {self.task_timeout_s:g}s")
        except Exception as exc:  # a crashed worker is replaced by the pool
            return ValidationResult(failure=f"checkov failed: {type(exc).__name__}: {exc}")
        return ValidationResult(checks=checks, parse_ok=parse_ok)

    def close(self) -> None:
        self._pool.close()
        with suppress(TimeoutError):  # tasks still running (the job was interrupted): stop them
            self._pool.join(timeout=10)
        self._pool.stop()


@functools.cache
def _say_checkov_missing() -> None:
    """Log SKIP_MESSAGE; cached, so a sweep of many jobs in one process says it once."""
    log.warning(SKIP_MESSAGE)


def create_security_validator(**kwargs: Any) -> SecurityValidator | None:
    """A `SecurityValidator`, or None when checkov is not installed (said once per process)."""
    if not security_available():
        _say_checkov_missing()
        return None
    return SecurityValidator(**kwargs)
