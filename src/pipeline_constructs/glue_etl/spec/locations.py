"""S3 locations of a spec: a key prefix of the workload's data bucket, or an ``s3://`` URL of another bucket."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pipeline_constructs.core.validation import invalid, require_str

__all__: list[str] = []  # internal: import from this module

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_PREFIX = re.compile(r"([A-Za-z0-9!_.'()=-]+/)*[A-Za-z0-9!_.'()=-]*")


@dataclass(frozen=True)
class S3Location:
    """A parsed S3 location: ``bucket`` is ``None`` for the workload's data bucket."""

    bucket: str | None
    prefix: str

    @property
    def in_data_bucket(self) -> bool:
        """Whether the location is a prefix of the workload's data bucket."""
        return self.bucket is None

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.bucket else self.prefix


def require_location(where: str, prop: str, value: Any) -> str:
    """Accept an S3 location of a spec (see :func:`parse_location`); return it unchanged."""
    parse_location(where, prop, value)
    return value  # type: ignore[no-any-return]


def parse_location(where: str, prop: str, value: str) -> S3Location:
    """Parse ``"prefix/"`` (data bucket) or ``"s3://bucket/prefix/"``; raise :func:`invalid` otherwise."""
    allowed = (
        "expected a key prefix of the data bucket such as 'clean/' or an 's3://bucket/prefix/' URL "
        "(no wildcards, no leading '/')"
    )
    require_str(where, prop, value, allowed=allowed, max_length=1024)
    if value.startswith("s3://"):
        bucket, _, prefix = value[len("s3://") :].partition("/")
        if not _BUCKET.fullmatch(bucket) or ".." in bucket or not _PREFIX.fullmatch(prefix):
            raise invalid(where, prop, value, allowed)
        return S3Location(bucket, prefix)
    if not _PREFIX.fullmatch(value):
        raise invalid(where, prop, value, allowed)
    return S3Location(None, value)
