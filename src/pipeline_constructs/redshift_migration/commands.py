"""The shell commands of the migration builds, checked, and the build spec they run in.

Every build starts with ``REDSHIFT_HOST``, ``REDSHIFT_PORT``, ``REDSHIFT_DB_NAME``,
``REDSHIFT_USER`` and ``REDSHIFT_PASSWORD`` (from the target's secret) and exports
``FLYWAY_URL``/``FLYWAY_USER``/``FLYWAY_PASSWORD`` from them, so Flyway (Maven
plugin or CLI) connects without any configuration in the project.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import aws_codebuild as codebuild

from pipeline_constructs.core.reports import TestReports
from pipeline_constructs.core.validation import (
    invalid,
    require_commands,
    require_mapping,
    require_relative_path,
    require_sequence,
    require_str,
    shell_quote,
)

__all__ = ["MigrationCommands", "checked_commands", "migration_build_spec", "migration_commands"]

# Exported before the team's commands; a pom can also read ${env.REDSHIFT_*} directly.
_FLYWAY_EXPORT = (
    'export FLYWAY_URL="jdbc:redshift://${REDSHIFT_HOST}:${REDSHIFT_PORT}/${REDSHIFT_DB_NAME}" '
    'FLYWAY_USER="${REDSHIFT_USER}" FLYWAY_PASSWORD="${REDSHIFT_PASSWORD}"'
)
_RUNTIME = re.compile(r"[a-z][a-z0-9._-]{0,30}")
_RUNTIME_VERSION = re.compile(r"[A-Za-z0-9._-]{1,30}")
_GLOB = re.compile(r"[A-Za-z0-9_.@+*?-]{1,255}(/[A-Za-z0-9_.@+*?-]{1,255}){0,31}")
# Idioms that turn a failing command into a passing one.
_MASKED_FAILURE = re.compile(r"\|\|\s*(true|:|exit\s+0)(?![\w-])|;\s*(true|exit\s+0)\s*$|\bset\s+\+e\b")
# Maven lifecycle phases that run (or follow) the test phase.
_TEST_PHASES = frozenset(
    {
        "test",
        "prepare-package",
        "package",
        "pre-integration-test",
        "integration-test",
        "post-integration-test",
        "verify",
        "install",
        "deploy",
    }
)
# Maven flags that skip the tests or ignore their failures.
_TEST_GATE_BYPASS = frozenset(
    {"-DskipTests", "-Dmaven.test.skip", "-Dmaven.test.failure.ignore", "-DtestFailureIgnore", "-Dsurefire.skip"}
)
_SKIP_TESTS = frozenset({"-DskipTests", "-DskipTests=true", "-Dmaven.test.skip=true", "-Dmaven.test.skip"})


def checked_commands(where: str, prop: str, value: Any, *, required: bool) -> tuple[str, ...]:
    """Shell commands that cannot hide a failure (``|| true``, ``; exit 0``, ``set +e`` are refused)."""
    if isinstance(value, Sequence) and not isinstance(value, str) and required and not value:
        raise invalid(where, prop, list(value), "expected at least one command")
    out = require_commands(where, prop, value, min_length=1 if required else 0)
    for i, command in enumerate(out):
        if _MASKED_FAILURE.search(command):
            raise invalid(
                where,
                f"{prop}[{i}]",
                command,
                "a command must not hide its exit code ('|| true', '; exit 0', 'set +e'): "
                "a failed migration or test has to fail the pipeline",
            )
    return out


def _maven_phases(command: str) -> list[tuple[list[str], list[str]]]:
    """The (goals/phases, flags) of every ``mvn``/``mvnw`` invocation in a shell command."""
    found: list[tuple[list[str], list[str]]] = []
    for segment in re.split(r"&&|\|\||;|\|", command):
        try:
            words = shlex.split(segment)
        except ValueError:
            words = segment.split()
        if words and posixpath.basename(words[0]) in ("mvn", "mvnw"):
            found.append(([w for w in words[1:] if not w.startswith("-")], [w for w in words[1:] if w.startswith("-")]))
    return found


@dataclass(frozen=True)
class MigrationCommands:
    """The shell commands of the migration builds.

    Built for you by :meth:`maven` (the post's Maven project: Flyway's
    ``migrate`` goal bound to ``process-resources``, JUnit tests run by
    Surefire); give your own for another tool. Every build starts with
    ``REDSHIFT_HOST``, ``REDSHIFT_PORT``, ``REDSHIFT_DB_NAME``,
    ``REDSHIFT_USER`` and ``REDSHIFT_PASSWORD`` (from the target's secret) and
    ``FLYWAY_URL``/``FLYWAY_USER``/``FLYWAY_PASSWORD`` derived from them.

    :param test: commands for test targets: migrate, then run the tests.
    :param migrate: commands for production targets: migrations only. Maven
        invocations must stop before the ``test`` phase (or skip tests): tests
        never run against production.
    :param reports_directory: directory (relative to the source root) of the
        JUnit XML results of ``test``; published to a report group per test
        target. Default: none (no report group).
    :param reports_files: globs of result files in ``reports_directory``.
        Default: ``("TEST-*.xml",)`` (Surefire's names).
    :param install: commands of the install phase (both kinds). Default: none.
    :param runtime_versions: buildspec ``runtime-versions``. Default: ``{"java": "corretto21"}``.
    """

    test: tuple[str, ...]
    migrate: tuple[str, ...]
    reports_directory: str | None = None
    reports_files: tuple[str, ...] = ("TEST-*.xml",)
    install: tuple[str, ...] = ()
    runtime_versions: Mapping[str, str] = field(default_factory=lambda: {"java": "corretto21"})

    def __post_init__(self) -> None:
        where = "MigrationCommands"
        object.__setattr__(self, "test", checked_commands(where, "test", self.test, required=True))
        object.__setattr__(self, "migrate", checked_commands(where, "migrate", self.migrate, required=True))
        object.__setattr__(self, "install", checked_commands(where, "install", self.install, required=False))
        for i, command in enumerate(self.test):
            for _, flags in _maven_phases(command):
                hidden = sorted(f for f in flags if f.split("=")[0] in _TEST_GATE_BYPASS and not f.endswith("=false"))
                if hidden:
                    raise invalid(
                        where,
                        f"test[{i}]",
                        command,
                        f"{hidden[0]} would let production migrate without passing tests: the tests gate "
                        "production, so they must run and their failures must fail the build",
                    )
        for i, command in enumerate(self.migrate):
            for goals, flags in _maven_phases(command):
                skips = bool(_SKIP_TESTS.intersection(flags))
                tests = [g for g in goals if g in _TEST_PHASES]
                if tests and not skips:
                    raise invalid(
                        where,
                        f"migrate[{i}]",
                        command,
                        f"Maven phase {tests[0]!r} runs the tests, and tests never run against production: "
                        "stop at 'process-resources' (Flyway migrate) or add -DskipTests",
                    )
            if re.search(r"flyway:clean\b|\bflyway\s+clean\b|cleanDisabled=false", command):
                raise invalid(where, f"migrate[{i}]", command, "Flyway clean is disabled for production targets")
        if self.reports_directory is not None:
            directory = require_relative_path(where, "reports_directory", self.reports_directory)
            object.__setattr__(self, "reports_directory", directory)
        files = require_sequence(
            where,
            "reports_files",
            self.reports_files,
            item=lambda w, p, v: require_str(w, p, v, pattern=_GLOB, allowed="expected a glob such as 'TEST-*.xml'"),
            allowed="expected a non-empty list of globs",
            min_length=1,
        )
        object.__setattr__(self, "reports_files", files)

        def runtime(w: str, p: str, v: Any) -> str:
            return require_str(w, p, v, pattern=_RUNTIME, allowed="expected a runtime name such as 'java'")

        def version(w: str, p: str, v: Any) -> str:
            return require_str(w, p, v, pattern=_RUNTIME_VERSION, allowed="expected a version such as 'corretto21'")

        versions = require_mapping(
            where,
            "runtime_versions",
            self.runtime_versions,
            key=runtime,
            item=version,
            allowed="expected a mapping such as {'java': 'corretto21'}",
        )
        object.__setattr__(self, "runtime_versions", versions)

    @classmethod
    def maven(
        cls,
        *,
        directory: str = ".",
        extra_args: Sequence[str] = (),
        java: str = "corretto21",
    ) -> MigrationCommands:
        """The post's Maven project: ``mvn -B clean test`` for test, ``mvn -B clean process-resources`` for production.

        Both pass ``-Dflyway.cleanDisabled=true``.

        :param directory: the Maven project (``pom.xml``), relative to the source root. Default: ``"."``.
        :param extra_args: extra ``mvn`` arguments for both, e.g. ``("-Pci",)``. Default: none.
        :param java: the build image's Java runtime. Default: ``"corretto21"``.
        """
        extra_args = require_sequence(
            "MigrationCommands.maven",
            "extra_args",
            extra_args,
            item=lambda w, p, v: require_str(w, p, v, allowed="expected a Maven argument such as '-Pci'"),
            allowed="expected a list of arguments",
        )
        require_str(
            "MigrationCommands.maven",
            "java",
            java,
            pattern=_RUNTIME_VERSION,
            allowed="expected a CodeBuild Java runtime version such as 'corretto21'",
        )
        directory = require_relative_path("MigrationCommands.maven", "directory", directory)
        cd = () if directory == "." else (f"cd {shell_quote(directory)}",)
        extra = "".join(f" {shell_quote(a)}" for a in extra_args)
        flags = f" -Dflyway.cleanDisabled=true{extra}"
        return cls(
            test=(*cd, f"mvn -B clean test{flags}"),
            migrate=(*cd, f"mvn -B clean process-resources{flags}"),
            reports_directory=posixpath.join(directory, "target/surefire-reports"),
            runtime_versions={"java": java},
        )


def migration_commands(commands: MigrationCommands, *, production: bool) -> list[str]:
    """What a build runs: the Flyway variables, then ``commands.migrate`` (production) or ``commands.test``."""
    return [_FLYWAY_EXPORT, *(commands.migrate if production else commands.test)]


def migration_build_spec(commands: MigrationCommands, reports: TestReports | None) -> codebuild.BuildSpec:
    """The partial build spec of a migration build: runtimes, ``on-failure: ABORT``, the report group."""
    phases: dict[str, Any] = {}
    if commands.runtime_versions:
        phases["install"] = {"runtime-versions": dict(commands.runtime_versions)}
    # The default, stated: the first failing command fails the build, the action and the pipeline.
    phases["build"] = {"on-failure": "ABORT"}
    spec: dict[str, Any] = {"phases": phases}
    if reports is not None:
        spec["reports"] = reports.build_spec_section()
    return codebuild.BuildSpec.from_object(spec)
