"""cdk-nag v3 wiring shared by constructs, examples, tests and the pytest plugin.

* :mod:`.acknowledgments`: :func:`acknowledge`, the one way the library (and
  teams) acknowledge a finding; every acknowledgment reaches the template of
  the stack that holds the resource.
* :mod:`.packs`: the five rule packs the library is held to (AwsSolutions,
  NIST 800-53 R5, HIPAA Security, PCI DSS 3.2.1, Serverless), run inside an app.
* :mod:`.reasons`: the catalogue of the library's reasons, each with the check
  that proves it against a synthesized template.
* :mod:`.iam`: IAM facts (actions without resource-level permissions) and the
  statement rules every template is held to.
* :mod:`.audit`: the template-only check an auditor runs on a cloud assembly.

``cdk-nag`` is an optional dependency (``pip install pipeline-constructs[nag]``).
"""

from __future__ import annotations

from pipeline_constructs.core.compliance.acknowledgments import (
    FINDING_RULES,
    acknowledge,
    acknowledge_all,
    acknowledgments,
    in_packs,
    suspended_acknowledgments,
    written_acknowledgments,
)
from pipeline_constructs.core.compliance.packs import (
    NAG_CONTEXT_KEY,
    PACK_NAMES,
    Finding,
    add_compliance_checks,
    nag_packs,
    unacknowledged_findings,
)

__all__ = [
    "FINDING_RULES",
    "NAG_CONTEXT_KEY",
    "PACK_NAMES",
    "Finding",
    "acknowledge",
    "acknowledge_all",
    "acknowledgments",
    "add_compliance_checks",
    "in_packs",
    "nag_packs",
    "suspended_acknowledgments",
    "unacknowledged_findings",
    "written_acknowledgments",
]
