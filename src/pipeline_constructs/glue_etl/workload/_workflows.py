"""The workflows of a spec and their triggers, created one after another."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import aws_glue as glue
from constructs import Construct, IConstruct

from pipeline_constructs.glue_etl.spec import GlueTrigger, GlueWorkflow


class WorkflowBuilder:
    """Builds workflows whose triggers start and watch the workload's ``jobs`` and ``crawlers``."""

    def __init__(self, jobs: Mapping[str, glue.JobBase], crawlers: Mapping[str, glue.CfnCrawler]) -> None:
        self._jobs = jobs
        self._crawlers = crawlers
        #: Every trigger built so far, by name.
        self.triggers: dict[str, IConstruct] = {}

    def _action(self, name: str) -> glue.Action:
        if name in self._jobs:
            return glue.Action.job(self._jobs[name])
        return glue.Action.crawler(self._crawlers[name])

    def _condition(self, name: str, state: str) -> glue.Condition:
        if name in self._jobs:
            return glue.Condition.job(self._jobs[name], glue.JobState[state])
        return glue.Condition.crawler(self._crawlers[name], glue.CrawlerState[state])

    def workflow(self, scope: Construct, spec: GlueWorkflow) -> glue.Workflow:
        """The workflow of ``spec`` with its triggers, each depending on the one before."""
        workflow = glue.Workflow(
            scope,
            spec.name,
            workflow_name=spec.name,
            description=spec.description,
            max_concurrent_runs=spec.max_concurrent_runs,
            default_run_properties=dict(spec.run_properties) or None,
        )
        previous: IConstruct | None = None
        for trigger in spec.triggers:
            created = self._trigger(workflow, trigger)
            # Glue fails with ConcurrentModificationException when one workflow's triggers change in parallel.
            if previous is not None:
                created.node.add_dependency(previous)
            previous = created
            self.triggers[trigger.name] = created
        return workflow

    def _trigger(self, workflow: glue.Workflow, trigger: GlueTrigger) -> IConstruct:
        actions = [self._action(a) for a in trigger.actions]
        if trigger.kind == "SCHEDULED":
            assert trigger.schedule is not None
            return workflow.add_scheduled_trigger(
                trigger.name,
                name=trigger.name,
                schedule=glue.TriggerSchedule.expression(trigger.schedule),
                start_on_creation=trigger.enabled,
                actions=actions,
                description=trigger.description,
            )
        if trigger.kind == "ON_DEMAND":
            return workflow.add_on_demand_trigger(
                trigger.name, name=trigger.name, actions=actions, description=trigger.description
            )
        ref = workflow.add_conditional_trigger(
            trigger.name,
            name=trigger.name,
            predicate=glue.Predicate(
                conditions=[self._condition(c.name, c.state) for c in trigger.when], logical=trigger.logical
            ),
            start_on_creation=trigger.enabled,
            actions=actions,
            description=trigger.description,
        )
        cfn = ref if isinstance(ref, glue.CfnTrigger) else ref.node.default_child
        if isinstance(cfn, glue.CfnTrigger):
            # The L2 renders an event batching condition (meant for EVENT triggers) on conditional
            # triggers, and omits Logical for a single condition, which Glue rejects
            # ("Logical operator cannot be null or empty", aws-cdk issue 34652).
            cfn.add_property_deletion_override("EventBatchingCondition")
            cfn.add_property_override("Predicate.Logical", trigger.logical.value)
        return ref
