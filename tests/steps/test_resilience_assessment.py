"""The Resilience Hub assessment step: the action, the pipeline's one function, its least privilege, compliance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from aws_cdk import pipelines
from aws_cdk.assertions import Template
from helpers import PIPELINE_ENV
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_constructs.core.compliance import unacknowledged_findings
from pipeline_constructs.core.compliance.audit import audit_assembly
from pipeline_constructs.core.conditions import ResilienceAssessment
from pipeline_constructs.core.pipeline import SecurePipeline
from pipeline_constructs.core.pipeline_jobs import CALLS, watchdog_margin_seconds
from pipeline_constructs.core.targets import DeploymentTarget
from pipeline_constructs.core.validation_aws import known_regions
from pipeline_constructs.runtime import resilience_assessment as ra
from pipeline_constructs.steps import resilience_assessment as step_module
from pipeline_constructs.steps.resilience_assessment import (
    CLAIMS_PREFIX,
    CONFIG_ENV,
    RESILIENCE_HUB_ACTIONS,
    TIMEOUT,
    resilience_assessment_step,
)
from pipeline_constructs.testing import deterministic_app

PIPELINE_ACCOUNT = PIPELINE_ENV.account
APP = "arn:aws:resiliencehub:eu-west-1:111111111111:app/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
STAGING = DeploymentTarget("Staging", PIPELINE_ACCOUNT, "eu-west-1", resilience_assessment=ResilienceAssessment(APP))
PROD = DeploymentTarget(
    "Prod",
    "222222222222",
    "eu-central-1",
    resilience_assessment=ResilienceAssessment(APP, stack_names=("Prod-Service",)),
)
LOOKUP_ROLE = "arn:aws:iam::222222222222:role/cdk-hnb659fds-lookup-role-222222222222-eu-central-1"


def _stage(scope: cdk.Stack, target: DeploymentTarget, **stacks: cdk.Environment | None) -> cdk.Stage:
    stage = cdk.Stage(scope, target.name, env=target.env)
    for name, env in (stacks or {"Service": None, "Data": None}).items():
        ssm.StringParameter(cdk.Stack(stage, name, env=env), "Version", string_value="1")
    return stage


def _secure(app: cdk.App | None = None, **kwargs: Any) -> tuple[cdk.Stack, SecurePipeline]:
    stack = cdk.Stack(app or deterministic_app(), "Delivery", env=PIPELINE_ENV)
    synth = pipelines.ShellStep("Synth", input=pipelines.CodePipelineSource.git_hub("o/r", "main"), commands=["x"])
    return stack, SecurePipeline(stack, "Pipeline", synth=synth, targets=[STAGING, PROD], **kwargs)


def _assess(secure: SecurePipeline, target: DeploymentTarget, stage: cdk.Stage, id: str | None = None) -> Any:
    assert target.resilience_assessment is not None
    return resilience_assessment_step(
        secure,
        id or f"Resilience-{target.name}",
        target=target,
        stage=stage,
        assessment=target.resilience_assessment,
    )


class Built:
    def __init__(self, outdir: Path) -> None:
        self.app = deterministic_app(outdir=str(outdir))
        stack, self.secure = _secure(self.app)
        for target in (STAGING, PROD):
            stage = _stage(stack, target)
            self.secure.pipeline.add_stage(stage, post=[_assess(self.secure, target, stage)])
        self.assembly = self.app.synth()
        self.template: dict[str, Any] = self.assembly.get_stack_by_name(stack.stack_name).template
        self.resources: dict[str, Any] = self.template["Resources"]

    def of_type(self, kind: str) -> dict[str, Any]:
        return {k: v for k, v in self.resources.items() if v["Type"] == kind}

    @property
    def function_id(self) -> str:
        (logical_id,) = [
            k
            for k, v in self.of_type("AWS::Lambda::Function").items()
            if v["Properties"]["Handler"] == "resilience_assessment.handler"
        ]
        return logical_id

    def stage(self, name: str) -> dict[str, Any]:
        (pipeline,) = self.of_type("AWS::CodePipeline::Pipeline").values()
        (stage,) = [s for s in pipeline["Properties"]["Stages"] if s["Name"] == name]
        return stage  # type: ignore[no-any-return]

    def action(self, stage: str) -> dict[str, Any]:
        (action,) = [a for a in self.stage(stage)["Actions"] if a["Name"] == f"Resilience-{stage}"]
        return action

    def statements(self) -> dict[str, dict[str, Any]]:
        role = self.resources[self.function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
        (policy,) = [
            p for p in self.of_type("AWS::IAM::ManagedPolicy").values() if p["Properties"]["Roles"] == [{"Ref": role}]
        ]
        return {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    return Built(tmp_path_factory.mktemp("resilience"))


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --------------------------------------------------------------------------- the actions


def test_the_action_runs_after_the_stages_stacks_with_the_assessment_as_user_parameters(built):
    action = built.action("Staging")
    assert action["ActionTypeId"] == {"Category": "Invoke", "Owner": "AWS", "Provider": "Lambda", "Version": "1"}
    assert action["Configuration"]["FunctionName"] == {"Ref": built.function_id}
    assert json.loads(action["Configuration"]["UserParameters"]) == {
        "appArn": APP,
        "account": PIPELINE_ACCOUNT,
        "region": "eu-west-1",
        "stackNames": ["Staging-Service", "Staging-Data"],  # every stack of the stage, by default
    }
    assert action["Namespace"] == "Resilience-Staging"  # AssessmentArn, ComplianceStatus, ResiliencyScore
    deploys = [a["RunOrder"] for a in built.stage("Staging")["Actions"] if a["Name"].endswith(".Deploy")]
    assert len(deploys) == 2
    assert action["RunOrder"] > max(deploys)


def test_another_accounts_action_names_its_lookup_role_and_only_the_named_stacks(built):
    assert json.loads(built.action("Prod")["Configuration"]["UserParameters"]) == {
        "appArn": APP,
        "account": "222222222222",
        "region": "eu-central-1",
        "stackNames": ["Prod-Service"],
        "lookupRoleArn": LOOKUP_ROLE,
    }


def test_one_function_serves_every_assessment_of_the_pipeline(built):
    staging, prod = built.action("Staging"), built.action("Prod")
    assert staging["Configuration"]["FunctionName"] == prod["Configuration"]["FunctionName"]
    assert staging["RoleArn"] == prod["RoleArn"]
    config = json.loads(built.resources[built.function_id]["Properties"]["Environment"]["Variables"][CONFIG_ENV])
    assert config == {
        "claimsPrefix": CLAIMS_PREFIX,
        "assessments": [
            {
                "appArn": APP,
                "account": PIPELINE_ACCOUNT,
                "region": "eu-west-1",
                "stackNames": ["Staging-Service", "Staging-Data"],
                "lookupRoleArn": None,
            },
            {
                "appArn": APP,
                "account": "222222222222",
                "region": "eu-central-1",
                "stackNames": ["Prod-Service"],
                "lookupRoleArn": LOOKUP_ROLE,
            },
        ],
    }


def test_the_handler_accepts_its_configuration_and_each_actions_parameters(built, monkeypatch):
    """What the construct writes is what the handler trusts: each action selects its own configured entry."""
    variables = built.resources[built.function_id]["Properties"]["Environment"]["Variables"]
    config = ra.AssessmentConfig.from_env({CONFIG_ENV: variables[CONFIG_ENV]})
    assert config.claims_prefix == CLAIMS_PREFIX
    selected = [
        config.select({"actionConfiguration": {"configuration": built.action(s)["Configuration"]}})
        for s in ("Staging", "Prod")
    ]
    assert list(selected) == list(config.assessments)
    assert CONFIG_ENV == ra.CONFIG_ENV
    assert ra.Timing().hold_seconds == step_module.HOLD_SECONDS


def test_the_functions_timeout_fits_a_held_invocation_and_its_watchdog(built):
    function = built.resources[built.function_id]["Properties"]
    assert function["Timeout"] == TIMEOUT.to_seconds() <= 900
    # an invocation may hold (poll) its full time and still keep a step's reserve before the watchdog
    assert TIMEOUT.to_seconds() >= watchdog_margin_seconds() + 2 * CALLS.worst_case_seconds() + ra.Timing().hold_seconds
    assert function["Handler"] == "resilience_assessment.handler"
    assert "DeadLetterConfig" in function


def test_the_functions_asset_is_the_handler_and_the_job_machinery_only(built):
    key = built.resources[built.function_id]["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    asset = Path(built.assembly.directory) / f"asset.{key}"
    assert sorted(p.name for p in asset.iterdir()) == ["_pipeline_job.py", "resilience_assessment.py"]
    for file in asset.iterdir():
        imports = [line for line in file.read_text().splitlines() if line.lstrip().startswith(("import ", "from "))]
        assert not [line for line in imports if "aws_cdk" in line or "pipeline_constructs" in line], file.name


# --------------------------------------------------------------------------- least privilege


def test_the_role_may_call_resilience_hub_on_the_app_only(built):
    statements = built.statements()
    hub = [s for s in statements.values() if any(a.startswith("resiliencehub:") for a in _listed(s["Action"]))]
    assert hub == [statements["ResilienceHubApps"]]
    assert "resiliencehub:StartAppAssessment" in hub[0]["Action"]
    assert sorted(hub[0]["Action"]) == sorted(RESILIENCE_HUB_ACTIONS)
    assert hub[0]["Resource"] == APP  # every one of them takes the application resource type (SAR)


def test_the_role_describes_only_its_accounts_stacks_and_assumes_only_the_lookup_role(built):
    statements = built.statements()
    assert statements["DescribeTargetStacks"]["Action"] == "cloudformation:DescribeStacks"
    assert statements["DescribeTargetStacks"]["Resource"] == [
        "arn:aws:cloudformation:eu-west-1:111111111111:stack/Staging-Service/*",
        "arn:aws:cloudformation:eu-west-1:111111111111:stack/Staging-Data/*",
    ]
    assert statements["AssumeLookupRoles"] == {
        "Action": "sts:AssumeRole",
        "Effect": "Allow",
        "Resource": LOOKUP_ROLE,
        "Sid": "AssumeLookupRoles",
    }
    assert [sid for sid, s in statements.items() if "*" in _listed(s["Resource"])] == ["NoResourceLevelPermissions"]
    assumes = [sid for sid, s in statements.items() if "sts:AssumeRole" in _listed(s["Action"])]
    assert assumes == ["AssumeLookupRoles"]


def test_codepipeline_invokes_the_function_with_a_role_that_trusts_only_the_pipeline(built):
    role_id = built.action("Staging")["RoleArn"]["Fn::GetAtt"][0]
    role = built.resources[role_id]["Properties"]
    pipeline_role = next(iter(built.of_type("AWS::CodePipeline::Pipeline").values()))["Properties"]["RoleArn"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"AWS": pipeline_role}}
    ]
    granted = [
        (p["Properties"]["PolicyDocument"]["Statement"], p["Type"])
        for p in built.resources.values()
        if p["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    assert granted == [
        (
            [
                {
                    "Action": "lambda:InvokeFunction",
                    "Effect": "Allow",
                    "Resource": {"Fn::GetAtt": [built.function_id, "Arn"]},
                    "Sid": "InvokeAssessment",
                }
            ],
            "AWS::IAM::ManagedPolicy",
        )
    ]
    assert built.of_type("AWS::Lambda::Permission") == {}
    # the pipeline's role may assume it
    pipeline_role_id = pipeline_role["Fn::GetAtt"][0]
    assumable = [
        r
        for p in built.of_type("AWS::IAM::Policy").values()
        if {"Ref": pipeline_role_id} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "sts:AssumeRole"
        for r in _listed(s["Resource"])
    ]
    assert {"Fn::GetAtt": [role_id, "Arn"]} in assumable


def test_no_unacknowledged_findings_in_the_tree_or_the_templates(built):
    assert [str(f) for f in unacknowledged_findings(built.app)] == []
    audit = audit_assembly(built.assembly.directory, bare_rule_covers_findings=False)
    assert audit.errors == []
    assert [str(f) for f in audit.unacknowledged] == []


def test_each_stack_wildcard_is_acknowledged_with_its_own_reason(built):
    role = built.resources[built.function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    (policy,) = [
        p for p in built.of_type("AWS::IAM::ManagedPolicy").values() if p["Properties"]["Roles"] == [{"Ref": role}]
    ]
    acknowledged = {
        r["id"]: r["reason"] for r in policy["Metadata"]["cdk_nag"]["rules_to_suppress"] if "cloudformation" in r["id"]
    }
    assert acknowledged == {
        f"AwsSolutions-IAM5[Resource::arn:aws:cloudformation:eu-west-1:111111111111:stack/{name}/*]": (
            f"cloudformation:DescribeStacks only, on stack {name} of account 111111111111 in eu-west-1: a stack's ARN "
            "ends in an id CloudFormation generates when it creates the stack, so only its name is known at synth."
        )
        for name in ("Staging-Service", "Staging-Data")
    }


# --------------------------------------------------------------------------- building it


def test_the_same_assessment_twice_is_configured_and_granted_once():
    stack, secure = _secure()
    stage = _stage(stack, STAGING)
    first = _assess(secure, STAGING, stage, "First")
    second = _assess(secure, STAGING, stage, "Second")
    assert first.function is second.function
    hub = step_module.ResilienceAssessments.of(secure)
    assert len(hub.entries) == 1
    resources = stack.resolve(hub.job.policy.document.to_json())["Statement"]
    (describe,) = [s for s in resources if s.get("Sid") == "DescribeTargetStacks"]
    assert len(describe["Resource"]) == 2


def test_the_lookup_role_follows_the_teams_bootstrap_qualifier():
    stack, secure = _secure(deterministic_app(context={"@aws-cdk/core:bootstrapQualifier": "team1"}))
    step = _assess(secure, PROD, _stage(stack, PROD, Service=None))
    assert step.user_parameters["lookupRoleArn"] == (
        "arn:aws:iam::222222222222:role/cdk-team1-lookup-role-222222222222-eu-central-1"
    )


@pytest.mark.parametrize(
    "synthesizer",
    [lambda: cdk.DefaultStackSynthesizer(qualifier="team1"), cdk.LegacyStackSynthesizer],
    ids=["given-instance", "legacy"],
)
def test_another_accounts_stack_must_name_its_lookup_role_before_synth(synthesizer):
    stack, secure = _secure()
    stage = cdk.Stage(stack, "Prod", env=PROD.env)
    ssm.StringParameter(cdk.Stack(stage, "Service", synthesizer=synthesizer()), "V", string_value="1")
    with pytest.raises(ValueError, match=r"does not name that role before synth.*@aws-cdk/core:bootstrapQualifier"):
        _assess(secure, PROD, stage)


def test_the_function_follows_the_pipelines_removal_policy():
    stack, secure = _secure(removal_policy=cdk.RemovalPolicy.DESTROY)
    _assess(secure, STAGING, _stage(stack, STAGING))
    hub = step_module.ResilienceAssessments.of(secure)
    log_group = hub.job.log_group.node.default_child
    assert isinstance(log_group, cdk.CfnResource)
    assert log_group.cfn_options.deletion_policy == cdk.CfnDeletionPolicy.DELETE


def test_an_app_outside_the_pipelines_account_is_refused():
    stack, secure = _secure()
    other = ResilienceAssessment("arn:aws:resiliencehub:eu-west-1:999999999999:app/0a1b2c3d")
    with pytest.raises(
        ValueError,
        match=r"targets\['Staging'\]\.resilience_assessment\.app_arn = .*999999999999.* "
        r"is invalid: expected a Resilience Hub app in the pipeline's account 111111111111",
    ):
        resilience_assessment_step(secure, "R", target=STAGING, stage=_stage(stack, STAGING), assessment=other)


def test_a_stack_name_that_is_not_the_stages_is_refused_naming_the_stacks_there():
    stack, secure = _secure()
    wrong = ResilienceAssessment(APP, stack_names=("Staging-Service", "Nope"))
    with pytest.raises(
        ValueError,
        match=r"resilience_assessment\.stack_names\[1\] = 'Nope' is invalid: expected the stack_name of a stack of "
        r"stage Delivery/Staging in 111111111111/eu-west-1: \['Staging-Data', 'Staging-Service'\]",
    ):
        resilience_assessment_step(secure, "R", target=STAGING, stage=_stage(stack, STAGING), assessment=wrong)


def test_stacks_outside_the_targets_region_are_not_assessed():
    stack, secure = _secure()
    stage = _stage(
        stack, STAGING, Service=None, Certificate=cdk.Environment(account=PIPELINE_ACCOUNT, region="us-east-1")
    )
    assert _assess(secure, STAGING, stage).user_parameters["stackNames"] == ["Staging-Service"]
    named = ResilienceAssessment(APP, stack_names=("Staging-Certificate",))
    with pytest.raises(ValueError, match=r"stack_names\[0\] = 'Staging-Certificate' is invalid"):
        resilience_assessment_step(secure, "R2", target=STAGING, stage=stage, assessment=named)


def test_a_stage_with_nothing_to_assess_is_refused():
    stack, secure = _secure()
    stage = _stage(stack, STAGING, Certificate=cdk.Environment(account=PIPELINE_ACCOUNT, region="us-east-1"))
    with pytest.raises(ValueError, match="has no stack in the target's account 111111111111 and region eu-west-1"):
        _assess(secure, STAGING, stage)


def test_the_functions_environment_limit_is_checked_at_construct_time():
    stack, secure = _secure()
    names = {f"Service{i:02d}WithAQuiteLongStackNameToFillTheEnvironment": None for i in range(4)}
    added = 0

    def assess(i: int) -> None:
        target = DeploymentTarget(
            f"T{i}", PIPELINE_ACCOUNT, "eu-west-1", resilience_assessment=ResilienceAssessment(APP)
        )
        _assess(secure, target, _stage(stack, target, **names))

    def fill() -> None:
        nonlocal added
        while added < 30:
            assess(added)
            added += 1

    with pytest.raises(
        ValueError, match=r"resilience_assessment\.app_arn = .* Lambda allows 4096 bytes of environment"
    ):
        fill()
    assert 5 <= added < 30
    hub = step_module.ResilienceAssessments.of(secure)
    assert len(hub.entries) == added
    # what was accepted fits: the synthesized environment (the bucket name counted at its longest)
    logical = stack.get_logical_id(hub.job.function.node.default_child)  # type: ignore[arg-type]
    variables = Template.from_stack(stack).to_json()["Resources"][logical]["Properties"]["Environment"]["Variables"]
    size = sum(len(k) + (len(v) if isinstance(v, str) else 63) for k, v in variables.items())
    assert 4096 - 400 < size <= 4096


def test_something_else_than_an_assessment_is_refused():
    stack, secure = _secure()
    with pytest.raises(
        ValueError, match=r"resilience_assessment = 'arn:.*' is invalid: expected a ResilienceAssessment"
    ):
        resilience_assessment_step(secure, "R", target=STAGING, stage=_stage(stack, STAGING), assessment=APP)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the value object


_REGIONS = sorted(r for r in known_regions() if r.count("-") >= 2)


@settings(deadline=None, max_examples=50)
@given(
    partition=st.sampled_from(["aws", "aws-cn", "aws-us-gov"]),
    region=st.sampled_from(_REGIONS),
    account=st.from_regex(r"[0-9]{12}", fullmatch=True),
    app_id=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,60}", fullmatch=True),
)
def test_any_resilience_hub_app_arn_is_accepted(partition, region, account, app_id):
    arn = f"arn:{partition}:resiliencehub:{region}:{account}:app/{app_id}"
    assessment = ResilienceAssessment(arn)
    assert (assessment.partition, assessment.region, assessment.account) == (partition, region, account)


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:resiliencehub:eu-west-1:11111111111:app/x",  # 11 digits
        "arn:aws:resiliencehub:eu-west-9:111111111111:app/x",  # no such region
        "arn:aws:s3:eu-west-1:111111111111:app/x",  # another service
        "arn:aws:resiliencehub:eu-west-1:111111111111:resiliency-policy/x",  # another resource type
        "arn:aws:resiliencehub:eu-west-1:111111111111:app/",  # no id
        "arn:aws-iso:resiliencehub:eu-west-1:111111111111:app/x",  # another partition
        "arn:aws:resiliencehub:eu-west-1:111111111111:app/x\n",
        "${Token[TOKEN.1]}",
    ],
)
def test_anything_else_is_refused_as_an_app_arn(arn):
    with pytest.raises(ValueError, match=r"ResilienceAssessment: app_arn = .* is invalid"):
        ResilienceAssessment(arn)


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (("1stack",), r"stack_names\[0\] = '1stack' is invalid: expected a CloudFormation stack name"),
        (("a_b",), r"stack_names\[0\] = 'a_b' is invalid"),
        (("a" * 129,), r"stack_names\[0\] = .* is invalid"),
        ((), r"stack_names = \[\] is invalid: expected a tuple of stack names, with at least one item"),
        ("Service", r"stack_names = 'Service' is invalid"),
        (("A", "A"), r"stack_names.*'A'"),
    ],
)
def test_stack_names_follow_cloudformations_rules(names, message):
    with pytest.raises((ValueError, TypeError), match=message):
        ResilienceAssessment(APP, stack_names=names)


def test_stack_names_are_kept_as_a_tuple():
    assert ResilienceAssessment(APP, stack_names=["A", "B-2"]).stack_names == ("A", "B-2")  # type: ignore[arg-type]


def test_a_region_with_a_longer_prefix_is_accepted():
    # hypothesis found it: the European Sovereign Cloud's regions start with four letters
    assessment = ResilienceAssessment("arn:aws:resiliencehub:eusc-de-east-1:111111111111:app/x")
    assert assessment.region == "eusc-de-east-1"


def test_the_functions_logs_follow_the_pipelines_retention_and_removal_policy():
    stack, secure = _secure(log_retention=logs.RetentionDays.THREE_MONTHS, removal_policy=cdk.RemovalPolicy.DESTROY)
    _assess(secure, STAGING, _stage(stack, STAGING))
    template = Template.from_stack(stack).to_json()
    groups = {
        k: v
        for k, v in template["Resources"].items()
        if v["Type"] == "AWS::Logs::LogGroup" and k.startswith("PipelineResilienceAssessment")
    }
    assert groups
    assert {v["Properties"]["RetentionInDays"] for v in groups.values()} == {90}
    assert {v["DeletionPolicy"] for v in groups.values()} == {"Delete"}
