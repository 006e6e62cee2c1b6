"""The Glue ETL workload a :class:`~pipeline_constructs.glue_etl.spec.GlueEtlSpec` describes.

:class:`GlueEtlWorkload` builds, in one stack:

* one rotating KMS key for everything at rest (buckets, Glue S3 output,
  CloudWatch logs, job bookmarks); no alias, so nothing changes between synths;
* a Glue security configuration using that key for S3, CloudWatch Logs and
  job bookmarks;
* a script bucket and a data bucket (SSE-KMS, SSL only, versioned, access
  logs to a dedicated bucket);
* the scripts directory uploaded as a CDK asset and copied to
  ``scripts/`` of the script bucket;
* the Glue database, the jobs (``PythonShellJob``, ``PySparkEtlJob``,
  ``PySparkStreamingJob``), the crawlers (``CfnCrawler``) and the workflows
  with their triggers, created one after another (Glue rejects concurrent
  trigger changes to one workflow);
* one job role (jobs and crawlers) whose customer-managed policy names the
  scripts, the S3 prefixes of the spec, the database and the key: no
  ``s3:*``, no ``sts:AssumeRole``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_s3_deployment as s3_deployment
from constructs import Construct, IConstruct

from pipeline_constructs.core.compliance import acknowledge, acknowledge_all, in_packs
from pipeline_constructs.core.compliance.reasons import describe_star_statements, reason
from pipeline_constructs.core.private.buckets import access_log_bucket, secure_bucket
from pipeline_constructs.core.private.defaults import resolve_log_retention
from pipeline_constructs.core.private.encryption import allow_log_group_pattern, encrypted_log_group, new_key
from pipeline_constructs.core.private.iam_idioms import acknowledge_function_outside_vpc, flatten_cfn_reference
from pipeline_constructs.core.targets import DeploymentTarget
from pipeline_constructs.core.validation import (
    child_path,
    invalid,
    require_enum,
    require_instance,
    require_interface,
    require_kwargs,
    require_sequence,
    require_stack_name,
    require_str,
)
from pipeline_constructs.glue_etl.spec import (
    GlueCrawler,
    GlueEtlSpec,
    GlueJob,
    GlueShellJob,
    GlueSparkJob,
    GlueStreamingJob,
    GlueTrigger,
    GlueWorkflow,
    S3Location,
    parse_location,
)

__all__ = ["SCRIPTS_PREFIX", "TEMP_PREFIX", "GlueEtlStage", "GlueEtlWorkload", "check_workload_options"]

#: Key prefix of the job scripts in the script bucket.
SCRIPTS_PREFIX = "scripts/"
#: Key prefix of Spark's temporary directory (``--TempDir``) in the data bucket.
TEMP_PREFIX = "glue-temp/"

_CATALOG_READ = (
    "glue:GetDatabase",
    "glue:GetTable",
    "glue:GetTables",
    "glue:GetPartition",
    "glue:GetPartitions",
    "glue:BatchGetPartition",
)
_CATALOG_WRITE = (
    "glue:CreateTable",
    "glue:UpdateTable",
    "glue:CreatePartition",
    "glue:UpdatePartition",
    "glue:BatchCreatePartition",
    "glue:BatchUpdatePartition",
)
_CATALOG_DELETE = ("glue:DeleteTable", "glue:DeletePartition", "glue:BatchDeletePartition")


class GlueEtlWorkload(Construct):
    """The Glue jobs, crawlers, database, workflows and triggers of a spec, secured.

    :param spec: the workload (see :class:`GlueEtlSpec`).
    :param encryption_key: KMS key for the buckets, the security configuration and
        the logs; its key policy must let CloudWatch Logs use it (as
        ``core.encryption.new_key(allow_cloudwatch_logs=True)`` does). Default: a new
        key with rotation on.
    :param removal_policy: what happens to the key, buckets and database when the
        stack is deleted. Default: ``RETAIN``.
    :param data_lifecycle_rules: lifecycle rules of the data bucket. Default: noncurrent
        versions expire after 30 days and ``glue-temp/`` objects after 7 days.
    :param log_retention: retention of the script-deployment function's logs. Default: team
        default ``pipeline-constructs:logRetentionDays``, else one year. (The jobs' and crawlers'
        own log groups are created by Glue at run time under ``/aws-glue/``; their retention is
        set in Glue or CloudWatch, not in this template.)
    :param security_configuration_name: 1-255 characters ``[A-Za-z0-9_.-]``. Default: generated
        (unique per stack).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: GlueEtlSpec,
        encryption_key: kms.IKey | None = None,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        data_lifecycle_rules: Sequence[s3.LifecycleRule] | None = None,
        log_retention: logs.RetentionDays | None = None,
        security_configuration_name: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        where = self.node.path
        require_instance(where, "spec", spec, GlueEtlSpec, "expected a GlueEtlSpec")
        validate_workload_options(
            where,
            "",
            {
                "encryption_key": encryption_key,
                "removal_policy": removal_policy,
                "data_lifecycle_rules": data_lifecycle_rules,
                "log_retention": log_retention,
                "security_configuration_name": security_configuration_name,
            },
        )
        log_retention = resolve_log_retention(self, log_retention)
        self.spec = spec
        stack = cdk.Stack.of(self)

        #: The workload's KMS key.
        self.key: kms.IKey = encryption_key or new_key(
            self,
            "Key",
            description=f"Glue ETL data, scripts, logs and job bookmarks of {where}",
            allow_cloudwatch_logs=True,
            removal_policy=removal_policy,
        )
        if encryption_key is None:
            # The log groups Glue creates for the jobs and crawlers (security configuration: SSE-KMS).
            allow_log_group_pattern(self.key, "/aws-glue/*")
        #: Receives the server access logs of both buckets.
        self.access_log_bucket = access_log_bucket(self, "AccessLogs", removal_policy=removal_policy)
        #: Holds the job scripts under ``scripts/``.
        self.scripts_bucket = secure_bucket(
            self,
            "Scripts",
            encryption_key=self.key,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix="scripts/",
            removal_policy=removal_policy,
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=cdk.Duration.days(90))],
            replication_reason=reason("deployed-from-assembly"),
        )
        #: Holds the data the jobs write (and Spark's temporary directory).
        self.data_bucket = secure_bucket(
            self,
            "Data",
            encryption_key=self.key,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix="data/",
            removal_policy=removal_policy,
            lifecycle_rules=list(data_lifecycle_rules)
            if data_lifecycle_rules is not None
            else [
                s3.LifecycleRule(noncurrent_version_expiration=cdk.Duration.days(30)),
                s3.LifecycleRule(prefix=TEMP_PREFIX, expiration=cdk.Duration.days(7)),
            ],
            replication_reason=reason("job-output-bucket", sid="WriteDataBucket"),
        )
        #: Glue security configuration: SSE-KMS for S3, KMS for CloudWatch Logs and job bookmarks.
        self.security_configuration = glue.SecurityConfiguration(
            self,
            "SecurityConfiguration",
            security_configuration_name=security_configuration_name,
            s3_encryption=glue.S3Encryption.kms(self.key),
            cloud_watch_encryption=glue.CloudWatchEncryption.kms(self.key),
            job_bookmarks_encryption=glue.JobBookmarksEncryption.client_side_kms(self.key),
            removal_policy=removal_policy,
        )
        #: The Glue database the crawlers and jobs use.
        self.database = glue.Database(
            self,
            "Database",
            database_name=spec.database,
            description=spec.database_description,
            removal_policy=removal_policy,
        )

        #: The role of every job and crawler.
        self.role = iam.Role(
            self,
            "JobRole",
            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description=f"Glue jobs and crawlers of {where}",
        )
        #: Its customer-managed policy (least privilege, built from the spec).
        self.role_policy = iam.ManagedPolicy(
            self,
            "JobPolicy",
            description=f"What the Glue jobs and crawlers of {where} may do",
            statements=self._role_statements(stack),
            roles=[self.role],
        )
        self._acknowledge_role_policy()
        # The L2 constructs would add grants to an inline DefaultPolicy; the managed policy has them all.
        job_role = self.role.without_policy_updates()

        #: The script upload (an asset copied to ``scripts/`` of the script bucket).
        self.script_deployment = self._deploy_scripts(log_retention, removal_policy)

        #: Jobs by name.
        self.jobs: dict[str, glue.JobBase] = {}
        jobs_scope = Construct(self, "Jobs")
        for job in spec.jobs:
            created = self._job(jobs_scope, job, job_role)
            created.node.add_dependency(self.role_policy, self.script_deployment)
            self.jobs[job.name] = created

        #: Crawlers by name.
        self.crawlers: dict[str, glue.CfnCrawler] = {}
        crawlers_scope = Construct(self, "Crawlers")
        for crawler in spec.crawlers:
            created_crawler = self._crawler(crawlers_scope, crawler)
            created_crawler.node.add_dependency(self.role_policy)
            self.crawlers[crawler.name] = created_crawler

        #: Workflows by name.
        self.workflows: dict[str, glue.Workflow] = {}
        #: Triggers by name.
        self.triggers: dict[str, IConstruct] = {}
        workflows_scope = Construct(self, "Workflows")
        for workflow in spec.workflows:
            self.workflows[workflow.name] = self._workflow(workflows_scope, workflow)

    # -- S3 locations ---------------------------------------------------------

    def s3_url(self, location: S3Location) -> str:
        """The ``s3://`` URL of a spec location (a token for data-bucket prefixes)."""
        bucket = location.bucket or self.data_bucket.bucket_name
        return f"s3://{bucket}/{location.prefix}"

    def _bucket_arn(self, location: S3Location) -> str:
        if location.bucket is None:
            return self.data_bucket.bucket_arn
        return f"arn:{cdk.Aws.PARTITION}:s3:::{location.bucket}"

    def _substitute(self, value: str) -> str:
        return value.replace("{data_bucket}", self.data_bucket.bucket_name).replace("{database}", self.spec.database)

    # -- IAM ------------------------------------------------------------------

    def _role_statements(self, stack: cdk.Stack) -> list[iam.PolicyStatement]:
        spec = self.spec
        statements: list[iam.PolicyStatement] = []
        if spec.jobs:
            names = sorted({j.script for j in spec.jobs})
            scripts = [self.scripts_bucket.arn_for_objects(SCRIPTS_PREFIX + name) for name in names]
            statements.append(iam.PolicyStatement(sid="ReadJobScripts", actions=["s3:GetObject"], resources=scripts))
        locations = list(spec.locations())
        if any(isinstance(j, GlueSparkJob) for j in spec.jobs):
            locations.append((S3Location(None, TEMP_PREFIX), True))
        by_bucket: dict[str, list[tuple[S3Location, bool]]] = {}
        for location, written in locations:
            by_bucket.setdefault(location.bucket or "", []).append((location, written))
        for index, (bucket, entries) in enumerate(sorted(by_bucket.items())):
            arn = self._bucket_arn(entries[0][0])
            sid = "DataBucket" if bucket == "" else f"Source{index}"
            write_prefixes = _minimal({loc.prefix for loc, written in entries if written})
            read_prefixes = _minimal({loc.prefix for loc, _ in entries}) - write_prefixes
            read_prefixes = {p for p in read_prefixes if not any(p.startswith(w) for w in write_prefixes)}
            reads = sorted(f"{arn}/{p}*" for p in read_prefixes)
            writes = sorted(f"{arn}/{p}*" for p in write_prefixes)
            if reads:
                statements.append(iam.PolicyStatement(sid=f"Read{sid}", actions=["s3:GetObject"], resources=reads))
            if writes:
                statements.append(
                    iam.PolicyStatement(
                        sid=f"Write{sid}",
                        actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                        resources=writes,
                    )
                )
            statements.append(
                iam.PolicyStatement(
                    sid=f"List{sid}",
                    actions=["s3:ListBucket"],
                    resources=[arn],
                    conditions={"StringLike": {"s3:prefix": sorted(f"{p}*" for p in read_prefixes | write_prefixes)}},
                )
            )
            statements.append(
                iam.PolicyStatement(sid=f"Locate{sid}", actions=["s3:GetBucketLocation"], resources=[arn])
            )
        statements.append(
            iam.PolicyStatement(
                sid="UseWorkloadKey",
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=[self.key.key_arn],
            )
        )
        glue_logs = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name="/aws-glue/*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        statements.append(
            iam.PolicyStatement(
                sid="GlueLogGroups",
                actions=["logs:CreateLogGroup", "logs:AssociateKmsKey", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[glue_logs],
            )
        )
        catalog = [
            stack.format_arn(service="glue", resource="catalog"),
            stack.format_arn(service="glue", resource="database", resource_name=spec.database),
            stack.format_arn(service="glue", resource="table", resource_name=f"{spec.database}/*"),
        ]
        actions = list(_CATALOG_READ)
        if spec.crawlers or any(j.writes for j in spec.jobs):
            actions += _CATALOG_WRITE
        if any(c.delete_behavior.value == "DELETE_FROM_DATABASE" for c in spec.crawlers):
            actions += _CATALOG_DELETE
        statements.append(iam.PolicyStatement(sid="GlueCatalog", actions=actions, resources=catalog))
        if any(isinstance(j, GlueSparkJob) for j in spec.jobs):
            statements.append(
                iam.PolicyStatement(
                    sid="GlueJobMetrics",
                    actions=["cloudwatch:PutMetricData"],
                    resources=["*"],
                    conditions={"StringEquals": {"cloudwatch:namespace": "Glue"}},
                )
            )
        if any(j.emits_events for j in spec.jobs):
            statements.append(
                iam.PolicyStatement(
                    sid="PutEventsOnDefaultBus",
                    actions=["events:PutEvents"],
                    resources=[stack.format_arn(service="events", resource="event-bus", resource_name="default")],
                )
            )
        return statements

    def _acknowledge_role_policy(self) -> None:
        policy = self.role_policy.node.default_child
        assert isinstance(policy, cdk.CfnResource)
        doc = cdk.Stack.of(self).resolve(self.role_policy.document.to_json())
        for finding, text in _iam5_reasons(doc, self.spec.database):
            acknowledge(policy, f"AwsSolutions-IAM5[{finding}]", text)

    # -- scripts -----------------------------------------------------------------

    def _deploy_scripts(
        self, log_retention: logs.RetentionDays, removal_policy: cdk.RemovalPolicy
    ) -> s3_deployment.BucketDeployment:
        asset = s3_assets.Asset(
            self,
            "ScriptsAsset",
            path=str(self.spec.scripts_dir),
            exclude=["__pycache__", "*.pyc", ".*"],
        )
        log_group = encrypted_log_group(
            self, "ScriptDeploymentLogs", key=self.key, retention=log_retention, removal_policy=removal_policy
        )
        role = iam.Role(
            self,
            "ScriptDeploymentRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Copies the Glue job scripts of {self.node.path} to the script bucket",
        )
        stack = cdk.Stack.of(self)
        policy = iam.ManagedPolicy(
            self,
            "ScriptDeploymentPolicy",
            description="Read the scripts asset, replace scripts/ of the script bucket, write own logs",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="ReadScriptsAsset",
                    actions=["s3:GetObject"],
                    resources=[
                        f"arn:{cdk.Aws.PARTITION}:s3:::{asset.s3_bucket_name}/{asset.s3_object_key}",
                    ],
                ),
                iam.PolicyStatement(
                    sid="ListScripts",
                    actions=["s3:ListBucket"],
                    resources=[self.scripts_bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [SCRIPTS_PREFIX + "*"]}},
                ),
                iam.PolicyStatement(
                    sid="ReplaceScripts",
                    actions=["s3:PutObject", "s3:DeleteObject"],
                    resources=[self.scripts_bucket.arn_for_objects(SCRIPTS_PREFIX + "*")],
                ),
                iam.PolicyStatement(
                    sid="EncryptScripts",
                    actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                    resources=[self.key.key_arn],
                ),
                iam.PolicyStatement(
                    sid="WriteOwnLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_group.log_group_arn],
                ),
            ],
        )
        deployment = s3_deployment.BucketDeployment(
            self,
            "ScriptDeployment",
            sources=[s3_deployment.Source.bucket(asset.bucket, asset.s3_object_key)],
            destination_bucket=self.scripts_bucket,
            destination_key_prefix=SCRIPTS_PREFIX,
            role=role.without_policy_updates(),
            log_group=log_group,
            memory_limit=256,
            prune=True,
        )
        deployment.node.add_dependency(policy)
        cfn_policy = policy.node.default_child
        assert isinstance(cfn_policy, cdk.CfnResource)
        acknowledge(
            cfn_policy,
            f"AwsSolutions-IAM5[Resource::<{_logical(self.scripts_bucket)}.Arn>/scripts/*]",
            reason(
                "prefix-objects",
                prefix=SCRIPTS_PREFIX,
                access="sync",
                why="the BucketDeployment replaces and prunes the scripts, whose names follow the repository",
            ),
        )
        _acknowledge_deployment_function(stack, role)
        return deployment

    # -- jobs, crawlers, workflows ---------------------------------------------

    def _job(self, scope: Construct, job: GlueJob, role: iam.IRole) -> glue.JobBase:
        common: dict[str, Any] = {
            "job_name": job.name,
            "role": role,
            "script": glue.Code.from_bucket(self.scripts_bucket, SCRIPTS_PREFIX + job.script),
            "security_configuration": self.security_configuration,
            "max_retries": job.max_retries,
            "max_concurrent_runs": job.max_concurrent_runs,
            "timeout": job.timeout,
            "description": job.description,
        }
        arguments = {k: self._substitute(v) for k, v in job.arguments.items()}
        if isinstance(job, GlueShellJob):
            return glue.PythonShellJob(
                scope,
                job.name,
                **common,
                default_arguments=arguments or None,
                glue_version=glue.GlueVersion.V3_0,
                python_version=glue.PythonVersion.THREE_NINE,
                max_capacity=job.max_capacity,
            )
        if isinstance(job, GlueSparkJob):
            arguments["--TempDir"] = self.s3_url(S3Location(None, TEMP_PREFIX))
            spark: dict[str, Any] = {
                **common,
                "glue_version": job.glue_version,
                "worker_configuration": glue.WorkerConfiguration(
                    worker_type=job.worker_type, number_of_workers=job.number_of_workers
                ),
            }
            if isinstance(job, GlueStreamingJob):
                return glue.PySparkStreamingJob(scope, job.name, **spark, default_arguments=arguments)
            arguments["--job-bookmark-option"] = "job-bookmark-enable" if job.bookmarks else "job-bookmark-disable"
            return glue.PySparkEtlJob(scope, job.name, **spark, default_arguments=arguments)
        raise invalid(self.node.path, "spec.jobs", job, "expected GlueShellJob, GlueSparkJob or GlueStreamingJob")

    def _crawler(self, scope: Construct, crawler: GlueCrawler) -> glue.CfnCrawler:
        targets = [
            glue.CfnCrawler.S3TargetProperty(
                path=self.s3_url(parse_location("", "", t)),
                exclusions=list(crawler.exclusions) or None,
            )
            for t in crawler.s3_targets
        ]
        return glue.CfnCrawler(
            scope,
            crawler.name,
            name=crawler.name,
            role=self.role.role_arn,
            database_name=self.database.database_name,
            targets=glue.CfnCrawler.TargetsProperty(s3_targets=targets),
            schema_change_policy=glue.CfnCrawler.SchemaChangePolicyProperty(
                update_behavior=crawler.update_behavior.value,
                delete_behavior=crawler.delete_behavior.value,
            ),
            crawler_security_configuration=self.security_configuration.security_configuration_name,
            configuration=json.dumps(crawler.configuration, sort_keys=True),
            table_prefix=crawler.table_prefix,
            description=crawler.description,
        )

    def _action(self, name: str) -> glue.Action:
        if name in self.jobs:
            return glue.Action.job(self.jobs[name])
        return glue.Action.crawler(self.crawlers[name])

    def _condition(self, name: str, state: str) -> glue.Condition:
        if name in self.jobs:
            return glue.Condition.job(self.jobs[name], glue.JobState[state])
        return glue.Condition.crawler(self.crawlers[name], glue.CrawlerState[state])

    def _workflow(self, scope: Construct, spec: GlueWorkflow) -> glue.Workflow:
        workflow = glue.Workflow(
            scope,
            spec.name,
            workflow_name=spec.name,
            description=spec.description,
            max_concurrent_runs=spec.max_concurrent_runs,
            default_run_properties=dict(spec.run_properties) or None,
        )
        previous: IConstruct | None = None
        for trigger in spec.triggers:
            created = self._trigger(workflow, trigger)
            # Glue fails with ConcurrentModificationException when one workflow's triggers change in parallel.
            if previous is not None:
                created.node.add_dependency(previous)
            previous = created
            self.triggers[trigger.name] = created
        return workflow

    def _trigger(self, workflow: glue.Workflow, trigger: GlueTrigger) -> IConstruct:
        actions = [self._action(a) for a in trigger.actions]
        if trigger.kind == "SCHEDULED":
            assert trigger.schedule is not None
            ref = workflow.add_scheduled_trigger(
                trigger.name,
                name=trigger.name,
                schedule=glue.TriggerSchedule.expression(trigger.schedule),
                start_on_creation=trigger.enabled,
                actions=actions,
                description=trigger.description,
            )
        elif trigger.kind == "CONDITIONAL":
            ref = workflow.add_conditional_trigger(
                trigger.name,
                name=trigger.name,
                predicate=glue.Predicate(
                    conditions=[self._condition(c.name, c.state) for c in trigger.when],
                    logical=trigger.logical,
                ),
                start_on_creation=trigger.enabled,
                actions=actions,
                description=trigger.description,
            )
        else:
            ref = workflow.add_on_demand_trigger(
                trigger.name, name=trigger.name, actions=actions, description=trigger.description
            )
        cfn = ref if isinstance(ref, glue.CfnTrigger) else ref.node.default_child
        if trigger.kind == "CONDITIONAL" and isinstance(cfn, glue.CfnTrigger):
            # The L2 renders an event batching condition (meant for EVENT triggers) on conditional
            # triggers, and omits Logical for a single condition, which Glue rejects
            # ("Logical operator cannot be null or empty", aws-cdk issue 34652).
            cfn.add_property_deletion_override("EventBatchingCondition")
            cfn.add_property_override("Predicate.Logical", trigger.logical.value)
        return ref


