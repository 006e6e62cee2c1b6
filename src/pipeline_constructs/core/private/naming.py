"""Default physical names: readable, unique per pipeline, within the services' rules.

* :func:`default_pipeline_name`: an unnamed pipeline is called after its stack and construct
  (``DotnetLambdaPipeline-Delivery``), not ``Delivery/Pipeline/Pipeline/Pipeline`` or a
  CloudFormation-generated name;
* :func:`stage_stack_name`: the stacks a pipeline deploys are called after the target and the
  pipeline (``Dev-dotnet-lambda-Service``), so two pipelines of one app or one account never
  share (and overwrite) a stack.
"""

from __future__ import annotations

import hashlib
import re

import aws_cdk as cdk
from constructs import IConstruct

from pipeline_constructs.core.validation import PIPELINE_NAME_PATTERN, STACK_NAME_PATTERN

__all__ = ["default_pipeline_name", "stage_stack_name"]

_MAX_PIPELINE_NAME = 100
_MAX_STACK_NAME = 128
# Longest "<stack name without the stage prefix>" that leaves room for ".Prepare" in a 100-character action name.
_MAX_ACTION_PREFIX = 100 - len(".Prepare")


def _fit(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in a hash of the whole when it had to be cut."""
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{text[: limit - 9].rstrip('-')}-{digest}"


def default_pipeline_name(construct: IConstruct, suffix: str = "") -> str:
    """``<stack name>-<construct path under the stack>[-suffix]``, within CodePipeline's naming rule."""
    stack = cdk.Stack.of(construct)
    relative = construct.node.path[len(stack.node.path) :].strip("/")
    parts = [stack.stack_name, *relative.split("/"), suffix]
    raw = "-".join(p for p in parts if p)
    name = re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9.@_-]", "-", raw)).strip("-")
    name = _fit(name, _MAX_PIPELINE_NAME)
    assert PIPELINE_NAME_PATTERN.fullmatch(name), name
    return name


def stage_stack_name(stage_name: str, base: str, stack_id: str) -> str:
    """The CloudFormation name of a stack a pipeline deploys: ``<stage>-<base>-<stack id>``.

    CDK Pipelines names the stack's actions after the stack name without the ``<stage>-`` prefix
    (``<base>-<stack id>.Deploy``), so that part is kept within CodePipeline's 100-character action
    names; the whole is a valid stack name (letters, digits, ``-``; at most 128 characters).
    """
    clean = _stack_chars(base)
    suffix = _stack_chars(stack_id)
    room = min(_MAX_ACTION_PREFIX - len(suffix) - 1, _MAX_STACK_NAME - len(stage_name) - len(suffix) - 2)
    # The stage name stays as it is: CDK Pipelines strips exactly "<stage name>-" from the action names.
    stage = stage_name if STACK_NAME_PATTERN.fullmatch(stage_name) else _stack_chars(stage_name)
    name = f"{stage}-{_fit(clean, room)}-{suffix}"
    if not name[:1].isascii() or not name[:1].isalpha():
        name = f"S-{name}"
    assert STACK_NAME_PATTERN.fullmatch(name), name
    return name


def _stack_chars(text: str) -> str:
    return re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9-]", "-", text)).strip("-")
