"""The Glue jobs of a spec, as Glue L2 constructs (``PythonShellJob``, ``PySparkEtlJob``, ``PySparkStreamingJob``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from constructs import Construct

from pipeline_constructs.core.validation import invalid
from pipeline_constructs.glue_etl.spec import GlueJob, GlueShellJob, GlueSparkJob, GlueStreamingJob
from pipeline_constructs.glue_etl.spec.locations import S3Location
from pipeline_constructs.glue_etl.workload.prefixes import SCRIPTS_PREFIX, TEMP_PREFIX

if TYPE_CHECKING:
    from pipeline_constructs.glue_etl.workload.construct import GlueEtlWorkload


def build_job(workload: GlueEtlWorkload, scope: Construct, job: GlueJob, role: iam.IRole) -> glue.JobBase:
    """The L2 job of ``job``: its script in the script bucket, the workload's security configuration."""
    common: dict[str, Any] = {
        "job_name": job.name,
        "role": role,
        "script": glue.Code.from_bucket(workload.scripts_bucket, SCRIPTS_PREFIX + job.script),
        "security_configuration": workload.security_configuration,
        "max_retries": job.max_retries,
        "max_concurrent_runs": job.max_concurrent_runs,
        "timeout": job.timeout,
        "description": job.description,
    }
    arguments = {k: workload.substitute(v) for k, v in job.arguments.items()}
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
        arguments["--TempDir"] = workload.s3_url(S3Location(None, TEMP_PREFIX))
        workers = glue.WorkerConfiguration(worker_type=job.worker_type, number_of_workers=job.number_of_workers)
        spark: dict[str, Any] = {**common, "glue_version": job.glue_version, "worker_configuration": workers}
        if isinstance(job, GlueStreamingJob):
            return glue.PySparkStreamingJob(scope, job.name, **spark, default_arguments=arguments)
        arguments["--job-bookmark-option"] = "job-bookmark-enable" if job.bookmarks else "job-bookmark-disable"
        return glue.PySparkEtlJob(scope, job.name, **spark, default_arguments=arguments)
    raise invalid(workload.node.path, "spec.jobs", job, "expected GlueShellJob, GlueSparkJob or GlueStreamingJob")
