"""Hand-written port of the Kinesis Data Analytics (Flink) post's two pipelines (what a team writes from it).

Same targets and shape as examples/kda_app: an application pipeline (source, Maven build, artifact
saved to S3 under a fixed ``-latest`` key, then a Lambda that calls UpdateApplication per target,
Prod after a manual approval) and an infrastructure pipeline (CDK Pipelines, no self-mutation, as
in the post) deploying the stream, the data-source Lambda and the Flink application to Dev, then
Prod after ``PromoteToProd``. The pipelines find each other through an exported bucket name. No
hardening: the post's defaults (snapshots off, no status check, no object version).
Run: ``python kda_app.py`` (honours CDK_OUTDIR).
"""

from __future__ import annotations

import os

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kinesisanalyticsv2 as kda
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import pipelines
from constructs import Construct

APP_NAME = "kinesis-analytics-application"
EXPORT = "Blog::Artifact::BucketName"
CONNECTION_ARN = "arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000"
DEV = cdk.Environment(account="111111111111", region="eu-west-1")
PROD = cdk.Environment(account="222222222222", region="eu-west-1")

UPDATE_HANDLER = """
import os, boto3
kda = boto3.client("kinesisanalyticsv2")
cp = boto3.client("codepipeline")
def handler(event, context):
    job = event["CodePipeline.job"]["id"]
    try:
        app = kda.describe_application(ApplicationName=os.environ["APP_NAME"])["ApplicationDetail"]
        token = app["ConditionalToken"]
        kda.update_application(ApplicationName=os.environ["APP_NAME"], ConditionalToken=token,
            ApplicationConfigurationUpdate={"ApplicationCodeConfigurationUpdate": {"CodeContentUpdate": {
                "S3ContentLocationUpdate": {"BucketARNUpdate": os.environ["ASSET_BUCKET_ARN"],
                                            "FileKeyUpdate": os.environ["FILE_KEY"]}}}})
        cp.put_job_success_result(jobId=job)
    except Exception as e:
        cp.put_job_failure_result(jobId=job, failureDetails={"message": str(e), "type": "JobFailed"})
"""

DATA_SOURCE = """
import os, json, random, boto3
kinesis = boto3.client("kinesis")
def handler(event, context):
    for i in range(100):
        kinesis.put_record(StreamName=os.environ["STREAM_NAME"], PartitionKey=str(i),
                           Data=json.dumps({"user": i, "page": random.choice(["/", "/a", "/b"])}))
"""


class ApplicationPipelineStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        bucket = s3.Bucket(
            self,
            "ArtifactBucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            versioned=True,
        )
        cdk.CfnOutput(self, "ArtifactBucketName", value=bucket.bucket_name, export_name=EXPORT)
        project = codebuild.PipelineProject(
            self,
            "Build",
            environment=codebuild.BuildEnvironment(build_image=codebuild.LinuxBuildImage.STANDARD_7_0),
            build_spec=codebuild.BuildSpec.from_object(
                {
                    "version": "0.2",
                    "phases": {
                        "install": {"runtime-versions": {"java": "corretto17"}},
                        "build": {
                            "commands": [
                                "cd flink-app",
                                "mvn clean package -B",
                                "mkdir -p jars",
                                f"cp target/*.jar jars/{APP_NAME}-latest.jar",
                            ]
                        },
                    },
                    "artifacts": {"files": ["jars/*.jar"], "base-directory": "flink-app"},
                }
            ),
        )
        source, built = codepipeline.Artifact(), codepipeline.Artifact()
        pipeline = codepipeline.Pipeline(
            self,
            "CodePipeline",
            stages=[
                codepipeline.StageProps(
                    stage_name="source",
                    actions=[
                        actions.CodeStarConnectionsSourceAction(
                            action_name="Checkout",
                            owner="example-org",
                            repo="clickstream-analytics",
                            branch="main",
                            connection_arn=CONNECTION_ARN,
                            output=source,
                        )
                    ],
                ),
                codepipeline.StageProps(
                    stage_name="build",
                    actions=[
                        actions.CodeBuildAction(action_name="CodeBuild", project=project, input=source, outputs=[built])
                    ],
                ),
                codepipeline.StageProps(
                    stage_name="saveArtifact",
                    actions=[
                        actions.S3DeployAction(action_name="SaveArtifact", bucket=bucket, input=built, extract=True)
                    ],
                ),
            ],
        )
        for env_name, approve in (("dev", False), ("prod", True)):
            fn = lambda_.Function(
                self,
                f"VersionUpdate-{env_name}",
                runtime=lambda_.Runtime.PYTHON_3_12,
                handler="index.handler",
                code=lambda_.Code.from_inline(UPDATE_HANDLER),
                timeout=cdk.Duration.minutes(1),
                environment={
                    "ASSET_BUCKET_ARN": bucket.bucket_arn,
                    "FILE_KEY": f"jars/{APP_NAME}-latest.jar",
                    "APP_NAME": f"{APP_NAME}-{env_name}",
                },
            )
            fn.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["kinesisanalytics:DescribeApplication", "kinesisanalytics:UpdateApplication"],
                    resources=[f"arn:aws:kinesisanalytics:{self.region}:{self.account}:application/{APP_NAME}-*"],
                )
            )
            stage_actions: list[codepipeline.IAction] = []
            if approve:
                stage_actions.append(actions.ManualApprovalAction(action_name="Manual"))
            stage_actions.append(
                actions.LambdaInvokeAction(action_name="Deploy", lambda_=fn, run_order=len(stage_actions) + 1)
            )
            pipeline.add_stage(stage_name=f"deploy-{env_name}", actions=stage_actions)


class ApplicationStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, *, env_name: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        bucket = s3.Bucket.from_bucket_name(self, "AssetBucket", cdk.Fn.import_value(EXPORT))
        stream = kinesis.Stream(
            self,
            "raw",
            stream_mode=kinesis.StreamMode.PROVISIONED,
            shard_count=1,
            encryption=kinesis.StreamEncryption.MANAGED,
        )
        source_fn = lambda_.Function(
            self,
            "data-source",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="index.handler",
            code=lambda_.Code.from_inline(DATA_SOURCE),
            environment={"STREAM_NAME": stream.stream_name},
        )
        stream.grant_write(source_fn)
        role = iam.Role(self, "AppRole", assumed_by=iam.ServicePrincipal("kinesisanalytics.amazonaws.com"))
        stream.grant_read(role)
        bucket.grant_read(role)
        kda.CfnApplication(
            self,
            "app",
            application_name=f"{APP_NAME}-{env_name}",
            runtime_environment="FLINK-1_20",
            service_execution_role=role.role_arn,
            application_configuration=kda.CfnApplication.ApplicationConfigurationProperty(
                application_code_configuration=kda.CfnApplication.ApplicationCodeConfigurationProperty(
                    code_content_type="ZIPFILE",
                    code_content=kda.CfnApplication.CodeContentProperty(
                        s3_content_location=kda.CfnApplication.S3ContentLocationProperty(
                            bucket_arn=bucket.bucket_arn, file_key=f"jars/{APP_NAME}-latest.jar"
                        )
                    ),
                ),
                application_snapshot_configuration=kda.CfnApplication.ApplicationSnapshotConfigurationProperty(
                    snapshots_enabled=False
                ),
                environment_properties=kda.CfnApplication.EnvironmentPropertiesProperty(
                    property_groups=[
                        kda.CfnApplication.PropertyGroupProperty(
                            property_group_id="KinesisReader",
                            property_map={
                                "input.stream.name": stream.stream_name,
                                "aws.region": self.region,
                                "flink.stream.initpos": "LATEST",
                            },
                        )
                    ]
                ),
                flink_application_configuration=kda.CfnApplication.FlinkApplicationConfigurationProperty(
                    parallelism_configuration=kda.CfnApplication.ParallelismConfigurationProperty(
                        configuration_type="CUSTOM", parallelism_per_kpu=1, auto_scaling_enabled=True
                    )
                ),
            ),
        )


class RealtimeApplication(cdk.Stage):
    def __init__(self, scope: Construct, id: str, *, env_name: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        ApplicationStack(self, "ApplicationStack", env_name=env_name)


class InfraPipelineStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            self_mutation=False,
            cross_account_keys=True,
            synth=pipelines.ShellStep(
                "Synth",
                input=pipelines.CodePipelineSource.connection(
                    "example-org/clickstream-analytics", "main", connection_arn=CONNECTION_ARN
                ),
                commands=["pip install -r requirements.txt", "npx cdk synth"],
            ),
        )
        pipeline.add_stage(RealtimeApplication(self, "Dev", env_name="dev", env=DEV))
        pipeline.add_stage(
            RealtimeApplication(self, "Prod", env_name="prod", env=PROD),
            pre=[pipelines.ManualApprovalStep("PromoteToProd")],
        )


if __name__ == "__main__":
    app = cdk.App(outdir=os.environ.get("CDK_OUTDIR") or "cdk.out")
    ApplicationPipelineStack(app, "ApplicationPipelineStack", env=DEV)
    InfraPipelineStack(app, "InfraPipelineStack", env=DEV)
    app.synth()
