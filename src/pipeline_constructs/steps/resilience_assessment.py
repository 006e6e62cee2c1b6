"""The AWS Resilience Hub assessment step: import, publish, assess, fail when the policy is breached.

A target with ``resilience_assessment`` gets a post step ``Resilience-<target>`` (a CodePipeline Lambda
invoke action) after its stacks. Every such step of a pipeline invokes the pipeline's one assessment
function (``<pipeline>/ResilienceAssessment``, built with the library's one job-function recipe), whose
handler is ``runtime/resilience_assessment.py``: it resolves the stacks' ARNs in the target's account
and region, imports them into the Resilience Hub app's draft version, publishes it, starts an
assessment, waits for it (continuation tokens) and fails on ``PolicyBreached``, on a failed
assessment, and when the app's assessment quota (20 per application per month) is used up.

Permissions, each scoped as narrowly as the Service Authorization Reference allows:

* the function's role may call the six Resilience Hub actions it uses on the configured app ARNs only
  (every one of them takes the ``application`` resource type: SAR, "Actions, resources, and condition
  keys for AWS Resilience Hub", https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsresiliencehub.html);
  ``cloudformation:DescribeStacks`` on the named stacks of targets in the pipeline's account (resource
  type ``stack``, whose ARN ends in an id CloudFormation generates: ``stack/<name>/*``); and
  ``sts:AssumeRole`` on the CDK bootstrap lookup role of each target in another account, which CDK
  Pipelines' own permission check assumes too (``cdk bootstrap --trust <pipeline account>`` lets the
  pipeline's account assume it; it has ``ReadOnlyAccess``, bootstrap template ``LookupRole``);
* the role CodePipeline invokes the function with trusts only the pipeline's role and may only invoke
  this function.

The function never reads the stacks' resources itself: Resilience Hub does, with the app's own
permission model, which must be ``RoleBased`` (the handler checks and fails otherwise): an invoker
role in the app's account trusting ``resiliencehub.amazonaws.com`` (for instance with the
``AWSResilienceHubAsssessmentExecutionPolicy`` managed policy) and, for a target in another
account, a role there the invoker role may assume (the app's ``crossAccountRoleArns``, or a role
of the invoker role's name). With ``LegacyIAMUser`` Resilience Hub would read every resource with
the caller's credentials, which this function deliberately lacks.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_iam as iam
from aws_cdk import pipelines
from constructs import Construct

from pipeline_constructs.core.compliance import acknowledge
from pipeline_constructs.core.compliance.reasons import reason
from pipeline_constructs.core.conditions import ResilienceAssessment
from pipeline_constructs.core.pipeline_jobs import claims_prefix, job_function_timeout, policy_environment
from pipeline_constructs.core.private.lambda_recipe import JobFunction, invoke_role, job_function, one_per_pipeline
from pipeline_constructs.core.validation import invalid, is_token
from pipeline_constructs.core.validation_aws import MAX_LAMBDA_ENVIRONMENT_BYTES
from pipeline_constructs.steps.lambda_invoke import LambdaInvokeStep

if TYPE_CHECKING:
    from pipeline_constructs.core.pipeline import SecurePipeline
    from pipeline_constructs.core.targets import DeploymentTarget

__all__ = [
    "CLAIMS_PREFIX",
    "CONFIG_ENV",
    "FUNCTION_ID",
    "RESILIENCE_HUB_ACTIONS",
    "ResilienceAssessments",
    "resilience_assessment_step",
]

#: The handler in ``runtime/``.
HANDLER_FILE = "resilience_assessment.py"
#: The handler's configuration variable (``runtime/resilience_assessment.py``'s ``CONFIG_ENV``).
CONFIG_ENV = "RESILIENCE_ASSESSMENT_CONFIG"
#: Where the function's job claims go in the pipeline's artifact bucket.
CLAIMS_PREFIX = claims_prefix("resilience-assessment")
#: The id of the pipeline's one assessment construct, under the ``SecurePipeline``.
FUNCTION_ID = "ResilienceAssessment"
#: How long one invocation keeps polling before it hands over (the handler's ``Timing.hold_seconds``).
HOLD_SECONDS = 60
#: Six AWS calls at their worst case per step (app, lookup role, a stack, import; or publish, start), plus
#: the polling an invocation does before it hands over.
TIMEOUT = job_function_timeout(6, extra_seconds=HOLD_SECONDS)
#: What the handler calls; all take the ``application`` resource type (SAR, list_awsresiliencehub.html).
RESILIENCE_HUB_ACTIONS = (
    "resiliencehub:DescribeApp",
    "resiliencehub:DescribeAppAssessment",
    "resiliencehub:DescribeDraftAppVersionResourcesImportStatus",
    "resiliencehub:ImportResourcesToDraftAppVersion",
    "resiliencehub:PublishAppVersion",
    "resiliencehub:StartAppAssessment",
)
#: The longest a bucket name (the ``ARTIFACT_BUCKET`` token's value) can be.
_BUCKET_NAME_MAX = 63


class ResilienceAssessments(Construct):
    """The pipeline's one Resilience Hub assessment function, its invoke role and what it may assess.

    Created by :func:`resilience_assessment_step` on first use (``<pipeline>/ResilienceAssessment``);
    each step adds its assessment: the function's configuration (``RESILIENCE_ASSESSMENT_CONFIG``) and
    permissions grow with it, and the handler refuses any event naming another one.
    """

    def __init__(self, secure: SecurePipeline) -> None:
        super().__init__(secure, FUNCTION_ID)
        self._secure = secure
        self._entries: list[dict[str, Any]] = []
        self._statements: dict[str, iam.PolicyStatement] = {}
        self._acknowledged: set[str] = set()
        #: The function and its parts (role, policy, logs, dead-letter queue).
        self.job: JobFunction = job_function(
            self,
            "Job",
            handler_file=HANDLER_FILE,
            description=f"Runs the AWS Resilience Hub assessments of {secure.node.path}, one per CodePipeline job",
            claims=CLAIMS_PREFIX,
            statements=[],
            artifacts=secure.artifact_bucket,
            artifact_key=secure.artifact_key,
            timeout=TIMEOUT,
            retention=secure.log_retention,
            removal_policy=secure.removal_policy,
            environment={CONFIG_ENV: cdk.Lazy.string(_Config(self))},
        )
        #: The role CodePipeline invokes the function with: trusts the pipeline's role, may invoke this function.
        self.invoke_role: iam.IRole = invoke_role(
            self,
            secure.pipeline,
            self.job.function,
            description=f"CodePipeline invokes the Resilience Hub assessment function of {secure.node.path} with this",
            policy_description=f"CodePipeline's Resilience Hub assessment actions of {secure.node.path}",
            invoke_sid="InvokeAssessment",
        )

    @classmethod
    def of(cls, secure: SecurePipeline) -> ResilienceAssessments:
        """The pipeline's assessment construct, created on first use."""
        return one_per_pipeline(secure, FUNCTION_ID, cls, lambda: cls(secure))

    @property
    def entries(self) -> list[dict[str, Any]]:
        """The assessments the function may run (its configuration), in the order they were added."""
        return [dict(e) for e in self._entries]

    def config_json(self) -> str:
        """``RESILIENCE_ASSESSMENT_CONFIG``: the claims prefix and every assessment added so far."""
        return json.dumps({"claimsPrefix": CLAIMS_PREFIX, "assessments": self._entries}, separators=(",", ":"))

    def add(self, where: str, prop: str, entry: dict[str, Any]) -> None:
        """Allow one more assessment: configuration and permissions (an entry given twice is added once)."""
        if entry in self._entries:
            return
        size = self._environment_bytes([*self._entries, entry])
        if size > MAX_LAMBDA_ENVIRONMENT_BYTES:
            raise invalid(
                where,
                prop,
                entry["appArn"],
                f"the pipeline's assessment function would need {size} bytes of configuration for "
                f"{len(self._entries) + 1} assessments; Lambda allows {MAX_LAMBDA_ENVIRONMENT_BYTES} bytes of "
                "environment: assess fewer targets, or fewer stacks per target (stack_names)",
            )
        self._entries.append(entry)
        partition, account, region = entry["appArn"].split(":")[1], entry["account"], entry["region"]
        self._allow("ResilienceHubApps", RESILIENCE_HUB_ACTIONS, [entry["appArn"]])
        if entry.get("lookupRoleArn"):
            # Another account: the handler describes the stacks with the target's CDK lookup role.
            self._allow("AssumeLookupRoles", ("sts:AssumeRole",), [entry["lookupRoleArn"]])
            return
        stacks = [f"arn:{partition}:cloudformation:{region}:{account}:stack/{name}/*" for name in entry["stackNames"]]
        self._allow("DescribeTargetStacks", ("cloudformation:DescribeStacks",), stacks)
        for name, arn in zip(entry["stackNames"], stacks, strict=True):
            finding = f"AwsSolutions-IAM5[Resource::{arn}]"
            if finding not in self._acknowledged:
                self._acknowledged.add(finding)
                acknowledge(
                    self.job.policy, finding, reason("stack-by-name", stack=name, account=account, region=region)
                )

    def _allow(self, sid: str, actions: tuple[str, ...], resources: list[str]) -> None:
        statement = self._statements.get(sid)
        if statement is None:
            statement = iam.PolicyStatement(sid=sid, actions=list(actions), resources=resources)
            self._statements[sid] = statement
            self.job.policy.add_statements(statement)
            return
        known = set(statement.resources)
        statement.add_resources(*[r for r in resources if r not in known])

    def _environment_bytes(self, entries: list[dict[str, Any]]) -> int:
        config = json.dumps({"claimsPrefix": CLAIMS_PREFIX, "assessments": entries}, separators=(",", ":"))
        total = len(CONFIG_ENV) + len(config.encode())
        for key, value in policy_environment(self._secure.artifact_bucket).items():
            total += len(key) + (_BUCKET_NAME_MAX if is_token(value) else len(value.encode()))
        return total