def _minimal(prefixes: set[str]) -> set[str]:
    """Drop every prefix another prefix of the set already covers."""
    return {p for p in prefixes if not any(p != q and p.startswith(q) for q in prefixes)}


def _logical(construct: IConstruct) -> str:
    """The logical id of a construct's CloudFormation resource (as cdk-nag prints it)."""
    child = construct.node.default_child
    assert isinstance(child, cdk.CfnElement)
    return cdk.Stack.of(construct).resolve(child.logical_id)  # type: ignore[no-any-return]


_S3_OBJECT_ACTIONS = {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}


def _iam5_reasons(document: Mapping[str, Any], database: str) -> list[tuple[str, str]]:
    """Each wildcard of the job policy with why it cannot be narrower (nothing else is acknowledged)."""
    out: list[tuple[str, str]] = []
    for statement in document.get("Statement", []):
        resources = statement.get("Resource")
        actions = statement.get("Action")
        actions = set(actions if isinstance(actions, list) else [actions])
        for resource in resources if isinstance(resources, list) else [resources]:
            flat = flatten_cfn_reference(resource)
            if "*" not in flat:
                continue
            finding = f"Resource::{flat}"
            sid = statement.get("Sid", "")
            if actions <= _S3_OBJECT_ACTIONS and flat.endswith("*") and "/" in flat:
                text = reason(
                    "prefix-objects",
                    prefix=flat.split("/", 1)[1].removesuffix("*"),
                    access="read" if actions == {"s3:GetObject"} else "read, write and delete",
                    why=f"Glue and Spark name the objects of this ETL spec location (statement {sid}) at run time",
                )
            elif sid == "GlueLogGroups":
                text = reason("glue-log-groups")
            elif sid == "GlueCatalog":
                text = reason("glue-database-tables", database=database)
            elif flat == "*":
                text = reason("resource-star", what=describe_star_statements([document]))
            else:
                continue
            out.append((finding, text))
    return out


