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

import functools
import inspect
import os
import re
import shutil
import subprocess
import sys
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
from pipeline_constructs.core.options import (
    check_pipeline_options,
    default_synth_commands,
    pipeline_cli_version,
    require_synth,
)
from pipeline_constructs.core.pipeline import SecurePipeline
from pipeline_constructs.core.private.defaults import BUNDLING_KEY, bundling_mode, resolve_log_retention
from pipeline_constructs.core.private.encryption import encrypted_log_group, new_key
from pipeline_constructs.core.private.iam_idioms import (
    acknowledge_function_outside_vpc,
    acknowledge_role_policies,
    lambda_role,
)
from pipeline_constructs.core.private.naming import default_pipeline_name, stage_stack_name
from pipeline_constructs.core.reports import TestReportFormat, TestReports
from pipeline_constructs.core.targets import DeploymentTarget, validate_targets
from pipeline_constructs.core.validation import (
    child_path,
    invalid,
    repository_roots,
    require_bool,
    require_callable,
    require_commands,
    require_enum,
    require_existing_path,
    require_instance,
    require_int,
    require_kwargs,
    require_lambda_environment,
    require_lambda_timeout,
    require_pipeline_name,
    require_relative_path,
    require_stack_env,
    require_stack_name,
    require_str,
    shell_quote,
    wrong_type,
)
from pipeline_constructs.stages.security_gated import SecurityGatedStage, add_target_stage

__all__ = [
    "DOTNET_HANDLER_PATTERN",
    "DotnetLambdaFunction",
    "DotnetLambdaPipeline",
    "DotnetLambdaStage",
]

#: ``Assembly::Namespace.Class::Method`` (class-library handler string; ASCII identifiers).
DOTNET_HANDLER_PATTERN = re.compile(
    r"[A-Za-z_][A-Za-z0-9_.]*::([A-Za-z_][A-Za-z0-9_]*\.)*[A-Za-z_][A-Za-z0-9_]*::[A-Za-z_][A-Za-z0-9_]*"
)
# dotnet-install.sh channels: "10.0", "LTS", "STS" (the value reaches a shell command).
_DOTNET_CHANNEL = re.compile(r"[0-9]{1,2}\.[0-9]{1,2}|LTS|STS")

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
    fix = (
        "install the .NET SDK with Amazon.Lambda.Tools (`dotnet tool install -g Amazon.Lambda.Tools`) or start "
        f"Docker, or synthesize without packaging: `cdk synth -c {BUNDLING_KEY}=false`"
    )
    if mode == "always" or os.environ.get("CODEBUILD_BUILD_ID"):
        raise BundlingUnavailableError(
            f"{scope.node.path}: cannot package the .NET function: neither `dotnet` nor a running Docker engine "
            f"was found; {fix}"
        )
    line = (
        "pipeline-constructs: .NET function not packaged (neither `dotnet` nor a running Docker engine found): "
        "the cloud assembly holds the project source, fine for synth and review, not for deployment; to package, "
        f"{fix.split(', or synthesize')[0]}; set -c {BUNDLING_KEY}=true to make this an error"
    )
    if line not in _WARNED:
        _WARNED.add(line)
        sys.stderr.write(line + "\n")
    return False


class BundlingUnavailableError(RuntimeError):
    """Packaging is required but no tool can do it (no ``dotnet``, no Docker engine)."""


