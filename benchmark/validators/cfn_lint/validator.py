"""The cfn-lint validator: warm linters in worker processes, result caches, recorded axes.

Which cfn-lint judges and what its clock reads are settings (`lint.cfn_lint_version`,
`lint.as_of`) and columns of every row (`cfn_lint_version`, `lint_as_of`). The pinned release
lints in process; any other 1.x release lints in a cached environment of its own
(`envs`), through the same engine (`engine`) run as a script there
(`lint_pools`). The rules are built once per worker (`cfnlint.api.lint()` rebuilds them per
call, 5-8x slower); one linter is never shared across threads. Results are cached in memory
(`lint.cache_size`) and on disk across processes (`result_cache`, `lint.cache`); a row says
whether its findings came from a cache (`lint_cached`).
"""

from __future__ import annotations

import asyncio
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
from benchmark.validators.cfn_lint.result_cache import (
    LintCache,
    Linter,
    env_package_dir,
    installed_package_dir,
    resolve_path,
    rules_digest,
)

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


def open_cache(lint: LintConfig) -> LintCache | None:
    """The persistent lint cache the config names; None with `lint.cache=off`."""
    if lint.cache == "off":
        return None
    return LintCache(resolve_path(lint.cache_path), max_entries=lint.cache_max_entries)


def default_cache() -> LintCache:
    """The persistent lint cache at its default place, for the commands without a config
    (check-datasets, the site checks)."""
    cache = open_cache(LintConfig())
    assert cache is not None
    return cache


class WarmLinter:
    """The installed cfn-lint's rules, built once (on the first template no cache answers),
    applied to many templates, in this process. One per process, one thread."""

    def __init__(self, settings: LintSettings, cache: LintCache | None = None) -> None:
        self.settings = settings
        self.cache = cache
        self.linted = 0  # templates the engine linted (not answered by the cache)
        self._engine: lint_engine.Engine | None = None
        self._linter: Linter | None = None

    @property
    def engine(self) -> lint_engine.Engine:
        if self._engine is None:
            self._engine = lint_engine.Engine(self.settings.engine_settings())
        return self._engine

    @property
    def mandatory(self) -> list[str]:
        return self.engine.mandatory

    def lint_dated(self, text: str) -> tuple[list[Finding], date]:
        """Findings and the date cfn-lint's clock read."""
        if self.cache is None:
            found, as_of = self.engine.lint(text)
            self.linted += 1
            return [finding_from_dict(f) for f in found], as_of
        if self._linter is None:
            digest = rules_digest(installed_package_dir())
            self._linter = Linter(CFN_LINT_VERSION, digest, self.settings.key())
        stored = self.cache.get(self._linter.key(text, self.settings.as_of or date.today()))
        if stored is not None:
            found, as_of = stored
        else:
            found, as_of = self.engine.lint(text)
            self.linted += 1
            self.cache.put(self._linter.key(text, as_of), found, as_of)
        return [finding_from_dict(f) for f in found], as_of

    def lint(self, text: str) -> list[Finding]:
        return self.lint_dated(text)[0]


def lint_columns(
    cfn_lint_version: str, lint_as_of: date | None, lint_cached: bool | None = None
) -> dict[str, Any]:
    """The `attempts` columns naming the linter that judged a row and whether a cache answered.
    A row nothing linted (the model's call failed, the linter failed) gets the configured
    version, no date and no cache flag."""
    return {
        "cfn_lint_version": cfn_lint_version,
        "lint_as_of": lint_as_of,
        "lint_cached": lint_cached,
    }


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
    cache_hits: int = 0  # answered from this process's memory or the persistent cache
    persistent_hits: int = 0  # of them, by the persistent cache
    linted: int = 0  # sent to a worker: the lint calls the caches did not spare
    failures: int = 0


