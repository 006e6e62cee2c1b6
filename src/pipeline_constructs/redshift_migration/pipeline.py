"""RedshiftMigrationPipeline: Flyway migrations and JUnit tests against Amazon Redshift, production after approval.

The solution of the AWS DevOps post "CI/CD for Amazon Redshift stored
procedures and schema changes with Flyway" as one construct:

source -> synth -> self-mutation -> for each test target: Flyway migrations
then JUnit tests (``mvn -B clean test``) in a CodeBuild action inside the
VPC, Surefire results published to a report group -> for each production
target: permissions check and manual approval (``SecurityGatedStage``), then
migrations only (``mvn -B clean process-resources``, Flyway clean disabled).

What it fixes in the original sample: production is gated; every target has
its own build role that can read only that target's secret; credentials reach
the build only as Secrets Manager environment variables; each build's
security group allows egress only to its database port and HTTPS.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import pipelines
from constructs import Construct, IConstruct

from pipeline_constructs.core.compliance.reasons import reason
from pipeline_constructs.core.options import check_pipeline_options, pipeline_cli_version, require_synth
from pipeline_constructs.core.pipeline import SecurePipeline
from pipeline_constructs.core.private.defaults import CDK_CLI_VERSION
from pipeline_constructs.core.private.iam_idioms import acknowledge_cdk_idioms, rewrite_statements
from pipeline_constructs.core.private.naming import default_pipeline_name
from pipeline_constructs.core.reports import TestReportFormat, TestReports
from pipeline_constructs.core.validation import (
    invalid,
    is_token,
    require_approval_comment,
    require_bool,
    require_commands,
    require_duration,
    require_email,
    require_enum,
    require_instance,
    require_interface,
    require_mapping,
    require_pipeline_name,
    require_relative_path,
    require_sequence,
    require_stack_env,
    require_str,
    require_unique,
    wrong_type,
)
from pipeline_constructs.stages.security_gated import SecurityGatedStage

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

#: Redshift's default port (provisioned clusters and Serverless workgroups).
DEFAULT_REDSHIFT_PORT = 5439

#: Synth commands used when neither ``synth`` nor ``synth_commands`` is given (the CDK CLI at the
#: pipeline's pinned version: team default ``pipeline-constructs:cdkCliVersion``, else this one).
DEFAULT_SYNTH_COMMANDS: tuple[str, ...] = (
    f"npm install -g aws-cdk@{CDK_CLI_VERSION}",
    "pip install -r requirements.txt",
    "cdk synth",
)

#: Environment variable -> :class:`SecretFields` attribute. Each is a CodeBuild
#: ``SECRETS_MANAGER`` variable (``<secret>:<json key>``): CodeBuild resolves it
#: when the build starts and masks it in logs; the template holds only the reference.
SECRET_ENVIRONMENT_VARIABLES: Mapping[str, str] = {
    "REDSHIFT_HOST": "host",
    "REDSHIFT_PORT": "port",
    "REDSHIFT_DB_NAME": "db_name",
    "REDSHIFT_USER": "username",
    "REDSHIFT_PASSWORD": "password",
}

# Exported before the team's commands, so Flyway (Maven plugin or CLI) connects without
# any configuration in the project; a pom can also read ${env.REDSHIFT_*} directly.
_FLYWAY_EXPORT = (
    'export FLYWAY_URL="jdbc:redshift://${REDSHIFT_HOST}:${REDSHIFT_PORT}/${REDSHIFT_DB_NAME}" '
    'FLYWAY_USER="${REDSHIFT_USER}" FLYWAY_PASSWORD="${REDSHIFT_PASSWORD}"'
)

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,63}")
_JSON_KEY = re.compile(r"[A-Za-z0-9_.@-]{1,128}")  # no ':' (CodeBuild's separator) nor spaces
_RUNTIME = re.compile(r"[a-z][a-z0-9._-]{0,30}")
_RUNTIME_VERSION = re.compile(r"[A-Za-z0-9._-]{1,30}")
_GLOB = re.compile(r"[A-Za-z0-9_.@+*?-]{1,255}(/[A-Za-z0-9_.@+*?-]{1,255}){0,31}")
# CodeBuild: a build timeout of 5 minutes to 36 hours.
_MIN_BUILD_TIMEOUT = 5 * 60
_MAX_BUILD_TIMEOUT = 36 * 3600
# Idioms that turn a failing command into a passing one.
_MASKED_FAILURE = re.compile(r"\|\|\s*(true|:|exit\s+0)\b|;\s*(true|exit\s+0)\s*$|\bset\s+\+e\b")
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


@dataclass(frozen=True)
class SecretFields:
    """JSON keys of a target's Secrets Manager secret.

    The defaults are the keys of the original post's secrets; Redshift's own
    rotation functions name the database key ``dbname``.

    :param host: key of the cluster or workgroup endpoint host. Default: ``"host"``.
    :param port: key of the port. Default: ``"port"``.
    :param db_name: key of the database name. Default: ``"dbName"``.
    :param username: key of the user Flyway and the tests connect as. Default: ``"username"``.
    :param password: key of that user's password. Default: ``"password"``.
    """

    host: str = "host"
    port: str = "port"
    db_name: str = "dbName"
    username: str = "username"
    password: str = "password"

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            require_str(
                "SecretFields",
                f.name,
                getattr(self, f.name),
                pattern=_JSON_KEY,
                allowed="expected a JSON key of 1-128 characters from A-Z, a-z, 0-9, '_', '.', '@', '-' "
                "(':' separates CodeBuild's secret reference)",
            )
        keys = [getattr(self, f.name) for f in dataclasses.fields(self)]
        require_unique("SecretFields", "keys", keys)


@dataclass(frozen=True)
class DatabaseEndpoint:
    """What a target's build must reach: the database's security group, or its address range, and port.

    Prefer :meth:`from_security_group`; use :meth:`from_peer` when the
    database's security group is not in this app (e.g. the endpoint's subnet
    CIDR, or a prefix list).

    :param port: the database port. Default: ``5439``.
    :param security_group: the database's security group; the build's
        security group gets egress to it on ``port``. Default: none.
    :param peer: the address range of the endpoint (``ec2.Peer.ipv4(...)``,
        ``ec2.Peer.prefix_list(...)``). Default: none. Exactly one of
        ``security_group`` and ``peer`` is required.
    :param allow_ingress: also add an ingress rule for the build's security
        group to ``security_group`` (the post's "the cluster's security group
        also needs to allow access from the CodeBuild security group").
        Default: ``True``. Only with ``security_group``.
    """

    port: int = DEFAULT_REDSHIFT_PORT
    security_group: ec2.ISecurityGroup | None = None
    peer: ec2.IPeer | None = None
    allow_ingress: bool = True

    def __post_init__(self) -> None:
        where = "DatabaseEndpoint"
        if isinstance(self.port, bool) or not isinstance(self.port, int):
            raise wrong_type(where, "port", self.port, "expected a TCP port number from 1 to 65535, e.g. 5439")
        if not 1 <= self.port <= 65535:
            raise invalid(where, "port", self.port, "expected a TCP port number from 1 to 65535, e.g. 5439")
        if (self.security_group is None) == (self.peer is None):
            raise invalid(
                where,
                "security_group/peer",
                (self.security_group, self.peer),
                "expected exactly one: the database's security group, or its address range as an ec2.IPeer",
            )
        if self.security_group is not None:
            require_interface(
                where, "security_group", self.security_group, "security_group_id", "expected an ec2.ISecurityGroup"
            )
        if self.peer is not None:
            require_interface(
                where,
                "peer",
                self.peer,
                "to_egress_rule_config",
                "expected an ec2.IPeer such as ec2.Peer.ipv4('10.0.64.0/20')",
            )
        require_bool(where, "allow_ingress", self.allow_ingress)

    @classmethod
    def from_security_group(
        cls, security_group: ec2.ISecurityGroup, *, port: int = DEFAULT_REDSHIFT_PORT, allow_ingress: bool = True
    ) -> DatabaseEndpoint:
        """A database behind ``security_group`` listening on ``port``."""
        return cls(port=port, security_group=security_group, allow_ingress=allow_ingress)

    @classmethod
    def from_peer(cls, peer: ec2.IPeer, *, port: int = DEFAULT_REDSHIFT_PORT) -> DatabaseEndpoint:
        """A database reachable at ``peer`` (an address range or prefix list) on ``port``."""
        return cls(port=port, peer=peer)

    @property
    def tcp_port(self) -> ec2.Port:
        """The port as an ``ec2.Port``."""
        return ec2.Port.tcp(self.port)


def _commands(where: str, prop: str, value: Any, *, required: bool) -> tuple[str, ...]:
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
        object.__setattr__(self, "test", _commands(where, "test", self.test, required=True))
        object.__setattr__(self, "migrate", _commands(where, "migrate", self.migrate, required=True))
        object.__setattr__(self, "install", _commands(where, "install", self.install, required=False))
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
            d = self.reports_directory
            if not isinstance(d, str) or not d or d.startswith("/") or ".." in d.split("/"):
                raise invalid(where, "reports_directory", d, "expected a path relative to the source root")
            d = require_relative_path(where, "reports_directory", d)
            object.__setattr__(self, "reports_directory", posixpath.normpath(d))
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
        if not isinstance(directory, str) or not directory or directory.startswith("/") or ".." in directory.split("/"):
            raise invalid(
                "MigrationCommands.maven", "directory", directory, "expected a path relative to the source root"
            )
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
        cd = () if directory == "." else (f"cd {shlex.quote(directory)}",)
        extra = "".join(f" {shlex.quote(a)}" for a in extra_args)
        flags = f" -Dflyway.cleanDisabled=true{extra}"
        return cls(
            test=(*cd, f"mvn -B clean test{flags}"),
            migrate=(*cd, f"mvn -B clean process-resources{flags}"),
            reports_directory=posixpath.join(directory, "target/surefire-reports"),
            runtime_versions={"java": java},
        )


@dataclass(frozen=True)
class RedshiftTarget:
    """One database the pipeline migrates, in pipeline order.

    A test target (``production=False``) runs migrations and tests and
    publishes the test results; a production target runs migrations only,
    after a permissions check and a manual approval.

    :param name: stage name: a letter, then letters, digits or ``-`` (at most 64).
    :param secret: the Secrets Manager secret with the connection (host, port,
        database, user, password; keys in ``secret_fields``). Only this
        target's build role can read it. Import an existing one with
        ``Secret.from_secret_name_v2`` or ``Secret.from_secret_attributes``
        (pass ``encryption_key`` when it is encrypted with a customer-managed key).
    :param database: what the build must reach (security group or address range, and port).
    :param production: migrations only, behind approval. Default: ``False``.
    :param stage: a ``cdk.Stage`` the pipeline deploys for this target before
        migrating (e.g. the target's Redshift workgroup). Default: none; a
        test target then gets a wave of its own, a production target a wave
        behind a manual approval. A production target with a stage is deployed
        through :class:`SecurityGatedStage` (permissions check, then approval).
    :param secret_fields: the secret's JSON keys. Default: ``SecretFields()``.
    :param notification_emails: who is e-mailed when the production stage's
        permissions broaden. Default: none. Production targets with a stage only.
    :param approval_comment: text shown on the manual approval (at most 1000
        characters). Default: names the target. Production targets only.
    """

    name: str
    secret: secretsmanager.ISecret
    database: DatabaseEndpoint
    production: bool = False
    stage: cdk.Stage | None = None
    secret_fields: SecretFields = field(default_factory=SecretFields)
    notification_emails: tuple[str, ...] = ()
    approval_comment: str | None = None

    def __post_init__(self) -> None:
        require_str(
            "RedshiftTarget",
            "name",
            self.name,
            pattern=_NAME,
            allowed="expected a letter followed by letters, digits or '-' (at most 64 characters)",
        )
        where = f"RedshiftTarget({self.name!r})"
        require_interface(where, "secret", self.secret, "secret_arn", "expected an aws_secretsmanager.ISecret")
        if not hasattr(self.secret, "grant_read"):
            raise wrong_type(where, "secret", self.secret, "expected an aws_secretsmanager.ISecret")
        require_instance(where, "database", self.database, DatabaseEndpoint, "expected a DatabaseEndpoint")
        require_bool(where, "production", self.production)
        if self.stage is not None:
            require_instance(where, "stage", self.stage, cdk.Stage, "expected an aws_cdk.Stage or None")
        require_instance(where, "secret_fields", self.secret_fields, SecretFields, "expected a SecretFields")
        emails = require_sequence(
            where,
            "notification_emails",
            self.notification_emails,
            item=require_email,
            allowed="expected a tuple of addresses",
        )
        object.__setattr__(self, "notification_emails", emails)
        require_approval_comment(where, "approval_comment", self.approval_comment)
        if self.notification_emails and not (self.production and self.stage is not None):
            raise invalid(
                where,
                "notification_emails",
                self.notification_emails,
                "only a production target with a stage has a permissions check to notify about",
            )
        if self.approval_comment is not None and not self.production:
            raise invalid(where, "approval_comment", self.approval_comment, "only production targets are approved")


class RedshiftMigrationPipeline(Construct):
    """CI/CD for Redshift schema changes and stored procedures with Flyway (migrations) and JUnit (tests).

    Pipeline: Source -> Build (synth) -> UpdatePipeline -> one stage per
    target, in order. A test target's stage runs ``commands.test`` in
    CodeBuild inside ``vpc`` (after deploying ``target.stage``, if any) and
    publishes the JUnit XML results to its own report group; a production
    target's stage first asks for approval (``SecurityGatedStage``:
    permissions check, then manual approval, when it has a ``stage``; a
    manual approval otherwise), deploys ``target.stage`` and runs
    ``commands.migrate``. A failing command fails the action and stops the pipeline.

    Per target the construct creates a build role (reads only that target's
    secret), a security group (egress only to the database port and HTTPS),
    and, for test targets, a report group.

    :param source: where the code comes from (a ``pipelines.CodePipelineSource``):
        the CDK app and the migration project.
    :param vpc: the VPC the migration builds run in. It must be in the
        pipeline's account and region (CodeBuild runs the builds there).
    :param targets: the databases, in order. At least one test target must
        come before the first production target. Names and secrets unique.
    :param commands: the build commands. Default: ``MigrationCommands.maven()``.
    :param subnet_selection: subnets of the builds: private subnets with a
        route to HTTPS (NAT or VPC endpoints). Default: ``PRIVATE_WITH_EGRESS``.
    :param https_egress: where the builds may connect on port 443 (Maven
        repositories, Secrets Manager, S3, CloudWatch Logs, CodeBuild APIs).
        Default: ``ec2.Peer.any_ipv4()``; give a prefix list or proxy range to narrow it.
    :param synth: the synth step. Default: a ``ShellStep`` running ``synth_commands`` on ``source``.
    :param synth_commands: commands of the default synth step.
        Default: :data:`DEFAULT_SYNTH_COMMANDS`.
    :param pipeline_name: CodePipeline name. Default: ``<stack name>-<construct id>``.
    :param build_environment: CodeBuild environment of the migration builds
        (image, compute). Default: the pipeline's (Amazon Linux 2023 standard 5.0).
    :param timeout: timeout of each migration build (5 minutes to 36 hours). Default: CodeBuild's
        (60 minutes).
    :param removal_policy: what happens to the report groups, buckets, keys
        and logs on stack deletion. Default: ``RETAIN``.
    :param pipeline_options: more :class:`SecurePipeline` keyword
        arguments (``compute_type``, ``log_retention``, ``pipeline_props``...). Default: none.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        source: pipelines.IFileSetProducer,
        vpc: ec2.IVpc,
        targets: Sequence[RedshiftTarget],
        commands: MigrationCommands | None = None,
        subnet_selection: ec2.SubnetSelection | None = None,
        https_egress: ec2.IPeer | None = None,
        synth: pipelines.IFileSetProducer | None = None,
        synth_commands: Sequence[str] | None = None,
        pipeline_name: str | None = None,
        build_environment: codebuild.BuildEnvironment | None = None,
        timeout: cdk.Duration | None = None,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        pipeline_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(scope, id)
        where = self.node.path
        stack = require_stack_env(where, self)
        require_interface(
            where,
            "source",
            source,
            "primary_output",
            "expected a pipelines.IFileSetProducer such as a CodePipelineSource",
        )
        require_interface(
            where,
            "vpc",
            vpc,
            "select_subnets",
            "expected an ec2.IVpc (no lookups: create it or use Vpc.from_vpc_attributes)",
        )
        here, there = (stack.account, stack.region), (vpc.env.account, vpc.env.region)
        if not any(is_token(x) for x in (*here, *there)) and there != here:
            raise invalid(
                where,
                "vpc",
                "/".join(there),
                f"expected a VPC in the pipeline's account and region ({stack.account}/{stack.region}): "
                "CodeBuild runs the migration builds there",
            )
        self._validate_targets(targets)
        if commands is None:
            commands = MigrationCommands.maven()
        else:
            require_instance(
                where,
                "commands",
                commands,
                MigrationCommands,
                "expected a MigrationCommands (e.g. MigrationCommands.maven())",
            )
        if subnet_selection is None:
            subnet_selection = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        require_instance(
            where, "subnet_selection", subnet_selection, ec2.SubnetSelection, "expected an ec2.SubnetSelection"
        )
        try:
            subnets = _select_subnets(vpc, subnet_selection)
        except RuntimeError as err:  # jsii surfaces CDK's "no subnets" errors as RuntimeError
            raise invalid(
                where, "subnet_selection", subnet_selection, f"selects no subnets of the VPC ({err})"
            ) from None
        if subnets.has_public:
            raise invalid(
                where,
                "subnet_selection",
                subnet_selection,
                "expected private subnets: CodeBuild in a VPC gets no public IP, so public subnets have no internet",
            )
        if https_egress is not None:
            require_interface(where, "https_egress", https_egress, "to_egress_rule_config", "expected an ec2.IPeer")
        if synth is not None:
            require_synth(where, "synth", synth)
        require_pipeline_name(where, "pipeline_name", pipeline_name)
        require_enum(where, "removal_policy", removal_policy, cdk.RemovalPolicy)
        if synth is not None and synth_commands is not None:
            raise invalid(where, "synth_commands", synth_commands, "give synth or synth_commands, not both")
        if synth is None:
            synth_commands = _commands(
                where,
                "synth_commands",
                _default_synth_commands(pipeline_cli_version(self, pipeline_options))
                if synth_commands is None
                else synth_commands,
                required=True,
            )
            synth = pipelines.ShellStep("Synth", input=source, commands=list(synth_commands))
        if timeout is not None:
            require_duration(
                where,
                "timeout",
                timeout,
                minimum_seconds=_MIN_BUILD_TIMEOUT,
                maximum_seconds=_MAX_BUILD_TIMEOUT,
                whole="minutes",
            )
        if build_environment is not None:
            require_instance(
                where,
                "build_environment",
                build_environment,
                codebuild.BuildEnvironment,
                "expected a codebuild.BuildEnvironment",
            )
        if build_environment is not None and build_environment.environment_variables:
            raise invalid(
                where,
                "build_environment.environment_variables",
                sorted(build_environment.environment_variables),
                "connection variables come from each target's secret; set other variables in your commands",
            )

        self.source = source
        self.vpc = vpc
        self.targets: tuple[RedshiftTarget, ...] = tuple(targets)
        self.commands = commands
        self.subnet_selection = subnet_selection
        self._https_egress = https_egress or ec2.Peer.any_ipv4()
        self._build_environment = build_environment
        self._timeout = timeout
        self._removal_policy = removal_policy
        self._stack = stack

        props = check_pipeline_options(
            where, pipeline_options, reserved={"removal_policy": "use the removal_policy prop"}
        )
        # A customer-managed, rotating key for the artifacts (the source, with the migrations) and every
        # CodeBuild project, also for a single-account pipeline.
        props.setdefault("cross_account_keys", True)
        #: The hardened pipeline this construct builds on (escape hatch).
        self.secure_pipeline = SecurePipeline(
            self,
            "Pipeline",
            synth=synth,
            pipeline_name=pipeline_name or default_pipeline_name(self),
            removal_policy=removal_policy,
            **props,
        )
        #: The CDK Pipelines pipeline (escape hatch): add waves, stages and steps before synth.
        self.pipeline: pipelines.CodePipeline = self.secure_pipeline.pipeline

        #: Per target name: the migration step (``pipelines.CodeBuildStep``).
        self.migration_steps: dict[str, pipelines.CodeBuildStep] = {}
        #: Per target name: the build role (reads only that target's secret).
        self.build_roles: dict[str, iam.Role] = {}
        #: Per target name: the build's security group.
        self.security_groups: dict[str, ec2.SecurityGroup] = {}
        #: Per test-target name: its test report group.
        self.test_reports: dict[str, TestReports] = {}
        #: Per production-target name with a stage: its ``SecurityGatedStage``.
        self.gates: dict[str, SecurityGatedStage] = {}
        #: Per production-target name without a stage: its manual approval.
        self.approvals: dict[str, pipelines.ManualApprovalStep] = {}
        for target in self.targets:
            self._add_target(target)
        cdk.Aspects.of(self.pipeline).add(_AcknowledgeBuildPolicies(self))

    @property
    def code_pipeline(self) -> codepipeline.Pipeline:
        """The built ``codepipeline.Pipeline`` (builds the pipeline: add no stages after this)."""
        return self.secure_pipeline.code_pipeline

    # -- validation -------------------------------------------------------------------------------

    def _validate_targets(self, targets: Sequence[RedshiftTarget]) -> None:
        where = self.node.path
        if isinstance(targets, Sequence) and not isinstance(targets, str) and not targets:
            raise invalid(where, "targets", [], "expected a non-empty list of RedshiftTarget")
        require_sequence(
            where,
            "targets",
            targets,
            item=lambda w, p, t: require_instance(w, p, t, RedshiftTarget, "expected a RedshiftTarget"),
            allowed="expected a non-empty list of RedshiftTarget",
            min_length=1,
        )
        require_unique(where, "targets[].name", (t.name for t in targets))
        for target in targets:
            secret_account = cdk.Arn.split(target.secret.secret_arn, cdk.ArnFormat.COLON_RESOURCE_NAME).account
            # A target with a stage has the account of that stage; a stage-less target (a database the
            # builds reach through the VPC) may read a secret shared from another account by its ARN.
            target_account = target.stage.account if target.stage is not None else None
            if (
                secret_account
                and target_account
                and not is_token(secret_account)
                and not is_token(target_account)
                and secret_account != target_account
            ):
                raise invalid(
                    where,
                    f"targets[{target.name!r}].secret",
                    target.secret.secret_arn,
                    f"expected a secret in the account of the target's stage ({target_account}): the stage deploys "
                    "the database there, so a secret elsewhere names another database",
                )
        secrets: dict[str, str] = {}
        stages: dict[int, str] = {}
        for target in targets:
            arn = target.secret.secret_arn
            if arn in secrets:
                raise invalid(
                    where,
                    f"targets[{target.name!r}].secret",
                    target.secret.node.path,
                    f"each target needs its own secret; target {secrets[arn]!r} already uses it",
                )
            secrets[arn] = target.name
            if target.stage is not None:
                if id(target.stage) in stages:
                    raise invalid(
                        where,
                        f"targets[{target.name!r}].stage",
                        target.stage.node.path,
                        f"each target needs its own stage; target {stages[id(target.stage)]!r} already deploys it",
                    )
                stages[id(target.stage)] = target.name
        first_production = next((i for i, t in enumerate(targets) if t.production), None)
        if first_production is not None and not any(not t.production for t in targets[:first_production]):
            raise invalid(
                where,
                "targets",
                [t.name for t in targets],
                "expected a test target (production=False) before the first production target: "
                "migrations reach production only after they passed the tests",
            )

    # -- per target -------------------------------------------------------------------------------

    def _add_target(self, target: RedshiftTarget) -> None:
        scope = Construct(self, target.name)
        database = target.database

        security_group = ec2.SecurityGroup(
            scope,
            "BuildSecurityGroup",
            vpc=self.vpc,
            allow_all_outbound=False,
            description=f"Migration builds of {target.name}: the database on port {database.port} and HTTPS only",
        )
        security_group.add_egress_rule(
            self._https_egress,
            ec2.Port.tcp(443),
            "HTTPS: Maven repositories and the S3, Secrets Manager, CodeBuild and CloudWatch Logs APIs",
        )
        if database.security_group is not None:
            description = f"Redshift ({target.name}) on port {database.port}"
            if database.allow_ingress:
                security_group.connections.allow_to(database.security_group, database.tcp_port, description)
            else:
                security_group.add_egress_rule(database.security_group, database.tcp_port, description)
        else:
            assert database.peer is not None
            security_group.add_egress_rule(database.peer, database.tcp_port, f"Redshift ({target.name})")
        self.security_groups[target.name] = security_group

        role = iam.Role(
            scope,
            "BuildRole",
            assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
            description=f"Migration builds of {target.name}: reads only the {target.name} connection secret",
        )
        self.build_roles[target.name] = role
        self._grant_secret(role, target.secret)

        reports: TestReports | None = None
        if not target.production and self.commands.reports_directory is not None:
            reports = TestReports(
                scope,
                "TestReports",
                base_directory=self.commands.reports_directory,
                format=TestReportFormat.JUNIT_XML,
                files=self.commands.reports_files,
                removal_policy=self._removal_policy,
            )
            for statement in reports.policy_statements():
                role.add_to_principal_policy(statement)
            self.test_reports[target.name] = reports

        step = self._migration_step(target, role, security_group, reports)
        self.migration_steps[target.name] = step

        if not target.production:
            if target.stage is not None:
                self.pipeline.add_stage(target.stage, post=[step])
            else:
                self.pipeline.add_wave(target.name, post=[step])
            return
        comment = target.approval_comment or (
            f"Approve the Flyway migrations of {target.name}: they passed the tests of the test targets."
        )
        if target.stage is not None:
            self.gates[target.name] = SecurityGatedStage(
                scope,
                "Gate",
                pipeline=self.pipeline,
                stage=target.stage,
                notification_emails=target.notification_emails,
                manual_approval=True,
                approval_comment=comment,
                post=[step],
            )
        else:
            approval = pipelines.ManualApprovalStep(f"PromoteTo{target.name}", comment=comment)
            self.approvals[target.name] = approval
            step.add_step_dependency(approval)  # a wave without stages would run pre and post side by side
            self.pipeline.add_wave(target.name, pre=[approval], post=[step])

    def _secret_reference(self, secret: secretsmanager.ISecret) -> _SecretReference:
        stack = self._stack
        full = secret.secret_full_arn
        arn = full or secret.secret_arn
        parts = cdk.Arn.split(arn, cdk.ArnFormat.COLON_RESOURCE_NAME)
        account = parts.account or stack.account
        region = parts.region or stack.region
        if full:
            return _SecretReference(full, full, exact=True, account=account, region=region)
        # CodeBuild resolves a bare name in the build's own account and region; elsewhere it needs the ARN.
        same_env = account == stack.account and region == stack.region
        return _SecretReference(
            secret.secret_name if same_env else arn, f"{arn}-??????", exact=False, account=account, region=region
        )

    def _grant_secret(self, role: iam.Role, secret: secretsmanager.ISecret) -> None:
        secret.grant_read(role)
        if secret.encryption_key is not None:
            return  # grant_read granted kms:Decrypt on that key, via Secrets Manager only
        # Key unknown here (an imported secret): decrypt only through Secrets Manager, only this
        # secret's data (the encryption context names the secret), with keys of the secret's account.
        ref = self._secret_reference(secret)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid=_DECRYPT_SID,
                actions=["kms:Decrypt"],
                resources=[
                    self._stack.format_arn(
                        service="kms", resource="key", resource_name="*", account=ref.account, region=ref.region
                    )
                ],
                conditions={
                    "StringEquals": {"kms:ViaService": f"secretsmanager.{ref.region}.amazonaws.com"},
                    "StringEquals" if ref.exact else "StringLike": {"kms:EncryptionContext:SecretARN": ref.iam_arn},
                },
            )
        )

    def _migration_step(
        self,
        target: RedshiftTarget,
        role: iam.Role,
        security_group: ec2.SecurityGroup,
        reports: TestReports | None,
    ) -> pipelines.CodeBuildStep:
        secret_id = self._secret_reference(target.secret).build_value
        fields = target.secret_fields
        variables = {
            name: codebuild.BuildEnvironmentVariable(
                type=codebuild.BuildEnvironmentVariableType.SECRETS_MANAGER,
                value=f"{secret_id}:{getattr(fields, attribute)}",
            )
            for name, attribute in SECRET_ENVIRONMENT_VARIABLES.items()
        }
        base = self._build_environment
        environment = codebuild.BuildEnvironment(
            build_image=base.build_image if base else None,
            compute_type=base.compute_type if base else None,
            certificate=base.certificate if base else None,
            fleet=base.fleet if base else None,
            privileged=base.privileged if base else None,
            environment_variables=variables,
        )
        spec: dict[str, Any] = {
            "phases": {
                "install": {"runtime-versions": dict(self.commands.runtime_versions)}
                if self.commands.runtime_versions
                else {},
                # The default, stated: the first failing command fails the build, the action and the pipeline.
                "build": {"on-failure": "ABORT"},
            }
        }
        if not spec["phases"]["install"]:
            del spec["phases"]["install"]
        if reports is not None:
            spec["reports"] = reports.build_spec_section()
        test = not target.production
        env = {"MIGRATION_TARGET": target.name}
        if not test:
            env["FLYWAY_CLEAN_DISABLED"] = "true"
        return pipelines.CodeBuildStep(
            "MigrateAndTest" if test else "Migrate",
            input=self.source,
            install_commands=list(self.commands.install) or None,
            commands=[_FLYWAY_EXPORT, *(self.commands.test if test else self.commands.migrate)],
            env=env,
            build_environment=environment,
            partial_build_spec=codebuild.BuildSpec.from_object(spec),
            role=role,
            vpc=self.vpc,
            subnet_selection=self.subnet_selection,
            security_groups=[security_group],
            timeout=self._timeout,
        )


