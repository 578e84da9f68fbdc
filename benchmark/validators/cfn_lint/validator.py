"""The cfn-lint validator: warm linters in worker processes, a result cache, recorded axes.

Which cfn-lint judges and what its clock reads are settings (`lint.cfn_lint_version`,
`lint.as_of`) and columns of every row (`cfn_lint_version`, `lint_as_of`). The pinned release
lints in process; any other 1.x release lints in a cached environment of its own
(`envs`), through the same engine (`engine`) run as a script there
(`lint_pools`). The rules are built once per worker (`cfnlint.api.lint()` rebuilds them per
call, 5-8x slower); one linter is never shared across threads.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import asdict, dataclass
from datetime import date
from importlib.metadata import version
from pathlib import Path
from typing import Any

from benchmark.config import ConfigError, LintConfig
from benchmark.validators.base import PARSE_ERROR_RULE, AttemptRef, Finding, ValidationResult
from benchmark.validators.cfn_lint import engine as lint_engine
from benchmark.validators.cfn_lint.pools import ExternalPool, InProcessPool, LintPool

CFN_LINT_VERSION = version("cfn-lint")  # the installed release, which lints in process
DEFAULT_ENVS_DIR = LintConfig().envs_dir


@dataclass(frozen=True)
class LintSettings:
    """What cfn-lint is told. Regions are always explicit; no .cfnlintrc is ever read."""

    regions: tuple[str, ...] = ("us-east-1",)
    ignore_checks: tuple[str, ...] = ()
    include_checks: tuple[str, ...] = ()
    # Rules the template's own `Metadata: cfn-lint: config` may not silence. None means every
    # rule at a counted level that the settings above do not ignore (no lint-washing).
    mandatory_checks: tuple[str, ...] | None = None
    as_of: date | None = None  # the day cfn-lint's clock is frozen to; None: the real clock

    @classmethod
    def from_config(cls, lint: LintConfig) -> LintSettings:
        return cls(
            regions=tuple(lint.regions),
            ignore_checks=tuple(lint.ignore_checks),
            include_checks=tuple(lint.include_checks),
            as_of=lint.as_of,
        )

    def engine_settings(self) -> dict[str, Any]:
        """These settings as the engine takes them (plain JSON data)."""
        data = asdict(self)
        data["as_of"] = self.as_of.isoformat() if self.as_of else None
        return data

    def key(self) -> str:
        return json.dumps(self.engine_settings(), sort_keys=True)


def finding_from_dict(data: dict[str, Any]) -> Finding:
    return Finding(**{**data, "path": tuple(data["path"])})


def finding_from_match(match: Any) -> Finding:
    return finding_from_dict(lint_engine.match_to_dict(match))


class WarmLinter:
    """The installed cfn-lint's rules, built once, applied to many templates, in this process.
    One per process, one thread."""

    def __init__(self, settings: LintSettings) -> None:
        self.settings = settings
        self.engine = lint_engine.Engine(settings.engine_settings())

    @property
    def mandatory(self) -> list[str]:
        return self.engine.mandatory

    def lint_dated(self, text: str) -> tuple[list[Finding], date]:
        """Findings and the date cfn-lint's clock read."""
        found, as_of = self.engine.lint(text)
        return [finding_from_dict(f) for f in found], as_of

    def lint(self, text: str) -> list[Finding]:
        return self.lint_dated(text)[0]


def lint_columns(cfn_lint_version: str, lint_as_of: date | None) -> dict[str, Any]:
    """The `attempts` columns naming the linter that judged a row. A row nothing linted (the
    model's call failed, the linter failed) gets the configured version and no date."""
    return {"cfn_lint_version": cfn_lint_version, "lint_as_of": lint_as_of}


def linter_label(cfn_lint_version: Any, lint_as_of: Any) -> str | None:
    """How a row names the linter behind its findings or its feedback: "cfn-lint 1.58.0 @
    2026-12-01" (None where nothing linted it: no date)."""
    if not cfn_lint_version or lint_as_of is None or lint_as_of != lint_as_of:  # NaN: no date
        return None
    day = lint_as_of.isoformat() if hasattr(lint_as_of, "isoformat") else str(lint_as_of)
    return f"cfn-lint {cfn_lint_version} @ {day[:10]}"


def settings_problems(description: dict[str, Any], settings: LintSettings) -> list[str]:
    """What this release of cfn-lint would reject in `settings`, one line each: a region it
    does not know, a check entry matching none of its rule ids (by prefix, as cfn-lint
    matches them)."""
    release = f"cfn-lint {description['cfn_lint_version']}"
    regions = set(description["regions"])
    problems = [
        f"config error at 'lint.regions': {release} does not know region {region!r}"
        for region in settings.regions
        if region not in regions and region != "ALL_REGIONS"
    ]
    rule_ids: list[str] = description["rule_ids"]
    for key in ("ignore_checks", "include_checks"):
        for entry in getattr(settings, key):
            if not entry:
                problems.append(f"config error at 'lint.{key}': an empty entry matches every rule")
            elif not any(rule_id.startswith(entry) for rule_id in rule_ids):
                problems.append(
                    f"config error at 'lint.{key}': {entry!r} matches no rule of {release}"
                )
    return problems


