"""Glue Spark job: denormalize the four crawled neherlab tables into one Parquet table.

The transformations are plain PySpark functions of DataFrames, so the tests
run them on small in-memory frames (no Glue Data Catalog, no live data, no
AWS account). Only :func:`main` touches Glue: it reads the crawled tables
from the catalog and writes the result to S3, updating the catalog table.
"""

from __future__ import annotations

import sys

from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812 - the PySpark convention

CASE_COUNT_COLUMNS = ("location", "date", "cases", "deaths", "hospitalized", "icu", "recovered")
ICU_CAPACITY_COLUMNS = (
    "country",
    "acute_care",
    "acute_care_per_100k",
    "imcu",
    "critical_care",
    "critical_care_per_100k",
    "percent_of_total",
    "gdp",
)
COUNTRY_CODE_COLUMNS = ("name", "alpha_2", "alpha_3", "country_code", "region", "sub_region")
POPULATION_COLUMNS = ("name", "population", "hospital_beds", "icu_beds", "imports_per_day", "hemisphere")
ARGUMENTS = (
    "JOB_NAME",
    "DATABASE",
    "CASE_COUNTS_TABLE",
    "ICU_CAPACITY_TABLE",
    "COUNTRY_CODES_TABLE",
    "POPULATION_TABLE",
    "OUTPUT_PATH",
    "OUTPUT_TABLE",
)


def case_counts(df: DataFrame) -> DataFrame:
    """ECDC country-level case counts: ``location`` ``ecdc/<country>`` becomes ``country``."""
    parts = F.split(F.col("location"), "/")
    return (
        df.select(*CASE_COUNT_COLUMNS)
        .dropDuplicates()
        .where(parts.getItem(0) == F.lit("ecdc"))
        .withColumn("country", parts.getItem(1))
        .withColumnRenamed("icu", "icu_patients")
        .drop("location")
    )


def icu_capacity(df: DataFrame) -> DataFrame:
    """ICU capacity per country, without duplicates."""
    return df.select(*ICU_CAPACITY_COLUMNS).dropDuplicates(["country"])


def country_codes(df: DataFrame) -> DataFrame:
    """ISO codes and regions per country name, without duplicates."""
    return df.select(*COUNTRY_CODE_COLUMNS).dropDuplicates(["name"])


def population(df: DataFrame) -> DataFrame:
    """Population and hospital beds per country name, without duplicates."""
    return df.select(*POPULATION_COLUMNS).dropDuplicates(["name"])


def denormalize(cases: DataFrame, icu: DataFrame, codes: DataFrame, people: DataFrame) -> DataFrame:
    """One row per country and date with every source's columns (countries missing from a source are dropped)."""
    return (
        case_counts(cases)
        .join(icu_capacity(icu), "country")
        .join(country_codes(codes).withColumnRenamed("name", "country"), "country")
        .join(population(people).withColumnRenamed("name", "country"), "country")
        .dropDuplicates(["country", "date"])
    )


def main(argv: list[str]) -> None:
    from awsglue.context import GlueContext  # only in the Glue runtime and the aws-glue-libs image
    from awsglue.dynamicframe import DynamicFrame
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    args = getResolvedOptions(argv, list(ARGUMENTS))
    context = GlueContext(SparkContext.getOrCreate())
    job = Job(context)
    job.init(args["JOB_NAME"], args)

    def table(name: str) -> DataFrame:
        frame = context.create_dynamic_frame.from_catalog(database=args["DATABASE"], table_name=args[name])
        return frame.toDF()

    result = denormalize(
        table("CASE_COUNTS_TABLE"), table("ICU_CAPACITY_TABLE"), table("COUNTRY_CODES_TABLE"), table("POPULATION_TABLE")
    )
    sink = context.getSink(
        path=args["OUTPUT_PATH"],
        connection_type="s3",
        updateBehavior="UPDATE_IN_DATABASE",
        partitionKeys=[],
        compression="snappy",
        enableUpdateCatalog=True,
        transformation_ctx="denormalized",
    )
    sink.setCatalogInfo(catalogDatabase=args["DATABASE"], catalogTableName=args["OUTPUT_TABLE"])
    sink.setFormat("glueparquet")
    sink.writeFrame(DynamicFrame.fromDF(result, context, "denormalized"))
    job.commit()


if __name__ == "__main__":
    main(sys.argv)
