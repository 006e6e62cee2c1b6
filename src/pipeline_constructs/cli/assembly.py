"""Read a CDK cloud assembly (``cdk.out``) with the standard library only.

Handles what ``cdk synth`` and CDK Pipelines write: the root ``manifest.json``,
nested stage assemblies (``assembly-*`` artifacts of type
``cdk:cloud-assembly``), stacks in any environment (including the
cross-region support stacks CodePipeline needs), per-stack metadata (inline
in the manifest or in ``*.metadata.json``) and the policy-validation report
that cdk-nag v3 plugins fill.

Nothing here imports ``aws_cdk``: reading an assembly takes milliseconds.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

__all__ = [
    "Annotation",
    "AssemblyError",
    "CloudAssembly",
    "StackArtifact",
    "load_json",
    "render_value",
    "template_literal",
]

#: File names of the policy-validation report, newest first.
VALIDATION_REPORT_FILES = ("validation-report.json", "policy-validation-report.json")

_MAX_DEPTH = 8
_ENV = re.compile(r"^aws://(?P<account>[^/]+)/(?P<region>[^/]+)$")
#: Metadata entry types of construct annotations (``Annotations.of(x).add_error(...)`` and friends).
ANNOTATION_TYPES = {"aws:cdk:error": "error", "aws:cdk:warning": "warning", "aws:cdk:info": "info"}
ACKNOWLEDGED_RULES = "aws:cdk:acknowledged-rules"
#: A report written more than this many seconds before its manifest is left over from an earlier synth.
_STALE_AFTER_S = 2.0

#: What ``Ref`` returns for resource types whose ``Ref`` is their name: the property holding it.
_REF_NAME = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::CodeBuild::Project": "Name",
    "AWS::CodeDeploy::Application": "ApplicationName",
    "AWS::CodePipeline::Pipeline": "Name",
    "AWS::IAM::Role": "RoleName",
    "AWS::ECR::Repository": "RepositoryName",
    "AWS::ECS::Cluster": "ClusterName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Glue::Job": "Name",
    "AWS::Glue::Crawler": "Name",
    "AWS::Glue::Workflow": "Name",
    "AWS::Kinesis::Stream": "Name",
    "AWS::KinesisAnalyticsV2::Application": "ApplicationName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SSM::Parameter": "Name",
}


class AssemblyError(Exception):
    """The input is not a readable cloud assembly (reported in one line, exit status 2)."""


def load_json(path: Path, what: str) -> Any:
    """Parse ``path`` as JSON, raising :class:`AssemblyError` (one line) on any problem."""
    try:
        with path.open(encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise AssemblyError(f"{path}: {what} not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise AssemblyError(f"{path}: cannot read {what}: {e}") from None
    except json.JSONDecodeError as e:
        raise AssemblyError(f"{path}: {what} is not valid JSON (line {e.lineno}: {e.msg})") from None


#: ``(logical id, attribute or None for Ref)`` -> the literal it stands for, or ``None``.
Lookup = Callable[[str, str | None], str | None]


def render_value(value: Any, lookup: Lookup | None = None) -> str:
    """Render a CloudFormation value (intrinsics included) as a short, readable string.

    ``{"Ref": "X"}`` -> ``${X}``, ``{"Fn::GetAtt": ["X", "Arn"]}`` -> ``${X.Arn}``,
    ``Fn::Join`` is joined, ``Fn::Sub`` keeps its template, pseudo parameters
    stay as ``${AWS::Region}``. With ``lookup``, a ``Ref``/``GetAtt`` whose value
    the template holds as a literal (a repository's name, a bucket's name) is
    replaced by that literal.
    """

    def render(v: Any) -> str:
        return render_value(v, lookup)

    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return ", ".join(render(v) for v in value)
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            literal = lookup(arg, None) if lookup is not None and isinstance(arg, str) else None
            return literal if literal is not None else f"${{{render(arg)}}}"
        if key == "Fn::GetAtt":
            parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
            if lookup is not None and len(parts) == 2 and all(isinstance(p, str) for p in parts):
                literal = lookup(parts[0], parts[1])
                if literal is not None:
                    return literal
            return "${" + ".".join(render(p) for p in parts) + "}"
        if key == "Fn::Join" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], list):
            return render(arg[0]).join(render(v) for v in arg[1])
        if key == "Fn::Sub":
            return render(arg[0] if isinstance(arg, list) and arg else arg)
        if key == "Fn::Select" and isinstance(arg, list) and len(arg) == 2:
            return f"${{Select[{render(arg[0])}]}}"
        if key == "Fn::ImportValue":
            return f"${{Import:{render(arg)}}}"
        return f"${{{key}}}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {render(v)}" for k, v in value.items()) + "}"
    return str(value)


def template_literal(template: Mapping[str, Any], logical_id: str, attribute: str | None) -> str | None:
    """The literal a ``Ref`` (``attribute=None``) or ``GetAtt`` of ``logical_id`` stands for, if the template holds it.

    ``Ref`` of a bucket, function, project, role...: its name property (:data:`_REF_NAME`);
    ``GetAtt X.Name`` (or ``X.<Type>Name``): ``Name`` or ``<Type>Name``, e.g. the
    ``RepositoryName`` of an ``AWS::CodeCommit::Repository``. Parameters are never
    literals (a deployment can override them).
    """
    resources = template.get("Resources")
    resource = resources.get(logical_id) if isinstance(resources, dict) else None
    if not isinstance(resource, dict) or not isinstance(resource.get("Properties"), dict):
        return None
    rtype = str(resource.get("Type") or "")
    props: dict[str, Any] = resource["Properties"]
    if attribute is None:
        key = _REF_NAME.get(rtype)
        candidates = [key] if key else []
    elif attribute.endswith("Name"):
        kind = rtype.rsplit("::", 1)[-1]
        candidates = [attribute, "Name", f"{kind}Name"]
    else:
        candidates = []
    for key in candidates:
        literal = props.get(key)
        if isinstance(literal, str) and literal:
            return literal
    return None


@dataclass(frozen=True)
class Annotation:
    """A construct annotation in a stack's metadata (``aws:cdk:error``, ``aws:cdk:warning``, ``aws:cdk:info``)."""

    level: str
    #: Construct path, without the leading ``/``.
    path: str
    message: str
    stack: str


