"""The AWS Health gate: a CodePipeline job that fails while AWS Health reports an open issue.

CONTRACT STUB (issue 13): the helper that owns this module implements it; the signatures below are
what :func:`pipeline_constructs.core.targets.deploy_targets` calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk import pipelines

if TYPE_CHECKING:
    from pipeline_constructs.core.pipeline import SecurePipeline

__all__ = ["health_check_step", "health_services"]


def health_services(stage: cdk.Stage) -> tuple[str, ...]:
    """The AWS Health service codes of what ``stage`` deploys (from its resource types), plus ``CLOUDFORMATION``."""
    raise NotImplementedError


def health_check_step(
    secure: SecurePipeline,
    id: str,
    *,
    region: str,
    services: Sequence[str],
    include_global: bool = True,
) -> pipelines.Step:
    """A step (CodePipeline Lambda invoke action ``id``) that fails while AWS Health has an open issue.

    The pipeline's one health-check function (created on first use under ``secure``) asks AWS Health
    ``DescribeEvents`` for open ``issue`` events in ``region`` (and ``global`` with ``include_global``)
    for ``services``.
    """
    raise NotImplementedError
