"""Secrets never reach disk: key-like overrides and config values are refused before Hydra
writes anything, keys typed into `api_key_env` are refused without being echoed, credentials
in a URL are used for the calls but redacted wherever they are saved, and a secret from the
environment that a server echoes back is redacted before the reply is stored."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from benchmark.config import ConfigError
from benchmark.records.tables import read_table
from benchmark.runner.folder_lock import Holder
from benchmark.runner.hydra_job import JobInfo, run_job
from benchmark.runner.secret_guard import refusal
from benchmark.secrecy import (
    Redactor,
    is_secret_key,
    looks_like_key,
    redact_command,
    redact_urls,
)
from tests.test_config import CONF, GROUPS, settings_for

ROOT = Path(__file__).resolve().parent.parent
OPENAI_KEY = "sk-proj-Zq81mXv3Lr0pTy7WcB2nK5sD9fGh4Jk6"
CLEAN = "```yaml\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n```"


def benchmark_run(
    *overrides: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "benchmark.run", *overrides, "progress=false", "lint.workers=1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def files_holding(folder: Path, secret: str) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


@pytest.mark.parametrize(
    "key", ["api_key", "model.providers.x.apiKey", "AWS_SESSION_TOKEN", "db.password", "secret"]
)
def test_keys_that_name_a_credential_are_secret_like(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key", ["max_tokens", "cached_tokens", "prompt_cache_min_tokens", "api_key_env", "key"]
)
def test_keys_that_merely_contain_a_word_are_not(key: str) -> None:
    assert not is_secret_key(key)


@pytest.mark.parametrize(
    "value",
    [
        OPENAI_KEY,
        "sk-ant-api03-Ab3dEf6hIj9kLm2nOp5q",
        "AKIAIOSFODNN7EXAMPLE",
        "Xk9mP2qR7vL4nW8sT3yB6cF1hJ5dG0aZ",
    ],
)
def test_provider_keys_and_random_tokens_look_like_keys(value: str) -> None:
    assert looks_like_key(value)


@pytest.mark.parametrize(
    "value",
    [
        "OPENAI_API_KEY",
        "anthropic/claude-sonnet-4-5-20250929",
        "bedrock/us.anthropic.claude-3-5-sonnet-20241022-v2:0",
        "a3f9c2e1b4d5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1",  # a sha256
        "runs/2026-01-01_12-00-00",
    ],
)
def test_ordinary_settings_do_not(value: str) -> None:
    assert not looks_like_key(value)


def test_a_command_line_is_shown_without_its_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    argv = [
        "python",
        "-m",
        "benchmark.run",
        "+model.providers.openai.api_key=hunter22hunter22",
        "model.providers.openai.api_key_env=sk-proj-abcdefghijklmnopqrstuvwxyz012345",
        "+model.providers.openai_compatible.base_url=http://user:s3cret-pass@127.0.0.1:8000/v1",
        "model.max_tokens=4096",
    ]
    shown = redact_command(argv)
    for secret in ("hunter22", "sk-proj-", "s3cret-pass"):
        assert secret not in shown
    assert "model.max_tokens=4096" in shown and "http://***@127.0.0.1:8000/v1" in shown
    monkeypatch.setattr(sys, "orig_argv", argv)
    assert "s3cret-pass" not in Holder.this_process().command  # what a lock file holds


def test_url_credentials_are_redacted_to_the_last_at() -> None:
    text = "at http://user:p@ss@127.0.0.1:8/v1 and https://tok@host.example/x, not a@b.c"
    assert redact_urls(text) == (
        "at http://***@127.0.0.1:8/v1 and https://***@host.example/x, not a@b.c",
        2,
    )


def test_a_redactor_counts_what_it_hides() -> None:
    redactor = Redactor.from_environment(
        ["MY_KEY_VAR"],
        {
            "MY_KEY_VAR": "value-of-the-key",
            "AWS_SESSION_TOKEN": "session-123456",
            "HOME": "/home/me",
        },
    )
    row = {"reply": "value-of-the-key and session-123456 twice: session-123456", "n": 1}
    assert redactor.rows(row) == 3 and row["reply"] == "*** and *** twice: ***"


@pytest.mark.parametrize(
    "override",
    [f"{group}={path.stem}" for group in GROUPS for path in sorted((CONF / group).glob("*.yaml"))],
)
def test_no_shipped_config_is_mistaken_for_a_secret(override: str) -> None:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[override], return_hydra_config=True)
    assert refusal(cfg) is None


def test_a_key_in_api_key_env_is_refused_without_echo() -> None:
    with pytest.raises(ConfigError) as refused:
        settings_for(f"model.providers.openai.api_key_env={OPENAI_KEY}")
    assert "model.providers.openai.api_key_env" in str(refused.value)
    assert OPENAI_KEY not in str(refused.value) and "sk-" not in str(refused.value)


@pytest.fixture
def leaky_model_conf(tmp_path: Path) -> Path:
    """A config folder with a model config that holds a key (as a careless user might)."""
    conf = tmp_path / "conf"
    (conf / "model").mkdir(parents=True)
    (conf / "model" / "leaky.yaml").write_text(
        f"defaults:\n  - default\n  - _self_\nproviders:\n  openai:\n    api_key: {OPENAI_KEY}\n"
    )
    return conf


@pytest.mark.parametrize(
    ("mode", "overrides", "named"),
    [
        (
            "run",
            ["+model.providers.openai_compatible.api_key=" + OPENAI_KEY],
            "model.providers.openai_compatible.api_key",
        ),
        (
            "run",
            ["model.providers.openai.api_key_env=" + OPENAI_KEY],
            "model.providers.openai.api_key_env",
        ),
        (
            "multirun",
            ["model.providers.openai.api_key_env=" + OPENAI_KEY, "seed=0,1"],
            "model.providers.openai.api_key_env",
        ),
        (
            "run",
            ["model=leaky", "hydra.searchpath=[file://{conf}]"],
            "model.providers.openai.api_key",
        ),
    ],
)
def test_a_key_typed_anywhere_is_refused_before_anything_is_written(
    tmp_path: Path, leaky_model_conf: Path, mode: str, overrides: list[str], named: str
) -> None:
    runs = tmp_path / "runs"
    where = f"hydra.run.dir={runs}/r" if mode == "run" else f"hydra.sweep.dir={runs}/s"
    done = benchmark_run(
        *(["-m"] if mode == "multirun" else []),
        *(o.format(conf=leaky_model_conf) for o in overrides),
        where,
        f"cache.path={runs}/cache.sqlite",
    )
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and named in lines[0], done.stderr
    assert OPENAI_KEY not in done.stdout + done.stderr
    assert not runs.exists() or not any(runs.rglob("*")), sorted(runs.rglob("*"))


@pytest.mark.slow
def test_credentials_in_a_base_url_are_used_but_never_saved(loopback, tmp_path: Path) -> None:
    password = "Pw-never-on-disk-0042"
    server = loopback(lambda body, path: CLEAN)
    url = server.openai_base_url.replace("http://", f"http://bench:{password}@")
    sweep = tmp_path / "sweep"
    done = benchmark_run(
        "-m",
        "model.id=openai-compatible/loopback-model",
        f"model.providers.openai_compatible.base_url={url}",
        "dataset.limit=1",
        "loop.samples=1",
        "loop.max_iterations=2",
        "seed=0,1",  # two jobs: the launcher logs the second's overrides into the first's log
        f"cache.path={tmp_path / 'cache.sqlite'}",
        f"hydra.sweep.dir={sweep}",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(server.requests) >= 1 and not server.errors
    basic = base64.b64encode(f"bench:{password}".encode()).decode()
    assert all(r.headers.get("authorization") == f"Basic {basic}" for r in server.requests)
    for job in ("0", "1"):
        assert json.loads((sweep / job / "job.json").read_text())["status"] == "complete"
    saved = (sweep / "0" / ".hydra" / "config.yaml").read_text()
    assert "http://***@127.0.0.1" in saved
    assert (sweep / "multirun.yaml").exists() and (sweep / "plan.json").exists()
    assert files_holding(tmp_path, password) == []
    assert password not in done.stdout + done.stderr


def test_an_echoed_environment_secret_is_redacted_and_counted(
    loopback, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "local-server-key-7f3a9c"
    session = "aws-session-token-b81e"
    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", session)
    echo = f"Your key is {key} (session {session}).\n{CLEAN}"
    server = loopback(lambda body, path: echo)
    settings = settings_for(
        "model.id=openai-compatible/loopback-model",
        f"model.providers.openai_compatible.base_url={server.openai_base_url}",
        "dataset.limit=1",
        "loop.samples=1",
        "loop.max_iterations=1",
        "progress=false",
        "lint.workers=1",
        f"cache.path={tmp_path / 'cache' / 'responses.sqlite'}",  # scanned below too
    )
    summary = asyncio.run(run_job(settings, JobInfo("s", 0, tmp_path / "job"), key))
    assert summary.status == "complete"
    assert server.requests[0].headers["authorization"] == f"Bearer {key}"
    rows = read_table(tmp_path / "job", "attempts")
    assert len(rows) == 1 and rows["redactions"].tolist() == [2]
    assert rows["reply"][0].startswith("Your key is *** (session ***).")
    assert files_holding(tmp_path, key) == files_holding(tmp_path, session) == []
    assert (tmp_path / "cache" / "responses.sqlite").exists()  # the cache was on: nothing kept
