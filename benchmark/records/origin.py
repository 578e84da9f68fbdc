"""Where a row came from: code version, library versions, config hash."""

from __future__ import annotations

import hashlib
import json
import subprocess
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parents[2]


@cache
def package_version(package: str) -> str | None:
    """The installed release of `package` (provenance columns); None where it is not."""
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=_ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


@cache
def provenance() -> dict[str, Any]:
    """Columns shared by every row a process writes."""
    sha = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "git_sha": sha,
        "git_dirty": None if status is None else bool(status),
        "cfn_lint_version": package_version("cfn-lint"),
        "anthropic_version": package_version("anthropic"),
        "openai_version": package_version("openai"),
        "checkov_version": package_version("checkov"),
        "boto3_version": package_version("boto3"),  # Bedrock's SDK, and the deploy validator's
        "botocore_version": package_version("botocore"),  # signs and parses every AWS call
        "benchmark_version": package_version("iac-feedback-bench"),
    }


def config_hash(config: dict[str, Any]) -> str:
    """A short, stable hash of a resolved config (the same settings give the same hash)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
