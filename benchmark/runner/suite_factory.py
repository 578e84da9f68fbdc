"""The job's validator suite, built from settings: cfn-lint, intent, collateral, and where
configured security and deploy; for a cdk-python dataset a synth stage in front of them."""

from __future__ import annotations

from pathlib import Path

from benchmark.config import PROJECT_ROOT, CdkConfig, ConfigError, Settings
from benchmark.validators.base import Validator
from benchmark.validators.cdk.pool import SynthPool
from benchmark.validators.cdk.sandbox import SandboxSettings, cdk_available
from benchmark.validators.cdk.stage import CdkSynthStage
from benchmark.validators.cfn_lint.validator import CfnLintValidator
from benchmark.validators.collateral import CollateralValidator
from benchmark.validators.deploy.validator import DeployJob, DeployValidator
from benchmark.validators.intent import IntentValidator
from benchmark.validators.security_scan import create_security_validator
from benchmark.validators.suite import ValidatorSuite


def sandbox_settings(cdk: CdkConfig) -> SandboxSettings:
    """The sandbox's walls as configured; the jsii cache resolved against the project root."""
    return SandboxSettings(
        kind=cdk.sandbox,
        memory_mb=cdk.memory_mb,
        cpu_s=cdk.cpu_s,
        wall_s=cdk.wall_s,
        file_size_mb=cdk.file_size_mb,
        processes=cdk.processes,
        jsii_cache=str(PROJECT_ROOT / Path(cdk.jsii_cache)),
    )


def build_front(settings: Settings) -> CdkSynthStage | None:
    """The synth stage a cdk-python dataset needs (None for CloudFormation); without the cdk
    extra, a ConfigError in one line saying how to install it."""
    if settings.dataset.language != "cdk-python":
        return None
    why = cdk_available()
    if why is not None:
        raise ConfigError(
            f"config error at 'dataset': dataset '{settings.dataset.name}' is cdk-python: {why}"
        )
    pool = SynthPool(sandbox_settings(settings.cdk), settings.cdk.resolved_workers)
    return CdkSynthStage(pool)


def build_suite(settings: Settings, deploy: DeployJob | None = None) -> ValidatorSuite:
    """The run's validators; `deploy` says whose attempts they are, for `deploy.enabled`."""
    front = build_front(settings)
    validators: list[Validator] = [
        CfnLintValidator.from_config(settings.lint),
        IntentValidator(),
        CollateralValidator(),  # edit problems only
    ]
    if settings.security.enabled:
        security = create_security_validator(
            workers=settings.security.workers, task_timeout_s=settings.security.task_timeout_s
        )
        if security is not None:  # not installed: skipped with one line, never a crash
            validators.append(security)
    if settings.deploy.enabled:
        if deploy is None:
            raise ValueError("deploy.enabled needs the job's identity (a DeployJob)")
        try:
            validators.append(DeployValidator(settings.deploy, deploy))
        except BaseException:
            for validator in validators:
                validator.close()
            raise
    return ValidatorSuite(validators, settings.loop.clean_when, front)


async def prepare_suite(settings: Settings, deploy: DeployJob | None = None) -> ValidatorSuite:
    """`build_suite`, its workers started and its settings checked by the validators
    themselves (e.g. a region the configured cfn-lint does not know, which builds its
    environment on first use; a sandbox that cannot run here): a ConfigError, one line,
    before any model call."""
    suite = build_suite(settings, deploy)
    try:
        await suite.prepare()
    except BaseException:
        suite.close()
        raise
    return suite
