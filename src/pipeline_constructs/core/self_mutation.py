"""Self-mutation only when the pipeline changed: the synth action tells, UpdatePipeline is skipped otherwise.

CDK Pipelines' UpdatePipeline stage (the ``SelfMutate`` CodeBuild action, ``cdk deploy <pipeline stack>``)
costs one CodeBuild start on every run, also when the commit changed only the application. With this:

* the library's own synth step (``Synth``) runs, after the synth commands, the stdlib-only script
  ``runtime/pipeline_changed.py`` (emitted into the buildspec, never imported): it compares the pipeline
  stack's template in ``cdk.out``, and those of the stacks it depends on (cross-region support stacks),
  with the deployed ones (``get-template --template-stage Original``), and their tags, notification ARNs
  and termination protection (``describe-stacks``), the checks with which the CDK CLI itself skips an
  unchanged stack; it exports ``PIPELINE_CHANGED`` (``false`` only when everything matches; ``true`` on
  any difference, error, missing stack or unreadable answer);
* the UpdatePipeline stage gets a ``BeforeEntry`` condition: a ``VariableCheck`` rule
  ``PIPELINE_CHANGED NE false`` with result ``SKIP``, so only the literal ``false`` skips it and a
  pipeline change still self-mutates before anything else runs;
* the synth role may ``cloudformation:GetTemplate`` and ``cloudformation:DescribeStacks`` on exactly the
  pipeline stack and the stacks it depends on (by name: ``stack/<name>/*``).

A team's own ``synth`` step is left alone (its pipeline self-mutates on every run); a pipeline without
self-mutation gets nothing; ``skip_unchanged_self_mutation=False`` (a
:class:`~pipeline_constructs.core.options.PipelineOptions` key) restores the always-mutate behaviour.
"""

from __future__ import annotations

import ast
import functools
import os
from dataclasses import dataclass
from importlib import resources

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import pipelines
from constructs import Construct

from pipeline_constructs.core.compliance import acknowledge
from pipeline_constructs.core.compliance.hardening import after_build
from pipeline_constructs.core.compliance.reasons import reason
from pipeline_constructs.core.stage_conditions import StageConditions, VariableSkip, add_stage_conditions
from pipeline_constructs.core.validation import shell_quote

__all__ = [
    "CHANGED_VARIABLE",
    "RULE_NAME",
    "SCRIPT_FILE",
    "UNCHANGED",
    "UPDATE_STAGE",
    "PipelineChangeCheck",
    "change_check",
    "check_of",
    "register",
    "script_text",
    "skip_unchanged_self_mutation",
]

#: The variable the synth action exports: ``false`` when self-mutation would change nothing.
CHANGED_VARIABLE = "PIPELINE_CHANGED"
#: The one value of :data:`CHANGED_VARIABLE` that skips UpdatePipeline.
UNCHANGED = "false"
#: The value the synth action exports otherwise (any other value also runs the stage).
CHANGED = "true"
#: CDK Pipelines' self-mutation stage.
UPDATE_STAGE = "UpdatePipeline"
#: The ``VariableCheck`` rule's name.
RULE_NAME = "PipelineChanged"
#: Where the synth action writes the script before running it (outside the source and cdk.out).
SCRIPT_FILE = "/tmp/pipeline_changed.py"
_HEREDOC = "PIPELINE_CHANGED_PY_END"


def source_text() -> str:
    """The text of ``runtime/pipeline_changed.py``, as shipped with the library (comments and docstrings)."""
    return resources.files("pipeline_constructs.runtime").joinpath("pipeline_changed.py").read_text(encoding="utf-8")


@functools.cache
def script_text() -> str:
    """The script as the buildspec carries it: :func:`source_text` without comments and docstrings.

    The same program (``ast.unparse`` of its syntax tree, docstrings dropped), a third of the size: it
    sits in the pipeline template, whose size counts against CloudFormation's limits. The first line
    names the source, which the wheel ships with its comments.
    """
    tree = ast.parse(source_text())
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return "# pipeline_constructs/runtime/pipeline_changed.py (comments and docstrings stripped)\n" + ast.unparse(tree)


@dataclass(frozen=True)
class PipelineChangeCheck:
    """The change check of one pipeline stack, run by its synth action after ``cdk synth``."""

    #: The cloud assembly holding the pipeline stack, relative to the synth action's source directory
    #: (``cdk.out``, ``infra/cdk.out``, or a nested assembly for a pipeline stack inside a ``cdk.Stage``).
    assembly_dir: str
    #: The pipeline stack's artifact id in that assembly's ``manifest.json``.
    stack_artifact_id: str

    def commands(self) -> list[str]:
        """Write the script, run it, export :data:`CHANGED_VARIABLE` (``true`` unless the script says ``false``)."""
        script = script_text()
        if any(line.strip() == _HEREDOC for line in script.splitlines()):  # pragma: no cover - a library bug
            raise RuntimeError(f"runtime/pipeline_changed.py contains the heredoc delimiter {_HEREDOC}")
        assembly = '"$CODEBUILD_SRC_DIR"/' + shell_quote(self.assembly_dir)
        return [
            f"cat > {SCRIPT_FILE} <<'{_HEREDOC}'\n{script.rstrip()}\n{_HEREDOC}",
            f"export {CHANGED_VARIABLE}={CHANGED}; "
            f'{CHANGED_VARIABLE}="$(python3 {SCRIPT_FILE} {assembly} {shell_quote(self.stack_artifact_id)})" '
            f"|| {CHANGED_VARIABLE}={CHANGED}; export {CHANGED_VARIABLE}",
        ]


