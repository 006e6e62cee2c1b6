"""Who, besides the pipeline's own account, may use the published layer versions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline_constructs.core.validation import (
    invalid,
    is_token,
    require_account,
    require_bool,
    require_organization_id,
    require_sequence,
)

__all__ = ["LayerSharing"]


@dataclass(frozen=True)
class LayerSharing:
    """Who, besides the pipeline's own account, may use the published layer versions.

    Lambda layers are private by default; each published version gets a
    ``lambda:GetLayerVersion`` grant for exactly these principals (and loses
    grants for principals removed from here, on the next run). This is also how
    a layer reaches *other accounts*: the pipeline publishes in its own account,
    and ``accounts`` / ``organization_id`` may use the versions from there.

    :param accounts: AWS account ids to share with. Default: none.
    :param organization_id: an AWS Organizations id (``o-...``): every account
        of the organization may use the layer. Default: none.
    :param public: share with every AWS account. An explicit opt-in, and not
        combinable with ``accounts`` or ``organization_id``. Default: ``False``.
    """

    accounts: tuple[str, ...] = ()
    organization_id: str | None = None
    public: bool = False

    def __post_init__(self) -> None:
        where = "LayerSharing"
        accounts = require_sequence(
            where,
            "accounts",
            self.accounts,
            item=require_account,
            allowed="expected a list of 12-digit AWS account ids",
        )
        if any(is_token(a) for a in accounts):
            raise invalid(where, "accounts", accounts, "expected literal account ids, not tokens")
        if len(set(accounts)) != len(accounts):
            duplicate = next(a for a in accounts if accounts.count(a) > 1)
            raise invalid(where, "accounts", duplicate, "each account may be listed once")
        object.__setattr__(self, "accounts", accounts)
        if self.organization_id is not None:
            require_organization_id(where, "organization_id", self.organization_id)
        require_bool(where, "public", self.public)
        if self.public and (accounts or self.organization_id):
            raise invalid(
                where,
                "public",
                self.public,
                "public sharing already includes every account; give either public=True alone, "
                "or accounts / organization_id",
            )

    @property
    def is_private(self) -> bool:
        """Whether only the pipeline's own account can use the layer."""
        return not (self.accounts or self.organization_id or self.public)

    def to_json(self) -> dict[str, Any]:
        """The form the distributor function reads."""
        return {"accounts": list(self.accounts), "organizationId": self.organization_id, "public": self.public}
