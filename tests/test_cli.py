"""The pipeline-constructs CLI against real and hand-made cloud assemblies."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pipeline_constructs.cli import main
from pipeline_constructs.cli.assembly import CloudAssembly
from pipeline_constructs.cli.model import GATE_APPROVAL, GATE_PERMISSION_CHECK, pipelines_in
from pipeline_constructs.cli.synth import app_command, synth_env

FIXTURES = Path(__file__).parent / "fixtures"
ASSEMBLIES = FIXTURES / "assemblies"
PLAIN_APP = FIXTURES / "apps" / "plain_pipelines_app"
NESTED = ASSEMBLIES / "nested_gated"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def plain_out(tmp_path_factory) -> Path:
    """A plain CDK Pipelines app (aws-cdk-lib only), synthesized by `pipeline-constructs synth` in a subprocess."""
    out = tmp_path_factory.mktemp("plain") / "cdk.out"
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline_constructs.cli", "synth", str(PLAIN_APP), "-o", str(out), "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "1 pipeline" in proc.stdout
    return out


# --- synth ------------------------------------------------------------------------


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


# --- show -------------------------------------------------------------------------


@pytest.mark.synth
def test_show_plain_pipeline(plain_out, capsys):
    status, out, err = run(capsys, "show", plain_out)
    assert status == 0, err
    assert out.startswith("Pipeline plain-service (stack PlainPipeline, aws://111111111111/eu-west-1")
    assert "7 stages, 25 actions (6 CodeBuild), 2 gates; regions: eu-central-1, eu-west-1, us-east-1" in out
    assert "Critical path: 15 actions, 6 of them CodeBuild (Source/acme_service to Prod/Api.Deploy)" in out
    assert "Prod (run 1-2) permission check: Check.Check -> Check.Confirm" in out
    assert "Prod (run 3) manual approval: Promote: Ship it?" in out


@pytest.mark.synth
def test_model_of_plain_pipeline(plain_out):
    (p,) = pipelines_in(CloudAssembly.load(plain_out))
    assert [s.name for s in p.stages] == ["Source", "Build", "UpdatePipeline", "Assets", "Dev", "Regions", "Prod"]
    regions = p.stages[5]
    assert [(s.run_order, len(s.actions)) for s in regions.steps] == [(1, 4), (2, 4)]
    assert {(a.region, a.account) for a in regions.actions} == {
        ("us-east-1", "222222222222"),
        ("eu-central-1", "222222222222"),
    }
    dev = p.stages[4]
    assert [a.name for a in dev.actions] == [
        "Lint",
        "Api.Prepare",
        "Db.Prepare",
        "Api.Deploy",
        "Db.Deploy",
        "Smoke",
    ]
    prod = p.stages[6]
    assert [(a.name, a.gate) for a in prod.actions[:3]] == [
        ("Check.Check", GATE_PERMISSION_CHECK),
        ("Check.Confirm", GATE_PERMISSION_CHECK),
        ("Promote", GATE_APPROVAL),
    ]
    assert {a.account for a in prod.actions if a.is_deployment} == {"222222222222"}
    assert [g.kind for g in p.gates] == [GATE_PERMISSION_CHECK, GATE_APPROVAL]


def test_show_nested_assembly_and_critical_path():
    (p,) = pipelines_in(CloudAssembly.load(NESTED))
    assert p.name == "ops"
    assert p.stack_name == "Ops-Pipeline"
    assert p.pipeline_type == "V2"
    # parallel actions keep template order inside a run order; run orders sort
    assert [a.name for a in p.stages[1].actions] == ["UnitTests", "Lint", "IntegrationTests"]
    path = p.critical_path
    # ends at the last deployment: Notify (after it) is not on the path
    assert [a.qualified_name for a in path.actions] == [
        "Source/Code",
        "Build/UnitTests",
        "Build/IntegrationTests",
        "Prod/Check",
        "Prod/Confirm",
        "Prod/Approve",
        "Prod/Deploy",
    ]
    assert (path.length, path.codebuild) == (7, 2)
    deploy = p.stages[2].actions[3]
    assert (deploy.region, deploy.account) == ("us-west-2", "444444444444")
    assert [(g.kind, [a.name for a in g.actions]) for g in p.gates] == [
        (GATE_PERMISSION_CHECK, ["Check", "Confirm"]),
        (GATE_APPROVAL, ["Approve"]),
    ]


def test_show_pipeline_in_a_nested_stack():
    (p,) = pipelines_in(CloudAssembly.load(ASSEMBLIES / "nested_stack"))
    assert p.name == "nested-one"
    assert p.stack_name == "Outer (nested OuterInner590FD8F7)"
    assert (p.account, p.region) == ("111111111111", "eu-west-1")
    assert [(g.stage, g.kind) for g in p.gates] == [("Approve", GATE_APPROVAL)]


def test_show_json_and_markdown(capsys):
    status, out, _ = run(capsys, "show", NESTED, "--format", "json")
    assert status == 0
    (data,) = json.loads(out)["pipelines"]
    assert data["critical_path_actions"] == 7
    assert data["critical_path_codebuild_actions"] == 2
    assert [s["name"] for s in data["stages"]] == ["Source", "Build", "Prod"]
    status, out, _ = run(capsys, "show", NESTED, "--format", "markdown")
    assert status == 0
    assert "| Prod | 1 | Check | Build/CodeBuild |" in out


def test_show_filters_by_pipeline_name(capsys):
    status, _, err = run(capsys, "show", NESTED, "--pipeline", "nope")
    assert status == 2
    assert "no pipeline matches 'nope' (pipelines: ops)" in err


# --- graph ------------------------------------------------------------------------


def test_graph_mermaid_stages_in_order_parallel_side_by_side_gates_marked(capsys):
    status, out, _ = run(capsys, "graph", NESTED, "--format", "mermaid")
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "flowchart TB"
    stage_lines = [line.strip() for line in lines if line.startswith("  subgraph")]
    assert stage_lines == ['subgraph S0["Source"]', 'subgraph S1["Build"]', 'subgraph S2["Prod"]']
    assert "  S0 --> S1" in lines
    assert "  S1 --> S2" in lines
    # UnitTests and Lint share the run-1 row laid out left to right
    row = out[out.index('subgraph S1R0["run 1"]') : out.index('subgraph S1R1["run 2"]')]
    assert "direction LR" in row
    assert "UnitTests" in row
    assert "Lint" in row
    assert out.count(":::gate") == 3
    assert '{{"Approve<br/>manual approval · Manual"}}:::gate' in out


def test_graph_svg_is_valid_and_complete(tmp_path, capsys):
    status, out, _ = run(capsys, "graph", NESTED, "--format", "svg", "-o", tmp_path)
    assert status == 0
    (svg,) = tmp_path.glob("*.svg")
    assert out.strip() == str(svg)
    root = ET.parse(svg).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    actions = [g for g in root.iter(f"{ns}g") if "action" in g.get("class", "").split()]
    assert len(actions) == 9
    gates = [g for g in actions if "gate" in g.get("class", "").split()]
    assert sorted(g.find(f"{ns}title").text.split(" ")[0] for g in gates) == [
        "Prod/Approve",
        "Prod/Check",
        "Prod/Confirm",
    ]
    stages = [g.find(f"{ns}text").text for g in root.iter(f"{ns}g") if g.get("class") == "stage"]
    assert sorted(stages) == ["Build", "Prod", "Source"]


@pytest.mark.synth
def test_graph_svg_of_wave_wraps_no_box_outside(plain_out, capsys):
    status, out, _ = run(capsys, "graph", plain_out, "--format", "svg")
    assert status == 0
    root = ET.fromstring(out)
    width = float(root.get("width"))
    rects = root.iter("{http://www.w3.org/2000/svg}rect")
    xs = [float(r.get("x")) + float(r.get("width")) for r in rects if r.get("x")]
    assert max(xs) <= width


def test_graph_dot(capsys):
    status, out, _ = run(capsys, "graph", NESTED, "--format", "dot")
    assert status == 0
    assert out.startswith('digraph "ops" {')
    assert out.count("subgraph cluster_") == 3
    assert "rank=same; a1_0_0; a1_0_1;" in out
    assert out.count("shape=hexagon") == 3


# --- check ------------------------------------------------------------------------


def test_check_runs_the_packs_over_every_template(capsys):
    """The verdict is the template-only audit's, not the validation report left in the assembly."""
    from pipeline_constructs.core.compliance.audit import audit_assembly

    status, out, _ = run(capsys, "check", NESTED, "--format", "json")
    data = json.loads(out)
    audit = audit_assembly(NESTED)
    assert status == 1
    assert data["templates"] == [
        "assembly-Ops/OpsPipeline.template.json",
        "assembly-Ops/cross-region-stack-333333333333-us-west-2.template.json",
    ]
    assert data["summary"] == {p: {"unacknowledged": u, "acknowledged": a} for p, (u, a) in audit.counts().items()}
    acked = {(f["rule"], f["logical_id"]) for f in data["findings"] if f["acknowledged"]}
    assert ("AwsSolutions-S1", "Bucket") in acked  # template metadata
    # stack metadata only: shown, not counted
    assert ("Serverless-SQSRedrivePolicy", "Queue") not in acked
    assert data["app_output"]["manifest_only_acknowledged"] == 1


