"""The hardened, fast CDK Pipelines factory every pipeline construct builds on."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import pipelines
from constructs import Construct

from pipeline_constructs.core.buckets import access_log_bucket, secure_bucket
from pipeline_constructs.core.compliance.reasons import reason
from pipeline_constructs.core.defaults import (
    CDK_ASSETS_VERSION,
    CDK_CLI_VERSION,
    exact_version,
    resolve_compute_type,
    resolve_default,
    resolve_log_retention,
)
from pipeline_constructs.core.encryption import encrypted_log_group, new_key
from pipeline_constructs.core.naming import default_pipeline_name
from pipeline_constructs.core.pipeline_internals import PIPELINE_TRUST_FLAGS, harden_pipeline_internals
from pipeline_constructs.core.targets import DeploymentTarget
from pipeline_constructs.core.validation import (
    CDK_CLI_VERSION_PATTERN,
    invalid,
    is_token,
    require_bool,
    require_enum,
    require_instance,
    require_interface,
    require_kwargs,
    require_pipeline_name,
    require_sequence,
    require_stack_env,
    require_str,
)

__all__ = [
    "DEFAULT_BUILD_IMAGE",
    "SecurePipeline",
    "cdk_cli_version",
    "check_pipeline_options",
    "default_synth_commands",
    "merge_build_environments",
    "merge_code_build_options",
    "pipeline_cli_version",
    "require_synth",
]

#: Days after which noncurrent artifact versions expire.
ARTIFACT_NONCURRENT_DAYS = 30


def cdk_cli_version(scope: Construct, explicit: str | None = None) -> str:
    """The exact CDK CLI version a pipeline installs: ``explicit`` > team default
    ``pipeline-constructs:cdkCliVersion`` > :data:`~pipeline_constructs.core.defaults.CDK_CLI_VERSION`.

    :raises ValueError: when ``explicit`` is not an exact version (``2.1148.1``, not ``2`` or ``latest``).
    """
    return _exact(scope, "cli_version", resolve_default(scope, "cdkCliVersion", explicit, CDK_CLI_VERSION))


def pipeline_cli_version(scope: Construct, pipeline_options: object) -> str:
    """:func:`cdk_cli_version` for a construct that takes ``pipeline_options``: its ``cli_version`` if any.

    ``pipeline_options`` is read only when it is a mapping; a malformed one is reported by
    :func:`check_pipeline_options`, which names the prop.
    """
    explicit = pipeline_options.get("cli_version") if isinstance(pipeline_options, Mapping) else None
    return cdk_cli_version(scope, explicit)


def default_synth_commands(cli_version: str) -> list[str]:
    """``pip install -r requirements.txt`` and ``cdk synth`` with the pinned CLI."""
    return ["pip install -r requirements.txt", f"npx -y aws-cdk@{cli_version} synth"]


def _exact(scope: Construct, prop: str, value: str) -> str:
    try:
        return exact_version(value)
    except ValueError as err:
        raise invalid(scope.node.path, prop, value, str(err)) from None


#: CodeBuild image for every action (aws/codebuild/amazonlinux2-x86_64-standard:5.0); override with
#: ``code_build_defaults=pipelines.CodeBuildOptions(build_environment=...)``.
DEFAULT_BUILD_IMAGE = codebuild.LinuxBuildImage.AMAZON_LINUX_2_5


class SecurePipeline(Construct):
    """A CDK Pipelines ``CodePipeline`` with the library's secure, fast defaults.

    What it sets up, and why:

    * pipeline type V2, self-mutation, change sets;
    * artifact bucket: SSE-KMS, SSL only, public access blocked, versioned,
      server access logs to a dedicated log bucket;
    * a customer-managed, rotating KMS key for artifacts whenever a target is
      in another account than the pipeline (``cross_account_keys``);
    * one asset-publishing action per asset type (``publish_assets_in_parallel=False``):
      fewer CodeBuild cold starts, a shorter pipeline;
    * every CLI the generated actions install is pinned (``aws-cdk``, ``cdk-assets``);
    * what CDK Pipelines generates is hardened after the build
      (:mod:`pipeline_constructs.core.pipeline_internals`), cross-region support stacks included;
    * every CodeBuild project logs to one KMS-encrypted log group with a retention;
    * Docker for the synth action only when ``docker_enabled_for_synth`` asks.

    :param synth: the synth step (a ``ShellStep``/``CodeBuildStep`` producing ``cdk.out``).
    :param pipeline_name: CodePipeline name (``[A-Za-z0-9.@_-]``, at most 100 characters).
        Default: ``<stack name>-<construct path>``, e.g. ``Delivery-Pipeline``.
    :param targets: the targets the pipeline will deploy to; only used to decide
        ``cross_account_keys``. Default: none.
    :param cross_account_keys: encrypt artifacts with a customer-managed KMS key
        that other accounts can be granted. Default: ``True`` when any target's
        account differs from the pipeline stack's account (or the stack's
        account is not concrete), else ``False`` (the ``aws/s3`` KMS key).
    :param self_mutation: let the pipeline update itself. Default: ``True``.
    :param docker_enabled_for_synth: run the synth action privileged, for Docker
        bundling. Default: ``False``.
    :param log_retention: retention of the CodeBuild log group. Default: team
        default ``pipeline-constructs:logRetentionDays`` from context, else one year.
    :param compute_type: CodeBuild compute for every action. Default: team
        default ``pipeline-constructs:computeType``, else ``SMALL``.
    :param code_build_defaults: extra defaults for every CodeBuild action,
        merged over the library's (yours win). Default: none.
    :param synth_code_build_defaults: extra defaults for the synth action. Default: none.
    :param cli_version: exact version of the CDK CLI the pipeline installs (self-mutation,
        permission checks). Default: team default ``pipeline-constructs:cdkCliVersion``,
        else :data:`~pipeline_constructs.core.defaults.CDK_CLI_VERSION`.
    :param cdk_assets_version: exact version of ``cdk-assets`` the asset-publishing
        actions install. Default: team default ``pipeline-constructs:cdkAssetsVersion``,
        else :data:`~pipeline_constructs.core.defaults.CDK_ASSETS_VERSION`.
    :param removal_policy: what happens to buckets, keys and logs on stack deletion.
        Default: ``RETAIN``.
    :param pipeline_props: any other ``pipelines.CodePipeline`` keyword argument,
        passed through unchanged (wins over everything above; unknown names are an error).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        synth: pipelines.IFileSetProducer,
        pipeline_name: str | None = None,
        targets: Sequence[DeploymentTarget] = (),
        cross_account_keys: bool | None = None,
        self_mutation: bool = True,
        docker_enabled_for_synth: bool = False,
        log_retention: logs.RetentionDays | None = None,
        compute_type: codebuild.ComputeType | None = None,
        code_build_defaults: pipelines.CodeBuildOptions | None = None,
        synth_code_build_defaults: pipelines.CodeBuildOptions | None = None,
        cli_version: str | None = None,
        cdk_assets_version: str | None = None,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        pipeline_props: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(scope, id)
        # Before any child exists: CDK Pipelines' generated roles then trust only their service or the
        # pipeline's role, never the account root, whatever the app's cdk.json says.
        for flag in PIPELINE_TRUST_FLAGS:
            self.node.set_context(flag, True)
        where = self.node.path
        stack = require_stack_env(where, self)
        require_synth(where, "synth", synth)
        require_pipeline_name(where, "pipeline_name", pipeline_name)
        checked_targets = require_sequence(
            where,
            "targets",
            targets,
            item=lambda w, p, t: require_instance(w, p, t, DeploymentTarget, "expected a DeploymentTarget"),
            allowed="expected a list of DeploymentTarget",
        )
        if cross_account_keys is not None:
            require_bool(where, "cross_account_keys", cross_account_keys)
        require_bool(where, "self_mutation", self_mutation)
        require_bool(where, "docker_enabled_for_synth", docker_enabled_for_synth)
        for prop, options in (
            ("code_build_defaults", code_build_defaults),
            ("synth_code_build_defaults", synth_code_build_defaults),
        ):
            if options is not None:
                require_instance(
                    where, prop, options, pipelines.CodeBuildOptions, "expected a pipelines.CodeBuildOptions"
                )
        if cli_version is not None:
            require_str(
                where,
                "cli_version",
                cli_version,
                pattern=CDK_CLI_VERSION_PATTERN,
                allowed="expected a CDK CLI version such as '2.1148.1'",
            )
        #: The exact CDK CLI version the pipeline installs.
        self.cli_version: str = cdk_cli_version(self, cli_version)
        #: The exact cdk-assets version the asset-publishing actions install.
        self.cdk_assets_version: str = _exact(
            self,
            "cdk_assets_version",
            resolve_default(self, "cdkAssetsVersion", cdk_assets_version, CDK_ASSETS_VERSION),
        )
        require_enum(where, "removal_policy", removal_policy, cdk.RemovalPolicy)
        extra = require_kwargs(where, "pipeline_props", pipeline_props or {}, _CODE_PIPELINE_KWARGS)
        if pipeline_name is None and "code_pipeline" not in extra:
            pipeline_name = default_pipeline_name(self)

        if cross_account_keys is None:
            cross_account_keys = is_token(stack.account) or any(t.account != stack.account for t in checked_targets)
        self.cross_account_keys: bool = cross_account_keys

        retention = resolve_log_retention(self, log_retention)
        compute = resolve_compute_type(self, compute_type)

        #: KMS key of the artifact bucket (``None`` without ``cross_account_keys``).
        self.artifact_key: kms.Key | None = (
            new_key(
                self,
                "ArtifactKey",
                description=f"Pipeline artifacts of {where}",
                removal_policy=removal_policy,
            )
            if cross_account_keys
            else None
        )
        #: Receives the server access logs of every bucket of this pipeline.
        self.access_log_bucket = access_log_bucket(self, "AccessLogs", removal_policy=removal_policy)
        #: The artifact bucket.
        self.artifact_bucket = secure_bucket(
            self,
            "Artifacts",
            encryption_key=self.artifact_key,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix="artifacts/",
            removal_policy=removal_policy,
            lifecycle_rules=[
                s3.LifecycleRule(noncurrent_version_expiration=cdk.Duration.days(ARTIFACT_NONCURRENT_DAYS))
            ],
            replication_reason=reason("artifact-store-not-replicated", days=str(ARTIFACT_NONCURRENT_DAYS)),
        )
        #: KMS key of the CodeBuild log group.
        self.logs_key = new_key(
            self,
            "LogsKey",
            description=f"CodeBuild logs of {where}",
            allow_cloudwatch_logs=True,
            removal_policy=removal_policy,
        )
        #: One log group for every CodeBuild action of this pipeline.
        self.log_group = encrypted_log_group(
            self, "BuildLogs", key=self.logs_key, retention=retention, removal_policy=removal_policy
        )

        library_defaults = pipelines.CodeBuildOptions(
            build_environment=codebuild.BuildEnvironment(build_image=DEFAULT_BUILD_IMAGE, compute_type=compute),
            logging=codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.log_group)),
        )
        props: dict[str, Any] = {
            "synth": synth,
            "pipeline_name": pipeline_name,
            "pipeline_type": codepipeline.PipelineType.V2,
            "self_mutation": self_mutation,
            "use_change_sets": True,
            "artifact_bucket": self.artifact_bucket,
            "cross_account_keys": cross_account_keys,
            "enable_key_rotation": cross_account_keys,
            "publish_assets_in_parallel": False,
            "docker_enabled_for_synth": docker_enabled_for_synth,
            "code_build_defaults": merge_code_build_options(library_defaults, code_build_defaults),
            "synth_code_build_defaults": synth_code_build_defaults,
            "cli_version": self.cli_version,
            "cdk_assets_cli_version": self.cdk_assets_version,
        }
        props.update(extra)
        #: The name of the pipeline (``None``: generated by CloudFormation).
        self.pipeline_name: str | None = props.get("pipeline_name")
        #: The CDK Pipelines pipeline (escape hatch): add waves, stages and steps to it.
        self.pipeline = pipelines.CodePipeline(self, "Pipeline", **props)
        harden_pipeline_internals(
            self.pipeline,
            log_group=self.log_group,
            logs_key=self.logs_key,
            customer_key=cross_account_keys,
            cli_version=self.cli_version,
            retention=retention,
            removal_policy=removal_policy,
        )

    @property
    def code_pipeline(self) -> codepipeline.Pipeline:
        """The built ``codepipeline.Pipeline`` (builds the pipeline: add no stages after this)."""
        self.build()
        return self.pipeline.pipeline

    def build(self) -> None:
        """Build the pipeline now (idempotent). CDK Pipelines otherwise builds it at synth."""
        try:
            self.pipeline.pipeline  # noqa: B018 - raises until built
        except RuntimeError:
            self.pipeline.build_pipeline()