@jsii.implements(cdk.IStableStringProducer)
class _Config:
    """The function's configuration, rendered at synth (every step of the pipeline has added its assessment)."""

    def __init__(self, owner: ResilienceAssessments) -> None:
        self._owner = owner

    def produce(self) -> str | None:
        return self._owner.config_json()


def resilience_assessment_step(
    secure: SecurePipeline,
    id: str,
    *,
    target: DeploymentTarget,
    stage: cdk.Stage,
    assessment: ResilienceAssessment,
) -> pipelines.Step:
    """A step (CodePipeline Lambda invoke action ``id``) that assesses what ``stage`` deployed to ``target``.

    The pipeline's one assessment function (created on first use under ``secure``) imports the
    stage's stacks (``assessment.stack_names``, default all of the stage's stacks in the target's
    account and region) into ``assessment.app_arn``, publishes a version, starts an assessment,
    waits for it (continuation tokens) and fails on ``PolicyBreached``. Its output variables
    (namespace ``id``): ``AssessmentArn``, ``ComplianceStatus``, ``ResiliencyScore``.

    :param secure: the hardened pipeline the step belongs to (the function lives there).
    :param id: the action's name, also its variables namespace.
    :param target: the target the stage deploys to.
    :param stage: the target's stage (its stacks are looked up by ``stack_name``).
    :param assessment: the app and stacks to assess.
    :raises ValueError: naming ``targets['<name>'].resilience_assessment.app_arn`` for an app outside the
        pipeline's account, ``....stack_names`` for a name that is not a stack of the stage in the target's
        account and region.
    """
    where = secure.node.path
    prop = f"targets[{target.name!r}].resilience_assessment"
    if not isinstance(assessment, ResilienceAssessment):
        raise invalid(where, prop, assessment, "expected a ResilienceAssessment")
    pipeline_account = cdk.Stack.of(secure).account
    if assessment.account != pipeline_account:
        raise invalid(
            where,
            f"{prop}.app_arn",
            assessment.app_arn,
            f"expected a Resilience Hub app in the pipeline's account {pipeline_account} (any region): the "
            "pipeline's assessment function runs the assessment with its own role",
        )
    names = _stack_names(where, prop, target, stage, assessment)
    entry: dict[str, Any] = {
        "appArn": assessment.app_arn,
        "account": target.account,
        "region": target.region,
        "stackNames": list(names),
        "lookupRoleArn": None,
    }
    if target.account != pipeline_account:
        entry["lookupRoleArn"] = _lookup_role_arn(where, prop, stage, names, assessment.partition)
    hub = ResilienceAssessments.of(secure)
    hub.add(where, f"{prop}.app_arn", entry)
    parameters = {k: v for k, v in entry.items() if v is not None}
    return LambdaInvokeStep(
        id,
        function=hub.job.function,
        user_parameters=parameters,
        role=hub.invoke_role,
        variables_namespace=id,
    )


