"""cli (main): bad input is one line and exit status 2; show and graph never load the CDK."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cli.cli_helpers import ASSEMBLIES, NESTED, run
from pipeline_constructs.cli import main


def test_show_filters_by_pipeline_name(capsys):
    status, _, err = run(capsys, "show", NESTED, "--pipeline", "nope")
    assert status == 2
    assert "no pipeline matches 'nope' (pipelines: ops)" in err


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


def test_cli_modules_do_not_import_the_cdk():
    """show/graph/synth stay fast: no module of the CLI imports aws_cdk, constructs, cdk_nag or jsii at load time.

    Only ``check`` reaches the CDK, through the shared cdk-nag core, inside the function that runs it.
    """
    import ast

    forbidden = {"aws_cdk", "constructs", "cdk_nag", "jsii"}
    cli_dir = Path(__file__).resolve().parents[2] / "src" / "pipeline_constructs" / "cli"
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
