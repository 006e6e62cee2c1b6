"""require_targets_in: every target in the pipeline's account and/or region (merged into test_targets.py later)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline_constructs.core.targets import DeploymentTarget, require_targets_in


@given(accounts=st.lists(st.sampled_from(["111111111111", "222222222222"]), min_size=1, max_size=4))
def test_require_targets_in_names_the_first_target_outside_the_pipelines_account(accounts):
    targets = [DeploymentTarget(name=f"T{i}", account=a, region="eu-west-1") for i, a in enumerate(accounts)]
    outside = [i for i, a in enumerate(accounts) if a != "111111111111"]
    if not outside:
        require_targets_in("S/P", targets, account="111111111111", why="reason")
        return
    with pytest.raises(
        ValueError,
        match=rf"^S/P: targets\[{outside[0]}\]\.account = '222222222222' is invalid: "
        r"expected the pipeline's account '111111111111': reason$",
    ):
        require_targets_in("S/P", targets, account="111111111111", why="reason")


def test_require_targets_in_checks_the_region_too_and_ignores_what_it_is_not_given():
    targets = [DeploymentTarget(name="A", account="222222222222", region="us-east-1")]
    require_targets_in("S/P", targets, why="any account, any region")
    with pytest.raises(
        ValueError,
        match=r"targets\[0\]\.region = 'us-east-1' is invalid: expected the pipeline's region 'eu-west-1': code bucket",
    ):
        require_targets_in("S/P", targets, region="eu-west-1", why="code bucket")
