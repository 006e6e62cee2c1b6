"""IAM idioms (core/private/iam_idioms.py): which CDK statement shapes the library may acknowledge."""

from __future__ import annotations


def test_lambda_invoke_idiom_requires_invoke_only():
    from pipeline_constructs.core.private.iam_idioms import idiom_reason

    invoke = {
        "Effect": "Allow",
        "Action": "lambda:InvokeFunction",
        "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": ["F", "Arn"]}, ":*"]]},
    }
    update = {**invoke, "Action": "lambda:UpdateFunctionCode"}
    assert idiom_reason("Resource::<F.Arn>:*", [invoke]) is not None
    assert idiom_reason("Resource::<F.Arn>:*", [update]) is None
    assert idiom_reason("Resource::arn:aws:lambda:eu-west-1:111111111111:function:*", [update]) is None