def _stage_stacks(stage: cdk.Stage) -> list[cdk.Stack]:
    """The stage's own top-level stacks (not nested stacks, not stacks of stages inside it)."""
    return [
        c
        for c in stage.node.find_all()
        if isinstance(c, cdk.Stack) and not c.nested and _stage_path(c) == stage.node.path
    ]


def _stage_path(stack: cdk.Stack) -> str | None:
    owner = cdk.Stage.of(stack)
    return owner.node.path if owner is not None else None


def _stack_names(
    where: str, prop: str, target: DeploymentTarget, stage: cdk.Stage, assessment: ResilienceAssessment
) -> tuple[str, ...]:
    """The CloudFormation names of the stacks to import: all of the stage's in the target's env, or those named."""
    in_target = {
        s.stack_name: s for s in _stage_stacks(stage) if s.account == target.account and s.region == target.region
    }
    if assessment.stack_names is None:
        if not in_target:
            raise invalid(
                where,
                prop,
                assessment,
                f"stage {stage.node.path} has no stack in the target's account {target.account} and region "
                f"{target.region} to assess",
            )
        return tuple(in_target)
    for i, name in enumerate(assessment.stack_names):
        if name not in in_target:
            raise invalid(
                where,
                f"{prop}.stack_names[{i}]",
                name,
                f"expected the stack_name of a stack of stage {stage.node.path} in {target.account}/{target.region}: "
                f"{sorted(in_target) or 'none'}",
            )
    return assessment.stack_names


