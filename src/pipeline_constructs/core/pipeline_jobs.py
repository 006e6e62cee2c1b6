"""The construct side of the library's CodePipeline job functions (``runtime/_pipeline_job.py``).

Both pipeline Lambda handlers (the Flink update and the layer distributor) run
their jobs through the same runtime machinery; this module gives their
functions the same shape:

* the retry policy the handler uses, passed in ``PIPELINE_JOB_POLICY`` (construct
  code never imports runtime code, so the numbers are defined here and a test
  checks they equal the runtime's defaults), and a timeout sized from its worst
  case (:func:`job_function_timeout`);
* where job claims live (the pipeline's own artifact bucket, under
  :data:`CLAIMS_PREFIX`), the least-privilege statements to write them, and a
  lifecycle rule that expires them;
* what happens when a result cannot be sent: the invocation fails, Lambda sends
  the event to a dead-letter queue and on-failure destination (no retries: a
  retry would be a duplicate delivery, which stands down), and an alarm fires
  into an encrypted SNS topic the team subscribes to.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as lambda_destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from pipeline_constructs.core.compliance import acknowledge
from pipeline_constructs.core.compliance.reasons import reason
from pipeline_constructs.core.private.iam_idioms import (
    flatten_cfn_reference,
)

__all__ = [
    "ARTIFACT_BUCKET_ENV",
    "CALLS",
    "CLAIMS_PREFIX",
    "CLAIM_RETENTION",
    "POLICY_ENV",
    "REPORTS",
    "JobFailures",
    "JobRetries",
    "acknowledge_claims",
    "claim_statements",
    "claims_prefix",
    "expire_claims",
    "job_failures",
    "job_function_asset_excludes",
    "job_function_timeout",
    "policy_environment",
    "watchdog_margin_seconds",
]

#: Environment variable the handlers read their retry policy from.
POLICY_ENV = "PIPELINE_JOB_POLICY"
#: Environment variable naming the pipeline's artifact bucket.
ARTIFACT_BUCKET_ENV = "ARTIFACT_BUCKET"
#: Key prefix of job claims in a pipeline's artifact bucket (one sub-prefix per function).
CLAIMS_PREFIX = "pipeline-jobs/"
#: How long a claim is kept: far longer than any job can live (CodePipeline fails a Lambda action
#: after hours at most; Lambda keeps an asynchronous event at most 6 hours).
CLAIM_RETENTION = cdk.Duration.days(30)


@dataclass(frozen=True)
class JobRetries:
    """Bounded retries of one AWS call (the runtime's ``RetryPolicy``)."""

    attempts: int
    base_delay: float
    max_delay: float
    connect_timeout: float
    read_timeout: float

    def attempt_seconds(self) -> float:
        return self.connect_timeout + self.read_timeout

    def worst_case_seconds(self) -> float:
        """Every attempt times out and every backoff waits its cap."""
        backoff = sum(min(self.max_delay, self.base_delay * 2.0 ** (a - 1)) for a in range(1, self.attempts))
        return self.attempts * self.attempt_seconds() + backoff

    def to_json(self) -> dict[str, float]:
        return {
            "attempts": self.attempts,
            "baseDelay": self.base_delay,
            "maxDelay": self.max_delay,
            "connectTimeout": self.connect_timeout,
            "readTimeout": self.read_timeout,
        }


#: Every AWS call of a job: 4 attempts of at most 3 + 8 s, backoff 0.2 s doubling to 2 s (45.4 s worst case).
CALLS = JobRetries(attempts=4, base_delay=0.2, max_delay=2.0, connect_timeout=3.0, read_timeout=8.0)
#: Sending the result: 5 attempts of at most 2 + 4 s (33 s worst case).
REPORTS = JobRetries(attempts=5, base_delay=0.2, max_delay=2.0, connect_timeout=2.0, read_timeout=4.0)


def watchdog_margin_seconds() -> float:
    """How long before the function's timeout the watchdog reports: one in-flight call, then the report."""
    return REPORTS.worst_case_seconds() + CALLS.attempt_seconds() + 1.0


def job_function_timeout(calls: int, *, extra_seconds: float = 0.0) -> cdk.Duration:
    """A timeout that fits ``calls`` AWS calls at their worst case, plus the watchdog's margin.

    :param calls: AWS calls one invocation makes, at most (claim, downloads, API calls; the report
        and its retries are the margin).
    :param extra_seconds: time that is not AWS calls (data transfer, a budget kept for later steps).
    :raises ValueError: when that exceeds Lambda's 15 minutes.
    """
    seconds = calls * CALLS.worst_case_seconds() + watchdog_margin_seconds() + extra_seconds
    minutes = math.ceil(seconds / 60)
    if minutes > 15:
        raise ValueError(f"{calls} calls at their worst case need {seconds:.0f} s: more than Lambda's 15 minutes")
    return cdk.Duration.minutes(minutes)


def policy_environment(artifact_bucket: s3.IBucket) -> dict[str, str]:
    """The environment every job function gets: this retry policy, and the pipeline's artifact bucket.

    The bucket is the only one the function accepts input artifacts from, and where it keeps its claims.
    """
    return {
        POLICY_ENV: json.dumps({"calls": CALLS.to_json(), "reports": REPORTS.to_json()}, sort_keys=True),
        ARTIFACT_BUCKET_ENV: artifact_bucket.bucket_name,
    }


# --------------------------------------------------------------------------- claims


def claims_prefix(function: str) -> str:
    """The claims prefix of one function (``function``: a short fixed name, e.g. ``layer-distributor``)."""
    return f"{CLAIMS_PREFIX}{function}/"


def claim_statements(bucket: s3.IBucket, prefix: str, key: kms.IKey | None) -> list[iam.PolicyStatement]:
    """Write and read this function's job claims, and nothing else of the artifact bucket."""
    statements = [
        iam.PolicyStatement(
            sid="JobClaims",
            actions=["s3:PutObject", "s3:GetObject"],
            resources=[bucket.arn_for_objects(f"{prefix}*")],
        )
    ]
    if key is not None:
        stack = cdk.Stack.of(bucket)
        statements.append(
            iam.PolicyStatement(
                sid="JobClaimsKey",
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}},
            )
        )
    return statements