@dataclass(frozen=True)
class StackArtifact:
    """One ``aws:cloudformation:stack`` artifact of an assembly (any nesting level)."""

    artifact_id: str
    display_name: str
    stack_name: str
    account: str | None
    region: str | None
    template_path: Path
    assembly_dir: Path
    _metadata: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _metadata_file: Path | None = field(default=None, repr=False, compare=False)
    #: For a nested stack (``cdk.NestedStack``): the artifact id of the stack whose template holds it.
    parent: str | None = None

    @property
    def environment(self) -> str:
        """``aws://account/region`` with ``?`` for an environment-agnostic part."""
        return f"aws://{self.account or '?'}/{self.region or '?'}"

    @cached_property
    def template(self) -> dict[str, Any]:
        """The parsed CloudFormation template."""
        data = load_json(self.template_path, "template")
        if not isinstance(data, dict):
            raise AssemblyError(f"{self.template_path}: template is not a JSON object")
        return data

    @property
    def resources(self) -> dict[str, Any]:
        """``Resources`` of the template (empty if none)."""
        res = self.template.get("Resources")
        return res if isinstance(res, dict) else {}

    def resources_of_type(self, resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(logical id, resource)`` of every resource of ``resource_type``, in template order."""
        for logical_id, resource in self.resources.items():
            if isinstance(resource, dict) and resource.get("Type") == resource_type:
                yield logical_id, resource

    @cached_property
    def metadata(self) -> dict[str, list[dict[str, Any]]]:
        """Construct path (``/Stack/Construct/...``) -> metadata entries."""
        raw: Any = dict(self._metadata)
        if self._metadata_file is not None and self._metadata_file.is_file():
            raw = load_json(self._metadata_file, "stack metadata")
        if not isinstance(raw, dict):
            return {}
        return {str(k): [e for e in v if isinstance(e, dict)] for k, v in raw.items() if isinstance(v, list)}

    @cached_property
    def construct_paths(self) -> dict[str, str]:
        """Logical id -> construct path (without the leading ``/``), from metadata or ``aws:cdk:path``."""
        paths: dict[str, str] = {}
        for path, entries in self.metadata.items():
            for entry in entries:
                if entry.get("type") == "aws:cdk:logicalId" and isinstance(entry.get("data"), str):
                    paths[entry["data"]] = path.lstrip("/")
        for logical_id, resource in self.resources.items():
            meta = resource.get("Metadata") if isinstance(resource, dict) else None
            if isinstance(meta, dict) and isinstance(meta.get("aws:cdk:path"), str):
                paths.setdefault(logical_id, meta["aws:cdk:path"])
        return paths

    def construct_path(self, logical_id: str) -> str:
        """Construct path of a resource, or ``<stack display name>/<logical id>`` when unknown."""
        return self.construct_paths.get(logical_id, f"{self.display_name}/{logical_id}")

    def render(self, value: Any) -> str:
        """:func:`render_value` with ``Ref``/``GetAtt`` resolved to this template's literals where it holds them."""
        return render_value(value, lambda logical_id, attribute: template_literal(self.template, logical_id, attribute))

    @property
    def annotations(self) -> list[Annotation]:
        """Errors, warnings and infos the app attached to constructs of this stack, in metadata order."""
        return [
            Annotation(ANNOTATION_TYPES[str(e.get("type"))], path.lstrip("/"), _text(e.get("data")), self.display_name)
            for path, entries in self.metadata.items()
            for e in entries
            if e.get("type") in ANNOTATION_TYPES
        ]

    @property
    def acknowledged_rules(self) -> list[tuple[str, str, str]]:
        """``(construct path, rule id as written, reason)`` of each ``aws:cdk:acknowledged-rules`` metadata entry."""
        out: list[tuple[str, str, str]] = []
        for path, entries in self.metadata.items():
            for e in entries:
                data = e.get("data")
                if e.get("type") == ACKNOWLEDGED_RULES and isinstance(data, dict):
                    out += [(path.lstrip("/"), str(rule), _text(reason)) for rule, reason in data.items()]
        return out


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@dataclass
class CloudAssembly:
    """A cloud assembly directory and every stack in it and in its nested assemblies."""

    directory: Path
    stacks: list[StackArtifact]
    nested: list[str]
    #: The root assembly folder and every nested assembly folder, in reading order.
    directories: list[Path] = field(default_factory=list)

    @classmethod
    def load(cls, path: str | Path) -> CloudAssembly:
        """Load the assembly at ``path``: a ``cdk.out`` folder, its manifest, or an app folder with ``cdk.out``.

        :raises AssemblyError: when ``path`` is not a cloud assembly.
        """
        root = Path(path)
        if root.is_file() and root.name == "manifest.json":
            root = root.parent
        if not root.exists():
            raise AssemblyError(f"{root}: no such file or directory")
        if not root.is_dir():
            raise AssemblyError(f"{root}: not a cloud assembly (expected a cdk.out directory)")
        if not (root / "manifest.json").is_file() and (root / "cdk.out" / "manifest.json").is_file():
            root = root / "cdk.out"
        if not (root / "manifest.json").is_file():
            raise AssemblyError(
                f"{root}: not a cloud assembly (no manifest.json); synthesize first: pipeline-constructs synth APP_DIR"
            )
        stacks: list[StackArtifact] = []
        nested: list[str] = []
        seen: dict[Path, None] = {}
        _read(root, stacks, nested, depth=0, seen=seen)
        return cls(root.resolve(), stacks, nested, list(seen))

    @property
    def validation_report_path(self) -> Path | None:
        """``validation-report.json`` (or the legacy ``policy-validation-report.json``), if the app wrote one."""
        return next((self.directory / n for n in VALIDATION_REPORT_FILES if (self.directory / n).is_file()), None)

    @property
    def validation_report_is_stale(self) -> bool:
        """The report is older than the manifest: left over from an earlier synth (CDK writes it after the manifest)."""
        path = self.validation_report_path
        if path is None:
            return False
        return path.stat().st_mtime < (self.directory / "manifest.json").stat().st_mtime - _STALE_AFTER_S

    @cached_property
    def validation_report(self) -> dict[str, Any] | None:
        """The policy-validation report (``validation-report.json``), or ``None`` if absent."""
        path = self.validation_report_path
        if path is None:
            return None
        data = load_json(path, "validation report")
        if not isinstance(data, dict):
            raise AssemblyError(f"{path}: validation report is not a JSON object")
        return data

    @property
    def annotations(self) -> list[Annotation]:
        """Annotations of every stack (nested assemblies included)."""
        return [a for stack in self.stacks if stack.parent is None for a in stack.annotations]

    def files(self, pattern: str) -> list[Path]:
        """Files matching ``pattern`` (a glob) in the root and every nested assembly folder."""
        return [path for directory in self.directories for path in sorted(directory.glob(pattern)) if path.is_file()]


def _read(
    directory: Path, stacks: list[StackArtifact], nested: list[str], *, depth: int, seen: dict[Path, None]
) -> None:
    real = directory.resolve()
    if real in seen or depth > _MAX_DEPTH:
        return
    seen[real] = None
    manifest = load_json(directory / "manifest.json", "manifest.json")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("version"), str):
        raise AssemblyError(f"{directory / 'manifest.json'}: not a cloud assembly manifest (no 'version')")
    artifacts = manifest.get("artifacts") or {}
    if not isinstance(artifacts, dict):
        raise AssemblyError(f"{directory / 'manifest.json'}: 'artifacts' is not an object")
    for artifact_id, artifact in artifacts.items():
        if not isinstance(artifact, dict):
            continue
        kind = artifact.get("type")
        props: dict[str, Any] = artifact["properties"] if isinstance(artifact.get("properties"), dict) else {}
        inline: dict[str, Any] = artifact["metadata"] if isinstance(artifact.get("metadata"), dict) else {}
        if kind == "aws:cloudformation:stack":
            template_file = props.get("templateFile")
            if not isinstance(template_file, str):
                continue
            account, region = _environment(artifact.get("environment"))
            metadata_file = artifact.get("additionalMetadataFile")
            stack = StackArtifact(
                artifact_id=artifact_id,
                display_name=str(artifact.get("displayName") or artifact_id),
                stack_name=str(props.get("stackName") or artifact_id),
                account=account,
                region=region,
                template_path=directory / template_file,
                assembly_dir=directory,
                _metadata=inline,
                _metadata_file=directory / metadata_file if isinstance(metadata_file, str) else None,
            )
            stacks.append(stack)
            stacks.extend(_nested_stacks(stack, artifacts))
        elif kind == "cdk:cloud-assembly":
            sub = props.get("directoryName")
            if isinstance(sub, str) and (directory / sub / "manifest.json").is_file():
                nested.append(str(props.get("displayName") or artifact.get("displayName") or artifact_id))
                _read(directory / sub, stacks, nested, depth=depth + 1, seen=seen)


