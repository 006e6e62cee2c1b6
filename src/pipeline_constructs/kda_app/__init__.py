"""KdaAppPipeline: deployment and version updates of Managed Service for Apache Flink applications.

See :mod:`pipeline_constructs.kda_app.pipeline` for the two pipelines it builds.
"""

from pipeline_constructs.core.private.node import use_project_node as _use_project_node

_use_project_node()

from pipeline_constructs.kda_app.application_stack import (  # noqa: E402
    INPUT_PROPERTY_GROUP,
    KdaApplicationStack,
    KdaApplicationStage,
    ReleaseChannel,
)
from pipeline_constructs.kda_app.code import FlinkCode  # noqa: E402
from pipeline_constructs.kda_app.flink import (  # noqa: E402
    FlinkApplication,
    FlinkLogLevel,
    FlinkMetricsLevel,
    FlinkRuntime,
    FlinkSettings,
)
from pipeline_constructs.kda_app.names import KdaNames  # noqa: E402
from pipeline_constructs.kda_app.pipeline import KdaAppPipeline  # noqa: E402
from pipeline_constructs.kda_app.props import StackExtension  # noqa: E402
from pipeline_constructs.kda_app.sources import ApplicationBuild, ApplicationSource  # noqa: E402

__all__ = [
    "INPUT_PROPERTY_GROUP",
    "ApplicationBuild",
    "ApplicationSource",
    "FlinkApplication",
    "FlinkCode",
    "FlinkLogLevel",
    "FlinkMetricsLevel",
    "FlinkRuntime",
    "FlinkSettings",
    "KdaAppPipeline",
    "KdaApplicationStack",
    "KdaApplicationStage",
    "KdaNames",
    "ReleaseChannel",
    "StackExtension",
]
