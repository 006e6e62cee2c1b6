"""RedshiftMigrationPipeline: Flyway migrations and JUnit tests against Amazon Redshift, production after approval.

The solution of the AWS DevOps post "CI/CD for Amazon Redshift stored
procedures and schema changes with Flyway" as one construct:

source -> synth -> self-mutation -> for each target, in order: its stage (when
``stage_factory`` gives one) behind the gates the target asks for, then its
migration build in CodeBuild inside the VPC. A test target (no manual
approval) runs the Flyway migrations, then the JUnit tests (``mvn -B clean
test``) and publishes the Surefire results to its report group; a production
target (``manual_approval=True``) runs the migrations only (``mvn -B clean
process-resources``, Flyway clean disabled) after ``PromoteTo<target>``.

What it fixes in the original sample: production is gated; every target has
its own build role that can read only that target's secret; credentials reach
the build only as Secrets Manager environment variables; each build's
security group allows egress only to its database port and HTTPS.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import pipelines
from constructs import Construct

from pipeline_constructs.core.compliance.hardening import after_build
from pipeline_constructs.core.options import (
    PipelineOptions,
    check_pipeline_options,
)
from pipeline_constructs.core.pipeline import PipelineConstruct
from pipeline_constructs.core.private.naming import default_pipeline_name
from pipeline_constructs.core.targets import (
    DeploymentTarget,
    StageFactory,
    reject_deployment_model,
    require_stage_factory,
    validate_targets,
)
from pipeline_constructs.core.validation import require_pipeline_name, require_stack_env
from pipeline_constructs.redshift_migration._acknowledgments import acknowledge_build_policies
from pipeline_constructs.redshift_migration._props import build_settings, check_databases, check_gates, is_production
from pipeline_constructs.redshift_migration.build import MigrationBuild
from pipeline_constructs.redshift_migration.commands import MigrationCommands, checked_commands
from pipeline_constructs.redshift_migration.database import DatabaseEndpoint

__all__ = ["RedshiftMigrationPipeline"]


class RedshiftMigrationPipeline(PipelineConstruct):
    """CI/CD for Redshift schema changes and stored procedures with Flyway (migrations) and JUnit (tests).

    Pipeline: Source -> Build (synth) -> UpdatePipeline -> one stage per
    target, in order. Each target's stage deploys the target's ``cdk.Stage``
    (with ``stage_factory``) behind its gates, then runs its migration build in
    CodeBuild inside ``vpc``:

    * a **test target** (``manual_approval=False``) runs ``commands.test``
      (migrations, then tests) and publishes the JUnit XML results to its own
      report group;
    * a **production target** (``manual_approval=True``) waits for the approval
      ``PromoteTo<target>`` (and, when ``security_gated``, the permissions check
      ``<target>Gate`` before it), then runs ``commands.migrate`` (migrations only).

    A failing command fails the action and stops the pipeline. Per target the
    construct creates a build role (reads only that target's secret), a security
    group (egress only to the database port and HTTPS) and, for test targets, a
    report group.

    :param source: where the code comes from (a ``pipelines.CodePipelineSource``):
        the CDK app and the migration project.
    :param targets: the databases' environments, in order (``DeploymentTarget``):
        unique names, and a test target before the first production target.
        ``security_gated`` needs ``stage_factory`` (the gate checks a deployed stage).
    :param vpc: the VPC the migration builds run in. It must be in the
        pipeline's account and region (CodeBuild runs the builds there).
    :param databases: target name -> :class:`DatabaseEndpoint` (the secret the
        build signs in with, and the database's security group or range): exactly
        one per target; secrets unique and in their target's account.
    :param commands: the build commands. Default: ``MigrationCommands.maven()``.
    :param synth: a whole synth step of your own. Default: a ``CodeBuildStep``
        ``Synth`` on ``source`` running ``synth_commands`` in ``app_dir``.
    :param synth_commands: the commands of the default synth step (not with ``synth``).
        Default: ``pip install -r requirements.txt`` and ``npx -y aws-cdk@<pinned CLI> synth``.
    :param app_dir: the folder of the CDK app in ``source`` (not with ``synth``). Default: ``"."``.
    :param pipeline_name: CodePipeline name. Default: ``<stack name>-<construct id>``.
    :param subnet_selection: subnets of the builds: private subnets with a
        route to HTTPS (NAT or VPC endpoints). Default: ``PRIVATE_WITH_EGRESS``.
    :param https_egress: where the builds may connect on port 443 (Maven
        repositories, Secrets Manager, S3, CloudWatch Logs, CodeBuild APIs).
        Default: ``ec2.Peer.any_ipv4()``; give a prefix list or proxy range to narrow it.
    :param build_environment: CodeBuild environment of the migration builds
        (image, compute), merged over the pipeline's. Default: the pipeline's
        (Amazon Linux 2023 standard 5.0). Environment variables are refused.
    :param timeout: timeout of each migration build (5 minutes to 36 hours).
        Default: CodeBuild's (60 minutes).
    :param stage_factory: ``(scope, id, target) -> cdk.Stage``: what the pipeline
        deploys for each target before migrating it (e.g. its Redshift workgroup).
        Default: none; each target's stage then holds only its approval and build.
    :param pipeline_options: more :class:`~pipeline_constructs.core.pipeline.SecurePipeline`
        options (``removal_policy``, also of the report groups; ``log_retention``,
        ``compute_type``, ``cross_account_keys``, ...). Default: none;
        ``cross_account_keys`` defaults to ``True`` here (a customer-managed,
        rotating key for the artifacts, which hold the migrations).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        source: pipelines.IFileSetProducer,
        targets: Sequence[DeploymentTarget],
        vpc: ec2.IVpc,
        databases: Mapping[str, DatabaseEndpoint],
        commands: MigrationCommands | None = None,
        synth: pipelines.IFileSetProducer | None = None,
        synth_commands: Sequence[str] | None = None,
        app_dir: str | None = None,
        pipeline_name: str | None = None,
        subnet_selection: ec2.SubnetSelection | None = None,
        https_egress: ec2.IPeer | None = None,
        build_environment: codebuild.BuildEnvironment | None = None,
        timeout: cdk.Duration | None = None,
        stage_factory: StageFactory | None = None,
        pipeline_options: PipelineOptions | None = None,
    ) -> None:
        super().__init__(scope, id)
        where = self.node.path
        stack = require_stack_env(where, self)
        require_pipeline_name(where, "pipeline_name", pipeline_name)
        options = check_pipeline_options(where, pipeline_options)
        options.setdefault("cross_account_keys", True)
        synth = self._synth_step(source, synth, synth_commands, app_dir, pipeline_options)
        if synth_commands is not None:
            checked_commands(where, "synth_commands", synth_commands, required=True)
        #: The targets, in pipeline order.
        self.targets: tuple[DeploymentTarget, ...] = validate_targets(where, targets)
        #: Each target's database, by target name.
        self.databases: dict[str, DatabaseEndpoint] = check_databases(where, self.targets, databases)
        factory = require_stage_factory(where, "stage_factory", stage_factory)
        if factory is None:
            reject_deployment_model(
                where,
                self.targets,
                why="without a stage_factory a target's stage holds only its approval and migration build; give a "
                "stage_factory to deploy with waves, stage conditions, the AWS Health gate or an assessment",
            )
        check_gates(where, self.targets, factory)
        settings = build_settings(
            where,
            stack,
            source=source,
            commands=commands,
            vpc=vpc,
            subnet_selection=subnet_selection,
            https_egress=https_egress,
            build_environment=build_environment,
            timeout=timeout,
            removal_policy=options.get("removal_policy", cdk.RemovalPolicy.RETAIN),
        )
        self.source = source
        self.vpc = vpc
        self.commands: MigrationCommands = settings.commands
        self.subnet_selection: ec2.SubnetSelection = settings.subnet_selection

        self._build_pipeline(
            synth=synth,
            pipeline_name=pipeline_name or default_pipeline_name(self),
            targets=self.targets,
            options=options,
        )
        builds = {
            t.name: MigrationBuild(
                self,
                f"{t.name}.Migration",  # '.' is not in target names: never a target's stage or gate id
                target=t,
                database=self.databases[t.name],
                production=is_production(t),
                settings=settings,
            )
            for t in self.targets
        }
        #: Per target name: the migration step (``pipelines.CodeBuildStep``; ``.project`` after the build).
        self.migration_steps: dict[str, pipelines.CodeBuildStep] = {n: b.step for n, b in builds.items()}
        #: Per target name: the build role (reads only that target's secret).
        self.build_roles: dict[str, iam.Role] = {n: b.role for n, b in builds.items()}
        #: Per target name: the build's security group.
        self.security_groups: dict[str, ec2.SecurityGroup] = {n: b.security_group for n, b in builds.items()}
        self.test_reports.update({n: b.test_reports for n, b in builds.items() if b.test_reports is not None})

        if factory is not None:
            self._deploy_targets(self.targets, factory, post=lambda t: [self.migration_steps[t.name]])
        else:
            for target in self.targets:
                self._add_wave(target, self.migration_steps[target.name])
        after_build(
            self.pipeline,
            lambda: acknowledge_build_policies(self.build_roles.values(), self.migration_steps.values()),
        )

    def _add_wave(self, target: DeploymentTarget, step: pipelines.CodeBuildStep) -> None:
        """A stage without a ``cdk.Stage``: the approval ``PromoteTo<target>`` (if any), then the build."""
        pre: list[pipelines.Step] = []
        if target.manual_approval:
            approval = pipelines.ManualApprovalStep(f"PromoteTo{target.name}", comment=target.approval_comment)
            step.add_step_dependency(approval)  # a wave without stages would run pre and post side by side
            pre.append(approval)
        self.pipeline.add_wave(target.name, pre=pre, post=[step])
