"""Deployment targets: where a pipeline deploys, and behind which gates."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import aws_cdk as cdk

from pipeline_constructs.core.validation import (
    invalid,
    require_account,
    require_email,
    require_region,
    require_unique,
)

__all__ = ["DeploymentTarget", "validate_targets"]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,63}$")


@dataclass(frozen=True)
class DeploymentTarget:
    """One environment a pipeline deploys to.

    :param name: stage name, also the CDK ``Stage`` id: a letter, then letters,
        digits or ``-`` (at most 64 characters). Unique within a pipeline.
    :param account: 12-digit AWS account id the stage deploys to.
    :param region: AWS region the stage deploys to.
    :param manual_approval: add a ``ManualApprovalStep`` before the deployment.
        Default: ``False``.
    :param security_gated: put the stage behind a ``ConfirmPermissionsBroadening``
        check that notifies :attr:`notification_emails`. Default: ``False``.
    :param notification_emails: who is e-mailed when the security check finds
        broadened permissions. Default: none (the topic is still created, so a
        team can subscribe later).
    :param approval_comment: text shown on the manual approval. Default: a
        sentence naming the target.
    """

    name: str
    account: str
    region: str
    manual_approval: bool = False
    security_gated: bool = False
    notification_emails: tuple[str, ...] = field(default_factory=tuple)
    approval_comment: str | None = None

    def __post_init__(self) -> None:
        where = f"DeploymentTarget({self.name!r})"
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise invalid(
                "DeploymentTarget",
                "name",
                self.name,
                "expected a letter followed by letters, digits or '-' (at most 64 characters)",
            )
        require_account(where, "account", self.account)
        require_region(where, "region", self.region)
        if isinstance(self.notification_emails, str):
            raise invalid(where, "notification_emails", self.notification_emails, "expected a tuple of addresses")
        object.__setattr__(self, "notification_emails", tuple(self.notification_emails))
        for i, email in enumerate(self.notification_emails):
            require_email(where, f"notification_emails[{i}]", email)

    @property
    def env(self) -> cdk.Environment:
        """The CDK environment of this target."""
        return cdk.Environment(account=self.account, region=self.region)

    @property
    def gated(self) -> bool:
        """Whether any gate (security check or manual approval) precedes the deployment."""
        return self.security_gated or self.manual_approval


def validate_targets(where: str, targets: Sequence[DeploymentTarget], *, prop: str = "targets") -> None:
    """Check a pipeline's target list: at least one, all ``DeploymentTarget``, unique names."""
    if isinstance(targets, (str, bytes)) or not isinstance(targets, Sequence):
        raise invalid(where, prop, targets, "expected a list of DeploymentTarget")
    if len(targets) == 0:
        raise invalid(where, prop, list(targets), "expected at least one DeploymentTarget")
    for i, target in enumerate(targets):
        if not isinstance(target, DeploymentTarget):
            raise invalid(where, f"{prop}[{i}]", target, "expected a DeploymentTarget")
    require_unique(where, f"{prop}[].name", (t.name for t in targets))
