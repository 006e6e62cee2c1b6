# ruff: noqa: I001  (pipeline_constructs is imported before aws_cdk on purpose: it selects Node 24)
"""SecurityGatedStage on its own: a team's pipeline deploys a small app stage behind the gates.

``python app.py`` (or ``cdk synth``) writes the cloud assembly offline.
"""

from __future__ import annotations

from pathlib import Path

import pipeline_constructs  # noqa: F401  (first: selects Node 24 for jsii)
import aws_cdk as cdk
from aws_cdk import pipelines
from constructs import Construct
from pipeline_constructs import SecurePipeline, SecurityGatedStage, add_compliance_checks, create_app
from pipeline_constructs.core.private.buckets import access_log_bucket, secure_bucket
from pipeline_constructs.core.private.defaults import CDK_CLI_VERSION
from pipeline_constructs.core.private.encryption import new_key

HERE = Path(__file__).resolve().parent
CONNECTION_ARN = "arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000"


class DataStage(cdk.Stage):
    """A small application: one encrypted, logged data bucket."""

    def __init__(self, scope: Construct, id: str, *, env: cdk.Environment) -> None:
        super().__init__(scope, id, env=env)
        stack = cdk.Stack(self, "Data")
        logs = access_log_bucket(stack, "AccessLogs")
        secure_bucket(
            stack,
            "Data",
            encryption_key=new_key(stack, "DataKey", description="Data bucket"),
            server_access_logs_bucket=logs,
            server_access_logs_prefix="data/",
            replication_reason="Example data is reproducible; a real team sets up replication for its own data.",
        )


def build_app(app: cdk.App) -> cdk.Stack:
    """Add the pipeline stack to ``app`` and return it."""
    stack = cdk.Stack(app, "GatedPipeline", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    source = pipelines.CodePipelineSource.connection("example-org/data", "main", connection_arn=CONNECTION_ARN)
    pipeline = SecurePipeline(
        stack,
        "Pipeline",
        synth=pipelines.ShellStep(
            "Synth",
            input=source,
            commands=["pip install -r requirements.txt", f"npx -y aws-cdk@{CDK_CLI_VERSION} synth"],
        ),
        pipeline_name="gated-data",
        cross_account_keys=True,
    )
    SecurityGatedStage(
        stack,
        "ProdGate",
        pipeline=pipeline.pipeline,
        stage=DataStage(app, "Prod", env=cdk.Environment(account="222222222222", region="eu-west-1")),
        notification_emails=["security@example.com"],
        approval_comment="Promote the data stack to production.",
        post=[pipelines.ShellStep("SmokeTest", commands=["echo 'smoke test the bucket policy here'"])],
    )
    return stack


if __name__ == "__main__":
    app = create_app()  # cdk.json's context also under `python app.py`; the assembly goes to ./cdk.out
    add_compliance_checks(app)
    build_app(app)
    app.synth()