class CfnLintValidator:
    """The cfn-lint validator: lints in a pool of warm workers of the configured release,
    caches by content, release (and its rule set), clock date and settings: in memory, and in
    `result_cache` (a LintCache, shared with other processes; None: none)."""

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
        result_cache: LintCache | None = None,
    ) -> None:
        self.settings = settings or LintSettings()
        self.version = cfn_lint_version or CFN_LINT_VERSION
        self.task_timeout_s = task_timeout_s
        self.stats = LintStats()
        self.description: dict[str, Any] | None = None  # set by prepare()
        self._cache: OrderedDict[str, tuple[list[Finding], date]] = OrderedDict()
        self._cache_size = cache_size
        self._settings_key = self.settings.key()
        self.result_cache = result_cache
        self._linter: Linter | None = None  # the persistent cache's key maker, on first use
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
            result_cache=open_cache(lint),
        )

    async def prepare(self) -> None:
        """Start a warm worker (building the release's environment on first use) and refuse,
        with one line, settings that release would reject. Awaited before any chain starts.
        The persistent cache keeps what a release and rule set describe, so a run it answers
        whole starts no worker at all."""
        try:
            description = await self._described()
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

    async def _described(self) -> dict[str, Any]:
        """What the release knows (version, regions, rule ids): from the cache, else a worker."""
        if self.result_cache is None:
            return await self._pool.describe()
        key = (await self.linter()).key("", date.min)  # no template: the release itself
        stored = self.result_cache.get_description(key)
        if stored is not None:
            return stored
        description = await self._pool.describe()
        self.result_cache.put_description(key, description)
        return description

    def cache_key(self, text: str, as_of: date) -> str:
        """The in-memory cache's key: this process's rule set cannot change under it, so the
        persistent cache's rule set digest (`linter()`) is left out."""
        return Linter(self.version, "", self._settings_key).key(text, as_of)

    async def linter(self) -> Linter:
        """What judges here, for keys: the release, its installed rule set, the settings."""
        if self._linter is None:
            pool = self._pool
            if isinstance(pool, ExternalPool):  # its environment may be built here
                package = env_package_dir(await asyncio.to_thread(lambda: pool.python))
            else:
                package = installed_package_dir()
            digest = await asyncio.to_thread(rules_digest, package)
            self._linter = Linter(self.version, digest, self._settings_key)
        return self._linter

    async def lint_cached(self, text: str) -> tuple[list[Finding], date, bool]:
        """Findings for `text`, the date cfn-lint's clock read, and whether a cache answered;
        raises TimeoutError or the worker's exception on failure."""
        self.stats.calls += 1
        day = self.settings.as_of or date.today()
        key = self.cache_key(text, day)
        if key in self._cache:
            self._cache.move_to_end(key)
            self.stats.cache_hits += 1
            return (*self._cache[key], True)
        stored = None
        if self.result_cache is not None:
            linter = await self.linter()
            stored = self.result_cache.get(linter.key(text, day))
        if stored is not None:
            self.stats.cache_hits += 1
            self.stats.persistent_hits += 1
            found, as_of = stored
        else:
            self.stats.linted += 1
            found, as_of = await self._pool.lint(text, self.task_timeout_s)
            if self.result_cache is not None:
                self.result_cache.put((await self.linter()).key(text, as_of), found, as_of)
        result = [finding_from_dict(f) for f in found], as_of
        self._cache[self.cache_key(text, as_of)] = result
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return (*result, stored is not None)

    async def lint_dated(self, text: str) -> tuple[list[Finding], date]:
        """Findings for `text` and the date cfn-lint's clock read."""
        findings, as_of, _ = await self.lint_cached(text)
        return findings, as_of

    async def lint(self, text: str) -> list[Finding]:
        return (await self.lint_dated(text))[0]

    async def validate(
        self, template: str, problem: Any = None, attempt: AttemptRef | None = None
    ) -> ValidationResult:
        try:
            findings, as_of, cached = await self.lint_cached(template)
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
            findings=findings,
            parse_ok=parse_ok,
            provenance=lint_columns(self.version, as_of, cached),
        )

    def close(self) -> None:
        self._pool.close()
        if self.result_cache is not None:
            self.result_cache.close()