def _acknowledge_deployment_function(stack: cdk.Stack, role: iam.Role) -> None:
    """Acknowledge what CDK's BucketDeployment singleton Lambda cannot change (once per stack)."""
    for child in stack.node.children:
        if not child.node.id.startswith("Custom::CDKBucketDeployment"):
            continue
        fn = child.node.default_child
        if not isinstance(fn, lambda_.CfnFunction) or not isinstance(child, lambda_.Function):
            continue
        acknowledge_function_outside_vpc(child, role=role)
        handler = reason("custom-resource-handler", kind="Custom::CDKBucketDeployment")
        runtime = reason(
            "cdk-handler-runtime", kind="Custom::CDKBucketDeployment", runtime=str(stack.resolve(fn.runtime))
        )
        acknowledge_all(
            fn,
            [
                *in_packs("LambdaDLQ", ("NIST.800.53.R5", "HIPAA.Security", "Serverless"), handler),
                *in_packs("LambdaConcurrency", ("NIST.800.53.R5", "HIPAA.Security"), handler),
                ("Serverless-LambdaTracing", handler),
                ("AwsSolutions-L1", runtime),
                ("Serverless-LambdaLatestVersion", runtime),
            ],
        )


class GlueEtlStage(cdk.Stage):
    """The application stage of one target: an ``Etl`` stack holding a :class:`GlueEtlWorkload`.

    :param target: the target (its account and region become the stage environment).
    :param spec: the workload.
    :param workload_options: other :class:`GlueEtlWorkload` keyword arguments. Default: none.
    :param stack_name: CloudFormation name of the ``Etl`` stack. Default: CDK's (``<stage name>-Etl``);
        :class:`~pipeline_constructs.glue_etl.pipeline.GlueEtlPipeline` passes one unique per pipeline.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        target: DeploymentTarget,
        spec: GlueEtlSpec,
        workload_options: Mapping[str, Any] | None = None,
        stack_name: str | None = None,
    ) -> None:
        where = child_path(scope, id)
        require_instance(where, "target", target, DeploymentTarget, "expected a DeploymentTarget")
        require_instance(where, "spec", spec, GlueEtlSpec, "expected a GlueEtlSpec")
        options = check_workload_options(where, "workload_options", workload_options)
        if stack_name is not None:
            require_stack_name(where, "stack_name", stack_name)
        super().__init__(scope, id, env=target.env)
        #: The workload stack.
        self.stack = cdk.Stack(self, "Etl", stack_name=stack_name, description=f"Glue ETL workload ({target.name})")
        #: The workload.
        self.workload = GlueEtlWorkload(self.stack, "Workload", spec=spec, **options)


_SECURITY_CONFIGURATION_NAME = re.compile(r"[A-Za-z0-9_.-]{1,255}")
_WORKLOAD_CHECKS: dict[str, Callable[[str, str, Any], Any]] = {
    "encryption_key": lambda w, p, v: require_interface(w, p, v, "key_arn", "expected a kms.IKey"),
    "removal_policy": lambda w, p, v: require_enum(w, p, v, cdk.RemovalPolicy),
    "data_lifecycle_rules": lambda w, p, v: require_sequence(
        w,
        p,
        v,
        item=lambda w2, p2, r: require_instance(w2, p2, r, s3.LifecycleRule, "expected an s3.LifecycleRule"),
        allowed="expected a list of s3.LifecycleRule",
    ),
    "log_retention": lambda w, p, v: require_enum(w, p, v, logs.RetentionDays),
    "security_configuration_name": lambda w, p, v: require_str(
        w, p, v, pattern=_SECURITY_CONFIGURATION_NAME, allowed="expected 1-255 characters from A-Z, a-z, 0-9, '_.-'"
    ),
}


def validate_workload_options(where: str, prop: str, options: Mapping[str, Any]) -> None:
    """Check :class:`GlueEtlWorkload` options (``None``: the default), naming ``<prop>['<option>']``."""
    for key, value in options.items():
        if value is not None and key in _WORKLOAD_CHECKS:
            _WORKLOAD_CHECKS[key](where, f"{prop}[{key!r}]" if prop else key, value)


def check_workload_options(where: str, prop: str, value: Any) -> dict[str, Any]:
    """Check a ``workload_options`` mapping: :class:`GlueEtlWorkload` keyword arguments other than ``spec``."""
    if value is None:
        return {}
    options = require_kwargs(where, prop, value, _WORKLOAD_CHECKS.keys(), reserved={"spec": "use the spec prop"})
    validate_workload_options(where, prop, options)
    return options
