"""DotnetLambdaPipeline: the ".NET Lambda function with CDK Pipelines" blog post as one construct.

Pipeline (run order)::

    Source -> Build/Synth (dotnet test -> TRX report, then cdk synth)
           -> UpdatePipeline/SelfMutate -> Assets/FileAsset
           -> <target 1> (e.g. Dev) -> <target 2> (e.g. Prod: PermissionCheck -> PromoteToProd -> deploy)

The blog's pipeline runs four CodeBuild actions one after another before its
first deployment (Synth, SelfMutate, Assets, Unit Test). Here the unit tests
run inside the synth action, so a failing test stops the pipeline before it
mutates itself, and one CodeBuild cold start (provisioning + source download)
is saved: three CodeBuild actions before the first deployment, report kept.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import pipelines
from constructs import Construct

from pipeline_constructs.core.compliance import acknowledge_all, in_packs
from pipeline_constructs.core.compliance.reasons import reason
from pipeline_constructs.core.encryption import encrypted_log_group, new_key
from pipeline_constructs.core.iam_idioms import acknowledge_function_outside_vpc, acknowledge_role_policies, lambda_role
from pipeline_constructs.core.pipeline import SecurePipeline, cdk_cli_version, default_synth_commands
from pipeline_constructs.core.reports import TestReportFormat, TestReports
from pipeline_constructs.core.targets import DeploymentTarget, validate_targets
from pipeline_constructs.core.validation import invalid
from pipeline_constructs.stages.security_gated import SecurityGatedStage, add_target_stage

__all__ = [
    "DOTNET_HANDLER_PATTERN",
    "DotnetLambdaFunction",
    "DotnetLambdaPipeline",
    "DotnetLambdaStage",
]

#: ``Assembly::Namespace.Class::Method`` (class-library handler string).
DOTNET_HANDLER_PATTERN = re.compile(r"^[A-Za-z_][\w.]*::([A-Za-z_]\w*\.)*[A-Za-z_]\w*::[A-Za-z_]\w*$")

_PACKAGE = "dotnet lambda package --configuration Release --output-package {out}/function.zip"


@jsii.implements(cdk.ILocalBundling)
class _LocalDotnetBundling:
    """Run ``dotnet lambda package`` on the host when the .NET SDK and Lambda tools are on PATH."""

    def __init__(self, project_dir: Path) -> None:
        self._project_dir = project_dir

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_: Any) -> bool:
        if shutil.which("dotnet") is None:
            return False
        cmd = _PACKAGE.format(out=output_dir).split()
        subprocess.run(cmd, cwd=self._project_dir, check=True)
        return True


class DotnetLambdaFunction(Construct):
    """A .NET Lambda function built from a project directory with ``dotnet lambda package``.

    Bundling runs on the host when ``dotnet`` is on ``PATH`` (no Docker, no
    privileged CodeBuild), otherwise in the runtime's SAM build image. Logs go
    to a KMS-encrypted log group with a retention; the function's role may write
    only to that log group (no ``AWSLambdaBasicExecutionRole``); failed
    asynchronous invocations land in a KMS-encrypted dead-letter queue.

    :param project_dir: directory of the Lambda ``.csproj``. Must exist.
    :param handler: ``Assembly::Namespace.Class::Method``.
    :param runtime: a .NET runtime. Default: ``Runtime.DOTNET_10`` (newest aws-cdk-lib offers).
    :param architecture: Default: ``Architecture.ARM_64`` (cheaper, faster cold start for .NET).
    :param memory_size: MB. Default: 512.
    :param timeout: Default: 30 seconds.
    :param environment: environment variables. Default: none.
    :param log_retention: Default: one year.
    :param function_props: any other ``lambda_.Function`` keyword argument (wins).
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
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        function_props: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(scope, id)
        where = self.node.path
        validate_handler(where, handler)
        project = validate_project_dir(where, project_dir)
        runtime = runtime or lambda_.Runtime.DOTNET_10
        if runtime.family != lambda_.RuntimeFamily.DOTNET_CORE:
            raise invalid(where, "runtime", runtime.name, "expected a .NET runtime such as Runtime.DOTNET_10")
        if not 128 <= memory_size <= 10240:
            raise invalid(where, "memory_size", memory_size, "expected 128 to 10240 MB")

        code = lambda_.Code.from_asset(
            str(project),
            bundling=cdk.BundlingOptions(
                image=runtime.bundling_image,
                command=[
                    "bash",
                    "-c",
                    "export DOTNET_CLI_HOME=/tmp/DOTNET_CLI_HOME PATH=$PATH:/tmp/DOTNET_CLI_HOME/.dotnet/tools"
                    " && dotnet tool install -g Amazon.Lambda.Tools && " + _PACKAGE.format(out="/asset-output"),
                ],
                output_type=cdk.BundlingOutput.ARCHIVED,
                local=_LocalDotnetBundling(project),
            ),
        )
        key = new_key(self, "LogsKey", description=f"Logs and dead letters of {where}", allow_cloudwatch_logs=True)
        #: The function's log group (KMS-encrypted, with retention).
        self.log_group = encrypted_log_group(self, "Logs", key=key, retention=log_retention)
        overrides = dict(function_props or {})
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
            "architecture": architecture or lambda_.Architecture.ARM_64,
            "memory_size": memory_size,
            "timeout": timeout or cdk.Duration.seconds(30),
            "environment": dict(environment or {}),
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