@dataclass(frozen=True)
class _SecretReference:
    """How a build names a target's secret, and how IAM matches it."""

    build_value: str  # CodeBuild's <secret-id>: the name in the build's environment, else the ARN
    iam_arn: str  # the full ARN, or the partial ARN with Secrets Manager's 6-character suffix pattern
    exact: bool  # iam_arn is the full ARN
    account: str
    region: str


def _select_subnets(vpc: ec2.IVpc, selection: ec2.SubnetSelection) -> ec2.SelectedSubnets:
    """``vpc.select_subnets`` with a ``SubnetSelection`` struct (jsii takes its fields as keywords)."""
    fields = ("availability_zones", "one_per_az", "subnet_filters", "subnet_group_name", "subnet_type", "subnets")
    return vpc.select_subnets(**{f: getattr(selection, f) for f in fields})


@jsii.implements(cdk.IAspect)
class _AcknowledgeBuildPolicies:
    """After CDK Pipelines built the pipeline: acknowledge the CDK idioms in the migration builds' policies.

    * each build role's ``DefaultPolicy``: CDK's grant idioms (artifact bucket,
      log group, report groups; judged by core's ``acknowledge_cdk_idioms``),
      CodeBuild's subnet-conditioned ENI permission and the scoped
      ``kms:Decrypt`` for an imported secret;
    * each build project's ``PolicyDocument``: CodeBuild's VPC policy, narrowed
      (ENI actions on this account's interfaces and the build's subnets).

    Anything else stays a finding.
    """

    def __init__(self, owner: RedshiftMigrationPipeline) -> None:
        self._owner = owner
        self._done = False

    def visit(self, node: IConstruct) -> None:
        if self._done or node is not self._owner.pipeline:
            return
        self._done = True
        for role in self._owner.build_roles.values():
            policy = role.node.try_find_child("DefaultPolicy")
            if policy is not None:
                cfn = policy.node.default_child
                if isinstance(cfn, iam.CfnPolicy):
                    _acknowledge_role_policy(cfn)
        for step in self._owner.migration_steps.values():
            vpc_policy = step.project.node.try_find_child("PolicyDocument")
            project = step.project.node.default_child
            if (
                vpc_policy is not None
                and isinstance(vpc_policy.node.default_child, iam.CfnPolicy)
                and isinstance(project, codebuild.CfnProject)
            ):
                _narrow_vpc_policy(vpc_policy.node.default_child, project)


