"""DotnetLambdaFunction: a .NET Lambda function packaged with ``dotnet lambda package``, and its bundling."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from pipeline_constructs.core.compliance import acknowledge_all, in_packs
from pipeline_constructs.core.compliance.packs import NIST_HIPAA
from pipeline_constructs.core.compliance.reasons import reason
from pipeline_constructs.core.private.defaults import BUNDLING_KEY, bundling_mode, resolve_log_retention
from pipeline_constructs.core.private.encryption import encrypted_log_group, new_key
from pipeline_constructs.core.private.iam_idioms import (
    acknowledge_function_outside_vpc,
    acknowledge_role_policies,
    lambda_role,
)
from pipeline_constructs.core.validation import shell_quote
from pipeline_constructs.dotnet_lambda._props import validate_function_options, validate_handler, validate_project_dir
from pipeline_constructs.dotnet_lambda.toolchain import install_lambda_tools_command, package_command

__all__ = ["BundlingUnavailableError", "DotnetLambdaFunction"]


class BundlingUnavailableError(RuntimeError):
    """Packaging is required but no tool can do it (no ``dotnet``, no Docker engine)."""


class DotnetLambdaFunction(Construct):
    """A .NET Lambda function built from a project directory with ``dotnet lambda package``.

    Bundling runs on the host when ``dotnet`` is on ``PATH`` (no Docker, no
    privileged CodeBuild), otherwise in the runtime's SAM build image (a running
    Docker engine; it installs ``Amazon.Lambda.Tools`` at
    :data:`~pipeline_constructs.dotnet_lambda.toolchain.LAMBDA_TOOLS_VERSION`). With neither,
    the team default ``pipeline-constructs:bundling`` decides: ``"auto"`` (default) skips
    packaging with one warning line on a workstation (a synth-only asset: the project
    source) and fails inside CodeBuild; ``true`` fails everywhere; ``false`` never
    packages. Logs go to a KMS-encrypted log group with a retention; the function's role
    may write only to that log group (no ``AWSLambdaBasicExecutionRole``); failed
    asynchronous invocations land in a KMS-encrypted dead-letter queue.

    :param project_dir: directory of the Lambda ``.csproj``. Must exist.
    :param handler: ``Assembly::Namespace.Class::Method``.
    :param runtime: a .NET runtime. Default: ``Runtime.DOTNET_10`` (newest aws-cdk-lib offers).
    :param architecture: Default: ``Architecture.ARM_64`` (cheaper, faster cold start for .NET).
    :param memory_size: MB, 128 to 10240. Default: 512.
    :param timeout: 1 second to 15 minutes. Default: 30 seconds.
    :param environment: environment variables (names ``[a-zA-Z][a-zA-Z0-9_]+``, not reserved by
        Lambda; at most 4 KB). Default: none.
    :param log_retention: Default: team default ``pipeline-constructs:logRetentionDays``, else one year.
    :param function_props: any other ``lambda_.Function`` keyword argument (wins). Default: none.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        project_dir: str | Path,
        handler: str,
        runtime: lambda_.Runtime | None = None,
        architecture: lambda_.Architecture | None = None,
        memory_size: int = 512,
        timeout: cdk.Duration | None = None,
        environment: Mapping[str, str] | None = None,
        log_retention: logs.RetentionDays | None = None,
        function_props: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(scope, id)
        where = self.node.path
        validate_handler(where, handler)
        project = validate_project_dir(where, project_dir)
        options = validate_function_options(
            where,
            "",
            {
                "runtime": runtime,
                "architecture": architecture,
                "memory_size": memory_size,
                "timeout": timeout,
                "environment": environment,
                "log_retention": log_retention,
                "function_props": function_props,
            },
        )
        runtime = options["runtime"] or lambda_.Runtime.DOTNET_10

        #: Whether the function is packaged (``dotnet lambda package``) at synth; ``False``: a synth-only asset.
        self.packaged = _should_package(self)
        code = lambda_.Code.from_asset(str(project), bundling=_bundling(runtime, project) if self.packaged else None)
        key = new_key(self, "LogsKey", description=f"Logs and dead letters of {where}", allow_cloudwatch_logs=True)
        #: The function's log group (KMS-encrypted, with retention).
        self.log_group = encrypted_log_group(
            self, "Logs", key=key, retention=resolve_log_retention(self, options["log_retention"])
        )
        overrides = dict(options["function_props"] or {})
        #: Dead-letter queue of failed asynchronous invocations (``None`` when ``function_props`` sets one up).
        self.dead_letter_queue: sqs.Queue | None = None
        if not {"dead_letter_queue", "dead_letter_queue_enabled", "dead_letter_topic"} & set(overrides):
            self.dead_letter_queue = sqs.Queue(
                self,
                "DeadLetters",
                encryption=sqs.QueueEncryption.KMS,
                encryption_master_key=key,
                enforce_ssl=True,
                retention_period=cdk.Duration.days(14),
            )
        props: dict[str, Any] = {
            "runtime": runtime,
            "handler": handler,
            "code": code,
            "architecture": options["architecture"] or lambda_.Architecture.ARM_64,
            "memory_size": memory_size,
            "timeout": timeout or cdk.Duration.seconds(30),
            "environment": dict(options["environment"] or {}),
            "log_group": self.log_group,
            "tracing": lambda_.Tracing.ACTIVE,
        }
        if self.dead_letter_queue is not None:
            props["dead_letter_queue"] = self.dead_letter_queue
        if "role" not in overrides:
            props["role"] = lambda_role(
                self, "ServiceRole", log_group=self.log_group, description=f"Execution role of {where}"
            )
        props.update(overrides)
        #: The Lambda function.
        self.function = lambda_.Function(self, "Function", **props)
        _acknowledge_function(self.function, props, self.dead_letter_queue)


