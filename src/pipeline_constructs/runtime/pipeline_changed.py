"""Would CDK Pipelines' self-mutation change anything? Run by the synth CodeBuild action, after ``cdk synth``.

Usage: ``python3 pipeline_changed.py <cloud assembly dir> <pipeline stack artifact id>``. Prints ``false``
(nothing to update) or ``true`` on stdout, and one line saying why on stderr. Standard library only: the
synth image's ``python3`` and ``aws`` CLI, the synth role's credentials. The construct code emits this
file into the synth buildspec (it never imports it).

SelfMutate runs ``cdk deploy <pipeline stack>``, which deploys the stack and the stacks it depends on
(cross-region support stacks), and the CDK CLI skips a stack when its template, tags, notification ARNs
and termination protection are unchanged, no parameter comes from SSM, and the stack is not in a failed
state (``canSkipDeploy`` in aws/aws-cdk-cli, packages/@aws-cdk/toolkit-lib/lib/api/deployments/deploy-stack.ts).
This script checks the same things for every such stack, template against
``get-template --template-stage Original``, and answers ``false`` only when all of them match.
Fail closed: anything else (an error, a missing stack, an answer it cannot read) is ``true``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

CHANGED = "true"
UNCHANGED = "false"

#: Seconds one ``aws`` call may take.
AWS_TIMEOUT = 120

#: Stack states in which an unchanged stack is skipped (anything else, in progress or failed, deploys).
STABLE_STATES = frozenset(
    {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"}
)

#: The CDK CLI's marker of an SSM parameter it need not re-resolve (CDK's BootstrapVersion has it).
SSM_NO_INVALIDATE = "[cdk:skip]"

STACK_TYPE = "aws:cloudformation:stack"


class ChangedError(Exception):
    """The pipeline may change (or this script cannot tell): self-mutate."""


def aws(*args: str) -> Any:
    """Run ``aws <args> --output json`` and return its parsed output."""
    what = " ".join(args[:2])
    env = dict(os.environ, AWS_PAGER="")
    try:
        proc = subprocess.run(
            ["aws", *args, "--output", "json"], capture_output=True, text=True, timeout=AWS_TIMEOUT, env=env
        )
    except (OSError, subprocess.SubprocessError) as err:
        raise ChangedError(f"aws {what} could not run ({err})") from None
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        detail = lines[-1].strip() if lines else "no message"
        if "does not exist" in detail:
            raise ChangedError(f"aws {what}: the stack does not exist ({detail})")
        raise ChangedError(f"aws {what} failed with exit code {proc.returncode} ({detail})")
    try:
        return json.loads(proc.stdout)
    except ValueError:
        raise ChangedError(f"aws {what} printed no JSON") from None


def canonical(value: Any) -> str:
    """JSON with sorted keys: ``1``, ``1.0`` and ``true`` stay different."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def read_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as err:
        raise ChangedError(f"cannot read {path} ({err})") from None


def stacks_to_check(artifacts: dict[str, Any], artifact_id: str) -> list[str]:
    """The pipeline stack and every stack it depends on, transitively (what ``cdk deploy`` deploys)."""
    order: list[str] = []
    todo = [artifact_id]
    while todo:
        current = todo.pop(0)
        if current in order:
            continue
        artifact = artifacts.get(current)
        if not isinstance(artifact, dict):
            raise ChangedError(f"artifact {current!r} is not in the cloud assembly's manifest")
        if artifact.get("type") != STACK_TYPE:
            if current == artifact_id:
                raise ChangedError(f"artifact {current!r} is not a CloudFormation stack")
            continue  # an asset manifest: published by the deployment, never a change of its own
        order.append(current)
        dependencies = artifact.get("dependencies", [])
        if not isinstance(dependencies, list):
            raise ChangedError(f"artifact {current!r} has unreadable dependencies")
        todo.extend(str(d) for d in dependencies)
    return order


def region_of(artifact_id: str, artifact: dict[str, Any]) -> str:
    environment = artifact.get("environment")
    parts = environment.split("/") if isinstance(environment, str) else []
    if len(parts) != 4 or parts[:2] != ["aws:", ""] or not parts[3] or parts[3].startswith("unknown-"):
        raise ChangedError(f"stack {artifact_id!r} has no concrete region ({environment!r})")
    return parts[3]


