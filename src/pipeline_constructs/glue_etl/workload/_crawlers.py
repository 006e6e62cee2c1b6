"""The crawlers of a spec, as ``glue.CfnCrawler`` (there is no L2)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aws_cdk import aws_glue as glue
from constructs import Construct

from pipeline_constructs.glue_etl.spec import GlueCrawler
from pipeline_constructs.glue_etl.spec.locations import parse_location

if TYPE_CHECKING:
    from pipeline_constructs.glue_etl.workload.construct import GlueEtlWorkload


def build_crawler(workload: GlueEtlWorkload, scope: Construct, crawler: GlueCrawler) -> glue.CfnCrawler:
    """The crawler of ``crawler``: the job role, the workload's database and security configuration."""
    targets = [
        glue.CfnCrawler.S3TargetProperty(
            path=workload.s3_url(parse_location("", "", t)),
            exclusions=list(crawler.exclusions) or None,
        )
        for t in crawler.s3_targets
    ]
    return glue.CfnCrawler(
        scope,
        crawler.name,
        name=crawler.name,
        role=workload.role.role_arn,
        database_name=workload.database.database_name,
        targets=glue.CfnCrawler.TargetsProperty(s3_targets=targets),
        schema_change_policy=glue.CfnCrawler.SchemaChangePolicyProperty(
            update_behavior=crawler.update_behavior.value,
            delete_behavior=crawler.delete_behavior.value,
        ),
        crawler_security_configuration=workload.security_configuration.security_configuration_name,
        configuration=json.dumps(crawler.configuration, sort_keys=True),
        table_prefix=crawler.table_prefix,
        description=crawler.description,
    )
