# ruff: noqa: I001  (pipeline_constructs is imported before aws_cdk on purpose: it selects Node 24)
"""The Flink (Kinesis Data Analytics) post's two pipelines as one construct: Dev, then cross-account Prod.

* infrastructure pipeline (platform team): deploys each target's stream + Flink application stack,
  Prod behind the security gate and an approval;
* application pipeline (data engineers): ``mvn -B package`` of ``flink-app/`` with its JUnit report,
  the JAR stored under ``builds/<commit>/<execution id>/`` in a versioned bucket, then the update
  action per target (Prod after the approval ``PromoteToProd``).

Run offline: ``python app.py`` (or ``cdk synth``) writes the cloud assembly to ``cdk.out`` (or
``$CDK_OUTDIR``). Accounts and the connection are placeholders.
"""

from __future__ import annotations

from pathlib import Path

import pipeline_constructs  # noqa: F401  (first: selects Node 24 for jsii)
import aws_cdk as cdk
from aws_cdk import pipelines
from pipeline_constructs import DeploymentTarget, add_compliance_checks, create_app
from pipeline_constructs.kda_app import ApplicationBuild, ApplicationSource, FlinkSettings, KdaAppPipeline

HERE = Path(__file__).resolve().parent
PIPELINE_ENV = cdk.Environment(account="111111111111", region="eu-west-1")
CONNECTION_ARN = "arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000"


def build_app(app: cdk.App) -> cdk.Stack:
    """Add the pipeline stack to ``app`` and return it."""
    stack = cdk.Stack(app, "KdaAppPipeline", env=PIPELINE_ENV)
    KdaAppPipeline(
        stack,
        "Clickstream",
        application_name="clickstream",
        # The post keeps both teams' code in one repository: this CDK app at the root (the platform
        # team's), the Flink application in flink-app/ (the data engineers').
        source=pipelines.CodePipelineSource.connection(
            "example-org/clickstream-analytics", "main", connection_arn=CONNECTION_ARN
        ),
        application_source=ApplicationSource.connection(
            "example-org/clickstream-analytics", "main", connection_arn=CONNECTION_ARN
        ),
        build=ApplicationBuild.maven(project_directory="flink-app"),
        flink=FlinkSettings(
            parallelism=2,
            checkpoint_interval=cdk.Duration.seconds(30),
            property_groups={"ClickCounter": {"window.seconds": "60"}},
        ),
        pipeline_name="clickstream-infrastructure",
        application_pipeline_name="clickstream-application",
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
