"""The one recipe for a CodePipeline job function of this library (the Flink update, the layer distributor)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import aws_cdk as cdk
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import pipelines
from constructs import Construct

from pipeline_constructs.core.compliance import acknowledge, acknowledge_all, in_packs
from pipeline_constructs.core.compliance.packs import NIST_HIPAA
from pipeline_constructs.core.compliance.reasons import describe_star_statements, reason
from pipeline_constructs.core.pipeline_jobs import (
    JobFailures,
    acknowledge_claims,
    claim_statements,
    expire_claims,
    job_failures,
    job_function_asset_excludes,
    policy_environment,
)
from pipeline_constructs.core.private.encryption import encrypted_log_group, new_key
from pipeline_constructs.core.private.iam_idioms import (
    acknowledge_function_outside_vpc,
    at_synth,
    stack_constructs,
)

__all__ = ["RUNTIME_DIR", "JobFunction", "invoke_role", "job_function", "one_per_pipeline"]

#: Where the job handlers live (``runtime/``): packaged as the functions' code assets, never imported.
RUNTIME_DIR = Path(__file__).resolve().parents[2] / "runtime"


@dataclass(frozen=True)
class JobFunction:
    """A CodePipeline job function built by :func:`job_function`, and what it is made of."""

    #: The function (Python, ARM, X-Ray tracing, JSON logs).
    function: lambda_.Function
    #: Its role: ``lambda.amazonaws.com`` only, no policy but :attr:`policy`.
    role: iam.Role
    #: Its whole, least-privilege permission set.
    policy: iam.ManagedPolicy
    #: Its own KMS-encrypted log group.
    log_group: logs.LogGroup
    #: Its dead-letter queue, the alarm on it and the alarm's topic.
    failures: JobFailures


def job_function(
    scope: Construct,
    id: str,
    *,
    handler_file: str,
    description: str,
    claims: str,
    statements: Sequence[iam.PolicyStatement],
    artifacts: s3.Bucket,
    artifact_key: kms.IKey | None,
    timeout: cdk.Duration,
    retention: logs.RetentionDays,
    removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    key: kms.IKey | None = None,
    environment: Mapping[str, str] | None = None,
    memory_size: int = 256,
    ephemeral_storage: cdk.Size | None = None,
    role_name: str | None = None,
) -> JobFunction:
    """The one recipe for a CodePipeline job function of this library (under a new scope ``id``).

    What every job function gets:

    * the handler ``runtime/<handler_file>`` (function ``handler``) and the shared job machinery,
      nothing else, as its code; Python (newest runtime), ARM, X-Ray tracing, JSON logs;
    * its own KMS-encrypted log group (``Logs``) with ``retention``;
    * a dead-letter queue and on-failure destination with an alarm and an encrypted topic
      (``DeadLetters``, :func:`job_failures`), no retries;
    * a role (``Role``) trusting only ``lambda.amazonaws.com``, made immutable: its permissions are
      the managed policy ``Policy``: writing its own log streams, the queue, its job claims in the
      pipeline's artifact bucket (:func:`claim_statements`), the CodePipeline result and X-Ray calls
      (no resource-level permissions), and ``statements``;
    * the acknowledgments every such function needs, each proven by its reason: outside a VPC
      (what it calls), no reserved concurrency (invoked only by this stack's CodePipeline actions).

    :param handler_file: the handler module in ``runtime/``, e.g. ``"kda_update.py"``.
    :param description: what the function does (the function's and the alarm's description).
    :param claims: the prefix of its job claims in ``artifacts`` (:func:`claims_prefix`); the handler
        must be configured with the same prefix (through ``environment``).
    :param statements: the function's own permissions, least privilege.
    :param artifacts: the pipeline's artifact bucket (job claims live there, under ``claims``).
    :param artifact_key: the artifact bucket's KMS key (``None``: the AWS-managed key).
    :param timeout: the function's timeout (see :func:`job_function_timeout`).
    :param retention: how long its logs are kept.
    :param removal_policy: of the log group and the queue. Default: ``RETAIN``.
    :param key: encrypts the logs, the queue and the topic. Default: a new rotating key.
    :param environment: the handler's own configuration (the job machinery's is added).
        Default: none.
    :param memory_size: MiB. Default: 256.
    :param ephemeral_storage: ``/tmp`` size. Default: Lambda's (512 MiB).
    :param role_name: a fixed role name (when another account's role must trust it). Default: generated.
    """
    owner = Construct(scope, id)
    prefix = claims
    if key is None:
        key = new_key(
            owner,
            "Key",
            description=f"Logs and dead-letter queue of {owner.node.path}",
            allow_cloudwatch_logs=True,
            removal_policy=removal_policy,
        )
    log_group = encrypted_log_group(owner, "Logs", key=key, retention=retention, removal_policy=removal_policy)
    failures = job_failures(owner, "DeadLetters", key=key, description=description, removal_policy=removal_policy)
    expire_claims(artifacts, prefix)
    role = iam.Role(
        owner,
        "Role",
        role_name=role_name,
        description=description,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
    )
    policy = iam.ManagedPolicy(
        owner,
        "Policy",
        description=f"Least privilege of: {description}",
        roles=[role],
        statements=[
            iam.PolicyStatement(
                sid="OwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            ),
            *failures.statements(),
            *claim_statements(artifacts, prefix, artifact_key),
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
            *statements,
        ],
    )
    function = lambda_.Function(
        owner,
        "Function",
        description=description[:256],
        runtime=lambda_.Runtime.PYTHON_3_14,
        architecture=lambda_.Architecture.ARM_64,
        handler=f"{handler_file.removesuffix('.py')}.handler",
        code=lambda_.Code.from_asset(str(RUNTIME_DIR), exclude=job_function_asset_excludes(handler_file)),
        # Immutable: its permissions are all in the managed policy (CodePipeline's own grants are not needed).
        role=role.without_policy_updates(),
        timeout=timeout,
        memory_size=memory_size,
        ephemeral_storage_size=ephemeral_storage,
        environment={**(environment or {}), **policy_environment(artifacts)},
        log_group=log_group,
        logging_format=lambda_.LoggingFormat.JSON,
        tracing=lambda_.Tracing.ACTIVE,
        # An invocation that fails (a result it could not send, a crash) goes to the queue; its alarm fires.
        **failures.function_props(),  # type: ignore[arg-type]
    )
    # Lambda checks the DLQ permission when it creates the function.
    function.node.add_dependency(policy)
    acknowledge_claims(policy, artifacts, prefix)
    document = cdk.Stack.of(policy).resolve(policy.document.to_json())
    acknowledge(
        policy, "AwsSolutions-IAM5[Resource::*]", reason("resource-star", what=describe_star_statements([document]))
    )
    failures.acknowledge_for(function)
    acknowledge_function_outside_vpc(function, role=role)
    at_synth(function, "PipelineConstructsJobFunction", lambda: _acknowledge_job_function(function))
    return JobFunction(function=function, role=role, policy=policy, log_group=log_group, failures=failures)


_Shared = TypeVar("_Shared", bound=Construct)


def one_per_pipeline(secure: Construct, id: str, kind: type[_Shared], create: Callable[[], _Shared]) -> _Shared:
    """A pipeline's one ``kind`` construct ``<secure>/<id>`` (a job function and its invoke role), created on first use.

    :param create: makes it, as ``<secure>/<id>``, when ``secure`` has none yet.
    """
    existing = secure.node.try_find_child(id)
    if isinstance(existing, kind):
        return existing
    return create()


def invoke_role(
    owner: Construct,
    pipeline: pipelines.CodePipeline,
    function: lambda_.IFunction,
    *,
    description: str,
    policy_description: str,
    invoke_sid: str,
    artifacts: tuple[s3.IBucket, kms.IKey | None, str] | None = None,
) -> iam.IRole:
    """The role CodePipeline assumes for a job function's Lambda invoke actions (``InvokeRole`` under ``owner``).

    It trusts the pipeline's own role (not the account), and is immutable: CodePipeline's grants
    (invoke, artifact read, ``lambda:ListFunctions`` on ``*``) are refused; its managed policy
    ``InvokePolicy`` is the whole permission set: invoke ``function`` (statement ``invoke_sid``) and,
    with ``artifacts`` = ``(bucket, key, name)``, read the pipeline's artifacts (``Read<name>``,
    ``Decrypt<name>``).
    """
    from pipeline_constructs.steps.lambda_invoke import pipeline_role_principal  # steps build on core

    role = iam.Role(owner, "InvokeRole", assumed_by=pipeline_role_principal(pipeline), description=description)
    statements = [
        iam.PolicyStatement(sid=invoke_sid, actions=["lambda:InvokeFunction"], resources=[function.function_arn])
    ]
    if artifacts is not None:
        bucket, key, name = artifacts
        statements.append(
            iam.PolicyStatement(
                sid=f"Read{name}",
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[bucket.arn_for_objects("*")],
            )
        )
        if key is not None:
            statements.append(
                iam.PolicyStatement(sid=f"Decrypt{name}", actions=["kms:Decrypt"], resources=[key.key_arn])
            )
    policy = iam.ManagedPolicy(
        owner, "InvokePolicy", description=policy_description, roles=[role], statements=statements
    )
    if artifacts is not None:
        cfn_bucket = artifacts[0].node.default_child
        assert isinstance(cfn_bucket, cdk.CfnElement)
        logical = cdk.Stack.of(cfn_bucket).get_logical_id(cfn_bucket)
        acknowledge(policy, f"AwsSolutions-IAM5[Resource::<{logical}.Arn>/*]", reason("bucket-objects", bucket=logical))
    return role.without_policy_updates()


def _acknowledge_job_function(function: lambda_.Function) -> None:
    """No reserved concurrency for a function only this stack's CodePipeline Lambda actions invoke (named at synth)."""
    cfn = function.node.default_child
    assert isinstance(cfn, lambda_.CfnFunction)
    stack = cdk.Stack.of(function)
    logical = stack.resolve(cfn.logical_id)
    actions: list[str] = []
    for child in stack_constructs(stack, (codepipeline.CfnPipeline,)):
        assert isinstance(child, codepipeline.CfnPipeline)
        for stage in stack.resolve(child.stages) or []:
            for action in stage.get("actions") or []:
                name = (action.get("configuration") or {}).get("FunctionName")
                if (action.get("actionTypeId") or {}).get("provider") == "Lambda" and name == {"Ref": logical}:
                    actions.append(f"{stage.get('name')}/{action.get('name')}")
    if actions:
        text = reason("codepipeline-job-function-with-dlq", actions=", ".join(actions))
        acknowledge_all(cfn, in_packs("LambdaConcurrency", NIST_HIPAA, text))
