"""Hydra callback that keeps secrets out of run folders (conf/config.yaml, listed first).

Hydra turns a callback's exception into a warning and goes on, so the check fails closed: a
config it cannot read is refused too.

Before anything is written (`on_run_start`, `on_multirun_start`: Hydra has made no folder yet)
a key-like override or config value is refused in one line that names the key, never the
value, with exit code 2: a key named like a credential (`api_key`, `secret`, `token`,
`password`...) or a value shaped like a provider key, in any field (`api_key_env` included).
Keys are read from the environment only (benchmark/secrecy.py says what counts).

Credentials in a URL (`base_url=https://user:pass@host/v1`, `endpoint_url`) are allowed: a
server may take no other kind, so the calls use the URL as given. Hydra itself saves the
composed config, its overrides and `multirun.yaml` before any hook can change what it saves
(the jobs of a multirun are composed again from the override strings, so rewriting the config
in memory would take the credentials from the calls too). So the saved files are rewritten,
atomically, with `***` in place of the credentials at the first hook after Hydra writes them
(`on_job_start`, which runs after a job's `.hydra/` and the sweep's `multirun.yaml` are saved),
and every log record is made with them redacted. The saved files hold the credentials only
for the moments between Hydra's write and that hook (a crash there would leave them); a key
itself is never allowed that far. What the harness writes itself
(plan.json, job.json, sweep.json, rows) is redacted where it is written. A submitit launcher
pickles each job's config into the sweep folder, out of reach of any hook: credentials in a
URL are refused there.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from benchmark.secrecy import has_url_credentials, is_secret_key, looks_like_key, redact_urls

HYDRA_FILES = ("config.yaml", "hydra.yaml", "overrides.yaml")
MULTIRUN_FILE = "multirun.yaml"
WHY = "secrets are read from the environment only, never from overrides or config files"


def _override_key(override: str) -> str:
    """`+model.providers.x.api_key@pkg=v` -> `model.providers.x.api_key`."""
    return override.partition("=")[0].lstrip("+~").partition("@")[0].strip()


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    else:
        yield path, value


def _config_leaves(config: DictConfig) -> Iterator[tuple[str, Any]]:
    """The task config's values, and the Hydra settings that are the user's (env_set, sweep
    params), unresolved: an interpolation is saved as written."""
    data = OmegaConf.to_container(config, resolve=False)
    assert isinstance(data, dict)
    hydra = data.pop("hydra", None) or {}
    yield from _leaves(data, "")
    for section in ("job", "env_set"), ("sweeper", "params"):
        node = (hydra.get(section[0]) or {}).get(section[1])
        yield from _leaves(node or {}, "hydra." + ".".join(section))


def _overrides(config: DictConfig) -> list[str]:
    overrides = config.hydra.overrides
    return [str(o) for o in [*overrides.get("task", []), *overrides.get("hydra", [])]]


def refusal(config: DictConfig) -> str | None:
    """One line naming the first override or config key that holds a secret, or None."""
    for override in _overrides(config):
        value = override.partition("=")[2]
        name = _override_key(override)
        if is_secret_key(name) and value.strip() not in ("", "null"):
            return f"refused override '{name}': a key-like setting; {WHY}"
        if looks_like_key(value):
            return f"refused override '{name}': its value looks like a key or token; {WHY}"
    for path, value in _config_leaves(config):
        if is_secret_key(path) and isinstance(value, str) and value:
            return f"refused config '{path}': a key-like setting; {WHY}"
        if looks_like_key(value):
            return f"refused config '{path}': its value looks like a key or token; {WHY}"
    launcher = str(OmegaConf.select(config, "hydra.launcher._target_", default="") or "")
    values = [*_overrides(config), *(str(v) for _, v in _config_leaves(config))]
    if "submitit" in launcher and any(has_url_credentials(v) for v in values):
        return (
            "refused: credentials in a URL would be pickled into the sweep folder by the "
            "submitit launcher; use the basic or joblib launcher, or a key from the environment"
        )
    return None


def rewrite_redacted(path: Path) -> bool:
    """Replace `path` atomically by its text with URL credentials redacted; False when it
    held none (or does not exist) and was left alone."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    redacted, found = redact_urls(text)
    if not found:
        return False
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(redacted)
    os.replace(tmp, path)
    return True


class RedactingRecordFactory:
    """Makes log records with URL credentials redacted from their message. A record factory
    rather than a handler filter: Hydra replaces every handler around each job."""

    def __init__(self, make: Callable[..., logging.LogRecord]) -> None:
        self.make = make

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.make(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed call; logging reports it when a handler formats it
            return record
        redacted, found = redact_urls(message)
        if found:
            record.msg, record.args = redacted, None
        return record


def redact_logs() -> None:
    """Redact URL credentials in every log record this process makes from now on (once)."""
    current = logging.getLogRecordFactory()
    if not isinstance(current, RedactingRecordFactory):
        logging.setLogRecordFactory(RedactingRecordFactory(current))


class SecretGuard(Callback):
    """Refuses secrets before Hydra writes anything; redacts URL credentials in what it wrote."""

    def _refuse(self, config: DictConfig) -> None:
        try:
            refused = refusal(config)
        except Exception as exc:  # Hydra turns a callback's exception into a warning: fail closed
            refused = f"refused: the secret check could not read the config ({type(exc).__name__})"
        if refused:
            print(f"error: {refused} (nothing was written)", file=sys.stderr, flush=True)
            sys.exit(2)
        redact_logs()  # Hydra's launcher logs each job's overrides

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._refuse(config)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._refuse(config)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        redact_logs()  # a launcher's worker process
        hydra = config.hydra
        if hydra.output_subdir is not None:
            saved = Path(hydra.runtime.output_dir) / str(hydra.output_subdir)
            for name in HYDRA_FILES:
                rewrite_redacted(saved / name)
        if str(hydra.mode) == "RunMode.MULTIRUN":
            rewrite_redacted(Path(hydra.sweep.dir) / MULTIRUN_FILE)