def _nested_stacks(parent: StackArtifact, artifacts: dict[str, Any]) -> list[StackArtifact]:
    """Nested stacks (``cdk.NestedStack``): their templates are file assets of the parent stack."""
    manifest = artifacts.get(f"{parent.artifact_id}.assets")
    props = manifest.get("properties") if isinstance(manifest, dict) else None
    file = props.get("file") if isinstance(props, dict) else None
    if not isinstance(file, str) or not (parent.assembly_dir / file).is_file():
        return []
    assets = load_json(parent.assembly_dir / file, "asset manifest")
    files = assets.get("files") if isinstance(assets, dict) else None
    nested = []
    for entry in files.values() if isinstance(files, dict) else []:
        source = entry.get("source") if isinstance(entry, dict) else None
        path = source.get("path") if isinstance(source, dict) else None
        if isinstance(path, str) and path.endswith(".nested.template.json"):
            name = path.removesuffix(".nested.template.json")
            if (parent.assembly_dir / path).is_file():
                nested.append(
                    dataclasses.replace(
                        parent,
                        artifact_id=name,
                        display_name=f"{parent.display_name} (nested {name})",
                        stack_name=f"{parent.stack_name} (nested {name})",
                        template_path=parent.assembly_dir / path,
                        parent=parent.artifact_id,
                    )
                )
    return nested


def _environment(value: Any) -> tuple[str | None, str | None]:
    match = _ENV.match(value) if isinstance(value, str) else None
    if match is None:
        return None, None
    account, region = match["account"], match["region"]
    return (
        None if account.startswith("unknown-") else account,
        None if region.startswith("unknown-") else region,
    )
