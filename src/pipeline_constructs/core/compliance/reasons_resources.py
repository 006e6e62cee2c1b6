"""The catalogue's reasons for non-IAM rules: CodeBuild, S3, Lambda and its queues, SNS, custom resources."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pipeline_constructs.core.compliance.iam import (
    actions_of,
    flatten,
    resources_of,
    statements,
)
from pipeline_constructs.core.compliance.reasons import (
    AckContext,
    Reason,
    _artifact_stores,
    _expirations,
    _fail_unless,
    _refs,
    _register,
    _type_of,
)

# -- CodeBuild ----------------------------------------------------------------------------------------


def _check_pipeline_source(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    source = ctx.properties.get("Source") or {}
    if source.get("Type") != params["type"] or params["type"] not in ("CODEPIPELINE", "NO_SOURCE"):
        return f"source type is {source.get('Type')!r}"
    return _fail_unless(not source.get("Location") and not source.get("Auth"), "the source has a URL or credentials")


_register(
    Reason(
        "codebuild-pipeline-source",
        ("CodeBuildProjectSourceRepoUrl",),
        "Source type {type}: the project has no repository URL and no source credentials; its input is the "
        "pipeline's artifact (or none).",
        _check_pipeline_source,
    )
)


def _accounts_in(value: Any) -> set[str]:
    return set(re.findall(r":iam::(\d{12}):", str(value)))


def _check_managed_key(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    key = ctx.properties.get("EncryptionKey")
    if key not in (None, "alias/aws/s3"):
        return f"the project uses key {key}"
    accounts = _accounts_in(ctx.template)
    return _fail_unless(accounts <= {params["account"]}, f"the template names other accounts {sorted(accounts)}")


_register(
    Reason(
        "aws-managed-artifact-key",
        ("CB4",),
        "Every target is in the pipeline's account {account}, so artifacts use the AWS-managed aws/s3 KMS key "
        "(no key to share across accounts); pass cross_account_keys=True for a customer-managed key.",
        _check_managed_key,
    )
)


# -- S3 ---------------------------------------------------------------------------------------------


def _logging_sources(ctx: AckContext) -> list[str]:
    out = []
    for logical_id, resource in ctx.of_type("AWS::S3::Bucket").items():
        destination = ((resource.get("Properties") or {}).get("LoggingConfiguration") or {}).get(
            "DestinationBucketName"
        )
        if destination is not None and ctx.logical_id in _refs(destination):
            out.append(logical_id)
    return out


def _sse_algorithms(properties: Mapping[str, Any]) -> set[str]:
    rules = (properties.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration") or []
    return {str((r.get("ServerSideEncryptionByDefault") or {}).get("SSEAlgorithm")) for r in rules}


def _check_log_bucket_sse(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if not _logging_sources(ctx):
        return "no bucket of this template logs to it"
    return _fail_unless(_sse_algorithms(ctx.properties) == {"AES256"}, "not SSE-S3 (AES256)")


_register(
    Reason(
        "access-log-bucket-sse-s3",
        ("S3DefaultEncryptionKMS",),
        "Server-access-log destination of this stack's buckets: S3 log delivery writes only to destination "
        "buckets encrypted with SSE-S3 (AES256), not SSE-KMS.",
        _check_log_bucket_sse,
        evidence=("https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html",),
    )
)


def _check_log_bucket_replication(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if not _logging_sources(ctx):
        return "no bucket of this template logs to it"
    current, _ = _expirations(ctx.properties)
    return _fail_unless(str(min(current, default=0)) == params["days"], f"objects expire after {current} days")


_register(
    Reason(
        "access-log-bucket-not-replicated",
        ("S3BucketReplicationEnabled",),
        "Holds only the server access logs of this stack's buckets (their LoggingConfiguration destination), "
        "which expire after {days} days; it is an audit trail of transient buckets, not data to recover.",
        _check_log_bucket_replication,
    )
)


def _check_artifact_store(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if not any(ctx.logical_id in _refs(v) for _, v in _artifact_stores(ctx.template)):
        return "not the artifact store of this template's pipeline"
    # The bucket-wide rule is the claim; rules scoped to a prefix (job claims) only expire sooner.
    rules = (ctx.properties.get("LifecycleConfiguration") or {}).get("Rules") or []
    bucket_wide = [r for r in rules if "Prefix" not in r and "Filter" not in r]
    _, noncurrent = _expirations({"LifecycleConfiguration": {"Rules": bucket_wide}})
    return _fail_unless(noncurrent == {int(params["days"])}, f"noncurrent versions: {noncurrent}")


_register(
    Reason(
        "artifact-store-not-replicated",
        ("S3BucketReplicationEnabled",),
        "The artifact store of this stack's pipeline: every artifact is rebuilt from source by the next "
        "execution, and noncurrent versions expire after {days} days.",
        _check_artifact_store,
    )
)


def flatten_all(value: Any) -> str:
    """Every string of ``value`` with intrinsics flattened, joined (for searching a template)."""
    if isinstance(value, dict):
        if any(k in value for k in ("Fn::Join", "Fn::Sub", "Fn::GetAtt", "Ref")):
            return flatten(value)
        return " ".join(flatten_all(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(flatten_all(v) for v in value)
    return str(value)


def _check_replica_store(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    name = ctx.properties.get("BucketName")
    for body in ctx.assembly.values():
        if (params["region"], name) in _artifact_stores(body):
            _, noncurrent = _expirations(ctx.properties)
            return _fail_unless(
                str(min(noncurrent, default=0)) == params["days"], f"noncurrent versions expire: {noncurrent}"
            )
    return f"no pipeline of the assembly uses {name} as its {params['region']} artifact store"


_register(
    Reason(
        "replica-artifact-store-not-replicated",
        ("S3BucketReplicationEnabled",),
        "CodePipeline's artifact store for {region}: CodePipeline itself copies the pipeline's artifacts into it "
        "from the pipeline's region, and noncurrent versions expire after {days} days.",
        _check_replica_store,
    )
)


# -- Lambda and its queues -----------------------------------------------------------------------------


def _role_of(ctx: AckContext, function_id: str) -> str | None:
    refs = _refs(((ctx.resources.get(function_id) or {}).get("Properties") or {}).get("Role"))
    return next(iter(refs), None) if len(refs) == 1 else None


def _role_statements(ctx: AckContext, role_id: str) -> list[dict[str, Any]]:
    """Every Allow statement that applies to role ``role_id`` (its inline policies and attached policies)."""
    out = list(statements(ctx.resources.get(role_id) or {}))
    for resource in ctx.resources.values():
        if not isinstance(resource, dict) or resource.get("Type") not in (
            "AWS::IAM::Policy",
            "AWS::IAM::ManagedPolicy",
        ):
            continue
        if role_id in _refs((resource.get("Properties") or {}).get("Roles")):
            out.extend(statements(resource))
    return out


def _check_dead_letter_queue(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if ctx.resource.get("Type") != "AWS::SQS::Queue":
        return "not an SQS queue"
    function = ctx.resources.get(params["function"]) or {}
    props = function.get("Properties") or {}
    targets = _refs((props.get("DeadLetterConfig") or {}).get("TargetArn"))
    for config in ctx.of_type("AWS::Lambda::EventInvokeConfig").values():
        config_props = config.get("Properties") or {}
        if params["function"] in _refs(config_props.get("FunctionName")):
            targets |= _refs(config_props.get("DestinationConfig"))
    return _fail_unless(ctx.logical_id in targets, f"not a dead-letter queue of {params['function']}")


_register(
    Reason(
        "queue-is-dead-letter-queue",
        ("SQSRedrivePolicy",),
        "This queue is the dead-letter queue (or on-failure destination) of function {function}; a dead-letter "
        "queue needs none of its own.",
        _check_dead_letter_queue,
    )
)


def _check_alarm_without_topic(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if ctx.resource.get("Type") != "AWS::CloudWatch::Alarm":
        return "not an alarm"
    return _fail_unless(not ctx.properties.get("AlarmActions"), "the alarm has actions")


_register(
    Reason(
        "alarm-without-topic",
        ("CloudWatchAlarmAction",),
        "No notification topic was given to this pipeline's permission checks, so the alarm has no action and "
        "shows in CloudWatch only; SecurityGatedStage adds its topic as the alarm's action.",
        _check_alarm_without_topic,
    )
)


def _invokers(ctx: AckContext, function_id: str) -> set[str]:
    """Roles (logical ids) whose policies allow lambda:InvokeFunction on the function, and Permission principals."""
    out: set[str] = set()
    for logical_id, resource in ctx.resources.items():
        if not isinstance(resource, dict):
            continue
        kind = resource.get("Type")
        props = resource.get("Properties") or {}
        if kind == "AWS::Lambda::Permission" and function_id in _refs(props.get("FunctionName")):
            out.add(f"principal {flatten(props.get('Principal'))}")
        if kind not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role"):
            continue
        for statement in statements(resource):
            invokes = any(a in ("lambda:InvokeFunction", "lambda:*", "*") for a in actions_of(statement))
            if invokes and (function_id in _refs(statement.get("Resource")) or "*" in resources_of(statement)):
                out |= _refs(props.get("Roles")) if kind != "AWS::IAM::Role" else {logical_id}
    return out


def _function_of(ctx: AckContext) -> str:
    return ctx.logical_id


def _check_only_invoker(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if ctx.resource.get("Type") != "AWS::Lambda::Function":
        return "not a Lambda function"
    invokers = _invokers(ctx, _function_of(ctx))
    return _fail_unless(invokers == {params["role"]}, f"invoked by {sorted(invokers)}")


_register(
    Reason(
        "function-invoked-only-by",
        ("LambdaConcurrency",),
        "Invoked only by role {role} (the one principal of this stack allowed lambda:InvokeFunction on it); "
        "reserved concurrency would take capacity from the account's pool and protect nothing.",
        _check_only_invoker,
    )
)

#: Services whose calls reach resources inside a VPC (a function using them may need one).
VPC_DATA_SERVICES = frozenset({"rds-db", "elasticache", "es", "kafka-cluster", "elasticfilesystem", "redshift"})


def _check_public_apis(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if ctx.resource.get("Type") != "AWS::Lambda::Function":
        return "not a Lambda function"
    role = _role_of(ctx, ctx.logical_id)
    if role is None or _type_of(ctx, role) != "AWS::IAM::Role":
        return "the function's role is not in this template"
    if (ctx.resources[role].get("Properties") or {}).get("ManagedPolicyArns"):
        return "the role has managed policies this check cannot read"
    services = sorted({a.split(":", 1)[0] for s in _role_statements(ctx, role) for a in actions_of(s)})
    if ", ".join(services) != params["services"]:
        return f"the role allows {services}"
    return _fail_unless(not set(services) & VPC_DATA_SERVICES, f"VPC data services {set(services) & VPC_DATA_SERVICES}")


_register(
    Reason(
        "function-calls-public-apis",
        ("LambdaInsideVPC",),
        "Its role allows only {services} API calls (public AWS endpoints); the function reaches no resource "
        "inside a VPC.",
        _check_public_apis,
    )
)


def _check_concurrency_unset(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if ctx.resource.get("Type") != "AWS::Lambda::Function":
        return "not a Lambda function"
    return _fail_unless("ReservedConcurrentExecutions" not in ctx.properties, "reserved concurrency is set")


_register(
    Reason(
        "concurrency-left-to-team",
        ("LambdaConcurrency",),
        "No reserved concurrency is set: it is a capacity decision of the function's team "
        "(function_props={'reserved_concurrent_executions': n}), and reserving any fails in accounts whose "
        "concurrency quota leaves Lambda's minimum of unreserved concurrency.",
        _check_concurrency_unset,
        evidence=("https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html",),
    )
)


# -- SNS ----------------------------------------------------------------------------------------------


def _check_email_subscription(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if ctx.resource.get("Type") != "AWS::SNS::Subscription" or ctx.properties.get("Protocol") != "email":
        return "not an e-mail subscription"
    topic = next(iter(_refs(ctx.properties.get("TopicArn"))), None)
    return _fail_unless(_type_of(ctx, topic) == "AWS::SNS::Topic", "its topic is not in this template")


_register(
    Reason(
        "email-subscription",
        ("SNSRedrivePolicy",),
        "E-mail subscription of people to this stack's security-gate topic: the gate's manual approval waits in "
        "the pipeline whether or not the e-mail arrives, so an undelivered notification blocks nothing.",
        _check_email_subscription,
    )
)


# -- custom resources and CodePipeline job functions -----------------------------------------------------


def _service_token_users(ctx: AckContext) -> list[str]:
    return [
        logical_id
        for logical_id, resource in ctx.resources.items()
        if isinstance(resource, dict)
        and ctx.logical_id in _refs((resource.get("Properties") or {}).get("ServiceToken"))
    ]


def _check_custom_resource_handler(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    users = _service_token_users(ctx)
    if not users:
        return "no custom resource of this template uses the function as its ServiceToken"
    kinds = sorted({str(ctx.resources[u].get("Type")) for u in users})
    return _fail_unless(", ".join(kinds) == params["kind"], f"custom resources {kinds}")


_register(
    Reason(
        "custom-resource-handler",
        ("LambdaDLQ", "LambdaConcurrency", "LambdaTracing"),
        "Handler of this stack's {kind} custom resource (its ServiceToken): it runs only while CloudFormation "
        "deploys the stack, and CloudFormation fails the stack operation, with the error in its events, when the "
        "handler does not report success.",
        _check_custom_resource_handler,
        evidence=("https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/template-custom-resources.html",),
    )
)


def _check_cdk_runtime(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    problem = _check_custom_resource_handler(ctx, params)
    if problem:
        return problem
    return _fail_unless(
        ctx.properties.get("Runtime") == params["runtime"], f"runtime is {ctx.properties.get('Runtime')}"
    )


_register(
    Reason(
        "cdk-handler-runtime",
        ("L1", "LambdaLatestVersion"),
        "Handler of this stack's {kind} custom resource, code and runtime ({runtime}) both set by aws-cdk-lib, "
        "which moves them together on upgrade.",
        _check_cdk_runtime,
    )
)


def _pipeline_actions_invoking(template: Mapping[str, Any], function_id: str) -> list[str]:
    out = []
    for resource in (template.get("Resources") or {}).values():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::CodePipeline::Pipeline":
            continue
        for stage in (resource.get("Properties") or {}).get("Stages") or []:
            for action in stage.get("Actions") or []:
                kind = action.get("ActionTypeId") or {}
                name = (action.get("Configuration") or {}).get("FunctionName")
                if kind.get("Provider") == "Lambda" and function_id in _refs(name):
                    out.append(f"{stage.get('Name')}/{action.get('Name')}")
    return out


def _check_job_function(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    actions = _pipeline_actions_invoking(ctx.template, ctx.logical_id)
    return _fail_unless(", ".join(actions) == params["actions"], f"invoked by pipeline actions {actions}")


def _check_job_function_with_dlq(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    problem = _check_job_function(ctx, params)
    if problem is not None:
        return problem
    target = (ctx.properties.get("DeadLetterConfig") or {}).get("TargetArn")
    return _fail_unless(bool(_refs(target)), "the function has no dead-letter queue")


_register(
    Reason(
        "codepipeline-job-function-with-dlq",
        ("LambdaTracing", "LambdaConcurrency"),
        "Invoked only by this stack's CodePipeline Lambda actions ({actions}), one job each; every invocation "
        "reports its job result (logged as JSON) or, when it cannot, lands in the function's dead-letter queue, "
        "whose alarm notifies. A reserved concurrency could only fail a deployment.",
        _check_job_function_with_dlq,
        evidence=("https://docs.aws.amazon.com/codepipeline/latest/userguide/actions-invoke-lambda-function.html",),
    )
)


def _check_test_image(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    environment = ctx.properties.get("Environment") or {}
    if environment.get("Image") != params["image"]:
        return f"image is {environment.get('Image')}"
    return _fail_unless(not environment.get("PrivilegedMode"), "the project runs privileged")


_register(
    Reason(
        "glue-test-image",
        ("CB5",),
        "The job tests run in {image}, the image AWS Glue publishes (ECR Public) with the Glue ETL library and the "
        "Spark of the jobs' Glue version, which no CodeBuild-provided image contains; unprivileged.",
        _check_test_image,
        evidence=("https://docs.aws.amazon.com/glue/latest/dg/develop-local-docker-image.html",),
    )
)


# -- buckets whose content is rebuilt elsewhere ---------------------------------------------------------------


def _check_deployed_bucket(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    for resource in ctx.of_type("Custom::CDKBucketDeployment").values():
        props = resource.get("Properties") or {}
        if ctx.logical_id in _refs(props.get("DestinationBucketName")) and props.get("Prune") is not False:
            return None
    return "no BucketDeployment of this template copies into it"


_register(
    Reason(
        "deployed-from-assembly",
        ("S3BucketReplicationEnabled",),
        "Holds only what this stack's BucketDeployment copies from the cloud assembly on every deployment "
        "(pruning the rest); the source repository is the recovery point.",
        _check_deployed_bucket,
    )
)


def _check_job_output_bucket(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    for resource in ctx.resources.values():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::IAM::ManagedPolicy":
            continue
        for statement in statements(resource):
            if (
                statement.get("Sid") == params["sid"]
                and "s3:PutObject" in actions_of(statement)
                and ctx.logical_id in _refs(statement.get("Resource"))
            ):
                return None
    return f"no {params['sid']} statement of this template writes to it"


_register(
    Reason(
        "job-output-bucket",
        ("S3BucketReplicationEnabled",),
        "Output of this stack's Glue jobs (statement {sid} of the job policy writes it), which the workflow "
        "rebuilds from its sources; replication is the owning team's call (data_lifecycle_rules, replication) "
        "once the output is a system of record.",
        _check_job_output_bucket,
    )
)


def _check_versioned_release_bucket(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    versioning = (ctx.properties.get("VersioningConfiguration") or {}).get("Status")
    return _fail_unless(versioning == "Enabled", "the bucket is not versioned")


_register(
    Reason(
        "release-bucket-not-replicated",
        ("S3BucketReplicationEnabled",),
        "Release artifacts, each under a key naming its commit and pipeline execution and rebuildable from that "
        "commit; the bucket is versioned, so no release is overwritten.",
        _check_versioned_release_bucket,
    )
)


def _check_staging_bucket(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    current, _ = _expirations(ctx.properties)
    if not current or max(current) > int(params["days"]):
        return f"objects expire after {current} days"
    return None


_register(
    Reason(
        "staging-bucket-not-replicated",
        ("S3BucketReplicationEnabled",),
        "Holds only transient copies of build output that a service reads once (objects expire after {days} "
        "days); the pipeline rebuilds them from source.",
        _check_staging_bucket,
    )
)
