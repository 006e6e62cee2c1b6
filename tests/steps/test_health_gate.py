"""The AWS Health gate step: one health-check function per pipeline, Lambda invoke actions with its parameters.

A small SecurePipeline deploys a stage and checks AWS Health in a ``Prod-Health`` wave: the template has
the Lambda actions with the user parameters the runtime parses, the function's role may call
``health:DescribeEvents`` and nothing broader, two steps share one function and one invoke role, and the
five cdk-nag packs (also the template-only check) leave nothing unacknowledged.
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from aws_cdk import pipelines
from helpers import PIPELINE_ENV

from pipeline_constructs.core.compliance import unacknowledged_findings
from pipeline_constructs.core.compliance.audit import audit_assembly
from pipeline_constructs.core.compliance.iam import NO_RESOURCE_LEVEL_PERMISSIONS, iam_statement_problems
from pipeline_constructs.core.conditions import HealthGate
from pipeline_constructs.core.pipeline import SecurePipeline
from pipeline_constructs.core.pipeline_jobs import job_function_timeout
from pipeline_constructs.runtime import health_gate as runtime
from pipeline_constructs.steps.health_gate import (
    CLAIMS_PREFIX,
    HEALTH_CHECK_TIMEOUT,
    SERVICE_CODES,
    health_check_step,
    health_services,
)
from pipeline_constructs.steps.lambda_invoke import LambdaInvokeStep
from pipeline_constructs.testing import deterministic_app

PROD = cdk.Environment(account="111111111111", region="eu-central-1")


def _service_stage(app: cdk.App, id: str = "Prod", env: cdk.Environment = PROD) -> cdk.Stage:
    stage = cdk.Stage(app, id, env=env)
    stack = cdk.Stack(stage, "Svc")
    handler = lambda_.Function(
        stack,
        "Fn",
        runtime=lambda_.Runtime.PYTHON_3_14,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"),
    )
    dynamodb.TableV2(stack, "Table", partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING))
    apigateway.LambdaRestApi(stack, "Api", handler=handler)
    ssm.StringParameter(stack, "Version", string_value="1")  # SSM: not a service the gate maps
    return stage


def _pipeline(app: cdk.App, **kwargs: Any) -> tuple[cdk.Stack, SecurePipeline]:
    stack = cdk.Stack(app, "Delivery", env=PIPELINE_ENV)
    synth = pipelines.ShellStep("Synth", input=pipelines.CodePipelineSource.git_hub("o/r", "main"), commands=["x"])
    return stack, SecurePipeline(stack, "P", synth=synth, **kwargs)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Any]:
    """A pipeline deploying Prod after two health checks (Prod's region and a second region), synthesized once."""
    app = deterministic_app(outdir=str(tmp_path_factory.mktemp("health-gate")))
    stack, secure = _pipeline(app, log_retention=logs.RetentionDays.THREE_MONTHS)
    stage = _service_stage(app)
    services = health_services(stage)
    steps = [
        health_check_step(secure, "HealthCheck-Prod", region="eu-central-1", services=services),
        health_check_step(secure, "HealthCheck-ProdUs", region="us-west-2", services=("LAMBDA",), include_global=False),
    ]
    secure.pipeline.add_wave("Prod-Health", post=steps)
    secure.pipeline.add_stage(stage)
    assembly = app.synth()
    template = assembly.get_stack_by_name(stack.stack_name).template
    return {"app": app, "stack": stack, "secure": secure, "template": template, "services": services, "steps": steps}


def _resources(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _health_function_id(template: dict[str, Any]) -> str:
    (logical_id,) = [
        k
        for k, v in _resources(template, "AWS::Lambda::Function").items()
        if v["Properties"].get("Handler") == "health_gate.handler"
    ]
    return logical_id


def _actions(template: dict[str, Any], stage: str) -> list[dict[str, Any]]:
    (props,) = [r["Properties"] for r in _resources(template, "AWS::CodePipeline::Pipeline").values()]
    (found,) = [s for s in props["Stages"] if s["Name"] == stage]
    return found["Actions"]


def _role_statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    return [
        s
        for policy in _resources(template, "AWS::IAM::ManagedPolicy").values()
        if {"Ref": role_id} in policy["Properties"].get("Roles", [])
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ] + [
        s
        for policy in _resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"].get("Roles", [])
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --------------------------------------------------------------------------- the template


def test_the_health_stage_invokes_the_function_with_the_parameters_the_runtime_parses(built):
    template = built["template"]
    function_id = _health_function_id(template)
    actions = {a["Name"]: a for a in _actions(template, "Prod-Health")}
    assert set(actions) == {"HealthCheck-Prod", "HealthCheck-ProdUs"}
    for action in actions.values():
        assert action["ActionTypeId"] == {"Category": "Invoke", "Owner": "AWS", "Provider": "Lambda", "Version": "1"}
        assert action["Configuration"]["FunctionName"] == {"Ref": function_id}
        assert "InputArtifacts" not in action
    prod = json.loads(actions["HealthCheck-Prod"]["Configuration"]["UserParameters"])
    assert prod == {"region": "eu-central-1", "services": list(built["services"]), "includeGlobal": True}
    us = json.loads(actions["HealthCheck-ProdUs"]["Configuration"]["UserParameters"])
    assert us == {"region": "us-west-2", "services": ["LAMBDA"], "includeGlobal": False}
    # What the handler accepts, parsed by the handler's own parser.
    config = runtime.GateConfig(artifact_bucket="b", claims_prefix=CLAIMS_PREFIX, partition="aws")
    for raw in (prod, us):
        data = {"actionConfiguration": {"configuration": {"UserParameters": json.dumps(raw)}}}
        assert runtime.GateParameters.from_job(data, config).region == raw["region"]
    names = [s["Name"] for s in pipeline_props_of(template)["Stages"]]
    assert names.index("Prod-Health") == names.index("Prod") - 1  # right before the deployment


def pipeline_props_of(template: dict[str, Any]) -> dict[str, Any]:
    (props,) = [r["Properties"] for r in _resources(template, "AWS::CodePipeline::Pipeline").values()]
    return props


def test_two_steps_share_one_function_and_one_invoke_role(built):
    template = built["template"]
    assert len([k for k in _resources(template, "AWS::Lambda::Function") if "HealthCheck" in k]) == 1
    roles = {a["RoleArn"]["Fn::GetAtt"][0] for a in _actions(template, "Prod-Health")}
    assert len(roles) == 1
    (invoke_role,) = roles
    trust = template["Resources"][invoke_role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    (pipeline_id,) = _resources(template, "AWS::CodePipeline::Pipeline")
    pipeline_role = template["Resources"][pipeline_id]["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    assert [s["Principal"] for s in trust] == [{"AWS": {"Fn::GetAtt": [pipeline_role, "Arn"]}}]
    statements = _role_statements(template, invoke_role)
    assert statements == [
        {
            "Action": "lambda:InvokeFunction",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [_health_function_id(template), "Arn"]},
            "Sid": "InvokeHealthCheck",
        }
    ]  # immutable: no lambda:ListFunctions on '*', no artifact read


def test_the_function_role_may_call_describe_events_and_nothing_broader(built):
    template = built["template"]
    function = template["Resources"][_health_function_id(template)]["Properties"]
    role_id = function["Role"]["Fn::GetAtt"][0]
    statements = _role_statements(template, role_id)
    health = [s for s in statements if any(a.startswith("health:") for a in _as_list(s["Action"]))]
    assert health == [
        {"Action": "health:DescribeEvents", "Effect": "Allow", "Resource": "*", "Sid": "DescribeHealthEvents"}
    ]
    star = {a for s in statements if s["Resource"] == "*" for a in _as_list(s["Action"])}
    assert star <= set(NO_RESOURCE_LEVEL_PERMISSIONS), star
    assert "health:DescribeEvents" in NO_RESOURCE_LEVEL_PERMISSIONS
    assert NO_RESOURCE_LEVEL_PERMISSIONS["health:DescribeEvents"].endswith("list_awshealthapisandnotifications.html")
    actions = {a for s in statements for a in _as_list(s["Action"])}
    assert not any(a.endswith("*") for a in actions), actions
    assert actions - {"health:DescribeEvents"} <= {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "sqs:SendMessage",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "s3:PutObject",
        "s3:GetObject",
        "codepipeline:PutJobSuccessResult",
        "codepipeline:PutJobFailureResult",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    assert iam_statement_problems(template) == []


def test_the_function_is_configured_with_its_claims_partition_and_timeout(built):
    template = built["template"]
    function = template["Resources"][_health_function_id(template)]["Properties"]
    config = function["Environment"]["Variables"]["HEALTH_GATE_CONFIG"]
    rendered = json.dumps(config)
    assert CLAIMS_PREFIX in rendered
    assert "AWS::Partition" in rendered
    # Room for the claim, its read, every page on every endpoint and the claim record, at their worst case.
    calls = 2 + runtime.MAX_PAGES * max(len(e) for e in runtime.ENDPOINTS.values()) + 1
    assert function["Timeout"] == HEALTH_CHECK_TIMEOUT.to_seconds() == job_function_timeout(calls).to_seconds()
    assert function["Environment"]["Variables"]["ARTIFACT_BUCKET"]
    # Log retention and removal policy are the pipeline's.
    (log_group,) = [
        v for k, v in _resources(template, "AWS::Logs::LogGroup").items() if k.startswith("PHealthCheckFunction")
    ]
    assert log_group["Properties"]["RetentionInDays"] == 90  # the pipeline's log_retention (THREE_MONTHS)
    assert log_group["DeletionPolicy"] == "Retain"


def test_nothing_of_the_pipeline_is_left_unacknowledged(built):
    """The five packs, in the app and template-only (strict), over the pipeline stack: the gate's function,
    queue, key, log group and roles included. (The sample workload in ``Prod`` is not the library's.)"""
    findings = [str(f) for f in unacknowledged_findings(built["app"]) if f.path.startswith("Delivery/")]
    assert findings == []
    audit = audit_assembly(built["app"].outdir, bare_rule_covers_findings=False)
    assert audit.errors == []
    assert any(t.startswith("Delivery") for t in audit.templates)
    assert [str(f) for f in audit.unacknowledged if f.template.startswith("Delivery")] == []
    assert any("HealthCheck" in f.logical_id for f in audit.acknowledged)  # the audit did see the function


def test_the_step_is_a_lambda_invoke_step_named_by_its_id(built):
    step = built["steps"][0]
    assert isinstance(step, LambdaInvokeStep)
    assert step.id == "HealthCheck-Prod"
    assert step.user_parameters == {
        "region": "eu-central-1",
        "services": list(built["services"]),
        "includeGlobal": True,
    }


# --------------------------------------------------------------------------- health_services


def test_health_services_maps_the_stage_resource_types_and_adds_cloudformation(built):
    # Lambda, DynamoDB, API Gateway (and the IAM role, SSM parameter, CDK metadata: skipped).
    assert built["services"] == ("APIGATEWAY", "CLOUDFORMATION", "DYNAMODB", "LAMBDA")


def test_health_services_of_a_stage_without_mapped_resources_is_cloudformation():
    app = deterministic_app()
    stage = cdk.Stage(app, "Empty", env=PROD)
    ssm.StringParameter(cdk.Stack(stage, "S"), "P", string_value="1")
    assert health_services(stage) == ("CLOUDFORMATION",)


def test_health_services_walks_nested_stacks_and_keeps_at_most_ten():
    app = deterministic_app()
    stage = cdk.Stage(app, "Big", env=PROD)
    stack = cdk.Stack(stage, "S")
    nested = cdk.NestedStack(stack, "Nested")
    sqs.Queue(nested, "Q")
    assert health_services(stage) == ("CLOUDFORMATION", "SQS")
    for i, namespace in enumerate(SERVICE_CODES):
        cdk.CfnResource(stack, f"R{i}", type=f"AWS::{namespace}::Thing")
    services = health_services(stage)
    assert len(services) == 10
    assert list(services) == sorted(services)
    assert "CLOUDFORMATION" in services
    assert "LAMBDA" in services  # first in priority order
    assert "KMS" not in services  # last in priority order
    HealthGate(services=services)  # a valid HealthGate, as the runtime would accept it


def test_health_services_needs_a_stage():
    with pytest.raises(TypeError, match="health_services: stage"):
        health_services(cdk.Stack(deterministic_app(), "NotAStage"))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"region": "Europe"}, ValueError, r"health_check_step\('HealthCheck-X'\): region = 'Europe' is invalid"),
        ({"services": ()}, ValueError, r"services = \[\] is invalid: .*at least one item"),
        ({"services": "LAMBDA"}, TypeError, r"services = 'LAMBDA' is invalid: .*not a single string"),
        ({"services": ("lambda",)}, ValueError, r"services\[0\] = 'lambda' is invalid: expected an AWS Health service"),
        (
            {"services": tuple(f"S{i}" for i in range(11))},
            ValueError,
            r"services = '<11 items>' is invalid: .*at most 10",
        ),
        ({"services": ("LAMBDA", "LAMBDA")}, ValueError, r"services .*unique"),
        ({"include_global": "yes"}, TypeError, r"include_global = 'yes' is invalid"),
    ],
)
def test_bad_step_props_are_named(kwargs, error, message):
    _stack, secure = _pipeline(deterministic_app())
    props = {"region": "eu-west-1", "services": ("LAMBDA",), **kwargs}
    with pytest.raises(error, match=message):
        health_check_step(secure, "HealthCheck-X", **props)
    assert secure.node.try_find_child("HealthCheck") is None  # nothing created for a refused step


def test_a_bad_action_name_creates_nothing():
    _stack, secure = _pipeline(deterministic_app())
    with pytest.raises(ValueError, match=r"health_check_step: id = 'Health Check!' is invalid"):
        health_check_step(secure, "Health Check!", region="eu-west-1", services=("LAMBDA",))
    assert secure.node.try_find_child("HealthCheck") is None


def test_secure_must_be_a_secure_pipeline():
    stack = cdk.Stack(deterministic_app(), "S", env=PIPELINE_ENV)
    with pytest.raises(TypeError, match="secure"):
        health_check_step(stack, "HealthCheck-X", region="eu-west-1", services=("LAMBDA",))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("services", "message"),
    [
        (("lambda",), r"HealthGate: services\[0\] = 'lambda' is invalid"),
        (("A",), r"services\[0\] = 'A' is invalid"),
        (tuple(f"S{i}" for i in range(11)), r"at most 10"),
        (("LAMBDA", "LAMBDA"), r"unique"),
        ((), r"at least one item"),
    ],
)
def test_health_gate_services_are_health_service_codes(services, message):
    with pytest.raises(ValueError, match=message):
        HealthGate(services=services)


def test_health_gate_accepts_health_codes_and_none():
    assert HealthGate(services=["LAMBDA", "ELASTICLOADBALANCING"]).services == ("LAMBDA", "ELASTICLOADBALANCING")
    assert HealthGate().services is None
