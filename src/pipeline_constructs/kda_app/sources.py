"""Inputs of the application pipeline: where the data engineers' code comes from, and how it is built."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_s3 as s3

from pipeline_constructs.core.validation import (
    invalid,
    require_arn,
    require_bool,
    require_commands,
    require_interface,
    require_mapping,
    require_one_of,
    require_sequence,
    require_str,
    wrong_type,
)

__all__ = ["ApplicationBuild", "ApplicationSource"]

_REPO = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
_CONNECTION_RESOURCE = re.compile(r"connection/[A-Za-z0-9-]{1,64}")
# Git branch names (ASCII): no space, control character, '~^:?*[\', no '..' or '@{', not '-...' or '.../'.
_BRANCH = re.compile(r"(?!-)(?!.*\.\.)(?!.*@\{)(?!.*//)[\x21-\x7e]{1,255}(?<![/.])")
_BRANCH_FORBIDDEN = set("~^:?*[\\")
# Relative paths and globs that are safe to interpolate into the buildspec's shell.
_PATH = re.compile(r"[A-Za-z0-9_.@+-]{1,255}(/[A-Za-z0-9_.@+-]{1,255}){0,31}")
_GLOB = re.compile(r"[A-Za-z0-9_.@+*?-]{1,255}(/[A-Za-z0-9_.@+*?-]{1,255}){0,31}")
_RUNTIME_NAME = re.compile(r"[a-z][a-z0-9.-]{0,30}")
_RUNTIME_VERSION = re.compile(r"[A-Za-z0-9.]{1,20}")
_MAVEN_ARGUMENT = re.compile(r"-{1,2}[A-Za-z0-9][A-Za-z0-9_.:=,@+/-]{0,200}")
JAVA_RUNTIMES = ("corretto11", "corretto17", "corretto21")
PYTHON_RUNTIMES = ("3.11", "3.12", "3.13")

ActionFactory = Callable[[codepipeline.Artifact], actions.Action]


class ApplicationSource:
    """The first action of the application pipeline: where the application's code comes from.

    Build one with :meth:`connection` (GitHub, GitLab, Bitbucket through CodeConnections),
    :meth:`code_commit` or :meth:`s3` (a zip, as in the blog post).
    """

    def __init__(self, description: str, factory: ActionFactory) -> None:
        self.description = description
        self._factory = factory

    def __repr__(self) -> str:
        return f"ApplicationSource({self.description})"

    def action(self, output: codepipeline.Artifact) -> actions.Action:
        """The source action writing to ``output``."""
        return self._factory(output)

    @classmethod
    def connection(
        cls, repo_string: str, branch: str = "main", *, connection_arn: str, trigger_on_push: bool = True
    ) -> ApplicationSource:
        """A repository reached through an AWS CodeConnections connection.

        :param repo_string: ``owner/repository``.
        :param branch: branch to build. Default: ``main``.
        :param connection_arn: ARN of the (already authorised) connection.
        :param trigger_on_push: start the pipeline on every push. Default: ``True``.
        """
        where = "ApplicationSource.connection"
        require_str(where, "repo_string", repo_string, pattern=_REPO, allowed="expected 'owner/repository'")
        _branch(where, branch)
        require_arn(
            where,
            "connection_arn",
            connection_arn,
            services=("codestar-connections", "codeconnections"),
            resource=_CONNECTION_RESOURCE,
            allowed="expected arn:aws:codeconnections:<region>:<account>:connection/<id> (or codestar-connections)",
        )
        require_bool(where, "trigger_on_push", trigger_on_push)
        owner, repo = repo_string.split("/")

        def factory(output: codepipeline.Artifact) -> actions.Action:
            return actions.CodeStarConnectionsSourceAction(
                action_name="Source",
                owner=owner,
                repo=repo,
                branch=branch,
                connection_arn=connection_arn,
                output=output,
                trigger_on_push=trigger_on_push,
            )

        return cls(f"{repo_string}@{branch}", factory)

    @classmethod
    def code_commit(cls, repository: codecommit.IRepository, branch: str = "main") -> ApplicationSource:
        """A CodeCommit repository (started by an EventBridge rule on every push)."""
        where = "ApplicationSource.code_commit"
        require_interface(where, "repository", repository, "repository_arn", "expected a codecommit.IRepository")
        _branch(where, branch)

        def factory(output: codepipeline.Artifact) -> actions.Action:
            return actions.CodeCommitSourceAction(
                action_name="Source", repository=repository, branch=branch, output=output
            )

        return cls(f"codecommit@{branch}", factory)

    @classmethod
    def s3(cls, bucket: s3.IBucket, object_key: str, *, trigger: actions.S3Trigger | None = None) -> ApplicationSource:
        """A zip of the source in a (versioned) bucket, as the blog post uploads it.

        :param trigger: how a new upload starts the pipeline. Default: CodePipeline's default for S3.
        """
        where = "ApplicationSource.s3"
        require_interface(where, "bucket", bucket, "bucket_arn", "expected an s3.IBucket")
        require_str(where, "object_key", object_key, allowed="expected the key of a zip file", max_length=1024)
        if object_key.endswith("/") or object_key.startswith("/"):
            raise invalid(
                where, "object_key", object_key, "expected the key of a zip file (no leading or trailing '/')"
            )
        if trigger is not None:
            require_one_of(where, "trigger", trigger, list(actions.S3Trigger))

        def factory(output: codepipeline.Artifact) -> actions.Action:
            return actions.S3SourceAction(
                action_name="Source", bucket=bucket, bucket_key=object_key, output=output, trigger=trigger
            )

        return cls(f"s3 {object_key}", factory)


def _branch(where: str, branch: str) -> None:
    allowed = "expected a git branch name (ASCII, no spaces or any of ~^:?*[\\, no '..')"
    require_str(where, "branch", branch, allowed=allowed)
    if not _BRANCH.fullmatch(branch) or _BRANCH_FORBIDDEN & set(branch) or branch.endswith(".lock"):
        raise invalid(where, "branch", branch, allowed)


@dataclass(frozen=True)
class ApplicationBuild:
    """How the application is built and tested; use :meth:`maven` or :meth:`python_zip`.

    :param kind: ``"maven"`` or ``"python"`` (documentation; the fields below decide what runs).
    :param project_directory: directory of the application, relative to the repository root.
    :param artifact: glob, relative to ``project_directory``, matching exactly one file: the release
        (files named ``original-*``, the shade plugin's unshaded JAR, are ignored).
    :param commands: build and test commands, run in ``project_directory``.
    :param install_commands: commands run before them. Default: none.
    :param runtime_versions: CodeBuild ``runtime-versions``.
    :param test_report_directory: where test results land, relative to ``project_directory``
        (``None``: no test report).
    :param test_report_files: globs of JUnit XML files in that directory.
    :param cache_paths: paths cached between builds (CodeBuild local cache).
    """

    kind: str
    artifact: str
    commands: tuple[str, ...]
    runtime_versions: Mapping[str, str]
    project_directory: str = "."
    install_commands: tuple[str, ...] = ()
    test_report_directory: str | None = None
    test_report_files: tuple[str, ...] = ("*.xml",)
    cache_paths: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("maven", "python"):
            raise invalid("ApplicationBuild", "kind", self.kind, "expected 'maven' or 'python'")
        where = f"ApplicationBuild({self.kind})"
        if not isinstance(self.project_directory, str):
            raise wrong_type(where, "project_directory", self.project_directory, "expected a relative path (str)")
        if not (
            self.project_directory == "."
            or (_PATH.fullmatch(self.project_directory) and ".." not in self.project_directory.split("/"))
        ):
            raise invalid(
                where,
                "project_directory",
                self.project_directory,
                "expected '.' or a relative path inside the repository (letters, digits, '_.@+-', no '..')",
            )
        artifact = require_str(
            where, "artifact", self.artifact, allowed="expected a relative path or glob such as 'target/*.jar'"
        )
        if not _GLOB.fullmatch(artifact) or ".." in artifact.split("/"):
            raise invalid(where, "artifact", artifact, "expected a relative path or glob such as 'target/*.jar'")
        if isinstance(self.commands, (tuple, list)) and not self.commands:
            raise invalid(where, "commands", self.commands, "expected at least one build command")
        object.__setattr__(self, "commands", require_commands(where, "commands", self.commands))
        object.__setattr__(
            self, "install_commands", require_commands(where, "install_commands", self.install_commands, min_length=0)
        )

        def report_glob(w: str, p: str, v: Any) -> str:
            return require_str(w, p, v, pattern=_GLOB, allowed="expected a relative glob such as 'TEST-*.xml'")

        def cache_path(w: str, p: str, v: Any) -> str:
            return require_str(w, p, v, allowed="expected a path or glob such as '/root/.m2/**/*'")

        for prop, check in (("test_report_files", report_glob), ("cache_paths", cache_path)):
            values = require_sequence(
                where, prop, getattr(self, prop), item=check, allowed="expected a list of paths or globs"
            )
            object.__setattr__(self, prop, values)
        if self.test_report_directory is not None:
            report_dir = require_str(
                where, "test_report_directory", self.test_report_directory, allowed="expected a relative path"
            )
            if not _PATH.fullmatch(report_dir) or ".." in report_dir.split("/"):
                raise invalid(where, "test_report_directory", report_dir, "expected a relative path")

        def name(w: str, p: str, v: Any) -> str:
            return require_str(
                w, p, v, pattern=_RUNTIME_NAME, allowed="expected a CodeBuild runtime name such as 'java'"
            )

        def version(w: str, p: str, v: Any) -> str:
            return require_str(
                w, p, v, pattern=_RUNTIME_VERSION, allowed="expected a runtime version such as 'corretto17'"
            )

        versions = require_mapping(
            where,
            "runtime_versions",
            self.runtime_versions,
            key=name,
            item=version,
            allowed="expected a mapping of str to str",
        )
        object.__setattr__(self, "runtime_versions", MappingProxyType(versions))

    @classmethod
    def maven(
        cls,
        *,
        project_directory: str = ".",
        artifact: str = "target/*.jar",
        arguments: Sequence[str] = (),
        java: str = "corretto17",
    ) -> ApplicationBuild:
        """``mvn -B package``: compiles, runs the unit tests (Surefire results become a JUnit report), packages.

        :param project_directory: the directory holding ``pom.xml``. Default: the repository root.
        :param artifact: the JAR to release (a shaded, "fat" JAR for Managed Flink). Default: ``target/*.jar``.
        :param arguments: extra Maven arguments, e.g. ``["-Pprod"]``. Default: none.
        :param java: CodeBuild Java runtime. Default: ``corretto17`` (Flink 2.x needs Java 17).
        """
        if java not in JAVA_RUNTIMES:
            raise invalid("ApplicationBuild.maven", "java", java, "expected one of " + ", ".join(JAVA_RUNTIMES))
        args = require_sequence(
            "ApplicationBuild.maven",
            "arguments",
            arguments,
            item=lambda w, p, v: require_str(
                w, p, v, pattern=_MAVEN_ARGUMENT, allowed="expected a Maven option such as '-Pprod' or '-Dkey=value'"
            ),
            allowed="expected a list of Maven arguments",
        )
        command = " ".join(["mvn -B package", *args])
        return cls(
            kind="maven",
            project_directory=project_directory,
            artifact=artifact,
            commands=(command,),
            runtime_versions={"java": java},
            test_report_directory="target/surefire-reports",
            test_report_files=("TEST-*.xml",),
            cache_paths=("/root/.m2/**/*",),
        )

    @classmethod
    def python_zip(
        cls,
        *,
        project_directory: str = ".",
        install_commands: Sequence[str] = ("python -m pip install -r requirements-dev.txt",),
        test_command: str | None = "python -m pytest --junitxml=build/test-reports/junit.xml",
        python: str = "3.13",
    ) -> ApplicationBuild:
        """A PyFlink application: run the tests, then zip ``project_directory`` as ``build/application.zip``.

        Name the entry point in the property group ``kinesis.analytics.flink.run.options``
        (``{"python": "main.py", "jarfile": "lib/connectors.jar"}``) through ``FlinkSettings.property_groups``.

        :param install_commands: installs the test dependencies. Default: ``requirements-dev.txt``.
        :param test_command: runs the tests, writing JUnit XML to ``build/test-reports`` (``None``: no tests).
        :param python: CodeBuild Python runtime. Default: ``3.13``.
        """
        where = "ApplicationBuild.python_zip"
        if python not in PYTHON_RUNTIMES:
            raise invalid(where, "python", python, "expected one of " + ", ".join(PYTHON_RUNTIMES))
        install_commands = require_commands(where, "install_commands", install_commands, min_length=0)
        if test_command is not None:
            require_str(where, "test_command", test_command, allowed="expected a shell command", single_line=False)
            if not test_command.strip():
                raise invalid(where, "test_command", test_command, "expected a shell command (None: no tests)")
        commands = [test_command] if test_command else []
        commands += [
            "mkdir -p build && rm -f build/application.zip",
            "zip -qr build/application.zip . -x 'build/*' '.git/*' 'tests/*' '*__pycache__*' '*.pyc'",
        ]
        return cls(
            kind="python",
            project_directory=project_directory,
            artifact="build/application.zip",
            commands=tuple(commands),
            install_commands=tuple(install_commands),
            runtime_versions={"python": python},
            test_report_directory="build/test-reports" if test_command else None,
            test_report_files=("*.xml",),
            cache_paths=("/root/.cache/pip/**/*",),
        )

    def report_base_directory(self) -> str | None:
        """Where the test results are, relative to the repository root."""
        if self.test_report_directory is None:
            return None
        return posixpath.normpath(posixpath.join(self.project_directory, self.test_report_directory))
