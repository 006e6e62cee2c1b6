"""The AWS Health gate: a CodePipeline job that fails while AWS Health reports an open issue.

:func:`health_check_step` is a :class:`~pipeline_constructs.steps.lambda_invoke.LambdaInvokeStep`
invoking the pipeline's one health-check function (``runtime/health_gate.py``, built with the one
job-function recipe, created on first use under the :class:`~pipeline_constructs.core.pipeline.SecurePipeline`
as ``HealthCheck``). The function asks AWS Health ``DescribeEvents`` for open events of category
``issue`` in the step's region (and ``global``) for the step's services, and fails the action naming
each open event; a person retries the stage once AWS Health shows them closed.

:func:`health_services` derives the services from what a stage deploys: the AWS Health service code
of each resource type of its stacks, plus ``CLOUDFORMATION`` (the deployment itself).

The AWS Health API needs a Business, Enterprise On-Ramp or Enterprise support plan (AWS Health user
guide, "Integrating AWS Health with other systems using the AWS Health API"); without one the check
fails with ``SubscriptionRequiredException`` and the failure says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import pipelines
from constructs import Construct

from pipeline_constructs.core.conditions import MAX_HEALTH_SERVICES, HealthGate
from pipeline_constructs.core.pipeline_jobs import claims_prefix, job_function_timeout
from pipeline_constructs.core.private.lambda_recipe import JobFunction, invoke_role, job_function, one_per_pipeline
from pipeline_constructs.core.validation import (
    require_action_name,
    require_bool,
    require_instance,
    require_region,
    wrong_type,
)
from pipeline_constructs.steps.lambda_invoke import LambdaInvokeStep

if TYPE_CHECKING:
    from pipeline_constructs.core.pipeline import SecurePipeline

__all__ = [
    "CLAIMS_PREFIX",
    "FUNCTION_ID",
    "HEALTH_CHECK_TIMEOUT",
    "SERVICE_CODES",
    "HealthCheckFunction",
    "health_check_function",
    "health_check_step",
    "health_services",
]

#: The handler in ``runtime/``.
HANDLER_FILE = "health_gate.py"
#: Where the health-check function's job claims go in the pipeline's artifact bucket.
CLAIMS_PREFIX = claims_prefix("health-gate")
#: The construct id of the pipeline's one health-check function, under its ``SecurePipeline``.
FUNCTION_ID = "HealthCheck"
#: One invocation makes at most 11 AWS calls (claim and its read, 4 DescribeEvents pages on each of the two
#: endpoints, the claim record), each at its worst case, plus the watchdog's margin. A normal one takes a second.
HEALTH_CHECK_TIMEOUT = job_function_timeout(11)

#: CloudFormation service namespace (``AWS::<namespace>::...``) -> AWS Health service code, in priority order
#: (when a stage uses more than AWS Health's 10, the first ones are kept). Namespaces not listed are skipped;
#: pass ``HealthGate(services=...)`` to check others.
SERVICE_CODES: dict[str, str] = {
    "Lambda": "LAMBDA",
    "ApiGateway": "APIGATEWAY",
    "ApiGatewayV2": "APIGATEWAY",
    "DynamoDB": "DYNAMODB",
    "ECS": "ECS",
    "EKS": "EKS",
    "EC2": "EC2",
    "ElasticLoadBalancingV2": "ELASTICLOADBALANCING",
    "ElasticLoadBalancing": "ELASTICLOADBALANCING",
    "RDS": "RDS",
    "S3": "S3",
    "SQS": "SQS",
    "SNS": "SNS",
    "Kinesis": "KINESIS",
    "ElastiCache": "ELASTICACHE",
    "CloudFront": "CLOUDFRONT",
    "Glue": "GLUE",
    "Redshift": "REDSHIFT",
    "KMS": "KMS",
}
#: Always checked: every stage deploys through CloudFormation.
DEPLOYMENT_SERVICE = "CLOUDFORMATION"


def health_services(stage: cdk.Stage) -> tuple[str, ...]:
    """The AWS Health service codes of what ``stage`` deploys (from its resource types), plus ``CLOUDFORMATION``.

    Every CloudFormation resource of the stage's stacks (nested stacks included) whose service is in
    :data:`SERVICE_CODES` counts; other types are skipped. Sorted; at most 10 (AWS Health's filter
    limit: ``CLOUDFORMATION`` and the first nine in :data:`SERVICE_CODES` order).

    :raises TypeError: when ``stage`` is not a ``cdk.Stage``.
    """
    if not isinstance(stage, cdk.Stage):
        raise wrong_type("health_services", "stage", stage, "expected an aws_cdk.Stage")
    found: set[str] = set()
    for child in stage.node.find_all():
        if isinstance(child, cdk.CfnResource):
            parts = child.cfn_resource_type.split("::")
            if len(parts) == 3 and parts[0] == "AWS" and parts[1] in SERVICE_CODES:
                found.add(SERVICE_CODES[parts[1]])
    ranked = [DEPLOYMENT_SERVICE, *dict.fromkeys(c for c in SERVICE_CODES.values() if c in found)]
    return tuple(sorted(ranked[:MAX_HEALTH_SERVICES]))


class HealthCheckFunction(Construct):
    """The pipeline's one health-check function and the one role CodePipeline invokes it with.

    Use :func:`health_check_function` (creates it on first use). Its permissions beyond the job-function
    recipe's: ``health:DescribeEvents``, which has no resource-level permissions (Service Authorization
    Reference, "Actions defined by AWS Health APIs and Notifications": no resource type), so ``Resource: "*"``.
    """

    def __init__(self, secure: SecurePipeline, id: str) -> None:
        super().__init__(secure, id)
        stack = cdk.Stack.of(self)
        config = {"claimsPrefix": CLAIMS_PREFIX, "partition": stack.partition}
        #: The job function (its role, policy, log group and dead-letter queue).
        self.job: JobFunction = job_function(
            self,
            "Function",
            handler_file=HANDLER_FILE,
            description=f"Fails a CodePipeline action while AWS Health reports an open issue ({secure.node.path})",
            claims=CLAIMS_PREFIX,
            statements=[
                # health:DescribeEvents has no resource-level permissions (no resource type in the Service
                # Authorization Reference for AWS Health APIs and Notifications): '*' is the only scope.
                iam.PolicyStatement(sid="DescribeHealthEvents", actions=["health:DescribeEvents"], resources=["*"])
            ],
            artifacts=secure.artifact_bucket,
            artifact_key=secure.artifact_key,
            timeout=HEALTH_CHECK_TIMEOUT,
            retention=secure.log_retention,
            removal_policy=secure.removal_policy,
            # What the function trusts, fixed at synth: where its claims go and its partition's endpoints.
            environment={"HEALTH_GATE_CONFIG": stack.to_json_string(config)},
        )
        #: The role every health-check action invokes the function with (no input artifacts to read).
        self.invoke_role: iam.IRole = invoke_role(
            self,
            secure.pipeline,
            self.job.function,
            description=f"CodePipeline invokes the AWS Health check of {secure.node.path} with this role",
            policy_description=f"CodePipeline's AWS Health check actions of {secure.node.path}",
            invoke_sid="InvokeHealthCheck",
        )


def health_check_function(secure: SecurePipeline) -> HealthCheckFunction:
    """The pipeline's one health-check function (``<secure>/HealthCheck``), created on first use."""
    from pipeline_constructs.core.pipeline import SecurePipeline

    require_instance("health_check_step", "secure", secure, SecurePipeline, "expected a SecurePipeline")
    return one_per_pipeline(secure, FUNCTION_ID, HealthCheckFunction, lambda: HealthCheckFunction(secure, FUNCTION_ID))


