"""`pipeline-constructs synth` runs any CDK app with Node 24 and fails where the CDK CLI fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli.cli_helpers import cli, run
from pipeline_constructs.cli import main
from pipeline_constructs.cli.assembly import CloudAssembly
from pipeline_constructs.cli.model import pipelines_in
from pipeline_constructs.cli.synth import app_command, node_bin_dir, synth, synth_env
from pipeline_constructs.core.private.node import project_node


def fake_app(where: Path, script: str, *, cdk_json: dict | None = None) -> Path:
    """An 'app' (no CDK) that writes what a synth writes: quick to run, exact about the assembly."""
    where.mkdir(parents=True, exist_ok=True)
    (where / "app.py").write_text("import json, os, pathlib\nout = pathlib.Path(os.environ['CDK_OUTDIR'])\n" + script)
    (where / "cdk.json").write_text(json.dumps(cdk_json or {"app": "python app.py"}))
    return where


def manifest_with(metadata: dict) -> str:
    return (
        "(out / 'S.template.json').write_text('{\"Resources\": {}}')\n"
        "(out / 'manifest.json').write_text(json.dumps({'version': '36.0.0', 'artifacts': {'S': {"
        "'type': 'aws:cloudformation:stack', 'properties': {'templateFile': 'S.template.json'}, "
        f"'metadata': {metadata!r}}}}}}}))\n"
    )


# --- Node and PATH --------------------------------------------------------------------------------------


def test_private_bin_dir_has_only_node_npm_npx_and_they_work(tmp_path):
    node = project_node()
    assert node is not None
    wheel_bin = str(Path(node).parent)
    with node_bin_dir(node) as folder:
        assert sorted(p.name for p in folder.iterdir()) == ["node", "npm", "npx"]
        env = synth_env(tmp_path, {}, base={"PATH": os.environ["PATH"]}, bin_dir=folder)
        path = env["PATH"].split(os.pathsep)
        assert path[0] == str(folder)
        assert wheel_bin not in path
        assert env["JSII_NODE"] == node
        for tool in ("node", "npm", "npx"):
            proc = subprocess.run([tool, "--version"], env=env, capture_output=True, text=True, check=False)
            assert proc.returncode == 0, (tool, proc.stderr)
        version = subprocess.run(["node", "--version"], env=env, capture_output=True, text=True, check=True).stdout
        assert version.startswith("v24.")
        assert subprocess.run(["npm", "--version"], env=env, capture_output=True, text=True, check=True).stdout
    assert not folder.exists()
    # the hazard this avoids: the wheel's own npx is a broken copy
    broken = subprocess.run(
        [str(Path(wheel_bin) / "npx"), "--version"],
        env={**os.environ, "PATH": wheel_bin + os.pathsep + os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=False,
    )
    assert broken.returncode != 0
    assert "Cannot find module" in broken.stderr


def test_the_app_sees_node_24_first_on_path(tmp_path, capsys):
    app = fake_app(
        tmp_path / "app",
        "import subprocess\n"
        "(out / 'node.txt').write_text(subprocess.run(['node', '--version'], capture_output=True, text=True).stdout)\n"
        + manifest_with({}),
    )
    assert main(["synth", str(app), "-o", str(tmp_path / "out"), "-q"]) == 0
    assert (tmp_path / "out" / "node.txt").read_text().startswith("v24.")


@pytest.mark.synth
def test_typescript_app_through_npx_ts_node(ts_out, capsys):
    """cdk.json says `npx ts-node --prefer-ts-exts bin/app.ts`, as `cdk init app --language typescript` writes."""
    assembly = CloudAssembly.load(ts_out)
    (pipeline,) = pipelines_in(assembly)
    assert pipeline.name == "ts-service"
    assert [s.name for s in pipeline.stages] == ["Source", "Build", "UpdatePipeline", "Preview", "Prod"]
    deploys = {(a.account, a.region) for a in pipeline.actions if a.is_deployment}
    assert deploys == {("222222222222", "us-east-1"), ("222222222222", "eu-west-1"), ("333333333333", "eu-west-1")}
    assert sorted(assembly.nested) == ["TsPipeline/EuWest", "TsPipeline/Prod", "TsPipeline/UsEast"]


@pytest.mark.synth
def test_typescript_app_through_npm_run(ts_app, tmp_path):
    config = json.loads((ts_app / "cdk.json").read_text())
    config["app"] = "npm run --silent synth-app"
    (ts_app / "cdk.json").write_text(json.dumps(config))
    try:
        proc = cli("synth", ts_app, "-o", tmp_path / "out", "-q")
    finally:
        config["app"] = "npx ts-node --prefer-ts-exts bin/app.ts"
        (ts_app / "cdk.json").write_text(json.dumps(config))
    assert proc.returncode == 0, proc.stderr
    assert "1 pipeline" in proc.stdout


# --- failing where the CDK CLI fails -------------------------------------------------------------------


def test_app_exit_status_fails_the_synth(tmp_path, capsys):
    app = fake_app(tmp_path / "app", manifest_with({}) + "raise SystemExit(4)\n")
    assert main(["synth", str(app), "-o", str(tmp_path / "out")]) == 1
    assert "failed (exit status 4)" in capsys.readouterr().err


def test_error_annotations_fail_the_synth_like_the_cdk_cli(tmp_path, capsys):
    error = {"type": "aws:cdk:error", "data": "AwsSolutions-S1: The S3 Bucket has server access logs disabled."}
    app = fake_app(tmp_path / "app", manifest_with({"/S/Bucket/Resource": [error]}))
    assert main(["synth", str(app), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "[Error at /S/Bucket/Resource] AwsSolutions-S1: The S3 Bucket has server access logs disabled." in err
    assert "1 error annotations in the assembly" in err
    assert (tmp_path / "out" / "manifest.json").is_file()  # the assembly is still there for `check`


def test_warnings_fail_only_with_strict(tmp_path, capsys):
    warning = {"type": "aws:cdk:warning", "data": "V1 pipeline type is implicitly selected"}
    app = fake_app(tmp_path / "app", manifest_with({"/S/Pipeline": [warning]}))
    assert main(["synth", str(app), "-o", str(tmp_path / "out")]) == 0
    assert "[Warning at /S/Pipeline] V1 pipeline type" in capsys.readouterr().err
    assert main(["synth", str(app), "-o", str(tmp_path / "out"), "--strict"]) == 1
    assert "1 warnings in the assembly" in capsys.readouterr().err


def test_no_assembly_written_fails(tmp_path, capsys):
    app = fake_app(tmp_path / "app", "pass\n")
    assert main(["synth", str(app), "-o", str(tmp_path / "out")]) == 1
    assert "wrote no cloud assembly" in capsys.readouterr().err


@pytest.mark.synth
def test_cdk_nag_v2_errors_fail_the_synth(nag_v2_out):
    out, proc = nag_v2_out
    assert proc.returncode == 1
    assert "[Error at /PlainRelease/Release/Pipeline/ArtifactsBucket/Resource] AwsSolutions-S1:" in proc.stderr
    assert "2 error annotations in the assembly" in proc.stderr
    assert (out / "AwsSolutions-PlainRelease-NagReport.csv").is_file()


# --- what the CDK CLI does besides ----------------------------------------------------------------------


def test_stale_files_of_an_earlier_synth_are_removed(tmp_path):
    out = tmp_path / "out"
    (out / "assembly-Gone").mkdir(parents=True)
    (out / "assembly-Gone" / "manifest.json").write_text("{}")
    (out / "Gone.template.json").write_text("{}")
    (out / "validation-report.json").write_text("{}")
    (out / "manifest.json").write_text("{}")
    (out / "asset.abc").mkdir()
    app = fake_app(tmp_path / "app", manifest_with({}))
    result = synth(app, output=out, quiet=True)
    assert result.ok
    assert sorted(p.name for p in out.iterdir()) == ["S.template.json", "asset.abc", "manifest.json"]


def test_cli_default_context_and_precedence(tmp_path):
    app = fake_app(
        tmp_path / "app",
        "(out / 'ctx.json').write_text(os.environ['CDK_CONTEXT_JSON'])\n" + manifest_with({}),
        cdk_json={"app": "python3 app.py", "context": {"a": "json", "aws:cdk:version-reporting": False}},
    )
    (app / "cdk.context.json").write_text(json.dumps({"a": "saved", "b": "saved"}))
    assert synth(app, output=tmp_path / "out", context={"c": "cli"}, quiet=True).ok
    ctx = json.loads((tmp_path / "out" / "ctx.json").read_text())
    assert ctx == {
        "aws:cdk:enable-path-metadata": True,
        "aws:cdk:enable-asset-metadata": True,
        "aws:cdk:version-reporting": False,
        "a": "json",
        "b": "saved",
        "c": "cli",
    }


def test_app_that_names_an_existing_assembly(tmp_path, capsys):
    app = fake_app(tmp_path / "app", "", cdk_json={"app": "cdk.out"})
    assembly = app / "cdk.out"
    assembly.mkdir()
    (assembly / "manifest.json").write_text(json.dumps({"version": "36.0.0", "artifacts": {}}))
    assert main(["synth", str(app)]) == 0
    assert f"-> {assembly}" in capsys.readouterr().out


def test_other_languages_run_as_written(tmp_path):
    """A non-Python command (here a shell line, as `mvn exec:java` or `dotnet run` would be) runs unchanged."""
    script = tmp_path / "gen.py"
    script.write_text("import json, os, pathlib\nout = pathlib.Path(os.environ['CDK_OUTDIR'])\n" + manifest_with({}))
    app = tmp_path / "app"
    app.mkdir()
    (app / "cdk.json").write_text(json.dumps({"app": f"env LANG=C {sys.executable} {script}"}))
    assert synth(app, output=tmp_path / "out", quiet=True).ok


# --- synth through main() ------------------------------------------------------------------------------


@pytest.mark.synth
def test_synth_writes_nested_assemblies_and_support_stacks(plain_out):
    assembly = CloudAssembly.load(plain_out)
    names = {s.display_name for s in assembly.stacks}
    assert {"PlainPipeline", "PlainPipeline/Prod/Api", "PlainPipeline/UsEast/Db"} <= names
    assert sorted(assembly.nested) == [
        "PlainPipeline/Dev",
        "PlainPipeline/EuCentral",
        "PlainPipeline/Prod",
        "PlainPipeline/UsEast",
    ]
    support = {s.region for s in assembly.stacks if s.display_name.startswith("cross-region-stack")}
    assert support == {"us-east-1", "eu-central-1"}


def test_synth_environment_selects_node_24_output_and_context(tmp_path, monkeypatch):
    monkeypatch.delenv("JSII_NODE", raising=False)
    env = synth_env(tmp_path / "out", {"team": "a"}, base={"PATH": "/usr/bin"})
    from pipeline_constructs.core.private.node import project_node

    node = project_node()
    assert node is not None
    assert env["JSII_NODE"] == node
    # never the wheel's folder (its npm/npx are broken copies): synth puts a private folder first instead
    assert str(Path(node).parent) not in env["PATH"].split(":")
    assert synth_env(tmp_path, {}, base={"PATH": "/usr/bin"}, bin_dir=tmp_path / "bin")["PATH"].split(":")[0] == str(
        tmp_path / "bin"
    )
    assert env["CDK_OUTDIR"] == str(tmp_path / "out")
    assert json.loads(env["CDK_CONTEXT_JSON"]) == {"team": "a"}
    # an explicit user choice wins
    assert synth_env(tmp_path, {}, base={"JSII_NODE": "/opt/node", "PATH": ""})["JSII_NODE"] == "/opt/node"


def test_synth_runs_app_with_this_python():
    assert app_command("python app.py").endswith(" app.py")
    assert app_command("python3 app.py --x").startswith(sys.executable.split()[0])
    assert app_command("npx ts-node app.ts") == "npx ts-node app.ts"


def test_synth_honours_cdk_outdir_and_cdk_json_context(tmp_path, monkeypatch, capsys):
    app = tmp_path / "app"
    app.mkdir()
    script = (
        "import json, os, pathlib\n"
        "out = pathlib.Path(os.environ['CDK_OUTDIR'])\n"
        "(out / 'manifest.json').write_text(json.dumps({'version': '36.0.0', 'artifacts': {}}))\n"
        "(out / 'ctx.json').write_text(os.environ['CDK_CONTEXT_JSON'])\n"
    )
    (app / "app.py").write_text(script)
    (app / "cdk.json").write_text(json.dumps({"app": "python app.py", "context": {"a": "1"}}))
    (app / "cdk.context.json").write_text(json.dumps({"a": "0", "b": "2"}))
    target = tmp_path / "elsewhere"
    monkeypatch.setenv("CDK_OUTDIR", str(target))
    status, out, _ = run(capsys, "synth", app, "-c", "c=3")
    assert status == 0
    assert "0 pipelines" in out
    context = json.loads((target / "ctx.json").read_text())
    assert {k: v for k, v in context.items() if not k.startswith("aws:cdk:")} == {"a": "1", "b": "2", "c": "3"}


def test_synth_failure_is_exit_1(tmp_path, capsys):
    app = tmp_path / "app"
    app.mkdir()
    (app / "cdk.json").write_text(json.dumps({"app": "python -c 'raise SystemExit(3)'"}))
    status, _, err = run(capsys, "synth", app)
    assert status == 1
    assert "failed (exit status 3)" in err


def test_synth_cdk_json_without_app_is_exit_2(tmp_path, capsys):
    (tmp_path / "cdk.json").write_text("{}")
    status, _, err = run(capsys, "synth", tmp_path)
    assert status == 2
    assert "no 'app' command" in err
