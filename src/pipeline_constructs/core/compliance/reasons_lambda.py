"""The catalogue's reasons for Lambda functions and their queues, SNS subscriptions, custom resources and
CodePipeline job functions.

A table of :class:`~.reasons.Reason` rows; each check reads the acknowledged resource in the template.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline_constructs.core.compliance.iam import actions_of, flatten, resources_of, statements
from pipeline_constructs.core.compliance.reasons import (
    VPC_DATA_SERVICES,
    AckContext,
    Reason,
    _all,
    _catalogue,
    _exactly,
    _fail_unless,
    _finding,
    _refs,
    _type_of,
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


def _check_alarm_without_topic(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if ctx.resource.get("Type") != "AWS::CloudWatch::Alarm":
        return "not an alarm"
    return _fail_unless(not ctx.properties.get("AlarmActions"), "the alarm has actions")


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


def _check_concurrency_unset(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if ctx.resource.get("Type") != "AWS::Lambda::Function":
        return "not a Lambda function"
    return _fail_unless("ReservedConcurrentExecutions" not in ctx.properties, "reserved concurrency is set")


def _check_email_subscription(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if ctx.resource.get("Type") != "AWS::SNS::Subscription" or ctx.properties.get("Protocol") != "email":
        return "not an e-mail subscription"
    topic = next(iter(_refs(ctx.properties.get("TopicArn"))), None)
    return _fail_unless(_type_of(ctx, topic) == "AWS::SNS::Topic", "its topic is not in this template")


def _check_notification_email_subscription(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    problem = _check_email_subscription(ctx, params)
    if problem is not None:
        return problem
    topic = next(iter(_refs(ctx.properties.get("TopicArn"))))
    rules = [
        rule
        for rule in ctx.of_type("AWS::CodeStarNotifications::NotificationRule").values()
        if any(topic in _refs(t.get("TargetAddress")) for t in (rule.get("Properties") or {}).get("Targets") or [])
    ]
    return _fail_unless(bool(rules), "its topic is the target of no notification rule in this template")


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


def _check_cdk_runtime(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    problem = _check_custom_resource_handler(ctx, params)
    if problem:
        return problem
    return _fail_unless(
        ctx.properties.get("Runtime") == params["runtime"], f"runtime is {ctx.properties.get('Runtime')}"
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


REASONS_LAMBDA = _catalogue(
    # -- Lambda and its queues -------------------------------------------------------------------------------
    Reason(
        "queue-is-dead-letter-queue",
        ("SQSRedrivePolicy",),
        "This queue is the dead-letter queue (or on-failure destination) of function {function}; a dead-letter "
        "queue needs none of its own.",
        _check_dead_letter_queue,
    ),
    Reason(
        "alarm-without-topic",
        ("CloudWatchAlarmAction",),
        "No notification topic was given to this pipeline's permission checks, so the alarm has no action and "
        "shows in CloudWatch only; SecurityGatedStage adds its topic as the alarm's action.",
        _check_alarm_without_topic,
    ),
    Reason(
        "function-invoked-only-by",
        ("LambdaConcurrency",),
        "Invoked only by role {role} (the one principal of this stack allowed lambda:InvokeFunction on it); "
        "reserved concurrency would take capacity from the account's pool and protect nothing.",
        _check_only_invoker,
    ),
    Reason(
        "function-calls-public-apis",
        ("LambdaInsideVPC",),
        "Its role allows only {services} API calls (public AWS endpoints); the function reaches no resource "
        "inside a VPC.",
        _check_public_apis,
    ),
    Reason(
        "concurrency-left-to-team",
        ("LambdaConcurrency",),
        "No reserved concurrency is set: it is a capacity decision of the function's team "
        "(function_props={'reserved_concurrent_executions': n}), and reserving any fails in accounts whose "
        "concurrency quota leaves Lambda's minimum of unreserved concurrency.",
        _check_concurrency_unset,
        evidence=("https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html",),
    ),
    # -- SNS -------------------------------------------------------------------------------------------------
    Reason(
        "email-subscription",
        ("SNSRedrivePolicy",),
        "E-mail subscription of people to this stack's security-gate topic: the gate's manual approval waits in "
        "the pipeline whether or not the e-mail arrives, so an undelivered notification blocks nothing.",
        _check_email_subscription,
    ),
    Reason(
        "notification-email-subscription",
        ("SNSRedrivePolicy",),
        "E-mail subscription of people to this stack's pipeline notification topic (the target of its "
        "CodeStar Notifications rule): each notification reports an execution or approval that the pipeline's "
        "execution history also records, so an undelivered e-mail loses nothing and blocks nothing.",
        _check_notification_email_subscription,
    ),
    # -- custom resources and CodePipeline job functions -----------------------------------------------------
    Reason(
        "custom-resource-handler",
        ("LambdaDLQ", "LambdaConcurrency", "LambdaTracing"),
        "Handler of this stack's {kind} custom resource (its ServiceToken): it runs only while CloudFormation "
        "deploys the stack, and CloudFormation fails the stack operation, with the error in its events, when the "
        "handler does not report success.",
        _check_custom_resource_handler,
        evidence=("https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/template-custom-resources.html",),
    ),
    Reason(
        "cdk-handler-runtime",
        ("L1", "LambdaLatestVersion"),
        "Handler of this stack's {kind} custom resource, code and runtime ({runtime}) both set by aws-cdk-lib, "
        "which moves them together on upgrade.",
        _check_cdk_runtime,
    ),
    Reason(
        "codepipeline-job-function-with-dlq",
        ("LambdaTracing", "LambdaConcurrency"),
        "Invoked only by this stack's CodePipeline Lambda actions ({actions}), one job each; every invocation "
        "reports its job result (logged as JSON) or, when it cannot, lands in the function's dead-letter queue, "
        "whose alarm notifies. A reserved concurrency could only fail a deployment.",
        _check_job_function_with_dlq,
        evidence=("https://docs.aws.amazon.com/codepipeline/latest/userguide/actions-invoke-lambda-function.html",),
    ),
    Reason(
        "stack-by-name",
        ("IAM5",),
        "cloudformation:DescribeStacks only, on stack {stack} of account {account} in {region}: a stack's ARN "
        "ends in an id CloudFormation generates when it creates the stack, so only its name is known at synth.",
        _all(
            _finding(lambda p: f":cloudformation:{p['region']}:{p['account']}:stack/{p['stack']}/*", suffix=True),
            _exactly("cloudformation:DescribeStacks"),
        ),
        evidence=("https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudformation.html",),
    ),
    Reason(
        "stack-template-by-name",
        ("IAM5",),
        "cloudformation:DescribeStacks and cloudformation:GetTemplate only, on stack {stack} of account {account} "
        "in {region} (the synth action compares its deployed template with cdk.out to tell whether the pipeline "
        "must self-mutate): a stack's ARN ends in an id CloudFormation generates when it creates the stack, so "
        "only its name is known at synth.",
        _all(
            _finding(lambda p: f":cloudformation:{p['region']}:{p['account']}:stack/{p['stack']}/*", suffix=True),
            _exactly("cloudformation:DescribeStacks", "cloudformation:GetTemplate"),
        ),
        evidence=("https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudformation.html",),
    ),
)
