"""Harden what CDK Pipelines generates, once it has built the pipeline; acknowledge only what remains.

CDK Pipelines creates its roles, CodeBuild projects, the permission check and
its auto-approve Lambda, and the cross-region support stacks only when the
pipeline is built (at synth). :func:`harden_pipeline_internals` (the whole
pipeline, used by :class:`~pipeline_constructs.core.pipeline.SecurePipeline`) and
:func:`harden_security_check` (the permission check alone, used by
:class:`~pipeline_constructs.stages.security_gated.SecurityGatedStage` on any
pipeline) register one aspect per pipeline that runs right after the build.

What it fixes (evidence for each narrowing in the comments):

* the asset role's ``codebuild:StartBuild``/``BatchGetBuilds``/``StopBuild`` on
  ``*`` are scoped to the asset projects that use the role;
* the permission check's ``sts:AssumeRole`` on ``*`` is scoped to the deploy
  roles of the stacks the pipeline deploys;
* the permission check installs the pinned CDK CLI (``npm install -g aws-cdk``
  was unpinned); self-mutation and asset publishing are pinned by
  ``SecurePipeline`` through ``cli_version`` / ``cdk_assets_cli_version``;
* the auto-approve function (invoked asynchronously by the check) gets its own
  KMS-encrypted log group instead of ``AWSLambdaBasicExecutionRole``, a
  KMS-encrypted dead-letter queue with an alarm, X-Ray tracing and 256 MB;
* the self-mutation role's ``cloudformation:DescribeStacks`` is scoped to the
  pipeline's account, its ``s3:ListBucket`` limited to that account's buckets;
* the cross-region replication buckets are versioned and log their access, and
  the pipeline role's KMS grant on ``*`` for their keys becomes their keys only.

What remains is acknowledged on the narrowest resource, with a catalogue reason
(:mod:`pipeline_constructs.core.compliance.reasons`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import pipelines
from constructs import Construct, IConstruct

from pipeline_constructs.core.compliance import acknowledge_all, in_packs
from pipeline_constructs.core.compliance.iam import flatten
from pipeline_constructs.core.compliance.reasons import reason
from pipeline_constructs.core.private.buckets import access_log_bucket, grant_access_log_delivery
from pipeline_constructs.core.private.defaults import CDK_CLI_VERSION
from pipeline_constructs.core.private.encryption import encrypted_log_group, new_key
from pipeline_constructs.core.private.iam_idioms import (
    acknowledge_function_outside_vpc,
    acknowledge_role_policies,
    rewrite_role_statements,
)

__all__ = ["PIPELINE_TRUST_FLAGS", "after_build", "harden_pipeline_internals", "harden_security_check"]

#: Feature flags that keep CDK Pipelines' generated roles from trusting the account root
#: (asset, stage and cross-account action roles); :class:`SecurePipeline` sets them on its scope.
PIPELINE_TRUST_FLAGS = (
    "@aws-cdk/pipelines:reduceAssetRoleTrustScope",
    "@aws-cdk/pipelines:reduceStageRoleTrustScope",
    "@aws-cdk/pipelines:reduceCrossAccountActionRoleTrustScope",
)

_CHECK = "PipelinesSecurityCheck"
_ASSET_BUILD_ACTIONS = {"codebuild:BatchGetBuilds", "codebuild:StartBuild", "codebuild:StopBuild"}
_UNPINNED_CDK = re.compile(r"npm install -g aws-cdk(?![@\w-])")
_REPLICA_NONCURRENT_DAYS = 30


@dataclass
class _Options:
    full: bool = False
    log_group: logs.ILogGroup | None = None
    logs_key: kms.IKey | None = None
    customer_key: bool = True
    cli_version: str = CDK_CLI_VERSION
    retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR
    removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN
    topics: list[sns.ITopic] = field(default_factory=list)
    rules: list[Callable[[], None]] = field(default_factory=list)


def _statement_actions(statement: dict[str, Any]) -> set[str]:
    actions = statement.get("Action")
    return set(actions if isinstance(actions, list) else [actions])


def _is_star(statement: dict[str, Any]) -> bool:
    return statement.get("Resource") == "*" or statement.get("Resource") == ["*"]


@jsii.implements(cdk.IAspect)
class _PipelineInternals:
    def __init__(self, pipeline: pipelines.CodePipeline, marker: Construct, options: _Options) -> None:
        self._pipeline = pipeline
        self._marker = marker
        self.options = options
        self._done = False

    # Registered on a leaf marker, so this runs once, after CDK Pipelines' own build aspect
    # (on the marker's parent) and before any generated resource is visited.
    def visit(self, node: IConstruct) -> None:
        if self._done:
            return
        self._done = True
        try:
            self._pipeline.pipeline  # noqa: B018 - raises until the pipeline is built
        except RuntimeError:
            self._pipeline.build_pipeline()
        self._harden()
        for rule in self.options.rules:
            rule()

    def _harden(self) -> None:
        root = self._pipeline.node.path
        check_scope = self._pipeline.node.try_find_child(_CHECK)
        if check_scope is not None:
            self._harden_security_check(check_scope)
        if not self.options.full:
            return
        projects = [c for c in self._pipeline.node.find_all() if isinstance(c, codebuild.CfnProject)]
        for project in projects:
            if not project.node.path.startswith(f"{root}/{_CHECK}/"):
                acknowledge_all(project, self._project_rules(project))
        for child in self._pipeline.node.find_all():
            if not isinstance(child, iam.Role) or child.node.try_find_child("DefaultPolicy") is None:
                continue
            path = child.node.path.removeprefix(root)
            if path in ("/Assets/FileRole", "/Assets/DockerRole"):
                self._scope_asset_role(child, projects)
            elif path == "/UpdatePipeline/SelfMutation/Role":
                self._scope_self_mutation(child)
            elif path == "/Pipeline/Role":
                self._scope_replica_keys(child)
            acknowledge_role_policies(child)
        self._harden_support_stacks()

    # -- generated CodeBuild projects --------------------------------------------------------------

    def _project_rules(self, project: codebuild.CfnProject) -> list[tuple[str, str]]:
        stack = cdk.Stack.of(project)
        rules: list[tuple[str, str]] = []
        source = stack.resolve(project.source)
        kind = (source.get("type") or source.get("Type")) if isinstance(source, dict) else None
        if kind in ("CODEPIPELINE", "NO_SOURCE"):
            rules += in_packs(
                "CodeBuildProjectSourceRepoUrl",
                ("HIPAA.Security", "PCI.DSS.321"),
                reason("codebuild-pipeline-source", type=str(kind)),
            )
        if not self.options.customer_key and stack.resolve(project.encryption_key) in (None, "alias/aws/s3"):
            rules.append(("AwsSolutions-CB4", reason("aws-managed-artifact-key", account=str(stack.account))))
        return rules

    def _log_to(self, project: codebuild.CfnProject, log_group: logs.ILogGroup) -> None:
        """Send a generated project CDK Pipelines did not configure (the permission check) to ``log_group``."""
        if project.logs_config is not None:
            return
        project.logs_config = codebuild.CfnProject.LogsConfigProperty(
            cloud_watch_logs=codebuild.CfnProject.CloudWatchLogsConfigProperty(
                status="ENABLED", group_name=log_group.log_group_name
            )
        )
        owner = project.node.scope
        if isinstance(owner, codebuild.Project):
            log_group.grant_write(owner)

    # -- the asset-publishing role ----------------------------------------------------------------

    def _scope_asset_role(self, role: iam.Role, projects: list[codebuild.CfnProject]) -> None:
        """``codebuild:StartBuild``/``BatchGetBuilds``/``StopBuild`` on the asset projects only.

        CDK's ``AssetSingletonRole`` adds them on ``*``. With ``reduceAssetRoleTrustScope`` (set by
        SecurePipeline) the role is only the asset projects' CodeBuild service role; without it, it is also
        the CodePipeline action role of the asset actions, which starts and polls exactly those projects
        (CDK's own CodeBuildAction grants these actions on the project ARN). Either way the projects whose
        service role it is are all it needs.
        """
        stack = cdk.Stack.of(role)
        role_arn = stack.resolve(role.role_arn)
        mine = [p for p in projects if stack.resolve(p.service_role) == role_arn]
        if not mine:
            return
        arns = [p.attr_arn for p in mine]
        # The role's log and report grants, on every project of the account (CDK's AssetSingletonRole), become
        # what CDK grants any other project's role: its default log group /aws/codebuild/<name> and the
        # report groups named after it.
        log_groups = [
            stack.format_arn(
                service="logs",
                resource="log-group",
                resource_name=f"/aws/codebuild/{p.ref}{suffix}",
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
            )
            for p in mine
            for suffix in ("", ":*")
        ]
        report_groups = [
            stack.format_arn(service="codebuild", resource="report-group", resource_name=f"{p.ref}-*") for p in mine
        ]

        def scope(statement: dict[str, Any]) -> dict[str, Any]:
            resource = statement.get("Resource")
            flat = flatten(resource) if not isinstance(resource, list) else ""
            if _is_star(statement) and _statement_actions(statement) <= _ASSET_BUILD_ACTIONS:
                return {**statement, "Resource": arns}
            if flat.endswith(":log-group:/aws/codebuild/*"):
                return {**statement, "Resource": log_groups}
            if flat.endswith(":report-group/*"):
                return {**statement, "Resource": report_groups}
            return statement

        rewrite_role_statements(role, scope)

    # -- self-mutation -----------------------------------------------------------------------------

    def _scope_self_mutation(self, role: iam.Role) -> None:
        """``cloudformation:DescribeStacks`` on this account's stacks; ``s3:ListBucket`` on this account's buckets.

        ``cdk deploy`` (the SelfMutate action) uses the build's own credentials only in the pipeline's
        account: it describes stacks by name (the bootstrap stack, the pipeline stack and its support stacks,
        in their regions) and lists the bootstrap bucket. CloudFormation stacks have no resource policy, so a
        role can only describe stacks of its own account anyway: naming the account removes nothing the
        deployment uses. The bootstrap bucket's name can be custom (or generated, for legacy bootstraps),
        so ``s3:ListBucket`` keeps ``*`` with an ``s3:ResourceAccount`` condition.
        """
        account = cdk.Stack.of(role).account
        stacks = f"arn:{cdk.Aws.PARTITION}:cloudformation:*:{account}:stack/*"

        def scope(statement: dict[str, Any]) -> dict[str, Any]:
            if not _is_star(statement):
                return statement
            actions = _statement_actions(statement)
            if actions == {"cloudformation:DescribeStacks"}:
                return {**statement, "Resource": stacks}
            if actions == {"s3:ListBucket"} and not statement.get("Condition"):
                return {**statement, "Condition": {"StringEquals": {"s3:ResourceAccount": account}}}
            return statement

        rewrite_role_statements(role, scope)

    # -- cross-region support stacks ---------------------------------------------------------------

    def _replica_stores(self) -> dict[str, tuple[str, str]]:
        """Region -> (bucket name, key alias name) of each cross-region artifact store."""
        cfn = self._pipeline.pipeline.node.default_child
        assert isinstance(cfn, codepipeline.CfnPipeline)
        home = cdk.Stack.of(cfn).region
        out: dict[str, tuple[str, str]] = {}
        for store in cdk.Stack.of(cfn).resolve(cfn.artifact_stores) or []:
            region = store.get("region")
            location = (store.get("artifactStore") or {}).get("location")
            key = json.dumps(((store.get("artifactStore") or {}).get("encryptionKey") or {}).get("id"))
            alias = re.search(r":alias/([A-Za-z0-9/_-]+)", key)
            if region != home and isinstance(location, str) and alias:
                out[str(region)] = (location, f"alias/{alias.group(1)}")
        return out

    def _scope_replica_keys(self, role: iam.Role) -> None:
        """The pipeline role's KMS grant for the replication keys: those keys only, not ``*``.

        CDK grants the pipeline role ``kms:*crypt*`` on ``*`` for the keys of the cross-region support stacks
        (it cannot reference a key of another region). Each key is the target of the alias named in the
        pipeline's ArtifactStores, so ``kms:ResourceAliases`` selects exactly those keys
        (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-resource-aliases).
        """
        stores = self._replica_stores()
        if not stores:
            return
        account = cdk.Stack.of(role).account
        keys = [f"arn:{cdk.Aws.PARTITION}:kms:{region}:{account}:key/*" for region in sorted(stores)]
        aliases = sorted(alias for _, alias in stores.values())

        def scope(statement: dict[str, Any]) -> dict[str, Any]:
            actions = _statement_actions(statement)
            if _is_star(statement) and actions and all(str(a).startswith("kms:") for a in actions):
                return {
                    **statement,
                    "Resource": keys,
                    "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": aliases}},
                }
            return statement

        rewrite_role_statements(role, scope)

    def _harden_support_stacks(self) -> None:
        stores = self._replica_stores()
        for region, support in self._pipeline.pipeline.cross_region_support.items():
            bucket = support.replication_bucket
            cfn = bucket.node.default_child
            if not isinstance(cfn, s3.CfnBucket) or region not in stores:
                continue
            stack = support.stack
            cfn.versioning_configuration = s3.CfnBucket.VersioningConfigurationProperty(status="Enabled")
            cfn.lifecycle_configuration = s3.CfnBucket.LifecycleConfigurationProperty(
                rules=[
                    s3.CfnBucket.RuleProperty(
                        id="ExpireNoncurrentArtifacts",
                        status="Enabled",
                        noncurrent_version_expiration=s3.CfnBucket.NoncurrentVersionExpirationProperty(
                            noncurrent_days=_REPLICA_NONCURRENT_DAYS
                        ),
                        abort_incomplete_multipart_upload=s3.CfnBucket.AbortIncompleteMultipartUploadProperty(
                            days_after_initiation=1
                        ),
                    )
                ]
            )
            logs_bucket = access_log_bucket(stack, "AccessLogs", removal_policy=self.options.removal_policy)
            cfn.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
                destination_bucket_name=logs_bucket.bucket_name, log_file_prefix="artifacts/"
            )
            grant_access_log_delivery(logs_bucket, bucket, "artifacts/")
            acknowledge_all(
                cfn,
                in_packs(
                    "S3BucketReplicationEnabled",
                    ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321"),
                    reason("replica-artifact-store-not-replicated", region=region, days=str(_REPLICA_NONCURRENT_DAYS)),
                ),
            )

    # -- the permission check (ConfirmPermissionsBroadening) ----------------------------------------

    def _logs(self) -> tuple[kms.IKey, logs.ILogGroup | None]:
        if self.options.logs_key is None:
            self.options.logs_key = new_key(
                self._marker,
                "LogsKey",
                description=f"Logs of the permission check of {self._pipeline.node.path}",
                allow_cloudwatch_logs=True,
                removal_policy=self.options.removal_policy,
            )
        return self.options.logs_key, self.options.log_group

    def _harden_security_check(self, scope: IConstruct) -> None:
        key, build_logs = self._logs()
        project = scope.node.try_find_child("CDKSecurityCheck")
        if isinstance(project, codebuild.Project):
            cfn = project.node.default_child
            assert isinstance(cfn, codebuild.CfnProject)
            if build_logs is None:
                build_logs = encrypted_log_group(
                    self._marker,
                    "PermissionCheckLogs",
                    key=key,
                    retention=self.options.retention,
                    removal_policy=self.options.removal_policy,
                )
            self._log_to(cfn, build_logs)
            self._pin_cli(cfn)
            if project.role is not None and isinstance(project.role, iam.Role):
                self._scope_assume_to_deploy_roles(project.role)
                acknowledge_role_policies(project.role)
            acknowledge_all(cfn, self._project_rules(cfn) if self.options.full else [])
        function = scope.node.try_find_child("CDKPipelinesAutoApprove")
        if isinstance(function, lambda_.Function):
            self._harden_auto_approve(function, key)

    def _pin_cli(self, project: codebuild.CfnProject) -> None:
        """Install the pinned CDK CLI in the check (CDK Pipelines writes an unpinned ``npm install -g aws-cdk``)."""
        stack = cdk.Stack.of(project)
        source = stack.resolve(project.source)
        spec = source.get("buildSpec") if isinstance(source, dict) else None
        version = self.options.cli_version

        def pin(value: Any) -> Any:
            if isinstance(value, str):
                return _UNPINNED_CDK.sub(f"npm install -g aws-cdk@{version}", value)
            if isinstance(value, list):
                return [pin(v) for v in value]
            if isinstance(value, dict):
                return {k: pin(v) for k, v in value.items()}
            return value

        if spec is not None:
            project.add_property_override("Source.BuildSpec", pin(spec))

    def _deploy_roles(self) -> list[str]:
        """The deploy-role ARNs of the stacks of every stage deployed behind a permission check.

        ``cdk diff`` (the check) reads each stack's deployed template with the stack's lookup role, falling
        back to its deploy role (the manifest's ``assumeRoleArn``, what CDK Pipelines' deploy actions assume);
        CDK's statement already excludes every tag but ``deploy``. So the deploy roles of the checked stacks
        are what the check can use today, named exactly instead of any deploy-tagged role of any account
        (aws-cdk-cli toolkit-lib ``deployments.ts``: ``readCurrentTemplate`` -> ``prepareSdkWithLookupOrDeployRole``).
        """
        gated: list[pipelines.StageDeployment] = []
        every: list[pipelines.StageDeployment] = []
        for wave in self._pipeline.waves:
            wave_gated = any(isinstance(s, pipelines.ConfirmPermissionsBroadening) for s in [*wave.pre, *wave.post])
            for stage in wave.stages:
                every.append(stage)
                if wave_gated or any(
                    isinstance(s, pipelines.ConfirmPermissionsBroadening) for s in [*stage.pre, *stage.post]
                ):
                    gated.append(stage)
        home = cdk.Stack.of(self._pipeline)
        arns: list[str] = []
        for stage in gated or every:
            for stack in stage.stacks:
                account = stack.account or home.account
                region = stack.region or home.region
                template = stack.assume_role_arn or f"arn:${{AWS::Partition}}:iam::{account}:role/cdk-*"
                arn = cdk.Fn.sub(
                    template.replace("${AWS::AccountId}", account).replace("${AWS::Region}", region),
                )
                if arn not in arns:
                    arns.append(arn)
        return arns

    def _scope_assume_to_deploy_roles(self, role: iam.Role) -> None:
        arns = self._deploy_roles()
        if not arns:
            return

        def scope(statement: dict[str, Any]) -> dict[str, Any]:
            if _is_star(statement) and _statement_actions(statement) == {"sts:AssumeRole"}:
                return {**statement, "Resource": arns}
            return statement

        rewrite_role_statements(role, scope)

    def _harden_auto_approve(self, function: lambda_.Function, key: kms.IKey) -> None:
        """Own log group, dead-letter queue with an alarm, tracing, memory: the function runs asynchronously.

        The check invokes it with ``aws lambda invoke --invocation-type Event``: Lambda retries a failed
        asynchronous invocation twice, then sends the event to the dead-letter queue
        (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html). Without one, a
        failure is silent and the gate waits for a person.
        """
        cfn = function.node.default_child
        assert isinstance(cfn, lambda_.CfnFunction)
        role = function.role
        cfn.memory_size = 256
        log_group = encrypted_log_group(
            self._marker,
            "AutoApproveLogs",
            key=key,
            retention=self.options.retention,
            removal_policy=self.options.removal_policy,
        )
        cfn.logging_config = lambda_.CfnFunction.LoggingConfigProperty(log_group=log_group.log_group_name)
        cfn.tracing_config = lambda_.CfnFunction.TracingConfigProperty(mode="Active")
        queue_key = new_key(
            self._marker,
            "AutoApproveDeadLettersKey",
            description=f"Dead letters of the auto-approve function of {self._pipeline.node.path}",
            removal_policy=self.options.removal_policy,
        )
        queue = sqs.Queue(
            self._marker,
            "AutoApproveDeadLetters",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=queue_key,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
            removal_policy=self.options.removal_policy,
        )
        cfn.dead_letter_config = lambda_.CfnFunction.DeadLetterConfigProperty(target_arn=queue.queue_arn)
        if isinstance(role, iam.Role):
            cfn_role = role.node.default_child
            assert isinstance(cfn_role, iam.CfnRole)
            cfn_role.managed_policy_arns = None  # AWSLambdaBasicExecutionRole: logs:* on every log group
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn]
                )
            )
            role.add_to_policy(iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue.queue_arn]))
            role.add_to_policy(
                iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[queue_key.key_arn])
            )
            role.add_to_policy(
                iam.PolicyStatement(actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources=["*"])
            )
            acknowledge_role_policies(role)
        alarm = cloudwatch.Alarm(
            self._marker,
            "AutoApproveFailures",
            alarm_description=(
                f"The auto-approve function of {self._pipeline.node.path} failed: a permission check that found "
                "no broadening waits for a manual approval."
            ),
            metric=queue.metric_approximate_number_of_messages_visible(
                period=cdk.Duration.minutes(5), statistic="Maximum"
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        for topic in self.options.topics:
            alarm.add_alarm_action(cw_actions.SnsAction(topic))
        cfn_queue = queue.node.default_child
        assert isinstance(cfn_queue, sqs.CfnQueue)
        acknowledge_all(
            cfn_queue,
            [("Serverless-SQSRedrivePolicy", reason("queue-is-dead-letter-queue", function=_logical(cfn)))],
        )
        if not self.options.topics:
            cfn_alarm = alarm.node.default_child
            assert isinstance(cfn_alarm, cloudwatch.CfnAlarm)
            acknowledge_all(
                cfn_alarm,
                in_packs(
                    "CloudWatchAlarmAction",
                    ("NIST.800.53.R5", "HIPAA.Security"),
                    reason("alarm-without-topic"),
                ),
            )
        only_invoker = reason("function-invoked-only-by", role=_logical_of_role(self._check_role()))
        acknowledge_all(cfn, in_packs("LambdaConcurrency", ("NIST.800.53.R5", "HIPAA.Security"), only_invoker))
        acknowledge_function_outside_vpc(function)

    def _check_role(self) -> iam.IRole | None:
        check = self._pipeline.node.try_find_child(_CHECK)
        project = check.node.try_find_child("CDKSecurityCheck") if check is not None else None
        return project.role if isinstance(project, codebuild.Project) else None


def _logical(resource: cdk.CfnElement) -> str:
    return str(cdk.Stack.of(resource).resolve(resource.logical_id))


def _logical_of_role(role: iam.IRole | None) -> str:
    cfn = role.node.default_child if role is not None else None
    return _logical(cfn) if isinstance(cfn, cdk.CfnElement) else "(none)"


_HARDENINGS: dict[tuple[int, str], _PipelineInternals] = {}


def _hardening(pipeline: pipelines.CodePipeline) -> _PipelineInternals:
    key = (id(pipeline.node.root), pipeline.node.path)
    existing = _HARDENINGS.get(key)
    if existing is None:
        # An aspect on the pipeline itself would be called back from Node once per generated construct;
        # on a leaf it is called once.
        marker = Construct(pipeline, "Hardening")
        existing = _HARDENINGS[key] = _PipelineInternals(pipeline, marker, _Options())
        cdk.Aspects.of(marker).add(existing)
    return existing


def harden_pipeline_internals(
    pipeline: pipelines.CodePipeline,
    *,
    log_group: logs.ILogGroup | None = None,
    logs_key: kms.IKey | None = None,
    customer_key: bool = True,
    cli_version: str = CDK_CLI_VERSION,
    retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
    removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
) -> None:
    """Register the post-build hardening of everything CDK Pipelines generates (call once, before synth).

    :param log_group: where generated CodeBuild projects without a logging
        configuration (the permission check) send their logs. Default: a new log group.
    :param logs_key: key of the log groups the hardening creates (the auto-approve
        function's). Default: a new key.
    :param customer_key: whether artifacts use a customer-managed KMS key. When
        ``False`` (a same-account pipeline chose the AWS-managed key),
        ``AwsSolutions-CB4`` is acknowledged on each generated project. Default: ``True``.
    :param cli_version: CDK CLI the permission check installs. Default: :data:`CDK_CLI_VERSION`.
    """
    options = _hardening(pipeline).options
    options.full = True
    options.log_group = log_group
    options.logs_key = logs_key
    options.customer_key = customer_key
    options.cli_version = cli_version
    options.retention = retention
    options.removal_policy = removal_policy


def harden_security_check(pipeline: pipelines.CodePipeline, *, topic: sns.ITopic | None = None) -> None:
    """Register the post-build hardening of the permission check and its auto-approve function only.

    For a pipeline a team built itself; :func:`harden_pipeline_internals` includes it.

    :param topic: notified by the alarm on the auto-approve function's dead-letter queue. Default: none.
    """
    options = _hardening(pipeline).options
    if topic is not None and all(t is not topic for t in options.topics):
        options.topics.append(topic)


def after_build(pipeline: pipelines.CodePipeline, rule: Callable[[], None]) -> None:
    """Run ``rule`` once at synth, right after CDK Pipelines built ``pipeline`` (and the library hardened it).

    The one place a construct adds its own post-build rules (an acknowledgment on a
    project CDK Pipelines generates, a narrowed policy): rules run in the order they
    were added, after the generated resources exist and before any of them is
    visited by another aspect (cdk-nag's included).
    """
    _hardening(pipeline).options.rules.append(rule)
