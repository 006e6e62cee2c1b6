"""GlueEtlPipeline: test the Glue job scripts in the aws-glue-libs image, then deploy the workload per target.

Pipeline (run order)::

    Source -> Build: JobTests (pytest in the aws-glue-libs image -> JUnit report) | Synth, in parallel
           -> UpdatePipeline/SelfMutate -> Assets/FileAsset
           -> <target 1> (e.g. Dev) -> <target 2> (e.g. Prod: PermissionCheck -> PromoteToProd -> deploy)

Why the job tests are their own action, and why running them beside synth is safe:
:mod:`~pipeline_constructs.glue_etl.job_tests`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import pipelines
from constructs import Construct

from pipeline_constructs.core.compliance.hardening import after_build
from pipeline_constructs.core.options import PipelineOptions, check_pipeline_options
from pipeline_constructs.core.pipeline import PipelineConstruct
from pipeline_constructs.core.private.naming import default_pipeline_name, stage_stack_name
from pipeline_constructs.core.reports import TestReportFormat, TestReports
from pipeline_constructs.core.run_orders import RunOrderOverride, add_run_order
from pipeline_constructs.core.targets import DeploymentTarget, StageFactory, require_stage_factory, validate_targets
from pipeline_constructs.core.validation import (
    repository_roots,
    require_commands,
    require_enum,
    require_existing_path,
    require_instance,
    require_interface,
    require_pipeline_name,
    require_relative_path,
    require_stack_env,
    wrong_type,
)
from pipeline_constructs.glue_etl.job_tests import (
    REPORTS_DIR,
    acknowledge_test_image,
    default_test_image,
    job_tests_step,
)
from pipeline_constructs.glue_etl.spec import GlueEtlSpec
from pipeline_constructs.glue_etl.workload import GlueEtlStage
from pipeline_constructs.glue_etl.workload.options import check_workload_options

__all__ = ["GlueEtlPipeline"]

#: The stage CDK Pipelines puts the synth step and the steps it depends on in.
BUILD_STAGE = "Build"


class GlueEtlPipeline(PipelineConstruct):
    """Self-mutating CDK Pipelines pipeline for a Glue ETL workload described by a :class:`GlueEtlSpec`.

    The job tests run with pytest in the aws-glue-libs image of the spec's Glue
    version, as their own CodeBuild action in the ``Build`` stage, in parallel with synth
    (the stage, and so the pipeline, stops when either fails: nothing deploys); results go to a
    CodeBuild report group as JUnit XML (``test_reports["JobTests"]``). pytest runs
    with every AWS credential source removed from its environment, so a test that
    needs an account or live data fails instead of quietly using the build role.
    Each target then gets a :class:`GlueEtlStage` behind the gates it asks for
    (``<target>Gate`` for ``security_gated``, ``PromoteTo<target>`` for ``manual_approval``).

    :param source: where the code comes from, e.g. ``CodePipelineSource.connection(...)``;
        the job tests and the default synth step run on it.
    :param targets: where to deploy, in order (e.g. Dev, then Prod). At least one, unique names.
    :param spec: the Glue workload every target deploys.
    :param synth: a whole synth step of your own (a ``ShellStep``/``CodeBuildStep`` producing
        ``cdk.out``); it runs in parallel with the job tests. Not with ``synth_commands`` or ``app_dir``.
        Default: a ``Synth`` CodeBuildStep on ``source`` running ``synth_commands`` in ``app_dir``.
    :param synth_commands: commands (run in ``app_dir``) that produce ``cdk.out``.
        Default: ``["pip install -r requirements.txt", "npx -y aws-cdk@<cli version> synth"]`` (the pipeline's
        pinned CDK CLI).
    :param app_dir: directory of the CDK app inside the repository. Default: ``"."``.
    :param pipeline_name: CodePipeline name. Default: ``<stack name>-<construct id>``. The stacks of
        the default stage are named ``<target>-<pipeline name>-Etl``: two pipelines never share a stack.
    :param job_tests: the pytest path of the job tests, relative to the repository root; it must
        exist (the root is the app directory, or a parent of it when ``app_dir`` is a sub-directory).
        Default: ``"tests"``.
    :param test_image: CodeBuild image of the job tests. Default: the aws-glue-libs image of
        the Glue version of the spec's Spark jobs (Glue 5.0 when there are none); an error
        when the Spark jobs use several versions or one without a published image.
    :param test_install_commands: commands run before pytest in the test image, e.g.
        ``["python3 -m pip install --user -r tests/requirements.txt"]``. Default: none.
    :param test_compute_type: CodeBuild compute of the job tests. Default: the pipeline's.
    :param workload_options: other :class:`~pipeline_constructs.glue_etl.workload.GlueEtlWorkload`
        keyword arguments for every target (its own ``removal_policy``, ``log_retention``...: the
        workload's stacks are not the pipeline's). Default: none.
    :param stage_factory: ``(scope, id, target) -> cdk.Stage`` deploying something other than
        the default :class:`GlueEtlStage`. Default: ``None``.
    :param pipeline_options: options of the hardened pipeline
        (:class:`~pipeline_constructs.core.options.PipelineOptions`: ``cross_account_keys``,
        ``removal_policy`` (also of the report group), ``cli_version``...). ``synth``,
        ``pipeline_name`` and ``targets`` are props. Default: none.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        source: pipelines.IFileSetProducer,
        targets: Sequence[DeploymentTarget],
        spec: GlueEtlSpec,
        synth: pipelines.IFileSetProducer | None = None,
        synth_commands: Sequence[str] | None = None,
        app_dir: str | None = None,
        pipeline_name: str | None = None,
        job_tests: str = "tests",
        test_image: codebuild.IBuildImage | None = None,
        test_install_commands: Sequence[str] = (),
        test_compute_type: codebuild.ComputeType | None = None,
        workload_options: Mapping[str, Any] | None = None,
        stage_factory: StageFactory | None = None,
        pipeline_options: PipelineOptions | None = None,
    ) -> None:
        super().__init__(scope, id)
        where = self.node.path
        require_stack_env(where, self)
        require_instance(where, "spec", spec, GlueEtlSpec, "expected a GlueEtlSpec")
        targets = validate_targets(where, targets)
        root = require_relative_path(where, "app_dir", app_dir if app_dir is not None else ".")
        job_tests = require_relative_path(where, "job_tests", job_tests)
        require_existing_path(
            where,
            "job_tests",
            job_tests,
            repository_roots(root, Path(spec.scripts_dir)),
            what="pytest path of the job tests (pass job_tests=)",
        )
        if test_image is not None:
            require_interface(where, "test_image", test_image, "image_id", "expected a codebuild.IBuildImage")
        test_install_commands = require_commands(where, "test_install_commands", test_install_commands, min_length=0)
        if test_compute_type is not None:
            require_enum(where, "test_compute_type", test_compute_type, codebuild.ComputeType)
        require_pipeline_name(where, "pipeline_name", pipeline_name)
        workload_options = check_workload_options(where, "workload_options", workload_options)
        factory = require_stage_factory(where, "stage_factory", stage_factory)
        options = check_pipeline_options(where, pipeline_options)
        synth = self._synth_step(source, synth, synth_commands, app_dir, options)
        if not isinstance(synth, pipelines.Step):
            raise wrong_type(where, "synth", synth, "expected a pipelines.Step (the job tests run beside it)")
        #: The spec every target deploys.
        self.spec = spec
        #: The CodeBuild image of the job tests.
        self.test_image: codebuild.IBuildImage = test_image or default_test_image(where, spec)

        # Build: the job tests and synth, in parallel.
        self.test_reports["JobTests"] = TestReports(
            self,
            "JobTestReports",
            base_directory=REPORTS_DIR,
            format=TestReportFormat.JUNIT_XML,
            files=("*.xml",),
            removal_policy=options.get("removal_policy", cdk.RemovalPolicy.RETAIN),
        )
        #: The job-test action (pytest in the aws-glue-libs image).
        self.job_tests = job_tests_step(
            source,
            tests=job_tests,
            image=self.test_image,
            compute_type=test_compute_type,
            install_commands=test_install_commands,
            reports=self.test_reports["JobTests"],
        )
        #: The synth action (runs in parallel with the job tests).
        self.synth: pipelines.IFileSetProducer = synth
        # CDK Pipelines puts a step in the pipeline only when another depends on it: the synth step depends
        # on the job tests (JobTests at run order 1, Synth at 2 of the Build stage), then the JobTests
        # action takes Synth's run order on the built pipeline. Synth reads nothing of JobTests (it has no
        # output), and the Build stage still succeeds only when both did.
        synth.add_step_dependency(self.job_tests)
        self._build_pipeline(
            synth=synth, pipeline_name=pipeline_name or default_pipeline_name(self), targets=targets, options=options
        )
        add_run_order(self.pipeline, RunOrderOverride(BUILD_STAGE, self.job_tests.id, same_as=synth.id))
        image = self.test_image
        after_build(self.pipeline, lambda: acknowledge_test_image(self.pipeline, image))

        # Then one GlueEtlStage (or the factory's stage) per target, in order.
        self._deploy_targets(targets, factory or self._default_stage(workload_options))

    def _default_stage(self, workload_options: Mapping[str, Any]) -> StageFactory:
        base = self.secure_pipeline.pipeline_name or self.node.id

        def stage(scope: Construct, id: str, target: DeploymentTarget) -> cdk.Stage:
            return GlueEtlStage(
                scope,
                id,
                target=target,
                spec=self.spec,
                workload_options=workload_options,
                stack_name=stage_stack_name(target.name, base, "Etl"),
            )

        return stage
