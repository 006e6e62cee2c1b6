"""Shared by the MultiRegionLayerPipeline tests: the example synthesized once per session, a small builder.

A plain module (``from layer_helpers import ...``), not a ``conftest.py``: a second ``conftest`` module
without a package would shadow ``tests/conftest.py`` for every ``from conftest import ...``. The example
app is cached at module level, so the test files of this folder share one synthesis.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import pipelines
from aws_cdk.assertions import Template
from conftest import load_example
from helpers import PIPELINE_ENV, pipeline_props

from pipeline_constructs import DeploymentTarget
from pipeline_constructs.multi_region_layer import MultiRegionLayerPipeline
from pipeline_constructs.testing import deterministic_app

#: The example's target regions (one target per region, named after it).
REGIONS = ["us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2"]
ACCOUNT = "111111111111"
EXAMPLE = load_example("multi_region_layer")


@dataclass(frozen=True)
class Example:
    """The synthesized example: its app, pipeline stack, construct and the pipeline stack's template."""

    app: cdk.App
    stack: cdk.Stack
    construct: MultiRegionLayerPipeline
    template: Template

    @property
    def pipeline(self) -> dict[str, Any]:
        return pipeline_props(self.template)

    @property
    def layer_stage(self) -> dict[str, Any]:
        (stage,) = [s for s in self.pipeline["Stages"] if s["Name"] == "Layer"]
        return stage


@functools.cache
def example() -> Example:
    """The example app, synthesized once per test session."""
    outdir = tempfile.mkdtemp(prefix="layer-cdk-out-")
    atexit.register(shutil.rmtree, outdir, ignore_errors=True)
    app = deterministic_app(outdir=outdir)
    EXAMPLE.build_app(app)
    app.synth()
    stack = app.node.find_child("LayerPipeline")
    assert isinstance(stack, cdk.Stack)
    construct = stack.node.find_child("SharedDeps")
    assert isinstance(construct, MultiRegionLayerPipeline)
    return Example(app=app, stack=stack, construct=construct, template=Template.from_stack(stack))


def target(region: str, name: str | None = None, **kwargs: Any) -> DeploymentTarget:
    """A target in the pipeline's account, named after its region unless ``name`` says otherwise."""
    return DeploymentTarget(name=name or region, account=ACCOUNT, region=region, **kwargs)


def new_stack(env: cdk.Environment | None = PIPELINE_ENV) -> cdk.Stack:
    """A fresh app's stack ``S`` (in the pipeline environment unless ``env`` says otherwise)."""
    return cdk.Stack(deterministic_app(), "S", env=env)


def make_pipeline(stack: cdk.Stack | None = None, **overrides: Any) -> MultiRegionLayerPipeline:
    """A small valid pipeline ``S/P`` (a Node.js layer, one us-east-1 target) with ``overrides``."""
    props: dict[str, Any] = {
        "source": pipelines.CodePipelineSource.git_hub("o/layer", "main"),
        "layer_name": "deps",
        "compatible_runtimes": [lambda_.Runtime.NODEJS_24_X],
        "targets": [target("us-east-1")],
        **overrides,
    }
    return MultiRegionLayerPipeline(stack or new_stack(), "P", **props)


def logical_id(template: Template, type_: str, path_part: str) -> str:
    """The one logical id of ``type_`` containing ``path_part``."""
    matches = [k for k in template.find_resources(type_) if path_part in k]
    assert len(matches) == 1, (type_, path_part, matches)
    return matches[0]


def layer_config(template: Template) -> dict[str, Any]:
    """The distributor's ``DISTRIBUTOR_CONFIG`` in ``template``."""
    import json

    (function,) = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": "layer_distributor.handler"}}
    ).values()
    return json.loads(function["Properties"]["Environment"]["Variables"]["DISTRIBUTOR_CONFIG"])  # type: ignore[no-any-return]


def synth_project(template: Template) -> dict[str, Any]:
    """The CodeBuild project of the ``Build/Synth`` action (it builds the layer too)."""
    (found,) = [
        p
        for p in template.find_resources("AWS::CodeBuild::Project").values()
        if p["Properties"].get("Description", "").endswith("/Build/Synth")
    ]
    return found  # type: ignore[no-any-return]
