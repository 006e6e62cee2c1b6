"""GlueEtlStage: what one target deploys, an ``Etl`` stack holding a :class:`GlueEtlWorkload`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from pipeline_constructs.core.targets import DeploymentTarget
from pipeline_constructs.core.validation import child_path, require_instance, require_stack_name
from pipeline_constructs.glue_etl.spec import GlueEtlSpec
from pipeline_constructs.glue_etl.workload.construct import GlueEtlWorkload
from pipeline_constructs.glue_etl.workload.options import check_workload_options

__all__ = ["GlueEtlStage"]


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