def _acknowledge_function(fn: lambda_.Function, props: Mapping[str, Any], queue: sqs.Queue | None) -> None:
    """Acknowledge, only where it applies, what a general-purpose function leaves to its team."""
    cfn = fn.node.default_child
    assert isinstance(cfn, lambda_.CfnFunction)
    if props.get("vpc") is None:
        acknowledge_function_outside_vpc(fn)
    if props.get("reserved_concurrent_executions") is None:
        acknowledge_all(
            cfn, in_packs("LambdaConcurrency", ("NIST.800.53.R5", "HIPAA.Security"), reason("concurrency-left-to-team"))
        )
    if queue is not None:
        cfn_queue = queue.node.default_child
        assert isinstance(cfn_queue, sqs.CfnQueue)
        dlq = reason("queue-is-dead-letter-queue", function=str(cdk.Stack.of(cfn).resolve(cfn.logical_id)))
        acknowledge_all(cfn_queue, [("Serverless-SQSRedrivePolicy", dlq)])
    role = fn.role
    if isinstance(role, iam.Role):
        acknowledge_role_policies(role)


class DotnetLambdaStage(cdk.Stage):
    """The default application stage: one ``Service`` stack holding a :class:`DotnetLambdaFunction`.

    :param target: where the stage deploys (its ``env``).
    :param project_dir: the Lambda ``.csproj`` directory (see :class:`DotnetLambdaFunction`).
    :param handler: ``Assembly::Namespace.Class::Method``.
    :param function_options: other :class:`DotnetLambdaFunction` keyword arguments. Default: none.
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
    ) -> None:
        super().__init__(scope, id, env=target.env)
        self.stack = cdk.Stack(self, "Service")
        self.function = DotnetLambdaFunction(
            self.stack, "Function", project_dir=project_dir, handler=handler, **dict(function_options or {})
        )


StageFactory = Callable[[Construct, str, DeploymentTarget], cdk.Stage]


class DotnetLambdaPipeline(Construct):
    """Self-mutating CDK Pipelines pipeline for a .NET Lambda function.

    The synth action installs the .NET SDK, runs the unit tests with
    ``dotnet test --logger trx`` (results published to a CodeBuild report group
    as Visual Studio TRX) and then ``cdk synth``; the function is packaged with
    local bundling in that action, so it needs no privileged Docker. Targets
    deploy in order; a target with ``security_gated`` or ``manual_approval``
    deploys through :class:`SecurityGatedStage`.

    :param source: where the code comes from, e.g. ``CodePipelineSource.connection(...)``.
    :param targets: where to deploy, in order (e.g. Dev, then Prod). At least one, unique names.
    :param project_dir: the Lambda project directory, relative to the CDK app (the synth
        action's working directory). Must exist and hold a ``.csproj``.
    :param handler: ``Assembly::Namespace.Class::Method``.
    :param test_project: the test project (path to its directory or ``.csproj``), relative
        to the repository root. Default: ``None`` (no unit tests, no report group).
    :param pipeline_name: CodePipeline name. Default: generated.
    :param dotnet_channel: .NET SDK channel installed in the synth action. Default: ``"10.0"``.
    :param app_dir: directory of the CDK app inside the repository. Default: ``"."``.
    :param synth_commands: commands that produce ``cdk.out`` after the tests.
        Default: ``["pip install -r requirements.txt", "npx -y aws-cdk@<cli version> synth"]``
        (the pipeline's pinned CDK CLI).
    :param bundle_in_docker: package the function in the SAM build image instead
        of with the SDK installed in the synth action (runs the synth action
        privileged). Default: ``False``.
    :param function_options: keyword arguments for :class:`DotnetLambdaFunction`
        (runtime, memory, timeout, environment...). Default: none.
    :param stage_factory: ``(scope, id, target) -> cdk.Stage`` to deploy something other than
        the default :class:`DotnetLambdaStage`. Default: ``None``.
    :param cross_account_keys: see :class:`SecurePipeline`. Default: automatic.
    :param pipeline_options: other :class:`SecurePipeline` keyword arguments. Default: none.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        source: pipelines.IFileSetProducer,
        targets: Sequence[DeploymentTarget],
        project_dir: str | Path,
        handler: str,
        test_project: str | None = None,
        pipeline_name: str | None = None,
        dotnet_channel: str = "10.0",
        app_dir: str = ".",
        synth_commands: Sequence[str] | None = None,
        bundle_in_docker: bool = False,
        function_options: Mapping[str, Any] | None = None,
        stage_factory: StageFactory | None = None,
        cross_account_keys: bool | None = None,
        pipeline_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(scope, id)
        where = self.node.path
        validate_targets(where, targets)
        validate_handler(where, handler)
        validate_project_dir(where, project_dir)
        if not re.fullmatch(r"\d+\.\d+", dotnet_channel):
            raise invalid(where, "dotnet_channel", dotnet_channel, "expected a .NET SDK channel such as '10.0'")
        if source is None:
            raise invalid(where, "source", source, "expected a pipelines.IFileSetProducer, e.g. CodePipelineSource")

        #: The test report group (``None`` without ``test_project``).
        self.test_reports: TestReports | None = None
        install = [] if bundle_in_docker else _install_dotnet(dotnet_channel)
        commands: list[str] = []
        if test_project is not None:
            self.test_reports = TestReports(
                self,
                "UnitTests",
                base_directory="testresults",
                format=TestReportFormat.VISUAL_STUDIO_TRX,
                files=("**/*.trx",),
            )
            commands.append(
                f'dotnet test {test_project} --configuration Release --logger "trx" --results-directory ./testresults'
            )
        if app_dir != ".":
            commands.append(f"cd {app_dir}")
        cli = cdk_cli_version(self, dict(pipeline_options or {}).get("cli_version"))
        commands.extend(synth_commands or default_synth_commands(cli))
        synth = pipelines.CodeBuildStep(
            "Synth",
            input=source,
            install_commands=install,
            commands=commands,
            primary_output_directory=f"{app_dir}/cdk.out" if app_dir != "." else "cdk.out",
            partial_build_spec=self.test_reports.partial_build_spec() if self.test_reports else None,
            role_policy_statements=self.test_reports.policy_statements() if self.test_reports else None,
        )
        #: The hardened pipeline (artifact bucket, keys, logs).
        self.secure_pipeline = SecurePipeline(
            self,
            "Pipeline",
            synth=synth,
            pipeline_name=pipeline_name,
            targets=targets,
            cross_account_keys=cross_account_keys,
            docker_enabled_for_synth=bundle_in_docker,
            **dict(pipeline_options or {}),
        )
        #: The CDK Pipelines pipeline (escape hatch: add waves, stages, steps before synth).
        self.pipeline: pipelines.CodePipeline = self.secure_pipeline.pipeline

        def default_stage(scope: Construct, id: str, target: DeploymentTarget) -> cdk.Stage:
            return DotnetLambdaStage(
                scope, id, target=target, project_dir=project_dir, handler=handler, function_options=function_options
            )

        factory = stage_factory or default_stage
        #: Stage deployments by target name, in deployment order.
        self.deployments: dict[str, pipelines.StageDeployment] = {}
        #: The security gates by target name.
        self.gates: dict[str, SecurityGatedStage] = {}
        stage_scope = cdk.Stage.of(self) or self
        for target in targets:
            deployment, gate = add_target_stage(self, self.pipeline, target, factory(stage_scope, target.name, target))
            self.deployments[target.name] = deployment
            if gate is not None:
                self.gates[target.name] = gate


def _install_dotnet(channel: str) -> list[str]:
    return [
        "curl -sSL https://dot.net/v1/dotnet-install.sh -o /tmp/dotnet-install.sh",
        f"bash /tmp/dotnet-install.sh --channel {channel} --install-dir $HOME/.dotnet",
        'export PATH="$HOME/.dotnet:$HOME/.dotnet/tools:$PATH" DOTNET_ROOT="$HOME/.dotnet"',
        "dotnet tool install -g Amazon.Lambda.Tools",
    ]


def validate_handler(where: str, handler: str) -> str:
    """Check a .NET handler string (``Assembly::Namespace.Class::Method``)."""
    if not isinstance(handler, str) or not DOTNET_HANDLER_PATTERN.match(handler):
        raise invalid(
            where,
            "handler",
            handler,
            "expected 'Assembly::Namespace.Class::Method', e.g. 'HelloWorld::HelloWorld.Function::FunctionHandler'",
        )
    return handler


def validate_project_dir(where: str, project_dir: str | Path) -> Path:
    """Check that the Lambda project directory exists and holds a ``.csproj``."""
    path = Path(project_dir)
    if not path.is_dir():
        raise invalid(
            where, "project_dir", str(project_dir), f"expected an existing directory (resolved: {path.resolve()})"
        )
    if not any(path.glob("*.csproj")):
        raise invalid(where, "project_dir", str(project_dir), "expected a directory holding the Lambda .csproj")
    return path
