"""The one helpers module of the test suite: small readers of synthesized templates.

Import with ``from helpers import ...`` (pytest puts ``tests/`` on ``sys.path``: the
folder of the rootdir conftest). Fixtures live in ``tests/conftest.py``.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template

#: The environment every test stack deploys to unless a test says otherwise.
PIPELINE_ENV = cdk.Environment(account="111111111111", region="eu-west-1")


def pipeline_stack(app: cdk.App, id: str = "Delivery") -> cdk.Stack:
    """A stack in :data:`PIPELINE_ENV` (pipelines need a concrete environment)."""
    return cdk.Stack(app, id, env=PIPELINE_ENV)


def pipeline_props(template: Template) -> dict[str, Any]:
    """The properties of the template's only ``AWS::CodePipeline::Pipeline``."""
    (pipeline,) = template.find_resources("AWS::CodePipeline::Pipeline").values()
    return pipeline["Properties"]  # type: ignore[no-any-return]


def stage_names(pipeline: dict[str, Any]) -> list[str]:
    """The stage names of a pipeline's properties, in order."""
    return [s["Name"] for s in pipeline["Stages"]]


def pipeline_actions(pipeline: dict[str, Any]) -> list[tuple[str, str, str, int]]:
    """``(stage, action, provider, run order)`` of every action of a pipeline's properties, in order."""
    return [
        (s["Name"], a["Name"], a["ActionTypeId"]["Provider"], a["RunOrder"])
        for s in pipeline["Stages"]
        for a in s["Actions"]
    ]


def policy_statements(template: Template, resource_type: str, logical_prefix: str = "") -> list[dict[str, Any]]:
    """Every statement of the policies of ``resource_type`` whose logical id starts with ``logical_prefix``."""
    return [
        statement
        for logical_id, resource in template.find_resources(resource_type).items()
        if logical_id.startswith(logical_prefix)
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def without_change_check(commands: Any) -> list[str]:
    """Synth commands without the self-mutation change check the library appends last (core/self_mutation.py)."""
    from pipeline_constructs.core.self_mutation import SCRIPT_FILE

    out = [str(c) for c in commands]
    while out and SCRIPT_FILE in out[-1]:
        out.pop()
    return out
