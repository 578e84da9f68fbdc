"""The warm synth pool: isolation between templates, how bad code is classified, a dead worker
replaced, close() leaving nothing behind; and the plain pieces (SynthOutcome, cdk_available,
resolved_kind) without a sandbox."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmark.validators.cdk import sandbox
from benchmark.validators.cdk.outcome import SynthOutcome
from benchmark.validators.cdk.pool import SynthPool
from benchmark.validators.cdk.sandbox import SandboxError, SandboxSettings
from tests.cdk_sandboxes import BUCKET_APP, Running, app, running_pool

pytestmark = pytest.mark.xdist_group("cdk-pool")  # one test process starts the warm worker


@pytest.fixture(scope="module")
def warm() -> Iterator[Running]:
    with running_pool("bwrap", workers=1) as running:
        yield running


MONKEYPATCH_APP = app(
    "",
    head="""import sys
cdk.Stack.to_json_string = lambda self, obj, space=None: "patched"
s3.Bucket.__init__ = lambda *args, **kwargs: (_ for _ in ()).throw(RuntimeError("patched"))
sys.modules["aws_cdk.aws_sqs"] = None
""",
)
SQS_APP = app('from aws_cdk import aws_sqs as sqs\nsqs.Queue(self, "Queue")')


@pytest.mark.slow
def test_monkeypatch_does_not_reach_the_next_template(warm: Running) -> None:
    patched = warm.synth(MONKEYPATCH_APP)
    assert (patched.status, patched.message) == ("python_error", "patched")
    recycled = warm.pool.stats.recycled
    after = warm.synth(SQS_APP)  # the same worker: nothing was recycled in between
    assert warm.pool.stats.recycled == recycled
    assert after.status == "ok", after
    assert "AWS::S3::Bucket" in (after.template or "") and "AWS::SQS::Queue" in after.template


CLASSIFIED = {
    "misspelt keyword": (
        app('s3.Bucket(self, "Logs", versioned_typo=True)'),
        ("python_error", "TypeError", 9),
    ),
    "wrong enum constant": (
        app('s3.Bucket(self, "Logs", encryption=s3.BucketEncryption.S3_MANAGED_TYPO)'),
        ("python_error", "AttributeError", 9),
    ),
    "invalid bucket name": (
        app('s3.Bucket(self, "Logs", bucket_name="Bad_Name")'),
        ("cdk_error", "RuntimeError", 9),
    ),
    "the model's own RuntimeError": (  # a RuntimeError that does not come out of jsii
        app('raise RuntimeError("mine")'),
        ("python_error", "RuntimeError", 9),
    ),
    "syntax error": (app("x = (1,\ny = 2"), ("syntax_error", "SyntaxError", 9)),
    "no AppStack": ("import aws_cdk as cdk\n\nclass Other(cdk.Stack):\n    pass\n", None),
    "own App": (app("", head="app = cdk.App()"), None),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", CLASSIFIED)
def test_bad_code_is_classified_as_an_outcome(warm: Running, case: str) -> None:
    code, expected = CLASSIFIED[case]
    outcome = warm.synth(code)
    if expected is None:
        assert outcome.status == "contract_error", outcome
        return
    status, error_type, line = expected
    assert outcome.status == status, outcome
    if error_type is not None:
        assert outcome.error_type == error_type
    assert outcome.line == line
    assert "/tmp/" not in outcome.message and "site-packages" not in outcome.message


@pytest.mark.slow
def test_annotations_come_back_with_the_template(warm: Running) -> None:
    code = app('cdk.Annotations.of(self).add_warning("look here")')
    outcome = warm.synth(code)
    assert outcome.status == "ok", outcome
    assert {"level": "warning", "path": "/AppStack", "message": "look here"} in outcome.annotations


@pytest.mark.slow
def test_a_worker_that_died_is_replaced(warm: Running) -> None:
    starts = warm.pool.stats.cold_starts
    died = warm.synth(app("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"))
    assert (died.status, died.error_type) == ("python_error", "ProcessExit"), died
    assert warm.pool.stats.cold_starts == starts + 1
    assert warm.synth(BUCKET_APP).status == "ok"


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_pool_that_cannot_replace_its_last_worker_fails_instead_of_waiting() -> None:
    """The replacement of a dead worker cannot start (here: by test); the synth that killed it
    fails in one line, and so does every later synth, instead of waiting for an idle worker
    that will never come."""
    with running_pool("bwrap", workers=1) as running:
        pool = running.pool

        async def cannot_start(mode: str) -> None:
            raise SandboxError("the bwrap synth worker did not start: (test)")

        pool._ready = cannot_start  # type: ignore[method-assign]
        with pytest.raises(SandboxError, match="did not start"):
            running.synth(app("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"))
        with pytest.raises(SandboxError, match=r"no synth worker is left: .*did not start"):
            running.synth(BUCKET_APP)


@pytest.mark.slow
def test_close_removes_workers_cgroups_and_scratch() -> None:
    with running_pool("bwrap", workers=1) as running:
        pool = running.pool
        worker = next(iter(pool._all))
        cgroups, root, pid = list(worker.cgroup.dirs.values()), pool._root, worker.proc.pid
        assert running.synth(BUCKET_APP).status == "ok"
        pool.close()
    assert cgroups and not any(path.exists() for path in cgroups)
    assert not root.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_outcome_round_trips_through_a_dict() -> None:
    outcome = SynthOutcome(
        "ok",
        template="{}",
        annotations=({"level": "warning", "path": "/AppStack", "message": "m"},),
        seconds=0.5,
        sandbox="bwrap",
    )
    assert SynthOutcome.from_dict(outcome.to_dict()) == outcome
    assert SynthOutcome.from_dict({"status": "limit", "limit": "cpu", "extra": 1}).limit == "cpu"


def test_cdk_available_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "_installed", lambda module: module != "aws_cdk")
    reason = sandbox.cdk_available()
    assert reason is not None and "\n" not in reason
    assert "aws_cdk" in reason and "make install EXTRAS=dev,cdk" in reason


def test_start_says_in_one_line_when_cdk_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "_installed", lambda module: False)
    monkeypatch.setattr("benchmark.validators.cdk.pool.cdk_available", sandbox.cdk_available)
    before = set(Path(tempfile.gettempdir()).glob("iacbench-cdk-*"))
    with pytest.raises(SandboxError, match="make install EXTRAS=dev,cdk"):
        asyncio.run(SynthPool(SandboxSettings(), 1).start())
    assert set(Path(tempfile.gettempdir()).glob("iacbench-cdk-*")) == before  # nothing left


@pytest.mark.slow
def test_two_workers_answer_concurrent_synths() -> None:
    with running_pool("bwrap", workers=2) as running:
        pool = running.pool

        async def four() -> list[SynthOutcome]:
            return await asyncio.gather(*(pool.synth(BUCKET_APP) for _ in range(4)))

        outcomes = running.loop.run_until_complete(four())
        assert [o.status for o in outcomes] == ["ok"] * 4
        assert (pool.stats.synths, pool.stats.cold_starts, pool.stats.recycled) == (4, 2, 0)


def test_resolved_kind_says_in_one_line_when_no_sandbox_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sandbox, "_works", lambda kind: False)
    with pytest.raises(SandboxError) as raised:
        sandbox.resolved_kind(SandboxSettings())
    assert "\n" not in str(raised.value) and "bubblewrap" in str(raised.value)


def test_the_bwrap_command_passes_no_secret_and_cuts_everything(
    monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-4242")
    command = sandbox.bwrap_command(["python"], tmp_path, tmp_path / "cache", {})
    walls = ["--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]
    assert command[: len(walls) + 1] == ["bwrap", *walls]
    assert not any("aws-secret" in part or part.startswith("AWS_") for part in command)
    assert "--share-net" not in command