def acknowledge_claims(policy: iam.ManagedPolicy, bucket: s3.IBucket, prefix: str) -> None:
    """Acknowledge the one wildcard of :func:`claim_statements` (claim keys are job ids, unknown at synth)."""
    resource = flatten_cfn_reference(cdk.Stack.of(policy).resolve(bucket.arn_for_objects(f"{prefix}*")))
    acknowledge(
        policy,
        f"AwsSolutions-IAM5[Resource::{resource}]",
        reason(
            "prefix-objects",
            prefix=prefix,
            access="read and write",
            why="one claim object per CodePipeline job id, written with a conditional write",
        ),
    )


def expire_claims(bucket: s3.Bucket, prefix: str) -> None:
    """Expire the claims under ``prefix`` after :data:`CLAIM_RETENTION` (versions a day later)."""
    bucket.add_lifecycle_rule(
        id=f"ExpireJobClaims-{prefix.strip('/').replace('/', '-')}",
        prefix=prefix,
        expiration=CLAIM_RETENTION,
        noncurrent_version_expiration=cdk.Duration.days(1),
    )


# --------------------------------------------------------------------------- failures


@dataclass(frozen=True)
class JobFailures:
    """Where a job function's failed invocations go, the alarm that watches it, and the topic it notifies.

    Pass :meth:`function_props` to the ``lambda_.Function`` and :meth:`statements` to its role; subscribe
    the team (e-mail, chat, incident tool) to ``topic``.
    """

    queue: sqs.Queue
    alarm: cloudwatch.Alarm
    topic: sns.Topic
    key: kms.IKey

    def function_props(self) -> dict[str, object]:
        """Dead-letter queue and on-failure destination, both this queue; no retries, events kept 6 hours.

        CodePipeline invokes asynchronously. A retry would deliver the job again, and a duplicate delivery
        stands down by design; so an invocation that fails (a result that could not be sent, a crash, a
        timeout) goes straight to the queue and the alarm.
        """
        return {
            "dead_letter_queue": self.queue,
            "on_failure": lambda_destinations.SqsDestination(self.queue),
            "retry_attempts": 0,
            "max_event_age": cdk.Duration.hours(6),
        }

    def acknowledge_for(self, function: lambda_.Function) -> None:
        """Acknowledge the queue's own missing redrive policy: it is ``function``'s dead-letter queue."""
        cfn_queue = self.queue.node.default_child
        cfn_function = function.node.default_child
        assert isinstance(cfn_queue, sqs.CfnQueue)
        assert isinstance(cfn_function, lambda_.CfnFunction)
        logical = str(cdk.Stack.of(cfn_function).resolve(cfn_function.logical_id))
        acknowledge(cfn_queue, "Serverless-SQSRedrivePolicy", reason("queue-is-dead-letter-queue", function=logical))

    def statements(self) -> list[iam.PolicyStatement]:
        """What the function's role needs to deliver to the queue (SQS with a customer-managed key)."""
        return [
            iam.PolicyStatement(sid="DeadLetters", actions=["sqs:SendMessage"], resources=[self.queue.queue_arn]),
            iam.PolicyStatement(
                sid="DeadLettersKey", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[self.key.key_arn]
            ),
        ]