def change_check(scope: Construct, output_directory: str) -> PipelineChangeCheck:
    """The change check of ``scope``'s stack, whose synth writes the app's cloud assembly to ``output_directory``."""
    stack = cdk.Stack.of(scope)
    stage = cdk.Stage.of(stack)
    root = stage
    while root is not None and cdk.Stage.of(root) is not None:
        root = cdk.Stage.of(root)
    nested = "."
    if stage is not None and root is not None and stage is not root:
        # As CDK Pipelines' embeddedAsmPath: the stack's assembly relative to the app's.
        nested = os.path.relpath(stage.outdir, root.outdir)
    directory = output_directory if nested == "." else f"{output_directory}/{nested}"
    return PipelineChangeCheck(assembly_dir=directory.replace(os.sep, "/"), stack_artifact_id=stack.artifact_id)


_CHECKS: dict[int, tuple[pipelines.CodeBuildStep, PipelineChangeCheck, str]] = {}


def register(step: pipelines.CodeBuildStep, check: PipelineChangeCheck) -> None:
    """Record that ``step`` runs ``check``'s commands (the library's own synth step does), and export the variable.

    The export happens here, right after the step is made: CodeBuildStep refuses ``exported_variable`` once
    anything read its ``partial_build_spec`` (e.g. a construct-time check of the step, as the Lambda
    compute option's).
    """
    _CHECKS[id(step)] = (step, check, _export(step))  # the step is kept: the id of a collected object could be reused


def _export(step: pipelines.CodeBuildStep) -> str:
    variable = step.exported_variable(CHANGED_VARIABLE)
    # CDK Pipelines gives the synth action its variables namespace (and resolves the variable) only for
    # outputs a consumer step referenced; the consumer here is the stage condition (an L1 override), so a
    # step that is never added to the pipeline references it, which records the output as produced.
    pipelines.ShellStep("PipelineChangedReader", commands=["true"], env={CHANGED_VARIABLE: variable})
    return variable


def check_of(step: object) -> PipelineChangeCheck | None:
    """The change check ``step`` runs, if it is a synth step made by the library with one."""
    entry = _CHECKS.get(id(step))
    return entry[1] if entry is not None and entry[0] is step else None


def skip_unchanged_self_mutation(pipeline: pipelines.CodePipeline, step: pipelines.CodeBuildStep) -> str:
    """Skip ``pipeline``'s UpdatePipeline stage unless ``step`` (its synth) exports a value other than ``false``.

    ``step`` must run :meth:`PipelineChangeCheck.commands`. Exports :data:`CHANGED_VARIABLE` from it, adds the
    stage condition and, once the pipeline is built, the synth role's read access to the stacks compared.
    Returns the variable (``#{<namespace>.PIPELINE_CHANGED}``).
    """
    entry = _CHECKS.get(id(step))
    variable = entry[2] if entry is not None and entry[0] is step else _export(step)
    add_stage_conditions(
        pipeline,
        StageConditions(
            stage_name=UPDATE_STAGE,
            skip_unless=VariableSkip(rule_name=RULE_NAME, variable=variable, operator="NE", value=UNCHANGED),
        ),
    )
    after_build(pipeline, lambda: _allow_reading_stacks(pipeline))
    return variable


def _compared_stacks(stack: cdk.Stack) -> list[cdk.Stack]:
    """``stack`` and every stack it depends on, transitively (what ``cdk deploy <stack>`` deploys)."""
    order: list[cdk.Stack] = []
    todo = [stack]
    while todo:
        current = todo.pop(0)
        if any(current is s for s in order):
            continue
        order.append(current)
        todo.extend(current.dependencies)
    return order


def _allow_reading_stacks(pipeline: pipelines.CodePipeline) -> None:
    stack = cdk.Stack.of(pipeline)
    # The script calls DescribeStacks and GetTemplate with the synth role, in the pipeline's account, on the
    # pipeline stack and the stacks it depends on: CDK's cross-region support stacks, which aws-codepipeline
    # creates in the pipeline's account as `${pipelineStackName}-support-${region}` (aws-cdk,
    # packages/aws-cdk-lib/aws-codepipeline/lib/private/cross-region-support-stack.ts, generateStackName) and
    # makes the pipeline stack depend on (lib/pipeline.ts, ensureReplicationResourcesExistFor: addDependency).
    # Both actions take the `stack` resource type, arn:${Partition}:cloudformation:${Region}:${Account}:
    # stack/${StackName}/${Id} (Service Authorization Reference, AWS CloudFormation:
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudformation.html); the id
    # is generated when the stack is created, so each stack is named and its id left open. A stack in another
    # account (a cross-account support stack) is not granted: the synth role cannot read it, the script then
    # answers "changed" and the pipeline self-mutates (fail closed).
    stacks = [
        s for s in _compared_stacks(stack) if s.account == stack.account and not cdk.Token.is_unresolved(s.stack_name)
    ]
    arns = {
        s.stack_name: stack.format_arn(
            service="cloudformation",
            resource="stack",
            resource_name=f"{s.stack_name}/*",
            region=s.region,
            account=s.account,
            arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME,
        )
        for s in stacks
    }
    project = pipeline.synth_project
    project.add_to_role_policy(
        iam.PolicyStatement(
            sid="ReadPipelineStacks",
            actions=["cloudformation:DescribeStacks", "cloudformation:GetTemplate"],
            resources=list(arns.values()),
        )
    )
    role = project.role
    policy = role.node.try_find_child("DefaultPolicy") if role is not None else None
    if policy is None:  # pragma: no cover - CDK Pipelines' synth project always has its own role
        return
    for s in stacks:
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudformation:{s.region}:{s.account}:"
            f"stack/{s.stack_name}/*]",
            reason("stack-template-by-name", stack=s.stack_name, account=str(s.account), region=str(s.region)),
        )