_CODE_PIPELINE_KWARGS = frozenset(inspect.signature(pipelines.CodePipeline.__init__).parameters) - {
    "self",
    "scope",
    "id",
}
_SECURE_PIPELINE_OPTIONS = frozenset(inspect.signature(SecurePipeline.__init__).parameters) - {"self", "scope", "id"}


def require_synth(where: str, prop: str, value: Any) -> pipelines.IFileSetProducer:
    """Accept a synth step or source (a ``pipelines.IFileSetProducer``)."""
    return require_interface(  # type: ignore[no-any-return]
        where, prop, value, "primary_output", "expected a pipelines.IFileSetProducer such as a ShellStep"
    )


def check_pipeline_options(
    where: str, value: Any, *, reserved: Mapping[str, str] | None = None, prop: str = "pipeline_options"
) -> dict[str, Any]:
    """Check a construct's ``pipeline_options``: keyword arguments of :class:`SecurePipeline`.

    :param reserved: options the construct sets itself -> the prop to use instead (always
        ``synth``, ``pipeline_name`` and ``targets``).
    """
    blocked = {
        "synth": "use the synth prop",
        "pipeline_name": "use the pipeline_name prop",
        "targets": "use the targets prop",
        **(reserved or {}),
    }
    return require_kwargs(where, prop, value if value is not None else {}, _SECURE_PIPELINE_OPTIONS, reserved=blocked)


