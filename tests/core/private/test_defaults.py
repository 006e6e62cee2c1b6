"""Team defaults (cdk.json context): explicit argument > team default > library default."""

from __future__ import annotations

import aws_cdk as cdk
import pytest

from pipeline_constructs.core.private.defaults import resolve_default


def test_team_default_from_context_and_explicit_wins():
    from aws_cdk import aws_logs as logs

    app = cdk.App(context={"pipeline-constructs:logRetentionDays": 731})
    stack = cdk.Stack(app, "S")
    assert resolve_default(stack, "logRetentionDays", None, logs.RetentionDays.ONE_YEAR) == logs.RetentionDays.TWO_YEARS
    explicit = logs.RetentionDays.TEN_YEARS
    assert resolve_default(stack, "logRetentionDays", explicit, logs.RetentionDays.ONE_YEAR) == explicit
    assert resolve_default(cdk.Stack(cdk.App(), "T"), "logRetentionDays", None, logs.RetentionDays.ONE_YEAR) == (
        logs.RetentionDays.ONE_YEAR
    )


def test_bad_team_default_names_the_context_key():
    app = cdk.App(context={"pipeline-constructs:computeType": "HUGE"})
    stack = cdk.Stack(app, "S")
    with pytest.raises(
        ValueError, match=r"context pipeline-constructs:computeType = 'HUGE' is invalid: expected one of"
    ):
        resolve_default(stack, "computeType", None, None)
