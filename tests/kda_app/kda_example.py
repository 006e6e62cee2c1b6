"""Shared by the KdaAppPipeline tests: the example synthesized once, and a small construct to vary.

Not a conftest (one per test tree): import what you need, ``from kda_app.kda_example import ...``.
"""

from __future__ import annotations

import functools
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import pipelines
from aws_cdk.assertions import Template
from conftest import load_example
from helpers import PIPELINE_ENV

from pipeline_constructs import DeploymentTarget
from pipeline_constructs.kda_app import ApplicationSource, KdaAppPipeline
from pipeline_constructs.testing import deterministic_app

RELEASE_BUCKET = "clickstream-releases-111111111111-eu-west-1"
CONNECTION = "arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000"
DEV = DeploymentTarget(name="Dev", account="111111111111", region="eu-west-1")


@dataclass(frozen=True)
class Example:
    """The kda_app example, synthesized."""

    app: cdk.App
    outdir: Path
    construct: KdaAppPipeline
    #: The pipeline stack (both pipelines).
    template: Template
    prod: Template
    dev: Template


@functools.cache
def example() -> Example:
    """The example app, synthesized once per test session."""
    outdir = Path(tempfile.mkdtemp(prefix="kda-example-"))
    app = deterministic_app(outdir=str(outdir))
    stack = load_example("kda_app").build_app(app)
    app.synth()
    construct = stack.node.find_child("Clickstream")
    assert isinstance(construct, KdaAppPipeline)
    return Example(
        app=app,
        outdir=outdir,
        construct=construct,
        template=Template.from_stack(stack),
        prod=Template.from_stack(construct.application_stacks["Prod"]),
        dev=Template.from_stack(construct.application_stacks["Dev"]),
    )


def pipeline_named(template: Template, name: str) -> dict[str, Any]:
    """The properties of the pipeline called ``name`` (the stack has two)."""
    (pipeline,) = [
        p["Properties"]
        for p in template.find_resources("AWS::CodePipeline::Pipeline").values()
        if p["Properties"].get("Name") == name
    ]
    return pipeline


def flat(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def small_stack(env: cdk.Environment | None = PIPELINE_ENV) -> cdk.Stack:
    return cdk.Stack(deterministic_app(), "S", env=env)


def kda_props(**overrides: Any) -> dict[str, Any]:
    """The props of a one-target KdaAppPipeline, with ``overrides``."""
    props: dict[str, Any] = {
        "application_name": "orders",
        "targets": [DEV],
        "application_source": ApplicationSource.connection("o/app", "main", connection_arn=CONNECTION),
        "source": pipelines.CodePipelineSource.connection("o/infra", "main", connection_arn=CONNECTION),
    }
    props.update(overrides)
    return props


def small_pipeline(stack: cdk.Stack | None = None, **overrides: Any) -> KdaAppPipeline:
    return KdaAppPipeline(stack or small_stack(), "P", **kda_props(**overrides))


def update_function_props(template: Template) -> dict[str, Any]:
    (function,) = [
        f["Properties"]
        for f in template.find_resources("AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == "kda_update.handler"
    ]
    return function