@dataclass
class LintStats:
    calls: int = 0
    cache_hits: int = 0
    failures: int = 0


class CfnLintValidator:
    """The cfn-lint validator: lints in a pool of warm workers of the configured release,
    caches by content, release, clock date and settings."""

    name = "cfn-lint"
    gating = True

    def __init__(
        self,
        settings: LintSettings | None = None,
        workers: int = 2,
        task_timeout_s: float = 60.0,
        cache_size: int = 4096,
        cfn_lint_version: str | None = None,
        envs_dir: str | Path = DEFAULT_ENVS_DIR,
    ) -> None:
        self.settings = settings or LintSettings()
        self.version = cfn_lint_version or CFN_LINT_VERSION
        self.task_timeout_s = task_timeout_s
        self.stats = LintStats()
        self.description: dict[str, Any] | None = None  # set by prepare()
        self._cache: OrderedDict[str, tuple[list[Finding], date]] = OrderedDict()
        self._cache_size = cache_size
        self._settings_key = self.settings.key()
        engine_settings = self.settings.engine_settings()
        self._pool: LintPool = (
            InProcessPool(engine_settings, workers)
            if self.version == CFN_LINT_VERSION
            else ExternalPool(self.version, envs_dir, engine_settings, workers)
        )

    @classmethod
    def from_config(cls, lint: LintConfig) -> CfnLintValidator:
        return cls(
            LintSettings.from_config(lint),
            workers=lint.workers,
            task_timeout_s=lint.task_timeout_s,
            cache_size=lint.cache_size,
            cfn_lint_version=lint.resolved_version,
            envs_dir=lint.envs_dir,
        )

    async def prepare(self) -> None:
        """Start a warm worker (building the release's environment on first use) and refuse,
        with one line, settings that release would reject. Awaited before any chain starts."""
        try:
            description = await self._pool.describe()
        except ConfigError:
            raise
        except Exception as exc:  # a worker that cannot start would fail every attempt
            reason = (str(exc).strip().splitlines() or [""])[0]
            raise ConfigError(
                f"config error at 'lint': cfn-lint {self.version} could not start a worker: "
                f"{type(exc).__name__}: {reason}"
            ) from None
        if description["cfn_lint_version"] != self.version:
            raise ConfigError(
                f"config error at 'lint.cfn_lint_version': asked for {self.version}, "
                f"the worker runs {description['cfn_lint_version']}"
            )
        problems = settings_problems(description, self.settings)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise ConfigError(problems[0] + more)
        self.description = description

    def cache_key(self, text: str, as_of: date) -> str:
        digest = hashlib.sha256()
        for part in (text, self.version, as_of.isoformat(), self._settings_key):
            digest.update(part.encode("utf-8", "surrogatepass"))
            digest.update(b"\0")
        return digest.hexdigest()

    async def lint_dated(self, text: str) -> tuple[list[Finding], date]:
        """Findings for `text` and the date cfn-lint's clock read; raises TimeoutError or the
        worker's exception on failure."""
        self.stats.calls += 1
        key = self.cache_key(text, self.settings.as_of or date.today())
        if key in self._cache:
            self._cache.move_to_end(key)
            self.stats.cache_hits += 1
            return self._cache[key]
        found, as_of = await self._pool.lint(text, self.task_timeout_s)
        result = [finding_from_dict(f) for f in found], as_of
        self._cache[self.cache_key(text, as_of)] = result
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return result

    async def lint(self, text: str) -> list[Finding]:
        return (await self.lint_dated(text))[0]

    async def validate(
        self, template: str, problem: Any = None, attempt: AttemptRef | None = None
    ) -> ValidationResult:
        try:
            findings, as_of = await self.lint_dated(template)
        except TimeoutError:
            self.stats.failures += 1
            return ValidationResult(failure=f"cfn-lint timed out after {self.task_timeout_s:g}s")
        except ConfigError as exc:  # the release's environment could not be built
            self.stats.failures += 1
            return ValidationResult(failure=str(exc))
        except Exception as exc:  # a crashed worker is replaced by the pool
            self.stats.failures += 1
            return ValidationResult(failure=f"cfn-lint failed: {type(exc).__name__}: {exc}")
        parse_ok = not any(f.rule_id == PARSE_ERROR_RULE for f in findings)
        return ValidationResult(
            findings=findings, parse_ok=parse_ok, provenance=lint_columns(self.version, as_of)
        )

    def close(self) -> None:
        self._pool.close()
