"""GlueEtlWorkload: the secured Glue jobs, crawlers, database, workflows and triggers of a spec."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from pipeline_constructs.core.compliance.reasons import reason
from pipeline_constructs.core.private.buckets import access_log_bucket, secure_bucket
from pipeline_constructs.core.private.defaults import resolve_log_retention
from pipeline_constructs.core.private.encryption import allow_log_group_pattern, new_key
from pipeline_constructs.core.validation import require_instance
from pipeline_constructs.glue_etl.spec import GlueEtlSpec
from pipeline_constructs.glue_etl.spec.locations import S3Location
from pipeline_constructs.glue_etl.workload._crawlers import build_crawler
from pipeline_constructs.glue_etl.workload._iam import acknowledge_job_policy, job_role_statements
from pipeline_constructs.glue_etl.workload._jobs import build_job
from pipeline_constructs.glue_etl.workload._scripts import deploy_scripts
from pipeline_constructs.glue_etl.workload._workflows import WorkflowBuilder
from pipeline_constructs.glue_etl.workload.options import validate_workload_options
from pipeline_constructs.glue_etl.workload.prefixes import TEMP_PREFIX

__all__ = ["GlueEtlWorkload"]


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
        #: The spec this workload deploys.
        self.spec = spec
        self._removal_policy = removal_policy

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
        self.scripts_bucket = self._bucket(
            "Scripts",
            [s3.LifecycleRule(noncurrent_version_expiration=cdk.Duration.days(90))],
            reason("deployed-from-assembly"),
        )
        default_data_rules = [
            s3.LifecycleRule(noncurrent_version_expiration=cdk.Duration.days(30)),
            s3.LifecycleRule(prefix=TEMP_PREFIX, expiration=cdk.Duration.days(7)),
        ]
        #: Holds the data the jobs write (and Spark's temporary directory).
        self.data_bucket = self._bucket(
            "Data",
            list(data_lifecycle_rules) if data_lifecycle_rules is not None else default_data_rules,
            reason("job-output-bucket", sid="WriteDataBucket"),
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
        self._job_role()
        #: The script upload (an asset copied to ``scripts/`` of the script bucket).
        self.script_deployment = deploy_scripts(
            self,
            str(spec.scripts_dir),
            bucket=self.scripts_bucket,
            key=self.key,
            log_retention=resolve_log_retention(self, log_retention),
            removal_policy=removal_policy,
        )
        self._glue_resources()

    def _bucket(self, id: str, lifecycle_rules: list[s3.LifecycleRule], replication_reason: str) -> s3.Bucket:
        """A workload bucket: the workload's key, access logs under ``<id in lower case>/``."""
        return secure_bucket(
            self,
            id,
            encryption_key=self.key,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix=f"{id.lower()}/",
            removal_policy=self._removal_policy,
            lifecycle_rules=lifecycle_rules,
            replication_reason=replication_reason,
        )

    def _job_role(self) -> None:
        where = self.node.path
        #: The role of every job and crawler.
        self.role = iam.Role(
            self,
            "JobRole",
            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description=f"Glue jobs and crawlers of {where}",
        )
        statements = job_role_statements(
            cdk.Stack.of(self), self.spec, scripts=self.scripts_bucket, data=self.data_bucket, key=self.key
        )
        #: Its customer-managed policy (least privilege, built from the spec).
        self.role_policy = iam.ManagedPolicy(
            self,
            "JobPolicy",
            description=f"What the Glue jobs and crawlers of {where} may do",
            statements=statements,
            roles=[self.role],
        )
        acknowledge_job_policy(self.role_policy, self.spec.database)

    def _glue_resources(self) -> None:
        # The L2 constructs would add grants to an inline DefaultPolicy; the managed policy has them all.
        job_role = self.role.without_policy_updates()
        #: Jobs by name.
        self.jobs: dict[str, glue.JobBase] = {}
        jobs_scope = Construct(self, "Jobs")
        for job in self.spec.jobs:
            created = build_job(self, jobs_scope, job, job_role)
            created.node.add_dependency(self.role_policy, self.script_deployment)
            self.jobs[job.name] = created
        #: Crawlers by name.
        self.crawlers: dict[str, glue.CfnCrawler] = {}
        crawlers_scope = Construct(self, "Crawlers")
        for crawler in self.spec.crawlers:
            created_crawler = build_crawler(self, crawlers_scope, crawler)
            created_crawler.node.add_dependency(self.role_policy)
            self.crawlers[crawler.name] = created_crawler
        builder = WorkflowBuilder(self.jobs, self.crawlers)
        workflows_scope = Construct(self, "Workflows")
        #: Workflows by name.
        self.workflows: dict[str, glue.Workflow] = {
            workflow.name: builder.workflow(workflows_scope, workflow) for workflow in self.spec.workflows
        }
        #: Triggers by name.
        self.triggers: dict[str, IConstruct] = builder.triggers

    # -- S3 locations ---------------------------------------------------------

    def s3_url(self, location: S3Location) -> str:
        """The ``s3://`` URL of a spec location (a token for data-bucket prefixes)."""
        bucket = location.bucket or self.data_bucket.bucket_name
        return f"s3://{bucket}/{location.prefix}"

    def substitute(self, value: str) -> str:
        """``value`` with the argument placeholders (``{data_bucket}``, ``{database}``) replaced."""
        return value.replace("{data_bucket}", self.data_bucket.bucket_name).replace("{database}", self.spec.database)
