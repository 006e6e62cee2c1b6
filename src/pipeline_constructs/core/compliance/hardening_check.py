"""The hardening rules for CDK Pipelines' permission check (ConfirmPermissionsBroadening) and its auto-approve function.

Run by :mod:`.hardening` right after the pipeline is built, on any pipeline with a permission check
(:class:`~pipeline_constructs.stages.security_gated.SecurityGatedStage` adds one to a team's own pipeline too).
"""

from __future__ import annotations

import re
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import pipelines
from constructs import Construct, IConstruct

from pipeline_constructs.core.compliance.acknowledgments import acknowledge_all, in_packs
from pipeline_constructs.core.compliance.hardening_rules import (
    CHECK_ID,
    HardeningOptions,
    is_star,
    project_rules,
    statement_actions,
)
from pipeline_constructs.core.compliance.packs import NIST_HIPAA
from pipeline_constructs.core.compliance.reasons import reason
from pipeline_constructs.core.private.encryption import encrypted_log_group, new_key
from pipeline_constructs.core.private.iam_idioms import (
    acknowledge_function_outside_vpc,
    acknowledge_role_policies,
    rewrite_role_statements,
)

__all__ = ["SecurityCheckHardening"]

_UNPINNED_CDK = re.compile(r"npm install -g aws-cdk(?![@\w-])")


class SecurityCheckHardening:
    """The rules for one pipeline's permission check; the log key and groups it creates sit under ``marker``."""

    def __init__(self, pipeline: pipelines.CodePipeline, marker: Construct, options: HardeningOptions) -> None:
        self._pipeline = pipeline
        self._marker = marker
        self.options = options

    def _key(self) -> kms.IKey:
        if self.options.logs_key is None:
            self.options.logs_key = new_key(
                self._marker,
                "LogsKey",
                description=f"Logs of the permission check of {self._pipeline.node.path}",
                allow_cloudwatch_logs=True,
                removal_policy=self.options.removal_policy,
            )
        return self.options.logs_key

    def _log_group(self, id: str) -> logs.ILogGroup:
        """A new log group under the marker, encrypted with the logs key, with the options' retention."""
        options = self.options
        return encrypted_log_group(
            self._marker, id, key=self._key(), retention=options.retention, removal_policy=options.removal_policy
        )

    def harden(self, scope: IConstruct) -> None:
        """Harden the permission check under ``scope`` and its auto-approve function."""
        self._key()
        build_logs = self.options.log_group
        project = scope.node.try_find_child("CDKSecurityCheck")
        if isinstance(project, codebuild.Project):
            cfn = project.node.default_child
            assert isinstance(cfn, codebuild.CfnProject)
            if build_logs is None:
                build_logs = self._log_group("PermissionCheckLogs")
            self._log_to(cfn, build_logs)
            self._pin_cli(cfn)
            if project.role is not None and isinstance(project.role, iam.Role):
                self._scope_assume_to_deploy_roles(project.role)
                acknowledge_role_policies(project.role)
            if self.options.full:
                acknowledge_all(cfn, project_rules(cfn, customer_key=self.options.customer_key))
        function = scope.node.try_find_child("CDKPipelinesAutoApprove")
        if isinstance(function, lambda_.Function):
            self._harden_auto_approve(function)

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
            if is_star(statement) and statement_actions(statement) == {"sts:AssumeRole"}:
                return {**statement, "Resource": arns}
            return statement

        rewrite_role_statements(role, scope)

    def _harden_auto_approve(self, function: lambda_.Function) -> None:
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
        log_group = self._log_group("AutoApproveLogs")
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
                    NIST_HIPAA,
                    reason("alarm-without-topic"),
                ),
            )
        only_invoker = reason("function-invoked-only-by", role=_logical_of_role(self._check_role()))
        acknowledge_all(cfn, in_packs("LambdaConcurrency", NIST_HIPAA, only_invoker))
        acknowledge_function_outside_vpc(function)

    def _check_role(self) -> iam.IRole | None:
        check = self._pipeline.node.try_find_child(CHECK_ID)
        project = check.node.try_find_child("CDKSecurityCheck") if check is not None else None
        return project.role if isinstance(project, codebuild.Project) else None


def _logical(resource: cdk.CfnElement) -> str:
    return str(cdk.Stack.of(resource).resolve(resource.logical_id))


def _logical_of_role(role: iam.IRole | None) -> str:
    cfn = role.node.default_child if role is not None else None
    return _logical(cfn) if isinstance(cfn, cdk.CfnElement) else "(none)"
