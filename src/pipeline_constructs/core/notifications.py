"""Pipeline notifications: failed (and optionally succeeded, approval-needed) executions to a KMS-encrypted topic.

``pipeline_options={"notifications": PipelineNotifications(emails=("team@example.com",))}`` (or
``notifications=`` on :class:`~pipeline_constructs.core.pipeline.SecurePipeline`) adds:

* unless ``topic`` is given, an SNS topic encrypted with a new rotating KMS key, SSL only (a ``Deny`` of
  ``sns:Publish`` without TLS), with one e-mail subscription per address (each address confirms it
  from the e-mail AWS sends);
* ``sns:Publish`` for ``codestar-notifications.amazonaws.com`` in the topic policy and
  ``kms:GenerateDataKey*``/``kms:Decrypt`` for it in the key policy, both only for this account
  (``aws:SourceAccount``): an encrypted topic drops what a publisher without the key grant sends
  (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html);
* a CodeStar Notifications rule on the built pipeline with the event
  ``codepipeline-pipeline-pipeline-execution-failed``, plus
  ``codepipeline-pipeline-pipeline-execution-succeeded`` with ``on_success`` and
  ``codepipeline-pipeline-manual-approval-needed`` with ``on_approval_needed``.

Detail level ``FULL``: the message then carries what CodePipeline adds to the event (for a failure, the
failed stage and action and the error summary), so a reader can act on the e-mail without opening the
console. The topic is encrypted and only this account's notification service may publish to it, so the
extra detail reaches only its subscribers.

A topic you give is used as it is when it is imported (``sns.Topic.from_topic_arn``): its policy (and its
key's) must already let ``codestar-notifications.amazonaws.com`` publish. A topic made in this app gets
the two statements above (its key's only when the key is a ``kms.Key`` of this app).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import jsii
from aws_cdk import aws_codestarnotifications as notifications_
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from pipeline_constructs.core.compliance.hardening import after_build
from pipeline_constructs.core.private.topics import allow_service_publish, encrypted_topic
from pipeline_constructs.core.validation import (
    invalid,
    require_bool,
    require_emails,
    require_instance,
    require_interface,
)

if TYPE_CHECKING:
    from pipeline_constructs.core.pipeline import SecurePipeline

__all__ = [
    "APPROVAL_NEEDED",
    "EXECUTION_FAILED",
    "EXECUTION_SUCCEEDED",
    "NOTIFICATIONS_SERVICE",
    "PipelineNotifications",
    "add_notifications",
]

#: Event of a failed pipeline execution (always notified).
EXECUTION_FAILED = "codepipeline-pipeline-pipeline-execution-failed"
#: Event of a succeeded pipeline execution (``on_success``).
EXECUTION_SUCCEEDED = "codepipeline-pipeline-pipeline-execution-succeeded"
#: Event of a manual approval that waits (``on_approval_needed``).
APPROVAL_NEEDED = "codepipeline-pipeline-manual-approval-needed"
#: The service principal that publishes notification-rule messages.
NOTIFICATIONS_SERVICE = "codestar-notifications.amazonaws.com"
_SID = "CodeStarNotificationsOfThisAccount"


@dataclass(frozen=True)
class PipelineNotifications:
    """Who hears about the pipeline's executions (a CodeStar Notifications rule on the pipeline).

    :param emails: addresses subscribed to the new topic (each confirms the subscription from the e-mail
        AWS sends). Default: none (subscribe later).
    :param topic: an existing topic to notify instead of a new one (not with ``emails``); it must
        let ``codestar-notifications.amazonaws.com`` publish (and use its key). Default: a new
        KMS-encrypted, SSL-only topic.
    :param on_success: also notify succeeded executions. Default: ``False``.
    :param on_approval_needed: also notify when a manual approval waits. Default: ``False``.
    """

    emails: tuple[str, ...] = field(default_factory=tuple)
    topic: sns.ITopic | None = None
    on_success: bool = False
    on_approval_needed: bool = False

    def __post_init__(self) -> None:
        where = "PipelineNotifications"
        emails = require_emails(where, "emails", self.emails, allowed="expected a tuple of e-mail addresses")
        object.__setattr__(self, "emails", emails)
        if self.topic is not None:
            require_interface(where, "topic", self.topic, "topic_arn", "expected an sns.ITopic")
            if emails:
                raise invalid(
                    where,
                    "emails",
                    emails,
                    "subscribe addresses to your own topic, or leave topic out to have one created for them",
                )
        require_bool(where, "on_success", self.on_success)
        require_bool(where, "on_approval_needed", self.on_approval_needed)

    @property
    def events(self) -> list[str]:
        """The notification rule's event type ids."""
        return [
            EXECUTION_FAILED,
            *([EXECUTION_SUCCEEDED] if self.on_success else []),
            *([APPROVAL_NEEDED] if self.on_approval_needed else []),
        ]


@jsii.implements(notifications_.INotificationRuleTarget)
class _TopicTarget:
    """The topic as a rule target, without aws-cdk's own (unconditioned) publish grant: ours has conditions."""

    def __init__(self, topic: sns.ITopic) -> None:
        self._topic = topic

    def bind_as_notification_rule_target(self, _scope: Construct) -> notifications_.NotificationRuleTargetConfig:
        return notifications_.NotificationRuleTargetConfig(target_type="SNS", target_address=self._topic.topic_arn)


def add_notifications(secure: SecurePipeline, notifications: PipelineNotifications) -> None:
    """Create the topic (unless given) and the notification rule on ``secure``'s built pipeline.

    The topic (and its key) are ``Notifications/TopicKey`` and ``Notifications/Topic`` under ``secure``;
    the rule ``Notifications/Rule`` is added right after CDK Pipelines built the pipeline. Sets
    ``secure.notification_topic``.
    """
    require_instance(
        secure.node.path, "notifications", notifications, PipelineNotifications, "expected a PipelineNotifications"
    )
    scope = Construct(secure, "Notifications")
    removal_policy = secure.removal_policy
    key: kms.IKey | None
    if notifications.topic is None:
        topic, key = encrypted_topic(
            scope,
            key=None,
            key_description=f"Pipeline notifications of {secure.node.path}",
            display_name="Pipeline notifications",
            emails=notifications.emails,
            email_reason="notification-email-subscription",
            removal_policy=removal_policy,
        )
        given: sns.ITopic = topic
    else:
        given = notifications.topic
        key = getattr(given, "master_key", None)
    policies = allow_service_publish(given, key, service=NOTIFICATIONS_SERVICE, sid=_SID)
    secure.notification_topic = given

    def rule() -> None:
        created = notifications_.NotificationRule(
            scope,
            "Rule",
            source=secure.pipeline.pipeline,
            events=notifications.events,
            targets=[_TopicTarget(given)],
            detail_type=notifications_.DetailType.FULL,
        )
        # Created once the topic policy lets the service publish (CodeStar Notifications checks its targets).
        for policy in policies:
            created.node.add_dependency(policy)

    after_build(secure.pipeline, rule)
