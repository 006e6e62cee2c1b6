"""Stages that pipelines add to CDK Pipelines: :class:`SecurityGatedStage`."""

from pipeline_constructs.stages.security_gated import SecurityGatedStage

__all__ = ["SecurityGatedStage"]
