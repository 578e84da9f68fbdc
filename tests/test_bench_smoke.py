"""Each benchmark of `python -m tests.bench` runs at a tiny size (--quick). No speed is asserted:
targets are judged only in the suite's own output (`make bench`)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.bench import lint_envs
from tests.bench.__main__ import BENCHMARKS, main
from tests.conftest import ENV_BUILT_BY_FIXTURE, OTHER_CFN_LINT

# resume reruns the sweep benchmark's finished sweep: together they share it (one job less)
GROUPS = [("sweep", "resume") if n == "sweep" else (n,) for n in BENCHMARKS if n != "resume"]


@pytest.fixture
def release_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """For lint_envs: the other release's environment, from the session fixture (at setup,
    before the test's clock starts), in the folder the benchmark reads it from."""
    if "lint_envs" in request.node.callspec.params["names"]:
        request.getfixturevalue("other_cfn_lint")
        monkeypatch.setattr(lint_envs, "RELEASE", OTHER_CFN_LINT)
        monkeypatch.setattr(lint_envs, "ENVS", request.getfixturevalue("cfn_lint_envs"))


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "names",
    # lint_envs runs another cfn-lint release: its environment comes from the session fixture
    [
        pytest.param(g, marks=ENV_BUILT_BY_FIXTURE, id=",".join(g))
        if "lint_envs" in g
        else pytest.param(g, id=",".join(g))
        for g in GROUPS
    ],
)
def test_benchmark_runs_at_a_tiny_size(
    names: tuple[str, ...], tmp_path: Path, release_env: None
) -> None:
    report = json.loads(
        main(["--only", ",".join(names), "--quick", "--out", str(tmp_path)]).read_text()
    )
    assert report["machine"]["cfn_lint_version"]
    assert list(report["sections"]) == list(names)
    by_name = {}
    for name in names:
        section = report["sections"][name]
        assert section["rows"], name
        for row in section["rows"]:
            assert math.isfinite(row["value"]), row
            assert row["name"] in report["table"]
            by_name[row["name"]] = row
    if "lint" in names:  # correctness, not speed: every way of linting finds the same
        assert by_name["lint: identical findings, all variants"]["passed"]
    if "resume" in names:
        assert by_name["resume: model calls on rerun"]["value"] == 0
    if "batch_resume" in names:  # correctness: the killed batch was never submitted again
        assert by_name["batch resume: creations per pending request (4 requests)"]["value"] == 1
        assert by_name["batch resume: records equal an unkilled run"]["passed"]
    if "cost" in names:  # half the online price, and a cache write only where its reads repay it
        ratio = by_name["cost: conversation, batch + caching / online"]["value"]
        read = by_name["cost: conversation, input read from the cache (batch)"]["value"]
        assert ratio < 0.5 if read > 0 else ratio == pytest.approx(0.5)


def test_every_benchmark_is_in_a_group() -> None:
    assert sorted(n for g in GROUPS for n in g) == sorted(BENCHMARKS)
