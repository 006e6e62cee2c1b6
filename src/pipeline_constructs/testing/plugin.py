"""pytest plugin (``pytest11`` entry point): selects Node 24 before any test imports ``aws_cdk``."""

from __future__ import annotations

from pipeline_constructs.core.node import use_project_node

use_project_node()
