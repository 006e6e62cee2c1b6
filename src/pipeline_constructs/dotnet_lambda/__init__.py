"""DotnetLambdaPipeline: the ".NET Lambda function with CDK Pipelines" blog post as one construct."""

from pipeline_constructs.dotnet_lambda.pipeline import (
    DOTNET_HANDLER_PATTERN,
    DotnetLambdaFunction,
    DotnetLambdaPipeline,
    DotnetLambdaStage,
)

__all__ = [
    "DOTNET_HANDLER_PATTERN",
    "DotnetLambdaFunction",
    "DotnetLambdaPipeline",
    "DotnetLambdaStage",
]
