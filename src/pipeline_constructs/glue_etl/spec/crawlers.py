"""The crawlers of a spec: S3 prefixes crawled into the spec's database."""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline_constructs.core.validation import invalid, require_enum, require_mapping, require_str
from pipeline_constructs.glue_etl.spec._checks import DATABASE, require_description, require_name, tuple_field
from pipeline_constructs.glue_etl.spec.locations import require_location

__all__ = ["DeleteBehavior", "GlueCrawler", "UpdateBehavior"]

#: The states a condition on a crawler may watch.
CRAWLER_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")

# Crawler exclusions: glob patterns of object keys (printable ASCII, no spaces at the ends).
_EXCLUSION = re.compile(r"[\x21-\x7e]([\x20-\x7e]{0,1022}[\x21-\x7e])?")

_DEFAULT_CRAWLER_CONFIGURATION: Mapping[str, Any] = {
    "Version": 1.0,
    "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}},
    "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"},
}


class UpdateBehavior(enum.Enum):
    """What a crawler does when it finds a changed schema (``SchemaChangePolicy.UpdateBehavior``)."""

    UPDATE_IN_DATABASE = "UPDATE_IN_DATABASE"
    LOG = "LOG"


class DeleteBehavior(enum.Enum):
    """What a crawler does when a crawled object is gone (``SchemaChangePolicy.DeleteBehavior``)."""

    LOG = "LOG"
    DEPRECATE_IN_DATABASE = "DEPRECATE_IN_DATABASE"
    DELETE_FROM_DATABASE = "DELETE_FROM_DATABASE"


def _exclusion(where: str, prop: str, value: Any) -> str:
    return require_str(
        where, prop, value, pattern=_EXCLUSION, allowed="expected a glob pattern of object keys (printable ASCII)"
    )


@dataclass(frozen=True, kw_only=True)
class GlueCrawler:
    """A crawler of S3 prefixes into the spec's database (``glue.CfnCrawler``: there is no L2).

    :param name: the crawler name (what triggers and conditions refer to).
    :param s3_targets: S3 locations to crawl (at least one); the role may read them.
    :param table_prefix: prefix of the tables it creates. Default: none.
    :param update_behavior: on schema change. Default: ``UpdateBehavior.UPDATE_IN_DATABASE``.
    :param delete_behavior: on deleted objects. Default: ``DeleteBehavior.LOG``.
    :param exclusions: glob patterns excluded from every target. Default: none.
    :param configuration: crawler configuration (JSON object). Default: inherit partition
        schemas from the table and combine compatible schemas.
    :param description: Default: none.
    """

    name: str
    s3_targets: tuple[str, ...]
    table_prefix: str | None = None
    update_behavior: UpdateBehavior = UpdateBehavior.UPDATE_IN_DATABASE
    delete_behavior: DeleteBehavior = DeleteBehavior.LOG
    exclusions: tuple[str, ...] = ()
    configuration: Mapping[str, Any] = field(default_factory=lambda: dict(_DEFAULT_CRAWLER_CONFIGURATION))
    description: str | None = None

    def __post_init__(self) -> None:
        require_name("GlueCrawler", "name", self.name)
        where = f"GlueCrawler({self.name!r})"
        tuple_field(
            self,
            where,
            "s3_targets",
            item=require_location,
            allowed="expected a list or tuple of S3 locations",
            min_length=1,
        )
        tuple_field(self, where, "exclusions", item=_exclusion, allowed="expected a list of glob patterns")
        if self.table_prefix is not None:
            allowed = "expected lower-case letters, digits and '_'"
            require_str(where, "table_prefix", self.table_prefix, pattern=DATABASE, allowed=allowed)
        require_enum(where, "update_behavior", self.update_behavior, UpdateBehavior)
        require_enum(where, "delete_behavior", self.delete_behavior, DeleteBehavior)
        configuration = require_mapping(
            where, "configuration", self.configuration, allowed="expected a JSON object (a mapping)"
        )
        try:
            json.dumps(configuration, allow_nan=False)
        except (TypeError, ValueError) as err:
            raise invalid(
                where, "configuration", configuration, f"expected a JSON-serializable object ({err})"
            ) from None
        object.__setattr__(self, "configuration", configuration)
        require_description(where, self.description)