_DECRYPT_SID = "DecryptOnlyThisSecretThroughSecretsManager"
_ENI_ACTIONS = {"ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"}


def _default_synth_commands(cli_version: str) -> list[str]:
    return [c.replace(f"aws-cdk@{CDK_CLI_VERSION}", f"aws-cdk@{cli_version}") for c in DEFAULT_SYNTH_COMMANDS]


def _acknowledge_role_policy(policy: iam.CfnPolicy) -> None:
    """CDK's grant idioms (core), plus this construct's condition-scoped statements."""
    acknowledge_cdk_idioms(policy, extra=_statement_reason)


def _statement_reason(finding: str, statements: list[dict[str, Any]]) -> str | None:
    """Why a wildcard of this construct's own conditioned statements is least privilege, or ``None``."""
    if statements and all(s.get("Sid") == _DECRYPT_SID for s in statements):
        return reason(
            "kms-decrypt-via-service",
            service="Secrets Manager",
            what="this target's secret",
            context="kms:EncryptionContext:SecretARN",
        )
    permission = [s for s in statements if s.get("Action") == "ec2:CreateNetworkInterfacePermission"]
    if permission and len(permission) == len(statements):
        equals = (permission[0].get("Condition") or {}).get("StringEquals") or {}
        if "ec2:Subnet" in equals and equals.get("ec2:AuthorizedService") == "codebuild.amazonaws.com":
            return reason("codebuild-eni-permission")
    return None


