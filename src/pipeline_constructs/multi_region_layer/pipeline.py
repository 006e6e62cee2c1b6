"""MultiRegionLayerPipeline: build a Lambda layer once, publish it to many regions in parallel.

The solution of the AWS blog post "Building a pipeline to distribute Lambda
layers across Regions", as one construct, without the sample's flaws (see
``docs/multi_region_layer.md``).
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import pipelines
from aws_cdk.region_info import RegionInfo
from constructs import Construct

from pipeline_constructs.core.compliance import acknowledge, acknowledge_all, in_packs
from pipeline_constructs.core.compliance.reasons import describe_star_statements, reason
from pipeline_constructs.core.options import check_pipeline_options, require_synth
from pipeline_constructs.core.pipeline import SecurePipeline
from pipeline_constructs.core.pipeline_jobs import (
    JobFailures,
    acknowledge_claims,
    claim_statements,
    claims_prefix,
    expire_claims,
    job_failures,
    job_function_asset_excludes,
    job_function_timeout,
    policy_environment,
)
from pipeline_constructs.core.private.buckets import access_log_bucket, secure_bucket
from pipeline_constructs.core.private.defaults import resolve_default
from pipeline_constructs.core.private.encryption import encrypted_log_group, new_key
from pipeline_constructs.core.private.iam_idioms import acknowledge_function_outside_vpc
from pipeline_constructs.core.private.naming import default_pipeline_name
from pipeline_constructs.core.validation import (
    invalid,
    is_token,
    require_account,
    require_bool,
    require_commands,
    require_concrete_env,
    require_enum,
    require_instance,
    require_lambda_timeout,
    require_organization_id,
    require_pipeline_name,
    require_region,
    require_relative_path,
    require_sequence,
    require_ssm_parameter_name,
    require_stack_env,
    require_str,
    wrong_type,
)
from pipeline_constructs.steps.lambda_invoke import LambdaInvokeStep, pipeline_role_principal

__all__ = [
    "DEFAULT_CDK_CLI_VERSION",
    "MAX_REGIONS",
    "LayerSharing",
    "MultiRegionLayerPipeline",
    "default_build_commands",
]

#: CDK CLI the default synth step installs (pinned: never ``latest``).
DEFAULT_CDK_CLI_VERSION = "2.1148.1"
#: CodePipeline allows 50 actions per stage; the layer stage holds the build and one action per region.
MAX_REGIONS = 49
#: Lambda's limit for a layer's unzipped size (bytes); the build fails early above it.
MAX_LAYER_UNZIPPED_BYTES = 250 * 1024 * 1024
#: PublishLayerVersion accepts at most this many compatible runtimes.
MAX_RUNTIMES = 15

_LAYER_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_RUNTIME_DIR = Path(__file__).resolve().parent.parent / "runtime"
_HANDLER_FILE = "layer_distributor.py"
#: Where the distributor's job claims go in the pipeline's artifact bucket.
_CLAIMS_PREFIX = claims_prefix("layer-distributor")
#: The shortest distributor timeout: a dozen AWS calls at their worst case (claim, download, list and read
#: versions, staging upload, publish, policy, grants, SSM, claim record) plus the 120 s the handler keeps
#: for upload + publish + grants before it hands over to a fresh invocation.
MIN_DISTRIBUTOR_TIMEOUT = job_function_timeout(12, extra_seconds=120)
_STAGING_PREFIX = "layer-staging"
_STAGING_EXPIRATION_DAYS = 7


@dataclass(frozen=True)
class LayerSharing:
    """Who, besides the pipeline's own account, may use the published layer versions.

    Lambda layers are private by default; each published version gets a
    ``lambda:GetLayerVersion`` grant for exactly these principals (and loses
    grants for principals removed from here, on the next run).

    :param accounts: AWS account ids to share with. Default: none.
    :param organization_id: an AWS Organizations id (``o-...``): every account
        of the organization may use the layer. Default: none.
    :param public: share with every AWS account. An explicit opt-in, and not
        combinable with ``accounts`` or ``organization_id``. Default: ``False``.
    """

    accounts: tuple[str, ...] = ()
    organization_id: str | None = None
    public: bool = False

    def __post_init__(self) -> None:
        where = "LayerSharing"
        accounts = require_sequence(
            where,
            "accounts",
            self.accounts,
            item=require_account,
            allowed="expected a list of 12-digit AWS account ids",
        )
        if any(is_token(a) for a in accounts):
            raise invalid(where, "accounts", accounts, "expected literal account ids, not tokens")
        if len(set(accounts)) != len(accounts):
            duplicate = next(a for a in accounts if accounts.count(a) > 1)
            raise invalid(where, "accounts", duplicate, "each account may be listed once")
        object.__setattr__(self, "accounts", accounts)
        if self.organization_id is not None:
            require_organization_id(where, "organization_id", self.organization_id)
        require_bool(where, "public", self.public)
        if self.public and (accounts or self.organization_id):
            raise invalid(
                where,
                "public",
                self.public,
                "public sharing already includes every account; give either public=True alone, "
                "or accounts / organization_id",
            )

    @property
    def is_private(self) -> bool:
        """Whether only the pipeline's own account can use the layer."""
        return not (self.accounts or self.organization_id or self.public)

    def to_json(self) -> dict[str, Any]:
        """The form the distributor function reads."""
        return {"accounts": list(self.accounts), "organizationId": self.organization_id, "public": self.public}


