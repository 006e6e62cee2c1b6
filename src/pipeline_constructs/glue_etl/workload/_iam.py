"""The job role's policy: built from the spec (scripts, S3 prefixes, the database, the key), nothing more."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from pipeline_constructs.core.compliance import acknowledge
from pipeline_constructs.core.compliance.reasons import describe_star_statements, reason
from pipeline_constructs.core.private.iam_idioms import flatten_cfn_reference
from pipeline_constructs.glue_etl.spec import GlueEtlSpec, GlueSparkJob
from pipeline_constructs.glue_etl.spec.locations import S3Location
from pipeline_constructs.glue_etl.workload.prefixes import SCRIPTS_PREFIX, TEMP_PREFIX

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
_S3_OBJECT_ACTIONS = {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}


def _minimal(prefixes: set[str]) -> set[str]:
    """Drop every prefix another prefix of the set already covers."""
    return {p for p in prefixes if not any(p != q and p.startswith(q) for q in prefixes)}


def _bucket_statements(sid: str, arn: str, entries: list[tuple[S3Location, bool]]) -> list[iam.PolicyStatement]:
    """Read, write, list and locate statements for the spec's locations in one bucket."""
    write_prefixes = _minimal({loc.prefix for loc, written in entries if written})
    read_prefixes = _minimal({loc.prefix for loc, _ in entries}) - write_prefixes
    read_prefixes = {p for p in read_prefixes if not any(p.startswith(w) for w in write_prefixes)}
    statements: list[iam.PolicyStatement] = []
    if read_prefixes:
        reads = sorted(f"{arn}/{p}*" for p in read_prefixes)
        statements.append(iam.PolicyStatement(sid=f"Read{sid}", actions=["s3:GetObject"], resources=reads))
    if write_prefixes:
        writes = sorted(f"{arn}/{p}*" for p in write_prefixes)
        actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
        statements.append(iam.PolicyStatement(sid=f"Write{sid}", actions=actions, resources=writes))
    listed = {"StringLike": {"s3:prefix": sorted(f"{p}*" for p in read_prefixes | write_prefixes)}}
    statements.append(
        iam.PolicyStatement(sid=f"List{sid}", actions=["s3:ListBucket"], resources=[arn], conditions=listed)
    )
    statements.append(iam.PolicyStatement(sid=f"Locate{sid}", actions=["s3:GetBucketLocation"], resources=[arn]))
    return statements


def _s3_statements(spec: GlueEtlSpec, scripts: s3.IBucket, data: s3.IBucket) -> list[iam.PolicyStatement]:
    statements: list[iam.PolicyStatement] = []
    if spec.jobs:
        objects = [scripts.arn_for_objects(SCRIPTS_PREFIX + name) for name in sorted({j.script for j in spec.jobs})]
        statements.append(iam.PolicyStatement(sid="ReadJobScripts", actions=["s3:GetObject"], resources=objects))
    locations = list(spec.locations())
    if any(isinstance(j, GlueSparkJob) for j in spec.jobs):
        locations.append((S3Location(None, TEMP_PREFIX), True))
    by_bucket: dict[str, list[tuple[S3Location, bool]]] = {}
    for location, written in locations:
        by_bucket.setdefault(location.bucket or "", []).append((location, written))
    for index, (bucket, entries) in enumerate(sorted(by_bucket.items())):
        if bucket == "":
            statements += _bucket_statements("DataBucket", data.bucket_arn, entries)
        else:
            statements += _bucket_statements(f"Source{index}", f"arn:{cdk.Aws.PARTITION}:s3:::{bucket}", entries)
    return statements


def _catalog_actions(spec: GlueEtlSpec) -> list[str]:
    actions = list(_CATALOG_READ)
    if spec.crawlers or any(j.writes for j in spec.jobs):
        actions += _CATALOG_WRITE
    if any(c.delete_behavior.value == "DELETE_FROM_DATABASE" for c in spec.crawlers):
        actions += _CATALOG_DELETE
    return actions


