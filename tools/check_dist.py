"""Build the wheel and sdist and check them before they are published.

1. builds ``dist/*.whl`` and ``dist/*.tar.gz`` (``uv build``, else
   ``python -m build``), from a clean ``dist/``;
2. ``twine check --strict`` on both (metadata and README rendering);
3. asserts the wheel carries ``py.typed``, every Lambda handler of
   ``src/pipeline_constructs/runtime/``, the ``pipeline-constructs`` console
   script and the ``pytest11`` entry point, the Apache-2.0 license, a real
   version, and no tests, examples or caches; and that no module outside
   ``runtime/`` imports from ``runtime/`` (the handlers need boto3, which only
   Lambda provides: an import would break ``pip install`` users);
4. asserts the sdist carries LICENSE, CHANGELOG.md, README.md, pyproject.toml,
   the sources and the tests.

Usage: ``python tools/check_dist.py [--no-build] [--dist DIR]``; exit status 1
with the list of problems when any check fails.
"""

from __future__ import annotations

import argparse
import ast
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "pipeline_constructs"


def build(dist: Path) -> None:
    shutil.rmtree(dist, ignore_errors=True)
    uv = shutil.which("uv") or (str(ROOT / ".uv/bin/uv") if (ROOT / ".uv/bin/uv").is_file() else None)
    cmd = [uv, "build", "--out-dir", str(dist)] if uv else [sys.executable, "-m", "build", "--outdir", str(dist)]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)


def runtime_imports(sources: dict[str, str]) -> list[str]:
    """``"<file> imports <module>"`` for each import of ``pipeline_constructs.runtime`` outside ``runtime/``."""
    found: list[str] = []
    for name, text in sorted(sources.items()):
        if name.startswith(f"{PACKAGE}/runtime/"):
            continue
        for node in ast.walk(ast.parse(text, filename=name)):
            modules: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            for module in modules:
                if module == f"{PACKAGE}.runtime" or module.startswith(f"{PACKAGE}.runtime."):
                    found.append(f"{name} imports {module}")
                    break
    return found


def twine_check(files: list[Path]) -> list[str]:
    twine = Path(sys.executable).with_name("twine")
    cmd = [str(twine) if twine.is_file() else "twine", "check", "--strict", *map(str, files)]
    print("$", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, check=False)
    return [] if proc.returncode == 0 else ["twine check --strict failed"]


def check_wheel(wheel: Path) -> list[str]:
    problems: list[str] = []
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        sources = {n: zf.read(n).decode() for n in names if n.startswith(f"{PACKAGE}/") and n.endswith(".py")}
        dist_info = next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))
        metadata = Parser().parsestr(zf.read(f"{dist_info}/METADATA").decode())
        entry_points = (
            zf.read(f"{dist_info}/entry_points.txt").decode() if f"{dist_info}/entry_points.txt" in names else ""
        )
    problems += [f"wheel: {p} (construct code must not need a runtime-only package)" for p in runtime_imports(sources)]
    if f"{PACKAGE}/py.typed" not in names:
        problems.append("wheel: no py.typed (type hints would be ignored by users' type checkers)")
    runtime = ROOT / "src" / PACKAGE / "runtime"
    handlers = sorted(
        p.relative_to(ROOT / "src").as_posix() for p in runtime.rglob("*.py") if "__pycache__" not in p.parts
    )
    for handler in handlers:
        if handler not in names:
            problems.append(f"wheel: runtime handler {handler} missing")
    if not handlers:
        problems.append("wheel check: no runtime handler found in the source tree")
    for name in names:
        parts = name.split("/")
        if parts[0] in {"tests", "examples", "docs", "benchmarks", "tools"} or "__pycache__" in parts:
            problems.append(f"wheel: unexpected file {name}")
        elif parts[-1].startswith("test_") or parts[-1] == "conftest.py" or name.endswith((".pyc", ".pyo")):
            problems.append(f"wheel: test or cache file {name}")
    if "pipeline-constructs = pipeline_constructs.cli:main" not in entry_points:
        problems.append("wheel: console script pipeline-constructs missing from entry_points.txt")
    if "pipeline_constructs = pipeline_constructs.testing.plugin" not in entry_points:
        problems.append("wheel: pytest11 plugin entry point missing from entry_points.txt")
    version = metadata.get("Version", "")
    if not version or version.startswith("0.0.0"):
        problems.append(f"wheel: version {version!r} is the fallback: build from a git checkout (hatch-vcs)")
    if metadata.get("License-Expression") != "Apache-2.0":
        problems.append(f"wheel: License-Expression is {metadata.get('License-Expression')!r}, expected 'Apache-2.0'")
    if not any(n.startswith(f"{dist_info}/licenses/LICENSE") for n in names):
        problems.append("wheel: LICENSE file not included")
    if not metadata.get_all("Requires-Dist") or not any(
        r.startswith("aws-cdk-lib") for r in metadata.get_all("Requires-Dist") or []
    ):
        problems.append("wheel: Requires-Dist does not name aws-cdk-lib")
    print(f"wheel {wheel.name}: version {version}, {len(names)} files, {len(handlers)} runtime handlers")
    return problems


def check_sdist(sdist: Path) -> list[str]:
    problems: list[str] = []
    with tarfile.open(sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    for required in ("LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml", f"src/{PACKAGE}/__init__.py"):
        if required not in names:
            problems.append(f"sdist: {required} missing")
    if not any(n.startswith("tests/") for n in names):
        problems.append("sdist: tests missing (downstream packagers run them)")
    if any("cdk.out/" in n or "__pycache__" in n for n in names):
        problems.append("sdist: build output (cdk.out or __pycache__) included")
    print(f"sdist {sdist.name}: {len(names)} files")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build and check the wheel and sdist.")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder (default: dist/)")
    parser.add_argument("--no-build", action="store_true", help="check what is already in --dist")
    args = parser.parse_args(argv)
    if not args.no_build:
        build(args.dist)
    wheels = sorted(args.dist.glob("*.whl"))
    sdists = sorted(args.dist.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        print(f"check_dist: expected one wheel and one sdist in {args.dist}, found {len(wheels)} and {len(sdists)}")
        return 1
    problems = twine_check([wheels[0], sdists[0]]) + check_wheel(wheels[0]) + check_sdist(sdists[0])
    for problem in problems:
        print(f"FAIL {problem}")
    print("check_dist: " + ("FAILED" if problems else "ok"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
