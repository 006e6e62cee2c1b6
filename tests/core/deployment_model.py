"""Shared by the deployment-model tests (waves, stage conditions, limits): targets, a small compliant stage,
and fakes of the health-check and assessment steps (other modules own and test those).

Import with ``from core.deployment_model import ...`` (``tests/`` is on ``sys.path``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ssm as ssm
from aws_cdk import pipelines
from constructs import Construct

from pipeline_constructs import DeploymentTarget
from pipeline_constructs.core.conditions import DeploymentWindow

SOURCE = pipelines.CodePipelineSource.connection(
    "o/r", "main", connection_arn="arn:aws:codeconnections:eu-west-1:111111111111:connection/x"
)
WINDOW = DeploymentWindow.weekdays(time_zone="Europe/Berlin")
APP_ARN = "arn:aws:resiliencehub:eu-west-1:111111111111:app/0b1c2d3e"


def target(name: str, region: str = "eu-west-1", **kwargs: Any) -> DeploymentTarget:
    return DeploymentTarget(name=name, account=kwargs.pop("account", "111111111111"), region=region, **kwargs)


def service(scope: Construct, id: str, t: DeploymentTarget) -> cdk.Stage:
    stage = cdk.Stage(scope, id, env=t.env)
    ssm.StringParameter(cdk.Stack(stage, "Svc"), "P", string_value=t.name)
    return stage


@dataclass
class FakeSteps:
    """Stand-ins for the health-check and assessment steps (owned and tested elsewhere): record the calls."""

    health_calls: list[dict[str, Any]] = field(default_factory=list)
    assessment_calls: list[dict[str, Any]] = field(default_factory=list)
    services_asked: list[str] = field(default_factory=list)


def install_fake_steps(monkeypatch: pytest.MonkeyPatch) -> FakeSteps:
    """Replace the health-check and assessment step functions with fakes that record their calls."""
    from pipeline_constructs.steps import health_gate, resilience_assessment

    fake = FakeSteps()

    def health_check_step(secure, id, *, region, services, include_global=True):  # type: ignore[no-untyped-def]
        step = pipelines.ManualApprovalStep(id)
        fake.health_calls.append(
            {
                "secure": secure,
                "id": id,
                "region": region,
                "services": tuple(services),
                "include_global": include_global,
                "step": step,
            }
        )
        return step

    def health_services(stage):  # type: ignore[no-untyped-def]
        fake.services_asked.append(stage.stage_name)
        return ("CLOUDFORMATION", "SSM")

    def resilience_assessment_step(secure, id, *, target, stage, assessment):  # type: ignore[no-untyped-def]
        step = pipelines.ManualApprovalStep(id)
        fake.assessment_calls.append(
            {"secure": secure, "id": id, "target": target, "stage": stage, "assessment": assessment, "step": step}
        )
        return step

    monkeypatch.setattr(health_gate, "health_check_step", health_check_step)
    monkeypatch.setattr(health_gate, "health_services", health_services)
    monkeypatch.setattr(resilience_assessment, "resilience_assessment_step", resilience_assessment_step)
    return fake


def stage(props: dict[str, Any], name: str) -> dict[str, Any]:
    """The stage ``name`` of a pipeline's properties."""
    return next(s for s in props["Stages"] if s["Name"] == name)
