"""GlueEtlPipeline: Glue jobs, crawlers and workflows from a typed spec, tested in the aws-glue-libs image.

The pipelines of "CI/CD for AWS Glue ETL with the AWS CDK" and "Unit testing
AWS Glue jobs with pytest in CodePipeline" as one construct:

* :mod:`~pipeline_constructs.glue_etl.spec`: the typed workload spec (frozen dataclasses);
* :mod:`~pipeline_constructs.glue_etl.workload`: the secured workload stack built from it;
* :mod:`~pipeline_constructs.glue_etl.pipeline`: the delivery pipeline.
"""

from __future__ import annotations

from pipeline_constructs.glue_etl.pipeline import GLUE_LIBS_IMAGES, GlueEtlPipeline, glue_libs_image
from pipeline_constructs.glue_etl.spec import (
    DeleteBehavior,
    GlueCondition,
    GlueCrawler,
    GlueEtlSpec,
    GlueJob,
    GlueShellJob,
    GlueSparkJob,
    GlueStreamingJob,
    GlueTrigger,
    GlueWorkflow,
    UpdateBehavior,
)
from pipeline_constructs.glue_etl.workload import GlueEtlStage, GlueEtlWorkload

__all__ = [
    "GLUE_LIBS_IMAGES",
    "DeleteBehavior",
    "GlueCondition",
    "GlueCrawler",
    "GlueEtlPipeline",
    "GlueEtlSpec",
    "GlueEtlStage",
    "GlueEtlWorkload",
    "GlueJob",
    "GlueShellJob",
    "GlueSparkJob",
    "GlueStreamingJob",
    "GlueTrigger",
    "GlueWorkflow",
    "UpdateBehavior",
    "glue_libs_image",
]