def check_stack(assembly: str, artifact_id: str, artifact: dict[str, Any]) -> str:
    """Raise :class:`ChangedError` unless deploying this stack would be skipped; return its name."""
    properties = artifact.get("properties")
    if not isinstance(properties, dict) or not isinstance(properties.get("templateFile"), str):
        raise ChangedError(f"stack {artifact_id!r} has no template file in the manifest")
    name = properties.get("stackName") or artifact_id
    region = region_of(artifact_id, artifact)
    where = f"stack {name} ({region})"
    template = read_json(os.path.join(assembly, properties["templateFile"]))
    if not isinstance(template, dict):
        raise ChangedError(f"the template of {where} in the cloud assembly is not a JSON object")
    parameters = template.get("Parameters") or {}
    for key, parameter in parameters.items() if isinstance(parameters, dict) else []:
        kind = str(parameter.get("Type", "")) if isinstance(parameter, dict) else ""
        description = str(parameter.get("Description", "")) if isinstance(parameter, dict) else ""
        if kind.startswith("AWS::SSM::Parameter::") and SSM_NO_INVALIDATE not in description:
            raise ChangedError(f"{where}: parameter {key} comes from SSM, so the CDK CLI always deploys it")

    described = aws("cloudformation", "describe-stacks", "--stack-name", name, "--region", region)
    stacks = described.get("Stacks") if isinstance(described, dict) else None
    if not isinstance(stacks, list) or len(stacks) != 1 or not isinstance(stacks[0], dict):
        raise ChangedError(f"describe-stacks gave no single stack for {where}")
    stack = stacks[0]
    status = stack.get("StackStatus")
    if status not in STABLE_STATES:
        raise ChangedError(f"{where} is in state {status}")
    tags = stack.get("Tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, dict) for t in tags):
        raise ChangedError(f"describe-stacks gave unreadable tags for {where}")
    deployed_tags = {str(t.get("Key")): str(t.get("Value")) for t in tags}
    wanted_tags = properties.get("tags") or {}
    if not isinstance(wanted_tags, dict) or deployed_tags != {str(k): str(v) for k, v in wanted_tags.items()}:
        raise ChangedError(f"the tags of {where} change")
    protection = stack.get("EnableTerminationProtection", False)
    if bool(protection) != bool(properties.get("terminationProtection", False)):
        raise ChangedError(f"the termination protection of {where} changes")
    deployed_arns = stack.get("NotificationARNs") or []
    wanted_arns = properties.get("notificationArns") or []
    if (
        not isinstance(deployed_arns, list)
        or not isinstance(wanted_arns, list)
        or set(deployed_arns) != set(wanted_arns)
    ):
        raise ChangedError(f"the notification ARNs of {where} change")

    answer = aws(
        "cloudformation", "get-template", "--stack-name", name, "--region", region, "--template-stage", "Original"
    )
    body = answer.get("TemplateBody") if isinstance(answer, dict) else None
    if isinstance(body, str):  # the CLI parses a JSON body; a string is YAML or something else
        try:
            body = json.loads(body)
        except ValueError:
            raise ChangedError(f"the deployed template of {where} is not JSON") from None
    if not isinstance(body, dict):
        raise ChangedError(f"get-template gave no template body for {where}")
    if canonical(body) != canonical(template):
        raise ChangedError(f"the template of {where} changes")
    return name


def decide(assembly: str, artifact_id: str) -> str:
    """Why nothing changes; raises :class:`ChangedError` otherwise."""
    manifest = read_json(os.path.join(assembly, "manifest.json"))
    artifacts = manifest.get("artifacts") if isinstance(manifest, dict) else None
    if not isinstance(artifacts, dict):
        raise ChangedError("the cloud assembly's manifest lists no artifacts")
    names = [check_stack(assembly, a, artifacts[a]) for a in stacks_to_check(artifacts, artifact_id)]
    return f"{', '.join(names)}: template, tags and termination protection as deployed"


def main(argv: list[str]) -> int:
    value, reason = CHANGED, "nothing compared yet"
    try:
        if len(argv) != 3:
            raise ChangedError("usage: pipeline_changed.py <cloud assembly dir> <pipeline stack artifact id>")
        reason = decide(argv[1], argv[2])
        value = UNCHANGED
    except ChangedError as err:
        value, reason = CHANGED, str(err)
    except Exception as err:  # fail closed on anything unexpected
        value, reason = CHANGED, f"unexpected {type(err).__name__}: {err}"
    print(value)
    what = "unchanged, UpdatePipeline is skipped" if value == UNCHANGED else "may change, UpdatePipeline runs"
    line = " ".join(f"pipeline-changed: {value} (pipeline {what}): {reason}".split())
    print(line, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
