# ruff: noqa: I001  (pipeline_constructs is imported before aws_cdk on purpose: it selects Node 24)
"""The .NET Lambda pipeline of the blog post, as one construct: Dev, then cross-account Prod.

The synth action installs the .NET SDK with a checksum-verified ``dotnet-install.sh`` and
``Amazon.Lambda.Tools`` at an exact version, runs the unit tests (TRX report in
``test_reports["UnitTests"]``), then ``cdk synth`` with the pinned CDK CLI. Other
``SecurePipeline`` options (log retention, compute type, ``cross_account_keys``...) go in
``pipeline_options``.

Run offline: ``python app.py`` (or ``cdk synth``) writes the cloud assembly to
``cdk.out`` (or ``$CDK_OUTDIR``). Accounts are placeholders.
"""

from __future__ import annotations

from pathlib import Path

import pipeline_constructs  # noqa: F401  (first: selects Node 24 for jsii)
import aws_cdk as cdk
from aws_cdk import pipelines
from pipeline_constructs import DeploymentTarget, add_compliance_checks, create_app
from pipeline_constructs.dotnet_lambda import DotnetLambdaPipeline

HERE = Path(__file__).resolve().parent
PIPELINE_ENV = cdk.Environment(account="111111111111", region="eu-west-1")
CONNECTION_ARN = "arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000"


def build_app(app: cdk.App) -> cdk.Stack:
    """Add the pipeline stack to ``app`` and return it."""
    stack = cdk.Stack(app, "DotnetLambdaPipeline", env=PIPELINE_ENV)
    DotnetLambdaPipeline(
        stack,
        "Delivery",
        source=pipelines.CodePipelineSource.connection(
            "example-org/dotnet-lambda", "main", connection_arn=CONNECTION_ARN
        ),
        project_dir=HERE / "src" / "HelloWorld",
        handler="HelloWorld::HelloWorld.Function::FunctionHandler",
        test_project="test/HelloWorld.Tests",
        pipeline_name="dotnet-lambda",
        targets=[
            DeploymentTarget(name="Dev", account="111111111111", region="eu-west-1"),
            DeploymentTarget(
                name="Prod",
                account="222222222222",
                region="eu-west-1",
                security_gated=True,
                manual_approval=True,
                notification_emails=("platform-team@example.com",),
            ),
        ],
    )
    return stack


if __name__ == "__main__":
    app = create_app()  # cdk.json's context also under `python app.py`; the assembly goes to ./cdk.out
    add_compliance_checks(app)
    build_app(app)
    app.synth()