def _eni_reason(finding: str, statements: list[dict[str, Any]]) -> str | None:
    actions = {a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    if finding.endswith(":network-interface/*") and actions <= _ENI_ACTIONS:
        return reason("codebuild-build-enis")
    return None


def _narrow_vpc_policy(policy: iam.CfnPolicy, project: codebuild.CfnProject) -> None:
    """CodeBuild's VPC policy without ``*`` for the two ENI actions that support resource-level permissions.

    CDK grants ``ec2:CreateNetworkInterface`` and ``ec2:DeleteNetworkInterface`` on ``*`` with the Describe
    calls. Per the Service Authorization Reference (list_amazonec2.html), CreateNetworkInterface is
    authorised on the new network interface, the subnet and the security groups, DeleteNetworkInterface on
    the interface; CodeBuild creates the build's interface in the project's subnets with the project's
    security groups. So they get this account's network interfaces plus the project's subnets and security
    groups; the Describe calls (no resource-level permissions) keep ``*``.
    """
    stack = cdk.Stack.of(policy)
    vpc = stack.resolve(project.vpc_config) or {}
    interfaces = stack.format_arn(service="ec2", resource="network-interface", resource_name="*")

    def arns(kind: str, ids: Any) -> list[str]:
        return [stack.format_arn(service="ec2", resource=kind, resource_name=cdk.Token.as_string(i)) for i in ids or []]

    subnets = arns("subnet", vpc.get("subnets"))
    groups = arns("security-group", vpc.get("securityGroupIds"))

    def split(statement: dict[str, Any]) -> list[dict[str, Any]]:
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        if statement.get("Resource") != "*" or not _ENI_ACTIONS & set(actions):
            return [statement]
        rest = [a for a in actions if a not in _ENI_ACTIONS]
        out = [{**statement, "Action": rest}] if rest else []
        out.append(
            {"Effect": "Allow", "Action": "ec2:CreateNetworkInterface", "Resource": [interfaces, *subnets, *groups]}
        )
        out.append({"Effect": "Allow", "Action": "ec2:DeleteNetworkInterface", "Resource": interfaces})
        return out

    rewrite_statements(policy, split)
    acknowledge_cdk_idioms(policy, extra=_eni_reason)
