"""GlueEtlPipeline: Glue jobs, crawlers and workflows from a typed spec, tested in the aws-glue-libs image.

The pipelines of "CI/CD for AWS Glue ETL with the AWS CDK" and "Unit testing
AWS Glue jobs with pytest in CodePipeline" as one construct:

* :mod:`~pipeline_constructs.glue_etl.spec`: the typed workload spec (frozen dataclasses);
* :mod:`~pipeline_constructs.glue_etl.workload`: the secured workload stack built from it;
* :mod:`~pipeline_constructs.glue_etl.job_tests`: the job-test action (pytest in the aws-glue-libs image);
* :mod:`~pipeline_constructs.glue_etl.pipeline`: the delivery pipeline.

The public names are those of each module's ``__all__`` (re-exported from the modules
that define them, so a type checker sees them through this package too).
"""

from __future__ import annotations

from pipeline_constructs.glue_etl import job_tests as _job_tests
from pipeline_constructs.glue_etl import pipeline as _pipeline
from pipeline_constructs.glue_etl.job_tests import *  # noqa: F403
from pipeline_constructs.glue_etl.pipeline import *  # noqa: F403
from pipeline_constructs.glue_etl.spec import crawlers as _crawlers
from pipeline_constructs.glue_etl.spec import etl_spec as _etl_spec
from pipeline_constructs.glue_etl.spec import jobs as _jobs
from pipeline_constructs.glue_etl.spec import workflows as _workflows
from pipeline_constructs.glue_etl.spec.crawlers import *  # noqa: F403
from pipeline_constructs.glue_etl.spec.etl_spec import *  # noqa: F403
from pipeline_constructs.glue_etl.spec.jobs import *  # noqa: F403
from pipeline_constructs.glue_etl.spec.workflows import *  # noqa: F403
from pipeline_constructs.glue_etl.workload import construct as _construct
from pipeline_constructs.glue_etl.workload import prefixes as _prefixes
from pipeline_constructs.glue_etl.workload import stage as _stage
from pipeline_constructs.glue_etl.workload.construct import *  # noqa: F403
from pipeline_constructs.glue_etl.workload.prefixes import *  # noqa: F403
from pipeline_constructs.glue_etl.workload.stage import *  # noqa: F403

__all__: list[str] = []
__all__ += _pipeline.__all__
__all__ += _job_tests.__all__
__all__ += _etl_spec.__all__
__all__ += _jobs.__all__
__all__ += _crawlers.__all__
__all__ += _workflows.__all__
__all__ += _construct.__all__
__all__ += _stage.__all__
__all__ += _prefixes.__all__
