"""Readers of a RedshiftMigrationPipeline's template, and a small valid pipeline to vary (for this folder's tests).

Imported as ``from redshift_migration.redshift_helpers import ...``: this folder is a namespace package
of ``tests/``, which is on ``sys.path`` wherever ``from helpers import ...`` works.
"""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import pipelines
from helpers import PIPELINE_ENV, pipeline_stack

from pipeline_constructs.core.private.iam_idioms import flatten_cfn_reference
from pipeline_constructs.core.targets import DeploymentTarget
from pipeline_constructs.redshift_migration import DatabaseEndpoint, RedshiftMigrationPipeline
from pipeline_constructs.testing import deterministic_app

CONNECTION_ARN = "arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000"
ACCOUNT = PIPELINE_ENV.account
REGION = PIPELINE_ENV.region
PRIVATE_SUBNETS = ["subnet-0b00000000000000a", "subnet-0b00000000000000b"]


def project(template: dict[str, Any], step: str) -> dict[str, Any]:
    """The CodeBuild project of a migration step (``TestMigrateAndTest``, ``ProdMigrate``...)."""
    found = [
        r["Properties"]
        for logical_id, r in template["Resources"].items()
        if r["Type"] == "AWS::CodeBuild::Project" and re.search(rf"Pipeline{step}[0-9A-F]{{8}}$", logical_id)
    ]
    assert len(found) == 1, f"expected one project for {step}, found {len(found)}"
    return found[0]


def buildspec(project_props: dict[str, Any]) -> dict[str, Any]:
    spec = project_props["Source"]["BuildSpec"]
    if isinstance(spec, dict):  # Fn::Join around the report group ARN
        spec = "".join(p if isinstance(p, str) else "REPORT_GROUP_ARN" for p in spec["Fn::Join"][1])
    return json.loads(spec)  # type: ignore[no-any-return]


def role_id(project_props: dict[str, Any]) -> str:
    return project_props["ServiceRole"]["Fn::GetAtt"][0]  # type: ignore[no-any-return]


def role_statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    """Every statement of every policy attached to ``role`` (inline, managed, attached policies)."""
    out: list[dict[str, Any]] = []
    for r in template["Resources"].values():
        props = r.get("Properties", {})
        if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and {"Ref": role} in props.get("Roles", []):
            out.extend(props["PolicyDocument"]["Statement"])
    for policy in template["Resources"][role]["Properties"].get("Policies", []):
        out.extend(policy["PolicyDocument"]["Statement"])
    return out


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def readable_secrets(template: dict[str, Any], role: str) -> set[str]:
    """Secrets (and secret-scoped key grants) a role's statements name, flattened the way cdk-nag prints them."""
    found: set[str] = set()
    for s in role_statements(template, role):
        if any(a.startswith("secretsmanager:") for a in as_list(s["Action"])):
            found.update(flatten_cfn_reference(r) for r in as_list(s["Resource"]))
        for condition in (s.get("Condition") or {}).values():
            if "kms:EncryptionContext:SecretARN" in condition:
                found.add(flatten_cfn_reference(condition["kms:EncryptionContext:SecretARN"]))
    return found


def new_stack() -> tuple[cdk.Stack, ec2.IVpc]:
    """Stack ``S`` in the pipeline environment, with a VPC of two private and two public subnets."""
    stack = pipeline_stack(deterministic_app(), "S")
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "Vpc",
        vpc_id="vpc-0a1b2c3d4e5f60718",
        availability_zones=["eu-west-1a", "eu-west-1b"],
        private_subnet_ids=PRIVATE_SUBNETS,
        public_subnet_ids=["subnet-0c00000000000000a", "subnet-0c00000000000000b"],
    )
    return stack, vpc


def source() -> pipelines.CodePipelineSource:
    return pipelines.CodePipelineSource.connection("o/r", "main", connection_arn=CONNECTION_ARN)


def target(name: str = "Test", **options: Any) -> DeploymentTarget:
    """A target in the pipeline's environment unless ``options`` say otherwise."""
    return DeploymentTarget(**{"name": name, "account": ACCOUNT, "region": REGION, **options})


def database(stack: cdk.Stack, name: str = "Test", **overrides: Any) -> DatabaseEndpoint:
    """A database at 10.0.0.0/24 whose secret ``s/<name>`` is imported by name."""
    props: dict[str, Any] = {"peer": ec2.Peer.ipv4("10.0.0.0/24"), **overrides}
    if "secret" not in props:
        props["secret"] = secretsmanager.Secret.from_secret_name_v2(stack, f"{name}Secret", f"s/{name.lower()}")
    return DatabaseEndpoint(**props)


def construct(**overrides: Any) -> RedshiftMigrationPipeline:
    """``S/M``: one test target ``Test`` unless ``targets``/``databases`` say otherwise.

    ``databases`` may be a callable ``stack -> mapping`` (secrets need the stack).
    """
    stack, vpc = new_stack()
    targets = overrides.pop("targets", [target()])
    databases = overrides.pop("databases", None)
    if databases is None:
        databases = {t.name: database(stack, t.name) for t in targets if isinstance(t, DeploymentTarget)}
    elif callable(databases):
        databases = databases(stack)
    props: dict[str, Any] = {"source": source(), "vpc": vpc, "targets": targets, "databases": databases, **overrides}
    return RedshiftMigrationPipeline(stack, "M", **props)
