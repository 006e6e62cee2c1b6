"""Where the workload keeps what it manages in its buckets."""

from __future__ import annotations

__all__ = ["SCRIPTS_PREFIX", "TEMP_PREFIX"]

#: Key prefix of the job scripts in the script bucket.
SCRIPTS_PREFIX = "scripts/"
#: Key prefix of Spark's temporary directory (``--TempDir``) in the data bucket.
TEMP_PREFIX = "glue-temp/"
