"""cfn-lint in process: a warm linter per worker process, a process pool, a result cache.

The rules are built once per worker (`cfnlint.api.lint()` rebuilds them per call, 5-8x slower).
One linter is never shared across threads: each worker process owns exactly one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import multiprocessing
import os
from collections import OrderedDict
from contextlib import suppress
from dataclasses import dataclass
from datetime import date
from importlib.metadata import version
from typing import Any

from benchmark.validators.base import PARSE_ERROR_RULE, AttemptRef, Finding, ValidationResult

CFN_LINT_VERSION = version("cfn-lint")
WORKER_HASH_SEED = "0"  # some cfn-lint messages embed set order
_LEVELS = {"error": "E", "warning": "W", "informational": "I"}


@dataclass(frozen=True)
class LintSettings:
    """What cfn-lint is told. Regions are always explicit; no .cfnlintrc is ever read."""

    regions: tuple[str, ...] = ("us-east-1",)
    ignore_checks: tuple[str, ...] = ()
    include_checks: tuple[str, ...] = ()
    # Rules the template's own `Metadata: cfn-lint: config` may not silence. None means every
    # rule at a counted level that the settings above do not ignore (no lint-washing).
    mandatory_checks: tuple[str, ...] | None = None

    def key(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True, default=list)


def _config(settings: LintSettings, mandatory: list[str]) -> Any:
    from cfnlint.config import ConfigMixIn

    # --config-file pointing at nothing stops cfn-lint looking for ~/.cfnlintrc and ./.cfnlintrc
    return ConfigMixIn(
        ["--config-file", os.devnull],
        regions=list(settings.regions),
        ignore_checks=list(settings.ignore_checks),
        include_checks=list(settings.include_checks),
        mandatory_checks=mandatory,
    )


class WarmLinter:
    """cfn-lint's rules, built once, applied to many templates. One per process, one thread."""

    def __init__(self, settings: LintSettings) -> None:
        from cfnlint.runner.cli import Runner

        self.settings = settings
        self.rules = Runner(_config(settings, mandatory=[])).rules
        if settings.mandatory_checks is None:
            probe = _config(settings, mandatory=[])
            self.mandatory = sorted(
                rule_id
                for rule_id, rule in self.rules.items()
                if self.rules.is_rule_enabled(rule, probe)
            )
        else:
            self.mandatory = list(settings.mandatory_checks)

    def lint(self, text: str) -> list[Finding]:
        from cfnlint.decode.decode import decode_str
        from cfnlint.runner.template import run_template_by_data

        template, errors = decode_str(text)
        if errors:
            matches = errors
        elif template is None:
            matches = []
        else:
            config = _config(self.settings, self.mandatory)
            matches = list(run_template_by_data(template, config, self.rules))
        return [finding_from_match(m) for m in matches]


def finding_from_match(match: Any) -> Finding:
    return Finding(
        rule_id=match.rule.id,
        level=_LEVELS.get(match.rule.severity, "E"),  # type: ignore[arg-type]
        message=str(match.message),
        # cfn-lint's nodes are str/int subclasses that cannot cross a process boundary
        path=tuple(
            int(p) if isinstance(p, int) else str(p) for p in getattr(match, "path", None) or ()
        ),
        line=int(match.linenumber),
        column=int(match.columnnumber),
        end_line=int(match.linenumberend),
        end_column=int(match.columnnumberend),
    )


# ---- worker process side ------------------------------------------------------------------

_WORKER_LINTER: WarmLinter | None = None


def _init_worker(settings: LintSettings) -> None:
    global _WORKER_LINTER
    _WORKER_LINTER = WarmLinter(settings)


def _lint_in_worker(text: str) -> list[Finding]:
    assert _WORKER_LINTER is not None, "worker was not initialised"
    return _WORKER_LINTER.lint(text)


# ---- parent process side ------------------------------------------------------------------


@dataclass
class LintStats:
    calls: int = 0
    cache_hits: int = 0
    failures: int = 0


class CfnLintValidator:
    """The cfn-lint validator: lints in a pool of warm worker processes, caches by content."""

    name = "cfn-lint"
    gating = True

    def __init__(
        self,
        settings: LintSettings | None = None,
        workers: int = 2,
        task_timeout_s: float = 60.0,
        cache_size: int = 4096,
    ) -> None:
        from pebble import ProcessPool

        self.settings = settings or LintSettings()
        self.task_timeout_s = task_timeout_s
        self.stats = LintStats()
        self._cache: OrderedDict[str, list[Finding]] = OrderedDict()
        self._cache_size = cache_size
        self._settings_key = self.settings.key()
        # Workers are spawned lazily and replaced after a crash, each reading the environment as
        # it starts: the seed stays set for this process's lifetime so every worker gets it.
        os.environ["PYTHONHASHSEED"] = WORKER_HASH_SEED
        self._pool = ProcessPool(
            max_workers=workers,
            initializer=_init_worker,
            initargs=(self.settings,),
            context=multiprocessing.get_context("spawn"),
        )

    def cache_key(self, text: str) -> str:
        digest = hashlib.sha256()
        for part in (text, CFN_LINT_VERSION, self._settings_key):
            digest.update(part.encode("utf-8", "surrogatepass"))
            digest.update(b"\0")
        return digest.hexdigest()

    async def lint(self, text: str) -> list[Finding]:
        """Findings for `text`; raises TimeoutError or the worker's exception on failure."""
        key = self.cache_key(text)
        self.stats.calls += 1
        if key in self._cache:
            self._cache.move_to_end(key)
            self.stats.cache_hits += 1
            return self._cache[key]
        future = self._pool.schedule(_lint_in_worker, args=(text,), timeout=self.task_timeout_s)
        findings = await asyncio.wrap_future(future)
        self._cache[key] = findings
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return findings

    async def validate(
        self, template: str, problem: Any = None, attempt: AttemptRef | None = None
    ) -> ValidationResult:
        try:
            findings = await self.lint(template)
        except TimeoutError:
            self.stats.failures += 1
            return ValidationResult(failure=f"cfn-lint timed out after {self.task_timeout_s:g}s")
        except Exception as exc:  # a crashed worker is replaced by the pool
            self.stats.failures += 1
            return ValidationResult(failure=f"cfn-lint failed: {type(exc).__name__}: {exc}")
        parse_ok = not any(f.rule_id == PARSE_ERROR_RULE for f in findings)
        return ValidationResult(
            findings=findings,
            parse_ok=parse_ok,
            provenance={"cfn_lint_version": CFN_LINT_VERSION, "lint_as_of": date.today()},
        )

    def close(self) -> None:
        self._pool.close()
        with suppress(TimeoutError):  # tasks still running (the job was interrupted): stop them
            self._pool.join(timeout=10)
        self._pool.stop()