def _lookup_role_arn(where: str, prop: str, stage: cdk.Stage, names: tuple[str, ...], partition: str) -> str:
    """The target's CDK bootstrap lookup role, as the stacks' synthesizer names it (the qualifier is the team's)."""
    roles = set()
    for stack in _stage_stacks(stage):
        if stack.stack_name not in names:
            continue
        synthesizer = stack.synthesizer
        role = synthesizer.lookup_role if isinstance(synthesizer, cdk.DefaultStackSynthesizer) else None
        if not role:
            # A synthesizer instance given to the stack is bound to a copy CDK does not expose before synth.
            raise invalid(
                where,
                prop,
                stack.stack_name,
                f"stack {stack.node.path} is in another account, so the assessment reads its ARN with the target's "
                "CDK bootstrap lookup role; its synthesizer does not name that role before synth (a "
                f"{type(synthesizer).__name__} given to the stack). Use the app's default synthesizer, with the "
                "bootstrap qualifier in the context key '@aws-cdk/core:bootstrapQualifier' if it is not the default",
            )
        roles.add(str(role).replace("${AWS::Partition}", partition))
    (role,) = roles  # one account and region: one bootstrap, one lookup role
    if is_token(role) or "${" in role:
        raise invalid(where, prop, role, "expected the lookup role's ARN to be known at synth")
    return role
