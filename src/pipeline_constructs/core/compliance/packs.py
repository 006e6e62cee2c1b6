"""The five cdk-nag rule packs the library is held to, and running them inside an app.

``cdk-nag`` is an optional dependency (``pip install pipeline-constructs[nag]``);
it is imported only when a pack is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aws_cdk as cdk
from constructs import IConstruct

if TYPE_CHECKING:  # pragma: no cover
    import cdk_nag

__all__ = [
    "HIPAA_PCI",
    "NAG_CONTEXT_KEY",
    "NIST_HIPAA",
    "NIST_HIPAA_PCI",
    "NIST_HIPAA_SERVERLESS",
    "PACK_NAMES",
    "Finding",
    "add_compliance_checks",
    "nag_packs",
    "unacknowledged_findings",
]

PACK_NAMES: tuple[str, ...] = (
    "AwsSolutions",
    "NIST.800.53.R5",
    "HIPAA.Security",
    "PCI.DSS.321",
    "Serverless",
)

# The packs that hold a rule, for in_packs(rule, <group>, reason): one name per group of packs.
#: ``LambdaConcurrency``, ``CloudWatchAlarmAction``: NIST 800-53 R5 and HIPAA Security.
NIST_HIPAA: tuple[str, ...] = ("NIST.800.53.R5", "HIPAA.Security")
#: ``CodeBuildProjectSourceRepoUrl``: HIPAA Security and PCI DSS 3.2.1.
HIPAA_PCI: tuple[str, ...] = ("HIPAA.Security", "PCI.DSS.321")
#: ``S3BucketReplicationEnabled``, ``S3DefaultEncryptionKMS``, ``IAMNoInlinePolicy``, ``LambdaInsideVPC``.
NIST_HIPAA_PCI: tuple[str, ...] = ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321")
#: ``LambdaDLQ``: NIST 800-53 R5, HIPAA Security and Serverless.
NIST_HIPAA_SERVERLESS: tuple[str, ...] = ("NIST.800.53.R5", "HIPAA.Security", "Serverless")

#: Context key that turns :func:`add_compliance_checks` off when ``false``.
NAG_CONTEXT_KEY = "pipeline-constructs:nag"


@dataclass(frozen=True)
class Finding:
    """One unacknowledged cdk-nag finding."""

    #: The pack that reported it, e.g. ``AwsSolutions``.
    pack: str
    #: The rule id as cdk-nag reports it, e.g. ``AwsSolutions-IAM5[Resource::*]``.
    rule: str
    #: The construct path of the resource.
    path: str
    description: str

    def __str__(self) -> str:
        return f"{self.rule} at {self.path}: {self.description}"


def nag_packs(scope: IConstruct | None = None, *, write_to_template: bool = False) -> list[cdk_nag.NagPack]:
    """The five packs, in :data:`PACK_NAMES` order.

    Acknowledgments made with :func:`~pipeline_constructs.core.compliance.acknowledge`
    are written into the templates whether or not packs exist, so the packs are
    created without cdk-nag's own writer by default.

    :param scope: the app (or stage) the packs check; only used with ``write_to_template``.
    :param write_to_template: also register cdk-nag's
        ``WriteNagSuppressionsToCloudFormationAspect`` on ``scope``, for acknowledgments
        made with ``aws_cdk.Validations`` directly (it does not reach nested stages).
        Default: ``False``.
    """
    import cdk_nag  # optional dependency: pip install pipeline-constructs[nag]

    classes: tuple[type[Any], ...] = (
        cdk_nag.AwsSolutionsChecks,
        cdk_nag.NIST80053R5Checks,
        cdk_nag.HIPAASecurityChecks,
        cdk_nag.PCIDSS321Checks,
        cdk_nag.ServerlessChecks,
    )
    packs: list[cdk_nag.NagPack] = []
    for i, cls in enumerate(classes):
        first = i == 0 and write_to_template and scope is not None
        packs.append(cls(scope if first else None, write_suppressions_to_cloud_formation=first))
    return packs


def add_compliance_checks(app: cdk.App | cdk.Stage) -> list[cdk_nag.NagPack]:
    """Register the five packs on ``app``: ``cdk synth`` then fails on any unacknowledged finding.

    Turned off (returns ``[]``) by the context value ``pipeline-constructs:nag``
    set to ``false`` (``cdk synth -c pipeline-constructs:nag=false``), e.g. for
    a quick local synth; CI should leave it on. Acknowledgments are written into
    the templates either way.
    """
    if str(app.node.try_get_context(NAG_CONTEXT_KEY)).lower() in ("false", "0", "off"):
        return []
    packs = nag_packs()
    cdk.Validations.of(app).add_plugins(*packs)
    return packs


def unacknowledged_findings(scope: IConstruct, packs: Sequence[cdk_nag.NagPack] | None = None) -> list[Finding]:
    """Run the packs over ``scope`` (all stacks and nested stages) and list what is not acknowledged.

    This reads acknowledgments from the construct tree; the template-only view
    an auditor has is :func:`pipeline_constructs.core.compliance.audit.audit_assembly`.
    ``scope``'s app is synthesized first (a no-op if it already was), so aspects
    that acknowledge generated resources have run.
    """
    root = scope.node.root
    if isinstance(root, cdk.Stage):
        root.synth()
    found: list[Finding] = []
    for pack in packs if packs is not None else nag_packs():
        report = pack.validate_scope(scope)
        for violation in report.violations:
            for resource in violation.violating_resources:
                found.append(
                    Finding(
                        pack.read_pack_name,
                        violation.rule_name,
                        resource.construct_path or "",
                        violation.description,
                    )
                )
    return found
