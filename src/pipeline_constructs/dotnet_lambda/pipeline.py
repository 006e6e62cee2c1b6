"""DotnetLambdaPipeline: the ".NET Lambda function with CDK Pipelines" blog post as one construct.

Pipeline (run order)::

    Source -> Build/Synth (install the .NET SDK, dotnet test -> TRX report, then cdk synth)
           -> UpdatePipeline/SelfMutate -> Assets/FileAsset
           -> <target 1> (e.g. Dev) -> <target 2> (e.g. Prod: PermissionCheck -> PromoteToProd -> deploy)

The blog's pipeline runs four CodeBuild actions one after another before its
first deployment (Synth, SelfMutate, Assets, Unit Test). Here the unit tests
run inside the synth action, so a failing test stops the pipeline before it
mutates itself, and one CodeBuild cold start (provisioning + source download)
is saved: three CodeBuild actions before the first deployment, report kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aws_cdk import pipelines
from constructs import Construct

from pipeline_constructs.core.options import (
    PipelineOptions,
    check_pipeline_options,
    require_synth,
)
from pipeline_constructs.core.pipeline import PipelineConstruct
from pipeline_constructs.core.private.naming import default_pipeline_name
from pipeline_constructs.core.reports import TestReportFormat, TestReports
from pipeline_constructs.core.targets import DeploymentTarget, StageFactory, require_stage_factory, validate_targets
from pipeline_constructs.core.validation import (
    invalid,
    require_bool,
    require_pipeline_name,
    require_stack_env,
    shell_quote,
)
from pipeline_constructs.dotnet_lambda._props import (
    check_function_options,
    validate_dotnet_channel,
    validate_handler,
    validate_project_dir,
    validate_test_project,
)
from pipeline_constructs.dotnet_lambda.stage import default_stage_factory
from pipeline_constructs.dotnet_lambda.toolchain import DEFAULT_DOTNET_CHANNEL, install_dotnet_commands

__all__ = ["DotnetLambdaPipeline"]

#: What ``pipeline_options`` may not set, and the prop to use instead.
_RESERVED_OPTIONS = {"docker_enabled_for_synth": "use the bundle_in_docker prop"}


class DotnetLambdaPipeline(PipelineConstruct):
    """Self-mutating CDK Pipelines pipeline for a .NET Lambda function.

    The synth action installs the .NET SDK (:mod:`~pipeline_constructs.dotnet_lambda.toolchain`:
    a checksum-verified ``dotnet-install.sh``, ``Amazon.Lambda.Tools`` at an exact version), runs
    the unit tests with ``dotnet test --logger trx`` (results published to the CodeBuild report
    group ``test_reports["UnitTests"]`` as Visual Studio TRX) and then ``cdk synth``; the function
    is packaged with local bundling in that action, so it needs no privileged Docker. Targets
    deploy in order; a ``security_gated`` target deploys behind ``<name>Gate``, a
    ``manual_approval`` one behind ``PromoteTo<name>``.

    :param source: where the code comes from, e.g. ``CodePipelineSource.connection(...)``.
    :param targets: where to deploy, in order (e.g. Dev, then Prod). At least one, unique names.
    :param project_dir: the Lambda project directory, relative to the CDK app (the synth
        action's working directory). Must exist and hold a ``.csproj``.
    :param handler: ``Assembly::Namespace.Class::Method``.
    :param synth: a whole synth step of your own (it must install the .NET SDK and run your
        tests); not with ``synth_commands``, ``app_dir``, ``test_project`` or ``dotnet_channel``.
        Default: the library's ``Synth`` step described above.
    :param synth_commands: commands that produce ``cdk.out`` after the tests, run in ``app_dir``.
        Default: ``["pip install -r requirements.txt", "npx -y aws-cdk@<cli version> synth"]``
        (the pipeline's pinned CDK CLI; the app directory needs a ``requirements.txt``).
    :param app_dir: directory of the CDK app inside the repository. Default: ``None`` (``"."``).
    :param pipeline_name: CodePipeline name. Default: ``<stack name>-<construct id>``. The stacks
        of the default stage are named ``<target>-<pipeline name>-Service``, so two pipelines never
        share a stack.
    :param test_project: the test project (path to its directory or ``.csproj``), relative
        to the repository root; it must exist (the root is the app directory, or a parent of it
        when ``app_dir`` is a sub-directory). Default: ``None`` (no unit tests, no report group).
    :param dotnet_channel: .NET SDK channel installed in the synth action (``"10.0"``, ``"LTS"``,
        ``"STS"``). Default: ``None`` (:data:`~pipeline_constructs.dotnet_lambda.toolchain.DEFAULT_DOTNET_CHANNEL`,
        ``"10.0"``).
    :param bundle_in_docker: package the function in the SAM build image instead
        of with the SDK installed in the synth action (runs the synth action
        privileged). Default: ``False``.
    :param function_options: keyword arguments for :class:`DotnetLambdaFunction`
        (runtime, memory, timeout, environment...). Default: none.
    :param stage_factory: ``(scope, id, target) -> cdk.Stage`` to deploy something other than
        the default :class:`DotnetLambdaStage`. Default: ``None``.
    :param pipeline_options: other :class:`SecurePipeline` options (:class:`PipelineOptions`:
        ``cross_account_keys``, ``log_retention``, ``compute_type``, ``cli_version``...; not
        ``docker_enabled_for_synth``: use ``bundle_in_docker``). Default: none.
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
        synth: pipelines.IFileSetProducer | None = None,
        synth_commands: Sequence[str] | None = None,
        app_dir: str | None = None,
        pipeline_name: str | None = None,
        test_project: str | None = None,
        dotnet_channel: str | None = None,
        bundle_in_docker: bool = False,
        function_options: Mapping[str, Any] | None = None,
        stage_factory: StageFactory | None = None,
        pipeline_options: PipelineOptions | None = None,
    ) -> None:
        super().__init__(scope, id)
        where = self.node.path
        require_stack_env(where, self)
        targets = validate_targets(where, targets)
        validate_handler(where, handler)
        project = validate_project_dir(where, project_dir)
        require_pipeline_name(where, "pipeline_name", pipeline_name)
        if synth is not None:
            require_synth(where, "synth", synth)
            _only_without_synth(where, test_project=test_project, dotnet_channel=dotnet_channel)
        channel = validate_dotnet_channel(where, DEFAULT_DOTNET_CHANNEL if dotnet_channel is None else dotnet_channel)
        if test_project is not None:
            test_project = validate_test_project(where, test_project, app_dir, project)
        require_bool(where, "bundle_in_docker", bundle_in_docker)
        function_options = check_function_options(where, "function_options", function_options)
        factory = require_stage_factory(where, "stage_factory", stage_factory)
        options = check_pipeline_options(where, pipeline_options, reserved=_RESERVED_OPTIONS)

        # Build: install the SDK, run the unit tests (TRX report), then cdk synth: one CodeBuild action.
        tests = self._unit_tests() if test_project is not None else None
        build = self._synth_step(
            source,
            synth,
            synth_commands,
            app_dir,
            pipeline_options,
            install_commands=[] if bundle_in_docker else install_dotnet_commands(channel),
            commands_before=[_dotnet_test(test_project)] if test_project is not None else [],
            partial_build_spec=tests.partial_build_spec() if tests else None,
            role_policy_statements=tests.policy_statements() if tests else (),
        )
        # UpdatePipeline, Assets: the hardened CDK Pipelines pipeline.
        self._build_pipeline(
            synth=build,
            pipeline_name=pipeline_name or default_pipeline_name(self),
            targets=targets,
            options=options,
            docker_enabled_for_synth=bundle_in_docker,
        )
        # One stage per target, in order, behind the gates it asks for.
        default = default_stage_factory(
            project_dir=project_dir,
            handler=handler,
            function_options=function_options,
            pipeline_name=self.secure_pipeline.pipeline_name or self.node.id,
        )
        self._deploy_targets(targets, factory or default)

    def _unit_tests(self) -> TestReports:
        """The ``UnitTests`` report group (Visual Studio TRX files under ``testresults/``)."""
        reports = TestReports(
            self,
            "UnitTests",
            base_directory="testresults",
            format=TestReportFormat.VISUAL_STUDIO_TRX,
            files=("**/*.trx",),
        )
        self.test_reports["UnitTests"] = reports
        return reports


def _dotnet_test(test_project: str) -> str:
    return (
        f"dotnet test {shell_quote(test_project)} --configuration Release --logger trx "
        "--results-directory ./testresults"
    )


def _only_without_synth(where: str, **props: Any) -> None:
    """Props that configure the library's synth step: an error when given with ``synth``."""
    for prop, value in props.items():
        if value is not None:
            raise invalid(
                where,
                prop,
                value,
                "configures the library's synth step; with synth (a whole synth step of your own), "
                "install the SDK and run the tests in it",
            )
