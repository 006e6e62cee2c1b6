"""A CDK Pipelines step that invokes a Lambda function (CodePipeline ``Invoke``/``Lambda`` action).

CDK Pipelines has no step for CodePipeline's Lambda invoke action (aws-cdk
issue 19120): teams drop down to ``codepipeline.Pipeline`` or write the
``ICodePipelineActionFactory`` glue themselves. :class:`LambdaInvokeStep` is
that glue, once: it turns ``FileSet`` inputs into CodePipeline artifacts,
passes user parameters, and can target a function in another region of the
pipeline's account (CodePipeline then replicates the input artifacts to that
region's artifact store before the action runs).

The invoked function must report the outcome with ``PutJobSuccessResult`` /
``PutJobFailureResult``; the step grants it those two calls unless the
function's role is immutable (imported, or ``without_policy_updates()``), in
which case the role must already allow them.

The role CodePipeline invokes the function with trusts exactly the pipeline's
own role (:func:`pipeline_role_principal`), whatever the app's feature flags
say: no other principal of the account can assume it to start the function.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as codepipeline_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import pipelines
from constructs import Construct

from pipeline_constructs.core.validation import (
    invalid,
    is_token,
    require_action_name,
    require_interface,
    require_region,
    require_sequence,
    require_str,
    wrong_type,
)

__all__ = [
    "MAX_INPUTS",
    "MAX_USER_PARAMETERS_LENGTH",
    "LambdaInvokeStep",
    "pipeline_role_principal",
    "role_arn_principal",
]

#: CodePipeline accepts at most this many input artifacts on a Lambda invoke action.
MAX_INPUTS = 5
#: CodePipeline's limit on the ``UserParameters`` string of an action.
MAX_USER_PARAMETERS_LENGTH = 1000
# CodePipeline: namespaces match [A-Za-z0-9@\-_]+ (at most 100 characters).
_NAMESPACE = re.compile(r"[A-Za-z0-9@_-]{1,100}")
_FUNCTION_ARN = re.compile(r":function:([A-Za-z0-9_-]{1,64})\Z")


@jsii.implements(cdk.IStableStringProducer)
class _RoleArn:
    def __init__(self, role: Callable[[], iam.IRole]) -> None:
        self._role = role

    def produce(self) -> str | None:
        return self._role().role_arn


def role_arn_principal(role: Callable[[], iam.IRole]) -> iam.ArnPrincipal:
    """Exactly one role, by its ARN, as a principal (no account root, no condition to get wrong).

    :param role: returns the role; called at synth, so the role may not exist yet (a pipeline's role,
        created when the pipeline is built).
    """
    return iam.ArnPrincipal(cdk.Lazy.string(_RoleArn(role)))


def pipeline_role_principal(pipeline: pipelines.CodePipeline) -> iam.ArnPrincipal:
    """The role of a CDK Pipelines pipeline as the only principal (what CDK's own action roles trust)."""
    return role_arn_principal(lambda: pipeline.pipeline.role)


@jsii.implements(pipelines.ICodePipelineActionFactory)
class LambdaInvokeStep(pipelines.Step):
    """Invoke a Lambda function from a CDK Pipelines pipeline.

    Use it anywhere a step fits (``pre``/``post`` of a wave or stage)::

        LambdaInvokeStep(
            "Notify",
            function=notifier,
            inputs=[build_step],
            user_parameters={"channel": "releases"},
        )

    :param id: step id; also the action name in the pipeline.
    :param function: the function to invoke. It receives the CodePipeline job
        event and must call ``PutJobSuccessResult`` or ``PutJobFailureResult``.
    :param inputs: file sets (or steps producing them) to pass as input
        artifacts, in order; at most 5. Default: none.
    :param user_parameters: JSON-serializable object passed as the action's
        ``UserParameters`` (at most 1000 characters once rendered). Default: none.
    :param user_parameters_string: ``UserParameters`` as a raw string instead.
        Default: none. Not allowed together with ``user_parameters``.
    :param region: region of the function, for a function imported by name
        (``Function.from_function_name``) that lives in another region of the
        same account. Default: the function's own region (its stack's, or
        the region in its ARN).
    :param role: role CodePipeline assumes to invoke the function; it should
        trust only the pipeline's role (:func:`pipeline_role_principal`).
        Default: a new role that trusts only the pipeline's role and may invoke
        only this function (and read its input artifacts).
    :param variables_namespace: namespace of the action's output variables
        (what the function returns in ``outputVariables``), so later actions can
        use ``#{namespace.Variable}``. Default: the namespace CDK Pipelines
        assigns when another step consumes this one's outputs, else none.
    """

    def __init__(
        self,
        id: str,
        *,
        function: lambda_.IFunction,
        inputs: Sequence[pipelines.IFileSetProducer] = (),
        user_parameters: Mapping[str, Any] | None = None,
        user_parameters_string: str | None = None,
        region: str | None = None,
        role: iam.IRole | None = None,
        variables_namespace: str | None = None,
    ) -> None:
        require_action_name("LambdaInvokeStep", "id", id)
        super().__init__(id)
        where = f"LambdaInvokeStep({id})"
        require_interface(where, "function", function, "function_arn", "expected an aws_lambda.IFunction")
        if isinstance(inputs, pipelines.FileSet):
            raise wrong_type(
                where, "inputs", inputs, "expected a list of pipelines.IFileSetProducer (steps or sources)"
            )
        inputs = require_sequence(
            where,
            "inputs",
            inputs,
            item=lambda w, p, v: require_interface(
                w, p, v, "primary_output", "expected a step or source that produces a file set"
            ),
            allowed="expected a list of pipelines.IFileSetProducer (steps or sources)",
        )
        if len(inputs) > MAX_INPUTS:
            raise invalid(
                where, "inputs", len(inputs), f"CodePipeline allows at most {MAX_INPUTS} inputs on a Lambda action"
            )
        if user_parameters is not None and user_parameters_string is not None:
            raise invalid(
                where, "user_parameters_string", user_parameters_string, "give either user_parameters or this, not both"
            )
        if user_parameters is not None and not isinstance(user_parameters, Mapping):
            raise wrong_type(where, "user_parameters", user_parameters, "expected a mapping (rendered as JSON)")
        if role is not None:
            require_interface(where, "role", role, "role_arn", "expected an iam.IRole")
        rendered = _render_user_parameters(where, user_parameters, user_parameters_string)
        if region is not None:
            require_region(where, "region", region)
        self._retarget_name = _retarget_name(where, function, region)
        if variables_namespace is not None:
            require_str(
                where,
                "variables_namespace",
                variables_namespace,
                pattern=_NAMESPACE,
                allowed="expected 1-100 characters from A-Z, a-z, 0-9, '@', '-', '_'",
            )

        self.function = function
        self.user_parameters = user_parameters
        self.user_parameters_string = user_parameters_string
        self.region = region
        self.role = role
        self.variables_namespace = variables_namespace
        self._rendered_user_parameters = rendered
        self._input_file_sets: list[pipelines.FileSet] = []
        for i, producer in enumerate(inputs):
            file_set = producer.primary_output if producer is not None else None
            if file_set is None:
                raise invalid(where, f"inputs[{i}]", producer, "expected a step or source that produces a file set")
            self._input_file_sets.append(file_set)
            self._add_dependency_file_set(file_set)
        # Make steps that only produce variables referenced in the parameters run first.
        self._discover_referenced_outputs({"user_parameters": user_parameters, "string": user_parameters_string})

    @property
    def inputs(self) -> list[pipelines.FileSet]:
        """The input file sets, in the order CodePipeline passes them."""
        return list(self._input_file_sets)

    def produce_action(
        self,
        stage: codepipeline.IStage,
        *,
        action_name: str,
        artifacts: pipelines.ArtifactMap,
        pipeline: pipelines.CodePipeline,
        run_order: jsii.Number,
        scope: Construct,
        stack_outputs_map: pipelines.StackOutputsMap,
        before_self_mutation: bool | None = None,
        code_build_defaults: pipelines.CodeBuildOptions | None = None,
        fallback_artifact: codepipeline.Artifact | None = None,
        variables_namespace: str | None = None,
    ) -> pipelines.CodePipelineActionFactoryResult:
        """Add the ``LambdaInvokeAction`` to ``stage`` (called by CDK Pipelines while it builds)."""
        function = self._function_in_region(scope)
        role = self.role or iam.Role(
            scope,
            f"{action_name}InvokeRole",
            assumed_by=iam.ArnPrincipal(pipeline.pipeline.role.role_arn),
            description=f"CodePipeline invokes a Lambda function for the action {action_name} with this role",
        )
        stage.add_action(
            codepipeline_actions.LambdaInvokeAction(
                action_name=action_name,
                run_order=run_order,
                lambda_=function,
                inputs=[artifacts.to_code_pipeline(fs) for fs in self._input_file_sets] or None,
                user_parameters=self.user_parameters,
                user_parameters_string=self.user_parameters_string,
                role=role,
                variables_namespace=self.variables_namespace or variables_namespace,
            )
        )
        return pipelines.CodePipelineActionFactoryResult(run_orders_consumed=1)

    def _function_in_region(self, scope: Construct) -> lambda_.IFunction:
        """The function as CodePipeline must see it: re-imported in ``region`` when that differs."""
        if self._retarget_name is None or self.region is None:
            return self.function
        arn = cdk.Stack.of(scope).format_arn(
            service="lambda",
            region=self.region,
            resource="function",
            resource_name=self._retarget_name,
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        return lambda_.Function.from_function_attributes(
            scope, f"{self.id}Function", function_arn=arn, same_environment=False, skip_permissions=True
        )


def _retarget_name(where: str, function: lambda_.IFunction, region: str | None) -> str | None:
    """The literal function name to re-import in ``region``, or ``None`` when no re-targeting is needed."""
    if region is None or function.env.region == region:
        return None
    match = _FUNCTION_ARN.search(_literal_tail(cdk.Stack.of(function).resolve(function.function_arn)))
    if match is None or not _is_imported(function):
        raise invalid(
            where,
            "region",
            region,
            f"the function is defined in region {function.env.region!r}; 'region' only re-targets a function "
            "imported by name or ARN (Function.from_function_name / from_function_arn) that lives in another region",
        )
    return match.group(1)


def _is_imported(function: lambda_.IFunction) -> bool:
    return not isinstance(function.node.default_child, lambda_.CfnFunction)


def _literal_tail(resolved: Any) -> str:
    """The literal end of a resolved ARN (a string, or the last string of an ``Fn::Join``)."""
    if isinstance(resolved, str):
        return resolved
    if isinstance(resolved, dict) and "Fn::Join" in resolved:
        parts = resolved["Fn::Join"][1]
        if parts and isinstance(parts[-1], str):
            return str(parts[-1])
    return ""


def _render_user_parameters(where: str, parameters: Mapping[str, Any] | None, raw: str | None) -> str | None:
    """Render the parameters CodePipeline will pass and check CodePipeline's 1000-character limit."""
    if raw is not None:
        if not isinstance(raw, str):
            raise wrong_type(where, "user_parameters_string", raw, "expected a string")
        rendered: str | None = raw
        prop = "user_parameters_string"
    elif parameters is not None:
        try:
            rendered = json.dumps(parameters, separators=(",", ":"))
        except TypeError:
            # Tokens inside: CloudFormation renders them; the length is known only at deploy time.
            return None
        prop = "user_parameters"
    else:
        return None
    if rendered is not None and not is_token(rendered) and len(rendered) > MAX_USER_PARAMETERS_LENGTH:
        raise invalid(
            where,
            prop,
            f"<{len(rendered)} characters>",
            f"CodePipeline limits UserParameters to {MAX_USER_PARAMETERS_LENGTH} characters",
        )
    return rendered
