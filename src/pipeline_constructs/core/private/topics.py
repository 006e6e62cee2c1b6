"""KMS-encrypted, SSL-only SNS topics that AWS services of the topic's own account may publish to.

Used by the security gate (its alarms publish) and by pipeline notifications (CodeStar
Notifications publishes). An encrypted topic needs two grants for a service to publish: ``sns:Publish``
in the topic policy and ``kms:GenerateDataKey*``/``kms:Decrypt`` in the key policy
(https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html, "Enable compatibility between event
sources from AWS services and encrypted topics"). Both carry an ``aws:SourceAccount`` condition, so the
service acts only for resources of this account (the confused-deputy guard of
https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html).
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from constructs import Construct, IDependable

from pipeline_constructs.core.compliance import acknowledge
from pipeline_constructs.core.compliance.reasons import reason
from pipeline_constructs.core.private.encryption import new_key

__all__ = ["allow_service_publish", "encrypted_topic"]


def encrypted_topic(
    scope: Construct,
    *,
    key: kms.IKey | None,
    key_description: str,
    display_name: str,
    emails: Sequence[str] = (),
    email_reason: str = "email-subscription",
    removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
) -> tuple[sns.Topic, kms.IKey]:
    """A topic ``Topic`` under ``scope``, encrypted with ``key`` (default: a new rotating key ``TopicKey``),
    SSL only, with an e-mail subscription per address.

    :param email_reason: catalogue reason acknowledging ``Serverless-SNSRedrivePolicy`` on each e-mail
        subscription (an e-mail subscription has no dead-letter queue to redrive to).
    :returns: the topic and its key.
    """
    topic_key = key or new_key(scope, "TopicKey", description=key_description, removal_policy=removal_policy)
    topic = sns.Topic(scope, "Topic", master_key=topic_key, enforce_ssl=True, display_name=display_name)
    for email in emails:
        subscription = topic.add_subscription(subs.EmailSubscription(email))
        acknowledge(subscription, "Serverless-SNSRedrivePolicy", reason(email_reason))
    return topic, topic_key


def allow_service_publish(topic: sns.ITopic, key: kms.IKey | None, *, service: str, sid: str) -> list[IDependable]:
    """Let ``service`` (e.g. ``cloudwatch.amazonaws.com``) of the topic's account publish to ``topic``,
    and use ``key`` for it.

    A statement goes only where this app owns the policy: the topic policy of an ``sns.Topic`` made here and
    the key policy of a ``kms.Key`` made here (an imported topic or key keeps the policy it has; the
    caller documents what it must allow).

    :returns: the topic policy the statement went into, if any (for a resource that must wait for it).
    """
    of_this_account = {"StringEquals": {"aws:SourceAccount": cdk.Stack.of(topic).account}}

    def statement(actions: list[str], resources: list[str]) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            sid=sid,
            principals=[iam.ServicePrincipal(service)],
            actions=actions,
            resources=resources,
            conditions=of_this_account,
        )

    result = topic.add_to_resource_policy(statement(["sns:Publish"], [topic.topic_arn]))
    if isinstance(key, kms.Key):
        key.add_to_resource_policy(statement(["kms:Decrypt", "kms:GenerateDataKey*"], ["*"]))
    # The topic's TopicPolicy resource (a key's policy is part of the key itself).
    return [result.policy_dependable] if result.policy_dependable is not None else []