def job_failures(
    scope: Construct,
    id: str,
    *,
    key: kms.IKey,
    description: str,
    removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
) -> JobFailures:
    """An encrypted, SSL-only queue for a job function's failed invocations, an alarm on it, and its topic.

    :param key: encrypts the queue and the topic; CloudWatch may use it to publish the alarm.
    :param description: what the function does, for the alarm's description.
    """
    queue = sqs.Queue(
        scope,
        id,
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=cdk.Duration.days(14),
        removal_policy=removal_policy,
    )
    alarm = cloudwatch.Alarm(
        scope,
        f"{id}Alarm",
        alarm_description=(
            f"{description}: an invocation failed without reporting its CodePipeline job (the event is in the "
            "dead-letter queue); the pipeline action waits until CodePipeline times it out."
        ),
        metric=queue.metric_approximate_number_of_messages_visible(
            period=cdk.Duration.minutes(1), statistic=cloudwatch.Stats.MAXIMUM
        ),
        threshold=0,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    topic = sns.Topic(scope, f"{id}Topic", master_key=key, enforce_ssl=True, display_name=_display_name(description))
    alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
    # A topic with its own policy (enforce_ssl writes one) must let CloudWatch publish, for this alarm only
    # (AWS Knowledge Center, "Why didn't I receive an SNS notification for my CloudWatch alarm trigger?").
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudWatchAlarmPublishes",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={"ArnLike": {"aws:SourceArn": alarm.alarm_arn}},
        )
    )
    # CloudWatch publishes to an SSE-KMS topic only if the key policy lets it: the statement the SNS developer
    # guide gives for CloudWatch alarms ("Configure AWS KMS permissions", encrypted topics), no narrower
    # condition, because none is documented for this integration.
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid=f"CloudWatchAlarmsPublish{id}",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
        )
    )
    return JobFailures(queue=queue, alarm=alarm, topic=topic, key=key)


def _display_name(description: str) -> str:
    """An SNS display name (at most 100 characters)."""
    text = f"Failed: {description}"
    return text if len(text) <= 100 else text[:99] + "…"


def job_function_asset_excludes(handler_file: str) -> list[str]:
    """``Code.from_asset`` excludes that package exactly the handler and the shared job machinery."""
    return ["*", f"!{handler_file}", "!_pipeline_job.py"]
