"""The Glue ETL workload a :class:`~pipeline_constructs.glue_etl.spec.GlueEtlSpec` describes.

:class:`GlueEtlWorkload` builds, in one stack:

* one rotating KMS key for everything at rest (buckets, Glue S3 output,
  CloudWatch logs, job bookmarks); no alias, so nothing changes between synths;
* a Glue security configuration using that key for S3, CloudWatch Logs and
  job bookmarks;
* a script bucket and a data bucket (SSE-KMS, SSL only, versioned, access
  logs to a dedicated bucket);
* the scripts directory uploaded as a CDK asset and copied to
  ``scripts/`` of the script bucket;
* the Glue database, the jobs (``PythonShellJob``, ``PySparkEtlJob``,
  ``PySparkStreamingJob``), the crawlers (``CfnCrawler``) and the workflows
  with their triggers, created one after another (Glue rejects concurrent
  trigger changes to one workflow);
* one job role (jobs and crawlers) whose customer-managed policy names the
  scripts, the S3 prefixes of the spec, the database and the key: no
  ``s3:*``, no ``sts:AssumeRole``.
"""

from __future__ import annotations

from pipeline_constructs.glue_etl.workload import construct as _construct
from pipeline_constructs.glue_etl.workload import prefixes as _prefixes
from pipeline_constructs.glue_etl.workload import stage as _stage
from pipeline_constructs.glue_etl.workload.construct import *  # noqa: F403
from pipeline_constructs.glue_etl.workload.prefixes import *  # noqa: F403
from pipeline_constructs.glue_etl.workload.stage import *  # noqa: F403

__all__: list[str] = []
__all__ += _construct.__all__
__all__ += _stage.__all__
__all__ += _prefixes.__all__
