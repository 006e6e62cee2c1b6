"""The denormalization job's transformations, on small in-memory frames (no catalog, no live data)."""

from __future__ import annotations

import j_neherlab_denorm_etl as job
import pytest

CASES = [
    # location, date, cases, deaths, hospitalized, icu, recovered
    ("ecdc/Germany", "2020-04-01", 100, 1, 10, 2, 5),
    ("ecdc/Germany", "2020-04-01", 100, 1, 10, 2, 5),  # duplicate row
    ("ecdc/Germany", "2020-04-02", 120, 2, 12, 3, 8),
    ("ecdc/France", "2020-04-01", 90, 3, 9, 1, 4),
    ("ecdc/Atlantis", "2020-04-01", 1, 0, 0, 0, 0),  # in no other source
    ("Germany/Berlin", "2020-04-01", 50, 0, 5, 1, 2),  # regional row, not ECDC
]
CASE_SCHEMA = "location string, date string, cases int, deaths int, hospitalized int, icu int, recovered int"
ICU = [
    ("Germany", 28000.0, 33.9, 1.0, 29.2, 38.7, 0.1, 47603.0),
    ("France", 16000.0, 24.0, 1.0, 11.6, 11.6, 0.1, 41464.0),
]
ICU_SCHEMA = (
    "country string, acute_care double, acute_care_per_100k double, imcu double, critical_care double, "
    "critical_care_per_100k double, percent_of_total double, gdp double"
)
CODES = [
    ("Germany", "DE", "DEU", 276, "Europe", "Western Europe"),
    ("France", "FR", "FRA", 250, "Europe", "Western Europe"),
]
CODE_SCHEMA = "name string, alpha_2 string, alpha_3 string, country_code int, region string, sub_region string"
PEOPLE = [
    ("Germany", 83000000, 497000, 28000, 4.0, "north"),
    ("France", 67000000, 395000, 5000, 4.0, "north"),
]
PEOPLE_SCHEMA = (
    "name string, population long, hospital_beds long, icu_beds long, imports_per_day double, hemisphere string"
)


@pytest.fixture(scope="module")
def frames(spark):
    return (
        spark.createDataFrame(CASES, CASE_SCHEMA),
        spark.createDataFrame(ICU, ICU_SCHEMA),
        spark.createDataFrame(CODES, CODE_SCHEMA),
        spark.createDataFrame(PEOPLE, PEOPLE_SCHEMA),
    )


def test_case_counts_keep_ecdc_countries_once(frames):
    rows = job.case_counts(frames[0]).collect()
    assert sorted((r.country, r.date) for r in rows) == [
        ("Atlantis", "2020-04-01"),
        ("France", "2020-04-01"),
        ("Germany", "2020-04-01"),
        ("Germany", "2020-04-02"),
    ]


def test_denormalized_row_per_country_and_date(frames):
    result = job.denormalize(*frames)
    rows = {(r.country, r.date): r for r in result.collect()}
    assert sorted(rows) == [("France", "2020-04-01"), ("Germany", "2020-04-01"), ("Germany", "2020-04-02")]
    germany = rows[("Germany", "2020-04-02")]
    assert (germany.cases, germany.alpha_3, germany.population, germany.critical_care) == (120, "DEU", 83000000, 29.2)


def test_denormalized_columns_are_unique_and_complete(frames):
    columns = job.denormalize(*frames).columns
    assert len(columns) == len(set(columns)), "Parquet rejects duplicate column names"
    for expected in ("country", "date", "icu_patients", "gdp", "alpha_2", "icu_beds", "hemisphere"):
        assert expected in columns
    assert "location" not in columns
    assert "name" not in columns
