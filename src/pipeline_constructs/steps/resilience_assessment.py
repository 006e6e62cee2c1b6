"""The AWS Resilience Hub assessment step: import, publish, assess, fail when the policy is breached.

CONTRACT STUB (issue 13): the helper that owns this module implements it; the signature below is
what :func:`pipeline_constructs.core.targets.deploy_targets` calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk import pipelines

from pipeline_constructs.core.conditions import ResilienceAssessment

if TYPE_CHECKING:
    from pipeline_constructs.core.pipeline import SecurePipeline
    from pipeline_constructs.core.targets import DeploymentTarget

__all__ = ["resilience_assessment_step"]


def resilience_assessment_step(
    secure: SecurePipeline,
    id: str,
    *,
    target: DeploymentTarget,
    stage: cdk.Stage,
    assessment: ResilienceAssessment,
) -> pipelines.Step:
    """A step (CodePipeline Lambda invoke action ``id``) that assesses what ``stage`` deployed to ``target``.

    The pipeline's one assessment function (created on first use under ``secure``) imports the
    stage's stacks (``assessment.stack_names``, default all) into ``assessment.app_arn``, publishes
    a version, starts an assessment, waits for it (continuation tokens) and fails on ``PolicyBreached``.
    """
    raise NotImplementedError
