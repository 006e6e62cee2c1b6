"""The reasons catalogue: texts round-trip, and each check refutes a claim the template contradicts."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_constructs.core.compliance.iam import NO_RESOURCE_LEVEL_PERMISSIONS, iam_statement_problems
from pipeline_constructs.core.compliance.reasons import REASONS, AckContext, match_reason, reason

_VALUE = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9:/_.*<>-]{0,30}", fullmatch=True)


@pytest.mark.parametrize("reason_id", sorted(REASONS))
@settings(deadline=None, max_examples=25)
@given(data=st.data())
def test_text_and_parse_round_trip_and_match_only_this_reason(reason_id, data):
    entry = REASONS[reason_id]
    params = {name: data.draw(_VALUE, label=name) for name in entry.placeholders}
    text = reason(reason_id, **params)
    assert entry.parse(text) is not None
    assert [r.id for r in match_reason(text)] == [reason_id]


def test_missing_placeholder_is_an_error():
    with pytest.raises(ValueError, match="reason 'bucket-objects': missing \\['bucket'\\]"):
        reason("bucket-objects")


def _policy(*statements: dict, roles: list | None = None) -> dict:
    return {
        "Type": "AWS::IAM::Policy",
        "Properties": {"PolicyDocument": {"Statement": list(statements)}, "Roles": roles or [{"Ref": "Role"}]},
    }


def _ctx(resources: dict, logical_id: str, rule: str, text: str) -> AckContext:
    return AckContext({"Resources": resources}, logical_id, rule, text)


ROLE = {"Type": "AWS::IAM::Role", "Properties": {}}
BUCKET = {"Type": "AWS::S3::Bucket", "Properties": {}}
OBJECTS = {"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket", "Arn"]}, "/*"]]}


def test_bucket_objects_holds_for_a_bucket_and_fails_for_anything_else():
    text = reason("bucket-objects", bucket="Bucket")
    rule = "AwsSolutions-IAM5[Resource::<Bucket.Arn>/*]"
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": OBJECTS}
    good = {"Bucket": BUCKET, "Role": ROLE, "P": _policy(statement)}
    assert REASONS["bucket-objects"].verify(_ctx(good, "P", rule, text)) is None
    queue = {**good, "Bucket": {"Type": "AWS::SQS::Queue"}}
    assert "not an AWS::S3::Bucket" in str(REASONS["bucket-objects"].verify(_ctx(queue, "P", rule, text)))
    mixed = {**good, "P": _policy({**statement, "Action": ["s3:GetObject", "kms:Decrypt"]})}
    assert "non-S3" in str(REASONS["bucket-objects"].verify(_ctx(mixed, "P", rule, text)))
    assert "does not apply" in str(REASONS["bucket-objects"].verify(_ctx(good, "P", "AwsSolutions-S1", text)))


def test_grant_actions_fail_when_a_statement_carrying_them_is_on_star():
    text = reason("grant-actions", action="s3:GetObject*", purpose="read objects")
    rule = "AwsSolutions-IAM5[Action::s3:GetObject*]"
    scoped = {"Effect": "Allow", "Action": ["s3:GetObject*"], "Resource": [{"Fn::GetAtt": ["Bucket", "Arn"]}, OBJECTS]}
    resources = {"Bucket": BUCKET, "Role": ROLE, "P": _policy(scoped)}
    assert REASONS["grant-actions"].verify(_ctx(resources, "P", rule, text)) is None
    resources["P"] = _policy(scoped, {"Effect": "Allow", "Action": "s3:GetObject*", "Resource": "*"})
    assert "is on ['*']" in str(REASONS["grant-actions"].verify(_ctx(resources, "P", rule, text)))


@settings(deadline=None)
@given(
    st.sets(st.sampled_from(sorted(NO_RESOURCE_LEVEL_PERMISSIONS)), min_size=1),
    st.sampled_from(["s3:GetObject", "iam:PassRole", "lambda:InvokeFunction"]),
)
def test_resource_star_holds_only_for_actions_without_resource_level_permissions(free, scoped_action):
    from pipeline_constructs.core.compliance.reasons import describe_star_statements

    statement = {"Effect": "Allow", "Action": sorted(free), "Resource": "*"}
    resources = {"Role": ROLE, "P": _policy(statement)}
    text = reason("resource-star", what=describe_star_statements([resources["P"]["Properties"]["PolicyDocument"]]))
    rule = "AwsSolutions-IAM5[Resource::*]"
    assert REASONS["resource-star"].verify(_ctx(resources, "P", rule, text)) is None
    wider = {"Role": ROLE, "P": _policy({**statement, "Action": [*sorted(free), scoped_action]})}
    assert REASONS["resource-star"].verify(_ctx(wider, "P", rule, text)) is not None
    assert iam_statement_problems({"Resources": wider})[0].rule == "unconditioned-star-resource"


def test_inline_policy_of_one_role_fails_when_shared():
    text = reason("inline-policy-of-one-role", role="Role")
    rule = "NIST.800.53.R5-IAMNoInlinePolicy"
    statement = {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": {"Fn::GetAtt": ["Q", "Arn"]}}
    one = {"Role": ROLE, "P": _policy(statement)}
    assert REASONS["inline-policy-of-one-role"].verify(_ctx(one, "P", rule, text)) is None
    two = {"Role": ROLE, "Other": ROLE, "P": _policy(statement, roles=[{"Ref": "Role"}, {"Ref": "Other"}])}
    assert "not to role Role alone" in str(REASONS["inline-policy-of-one-role"].verify(_ctx(two, "P", rule, text)))


def test_dead_letter_queue_claim_needs_the_function_to_point_at_the_queue():
    text = reason("queue-is-dead-letter-queue", function="Fn")
    rule = "Serverless-SQSRedrivePolicy"
    function = {
        "Type": "AWS::Lambda::Function",
        "Properties": {"DeadLetterConfig": {"TargetArn": {"Fn::GetAtt": ["Q", "Arn"]}}},
    }
    resources = {"Q": {"Type": "AWS::SQS::Queue"}, "Other": {"Type": "AWS::SQS::Queue"}, "Fn": function}
    assert REASONS["queue-is-dead-letter-queue"].verify(_ctx(resources, "Q", rule, text)) is None
    assert REASONS["queue-is-dead-letter-queue"].verify(_ctx(resources, "Other", rule, text)) is not None


def test_only_invoker_counts_every_principal_that_may_invoke():
    text = reason("function-invoked-only-by", role="Role")
    rule = "NIST.800.53.R5-LambdaConcurrency"
    invoke = {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": {"Fn::GetAtt": ["Fn", "Arn"]}}
    resources = {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {}}, "Role": ROLE, "P": _policy(invoke)}
    assert REASONS["function-invoked-only-by"].verify(_ctx(resources, "Fn", rule, text)) is None
    resources["Perm"] = {
        "Type": "AWS::Lambda::Permission",
        "Properties": {"FunctionName": {"Ref": "Fn"}, "Principal": "events.amazonaws.com"},
    }
    assert "events.amazonaws.com" in str(REASONS["function-invoked-only-by"].verify(_ctx(resources, "Fn", rule, text)))


def test_iam_rules_catch_each_forbidden_shape():
    template = {
        "Resources": {
            "Trust": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "sts:AssumeRole",
                                "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                            }
                        ]
                    },
                    "ManagedPolicyArns": ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
                },
            },
            "P": _policy(
                {
                    "Effect": "Allow",
                    "Action": "sts:AssumeRole",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"x": "y"}},
                },
                {"Effect": "Allow", "Action": ["codebuild:*"], "Resource": "*"},
            ),
        }
    }
    rules = sorted({p.rule for p in iam_statement_problems(template)})
    assert rules == [
        "account-root-trust",
        "managed-basic-execution-role",
        "star-resource-forbidden",
        "unconditioned-star-resource",
    ]
    detail = [p.detail for p in iam_statement_problems(template) if p.rule == "star-resource-forbidden"]
    assert sorted(detail) == ["codebuild:StartBuild", "sts:AssumeRole"]
    conditioned_root = template["Resources"]["Trust"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    conditioned_root["Condition"] = {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/x"}}
    assert "account-root-trust" not in {p.rule for p in iam_statement_problems(template)}


def test_catalogue_texts_are_specific():
    for entry in REASONS.values():
        assert len(re.sub(r"{\w+}", "", entry.template)) >= 40, entry.id
        assert entry.rules


@pytest.mark.parametrize("module", ["reasons_iam", "reasons_scopes", "reasons_resources", "reasons_lambda"])
def test_any_catalogue_module_can_be_imported_first(module):
    import subprocess
    import sys

    code = (
        f"import pipeline_constructs.core.compliance.{module}\n"
        "from pipeline_constructs.core.compliance.reasons import REASONS\n"
        "print(len(REASONS))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) == len(REASONS)
