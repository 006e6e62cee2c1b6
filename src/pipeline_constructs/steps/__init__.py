"""Reusable CDK Pipelines steps."""
