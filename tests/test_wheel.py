"""The wheel works on its own: built, installed with its declared dependencies only, every module imports.

What a new user does (``pip install pipeline-constructs``), without the dev dependencies this
repository's ``.venv`` has (boto3, pytest, cdk-nag...): construct code that imports a runtime-only
package (``runtime/`` handlers need boto3, which Lambda provides) fails here and nowhere else.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import check_dist  # noqa: E402

UV = ROOT / ".uv" / "bin" / "uv"

# Modules that need more than the declared dependencies, and what: the pytest plugin is loaded by
# pytest (so pytest is there); the snapshot extension is for teams that use syrupy.
OPTIONAL = {
    "pipeline_constructs.testing.plugin": "pytest",
    "pipeline_constructs.testing.snapshot": "syrupy",
}

IMPORT_EVERYTHING = r"""
import importlib, importlib.util, json, pathlib, sys
import pipeline_constructs
exported = {}
for name in pipeline_constructs.__all__:
    exported[name] = getattr(pipeline_constructs, name).__module__
root = pathlib.Path(pipeline_constructs.__file__).parent
names = []
for path in sorted(root.rglob("*.py")):
    parts = ("pipeline_constructs", *path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    if parts[-1] != "__main__" and (len(parts) < 2 or parts[1] != "runtime"):
        names.append(".".join(parts))
results = {}
for name in names:
    try:
        importlib.import_module(name)
        results[name] = None
    except ImportError as err:
        results[name] = getattr(err, "name", None) or str(err)
print(json.dumps({
    "exported": exported,
    "modules": results,
    "boto3": importlib.util.find_spec("boto3") is not None,
    "runtime_loaded": sorted(m for m in sys.modules if m.startswith("pipeline_constructs.runtime")),
}))
"""


def _uv(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run uv offline from its cache first (no network needed), then online if the cache lacks something."""
    for offline in ("1", "0"):
        proc = subprocess.run(
            [str(UV), *args],
            cwd=ROOT,
            env={**os.environ, **(env or {}), "UV_OFFLINE": offline, "UV_PYTHON_DOWNLOADS": "never"},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if proc.returncode == 0:
            return proc
    pytest.fail(f"uv {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if not UV.is_file():
        pytest.skip("uv is not installed in .uv/ (make venv installs it)")
    if shutil.which("git") is None:
        pytest.skip("git is needed to build the wheel (the version comes from git)")
    work = tmp_path_factory.mktemp("wheel")
    _uv("build", "--wheel", "--out-dir", str(work / "dist"), "--quiet")
    (wheel,) = (work / "dist").glob("*.whl")
    venv = work / "venv"
    # The project's declared dependencies as locked, nothing else (no dev group, no extras)...
    _uv(
        "sync",
        "--frozen",
        "--no-dev",
        "--no-install-project",
        "--python",
        sys.executable,
        "--quiet",
        env={"UV_PROJECT_ENVIRONMENT": str(venv)},
    )
    # ... and the wheel itself, without letting it pull anything in.
    python = venv / "bin" / "python"
    _uv("pip", "install", "--python", str(python), "--no-deps", "--quiet", str(wheel))
    return wheel, python


def test_every_module_imports_with_the_declared_dependencies_only(wheel_env, tmp_path):
    wheel, python = wheel_env
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "JSII_NODE", "VIRTUAL_ENV")}
    proc = subprocess.run(
        [str(python), "-c", IMPORT_EVERYTHING],
        cwd=tmp_path,  # not the repository: nothing of src/ on the path
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["boto3"] is False, "the test venv must not have boto3 (a dev-only dependency)"
    # Every public name resolves...
    import pipeline_constructs

    assert sorted(result["exported"]) == sorted(pipeline_constructs.__all__)
    # ... every construct module (all of them but the optional testing helpers) imports...
    failed = {m: missing for m, missing in result["modules"].items() if missing is not None}
    assert failed == {m: OPTIONAL[m] for m in failed if m in OPTIONAL}, failed
    assert {"pipeline_constructs.kda_app", "pipeline_constructs.multi_region_layer"} <= set(result["modules"])
    # ... and loads nothing from runtime/ (the Lambda handlers, shipped as assets only).
    assert result["runtime_loaded"] == []
    with zipfile.ZipFile(wheel) as zf:
        assert any(n.startswith("pipeline_constructs/runtime/") for n in zf.namelist())


def test_construct_code_imports_nothing_from_runtime():
    sources = {
        p.relative_to(ROOT / "src").as_posix(): p.read_text(encoding="utf-8")
        for p in (ROOT / "src" / "pipeline_constructs").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert check_dist.runtime_imports(sources) == []
    # The check can fail.
    bad = {"pipeline_constructs/x.py": "from pipeline_constructs.runtime.kda_update import MANIFEST_NAME\n"}
    assert check_dist.runtime_imports(bad) == [
        "pipeline_constructs/x.py imports pipeline_constructs.runtime.kda_update"
    ]


def test_constants_copied_from_the_update_handler_match_it():
    pytest.importorskip("boto3")
    from pipeline_constructs.kda_app import update as construct
    from pipeline_constructs.runtime import kda_update as handler

    for name in ("MANIFEST_NAME", "DEFAULT_TIMEOUT_SECONDS", "MAX_TIMEOUT_SECONDS"):
        assert getattr(construct, name) == getattr(handler, name), name
