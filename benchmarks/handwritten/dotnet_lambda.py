"""Hand-written port of the blog post's .NET Lambda pipeline (what a team writes from the post).

Same shape as examples/dotnet_lambda: Dev in the pipeline account, Prod in another
account behind ``ManualApprovalStep("PromoteToProd")``; unit tests as a pre step of
Dev with a TRX report group; Docker in synth for bundling; no hardening.
Run: ``python dotnet_lambda.py`` (honours CDK_OUTDIR).
"""

from __future__ import annotations

import os
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_lambda as lambda_
from aws_cdk import pipelines
from constructs import Construct

PROJECT = Path(__file__).resolve().parents[2] / "examples" / "dotnet_lambda" / "src" / "HelloWorld"
CONNECTION_ARN = "arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000"


class LambdaStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        build_option = cdk.BundlingOptions(
            image=lambda_.Runtime.DOTNET_8.bundling_image,
            user="root",
            output_type=cdk.BundlingOutput.ARCHIVED,
            command=[
                "/bin/sh",
                "-c",
                " dotnet tool install -g Amazon.Lambda.Tools && dotnet build"
                " && dotnet lambda package --output-package /asset-output/function.zip",
            ],
        )
        lambda_.Function(
            self,
            "LambdaFunction",
            runtime=lambda_.Runtime.DOTNET_8,
            handler="HelloWorld::HelloWorld.Function::FunctionHandler",
            code=lambda_.Code.from_asset(str(PROJECT), bundling=build_option),
        )


class DeploymentStage(cdk.Stage):
    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        LambdaStack(self, "LambdaStack")


class PipelineStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        source = pipelines.CodePipelineSource.connection(
            "example-org/dotnet-lambda", "main", connection_arn=CONNECTION_ARN
        )
        pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            pipeline_name="CDKDotnetLambdaPipeline",
            synth=pipelines.ShellStep("Synth", input=source, commands=["npm install -g aws-cdk", "cdk synth"]),
            docker_enabled_for_synth=True,
            cross_account_keys=True,
            enable_key_rotation=True,
        )
        report_group = codebuild.ReportGroup(self, "TestReports", report_group_name="UnitTestsReport")
        unit_test = pipelines.CodeBuildStep(
            "UnitTest",
            commands=["dotnet test -c Release ./test --logger trx --results-directory ./testresults"],
            build_environment=codebuild.BuildEnvironment(build_image=codebuild.LinuxBuildImage.STANDARD_7_0),
            partial_build_spec=codebuild.BuildSpec.from_object(
                {
                    "reports": {
                        report_group.report_group_arn: {
                            "file-format": "VisualStudioTrx",
                            "files": ["**/*"],
                            "base-directory": "./testresults",
                        }
                    }
                }
            ),
        )
        dev = pipeline.add_stage(
            DeploymentStage(self, "Development", env=cdk.Environment(account="111111111111", region="eu-west-1"))
        )
        dev.add_pre(unit_test)
        pipeline.add_stage(
            DeploymentStage(self, "Production", env=cdk.Environment(account="222222222222", region="eu-west-1")),
            pre=[pipelines.ManualApprovalStep("PromoteToProd")],
        )
        pipeline.build_pipeline()
        report_group.grant_write(unit_test.project)


if __name__ == "__main__":
    app = cdk.App(outdir=os.environ.get("CDK_OUTDIR") or "cdk.out", context={"aws:cdk:bundling-stacks": []})
    PipelineStack(
        app, "DotnetLambdaPipelineHandwritten", env=cdk.Environment(account="111111111111", region="eu-west-1")
    )
    app.synth()
