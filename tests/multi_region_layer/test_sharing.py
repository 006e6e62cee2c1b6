"""LayerSharing: private by default, accounts or an organization, public only as an explicit opt-in."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline_constructs.multi_region_layer import LayerSharing


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"accounts": ["1234"]}, r"LayerSharing: accounts\[0\] = '1234' is invalid: expected a 12-digit"),
        ({"accounts": "222222222222"}, r"LayerSharing: accounts = '222222222222' is invalid: expected a list"),
        ({"accounts": ["222222222222"] * 2}, r"accounts = '222222222222' is invalid: each account may be listed once"),
        ({"organization_id": "org-1"}, r"organization_id = 'org-1' is invalid: expected an AWS Organizations id"),
        ({"public": True, "accounts": ["222222222222"]}, r"public = True is invalid: public sharing already"),
        ({"public": "yes"}, r"public = 'yes' is invalid: expected True or False"),
    ],
)
def test_bad_sharing(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LayerSharing(**kwargs)


@given(
    accounts=st.lists(st.from_regex(r"[0-9]{12}", fullmatch=True), max_size=5, unique=True),
    organization=st.none() | st.from_regex(r"o-[a-z0-9]{10,32}", fullmatch=True),
)
def test_what_the_distributor_reads_is_what_was_given(accounts, organization):
    sharing = LayerSharing(accounts=tuple(accounts), organization_id=organization)
    assert sharing.to_json() == {"accounts": accounts, "organizationId": organization, "public": False}
    assert sharing.is_private == (not accounts and organization is None)


def test_public_is_not_private():
    assert LayerSharing(public=True).is_private is False
    assert LayerSharing().is_private is True
