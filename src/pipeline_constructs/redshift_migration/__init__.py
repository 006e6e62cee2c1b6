"""RedshiftMigrationPipeline: Flyway migrations and JUnit tests against Amazon Redshift, production after approval."""

from pipeline_constructs.redshift_migration.pipeline import (
    DEFAULT_REDSHIFT_PORT,
    DEFAULT_SYNTH_COMMANDS,
    SECRET_ENVIRONMENT_VARIABLES,
    DatabaseEndpoint,
    MigrationCommands,
    RedshiftMigrationPipeline,
    RedshiftTarget,
    SecretFields,
)

__all__ = [
    "DEFAULT_REDSHIFT_PORT",
    "DEFAULT_SYNTH_COMMANDS",
    "SECRET_ENVIRONMENT_VARIABLES",
    "DatabaseEndpoint",
    "MigrationCommands",
    "RedshiftMigrationPipeline",
    "RedshiftTarget",
    "SecretFields",
]
