"""Each wall of the CDK sandbox, proven with real bubblewrap (and unshare) and real aws_cdk.

Model code runs inside `AppStack.__init__`, as a model's would. The file walls are bwrap's
only: `unshare` does not wall files (benchmark/validators/cdk/sandbox.py), so those tests run
for bwrap alone.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmark.validators.cdk import sandbox
from benchmark.validators.cdk.sandbox import ROOT
from tests.cdk_sandboxes import BUCKET_APP, Running, app, running_pool

SECRETS = {"AWS_SECRET_ACCESS_KEY": "aws-secret-4242", "OPENAI_API_KEY": "sk-test-4242"}


@pytest.fixture(scope="module", params=["bwrap", "unshare"])
def walled(request: pytest.FixtureRequest) -> Iterator[Running]:
    with pytest.MonkeyPatch.context() as patch:
        for key, value in SECRETS.items():
            patch.setenv(key, value)  # in the parent's environment when the workers start
        with running_pool(request.param) as running:
            yield running


@pytest.fixture(scope="module")
def bwrapped(walled: Running) -> Running:
    if walled.pool.kind != "bwrap":
        pytest.skip("unshare does not wall files (documented in sandbox.py)")
    return walled


def output(name: str, value: str) -> str:
    return f'cdk.CfnOutput(self, "{name}", value={value})'


def outputs(template: str) -> dict[str, str]:
    return {k: v["Value"] for k, v in json.loads(template).get("Outputs", {}).items()}


pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cdk-sandbox")]


def test_a_clean_app_synthesizes(walled: Running) -> None:
    outcome = walled.synth(BUCKET_APP)
    assert outcome.status == "ok", outcome
    assert "AWS::S3::Bucket" in (outcome.template or "")
    assert outcome.sandbox == walled.pool.kind


def test_no_network(walled: Running) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        code = app(f'import socket\nsocket.create_connection(("127.0.0.1", {port}), timeout=5)')
        outcome = walled.synth(code)
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing ever connected
    assert outcome.status == "python_error", outcome
    assert outcome.error_type in {"ConnectionRefusedError", "OSError"}


def test_no_secrets_in_the_environment(walled: Running) -> None:
    body = "import os\n" + output("Keys", '",".join(sorted(os.environ))') + "\n"
    body += "\n".join(output(k.replace("_", ""), f'os.environ.get("{k}", "none")') for k in SECRETS)
    outcome = walled.synth(app(body))
    assert outcome.status == "ok", outcome
    values = outputs(outcome.template or "")
    assert values["AWSSECRETACCESSKEY"] == values["OPENAIAPIKEY"] == "none"
    keys = values["Keys"].split(",")
    assert not [k for k in keys if k.startswith("AWS_") or k.endswith("_API_KEY")]
    assert "JSII_NODE" in keys


def test_an_infinite_loop_ends_at_the_cpu_limit(walled: Running) -> None:
    outcome = walled.synth(app("while True:\n    pass"))
    assert (outcome.status, outcome.limit) == ("limit", "cpu"), outcome
    assert walled.synth(BUCKET_APP).status == "ok"  # the pool goes on


def test_a_sleep_ends_at_the_wall_clock(walled: Running) -> None:
    outcome = walled.synth(app("import time\ntime.sleep(3600)"))
    assert (outcome.status, outcome.limit) == ("limit", "wall"), outcome
    assert walled.synth(BUCKET_APP).status == "ok"


def test_a_fork_bomb_ends_at_the_process_limit(walled: Running) -> None:
    outcome = walled.synth(app("import os\nwhile True:\n    os.fork()"))
    assert (outcome.status, outcome.limit) == ("limit", "processes"), outcome
    assert walled.synth(BUCKET_APP).status == "ok"  # the host and the pool are fine


def test_a_memory_hog_ends_at_the_memory_limit(walled: Running) -> None:
    outcome = walled.synth(app('hog = []\nwhile True:\n    hog.append(b"x" * 2**26)'))
    assert (outcome.status, outcome.limit) == ("limit", "memory"), outcome
    assert walled.synth(BUCKET_APP).status == "ok"


def test_a_huge_file_ends_at_the_file_size_limit(walled: Running) -> None:
    code = app('with open("big.bin", "wb") as f:\n    f.write(b"x" * 2**24)')
    outcome = walled.synth(code)
    assert (outcome.status, outcome.limit) == ("limit", "file_size"), outcome


def test_no_file_outside_its_folder_can_be_read(bwrapped: Running, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the-host-secret")
    for path in (secret, Path("/etc/passwd"), ROOT / "pyproject.toml"):
        outcome = bwrapped.synth(app(output("Secret", f"open({str(path)!r}).read()")))
        assert outcome.status == "python_error", (path, outcome)
        assert outcome.error_type == "FileNotFoundError"
    assert "the-host-secret" not in json.dumps(outcome.to_dict())


def test_nothing_outside_its_folder_can_be_written(bwrapped: Running, tmp_path: Path) -> None:
    targets = [tmp_path / "escaped.txt", Path(sandbox.__file__).with_name("escaped.py")]
    targets.append(bwrapped.pool.settings.cache_dir / "escaped.txt")
    for target in targets:
        outcome = bwrapped.synth(app(f"open({str(target)!r}, 'w').write('x')"))
        assert outcome.status == "python_error", (target, outcome)
        assert outcome.error_type in {"FileNotFoundError", "OSError", "PermissionError"}
        assert not target.exists()
