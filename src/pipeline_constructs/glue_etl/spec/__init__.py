"""The typed spec of a Glue ETL workload: jobs, crawlers, a database, workflows and triggers.

Every value object is a frozen dataclass that validates itself when it is
created; :class:`GlueEtlSpec` then checks the references between them, so a
trigger naming an unknown job, a cycle between triggers or a duplicate name is
a ``ValueError`` (naming the prop and what is allowed) before any construct
exists::

    spec = GlueEtlSpec(
        database="sales",
        scripts_dir="glue_jobs",
        jobs=(GlueSparkJob(name="j_clean", script="clean.py", writes=("clean/",)),),
        crawlers=(GlueCrawler(name="c_raw", s3_targets=("raw/",)),),
        workflows=(
            GlueWorkflow(
                name="daily",
                triggers=(
                    GlueTrigger(name="t_start", schedule="cron(0 6 * * ? *)", actions=("c_raw",)),
                    GlueTrigger(name="t_clean", actions=("j_clean",), when=(GlueCondition("c_raw"),)),
                ),
            ),
        ),
    )

S3 locations (``reads``, ``writes``, ``s3_targets``) are either a key prefix
in the workload's data bucket (``"clean/"``) or a full ``s3://bucket/prefix/``
URL of another bucket. The job role is granted exactly these prefixes.
"""

from __future__ import annotations

from pipeline_constructs.glue_etl.spec import crawlers as _crawlers
from pipeline_constructs.glue_etl.spec import etl_spec as _etl_spec
from pipeline_constructs.glue_etl.spec import jobs as _jobs
from pipeline_constructs.glue_etl.spec import workflows as _workflows
from pipeline_constructs.glue_etl.spec.crawlers import *  # noqa: F403
from pipeline_constructs.glue_etl.spec.etl_spec import *  # noqa: F403
from pipeline_constructs.glue_etl.spec.jobs import *  # noqa: F403
from pipeline_constructs.glue_etl.spec.workflows import *  # noqa: F403

__all__: list[str] = []
__all__ += _etl_spec.__all__
__all__ += _jobs.__all__
__all__ += _crawlers.__all__
__all__ += _workflows.__all__
