"""An engine-neutral model of a CodePipeline, parsed from a CloudFormation template.

``AWS::CodePipeline::Pipeline`` resources are the only input: the model does
not care whether CDK Pipelines, the ``aws_codepipeline`` L2, or hand-written
CloudFormation produced them. Renderers (text, Markdown, JSON, Mermaid, DOT,
SVG) work on this model only.

Execution semantics (CodePipeline): stages run one after another; inside a
stage, actions with the same ``RunOrder`` run in parallel and the next run
order starts when all of them succeeded. So every chain of actions from the
source to the end passes through exactly one action of each *step*
(``(stage, run order)`` group).

The deployment model is part of it: each stage's conditions (:mod:`.conditions`),
its parallel deployments and AWS Health gate (:mod:`.deployments`), and the
pipeline's git triggers (:mod:`.triggers`).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Collection, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from pipeline_constructs.cli.assembly import CloudAssembly, StackArtifact, render_value
from pipeline_constructs.cli.conditions import StageConditions, parse_conditions
from pipeline_constructs.cli.deployments import (
    HealthGate,
    Wave,
    checked_region,
    health_gate_of,
    is_health_check,
    wave_of,
)
from pipeline_constructs.cli.triggers import Trigger, parse_triggers

__all__ = [
    "GATE_APPROVAL",
    "GATE_HEALTH",
    "GATE_PERMISSION_CHECK",
    "Action",
    "CriticalPath",
    "Gate",
    "Pipeline",
    "Stage",
    "Step",
    "pipelines_in",
    "pipelines_of_stack",
]

GATE_APPROVAL = "manual approval"
GATE_PERMISSION_CHECK = "permission check"
GATE_HEALTH = "AWS Health check"

#: Configuration keys worth showing, per provider, in this order.
_DETAIL_KEYS = (
    "StackName",
    "ActionMode",
    "FullRepositoryId",
    "RepositoryName",
    "BranchName",
    "S3Bucket",
    "S3ObjectKey",
    "FunctionName",
    "ApplicationName",
    "CustomData",
)


@dataclass(frozen=True)
class Action:
    """One action of a stage."""

    stage: str
    name: str
    category: str
    owner: str
    provider: str
    run_order: int
    region: str | None
    account: str | None
    namespace: str | None = None
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    #: Configuration, rendered to strings (intrinsics as ``${...}``).
    configuration: dict[str, str] = field(default_factory=dict)
    #: ``GATE_APPROVAL``, ``GATE_PERMISSION_CHECK``, ``GATE_HEALTH`` or ``None``.
    gate: str | None = None
    #: For CodeBuild actions: logical id of the project, its compute type and image.
    project: str | None = None
    compute_type: str | None = None
    image: str | None = None
    #: For CodeBuild actions: the project's ``Environment.Type`` (``LINUX_CONTAINER``, ``ARM_LAMBDA_CONTAINER``...).
    environment_type: str | None = None
    #: For CodeBuild actions with an inline buildspec: its commands, phase by phase (``install``
    #: before ``build``), and the report groups it publishes to (``"UnitTests (JUNITXML)"``).
    commands: tuple[str, ...] = ()
    reports: tuple[str, ...] = ()

    @property
    def qualified_name(self) -> str:
        """``Stage/Action``."""
        return f"{self.stage}/{self.name}"

    @property
    def is_codebuild(self) -> bool:
        return self.provider == "CodeBuild"

    @property
    def is_deployment(self) -> bool:
        return self.category == "Deploy"

    @property
    def kind(self) -> str:
        """``Category/Provider`` (e.g. ``Build/CodeBuild``)."""
        return f"{self.category}/{self.provider}"

    @property
    def details(self) -> str:
        """A short description: the stack it deploys, the build it runs, the repository it reads."""
        c = self.configuration
        if self.provider == "CloudFormation":
            mode = _MODES.get(c.get("ActionMode", ""), c.get("ActionMode", "").lower().replace("_", " "))
            return f"{mode} {c.get('StackName', '')}".strip()
        if self.is_codebuild:
            size = (self.compute_type or "").replace("BUILD_GENERAL1_", "").lower()
            image = (self.image or "").rsplit("/", 1)[-1]
            return ", ".join(x for x in (size, image) if x)
        if self.category == "Source":
            repo = c.get("FullRepositoryId") or c.get("RepositoryName") or c.get("S3Bucket") or c.get("Repo", "")
            branch = c.get("BranchName") or c.get("Branch") or c.get("S3ObjectKey") or ""
            return f"{repo}@{branch}" if repo and branch else repo
        if self.provider == "Manual":
            data = c.get("CustomData", "")
            return "" if data.startswith("#{") else data
        if self.provider == "Lambda":
            return c.get("FunctionName", "")
        return " ".join(f"{k}={c[k]}" for k in _DETAIL_KEYS if c.get(k))


_MODES = {
    "CHANGE_SET_REPLACE": "create change set",
    "CHANGE_SET_EXECUTE": "execute change set",
    "CREATE_UPDATE": "create/update stack",
    "REPLACE_ON_FAILURE": "replace stack",
    "DELETE_ONLY": "delete stack",
}


@dataclass(frozen=True)
class Step:
    """Actions of one stage with the same run order: they run in parallel."""

    stage: str
    run_order: int
    actions: tuple[Action, ...]

    def representative(self) -> Action:
        """The action a critical path goes through: the slowest kind first (CodeBuild, then deployments)."""
        return sorted(self.actions, key=lambda a: (not a.is_codebuild, not a.is_deployment))[0]


@dataclass(frozen=True)
class Stage:
    """A stage and its actions, sorted by run order (template order within a run order)."""

    name: str
    actions: tuple[Action, ...]
    #: ``BeforeEntry``, ``OnSuccess`` and ``OnFailure`` (empty when the stage has none).
    conditions: StageConditions = field(default_factory=StageConditions)
    #: When this is a ``<stage>-Health`` stage: the AWS Health gate of the stage it guards.
    health_gate: HealthGate | None = None

    @property
    def steps(self) -> tuple[Step, ...]:
        orders = sorted({a.run_order for a in self.actions})
        return tuple(Step(self.name, order, tuple(a for a in self.actions if a.run_order == order)) for order in orders)

    @property
    def wave(self) -> Wave | None:
        """The deployments of this stage that run in parallel (a wave), or ``None``."""
        return wave_of(self.actions)

    @property
    def headline(self) -> str:
        """``wave: 2 targets in parallel: ...``, ``AWS Health gate of Prod: eu-west-1`` or ``""``."""
        if self.health_gate is not None:
            return self.health_gate.description
        wave = self.wave
        return wave.description if wave is not None else ""

    @property
    def notes(self) -> list[str]:
        """The headline, then the conditions (window, bake, on failure), one a line; empty for a plain stage."""
        return [*([self.headline] if self.headline else []), *self.conditions.lines]


@dataclass(frozen=True)
class Gate:
    """Something a person (or a check) must pass before the pipeline goes on."""

    stage: str
    kind: str
    actions: tuple[Action, ...]
    #: Later stages holding the gate's confirmation that a before-entry condition skips (an early permission
    #: check's ``<stage>-Permissions`` stage, skipped when nothing broadens).
    skipped_stages: tuple[str, ...] = ()

    @property
    def run_orders(self) -> tuple[int, ...]:
        """The run orders of the gate's actions in its own stage."""
        return tuple(sorted({a.run_order for a in self.actions if a.stage == self.stage}))

    @property
    def action_names(self) -> tuple[str, ...]:
        """The actions' names; ``Stage/Action`` for an action in another stage than the gate's."""
        return tuple(a.name if a.stage == self.stage else a.qualified_name for a in self.actions)

    @property
    def description(self) -> str:
        names = " -> ".join(self.action_names)
        if self.kind == GATE_PERMISSION_CHECK:
            skipped = (
                f" (confirmation stage {', '.join(self.skipped_stages)} skipped when nothing broadens)"
                if self.skipped_stages
                else ""
            )
            return f"{names}: stops for approval when IAM or security-group permissions broaden{skipped}"
        if self.kind == GATE_HEALTH:
            regions = ", ".join(dict.fromkeys(r for r in map(checked_region, self.actions) if r))
            return f"{names}: fails while AWS Health reports an open issue" + (f" ({regions})" if regions else "")
        comment = next(
            (a.configuration.get("CustomData") for a in self.actions if a.configuration.get("CustomData")), ""
        )
        return f"{names}: {comment}" if comment else names


