"""RedshiftMigrationPipeline: Flyway migrations and JUnit tests against Amazon Redshift, production after approval."""

from pipeline_constructs.redshift_migration.commands import MigrationCommands
from pipeline_constructs.redshift_migration.database import (
    DEFAULT_REDSHIFT_PORT,
    SECRET_ENVIRONMENT_VARIABLES,
    DatabaseEndpoint,
    SecretFields,
)
from pipeline_constructs.redshift_migration.pipeline import RedshiftMigrationPipeline

__all__ = [
    "DEFAULT_REDSHIFT_PORT",
    "SECRET_ENVIRONMENT_VARIABLES",
    "DatabaseEndpoint",
    "MigrationCommands",
    "RedshiftMigrationPipeline",
    "SecretFields",
]
