"""Shared pytest fixtures."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmark.config import ConfigError
from benchmark.validators.cfn_lint.envs import ensure_env
from benchmark.validators.cfn_lint.result_cache import PATH_ENV as LINT_CACHE_ENV
from benchmark.validators.cfn_lint.validator import LintSettings, WarmLinter
from tests.loopback import LoopbackServer
from tests.loopback_tls import TlsFiles, self_signed


@pytest.fixture(scope="session", autouse=True)
def session_lint_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One persistent lint cache for the session (`$IACBENCH_LINT_CACHE`, over the default
    `lint.cache_path`): jobs, check-datasets and site checks lint each reference template once
    per session, not once per test, and never touch runs/.cache. Under `pytest -n` the workers
    of one session share it (SQLite, several writers). Tests of linting itself use no cache
    (a WarmLinter or CfnLintValidator built without one) or one of their own."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    path = shared / "lint-cache" / "lint.sqlite"
    saved = os.environ.get(LINT_CACHE_ENV)
    os.environ[LINT_CACHE_ENV] = str(path)
    yield path
    if saved is None:
        os.environ.pop(LINT_CACHE_ENV, None)
    else:
        os.environ[LINT_CACHE_ENV] = saved


@pytest.fixture(scope="session")
def warm_linter() -> WarmLinter:
    """The pinned cfn-lint with the default settings, its rules built once for the session
    (about 1.5 s a build): for tests that lint with the defaults. One thread, as always."""
    return WarmLinter(LintSettings())


# Another cfn-lint release, in an environment of its own (1.3.5 to 1.5.0, with the clock between
# 2024-07-09 and 2024-10-13, reproduce the paper authors' recorded findings).
OTHER_CFN_LINT = "1.3.5"
# A test that needs OTHER_CFN_LINT times only its own body: the environment is built (once, from
# the package index, minutes) by the session fixture below, whose time no test is charged with.
ENV_BUILT_BY_FIXTURE = pytest.mark.timeout(300, func_only=True)


@pytest.fixture(scope="session")
def cfn_lint_envs() -> Path:
    """Where other releases' environments live: the harness's own cache, reused by later
    sessions and by `make bench` (`$CFN_LINT_TEST_ENVS` to put them elsewhere)."""
    root = Path(__file__).resolve().parent.parent
    return Path(os.environ.get("CFN_LINT_TEST_ENVS", root / "runs" / ".cache" / "cfn-lint"))


@pytest.fixture(scope="session")
def other_cfn_lint(cfn_lint_envs: Path) -> Path:
    """The Python of OTHER_CFN_LINT's environment, built on first use (under `pytest -n`, by
    the first worker to ask while the others wait on its lock). Building it needs the package
    index: when that fails, the tests that need it skip, naming the installer's reason."""
    try:
        return ensure_env(OTHER_CFN_LINT, cfn_lint_envs)
    except ConfigError as exc:
        pytest.skip(f"needs cfn-lint {OTHER_CFN_LINT} from the package index: {exc}")


@pytest.fixture
def loopback() -> Iterator[Callable[..., LoopbackServer]]:
    """Factory: `loopback(replies, latency_s=..., faults=..., usage=...)` -> a running
    LoopbackServer (see tests/loopback.py); every server started is stopped at teardown.

    `faults` is a hook `(body, path, seen) -> Fault | None` decided by what a request is (such
    as `Fault.random_rate(0.2, kinds, seed=0)`), or {call_index: Fault} for sequential clients;
    faults include `Fault(status)`, `Fault.hang(s)`, `Fault.reset()` and `Fault.truncated()`."""
    servers: list[LoopbackServer] = []

    def start(*args: Any, **kwargs: Any) -> LoopbackServer:
        server = LoopbackServer(*args, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def loopback_tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A certificate for `loopback(..., tls=loopback_tls)`; clients trust `loopback_tls.cert`."""
    return self_signed(tmp_path_factory.mktemp("tls"))


# Dummy credentials for the local CloudFormation endpoints (moto's server, tests/cfn_loopback.py):
# boto3 signs every request, so the standard chain must find something.
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "AKIAFAKEDEPLOYTEST01",
    "AWS_SECRET_ACCESS_KEY": "fake-secret-DEPLOYTEST-0123456789abcdef",
}


@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Dummy credentials in the environment, and no profile or instance role to fall back on."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name, value in FAKE_AWS.items():
        monkeypatch.setenv(name, value)
    return FAKE_AWS


def warm_validate_template() -> Callable[[str], list[Any]]:
    """moto's ValidateTemplate lint (cfn-lint's rules, us-east-1) with the rules built once.

    moto builds every rule afresh on each call (~0.8 s, most of a deploy test's time). The same
    rules and lint, built on first use; one call at a time, as one rules collection is never
    shared across the server's threads."""
    lock = threading.Lock()
    rules: list[Any] = []

    def validate(template: str) -> list[Any]:
        from cfnlint.api import lint

        with lock:
            if not rules:
                from cfnlint.config import configure_logging
                from cfnlint.core import get_rules

                configure_logging(None, False)
                rules.append(get_rules([], [], []))
            return lint(template, rules[0], ["us-east-1"])

    return validate


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's CloudFormation (and the services its stacks create) on 127.0.0.1: the URL."""
    import moto.cloudformation.models
    from moto.server import ThreadedMotoServer

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            moto.cloudformation.models, "validate_template_cfn_lint", warm_validate_template()
        )
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
        server.stop()


@pytest.fixture
def moto_url(moto_server: str, fake_aws: dict[str, str]) -> str:
    """A freshly reset moto server, with dummy credentials set."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"))
    return moto_server
