"""Hand-written port of the blog post's layer pipeline (what a team writes from the post and its sample).

Same shape as examples/multi_region_layer: a plain CodePipeline (not CDK Pipelines),
source -> CodeBuild builds ``layer.zip`` (``npm install`` into ``nodejs/``) -> one
LambdaInvokeAction per region, all parallel, invoking one distributor function with
``{region, layerPrincipal, organizationId}``. The function downloads the artifact
(outside error handling), publishes the zip inline, grants ``lambda:GetLayerVersion``.
No hardening: default buckets, AmazonS3ReadOnlyAccess, a 15 s timeout.
Run: ``python multi_region_layer.py`` (honours CDK_OUTDIR).
"""

from __future__ import annotations

import os

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as codepipeline_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

CONNECTION_ARN = "arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000"
REGIONS = ["us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2"]

DISTRIBUTOR = """
const { S3Client, GetObjectCommand } = require("@aws-sdk/client-s3");
const { LambdaClient, PublishLayerVersionCommand, AddLayerVersionPermissionCommand } =
  require("@aws-sdk/client-lambda");
const { CodePipelineClient, PutJobSuccessResultCommand, PutJobFailureResultCommand } =
  require("@aws-sdk/client-codepipeline");
const codepipeline = new CodePipelineClient({});
exports.handler = async (event) => {
  const job = event["CodePipeline.job"];
  const { location } = job.data.inputArtifacts[0];
  const { region, layerPrincipal, organizationId } =
    JSON.parse(job.data.actionConfiguration.configuration.UserParameters);
  const s3 = new S3Client({});
  const object = await s3.send(new GetObjectCommand({
    Bucket: location.s3Location.bucketName, Key: location.s3Location.objectKey,
  }));
  const zip = await object.Body.transformToByteArray();
  try {
    const lambda = new LambdaClient({ region });
    const layer = await lambda.send(new PublishLayerVersionCommand({
      LayerName: "sample-layer", Content: { ZipFile: zip }, CompatibleRuntimes: ["nodejs22.x", "nodejs24.x"],
    }));
    await lambda.send(new AddLayerVersionPermissionCommand({
      LayerName: "sample-layer", VersionNumber: layer.Version, StatementId: "share", Action: "lambda:GetLayerVersion",
      Principal: layerPrincipal, OrganizationId: organizationId,
    }));
    await codepipeline.send(new PutJobSuccessResultCommand({ jobId: job.id }));
  } catch (e) {
    await codepipeline.send(new PutJobFailureResultCommand({
      jobId: job.id, failureDetails: { type: "JobFailed", message: String(e) },
    }));
  }
};
"""


class LayerPipelineStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, *, regions: list[str], **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        source_output = codepipeline.Artifact("SourceOutput")
        build_output = codepipeline.Artifact("BuildOutput")
        build = codebuild.PipelineProject(
            self,
            "LayerBuild",
            environment=codebuild.BuildEnvironment(build_image=codebuild.LinuxBuildImage.STANDARD_7_0),
            build_spec=codebuild.BuildSpec.from_object(
                {
                    "version": "0.2",
                    "phases": {
                        "build": {
                            "commands": [
                                "mkdir -p nodejs",
                                "cp package.json nodejs/",
                                "cd nodejs && npm install && cd ..",
                                "zip -r layer.zip nodejs",
                            ]
                        }
                    },
                    "artifacts": {"files": ["layer.zip"]},
                }
            ),
        )
        distributor = lambda_.Function(
            self,
            "Distributor",
            runtime=lambda_.Runtime.NODEJS_22_X,
            handler="index.handler",
            code=lambda_.Code.from_inline(DISTRIBUTOR),
            timeout=cdk.Duration.seconds(15),
        )
        distributor.role.add_managed_policy(  # type: ignore[union-attr]
            iam.ManagedPolicy.from_aws_managed_policy_name("AmazonS3ReadOnlyAccess")
        )
        distributor.add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:PublishLayerVersion", "lambda:AddLayerVersionPermission"], resources=["*"]
            )
        )
        codepipeline.Pipeline(
            self,
            "Pipeline",
            stages=[
                codepipeline.StageProps(
                    stage_name="Source",
                    actions=[
                        codepipeline_actions.CodeStarConnectionsSourceAction(
                            action_name="Source",
                            owner="example-org",
                            repo="shared-deps-layer",
                            branch="main",
                            connection_arn=CONNECTION_ARN,
                            output=source_output,
                        )
                    ],
                ),
                codepipeline.StageProps(
                    stage_name="Build",
                    actions=[
                        codepipeline_actions.CodeBuildAction(
                            action_name="Build", project=build, input=source_output, outputs=[build_output]
                        )
                    ],
                ),
                codepipeline.StageProps(
                    stage_name="Distribute",
                    actions=[
                        codepipeline_actions.LambdaInvokeAction(
                            action_name=f"distribute-{region}",
                            lambda_=distributor,
                            inputs=[build_output],
                            user_parameters={
                                "region": region,
                                "layerPrincipal": "*",
                                "organizationId": "o-a1b2c3d4e5",
                            },
                        )
                        for region in regions
                    ],
                ),
            ],
        )


def build_app(app: cdk.App, regions: list[str] | None = None) -> cdk.Stack:
    return LayerPipelineStack(
        app,
        "LayerPipelineHandwritten",
        regions=regions or REGIONS,
        env=cdk.Environment(account="111111111111", region="eu-west-1"),
    )


if __name__ == "__main__":
    app = cdk.App(outdir=os.environ.get("CDK_OUTDIR") or "cdk.out")
    build_app(app)
    app.synth()
