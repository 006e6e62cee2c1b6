"""Count the assertions of the test suite (for "no assertion was lost" across a refactor).

Counts, per test file, with Python's ``ast`` (so a multi-line assertion counts once):
``assert`` statements, ``pytest.raises``/``pytest.warns`` blocks, ``aws_cdk.assertions``
calls (``has_resource_properties``, ``has_resource``, ``resource_count_is``,
``resource_properties_count_is``, ``has_output``, ``has_parameter``, ``has_mapping``,
``has_condition``, ``all_resources``, ``all_resources_properties``). A snapshot comparison
is an ``assert`` (``assert template == template_snapshot``).

Usage: ``python tools/count_assertions.py [TESTS_DIR]`` (default ``tests``); prints the
total and the three kinds.
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path

_TEMPLATE_CHECKS = frozenset(
    {
        "has_resource_properties",
        "has_resource",
        "resource_count_is",
        "resource_properties_count_is",
        "has_output",
        "has_parameter",
        "has_mapping",
        "has_condition",
        "all_resources",
        "all_resources_properties",
    }
)


def count(tree: ast.AST) -> Counter[str]:
    kinds: Counter[str] = Counter()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            kinds["assert"] += 1
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in ("raises", "warns") and isinstance(func, ast.Attribute):
                kinds["raises"] += 1
            elif name in _TEMPLATE_CHECKS:
                kinds["template"] += 1
    return kinds


def main(argv: list[str]) -> int:
    root = Path(argv[1] if len(argv) > 1 else "tests")
    total: Counter[str] = Counter()
    for path in sorted(root.rglob("*.py")):
        total += count(ast.parse(path.read_text(), str(path)))
    print(
        f"{sum(total.values())} assertions: {total['assert']} assert, {total['raises']} pytest.raises/warns, "
        f"{total['template']} aws_cdk.assertions template checks"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
