"""The ``pipeline-constructs`` command (placeholder until the CLI lands; see issue 5)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``pipeline-constructs`` console script."""
    print("pipeline-constructs: the CLI (synth, show, graph, check) is not built yet", file=sys.stderr)
    return 2
