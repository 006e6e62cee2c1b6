"""GlueEtlPipeline: test the Glue job scripts in the aws-glue-libs image, then deploy the workload per target.

Pipeline (run order)::

    Source -> Build: JobTests (pytest in the aws-glue-libs image -> JUnit report) -> Synth
           -> UpdatePipeline/SelfMutate -> Assets/FileAsset
           -> <target 1> (e.g. Dev) -> <target 2> (e.g. Prod: PermissionCheck -> PromoteToProd -> deploy)

Why the job tests are their own action, ahead of synth (not inside it, as in
the blog post): the synth action needs Node.js and the CDK CLI, the job tests
need the Glue libraries and Spark of the job's Glue version. Running the
aws-glue-libs image *as the CodeBuild image* of a separate action needs no
Docker, so no privileged build (cdk-nag ``AwsSolutions-CB3``), no ``docker
pull`` inside a build and no credentials handed to a container. The action
runs before synth, so a failing test stops the pipeline before it mutates
itself. Cost: one CodeBuild action more than the post (four before the first
deployment: JobTests, Synth, SelfMutate, FileAsset), against a privileged
synth that pulls a multi-GB image on every run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_glue as glue
from aws_cdk import pipelines
from constructs import Construct, IConstruct

from pipeline_constructs.core.compliance import acknowledge
from pipeline_constructs.core.compliance.reasons import reason
from pipeline_constructs.core.options import (
    check_pipeline_options,
    default_synth_commands,
    pipeline_cli_version,
    require_synth,
)
from pipeline_constructs.core.pipeline import SecurePipeline
from pipeline_constructs.core.private.naming import default_pipeline_name, stage_stack_name
from pipeline_constructs.core.reports import TestReportFormat, TestReports
from pipeline_constructs.core.targets import DeploymentTarget, validate_targets
from pipeline_constructs.core.validation import (
    invalid,
    repository_roots,
    require_bool,
    require_callable,
    require_commands,
    require_enum,
    require_existing_path,
    require_instance,
    require_interface,
    require_pipeline_name,
    require_relative_path,
    require_stack_env,
    shell_quote,
    wrong_type,
)
from pipeline_constructs.glue_etl.spec import GlueEtlSpec
from pipeline_constructs.glue_etl.workload import GlueEtlStage, check_workload_options
from pipeline_constructs.stages.security_gated import SecurityGatedStage, add_target_stage

__all__ = ["GLUE_LIBS_IMAGES", "REPORTS_DIR", "GlueEtlPipeline", "glue_libs_image"]

#: The AWS Glue libraries image of each Glue version (ECR Public mirror of ``amazon/aws-glue-libs``).
GLUE_LIBS_IMAGES: Mapping[glue.GlueVersion, str] = {
    glue.GlueVersion.V2_0: "public.ecr.aws/glue/aws-glue-libs:glue_libs_2.0.0_image_01",
    glue.GlueVersion.V3_0: "public.ecr.aws/glue/aws-glue-libs:glue_libs_3.0.0_image_01",
    glue.GlueVersion.V4_0: "public.ecr.aws/glue/aws-glue-libs:glue_libs_4.0.0_image_01",
    glue.GlueVersion.V5_0: "public.ecr.aws/glue/aws-glue-libs:5",
}

#: Directory (relative to the source root) the job tests write their JUnit XML to.
REPORTS_DIR = "glue-test-reports"

# Run pytest with no AWS credentials reachable: tests must not depend on an account or live data.
_NO_CREDENTIALS = (
    "env -u AWS_CONTAINER_CREDENTIALS_RELATIVE_URI -u AWS_CONTAINER_CREDENTIALS_FULL_URI "
    "-u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN AWS_EC2_METADATA_DISABLED=true"
)

StageFactory = Callable[[Construct, str, DeploymentTarget], cdk.Stage]


def glue_libs_image(where: str, version: glue.GlueVersion) -> codebuild.IBuildImage:
    """The CodeBuild image running the AWS Glue libraries of ``version``; raise if none is published."""
    uri = GLUE_LIBS_IMAGES.get(version)
    if uri is None:
        raise invalid(
            where,
            "test_image",
            None,
            f"no aws-glue-libs image is known for {version.name}; pass test_image= (a CodeBuild image with "
            "the Glue libraries) or use one of " + ", ".join(v.name for v in GLUE_LIBS_IMAGES),
        )
    return codebuild.LinuxBuildImage.from_docker_registry(uri)


class GlueEtlPipeline(Construct):
    """Self-mutating CDK Pipelines pipeline for a Glue ETL workload described by a :class:`GlueEtlSpec`.

    The job tests run with pytest in the aws-glue-libs image of the spec's Glue
    version, as their own CodeBuild action before synth; results go to a
    CodeBuild report group as JUnit XML. pytest runs with every AWS credential
    source removed from its environment, so a test that needs an account or live
    data fails instead of quietly using the build role. Each target then gets a
    :class:`GlueEtlStage`; a target with ``security_gated`` deploys through
    :class:`SecurityGatedStage`, one with only ``manual_approval`` behind a
    ``ManualApprovalStep``.

    :param source: where the code comes from, e.g. ``CodePipelineSource.connection(...)``.
    :param spec: the Glue workload every target deploys.
    :param targets: where to deploy, in order (e.g. Dev, then Prod). At least one, unique names.
    :param job_tests: the pytest path of the job tests, relative to the repository root; it must
        exist (the root is the app directory, or a parent of it when ``app_dir`` is a sub-directory).
        Default: ``"tests"``.
    :param app_dir: directory of the CDK app inside the repository. Default: ``"."``.
    :param test_image: CodeBuild image of the job tests. Default: the aws-glue-libs image of
        the Glue version of the spec's Spark jobs (Glue 5.0 when there are none); an error
        when the Spark jobs use several versions or one without a published image.
    :param test_install_commands: commands run before pytest in the test image, e.g.
        ``["python3 -m pip install --user -r tests/requirements.txt"]``. Default: none.
    :param test_compute_type: CodeBuild compute of the job tests. Default: the pipeline's.
    :param synth_commands: commands (run in ``app_dir``) that produce ``cdk.out``.
        Default: ``["pip install -r requirements.txt", "npx -y aws-cdk@<cli version> synth"]`` (the pipeline's
        pinned CDK CLI).
    :param pipeline_name: CodePipeline name. Default: ``<stack name>-<construct id>``. The stacks of
        the default stage are named ``<target>-<pipeline name>-Etl``: two pipelines never share a stack.
    :param workload_options: other :class:`~pipeline_constructs.glue_etl.workload.GlueEtlWorkload`
        keyword arguments for every target. Default: none.
    :param stage_factory: ``(scope, id, target) -> cdk.Stage`` deploying something other than
        the default :class:`GlueEtlStage`. Default: ``None``.
    :param cross_account_keys: see :class:`SecurePipeline`. Default: automatic.
    :param pipeline_options: other :class:`SecurePipeline` keyword arguments. Default: none.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        source: pipelines.IFileSetProducer,
        spec: GlueEtlSpec,
        targets: Sequence[DeploymentTarget],
        job_tests: str = "tests",
        app_dir: str = ".",
        test_image: codebuild.IBuildImage | None = None,
        test_install_commands: Sequence[str] = (),
        test_compute_type: codebuild.ComputeType | None = None,
        synth_commands: Sequence[str] | None = None,
        pipeline_name: str | None = None,
        workload_options: Mapping[str, Any] | None = None,
        stage_factory: StageFactory | None = None,
        cross_account_keys: bool | None = None,
        pipeline_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(scope, id)
        where = self.node.path
        require_stack_env(where, self)
        require_synth(where, "source", source)
        require_instance(where, "spec", spec, GlueEtlSpec, "expected a GlueEtlSpec")
        targets = validate_targets(where, targets)
        app_dir = require_relative_path(where, "app_dir", app_dir)
        job_tests = require_relative_path(where, "job_tests", job_tests)
        require_existing_path(
            where,
            "job_tests",
            job_tests,
            repository_roots(app_dir, Path(spec.scripts_dir)),
            what="pytest path of the job tests (pass job_tests=)",
        )
        if test_image is not None:
            require_interface(where, "test_image", test_image, "image_id", "expected a codebuild.IBuildImage")
        test_install_commands = require_commands(where, "test_install_commands", test_install_commands, min_length=0)
        if test_compute_type is not None:
            require_enum(where, "test_compute_type", test_compute_type, codebuild.ComputeType)
        commands_after_cd = (
            require_commands(where, "synth_commands", synth_commands) if synth_commands is not None else None
        )
        require_pipeline_name(where, "pipeline_name", pipeline_name)
        workload_options = check_workload_options(where, "workload_options", workload_options)
        if stage_factory is not None:
            require_callable(
                where, "stage_factory", stage_factory, "expected a (scope, id, target) -> cdk.Stage callable"
            )
        if cross_account_keys is not None:
            require_bool(where, "cross_account_keys", cross_account_keys)
        extra_options = check_pipeline_options(
            where, pipeline_options, reserved={"cross_account_keys": "use the cross_account_keys prop"}
        )
        pipeline_name = pipeline_name or default_pipeline_name(self)
        #: The spec every target deploys.
        self.spec = spec
        #: The CodeBuild image of the job tests.
        self.test_image: codebuild.IBuildImage = test_image or self._default_test_image()

        #: The report group of the job tests (JUnit XML).
        self.test_reports = TestReports(
            self, "JobTestReports", base_directory=REPORTS_DIR, format=TestReportFormat.JUNIT_XML, files=("*.xml",)
        )
        #: The job-test action (pytest in the aws-glue-libs image).
        self.job_tests = pipelines.CodeBuildStep(
            "JobTests",
            input=source,
            build_environment=codebuild.BuildEnvironment(build_image=self.test_image, compute_type=test_compute_type),
            install_commands=list(test_install_commands),
            commands=[
                f'mkdir -p "$CODEBUILD_SRC_DIR/{REPORTS_DIR}"',
                f"{_NO_CREDENTIALS} python3 -m pytest {shell_quote(job_tests)} "
                f'--junitxml="$CODEBUILD_SRC_DIR/{REPORTS_DIR}/glue-jobs.xml"',
            ],
            partial_build_spec=self.test_reports.partial_build_spec(),
            role_policy_statements=self.test_reports.policy_statements(),
            timeout=cdk.Duration.minutes(30),
        )
        commands = [f"cd {shell_quote(app_dir)}"] if app_dir != "." else []
        commands += list(
            commands_after_cd
            if commands_after_cd is not None
            else default_synth_commands(pipeline_cli_version(self, pipeline_options))
        )
        #: The synth action (runs after the job tests).
        self.synth = pipelines.CodeBuildStep(
            "Synth",
            input=source,
            commands=commands,
            primary_output_directory=f"{app_dir}/cdk.out" if app_dir != "." else "cdk.out",
        )
        self.synth.add_step_dependency(self.job_tests)

        #: The hardened pipeline (artifact bucket, keys, logs).
        self.secure_pipeline = SecurePipeline(
            self,
            "Pipeline",
            synth=self.synth,
            pipeline_name=pipeline_name,
            targets=targets,
            cross_account_keys=cross_account_keys,
            **extra_options,
        )
        #: The CDK Pipelines pipeline (escape hatch: add waves, stages, steps before synth).
        self.pipeline: pipelines.CodePipeline = self.secure_pipeline.pipeline
        cdk.Aspects.of(self.pipeline).add(_AcknowledgeTestImage(self.pipeline, self.test_image))

        base = self.secure_pipeline.pipeline_name or self.node.id

        def default_stage(scope: Construct, id: str, target: DeploymentTarget) -> cdk.Stage:
            return GlueEtlStage(
                scope,
                id,
                target=target,
                spec=spec,
                workload_options=workload_options,
                stack_name=stage_stack_name(target.name, base, "Etl"),
            )

        factory = stage_factory or default_stage
        #: The application stage of each target, by target name.
        self.stages: dict[str, cdk.Stage] = {}
        #: Stage deployments by target name, in deployment order.
        self.deployments: dict[str, pipelines.StageDeployment] = {}
        #: The security gates by target name.
        self.gates: dict[str, SecurityGatedStage] = {}
        for target in targets:
            stage = factory(self, target.name, target)
            if not isinstance(stage, cdk.Stage):
                raise wrong_type(where, "stage_factory", stage, "expected the factory to return an aws_cdk.Stage")
            self.stages[target.name] = stage
            deployment, gate = add_target_stage(self, self.pipeline, target, stage)
            self.deployments[target.name] = deployment
            if gate is not None:
                self.gates[target.name] = gate

    def _default_test_image(self) -> codebuild.IBuildImage:
        versions = self.spec.spark_glue_versions
        if len(versions) > 1:
            raise invalid(
                self.node.path,
                "test_image",
                None,
                "the Spark jobs use several Glue versions (" + ", ".join(v.name for v in versions) + "); pass "
                "test_image= for the job tests, or use one Glue version",
            )
        return glue_libs_image(self.node.path, versions[0] if versions else glue.GlueVersion.V5_0)

    @property
    def code_pipeline(self) -> codepipeline.Pipeline:
        """The built ``codepipeline.Pipeline`` (builds the pipeline: add no stages after this)."""
        return self.secure_pipeline.code_pipeline


@jsii.implements(cdk.IAspect)
class _AcknowledgeTestImage:
    """After CDK Pipelines built the pipeline: acknowledge the custom image of the job-test project only."""

    def __init__(self, pipeline: pipelines.CodePipeline, image: codebuild.IBuildImage) -> None:
        self._pipeline = pipeline
        self._image = image
        self._done = False

    def visit(self, node: IConstruct) -> None:
        if self._done or node is not self._pipeline:
            return
        self._done = True
        stack = cdk.Stack.of(node)
        for child in node.node.find_all():
            if not isinstance(child, codebuild.CfnProject):
                continue
            environment = stack.resolve(child.environment)
            if isinstance(environment, dict) and environment.get("image") == self._image.image_id:
                acknowledge(child, "AwsSolutions-CB5", reason("glue-test-image", image=self._image.image_id))
