"""Fixtures for the Glue job tests: the job scripts on sys.path and a local Spark session.

No test reaches AWS: EventBridge is stubbed with botocore's Stubber and Spark
runs in local mode on in-memory rows. The pipeline runs these tests in the
aws-glue-libs image without any AWS credentials in the environment; locally,
any Python with ``pyspark``, ``boto3`` and ``pytest`` runs them. A missing
``pyspark`` is an error, never a skip: a pipeline must not pass on tests that
did not run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "glue_jobs"))

# A region for botocore clients; no credentials are needed by stubbed clients.
os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("glue-job-tests")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    yield session
    session.stop()