def job_role_statements(
    stack: cdk.Stack, spec: GlueEtlSpec, *, scripts: s3.IBucket, data: s3.IBucket, key: kms.IKey
) -> list[iam.PolicyStatement]:
    """What the jobs and crawlers of ``spec`` may do: no ``s3:*``, no ``sts:AssumeRole``."""
    statements = _s3_statements(spec, scripts, data)
    key_actions = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    statements.append(iam.PolicyStatement(sid="UseWorkloadKey", actions=key_actions, resources=[key.key_arn]))
    glue_logs = stack.format_arn(
        service="logs", resource="log-group", resource_name="/aws-glue/*", arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME
    )
    log_actions = ["logs:CreateLogGroup", "logs:AssociateKmsKey", "logs:CreateLogStream", "logs:PutLogEvents"]
    statements.append(iam.PolicyStatement(sid="GlueLogGroups", actions=log_actions, resources=[glue_logs]))
    catalog = [
        stack.format_arn(service="glue", resource="catalog"),
        stack.format_arn(service="glue", resource="database", resource_name=spec.database),
        stack.format_arn(service="glue", resource="table", resource_name=f"{spec.database}/*"),
    ]
    statements.append(iam.PolicyStatement(sid="GlueCatalog", actions=_catalog_actions(spec), resources=catalog))
    if any(isinstance(j, GlueSparkJob) for j in spec.jobs):
        glue_namespace = {"StringEquals": {"cloudwatch:namespace": "Glue"}}
        statements.append(
            iam.PolicyStatement(
                sid="GlueJobMetrics", actions=["cloudwatch:PutMetricData"], resources=["*"], conditions=glue_namespace
            )
        )
    if any(j.emits_events for j in spec.jobs):
        bus = stack.format_arn(service="events", resource="event-bus", resource_name="default")
        statements.append(
            iam.PolicyStatement(sid="PutEventsOnDefaultBus", actions=["events:PutEvents"], resources=[bus])
        )
    return statements


def _iam5_reason(statement: Mapping[str, Any], flat: str, document: Mapping[str, Any], database: str) -> str | None:
    actions = statement.get("Action")
    actions = set(actions if isinstance(actions, list) else [actions])
    sid = statement.get("Sid", "")
    if actions <= _S3_OBJECT_ACTIONS and flat.endswith("*") and "/" in flat:
        return reason(
            "prefix-objects",
            prefix=flat.split("/", 1)[1].removesuffix("*"),
            access="read" if actions == {"s3:GetObject"} else "read, write and delete",
            why=f"Glue and Spark name the objects of this ETL spec location (statement {sid}) at run time",
        )
    if sid == "GlueLogGroups":
        return reason("glue-log-groups")
    if sid == "GlueCatalog":
        return reason("glue-database-tables", database=database)
    if flat == "*":
        return reason("resource-star", what=describe_star_statements([document]))
    return None


def iam5_reasons(document: Mapping[str, Any], database: str) -> list[tuple[str, str]]:
    """Each wildcard of the job policy with why it cannot be narrower (nothing else is acknowledged)."""
    out: list[tuple[str, str]] = []
    for statement in document.get("Statement", []):
        resources = statement.get("Resource")
        for resource in resources if isinstance(resources, list) else [resources]:
            flat = flatten_cfn_reference(resource)
            text = _iam5_reason(statement, flat, document, database) if "*" in flat else None
            if text is not None:
                out.append((f"Resource::{flat}", text))
    return out


def acknowledge_job_policy(policy: iam.ManagedPolicy, database: str) -> None:
    """Acknowledge each wildcard of the job policy, on that wildcard only, with why it is needed."""
    cfn = policy.node.default_child
    assert isinstance(cfn, cdk.CfnResource)
    document = cdk.Stack.of(policy).resolve(policy.document.to_json())
    for finding, text in iam5_reasons(document, database):
        acknowledge(cfn, f"AwsSolutions-IAM5[{finding}]", text)
