"""What the .NET build installs, pinned: the ``dotnet-install.sh`` script and ``Amazon.Lambda.Tools``.

The synth action installs the .NET SDK with Microsoft's ``dotnet-install.sh`` and the
``Amazon.Lambda.Tools`` global tool (``dotnet lambda package``); the Docker bundling of
:class:`~pipeline_constructs.dotnet_lambda.DotnetLambdaFunction` installs the tool too.
Both are pinned here:

* the script is downloaded from a fixed commit of ``dotnet/install-scripts`` (tag
  ``v2026.07.21``) and its SHA-256 is checked before it runs (``sha256sum -c``): a changed
  script fails the build instead of running;
* the tool is installed with an exact ``--version``.

What is *not* pinned: the SDK the script installs for a channel (``"10.0"`` is the newest
10.0 patch SDK, downloaded over HTTPS from Microsoft's feed; the script checks no hash of
it); ``dotnet_channel`` takes a channel, not an exact SDK version.

To move a pin: take the commit of a newer ``install-scripts`` release and the SHA-256 of its
``src/dotnet-install.sh`` (``git show <commit>:src/dotnet-install.sh | sha256sum``), or a
newer ``Amazon.Lambda.Tools`` release (its ``CHANGELOG.md``), and update the constants and
the tests that name them.
"""

from __future__ import annotations

from pipeline_constructs.core.validation import shell_quote

__all__ = [
    "DEFAULT_DOTNET_CHANNEL",
    "DOTNET_INSTALL_SCRIPT_SHA256",
    "DOTNET_INSTALL_SCRIPT_URL",
    "LAMBDA_TOOLS_VERSION",
    "install_dotnet_commands",
    "install_lambda_tools_command",
    "package_command",
]

#: Exact version of the ``Amazon.Lambda.Tools`` .NET global tool (release 2026-06-30; runs on .NET 8 and 10).
LAMBDA_TOOLS_VERSION = "7.0.0"

#: ``dotnet-install.sh`` at a fixed commit of github.com/dotnet/install-scripts (tag ``v2026.07.21``).
DOTNET_INSTALL_SCRIPT_URL = (
    "https://raw.githubusercontent.com/dotnet/install-scripts/"
    "da3ce11ba63f3dbb0fb835d41bda2665d5c48e84/src/dotnet-install.sh"
)
#: SHA-256 of the script at :data:`DOTNET_INSTALL_SCRIPT_URL`, checked before it runs.
DOTNET_INSTALL_SCRIPT_SHA256 = "082f7685e156738a1b2e2ed8381a621870d4ce8e8c59278034556f05c186eb2e"

#: The .NET SDK channel the synth action installs unless ``dotnet_channel`` says otherwise.
DEFAULT_DOTNET_CHANNEL = "10.0"

_SCRIPT = "/tmp/dotnet-install.sh"


def install_lambda_tools_command() -> str:
    """``dotnet tool install`` of ``Amazon.Lambda.Tools`` at :data:`LAMBDA_TOOLS_VERSION`."""
    return f"dotnet tool install -g Amazon.Lambda.Tools --version {LAMBDA_TOOLS_VERSION}"


def install_dotnet_commands(channel: str) -> list[str]:
    """Install commands of the synth action: the verified script, the SDK of ``channel``, the tool."""
    return [
        f"curl -sSfL {DOTNET_INSTALL_SCRIPT_URL} -o {_SCRIPT}",
        f'echo "{DOTNET_INSTALL_SCRIPT_SHA256}  {_SCRIPT}" | sha256sum -c -',
        f"bash {_SCRIPT} --channel {shell_quote(channel)} --install-dir $HOME/.dotnet",
        'export PATH="$HOME/.dotnet:$HOME/.dotnet/tools:$PATH" DOTNET_ROOT="$HOME/.dotnet"',
        install_lambda_tools_command(),
    ]


def package_command(output_dir: str) -> list[str]:
    """``dotnet lambda package`` into ``<output_dir>/function.zip``, as an argument list."""
    return [
        "dotnet",
        "lambda",
        "package",
        "--configuration",
        "Release",
        "--output-package",
        f"{output_dir}/function.zip",
    ]