@dataclass(frozen=True)
class CriticalPath:
    """The longest chain of actions from the source to the last deployment."""

    actions: tuple[Action, ...]

    @property
    def length(self) -> int:
        return len(self.actions)

    @property
    def codebuild(self) -> int:
        """CodeBuild actions on the chain (each one is a container start: the slow part)."""
        return sum(1 for a in self.actions if a.is_codebuild)


@dataclass(frozen=True)
class Pipeline:
    """A pipeline found in a stack."""

    name: str
    logical_id: str
    stack: str
    stack_name: str
    account: str | None
    region: str | None
    pipeline_type: str
    stages: tuple[Stage, ...]
    construct_path: str = ""
    #: ``Triggers`` (CodePipeline V2 git push / pull-request filters).
    triggers: tuple[Trigger, ...] = ()

    @property
    def title(self) -> str:
        return self.name

    def triggers_of(self, action: Action) -> tuple[Trigger, ...]:
        """The triggers that watch ``action`` (a source action named by their ``SourceActionName``)."""
        return tuple(t for t in self.triggers if action.category == "Source" and t.source_action == action.name)

    @property
    def actions(self) -> tuple[Action, ...]:
        return tuple(a for s in self.stages for a in s.actions)

    @property
    def steps(self) -> tuple[Step, ...]:
        return tuple(step for s in self.stages for step in s.steps)

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(sorted({a.region for a in self.actions if a.region}))

    @property
    def accounts(self) -> tuple[str, ...]:
        return tuple(sorted({a.account for a in self.actions if a.account}))

    @property
    def gates(self) -> tuple[Gate, ...]:
        """Permission checks (with the approval that confirms them, in its stage or a later one), approvals
        and health checks, in run order."""
        gates: list[Gate] = []
        for i, stage in enumerate(self.stages):
            for a in stage.actions:
                if a.gate == GATE_PERMISSION_CHECK and a.is_codebuild:
                    confirm = [
                        c
                        for later in self.stages[i:]
                        for c in later.actions
                        if c.gate == GATE_PERMISSION_CHECK and _confirms(c, {a.namespace})
                    ]
                    skips = tuple(
                        later.name
                        for later in self.stages[i + 1 :]
                        if any(c.result.upper() == "SKIP" for c in later.conditions.before_entry)
                        and any(c.stage == later.name for c in confirm)
                    )
                    gates.append(Gate(stage.name, GATE_PERMISSION_CHECK, (a, *confirm), skipped_stages=skips))
                elif a.gate in (GATE_APPROVAL, GATE_HEALTH):
                    gates.append(Gate(stage.name, a.gate, (a,)))
        return tuple(gates)

    @property
    def critical_path(self) -> CriticalPath:
        steps = self.steps
        last = max((i for i, s in enumerate(steps) if any(a.is_deployment for a in s.actions)), default=len(steps) - 1)
        return CriticalPath(tuple(s.representative() for s in steps[: last + 1]))

    def summary(self) -> dict[str, Any]:
        """Counts for reports and benchmarks."""
        path = self.critical_path
        return {
            "stages": len(self.stages),
            "actions": len(self.actions),
            "codebuild_actions": sum(1 for a in self.actions if a.is_codebuild),
            "gates": len(self.gates),
            "critical_path_actions": path.length,
            "critical_path_codebuild_actions": path.codebuild,
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable description (stable keys)."""
        return {
            "name": self.name,
            "logical_id": self.logical_id,
            "stack": self.stack,
            "stack_name": self.stack_name,
            "account": self.account,
            "region": self.region,
            "pipeline_type": self.pipeline_type,
            **self.summary(),
            "stages": [
                {
                    "name": s.name,
                    "actions": [
                        {
                            "name": a.name,
                            "run_order": a.run_order,
                            "category": a.category,
                            "provider": a.provider,
                            "region": a.region,
                            "account": a.account,
                            "gate": a.gate,
                            "details": a.details,
                        }
                        for a in s.actions
                    ],
                    "wave": s.wave.to_dict() if s.wave is not None else None,
                    "health_gate": s.health_gate.to_dict() if s.health_gate is not None else None,
                    "conditions": s.conditions.to_dict(),
                    "notes": s.notes,
                }
                for s in self.stages
            ],
            "gates": [{"stage": g.stage, "kind": g.kind, "actions": list(g.action_names)} for g in self.gates],
            "critical_path": [a.qualified_name for a in self.critical_path.actions],
            "triggers": [t.to_dict() for t in self.triggers],
        }


#: A ``#{Namespace.Variable}`` reference.
_NAMESPACE_REF = re.compile(r"#\{([A-Za-z0-9@\-_]+)\.")


def _confirms(action: Action, namespaces: Collection[str | None]) -> bool:
    """A manual approval whose configuration reads variables of one of ``namespaces``."""
    if action.provider != "Manual":
        return False
    refs = {m for v in action.configuration.values() for m in _NAMESPACE_REF.findall(v)}
    return bool(refs & {n for n in namespaces if n})


def pipelines_in(assembly: CloudAssembly) -> list[Pipeline]:
    """Every ``AWS::CodePipeline::Pipeline`` of every stack of ``assembly`` (nested assemblies included)."""
    return [p for stack in assembly.stacks for p in pipelines_of_stack(stack)]


def pipelines_of_stack(stack: StackArtifact) -> Iterator[Pipeline]:
    for logical_id, resource in stack.resources_of_type("AWS::CodePipeline::Pipeline"):
        yield _parse_pipeline(stack, logical_id, resource)


def _parse_pipeline(stack: StackArtifact, logical_id: str, resource: dict[str, Any]) -> Pipeline:
    props = resource.get("Properties") if isinstance(resource.get("Properties"), dict) else {}
    assert isinstance(props, dict)
    name = props.get("Name")
    path = stack.construct_path(logical_id)
    rendered = stack.render(name) if name is not None else ""
    display = rendered if rendered and "${" not in rendered else path.removesuffix("/Resource")
    stages: list[Stage] = []
    raw_stages = props.get("Stages") if isinstance(props.get("Stages"), list) else []
    assert isinstance(raw_stages, list)
    for i, raw_stage in enumerate(raw_stages):
        if not isinstance(raw_stage, dict):
            continue
        stage_name = stack.render(raw_stage.get("Name")) or f"Stage{i + 1}"
        raw_actions = raw_stage.get("Actions") if isinstance(raw_stage.get("Actions"), list) else []
        assert isinstance(raw_actions, list)
        actions = [_parse_action(stack, stage_name, a) for a in raw_actions if isinstance(a, dict)]
        actions = _mark_health_checks(stage_name, actions)
        # Python's sort is stable: template order is kept within a run order.
        ordered = tuple(sorted(actions, key=lambda a: a.run_order))
        stages.append(Stage(stage_name, ordered, parse_conditions(raw_stage, stack.render)))
    stages = _mark_permission_checks(stages)
    names = [s.name for s in stages]
    stages = [
        dataclasses.replace(s, health_gate=health_gate_of(s.name, s.actions, names[i + 1 :]))
        for i, s in enumerate(stages)
    ]
    return Pipeline(
        name=display,
        logical_id=logical_id,
        stack=stack.display_name,
        stack_name=stack.stack_name,
        account=stack.account,
        region=stack.region,
        pipeline_type=stack.render(props.get("PipelineType")) or "V1",
        stages=tuple(stages),
        construct_path=path,
        triggers=parse_triggers(props.get("Triggers"), stack.render),
    )


#: The account of an action's role ARN.
_ROLE_ACCOUNT = re.compile(r":iam::(\d{12}):role/")


def _parse_action(stack: StackArtifact, stage: str, raw: dict[str, Any]) -> Action:
    type_id = raw.get("ActionTypeId") if isinstance(raw.get("ActionTypeId"), dict) else {}
    assert isinstance(type_id, dict)
    config_raw = raw.get("Configuration") if isinstance(raw.get("Configuration"), dict) else {}
    assert isinstance(config_raw, dict)
    configuration = {str(k): stack.render(v) for k, v in config_raw.items()}
    try:
        run_order = int(raw.get("RunOrder", 1))
    except (TypeError, ValueError):
        run_order = 1
    role = stack.render(raw.get("RoleArn"))
    role_account = _ROLE_ACCOUNT.search(role)
    region = stack.render(raw.get("Region")) or stack.region
    provider = render_value(type_id.get("Provider"))
    category = render_value(type_id.get("Category"))
    build, security_check = (
        _codebuild(stack, config_raw, configuration) if provider == "CodeBuild" else (_Build(), False)
    )
    gate: str | None = None
    if security_check:
        gate = GATE_PERMISSION_CHECK
    elif category == "Approval":
        gate = GATE_APPROVAL
    return Action(
        stage=stage,
        name=stack.render(raw.get("Name")),
        category=category,
        owner=render_value(type_id.get("Owner")),
        provider=provider,
        run_order=run_order,
        region=region or None,
        account=role_account.group(1) if role_account else stack.account,
        namespace=render_value(raw.get("Namespace")) or None,
        inputs=tuple(render_value(a.get("Name")) for a in raw.get("InputArtifacts") or [] if isinstance(a, dict)),
        outputs=tuple(render_value(a.get("Name")) for a in raw.get("OutputArtifacts") or [] if isinstance(a, dict)),
        configuration=configuration,
        gate=gate,
        **asdict(build),
    )


@dataclass(frozen=True)
class _Build:
    """The fields of :class:`Action` that a CodeBuild action's project fills (none for other actions)."""

    project: str | None = None
    compute_type: str | None = None
    image: str | None = None
    environment_type: str | None = None
    commands: tuple[str, ...] = ()
    reports: tuple[str, ...] = ()


def _codebuild(stack: StackArtifact, config_raw: dict[str, Any], configuration: dict[str, str]) -> tuple[_Build, bool]:
    """The project of a CodeBuild action, and whether its buildspec runs ``cdk diff --security-only``."""
    ref = config_raw.get("ProjectName")
    if not isinstance(ref, dict) or not isinstance(ref.get("Ref"), str):
        return _Build(project=configuration.get("ProjectName")), False
    project = ref["Ref"]
    res = stack.resources.get(project)
    props = res.get("Properties") if isinstance(res, dict) else None
    if not isinstance(props, dict):
        return _Build(project=project), False
    env = props.get("Environment") or {}
    source = props.get("Source") or {}
    buildspec = stack.render(source.get("BuildSpec")) if isinstance(source, dict) else ""
    commands, reports = _buildspec_steps(buildspec, stack) if isinstance(source, dict) else ((), ())
    return _Build(
        project=project,
        compute_type=(render_value(env.get("ComputeType")) or None) if isinstance(env, dict) else None,
        image=(render_value(env.get("Image")) or None) if isinstance(env, dict) else None,
        environment_type=(render_value(env.get("Type")) or None) if isinstance(env, dict) else None,
        commands=commands,
        reports=reports,
    ), "--security-only" in buildspec


def _mark_health_checks(stage: str, actions: list[Action]) -> list[Action]:
    """The ``HealthCheck-<target>`` Lambda actions of a ``<stage>-Health`` stage are gates."""
    return [dataclasses.replace(a, gate=GATE_HEALTH) if is_health_check(stage, a) else a for a in actions]


def _mark_permission_checks(stages: list[Stage]) -> list[Stage]:
    """A manual approval that reads the variables of a permission check is part of that check: in the
    check's own stage (CDK's ``ConfirmPermissionsBroadening``) or in a later one (the early check's
    ``<stage>-Permissions`` stage)."""
    namespaces: set[str | None] = set()
    out = []
    for stage in stages:
        namespaces |= {a.namespace for a in stage.actions if a.gate == GATE_PERMISSION_CHECK and a.namespace}
        actions = tuple(
            dataclasses.replace(a, gate=GATE_PERMISSION_CHECK)
            if a.gate == GATE_APPROVAL and _confirms(a, namespaces)
            else a
            for a in stage.actions
        )
        out.append(dataclasses.replace(stage, actions=actions))
    return out


_PHASES = ("install", "pre_build", "build", "post_build")
_REPORT_REF = re.compile(r"^\$\{([A-Za-z0-9]+)\.Arn\}$")


def _buildspec_steps(text: str, stack: StackArtifact) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Commands (phase order) and report groups of an inline buildspec (JSON, or the common YAML subset)."""
    text = text.strip()
    if not text or ("\n" not in text and text.endswith((".yml", ".yaml"))):
        return (), ()  # a buildspec file in the source: not in the template
    try:
        spec = json.loads(text)
    except ValueError:
        spec = _yaml_subset(text)
    if not isinstance(spec, dict):
        return (), ()
    phases = spec.get("phases") if isinstance(spec.get("phases"), dict) else {}
    assert isinstance(phases, dict)
    commands: list[str] = []
    for phase in sorted(phases, key=lambda p: _PHASES.index(p) if p in _PHASES else len(_PHASES)):
        body = phases[phase]
        listed = body.get("commands") if isinstance(body, dict) else None
        commands += [str(c).strip() for c in listed or [] if isinstance(c, (str, int, float)) and str(c).strip()]
    reports = []
    raw_reports = spec.get("reports") if isinstance(spec.get("reports"), dict) else {}
    assert isinstance(raw_reports, dict)
    for key, body in raw_reports.items():
        name = str(key)
        ref = _REPORT_REF.match(name)
        if ref:
            group = stack.resources.get(ref.group(1))
            props = group.get("Properties") if isinstance(group, dict) else None
            literal = props.get("Name") if isinstance(props, dict) else None
            name = literal if isinstance(literal, str) else ref.group(1)
        elif ":report-group/" in name:
            name = name.rsplit("/", 1)[-1]
        fmt = body.get("file-format") if isinstance(body, dict) else None
        reports.append(f"{name} ({fmt})" if fmt else name)
    return tuple(commands), tuple(reports)


def _yaml_subset(text: str) -> dict[str, Any]:
    """Nested mappings, ``- item`` lists and ``- |`` blocks: what buildspecs use (not a YAML parser)."""
    root: dict[str, Any] = {}
    stack: list[tuple[int, Any]] = [(-1, root)]
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        content = line.strip()
        while len(stack) > 1 and stack[-1][0] >= indent and not (content.startswith("- ") and stack[-1][0] == indent):
            stack.pop()
        parent = stack[-1][1]
        if content.startswith("-"):
            item = content[1:].strip()
            if item in ("|", ">", "|-", ">-"):
                block = []
                while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                    block.append(lines[i].strip())
                    i += 1
                item = ("\n" if item.startswith("|") else " ").join(b for b in block if b)
            if isinstance(parent, list):
                parent.append(_scalar(item))
            continue
        key, _, value = content.partition(":")
        key, value = _scalar(key), value.strip()
        if not isinstance(parent, dict):
            continue
        if value:
            parent[key] = _scalar(value)
            continue
        nxt = next((ln for ln in lines[i:] if ln.strip() and not ln.lstrip().startswith("#")), "")
        child: Any = [] if nxt.strip().startswith("-") else {}
        parent[key] = child
        stack.append((indent, child))
    return root


def _scalar(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text