def default_build_commands(
    runtimes: Sequence[lambda_.Runtime],
    architectures: Sequence[lambda_.Architecture],
    *,
    layer_directory: str = ".",
    output_directory: str = "layer-build",
    where: str = "default_build_commands",
) -> list[str]:
    """Commands that build a layer from lock files into ``output_directory``.

    * Node.js runtimes: ``npm ci --omit=dev`` from ``package.json`` and
      ``package-lock.json`` (the lock file is required) into ``nodejs/``.
    * Python runtimes: ``pip install --require-hashes --only-binary=:all:``
      from ``requirements.txt`` (fully pinned, with hashes: e.g.
      ``pip-compile --generate-hashes``) into
      ``python/lib/python3.X/site-packages`` for each runtime, for the one
      target architecture's manylinux wheels.

    Both end with a check that the layer fits Lambda's 250 MB unzipped limit.

    :raises ValueError: when runtimes mix families, are neither Node.js nor
        Python, or a Python layer targets two architectures (wheels are per
        architecture): pass your own ``build_commands`` then. ``where`` names
        the caller in the message.
    """
    families = {r.family for r in runtimes}
    src = shlex.quote(layer_directory.rstrip("/") or ".")
    out = shlex.quote(output_directory)
    if families == {lambda_.RuntimeFamily.NODEJS}:
        commands = [
            f'test -f {src}/package-lock.json || {{ echo "{layer_directory}/package-lock.json is required: '
            'the layer is built with npm ci from the lock file"; exit 1; }',
            f"mkdir -p {out}/nodejs",
            f"cp {src}/package.json {src}/package-lock.json {out}/nodejs/",
            f"npm ci --omit=dev --no-audit --no-fund --prefix {out}/nodejs",
        ]
    elif families == {lambda_.RuntimeFamily.PYTHON}:
        if len(architectures) != 1:
            raise invalid(
                where,
                "compatible_architectures",
                [a.name for a in architectures],
                "the default Python build installs one architecture's wheels; give one architecture, "
                "or your own build_commands",
            )
        platform = "manylinux2014_aarch64" if architectures[0].name == "arm64" else "manylinux2014_x86_64"
        commands = [
            f'test -f {src}/requirements.txt || {{ echo "{layer_directory}/requirements.txt is required"; exit 1; }}',
        ]
        for version in sorted({r.name.removeprefix("python") for r in runtimes}):
            target = shlex.quote(f"{output_directory}/python/lib/python{version}/site-packages")
            commands.append(
                "python3 -m pip install --no-cache-dir --disable-pip-version-check --require-hashes "
                f"--only-binary=:all: --platform {platform} --implementation cp --python-version {version} "
                f"--target {target} -r {src}/requirements.txt"
            )
    else:
        raise invalid(
            where,
            "compatible_runtimes",
            sorted(r.name for r in runtimes),
            "default build commands exist for Node.js-only or Python-only layers; "
            "give build_commands for anything else",
        )
    commands.append(
        f'size=$(du -sb {out} | cut -f1); echo "layer size (unzipped): $size bytes"; '
        f'test "$size" -le {MAX_LAYER_UNZIPPED_BYTES} || {{ echo "the layer exceeds Lambda\'s 250 MB unzipped limit"; '
        "exit 1; }"
    )
    return commands


