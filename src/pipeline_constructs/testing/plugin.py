"""pytest plugin of pipeline-constructs (``pytest11`` entry point, loaded automatically).

Loading it selects Node 24 for jsii before any test module imports
``aws_cdk`` (pytest loads plugins first). It imports nothing from the CDK
itself. Fixtures:

* ``cdk_app``: a fresh :func:`~pipeline_constructs.testing.deterministic_app`
  writing its assembly under the test's ``tmp_path``;
* ``template_snapshot``: syrupy's ``snapshot`` with
  :class:`~pipeline_constructs.testing.snapshot.TemplateSnapshotExtension`;
* ``assert_no_unacknowledged_findings``: the cdk-nag helper of the same name.

Disable it with ``pytest -p no:pipeline_constructs``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline_constructs.core.private.node import use_project_node

use_project_node()


@pytest.fixture
def cdk_app(tmp_path: Path) -> Any:
    """A deterministic ``cdk.App`` (no version metadata, no bundling) with its outdir in ``tmp_path``."""
    from pipeline_constructs.testing import deterministic_app

    return deterministic_app(outdir=str(tmp_path / "cdk.out"))


@pytest.fixture
def template_snapshot(request: pytest.FixtureRequest) -> Any:
    """syrupy's ``snapshot`` storing normalized templates as JSON (``assert stack == template_snapshot``)."""
    try:
        snapshot = request.getfixturevalue("snapshot")
    except pytest.FixtureLookupError:
        pytest.fail("the template_snapshot fixture needs syrupy: pip install syrupy", pytrace=False)
    from pipeline_constructs.testing.snapshot import TemplateSnapshotExtension

    return snapshot.use_extension(TemplateSnapshotExtension)


@pytest.fixture
def assert_no_unacknowledged_findings() -> Callable[..., None]:
    """:func:`pipeline_constructs.testing.assert_no_unacknowledged_findings`, as a fixture."""
    from pipeline_constructs.testing import assert_no_unacknowledged_findings as check

    return check
