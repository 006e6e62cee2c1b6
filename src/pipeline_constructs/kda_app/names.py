"""The physical names both pipelines agree on, derived from one application name (no exports)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk

from pipeline_constructs.core.targets import DeploymentTarget, require_targets_in
from pipeline_constructs.core.validation import invalid
from pipeline_constructs.kda_app.application_stack import ReleaseChannel

__all__ = ["APPLICATION_NAME_PATTERN", "KdaNames"]

#: An application name: lowercase letters, digits and ``-``, starting with a letter (2-40 characters).
APPLICATION_NAME_PATTERN = re.compile(r"[a-z]([a-z0-9-]{0,38}[a-z0-9])?")


@dataclass(frozen=True)
class KdaNames:
    """The physical names both pipelines agree on, derived from one application name (no exports).

    :param application_name: lowercase letters, digits and ``-``.
    :param account: the pipeline account.
    :param region: the pipeline's (and the applications') region.
    """

    application_name: str
    account: str
    region: str

    @property
    def release_bucket(self) -> str:
        return f"{self.application_name}-releases-{self.account}-{self.region}"

    @property
    def release_bucket_arn(self) -> str:
        return f"arn:{cdk.Aws.PARTITION}:s3:::{self.release_bucket}"

    @property
    def update_function_role(self) -> str:
        return f"{self.application_name}-kda-update-{self.region}"

    def flink_application(self, target: DeploymentTarget) -> str:
        return f"{self.application_name}-{target.name}"

    def flink_role(self, target: DeploymentTarget) -> str:
        return f"{self.application_name}-{target.name}-flink"

    def updater_role(self, target: DeploymentTarget) -> str:
        return f"{self.application_name}-{target.name}-updater"

    def updater_role_arn(self, target: DeploymentTarget) -> str:
        return f"arn:{cdk.Aws.PARTITION}:iam::{target.account}:role/{self.updater_role(target)}"

    def flink_role_arn(self, target: DeploymentTarget) -> str:
        return f"arn:{cdk.Aws.PARTITION}:iam::{target.account}:role/{self.flink_role(target)}"

    def release_channel(self, target: DeploymentTarget, prefix: str) -> ReleaseChannel:
        return ReleaseChannel(
            bucket_name=self.release_bucket,
            prefix=prefix,
            account=self.account,
            region=self.region,
            update_function_role_name=self.update_function_role,
            updater_role_name=self.updater_role(target),
        )

    def check(self, where: str, targets: Sequence[DeploymentTarget]) -> None:
        """Raise ``ValueError`` when a derived name exceeds its service's limit or a target is in another region."""
        if len(self.release_bucket) > 63:
            raise invalid(
                where,
                "application_name",
                self.application_name,
                f"too long: the release bucket name {self.release_bucket!r} exceeds 63 characters",
            )
        if len(self.update_function_role) > 64:
            raise invalid(
                where, "application_name", self.application_name, "too long for IAM role names (64 characters)"
            )
        require_targets_in(
            where,
            targets,
            region=self.region,
            why="Managed Flink reads its code from a bucket in its own region (deploy one KdaAppPipeline per region)",
        )
        for i, target in enumerate(targets):
            for name in (self.flink_role(target), self.updater_role(target)):
                if len(name) > 64:
                    raise invalid(
                        where,
                        f"targets[{i}].name",
                        target.name,
                        f"application_name + target name too long: IAM role name {name!r} exceeds 64 characters",
                    )