def _bundling(runtime: lambda_.Runtime, project: Path) -> cdk.BundlingOptions:
    """Local ``dotnet lambda package`` when possible, else the same in the runtime's SAM build image."""
    in_docker = " ".join(shell_quote(arg) for arg in package_command("/asset-output"))
    return cdk.BundlingOptions(
        image=runtime.bundling_image,
        command=[
            "bash",
            "-c",
            "export DOTNET_CLI_HOME=/tmp/DOTNET_CLI_HOME PATH=$PATH:/tmp/DOTNET_CLI_HOME/.dotnet/tools"
            f" && {install_lambda_tools_command()} && {in_docker}",
        ],
        output_type=cdk.BundlingOutput.ARCHIVED,
        local=_LocalDotnetBundling(project),
    )


@jsii.implements(cdk.ILocalBundling)
class _LocalDotnetBundling:
    """Run ``dotnet lambda package`` on the host when the .NET SDK and Lambda tools are on PATH."""

    def __init__(self, project_dir: Path) -> None:
        self._project_dir = project_dir

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_: Any) -> bool:
        if shutil.which("dotnet") is None:
            return False
        subprocess.run(package_command(output_dir), cwd=self._project_dir, check=True)
        return True


@functools.cache
def _docker_running(binary: str, path: str) -> bool:
    """Whether ``binary`` (CDK's ``$CDK_DOCKER``, else ``docker``) is on ``path`` and reaches a Docker engine."""
    executable = shutil.which(binary, path=path)
    if executable is None:
        return False
    try:
        probe = subprocess.run(
            [executable, "version", "--format", "{{.Server.Version}}"], capture_output=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


_WARNED: set[str] = set()


def _should_package(scope: Construct) -> bool:
    """Package the function at synth? Only when the stack is bundled and the team did not turn packaging off.

    Without ``dotnet`` and without a running Docker engine: an error inside CodeBuild (the pipeline must
    deploy a packaged function) or with ``pipeline-constructs:bundling=true``; otherwise one warning line
    (per process) and a synth-only asset.
    """
    if not cdk.Stack.of(scope).bundling_required:
        return False
    mode = bundling_mode(scope)
    if mode == "never":
        return False
    path = os.environ.get("PATH", "")
    if shutil.which("dotnet", path=path) or _docker_running(os.environ.get("CDK_DOCKER", "docker"), path):
        return True
    install = f"install the .NET SDK with Amazon.Lambda.Tools (`{install_lambda_tools_command()}`) or start Docker"
    if mode == "always" or os.environ.get("CODEBUILD_BUILD_ID"):
        raise BundlingUnavailableError(
            f"{scope.node.path}: cannot package the .NET function: neither `dotnet` nor a running Docker engine "
            f"was found; {install}, or synthesize without packaging: `cdk synth -c {BUNDLING_KEY}=false`"
        )
    line = (
        "pipeline-constructs: .NET function not packaged (neither `dotnet` nor a running Docker engine found): "
        "the cloud assembly holds the project source, fine for synth and review, not for deployment; to package, "
        f"{install}; set -c {BUNDLING_KEY}=true to make this an error"
    )
    if line not in _WARNED:
        _WARNED.add(line)
        sys.stderr.write(line + "\n")
    return False


def _acknowledge_function(fn: lambda_.Function, props: Mapping[str, Any], queue: sqs.Queue | None) -> None:
    """Acknowledge, only where it applies, what a general-purpose function leaves to its team."""
    cfn = fn.node.default_child
    assert isinstance(cfn, lambda_.CfnFunction)
    if props.get("vpc") is None:
        acknowledge_function_outside_vpc(fn)
    if props.get("reserved_concurrent_executions") is None:
        acknowledge_all(cfn, in_packs("LambdaConcurrency", NIST_HIPAA, reason("concurrency-left-to-team")))
    if queue is not None:
        cfn_queue = queue.node.default_child
        assert isinstance(cfn_queue, sqs.CfnQueue)
        dlq = reason("queue-is-dead-letter-queue", function=str(cdk.Stack.of(cfn).resolve(cfn.logical_id)))
        acknowledge_all(cfn_queue, [("Serverless-SQSRedrivePolicy", dlq)])
    role = fn.role
    if isinstance(role, iam.Role):
        acknowledge_role_policies(role)
