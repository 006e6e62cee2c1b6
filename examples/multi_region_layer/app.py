# ruff: noqa: I001  (pipeline_constructs is imported before aws_cdk on purpose: it selects Node 24)
"""Example: build a Node.js Lambda layer once and publish it to four regions (MultiRegionLayerPipeline).

The repository is this directory: the CDK app (this file) and the layer's
sources in ``layer/`` (``package.json`` + ``package-lock.json``: the build runs
``npm ci`` from the lock file, never ``latest``).

The pipeline (account 111111111111, eu-west-1) builds the layer once, then
publishes it in parallel to us-east-1, eu-west-1, eu-central-1 and
ap-southeast-2, shares each version with the organization ``o-a1b2c3d4e5``, and
writes the version ARN to ``/lambda-layers/shared-deps/latest-version-arn`` in
every region.

Synthesizes offline: ``python app.py`` (or ``cdk synth``).
"""

from __future__ import annotations

from pathlib import Path

import pipeline_constructs  # noqa: F401  (first: selects Node 24 for jsii before aws_cdk loads)
import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import pipelines
from pipeline_constructs import DeploymentTarget, add_compliance_checks, create_app
from pipeline_constructs.multi_region_layer import LayerSharing, MultiRegionLayerPipeline

HERE = Path(__file__).resolve().parent
ACCOUNT = "111111111111"
PIPELINE_ENV = cdk.Environment(account=ACCOUNT, region="eu-west-1")
CONNECTION_ARN = "arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000"
REGIONS = ["us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2"]


def build_app(app: cdk.App, regions: list[str] | None = None) -> cdk.Stack:
    """Add the pipeline stack (and its regional staging stacks) to ``app``; return the pipeline stack.

    One target per region (named after it), all in the pipeline's account: the layer reaches the
    organization's other accounts through ``sharing``. ``regions`` (default: four) is for the tests
    and the benchmark.
    """
    stack = cdk.Stack(app, "LayerPipeline", env=PIPELINE_ENV)
    targets = [DeploymentTarget(name=r, account=ACCOUNT, region=r) for r in regions or REGIONS]
    MultiRegionLayerPipeline(
        stack,
        "SharedDeps",
        source=pipelines.CodePipelineSource.connection(
            "example-org/shared-deps-layer", "main", connection_arn=CONNECTION_ARN
        ),
        layer_name="shared-deps",
        layer_directory="layer",
        compatible_runtimes=[lambda_.Runtime.NODEJS_22_X, lambda_.Runtime.NODEJS_24_X],
        compatible_architectures=[lambda_.Architecture.X86_64, lambda_.Architecture.ARM_64],
        targets=targets,
        sharing=LayerSharing(organization_id="o-a1b2c3d4e5"),
        license_info="MIT",
        description="Dependencies shared by the team's Node.js functions",
        pipeline_name="shared-deps-layer",
    )
    return stack


if __name__ == "__main__":
    app = create_app()  # cdk.json's context also under `python app.py`; the assembly goes to ./cdk.out
    add_compliance_checks(app)
    build_app(app)
    app.synth()