def merge_code_build_options(
    base: pipelines.CodeBuildOptions, override: pipelines.CodeBuildOptions | None
) -> pipelines.CodeBuildOptions:
    """Merge two ``CodeBuildOptions`` field by field, as CDK Pipelines merges its own defaults.

    Mirrors aws-cdk's ``mergeCodeBuildOptions``: ``build_environment`` is merged field
    by field (what ``override`` sets wins, ``environment_variables`` are merged by
    name); ``role_policy``, ``security_groups`` and ``file_system_locations`` are
    concatenated; every other field (``cache``, ``logging``, ``partial_build_spec``,
    ``subnet_selection``, ``timeout``, ``vpc``) comes from ``override`` when it sets it.
    A default of ``base`` that ``override`` does not set is never dropped.
    """
    if override is None:
        return base

    def pick(name: str) -> Any:
        value = getattr(override, name)
        return value if value is not None else getattr(base, name)

    def concat(name: str) -> list[Any] | None:
        items = [*(getattr(base, name) or ()), *(getattr(override, name) or ())]
        return items or None

    return pipelines.CodeBuildOptions(
        build_environment=merge_build_environments(base.build_environment, override.build_environment),
        role_policy=concat("role_policy"),
        security_groups=concat("security_groups"),
        file_system_locations=concat("file_system_locations"),
        cache=pick("cache"),
        logging=pick("logging"),
        partial_build_spec=pick("partial_build_spec"),
        subnet_selection=pick("subnet_selection"),
        timeout=pick("timeout"),
        vpc=pick("vpc"),
    )


_BUILD_ENVIRONMENT_FIELDS = (
    "build_image",
    "certificate",
    "compute_type",
    "docker_server",
    "fleet",
    "host_kernel",
    "privileged",
)


def merge_build_environments(
    base: codebuild.BuildEnvironment | None, override: codebuild.BuildEnvironment | None
) -> codebuild.BuildEnvironment | None:
    """Merge two ``BuildEnvironment`` objects field by field (aws-cdk's ``mergeBuildEnvironments``).

    What ``override`` sets wins; ``environment_variables`` are merged by name.
    """
    if base is None or override is None:
        return override if base is None else base
    fields: dict[str, Any] = {}
    for name in _BUILD_ENVIRONMENT_FIELDS:
        value = getattr(override, name)
        fields[name] = value if value is not None else getattr(base, name)
    variables = {**(base.environment_variables or {}), **(override.environment_variables or {})}
    return codebuild.BuildEnvironment(**fields, environment_variables=variables or None)
