"""GlueEtlPipeline: Glue jobs, crawlers and workflows from a typed spec, tested in the aws-glue-libs image.

The pipelines of "CI/CD for AWS Glue ETL with the AWS CDK" and "Unit testing
AWS Glue jobs with pytest in CodePipeline" as one construct:

* :mod:`~pipeline_constructs.glue_etl.spec`: the typed workload spec (frozen dataclasses);
* :mod:`~pipeline_constructs.glue_etl.workload`: the secured workload stack built from it;
* :mod:`~pipeline_constructs.glue_etl.job_tests`: the job-test action (pytest in the aws-glue-libs image);
* :mod:`~pipeline_constructs.glue_etl.pipeline`: the delivery pipeline.
"""

from __future__ import annotations

from pipeline_constructs.glue_etl import job_tests as _job_tests
from pipeline_constructs.glue_etl import pipeline as _pipeline
from pipeline_constructs.glue_etl import spec as _spec
from pipeline_constructs.glue_etl import workload as _workload
from pipeline_constructs.glue_etl.job_tests import *  # noqa: F403
from pipeline_constructs.glue_etl.pipeline import *  # noqa: F403
from pipeline_constructs.glue_etl.spec import *  # noqa: F403
from pipeline_constructs.glue_etl.workload import *  # noqa: F403

__all__: list[str] = []
__all__ += _pipeline.__all__
__all__ += _job_tests.__all__
__all__ += _spec.__all__
__all__ += _workload.__all__