class MultiRegionLayerPipeline(Construct):
    """A self-mutating pipeline that builds a Lambda layer once and publishes it to many regions in parallel.

    Stages: ``Source`` -> ``Build`` (CDK synth) -> ``UpdatePipeline`` ->
    ``Layer``: the layer's CodeBuild action, then one Lambda-invoke action per
    region, all in parallel (adding a region adds an action, never a stage).

    Each region action invokes the distributor function (in the pipeline's
    region) with ``{"region", "stagingBucket"}``. The function downloads the
    built layer with the job's artifact credentials, skips publishing when the
    latest version already has the same content (``CodeSha256``) and settings,
    otherwise copies it to that region's staging bucket and publishes the
    version from S3 (no 50 MB direct-upload cap), grants
    ``lambda:GetLayerVersion`` to exactly ``sharing``, writes the version ARN
    to the SSM parameter ``parameter_name`` in that region, and reports to
    CodePipeline on every path.

    Per target region the construct adds a small stack to the app
    (``<PipelineStack>-<id>-<region>``): a private, versioned, SSE-KMS,
    SSL-only staging bucket with server access logs. The pipeline stack
    depends on them, so ``cdk deploy`` of the pipeline stack (and the pipeline's
    self-mutation) deploys them too. When the pipeline stack uses the default
    synthesizer they deploy with the pipeline region's CDK bootstrap roles,
    so target regions need no bootstrap.

    :param source: the repository holding the layer's sources (e.g.
        ``pipelines.CodePipelineSource.connection(...)``). Also the synth input
        unless ``synth`` is given.
    :param layer_name: the layer's name in every region (1-64 of ``A-Za-z0-9_-``).
    :param compatible_runtimes: runtimes the layer supports (1-15); they also
        select the default build commands (Node.js or Python).
    :param regions: target regions (1-49, same partition as the pipeline);
        duplicates are dropped, order is kept.
    :param compatible_architectures: instruction set architectures. Default:
        ``[Architecture.X86_64]``.
    :param layer_directory: directory of the layer's ``package.json`` +
        ``package-lock.json`` or ``requirements.txt``, relative to the source
        root. Default: ``"."``.
    :param build_commands: commands that put the layer's content into
        ``output_directory`` (``nodejs/``, ``python/``...). Default:
        :func:`default_build_commands` (lock-file installs, never ``latest``).
    :param output_directory: where ``build_commands`` put the layer content,
        relative to the source root; CodePipeline zips it as the artifact.
        Default: ``"layer-build"``.
    :param build_environment: CodeBuild environment of the layer build.
        Default: the pipeline's image, on ARM when ``arm64`` is the only
        architecture (native modules are built for the build host).
    :param sharing: who else may use the layer. Default: private (no grant).
    :param license_info: the layer's license (SPDX id, URL or text, at most
        512 characters). Default: none.
    :param description: description of each version (at most 256 characters).
        Default: none.
    :param parameter_name: SSM parameter (in every region) that receives the
        latest version ARN. Default: ``/lambda-layers/<layer_name>/latest-version-arn``.
    :param synth: the CDK synth step of the pipeline. Default: a ``ShellStep``
        on ``source`` that installs ``requirements.txt`` and runs the pinned
        CDK CLI (``DEFAULT_CDK_CLI_VERSION``).
    :param pipeline_name: CodePipeline name. Default: generated.
    :param distributor_timeout: timeout of the distributor function (at least
        ``MIN_DISTRIBUTOR_TIMEOUT``, the worst case of its retries, and at most
        15 minutes). Default: 15 minutes.
    :param log_retention: retention of the distributor's log group. Default:
        team default ``pipeline-constructs:logRetentionDays``, else one year.
    :param removal_policy: what happens to buckets, keys and logs on stack
        deletion. Default: ``RETAIN``.
    :param pipeline_options: extra keyword arguments for
        :class:`~pipeline_constructs.core.pipeline.SecurePipeline` (e.g.
        ``compute_type``, ``code_build_defaults``, ``pipeline_props``). Default: none.

    Attributes: ``secure_pipeline``, ``pipeline`` (``pipelines.CodePipeline``),
    ``wave`` (the ``Layer`` wave: add steps to it), ``build_step``,
    ``publish_steps`` (region -> :class:`LambdaInvokeStep`), ``distributor``
    (the function), ``regional_stacks`` and ``staging_buckets`` (region ->
    stack / bucket name), ``regions``, ``parameter_name``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        source: pipelines.IFileSetProducer,
        layer_name: str,
        compatible_runtimes: Sequence[lambda_.Runtime],
        regions: Sequence[str],
        compatible_architectures: Sequence[lambda_.Architecture] | None = None,
        layer_directory: str = ".",
        build_commands: Sequence[str] | None = None,
        output_directory: str = "layer-build",
        build_environment: codebuild.BuildEnvironment | None = None,
        sharing: LayerSharing | None = None,
        license_info: str | None = None,
        description: str | None = None,
        parameter_name: str | None = None,
        synth: pipelines.IFileSetProducer | None = None,
        pipeline_name: str | None = None,
        distributor_timeout: cdk.Duration | None = None,
        log_retention: logs.RetentionDays | None = None,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        pipeline_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(scope, id)
        where = self.node.path
        stack = cdk.Stack.of(self)

        # ---- validation (nothing reaches CloudFormation unchecked)
        require_synth(where, "source", source)
        require_str(
            where,
            "layer_name",
            layer_name,
            pattern=_LAYER_NAME,
            allowed="expected 1-64 characters from A-Z, a-z, 0-9, '_', '-'",
        )
        require_stack_env(where, self)
        require_concrete_env(where, stack, "the construct creates regional stacks in the same account")
        require_account(where, "scope.account", stack.account)
        runtimes = self._validate_runtimes(where, compatible_runtimes)
        architectures = self._validate_architectures(where, compatible_architectures)
        self.regions: tuple[str, ...] = self._validate_regions(where, regions, stack.region)
        sharing = sharing if sharing is not None else LayerSharing()
        require_instance(where, "sharing", sharing, LayerSharing, "expected a LayerSharing")
        if license_info is not None:
            require_str(
                where,
                "license_info",
                license_info,
                allowed="expected 1-512 characters (SPDX id, URL or text)",
                max_length=512,
                single_line=False,
            )
        if description is not None:
            require_str(where, "description", description, allowed="expected 1-256 characters", max_length=256)
        partition = RegionInfo.get(stack.region).partition or "aws"
        arn_prefixes = [f"arn:{partition}:ssm:{r}:{stack.account}:parameter" for r in self.regions]
        if parameter_name is None:
            default = f"/lambda-layers/{layer_name}/latest-version-arn"
            try:
                require_ssm_parameter_name(where, "parameter_name", default, arn_prefixes=arn_prefixes)
            except ValueError:
                raise invalid(
                    where, "layer_name", layer_name, f"the default parameter_name {default!r} is not a valid SSM name"
                ) from None
            parameter_name = default
        #: The SSM parameter (in every region) holding the latest version ARN.
        self.parameter_name: str = require_ssm_parameter_name(
            where, "parameter_name", parameter_name, arn_prefixes=arn_prefixes
        )
        layer_directory = require_relative_path(where, "layer_directory", layer_directory)
        output_directory = require_relative_path(where, "output_directory", output_directory, allow_root=False)
        if build_commands is not None:
            if isinstance(build_commands, Sequence) and not isinstance(build_commands, str) and not build_commands:
                raise invalid(where, "build_commands", [], "expected a non-empty list of shell commands")
            commands = list(
                require_commands(
                    where, "build_commands", build_commands, allowed="expected a non-empty list of shell commands"
                )
            )
        else:
            commands = default_build_commands(
                runtimes, architectures, layer_directory=layer_directory, output_directory=output_directory, where=where
            )
        if build_environment is not None:
            require_instance(
                where,
                "build_environment",
                build_environment,
                codebuild.BuildEnvironment,
                "expected a codebuild.BuildEnvironment",
            )
        if synth is not None:
            require_synth(where, "synth", synth)
        require_pipeline_name(where, "pipeline_name", pipeline_name)
        timeout = require_lambda_timeout(
            where,
            "distributor_timeout",
            distributor_timeout if distributor_timeout is not None else cdk.Duration.minutes(15),
        )
        if timeout.to_seconds() < MIN_DISTRIBUTOR_TIMEOUT.to_seconds():
            raise invalid(
                where,
                "distributor_timeout",
                timeout.to_human_string(),
                f"expected at least {MIN_DISTRIBUTOR_TIMEOUT.to_human_string()}: the worst case of the distributor's "
                "retries, its watchdog margin and the time it keeps for publishing",
            )
        if log_retention is not None:
            require_enum(where, "log_retention", log_retention, logs.RetentionDays)
        require_enum(where, "removal_policy", removal_policy, cdk.RemovalPolicy)
        extra_options = check_pipeline_options(
            where, pipeline_options, reserved={"removal_policy": "use the removal_policy prop"}
        )
        self._validate_config_size(where, sharing)
        pipeline_name = pipeline_name or default_pipeline_name(self)

        # ---- the pipeline
        synth_step = synth or pipelines.ShellStep(
            "Synth",
            input=source,
            install_commands=[
                f"npm install --global --no-fund --no-audit aws-cdk@{DEFAULT_CDK_CLI_VERSION}",
                "python3 -m pip install --disable-pip-version-check -r requirements.txt",
            ],
            commands=["cdk synth"],
        )
        # A customer-managed artifact key even for a single account: CodeBuild then encrypts its artifacts
        # with it too (AwsSolutions-CB4), and the key can be granted to other accounts later.
        options: dict[str, Any] = {
            "cli_version": DEFAULT_CDK_CLI_VERSION,
            "cross_account_keys": True,
            **extra_options,
        }
        #: The hardened CDK Pipelines pipeline this construct builds on.
        self.secure_pipeline = SecurePipeline(
            self, "Pipeline", synth=synth_step, pipeline_name=pipeline_name, removal_policy=removal_policy, **options
        )
        #: The ``pipelines.CodePipeline`` (escape hatch: add waves, stages, steps before synth).
        self.pipeline: pipelines.CodePipeline = self.secure_pipeline.pipeline

        # ---- one staging bucket per region, in a small stack of its own
        suffix = hashlib.sha256(f"{stack.account}/{self.node.path}".encode()).hexdigest()[:10]
        staging_key = f"{_STAGING_PREFIX}/{layer_name}.zip"
        #: Region -> the stack holding that region's staging bucket.
        self.regional_stacks: dict[str, cdk.Stack] = {}
        #: Region -> staging bucket name.
        self.staging_buckets: dict[str, str] = {}
        for region in self.regions:
            bucket_name = f"{_STAGING_PREFIX}-{suffix}-{region}"
            self.regional_stacks[region] = self._regional_stack(stack, region, bucket_name, removal_policy)
            self.staging_buckets[region] = bucket_name

        # ---- the distributor function (pipeline region) and the role CodePipeline invokes it with
        config = {
            "layerName": layer_name,
            "parameterName": self.parameter_name,
            "stagingKey": staging_key,
            "expectedBucketOwner": stack.account,
            "compatibleRuntimes": [r.name for r in runtimes],
            "compatibleArchitectures": [a.name for a in architectures],
            "licenseInfo": license_info,
            "description": description,
            "sharing": sharing.to_json(),
            "allowPublic": sharing.public,
            "regions": list(self.regions),
            # What the function trusts, fixed here (never taken from the event); and ARTIFACT_BUCKET below.
            "stagingBucketPrefix": f"{_STAGING_PREFIX}-{suffix}-",
            "claimsPrefix": _CLAIMS_PREFIX,
        }
        #: The function CodePipeline invokes once per region.
        self.distributor = self._distributor(
            stack, config, suffix, staging_key, layer_name, timeout, log_retention, removal_policy
        )
        invoke_role = self._invoke_role()

        # ---- the Layer stage: build once, then every region in parallel
        image = (
            codebuild.LinuxArmBuildImage.AMAZON_LINUX_2023_STANDARD_3_0
            if [a.name for a in architectures] == ["arm64"]
            else None
        )
        #: The CodeBuild step that builds the layer (its output is the layer zip's content).
        self.build_step = pipelines.CodeBuildStep(
            "BuildLayer",
            input=source,
            commands=commands,
            primary_output_directory=output_directory,
            build_environment=build_environment or (codebuild.BuildEnvironment(build_image=image) if image else None),
        )
        #: Region -> the step that publishes the layer there.
        self.publish_steps: dict[str, LambdaInvokeStep] = {
            region: LambdaInvokeStep(
                f"Publish-{region}",
                function=self.distributor,
                inputs=[self.build_step],
                user_parameters={"region": region, "stagingBucket": self.staging_buckets[region]},
                role=invoke_role,
                variables_namespace=f"Layer-{region}",
            )
            for region in self.regions
        }
        #: The ``Layer`` wave (the pipeline's last stage): add your own ``post`` steps to it.
        self.wave = self.pipeline.add_wave("Layer", pre=[self.build_step], post=list(self.publish_steps.values()))

    # ------------------------------------------------------------------ validation helpers

    @staticmethod
    def _validate_runtimes(where: str, runtimes: Sequence[lambda_.Runtime]) -> list[lambda_.Runtime]:
        allowed = "expected a non-empty list of aws_lambda.Runtime"
        if isinstance(runtimes, lambda_.Runtime):
            raise wrong_type(where, "compatible_runtimes", runtimes, allowed)
        checked = require_sequence(
            where,
            "compatible_runtimes",
            runtimes,
            item=lambda w, p, v: require_instance(w, p, v, lambda_.Runtime, "expected an aws_lambda.Runtime"),
            allowed=allowed,
        )
        if not checked:
            raise invalid(where, "compatible_runtimes", [], allowed)
        out: list[lambda_.Runtime] = []
        for runtime in checked:
            if runtime.name not in {r.name for r in out}:
                out.append(runtime)
        if len(out) > MAX_RUNTIMES:
            raise invalid(
                where, "compatible_runtimes", len(out), f"a layer lists at most {MAX_RUNTIMES} compatible runtimes"
            )
        return out

    @staticmethod
    def _validate_architectures(
        where: str, architectures: Sequence[lambda_.Architecture] | None
    ) -> list[lambda_.Architecture]:
        if architectures is None:
            return [lambda_.Architecture.X86_64]
        if isinstance(architectures, lambda_.Architecture):
            raise wrong_type(
                where, "compatible_architectures", architectures, "expected a list of aws_lambda.Architecture"
            )
        checked = require_sequence(
            where,
            "compatible_architectures",
            architectures,
            item=lambda w, p, v: require_instance(
                w, p, v, lambda_.Architecture, "expected Architecture.X86_64 or Architecture.ARM_64"
            ),
            allowed="expected a list of aws_lambda.Architecture",
        )
        out: list[lambda_.Architecture] = []
        for arch in checked:
            if arch.name not in {a.name for a in out}:
                out.append(arch)
        if not out:
            raise invalid(where, "compatible_architectures", architectures, "expected at least one architecture")
        return out

    @staticmethod
    def _validate_regions(where: str, regions: Sequence[str], home: str) -> tuple[str, ...]:
        allowed = "expected a non-empty list of AWS regions, e.g. ['us-east-1']"
        if isinstance(regions, Sequence) and not isinstance(regions, str) and not regions:
            raise invalid(where, "regions", [], allowed)
        require_sequence(where, "regions", regions, allowed=allowed, min_length=1)
        home_partition = RegionInfo.get(home).partition
        out: list[str] = []
        for i, region in enumerate(regions):
            if is_token(region):
                raise invalid(where, f"regions[{i}]", region, "expected a literal region name, not a token")
            require_region(where, f"regions[{i}]", region)
            partition = RegionInfo.get(region).partition
            if home_partition and partition != home_partition:
                raise invalid(
                    where,
                    f"regions[{i}]",
                    region,
                    f"expected a region of the pipeline's partition {home_partition!r} (the pipeline is in {home})",
                )
            if region not in out:
                out.append(region)
        if len(out) > MAX_REGIONS:
            raise invalid(
                where,
                "regions",
                len(out),
                f"at most {MAX_REGIONS} regions: CodePipeline allows 50 actions per stage "
                "(the build plus one per region)",
            )
        return tuple(out)

    @staticmethod
    def _validate_config_size(where: str, sharing: LayerSharing) -> None:
        # The distributor's configuration travels as one environment variable (4 KB for all of them).
        rendered = json.dumps(sharing.to_json(), separators=(",", ":"))
        if len(rendered) > 3000:
            raise invalid(
                where,
                "sharing.accounts",
                f"<{len(sharing.accounts)} accounts>",
                "too many accounts for the function's configuration; share with an organization_id instead",
            )

    # ------------------------------------------------------------------ resources

    def _regional_stack(
        self, pipeline_stack: cdk.Stack, region: str, bucket_name: str, removal_policy: cdk.RemovalPolicy
    ) -> cdk.Stack:
        """A stack in ``region`` with the hardened staging bucket PublishLayerVersion reads from."""
        parent = pipeline_stack.node.scope
        assert isinstance(parent, Construct)
        synthesizer: cdk.IStackSynthesizer | None = None
        if isinstance(pipeline_stack.synthesizer, cdk.DefaultStackSynthesizer):
            # Deploy with the pipeline region's bootstrap roles (IAM is global): target regions need no bootstrap.
            synthesizer = cdk.BootstraplessSynthesizer(
                deploy_role_arn=pipeline_stack.synthesizer.deploy_role_arn,
                cloud_formation_execution_role_arn=pipeline_stack.synthesizer.cloud_formation_execution_role_arn,
            )
        regional = cdk.Stack(
            parent,
            f"{pipeline_stack.node.id}-{self.node.id}-{region}",
            env=cdk.Environment(account=pipeline_stack.account, region=region),
            synthesizer=synthesizer,
            description=f"Staging bucket of the Lambda layer pipeline {self.node.path} in {region}",
        )
        logs_bucket = access_log_bucket(regional, "AccessLogs", removal_policy=removal_policy)
        bucket = secure_bucket(
            regional,
            "Staging",
            encryption_key=None,  # SSE-KMS with the aws/s3 key: no cross-region key grants needed
            server_access_logs_bucket=logs_bucket,
            server_access_logs_prefix="staging/",
            removal_policy=removal_policy,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=cdk.Duration.days(_STAGING_EXPIRATION_DAYS),
                    noncurrent_version_expiration=cdk.Duration.days(1),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
            replication_reason=reason("staging-bucket-not-replicated", days=str(_STAGING_EXPIRATION_DAYS)),
        )
        cfn_bucket = bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        # A fixed name: the distributor in the pipeline region addresses it, and CloudFormation cannot
        # export across regions. ExpectedBucketOwner on every call guards against a squatted name.
        cfn_bucket.bucket_name = bucket_name
        pipeline_stack.add_stack_dependency(
            regional, f"the layer pipeline publishes through the staging bucket in {region}"
        )
        return regional

    def _distributor(
        self,
        stack: cdk.Stack,
        config: dict[str, Any],
        suffix: str,
        staging_key: str,
        layer_name: str,
        timeout: cdk.Duration,
        log_retention: logs.RetentionDays | None,
        removal_policy: cdk.RemovalPolicy,
    ) -> lambda_.Function:
        scope = Construct(self, "Distributor")
        key = new_key(
            scope,
            "Key",
            description=f"Logs and dead-letter queue of the layer distributor of {self.node.path}",
            allow_cloudwatch_logs=True,
            removal_policy=removal_policy,
        )
        log_group = encrypted_log_group(
            scope,
            "Logs",
            key=key,
            retention=resolve_default(self, "logRetentionDays", log_retention, logs.RetentionDays.ONE_YEAR),
            removal_policy=removal_policy,
        )
        failures = job_failures(
            scope,
            "DeadLetters",
            key=key,
            description=f"Layer distributor of {self.node.path}",
            removal_policy=removal_policy,
        )
        artifacts = self.secure_pipeline.artifact_bucket
        expire_claims(artifacts, _CLAIMS_PREFIX)
        role = iam.Role(
            scope,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Layer distributor of {self.node.path}",
        )
        regions = list(self.regions)
        in_regions = {"StringEquals": {"aws:RequestedRegion": regions}}
        account = stack.account
        partition = cdk.Aws.PARTITION
        layer_arn = f"arn:{partition}:lambda:*:{account}:layer:{layer_name}"
        parameter_arn = f"arn:{partition}:ssm:*:{account}:parameter/{self.parameter_name.lstrip('/')}"
        staging_objects = f"arn:{partition}:s3:::{_STAGING_PREFIX}-{suffix}-*/{staging_key}"
        policy = iam.ManagedPolicy(
            scope,
            "Policy",
            description=f"Least privilege of the layer distributor of {self.node.path}",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="OwnLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_group.log_group_arn],
                ),
                *failures.statements(),
                *claim_statements(artifacts, _CLAIMS_PREFIX, self.secure_pipeline.artifact_key),
                iam.PolicyStatement(
                    sid="NoResourceLevelPermissions",
                    actions=[
                        "codepipeline:PutJobSuccessResult",
                        "codepipeline:PutJobFailureResult",
                        "xray:PutTraceSegments",
                        "xray:PutTelemetryRecords",
                    ],
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="StagingObject",
                    actions=["s3:PutObject", "s3:GetObject", "s3:GetObjectVersion"],
                    resources=[staging_objects],
                    conditions={**in_regions, "StringEqualsIfExists": {"s3:ResourceAccount": account}},
                ),
                iam.PolicyStatement(
                    sid="PublishLayer",
                    actions=["lambda:PublishLayerVersion", "lambda:ListLayerVersions"],
                    resources=[layer_arn],
                    conditions=in_regions,
                ),
                iam.PolicyStatement(
                    sid="ShareLayerVersions",
                    actions=[
                        "lambda:GetLayerVersion",
                        "lambda:GetLayerVersionPolicy",
                        "lambda:AddLayerVersionPermission",
                        "lambda:RemoveLayerVersionPermission",
                    ],
                    resources=[f"{layer_arn}:*"],
                    conditions=in_regions,
                ),
                iam.PolicyStatement(
                    sid="LatestVersionParameter",
                    actions=["ssm:PutParameter"],
                    resources=[parameter_arn],
                    conditions=in_regions,
                ),
            ],
        )
        function = lambda_.Function(
            scope,
            "Function",
            description=f"Publishes layer {layer_name} in one region per CodePipeline job",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler="layer_distributor.handler",
            code=lambda_.Code.from_asset(str(_RUNTIME_DIR), exclude=job_function_asset_excludes(_HANDLER_FILE)),
            role=role.without_policy_updates(),
            timeout=timeout,
            memory_size=1024,
            ephemeral_storage_size=cdk.Size.mebibytes(1024),
            environment={
                "DISTRIBUTOR_CONFIG": json.dumps(config, separators=(",", ":"), sort_keys=True),
                **policy_environment(artifacts),
            },
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            # An invocation that fails (a result it could not send, a crash) goes to the queue, and its alarm fires.
            **failures.function_props(),  # type: ignore[arg-type]
        )
        acknowledge_claims(policy, artifacts, _CLAIMS_PREFIX)
        failures.acknowledge_for(function)
        # Lambda checks the DLQ permission when it creates the function.
        function.node.add_dependency(policy)
        self._acknowledge_distributor(function, role, policy, regions)
        #: The distributor's dead-letter queue and the alarm on it.
        self.distributor_failures: JobFailures = failures
        return function

    def _invoke_role(self) -> iam.IRole:
        """The role CodePipeline assumes for every region action: invoke the distributor, read the layer artifact."""
        role = iam.Role(
            self,
            "InvokeRole",
            # CodePipeline assumes an action role with the pipeline's own role: trust that role, not the account.
            assumed_by=pipeline_role_principal(self.pipeline),
            description=f"CodePipeline invokes the layer distributor of {self.node.path} with this role",
        )
        bucket = self.secure_pipeline.artifact_bucket
        statements = [
            iam.PolicyStatement(
                sid="InvokeDistributor", actions=["lambda:InvokeFunction"], resources=[self.distributor.function_arn]
            ),
            iam.PolicyStatement(
                sid="ReadLayerArtifact",
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[bucket.arn_for_objects("*")],
            ),
        ]
        if self.secure_pipeline.artifact_key is not None:
            statements.append(
                iam.PolicyStatement(
                    sid="DecryptLayerArtifact",
                    actions=["kms:Decrypt"],
                    resources=[self.secure_pipeline.artifact_key.key_arn],
                )
            )
        policy = iam.ManagedPolicy(
            self,
            "InvokePolicy",
            description=f"CodePipeline's Lambda-invoke actions of {self.node.path}",
            roles=[role],
            statements=statements,
        )
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::<" + _logical(bucket) + ".Arn>/*]",
            reason("bucket-objects", bucket=_logical(bucket)),
        )
        invoker = role.node.default_child
        function = self.distributor.node.default_child
        assert isinstance(invoker, iam.CfnRole)
        assert isinstance(function, lambda_.CfnFunction)
        acknowledge_all(
            function,
            in_packs(
                "LambdaConcurrency",
                ("NIST.800.53.R5", "HIPAA.Security"),
                reason("function-invoked-only-by", role=str(cdk.Stack.of(self).resolve(invoker.logical_id))),
            ),
        )
        # CodePipeline's grants (invoke, artifact read, ListFunctions on '*') go to an immutable role:
        # the managed policy above is the whole, least-privilege permission set.
        return role.without_policy_updates()

    def _acknowledge_distributor(
        self,
        function: lambda_.Function,
        role: iam.Role,
        policy: iam.ManagedPolicy,
        regions: list[str],
    ) -> None:
        stack = cdk.Stack.of(self)
        account = str(stack.account)
        where = ", ".join(regions)
        document = stack.resolve(policy.document.to_json())
        acknowledge(
            policy, "AwsSolutions-IAM5[Resource::*]", reason("resource-star", what=describe_star_statements([document]))
        )
        for resource in _wildcard_resources(policy):
            staging = re.fullmatch(rf"arn:<AWS::Partition>:s3:::({_STAGING_PREFIX}-[a-z0-9]+-)\*/(.+)", resource)
            layer = re.fullmatch(rf"arn:<AWS::Partition>:lambda:\*:{account}:layer:([^:]+)(:\*)?", resource)
            parameter = re.fullmatch(rf"arn:<AWS::Partition>:ssm:\*:{account}:parameter/(.+)", resource)
            if staging:
                text = reason(
                    "staging-object-in-regions",
                    key=staging.group(2),
                    prefix=staging.group(1),
                    regions=where,
                    account=account,
                )
            elif layer:
                kind = "layer-versions-in-regions" if layer.group(2) else "layer-in-regions"
                text = reason(kind, layer=layer.group(1), account=account, regions=where)
            elif parameter:
                text = reason(
                    "parameter-in-regions", parameter=f"/{parameter.group(1)}", account=account, regions=where
                )
            elif resource.endswith(f"/{_CLAIMS_PREFIX}*"):
                continue  # acknowledged with the claim statements (core.pipeline_jobs)
            else:  # pragma: no cover - a new wildcard must be reviewed, not acknowledged blindly
                continue
            acknowledge(policy, f"AwsSolutions-IAM5[Resource::{resource}]", text)
        cfn = function.node.default_child
        assert isinstance(cfn, lambda_.CfnFunction)
        acknowledge_function_outside_vpc(function, role=role)


def _logical(construct: Construct) -> str:
    """Logical id of a construct's CloudFormation resource (as cdk-nag names it in findings)."""
    child = construct.node.default_child
    assert isinstance(child, cdk.CfnElement)
    return cdk.Stack.of(child).get_logical_id(child)


def _wildcard_resources(policy: iam.ManagedPolicy) -> list[str]:
    """Wildcard resources of a managed policy, rendered the way cdk-nag names them."""
    from pipeline_constructs.core.private.iam_idioms import flatten_cfn_reference

    document = cdk.Stack.of(policy).resolve(policy.document)
    out: list[str] = []
    for statement in document.get("Statement", []):
        resources = statement.get("Resource", [])
        for resource in resources if isinstance(resources, list) else [resources]:
            text = flatten_cfn_reference(resource)
            if "*" in text and text != "*" and text not in out:
                out.append(text)
    return out