class DotnetLambdaFunction(Construct):
    """A .NET Lambda function built from a project directory with ``dotnet lambda package``.

    Bundling runs on the host when ``dotnet`` is on ``PATH`` (no Docker, no
    privileged CodeBuild), otherwise in the runtime's SAM build image (a running
    Docker engine). With neither, the team default ``pipeline-constructs:bundling``
    decides: ``"auto"`` (default) skips packaging with one warning line on a
    workstation (a synth-only asset: the project source) and fails inside CodeBuild;
    ``true`` fails everywhere; ``false`` never packages. Logs go to a KMS-encrypted
    log group with a retention; the function's role may write only to that log group
    (no ``AWSLambdaBasicExecutionRole``); failed asynchronous invocations land in a
    KMS-encrypted dead-letter queue.

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

        bundling = cdk.BundlingOptions(
            image=runtime.bundling_image,
            command=[
                "bash",
                "-c",
                "export DOTNET_CLI_HOME=/tmp/DOTNET_CLI_HOME PATH=$PATH:/tmp/DOTNET_CLI_HOME/.dotnet/tools"
                " && dotnet tool install -g Amazon.Lambda.Tools && " + _PACKAGE.format(out="/asset-output"),
            ],
            output_type=cdk.BundlingOutput.ARCHIVED,
            local=_LocalDotnetBundling(project),
        )
        #: Whether the function is packaged (``dotnet lambda package``) at synth; ``False``: a synth-only asset.
        self.packaged = _should_package(self)
        code = lambda_.Code.from_asset(str(project), bundling=bundling if self.packaged else None)
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
        to the repository root; it must exist (the root is the app directory, or a parent of it
        when ``app_dir`` is a sub-directory). Default: ``None`` (no unit tests, no report group).
    :param pipeline_name: CodePipeline name. Default: ``<stack name>-<construct id>``. The stacks
        of the default stage are named ``<target>-<pipeline name>-Service``, so two pipelines never
        share a stack.
    :param dotnet_channel: .NET SDK channel installed in the synth action (``"10.0"``, ``"LTS"``,
        ``"STS"``). Default: ``"10.0"``.
    :param app_dir: directory of the CDK app inside the repository. Default: ``"."``.
    :param synth_commands: commands that produce ``cdk.out`` after the tests.
        Default: ``["pip install -r requirements.txt", "npx -y aws-cdk@<cli version> synth"]``
        (the pipeline's pinned CDK CLI; the app
        directory needs a ``requirements.txt``).
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
        require_stack_env(where, self)
        require_synth(where, "source", source)
        targets = validate_targets(where, targets)
        validate_handler(where, handler)
        project = validate_project_dir(where, project_dir)
        require_pipeline_name(where, "pipeline_name", pipeline_name)
        require_str(
            where,
            "dotnet_channel",
            dotnet_channel,
            pattern=_DOTNET_CHANNEL,
            allowed="expected a .NET SDK channel such as '10.0', 'LTS' or 'STS'",
        )
        app_dir = require_relative_path(where, "app_dir", app_dir)
        if test_project is not None:
            test_project = require_relative_path(where, "test_project", test_project, allow_root=False)
            require_existing_path(
                where, "test_project", test_project, repository_roots(app_dir, project), what="test project"
            )
        commands_after_tests = (
            require_commands(where, "synth_commands", synth_commands) if synth_commands is not None else None
        )
        require_bool(where, "bundle_in_docker", bundle_in_docker)
        function_options = check_function_options(where, "function_options", function_options)
        if stage_factory is not None:
            require_callable(
                where, "stage_factory", stage_factory, "expected a (scope, id, target) -> cdk.Stage callable"
            )
        if cross_account_keys is not None:
            require_bool(where, "cross_account_keys", cross_account_keys)
        extra_options = check_pipeline_options(
            where,
            pipeline_options,
            reserved={
                "cross_account_keys": "use the cross_account_keys prop",
                "docker_enabled_for_synth": "use the bundle_in_docker prop",
            },
        )
        pipeline_name = pipeline_name or default_pipeline_name(self)

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
                f"dotnet test {shell_quote(test_project)} --configuration Release --logger trx "
                "--results-directory ./testresults"
            )
        if app_dir != ".":
            commands.append(f"cd {shell_quote(app_dir)}")
        cli = pipeline_cli_version(self, pipeline_options)
        commands.extend(commands_after_tests if commands_after_tests is not None else default_synth_commands(cli))
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
            **extra_options,
        )
        #: The CDK Pipelines pipeline (escape hatch: add waves, stages, steps before synth).
        self.pipeline: pipelines.CodePipeline = self.secure_pipeline.pipeline

        base = self.secure_pipeline.pipeline_name or self.node.id

        def default_stage(scope: Construct, id: str, target: DeploymentTarget) -> cdk.Stage:
            return DotnetLambdaStage(
                scope,
                id,
                target=target,
                project_dir=project_dir,
                handler=handler,
                function_options=function_options,
                stack_name=stage_stack_name(target.name, base, "Service"),
            )

        factory = stage_factory or default_stage
        #: Stage deployments by target name, in deployment order.
        self.deployments: dict[str, pipelines.StageDeployment] = {}
        #: The security gates by target name.
        self.gates: dict[str, SecurityGatedStage] = {}
        for target in targets:
            # Under this construct: two pipelines of one app each have their own "Dev" stage.
            stage = factory(self, target.name, target)
            if not isinstance(stage, cdk.Stage):
                raise wrong_type(where, "stage_factory", stage, "expected the factory to return an aws_cdk.Stage")
            deployment, gate = add_target_stage(self, self.pipeline, target, stage)
            self.deployments[target.name] = deployment
            if gate is not None:
                self.gates[target.name] = gate


def _install_dotnet(channel: str) -> list[str]:
    return [
        "curl -sSL https://dot.net/v1/dotnet-install.sh -o /tmp/dotnet-install.sh",
        f"bash /tmp/dotnet-install.sh --channel {shell_quote(channel)} --install-dir $HOME/.dotnet",
        'export PATH="$HOME/.dotnet:$HOME/.dotnet/tools:$PATH" DOTNET_ROOT="$HOME/.dotnet"',
        "dotnet tool install -g Amazon.Lambda.Tools",
    ]


def validate_handler(where: str, handler: Any) -> str:
    """Check a .NET handler string (``Assembly::Namespace.Class::Method``, ASCII, at most 128 characters)."""
    return require_str(
        where,
        "handler",
        handler,
        pattern=DOTNET_HANDLER_PATTERN,
        max_length=128,
        allowed="expected 'Assembly::Namespace.Class::Method', e.g. 'HelloWorld::HelloWorld.Function::FunctionHandler'",
    )


def validate_project_dir(where: str, project_dir: Any) -> Path:
    """Check that the Lambda project directory exists and holds a ``.csproj``."""
    if not isinstance(project_dir, (str, Path)) or (isinstance(project_dir, str) and not project_dir.strip()):
        raise wrong_type(where, "project_dir", project_dir, "expected a directory path (str or pathlib.Path)")
    path = Path(project_dir)
    if not path.is_dir():
        raise invalid(
            where, "project_dir", str(project_dir), f"expected an existing directory (resolved: {path.resolve()})"
        )
    if not any(path.glob("*.csproj")):
        raise invalid(where, "project_dir", str(project_dir), "expected a directory holding the Lambda .csproj")
    return path


def _check_runtime(where: str, prop: str, value: Any) -> lambda_.Runtime:
    runtime = require_instance(where, prop, value, lambda_.Runtime, "expected a .NET aws_lambda.Runtime")
    if runtime.family != lambda_.RuntimeFamily.DOTNET_CORE:
        raise invalid(where, prop, runtime.name, "expected a .NET runtime such as Runtime.DOTNET_10")
    return runtime


_FUNCTION_KWARGS = frozenset(inspect.signature(lambda_.Function.__init__).parameters) - {"self", "scope", "id"}
# Props of lambda_.Function that DotnetLambdaFunction has its own prop for.
_OWN_PROPS = {
    "runtime": "use the runtime prop",
    "handler": "use the handler prop",
    "architecture": "use the architecture prop",
    "memory_size": "use the memory_size prop",
    "timeout": "use the timeout prop",
    "environment": "use the environment prop",
}
_OPTION_CHECKS: dict[str, Callable[[str, str, Any], Any]] = {
    "runtime": _check_runtime,
    "architecture": lambda w, p, v: require_instance(
        w, p, v, lambda_.Architecture, "expected Architecture.ARM_64 or Architecture.X86_64"
    ),
    "memory_size": lambda w, p, v: require_int(w, p, v, minimum=128, maximum=10240),
    "timeout": require_lambda_timeout,
    "environment": require_lambda_environment,
    "log_retention": lambda w, p, v: require_enum(w, p, v, logs.RetentionDays),
    "function_props": lambda w, p, v: require_kwargs(w, p, v, _FUNCTION_KWARGS, reserved=_OWN_PROPS),
}


def validate_function_options(where: str, prop: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Check :class:`DotnetLambdaFunction` options; ``None`` values mean "the default".

    Each prop is named ``<prop>['<option>']`` (or just the option when ``prop`` is empty).
    """
    checked = dict(options)
    for key, value in options.items():
        if value is not None and key in _OPTION_CHECKS:
            checked[key] = _OPTION_CHECKS[key](where, f"{prop}[{key!r}]" if prop else key, value)
    return checked


def check_function_options(where: str, prop: str, value: Any) -> dict[str, Any]:
    """Check a ``function_options`` mapping: :class:`DotnetLambdaFunction` keyword arguments."""
    if value is None:
        return {}
    options = require_kwargs(
        where,
        prop,
        value,
        _OPTION_CHECKS.keys(),
        reserved={"project_dir": "use the project_dir prop", "handler": "use the handler prop"},
    )
    validate_function_options(where, prop, options)
    return options
