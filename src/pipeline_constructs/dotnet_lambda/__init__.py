"""DotnetLambdaPipeline: the ".NET Lambda function with CDK Pipelines" blog post as one construct."""

from pipeline_constructs.dotnet_lambda._props import DOTNET_HANDLER_PATTERN
from pipeline_constructs.dotnet_lambda.function import BundlingUnavailableError, DotnetLambdaFunction
from pipeline_constructs.dotnet_lambda.pipeline import DotnetLambdaPipeline
from pipeline_constructs.dotnet_lambda.stage import DotnetLambdaStage
from pipeline_constructs.dotnet_lambda.toolchain import (
    DEFAULT_DOTNET_CHANNEL,
    DOTNET_INSTALL_SCRIPT_SHA256,
    DOTNET_INSTALL_SCRIPT_URL,
    LAMBDA_TOOLS_VERSION,
)

__all__ = [
    "DEFAULT_DOTNET_CHANNEL",
    "DOTNET_HANDLER_PATTERN",
    "DOTNET_INSTALL_SCRIPT_SHA256",
    "DOTNET_INSTALL_SCRIPT_URL",
    "LAMBDA_TOOLS_VERSION",
    "BundlingUnavailableError",
    "DotnetLambdaFunction",
    "DotnetLambdaPipeline",
    "DotnetLambdaStage",
]
