"""MigrationCommands: failures cannot be hidden, tests gate production and never run against it."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline_constructs.redshift_migration import MigrationCommands
from pipeline_constructs.redshift_migration.commands import checked_commands, migration_build_spec, migration_commands


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"migrate": ["mvn -B clean test"]},
            r"migrate\[0\] = 'mvn -B clean test' is invalid: Maven phase 'test' runs the tests",
        ),
        (
            {"migrate": ["cd db && ./mvnw verify"]},
            r"Maven phase 'verify' runs the tests, and tests never run against production",
        ),
        ({"migrate": ["mvn -B flyway:clean flyway:migrate"]}, r"Flyway clean is disabled for production targets"),
        ({"migrate": ["mvn process-resources -Dflyway.cleanDisabled=false"]}, r"Flyway clean is disabled"),
        ({"migrate": ["mvn -B process-resources || true"]}, r"must not hide its exit code"),
        ({"test": ["set +e", "mvn test"]}, r"test\[0\] = 'set \+e' is invalid: a command must not hide its exit code"),
        ({"test": ["mvn test; exit 0"]}, r"must not hide its exit code"),
        (
            {"test": ["mvn -B test -Dmaven.test.failure.ignore=true"]},
            r"test\[0\] = .* is invalid: -Dmaven.test.failure.ignore=true would let production migrate",
        ),
        (
            {"test": ["cd db", "./mvnw clean test -DskipTests"]},
            r"test\[1\] = .* is invalid: -DskipTests would let production",
        ),
        ({"test": []}, r"MigrationCommands: test = \[\] is invalid: expected at least one command"),
        ({"test": "mvn test"}, r"MigrationCommands: test = 'mvn test' is invalid: expected a list of shell commands"),
        ({"test": ["  "]}, r"test\[0\] = '  ' is invalid: expected a non-empty shell command"),
        (
            {"reports_directory": "/abs/reports"},
            r"reports_directory = '/abs/reports' is invalid: expected a path relative",
        ),
        ({"reports_directory": "../x"}, r"reports_directory = '../x' is invalid"),
        ({"reports_files": "*.xml"}, r"reports_files = '\*.xml' is invalid: expected a non-empty list of globs"),
        ({"runtime_versions": {"java": ""}}, r"runtime_versions\['java'\] = '' is invalid"),
    ],
)
def test_bad_commands(kwargs, message):
    props: dict[str, Any] = {"test": ["mvn -B clean test"], "migrate": ["mvn -B clean process-resources"]}
    props.update(kwargs)
    with pytest.raises(ValueError, match=message):
        MigrationCommands(**props)


@given(
    command=st.sampled_from(["mvn test", "./gradlew test", "make check"]),
    mask=st.sampled_from([" || true", " || :", " || exit 0", "; true", "; exit 0"]),
)
def test_no_mask_hides_a_failure(command, mask):
    with pytest.raises(ValueError, match=r"must not hide its exit code"):
        checked_commands("X", "synth_commands", [command + mask], required=True)
    assert checked_commands("X", "synth_commands", [command], required=True) == (command,)


def test_migrations_may_package_when_tests_are_skipped():
    commands = MigrationCommands(test=["mvn test"], migrate=["mvn -B package -DskipTests"])
    assert commands.migrate == ("mvn -B package -DskipTests",)


@pytest.mark.parametrize("directory", ["", "/srv/db", "../db"])
def test_bad_maven_directory(directory):
    with pytest.raises(
        ValueError, match=r"MigrationCommands.maven: directory = .* is invalid: expected a path relative"
    ):
        MigrationCommands.maven(directory=directory)


def test_maven_defaults_match_the_post():
    commands = MigrationCommands.maven()
    assert commands.test == ("mvn -B clean test -Dflyway.cleanDisabled=true",)
    assert commands.migrate == ("mvn -B clean process-resources -Dflyway.cleanDisabled=true",)
    assert commands.reports_directory == "target/surefire-reports"
    assert commands.reports_files == ("TEST-*.xml",)


def test_a_maven_directory_with_a_space_is_quoted():
    commands = MigrationCommands.maven(directory="db project", extra_args=["-Dx=a b"])
    assert commands.test == ("cd 'db project'", "mvn -B clean test -Dflyway.cleanDisabled=true '-Dx=a b'")
    assert commands.reports_directory == "db project/target/surefire-reports"


def test_each_build_exports_the_flyway_connection_first():
    commands = MigrationCommands(test=["t"], migrate=["m"])
    test, prod = migration_commands(commands, production=False), migration_commands(commands, production=True)
    assert test[1:] == ["t"]
    assert prod[1:] == ["m"]
    assert test[0] == prod[0]
    assert test[0].startswith("export FLYWAY_URL=")
    assert "FLYWAY_PASSWORD=" in test[0]


def test_a_build_spec_without_runtimes_has_no_install_phase():
    stack = cdk.Stack(cdk.App(), "S")
    spec = migration_build_spec(MigrationCommands(test=["t"], migrate=["m"], runtime_versions={}), None)
    assert json.loads(stack.resolve(spec.to_build_spec(stack))) == {"phases": {"build": {"on-failure": "ABORT"}}}