def health_check_step(
    secure: SecurePipeline,
    id: str,
    *,
    region: str,
    services: Sequence[str],
    include_global: bool = True,
) -> pipelines.Step:
    """A step (CodePipeline Lambda invoke action ``id``) that fails while AWS Health has an open issue.

    The pipeline's one health-check function (created on first use under ``secure``) asks AWS Health
    ``DescribeEvents`` for open ``issue`` events in ``region`` (and ``global`` with ``include_global``)
    for ``services``. On success the action's output variables are ``OpenIssues`` (``0``), ``Region``,
    ``Services`` and ``HealthRegion`` (the AWS Health endpoint region that answered).

    :param secure: the hardened pipeline the step goes into.
    :param id: the step id: the action name (e.g. ``HealthCheck-Prod``).
    :param region: the region whose open issues fail the step (the target's).
    :param services: AWS Health service codes (1 to 10; :func:`health_services` derives them from a stage).
    :param include_global: also fail on open issues of global services. Default: ``True``.
    :raises ValueError: naming the bad prop (region, services) and what is allowed.
    """
    require_action_name("health_check_step", "id", id)
    where = f"health_check_step({id!r})"
    require_region(where, "region", region)
    checked = HealthGate.check_services(where, "services", services)
    require_bool(where, "include_global", include_global)
    function = health_check_function(secure)
    return LambdaInvokeStep(
        id,
        function=function.job.function,
        # The runtime parses these strictly (runtime/health_gate.py) and trusts nothing else of the event.
        user_parameters={"region": region, "services": list(checked), "includeGlobal": include_global},
        role=function.invoke_role,
    )
