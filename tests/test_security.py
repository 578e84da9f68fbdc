"""The security validator: skipped with one line without checkov, Checkov's verdicts with it."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmark.validators import security_scan as security
from benchmark.validators.base import ValidationResult
from benchmark.validators.security_scan import (
    SKIP_MESSAGE,
    SecurityValidator,
    create_security_validator,
    security_available,
)

TEMPLATES = Path(__file__).resolve().parent / "templates"
HAS_CHECKOV = importlib.util.find_spec("checkov") is not None

OPEN = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      AccessControl: PublicRead
  SshGroup:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: SSH from anywhere
      SecurityGroupIngress:
        - IpProtocol: tcp
          FromPort: 22
          ToPort: 22
          CidrIp: 0.0.0.0/0
"""

HARDENED = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      PublicAccessBlockConfiguration:
        BlockPublicAcls: true
        BlockPublicPolicy: true
        IgnorePublicAcls: true
        RestrictPublicBuckets: true
      BucketEncryption:
        ServerSideEncryptionConfiguration:
          - ServerSideEncryptionByDefault:
              SSEAlgorithm: aws:kms
      VersioningConfiguration:
        Status: Enabled
      LoggingConfiguration:
        DestinationBucketName: central-access-logs
        LogFilePrefix: bucket/
  SshGroup:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: SSH from the office network only
      SecurityGroupIngress:
        - IpProtocol: tcp
          FromPort: 22
          ToPort: 22
          CidrIp: 10.0.0.0/16
          Description: SSH from the office network
"""

BUCKET = "AWS::S3::Bucket.Bucket"
GROUP = "AWS::EC2::SecurityGroup.SshGroup"
EXPECTED_FAILURES = {
    (BUCKET, "CKV_AWS_18"),  # access logging
    (BUCKET, "CKV_AWS_20"),  # READ for everyone (the public-read ACL)
    (BUCKET, "CKV_AWS_21"),  # versioning
    (BUCKET, "CKV_AWS_53"),  # block public ACLs
    (BUCKET, "CKV_AWS_54"),  # block public policy
    (BUCKET, "CKV_AWS_55"),  # ignore public ACLs
    (BUCKET, "CKV_AWS_56"),  # restrict public buckets
    (GROUP, "CKV_AWS_23"),  # every rule has a description
    (GROUP, "CKV_AWS_24"),  # port 22 open to 0.0.0.0/0
}


def run(validator: SecurityValidator, template: str) -> ValidationResult:
    return asyncio.run(validator.validate(template, None))


def verdicts(result: ValidationResult, passed: bool) -> set[tuple[str | None, str]]:
    return {(c.resource, c.check_id) for c in result.checks if c.passed is passed}


# ---- without checkov ----------------------------------------------------------------------


@pytest.fixture
def fresh_process() -> None:
    """The missing-checkov line is said once per process: forget it was said."""
    security._say_checkov_missing.cache_clear()


@pytest.mark.usefixtures("fresh_process")
def test_a_sweep_of_many_jobs_says_checkov_is_missing_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(security, "security_available", lambda: False)
    with caplog.at_level(logging.INFO):
        for _job in range(12):  # the feedback experiment's jobs, run in one process
            assert create_security_validator(workers=1) is None
    assert [r.getMessage() for r in caplog.records] == [SKIP_MESSAGE]


@pytest.mark.usefixtures("fresh_process")
def test_factory_skips_with_one_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(security, "security_available", lambda: False)
    with caplog.at_level(logging.INFO):
        assert create_security_validator(workers=1) is None
    assert [r.getMessage() for r in caplog.records] == [SKIP_MESSAGE]


@pytest.mark.usefixtures("fresh_process")
@pytest.mark.skipif(HAS_CHECKOV, reason="checkov is installed")
def test_absent_checkov_is_detected_without_crashing(caplog: pytest.LogCaptureFixture) -> None:
    assert not security_available()
    assert security.checkov_version() is None
    with caplog.at_level(logging.INFO):
        assert create_security_validator() is None
    assert [r.getMessage() for r in caplog.records] == [SKIP_MESSAGE]


# ---- with checkov -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def validator() -> Iterator[SecurityValidator]:
    pytest.importorskip("checkov")
    made = create_security_validator(workers=1, task_timeout_s=120)
    assert made is not None
    yield made
    made.close()


def test_open_template_fails_the_expected_checks(validator: SecurityValidator) -> None:
    result = run(validator, OPEN)
    assert result.failure is None and result.parse_ok and not result.findings
    assert EXPECTED_FAILURES.issubset(verdicts(result, passed=False))
    assert all(c.source == "security" and c.description for c in result.checks)
    assert verdicts(result, passed=True)  # passed checks are reported too (pass/total)


def test_hardened_template_passes_them(validator: SecurityValidator) -> None:
    result = run(validator, HARDENED)
    assert result.failure is None and result.parse_ok
    assert EXPECTED_FAILURES.issubset(verdicts(result, passed=True))
    assert EXPECTED_FAILURES.isdisjoint(verdicts(result, passed=False))


def test_template_suppressions_are_ignored(validator: SecurityValidator) -> None:
    washed = OPEN.replace(
        "  SshGroup:\n    Type: AWS::EC2::SecurityGroup\n",
        "  SshGroup:\n    Type: AWS::EC2::SecurityGroup\n"
        "    Metadata:\n      checkov:\n        skip:\n          - id: CKV_AWS_24\n"
        "    # checkov:skip=CKV_AWS_23: descriptions are optional\n",
    )
    assert washed != OPEN
    failed = verdicts(run(validator, washed), passed=False)
    assert {(GROUP, "CKV_AWS_24"), (GROUP, "CKV_AWS_23")} <= failed


@pytest.mark.parametrize("name", ["broken_yaml.yaml", "broken_json.json"])
def test_unparseable_template_has_no_checks(validator: SecurityValidator, name: str) -> None:
    result = run(validator, (TEMPLATES / name).read_text())
    assert result.failure is None
    assert not result.parse_ok and not result.checks


def test_results_are_stable_across_calls(validator: SecurityValidator) -> None:
    first = run(validator, OPEN).checks
    run(validator, HARDENED)  # a different template in between leaves nothing behind
    assert run(validator, OPEN).checks == first
