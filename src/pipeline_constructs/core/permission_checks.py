"""The early permissions check of a security gate: ``cdk diff --security-only`` while earlier work runs.

CDK Pipelines' ``ConfirmPermissionsBroadening`` runs its check (a CodeBuild start) and its confirmation in the
gated stage itself, so every run pays the check serially. :class:`PermissionCheck` makes the same check, with
the same commands and the same assumptions, but:

* the check is a CodeBuild action (``PermissionCheck-<stage>``) of its own in the pipeline's ``Assets`` stage,
  at run order 1, side by side with asset publishing (or, in a pipeline without an ``Assets`` stage, at the end
  of the ``Build`` stage: no faster than CDK's, but correct). It exports ``PERMISSIONS``: :data:`PASSED` only when
  ``cdk diff --security-only --fail`` exited 0, :data:`UNCHECKED` (its initial value) otherwise; on broadening it
  notifies the gate's topic with links to the build and the approval, as CDK's check does;
* the confirmation (``PermissionCheck.Confirm``, a manual approval showing the check's message and link) is
  alone in a stage ``<stage>-Permissions`` right before the gated stage (before its AWS Health stage), with a
  ``BeforeEntry`` ``VariableCheck`` condition ``PERMISSIONS NE passed``, result ``SKIP``: the stage is skipped
  only when the check proved nothing broadens; any other value (broadening, an error of ``cdk diff``) stops
  the execution there for a person. No auto-approve function is needed, so none is generated.

IAM (least privilege, as the hardened CDK check of :mod:`pipeline_constructs.core.compliance.hardening_check`):
``sts:AssumeRole`` only on the deploy roles of the gated stage's stacks, with CDK's tag condition;
``sns:Publish`` (and the topic key's data-key use) on the gate's topic only; logs to the pipeline's log group;
the artifact bucket and key through the action's own grants.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as cpactions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import pipelines
from constructs import Construct

from pipeline_constructs.core.compliance.acknowledgments import acknowledge_all
from pipeline_constructs.core.compliance.hardening import after_build
from pipeline_constructs.core.compliance.hardening_rules import project_rules
from pipeline_constructs.core.private.defaults import resolve_compute_type
from pipeline_constructs.core.private.iam_idioms import acknowledge_role_policies
from pipeline_constructs.core.stage_conditions import StageConditions, VariableSkip, add_stage_conditions

if TYPE_CHECKING:
    from pipeline_constructs.core.pipeline import SecurePipeline

__all__ = [
    "CHECK_ACTION_PREFIX",
    "CONFIRM_ACTION",
    "PASSED",
    "RESULT_VARIABLE",
    "SKIP_RULE",
    "UNCHECKED",
    "PermissionCheck",
    "check_commands",
]

#: The value of :data:`RESULT_VARIABLE` when ``cdk diff --security-only --fail`` exited 0 (nothing broadens).
PASSED = "passed"
#: Its value otherwise (set first, so anything but a passing diff leaves it).
UNCHECKED = "unchecked"
#: The variable the check exports (``#{<namespace>.PERMISSIONS}``).
RESULT_VARIABLE = "PERMISSIONS"
#: The name of the confirmation approval, alone in the ``<stage>-Permissions`` stage.
CONFIRM_ACTION = "PermissionCheck.Confirm"
#: The check action is ``PermissionCheck-<stage name>`` (unique in the ``Assets`` stage).
CHECK_ACTION_PREFIX = "PermissionCheck-"
#: The ``VariableCheck`` rule of the confirmation stage's ``BeforeEntry`` condition.
SKIP_RULE = "PermissionsBroadenedOrUnchecked"

#: Characters a variable namespace allows (``[A-Za-z0-9@_-]``); others become ``-``.
_NAMESPACE_CHARS = re.compile(r"[^A-Za-z0-9@_-]")

_MESSAGE_BROADENS = (
    "Deployment would make security-impacting changes, or the check could not compare them. Click the link "
    "below to inspect the check's log, then click Approve if all changes are expected."
)
_NOTIFICATION = "\n".join(
    [
        "An upcoming change would broaden security changes in $PIPELINE_NAME.",
        "Review and approve the changes in CodePipeline to proceed with the deployment.",
        "",
        "Review the changes in CodeBuild:",
        "",
        "$LINK",
        "",
        "Approve the changes in CodePipeline (stage $STAGE_NAME, action $ACTION_NAME):",
        "",
        "$PIPELINE_LINK",
    ]
)


def check_commands(cli_version: str) -> list[str]:
    """The check's build commands: CDK Pipelines' own (``ApplicationSecurityCheck``, aws-cdk-lib
    ``pipelines/lib/private/application-security-check.ts``) with the pinned CLI, the result variable set only
    when the diff passes, and no auto-approve invocation (the confirmation stage is skipped instead)."""
    node = "node -pe"
    return [
        f"npm install -g aws-cdk@{cli_version}",
        f'export PIPELINE_NAME="$({node} \'`${{process.env.CODEBUILD_INITIATOR}}`.split("/")[1]\')"',
        "export ARN=$CODEBUILD_BUILD_ARN",  # CDK writes ARN=...: node reads it from its environment
        f'REGION="$({node} \'`${{process.env.ARN}}`.split(":")[3]\')"',
        f'ACCOUNT_ID="$({node} \'`${{process.env.ARN}}`.split(":")[4]\')"',
        f'PROJECT_NAME="$({node} \'`${{process.env.ARN}}`.split(":")[5].split("/")[1]\')"',
        f'PROJECT_ID="$({node} \'`${{process.env.ARN}}`.split(":")[6]\')"',
        'export LINK="https://$REGION.console.aws.amazon.com/codesuite/codebuild/$ACCOUNT_ID/projects/$PROJECT_NAME/'
        'build/$PROJECT_NAME:$PROJECT_ID/?region=$REGION"',
        'export PIPELINE_LINK="https://$REGION.console.aws.amazon.com/codesuite/codepipeline/pipelines/'
        '$PIPELINE_NAME/view?region=$REGION"',
        "if cdk diff -a . --security-only --fail $STAGE_PATH/\\*\n"
        f" then export {RESULT_VARIABLE}={PASSED}\n"
        ' export MESSAGE="No security-impacting changes detected."\n'
        ' else [ -z "${NOTIFICATION_ARN}" ] || aws sns publish --topic-arn $NOTIFICATION_ARN '
        f'--subject "$NOTIFICATION_SUBJECT" --message "{_NOTIFICATION}"\n'
        f' export MESSAGE="{_MESSAGE_BROADENS}"\n'
        " fi",
    ]


class PermissionCheck(Construct):
    """The permissions check of one gated stage (in ``Assets``) and its confirmation (in ``confirm_wave``).

    Built by :class:`~pipeline_constructs.stages.security_gated.SecurityGatedStage` with ``early_check=True``;
    see the module docstring for what runs where.

    :param secure: the hardened pipeline: its pinned CDK CLI, log group and artifact key.
    :param stage: the gated application stage (its stacks are the ones diffed).
    :param topic: notified when permissions broaden.
    :param confirm_wave: the empty wave, right before the stage's, whose stage holds only the confirmation.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        secure: SecurePipeline,
        stage: cdk.Stage,
        topic: sns.ITopic,
        confirm_wave: pipelines.Wave,
    ) -> None:
        super().__init__(scope, id)
        from pipeline_constructs.core.pipeline import DEFAULT_BUILD_IMAGE

        self._secure = secure
        self._stage = stage
        self._topic = topic
        #: The name of the stage holding the confirmation (the confirm wave's).
        self.confirm_stage_name: str = confirm_wave.id
        #: The check action's name in the ``Assets`` stage.
        self.action_name: str = CHECK_ACTION_PREFIX + stage.stage_name
        #: The check action's variables namespace.
        self.namespace: str = _NAMESPACE_CHARS.sub("-", self.action_name)
        #: ``#{<namespace>.PERMISSIONS}``: :data:`PASSED` only when nothing broadens.
        self.variable: str = f"#{{{self.namespace}.{RESULT_VARIABLE}}}"
        #: The CodeBuild project the check runs in.
        self.project = codebuild.PipelineProject(
            self,
            "Project",
            description=f"Permissions check (cdk diff --security-only) of {stage.node.path}",
            build_spec=codebuild.BuildSpec.from_object(
                {
                    "version": "0.2",
                    "env": {
                        "variables": {RESULT_VARIABLE: UNCHECKED},
                        "exported-variables": ["LINK", "MESSAGE", RESULT_VARIABLE],
                    },
                    "phases": {"build": {"commands": check_commands(secure.cli_version)}},
                }
            ),
            # The team's computeType, like every other action (library default SMALL, as CDK's check).
            environment=codebuild.BuildEnvironment(
                build_image=DEFAULT_BUILD_IMAGE, compute_type=resolve_compute_type(secure, None)
            ),
            encryption_key=secure.artifact_key,
            logging=codebuild.LoggingOptions(
                cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=secure.log_group)
            ),
        )
        topic.grant_publish(self.project)
        #: The confirmation approval (alone in :attr:`confirm_stage_name`).
        self.approval = pipelines.ManualApprovalStep(
            CONFIRM_ACTION,
            comment=f"#{{{self.namespace}.MESSAGE}}",
            review_url=f"#{{{self.namespace}.LINK}}",
        )
        confirm_wave.add_post(self.approval)
        pipeline = secure.pipeline
        add_stage_conditions(
            pipeline,
            StageConditions(
                stage_name=self.confirm_stage_name,
                skip_unless=VariableSkip(rule_name=SKIP_RULE, variable=self.variable, operator="NE", value=PASSED),
            ),
        )
        after_build(pipeline, self._add_check_action)

    def allow_diff(self, deployment: pipelines.StageDeployment) -> None:
        """Let the check assume the deploy roles of ``deployment``'s stacks (and nothing else).

        ``cdk diff`` reads each stack's deployed template with its lookup role, falling back to its deploy
        role (aws-cdk-cli toolkit-lib ``deployments.ts``: ``readCurrentTemplate`` ->
        ``prepareSdkWithLookupOrDeployRole``); CDK's own check may assume only roles tagged
        ``aws-cdk:bootstrap-role=deploy``, and the hardened one only the checked stacks' deploy roles
        (:meth:`~pipeline_constructs.core.compliance.hardening_check.SecurityCheckHardening._deploy_roles`):
        the same roles, named exactly, with CDK's tag condition kept.
        """
        home = cdk.Stack.of(self)
        arns: list[str] = []
        for stack in deployment.stacks:
            account = stack.account or home.account
            region = stack.region or home.region
            template = stack.assume_role_arn or f"arn:${{AWS::Partition}}:iam::{account}:role/cdk-*"
            arn = cdk.Fn.sub(template.replace("${AWS::AccountId}", account).replace("${AWS::Region}", region))
            if arn not in arns:
                arns.append(arn)
        if arns:
            self.project.add_to_role_policy(
                iam.PolicyStatement(
                    sid="DiffWithTheDeployRoles",
                    actions=["sts:AssumeRole"],
                    resources=arns,
                    conditions={"ForAnyValue:StringEquals": {"iam:ResourceTag/aws-cdk:bootstrap-role": ["deploy"]}},
                )
            )

    def _add_check_action(self) -> None:
        """Add the check action to the built pipeline (``Assets`` at run order 1, else the end of ``Build``)."""
        code_pipeline = self._secure.pipeline.pipeline
        stages = {s.stage_name: s for s in code_pipeline.stages}
        self._require_confirm_stage_alone(stages)
        assets = stages.get("Assets")
        if assets is not None and assets.actions:
            target, run_order = assets, 1
            artifact = _first_input(assets.actions)
        else:
            build = stages.get("Build")
            if build is None or not build.actions:
                raise ValueError(
                    f"{self.node.path}: the pipeline has neither an Assets nor a Build stage to run the permissions "
                    f"check in (stages: {', '.join(stages)})"
                )
            target = build
            run_order = max(int(a.action_properties.run_order or 1) for a in build.actions) + 1
            artifact = _cloud_assembly(code_pipeline)
        if artifact is None:
            raise ValueError(f"{self.node.path}: found no cloud assembly artifact for the permissions check to read")
        target.add_action(
            cpactions.CodeBuildAction(
                action_name=self.action_name,
                project=self.project,
                input=artifact,
                run_order=run_order,
                variables_namespace=self.namespace,
                environment_variables={
                    "STAGE_PATH": codebuild.BuildEnvironmentVariable(value=self._stage.node.path),
                    "STAGE_NAME": codebuild.BuildEnvironmentVariable(value=self.confirm_stage_name),
                    "ACTION_NAME": codebuild.BuildEnvironmentVariable(value=CONFIRM_ACTION),
                    "NOTIFICATION_ARN": codebuild.BuildEnvironmentVariable(value=self._topic.topic_arn),
                    "NOTIFICATION_SUBJECT": codebuild.BuildEnvironmentVariable(
                        value=f"Confirm permission broadening in {self._stage.stage_name}"
                    ),
                },
            )
        )
        cfn = self.project.node.default_child
        assert isinstance(cfn, codebuild.CfnProject)
        acknowledge_all(cfn, project_rules(cfn, customer_key=self._secure.artifact_key is not None))
        # The project's role, and the action's role the pipeline generated for it (it trusts the pipeline's role).
        action_path = f"{code_pipeline.node.path}/{target.stage_name}/{self.action_name}/"
        roles = [self.project.role] + [
            c for c in code_pipeline.node.find_all() if isinstance(c, iam.Role) and c.node.path.startswith(action_path)
        ]
        for role in roles:
            if isinstance(role, iam.Role):
                acknowledge_role_policies(role)

    def _require_confirm_stage_alone(self, stages: dict[str, codepipeline.IStage]) -> None:
        """The skipped stage must hold the confirmation only: a skip would skip anything else in it too."""
        stage = stages.get(self.confirm_stage_name)
        names = [a.action_properties.action_name for a in stage.actions] if stage is not None else []
        if names != [CONFIRM_ACTION]:
            raise ValueError(
                f"{self.node.path}: stage {self.confirm_stage_name!r} must hold only the {CONFIRM_ACTION} approval "
                f"(it is skipped when nothing broadens), but holds {names or 'nothing'}: add other steps elsewhere"
            )


def _first_input(actions: list[codepipeline.IAction]) -> codepipeline.Artifact | None:
    for action in actions:
        inputs = action.action_properties.inputs or []
        if inputs:
            return inputs[0]
    return None


def _cloud_assembly(code_pipeline: codepipeline.Pipeline) -> codepipeline.Artifact | None:
    """The synth output: the template artifact of CDK Pipelines' CloudFormation deploy actions."""
    for stage in code_pipeline.stages:
        for action in stage.actions:
            props = action.action_properties
            if props.category == codepipeline.ActionCategory.DEPLOY and props.provider == "CloudFormation":
                inputs = props.inputs or []
                if inputs:
                    return inputs[0]
    return None