@pytest.mark.synth
def test_check_of_an_app_synthesized_without_packs_finds_its_findings(plain_out, capsys):
    status, out, _ = run(capsys, "check", plain_out, "--summary")
    assert status == 1
    assert "validation-report.json: no cdk-nag pack reported in it" in out
    assert out.rstrip().splitlines()[-1].startswith("FAIL: ")


# --- bad input: one line, exit 2 ----------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["show", "{tmp}"], "not a cloud assembly (no manifest.json)"),
        (["graph", "{tmp}/nope"], "no such file or directory"),
        (["check", "{tmp}/file.txt"], "not a cloud assembly"),
        (["show", ASSEMBLIES / "no_pipeline"], "no pipeline in this cloud assembly"),
        (["graph", ASSEMBLIES / "no_pipeline", "-f", "svg"], "no pipeline in this cloud assembly"),
        (["show", ASSEMBLIES / "broken_manifest"], "manifest.json is not valid JSON"),
        (["check", ASSEMBLIES / "broken_manifest"], "manifest.json is not valid JSON"),
        (["show", ASSEMBLIES / "missing_template"], "Gone.template.json: template not found"),
        (["synth", "{tmp}"], "no cdk.json"),
        (["synth", "{tmp}/file.txt"], "not a directory"),
        (["graph", NESTED, "-f", "png"], "invalid choice: 'png'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    (tmp_path / "file.txt").write_text("hello")
    args = [str(a).replace("{tmp}", str(tmp_path)) for a in argv]
    try:
        status = main(args)
    except SystemExit as e:  # argparse usage errors
        status = e.code
    out, err = capsys.readouterr()
    assert status == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert message in err
    assert err.startswith("pipeline-constructs")


def test_bad_input_from_the_console_script_has_no_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline_constructs.cli", "show", str(ASSEMBLIES / "broken_manifest")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr


def test_synth_cdk_json_without_app_is_exit_2(tmp_path, capsys):
    (tmp_path / "cdk.json").write_text("{}")
    status, _, err = run(capsys, "synth", tmp_path)
    assert status == 2
    assert "no 'app' command" in err


def test_cli_modules_do_not_import_the_cdk():
    """show/graph/synth stay fast: no module of the CLI imports aws_cdk, constructs, cdk_nag or jsii at load time.

    Only ``check`` reaches the CDK, through the shared cdk-nag core, inside the function that runs it.
    """
    import ast

    forbidden = {"aws_cdk", "constructs", "cdk_nag", "jsii"}
    cli_dir = Path(__file__).parent.parent / "src" / "pipeline_constructs" / "cli"
    for path in cli_dir.glob("*.py"):
        tree = ast.parse(path.read_text())
        top_level = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"
                if name.startswith("pipeline_constructs.core.compliance"):
                    assert path.name == "check.py", f"{path.name} imports {name}"
                    assert id(node) not in top_level, f"{path.name} imports {name} at load time"
                elif name.startswith("pipeline_constructs."):
                    assert name.startswith(("pipeline_constructs.cli", "pipeline_constructs.core.private.node")), name


@pytest.mark.parametrize("argv", [["show"], ["graph", "-f", "svg"], ["graph", "-f", "dot"]])
def test_show_and_graph_do_not_start_the_cdk(argv):
    code = (
        "import sys; from pipeline_constructs.cli import main; "
        f"main([*{argv!r}, {str(NESTED)!r}]); print('aws_cdk' in sys.modules, file=sys.stderr)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stderr.strip() == "False"
