"""Pipeline notifications: failed (and optionally succeeded, approval-needed) executions to a KMS-encrypted topic.

CONTRACT STUB (issue 13): the helper that owns this module implements it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aws_cdk import aws_sns as sns

if TYPE_CHECKING:
    from pipeline_constructs.core.pipeline import SecurePipeline

__all__ = ["PipelineNotifications", "add_notifications"]


@dataclass(frozen=True)
class PipelineNotifications:
    """Who hears about the pipeline's executions (a CodeStar Notifications rule on the pipeline).

    :param emails: addresses subscribed to the new topic. Default: none (subscribe later).
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


def add_notifications(secure: SecurePipeline, notifications: PipelineNotifications) -> None:
    """Create the topic (unless given) and the notification rule on ``secure``'s built pipeline."""
    raise NotImplementedError
