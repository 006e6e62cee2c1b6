"""DotnetLambdaStage: what one target deploys by default (a ``Service`` stack with the function)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from pipeline_constructs.core.private.naming import stage_stack_name
from pipeline_constructs.core.targets import DeploymentTarget, StageFactory
from pipeline_constructs.core.validation import child_path, require_instance, require_stack_name
from pipeline_constructs.dotnet_lambda._props import check_function_options
from pipeline_constructs.dotnet_lambda.function import DotnetLambdaFunction

__all__ = ["DotnetLambdaStage", "default_stage_factory"]


class DotnetLambdaStage(cdk.Stage):
    """The default application stage: one ``Service`` stack holding a :class:`DotnetLambdaFunction`.

    :param target: where the stage deploys (its ``env``).
    :param project_dir: the Lambda ``.csproj`` directory (see :class:`DotnetLambdaFunction`).
    :param handler: ``Assembly::Namespace.Class::Method``.
    :param function_options: other :class:`DotnetLambdaFunction` keyword arguments. Default: none.
    :param stack_name: CloudFormation name of the ``Service`` stack. Default: CDK's
        (``<stage name>-Service``); :class:`DotnetLambdaPipeline` passes one unique per pipeline.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        target: DeploymentTarget,
        project_dir: str | Path,
        handler: str,
        function_options: Mapping[str, Any] | None = None,
        stack_name: str | None = None,
    ) -> None:
        where = child_path(scope, id)
        require_instance(where, "target", target, DeploymentTarget, "expected a DeploymentTarget")
        options = check_function_options(where, "function_options", function_options)
        if stack_name is not None:
            require_stack_name(where, "stack_name", stack_name)
        super().__init__(scope, id, env=target.env)
        #: The ``Service`` stack.
        self.stack = cdk.Stack(self, "Service", stack_name=stack_name)
        #: The function.
        self.function = DotnetLambdaFunction(
            self.stack, "Function", project_dir=project_dir, handler=handler, **options
        )


def default_stage_factory(
    *, project_dir: str | Path, handler: str, function_options: Mapping[str, Any], pipeline_name: str
) -> StageFactory:
    """The :class:`DotnetLambdaPipeline` default: a :class:`DotnetLambdaStage` per target.

    Its stack is named ``<target>-<pipeline name>-Service``, so two pipelines never share a stack.
    """

    def build(scope: Construct, id: str, target: DeploymentTarget) -> cdk.Stage:
        return DotnetLambdaStage(
            scope,
            id,
            target=target,
            project_dir=project_dir,
            handler=handler,
            function_options=function_options,
            stack_name=stage_stack_name(target.name, pipeline_name, "Service"),
        )

    return build
