"""Reusable CDK Pipelines steps."""

from pipeline_constructs.steps.lambda_invoke import LambdaInvokeStep

__all__ = ["LambdaInvokeStep"]
