"""Assess what a stage deployed with AWS Resilience Hub (CodePipeline Lambda action).

boto3 and the standard library only (shipped as a Lambda asset with :mod:`_pipeline_job`).

What one pipeline action does, across as many invocations as it needs (long waits use
CodePipeline continuation tokens; one invocation polls for at most ``hold_seconds``, never past
the watchdog's deadline)::

    claim the job (a duplicate delivery changes nothing and reports nothing)
    import:   DescribeApp: the app is Active, has a resiliency policy and the RoleBased permission
              model (Resilience Hub reads the stacks' resources with the app's invoker role, not with
              this function's role); DescribeStacks of each configured stack in the target's account
              and region (this function's own credentials in the pipeline's account, else the
              target's CDK bootstrap lookup role); ImportResourcesToDraftAppVersion(stack ARNs, AddOnly)
    await_import: DescribeDraftAppVersionResourcesImportStatus until Success (Failed: a failure
              naming Resilience Hub's errors)
    publish:  PublishAppVersion; StartAppAssessment(appVersion "release", a name and client token
              from the first job's id: a repeated request starts no second assessment)
    await_assessment: DescribeAppAssessment until Success or Failed
              PolicyMet        -> success, output variables AssessmentArn, ComplianceStatus, ResiliencyScore
              PolicyBreached   -> failure naming the breached disruption types (RTO/RPO against the policy)
              anything else    -> failure saying what Resilience Hub reported

Resilience Hub allows 20 assessments per application per month (``ServiceQuotaExceededException``):
the step then fails and says so. ``ConflictException`` (another import or assessment of the app
in progress) and throttling that outlasts the call retries are waited out, up to the action's
timeout (:data:`DEFAULT_TIMEOUT_SECONDS`).

Every job ends with exactly one result, on every path (:mod:`_pipeline_job`: watchdog, retries of
every AWS call, retried reporting, and an exception for the on-failure destination when the result
cannot be sent). Logs are JSON lines.

Configuration (environment, written by the construct at synth; never from the event):

``ARTIFACT_BUCKET``: the pipeline's artifact bucket (job claims).

``RESILIENCE_ASSESSMENT_CONFIG`` (JSON)::

    {"claimsPrefix": "pipeline-jobs/resilience-assessment/",
     "assessments": [{"appArn": "arn:aws:resiliencehub:eu-west-1:111111111111:app/...",
                      "account": "222222222222", "region": "eu-west-1",
                      "stackNames": ["Staging-Service"],
                      "lookupRoleArn": "arn:aws:iam::222222222222:role/cdk-hnb659fds-lookup-role-..." | null}]}

User parameters (JSON, set by the construct; parsed strictly, unknown keys refused)::

    {"appArn": ..., "stackNames": [...], "account": ..., "region": ..., "lookupRoleArn": ...}

They select one configured assessment and must equal it in every field: the event names nothing
this function was not built with.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from botocore.exceptions import ClientError

if __package__:
    from . import _pipeline_job as pj
else:  # pragma: no cover - in the Lambda asset the handler and its helper are top-level modules
    import _pipeline_job as pj  # type: ignore[import-not-found,no-redef]

__all__ = [
    "APP_VERSION",
    "CONFIG_ENV",
    "DEFAULT_TIMEOUT_SECONDS",
    "Assessment",
    "AssessmentConfig",
    "Clients",
    "JobFailedError",
    "State",
    "Timing",
    "handler",
]

#: Environment variable with the function's configuration (JSON, written by the construct).
CONFIG_ENV = "RESILIENCE_ASSESSMENT_CONFIG"
#: The app version an assessment runs on: the latest published one.
APP_VERSION = "release"
#: The longest one action may take, import and assessment together (a large app assesses in minutes).
DEFAULT_TIMEOUT_SECONDS = 2 * 3600
#: How many times one phase may hand over to a fresh invocation because it ran out of time or stayed
#: throttled, before the action fails.
MAX_RETRIES = 5
NAME = "the Resilience Hub assessment"
_PARAMETERS = frozenset({"appArn", "stackNames", "account", "region", "lookupRoleArn"})
_PHASES = ("import", "await_import", "publish", "await_assessment")
_APP_ARN = re.compile(
    r"arn:(aws|aws-cn|aws-us-gov):resiliencehub:([a-z]{2,4}(?:-[a-z]+)+-\d{1,2}):(\d{12}):app/[A-Za-z0-9-]+"
)
_ASSESSMENT_ID = re.compile(r"[A-Za-z0-9-]{1,128}")
_STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")
_ACCOUNT = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2,4}(?:-[a-z]+)+-\d{1,2}")
_ROLE_ARN = re.compile(r"arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role/[A-Za-z0-9+=,.@_/-]{1,512}")
#: CloudFormation stack statuses in which the stack's resources are what its last deployment asked for.
_SETTLED = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"})

JobFailedError = pj.JobFailedError


_config_error = pj.ConfigurationError


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Assessment:
    """One assessment the function may run: the app, and the stacks of one target it imports."""

    app_arn: str
    account: str
    region: str
    stack_names: tuple[str, ...]
    lookup_role_arn: str | None

    @property
    def partition(self) -> str:
        return self.app_arn.split(":", 2)[1]

    @property
    def app_region(self) -> str:
        return self.app_arn.split(":")[3]

    @property
    def app_account(self) -> str:
        return self.app_arn.split(":")[4]

    @property
    def where(self) -> str:
        return f"stacks {', '.join(self.stack_names)} of account {self.account} in {self.region}"

    @property
    def fingerprint(self) -> str:
        """Identifies the assessment in a continuation token."""
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def stack_arn_prefix(self, name: str) -> str:
        return f"arn:{self.partition}:cloudformation:{self.region}:{self.account}:stack/{name}/"

    def to_json(self) -> dict[str, Any]:
        return {
            "appArn": self.app_arn,
            "account": self.account,
            "region": self.region,
            "stackNames": list(self.stack_names),
            "lookupRoleArn": self.lookup_role_arn,
        }

    @classmethod
    def from_json(cls, data: Any, where: str) -> Assessment:
        """Parse one assessment (configuration or user parameters); ``ValueError`` naming ``where``."""
        if not isinstance(data, Mapping):
            raise ValueError(f"{where} must be a JSON object")
        app_arn, account, region = data.get("appArn"), data.get("account"), data.get("region")
        names, role = data.get("stackNames"), data.get("lookupRoleArn")
        if not isinstance(app_arn, str) or not _APP_ARN.fullmatch(app_arn):
            raise ValueError(f"{where}.appArn = {_shown(app_arn)} is not a Resilience Hub app ARN")
        if not isinstance(account, str) or not _ACCOUNT.fullmatch(account):
            raise ValueError(f"{where}.account = {_shown(account)} is not a 12-digit account id")
        if not isinstance(region, str) or not _REGION.fullmatch(region):
            raise ValueError(f"{where}.region = {_shown(region)} is not a region")
        if (
            not isinstance(names, list)
            or not names
            or not all(isinstance(n, str) and _STACK_NAME.fullmatch(n) for n in names)
            or len(set(names)) != len(names)
        ):
            raise ValueError(f"{where}.stackNames = {_shown(names)} is not a list of distinct stack names")
        if role is not None and (not isinstance(role, str) or not _ROLE_ARN.fullmatch(role)):
            raise ValueError(f"{where}.lookupRoleArn = {_shown(role)} is not an IAM role ARN")
        if role is not None and role.split(":")[4] != account:
            raise ValueError(f"{where}.lookupRoleArn = {_shown(role)} is not a role of account {account}")
        return cls(app_arn, account, region, tuple(names), role)


def _shown(value: Any) -> str:
    return pj.clip(repr(value), 200)


@dataclass(frozen=True)
class AssessmentConfig:
    """What the function trusts (``RESILIENCE_ASSESSMENT_CONFIG``, fixed at synth)."""

    claims_prefix: str
    assessments: tuple[Assessment, ...]

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AssessmentConfig:
        raw = environ.get(CONFIG_ENV)
        if not raw:
            raise _config_error(f"{CONFIG_ENV} is not set on the function")
        try:
            data = json.loads(raw)
            entries = data["assessments"]
            if not isinstance(entries, list) or not entries:
                raise ValueError("assessments must be a non-empty list")
            config = cls(
                claims_prefix=pj.text(data, "claimsPrefix"),
                assessments=tuple(Assessment.from_json(e, f"assessments[{i}]") for i, e in enumerate(entries)),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise _config_error(f"{CONFIG_ENV} is malformed: {err}") from None
        return config

    def select(self, job_data: Mapping[str, Any]) -> Assessment:
        """The job's ``UserParameters``, parsed strictly: they must equal one configured assessment.

        :raises JobFailedError: ``ConfigurationError`` otherwise.
        """
        data = pj.user_parameters(
            job_data, _PARAMETERS, expected='{"appArn": ..., "stackNames": [...], "account": ..., "region": ...}'
        )
        missing = sorted({"appArn", "stackNames", "account", "region"} - set(data))
        if missing:
            raise _config_error(f"UserParameters lacks {', '.join(missing)}")
        try:
            wanted = Assessment.from_json(data, "UserParameters")
        except ValueError as err:
            raise _config_error(str(err)) from None
        if wanted not in self.assessments:
            raise _config_error(
                f"UserParameters name an assessment this function was not built with (app {wanted.app_arn}, "
                f"{wanted.where}, lookup role {wanted.lookup_role_arn}): refused"
            )
        return wanted


@dataclass(frozen=True)
class Timing:
    """How the handler waits: polls within one invocation, and the action's own deadline.

    :param poll_seconds: between two status polls within one invocation.
    :param hold_seconds: how long one invocation keeps polling before it hands over (continuation).
    :param timeout_seconds: the longest the whole action may take.
    """

    poll_seconds: float = 15.0
    hold_seconds: float = 60.0
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS


# --------------------------------------------------------------------------- continuation state


@dataclass(frozen=True)
class State:
    """What a continuation token carries between invocations of one action."""

    phase: str
    started_at: float
    assessment: str  # Assessment.fingerprint
    name: str  # the assessment's name (from the first job's id)
    client_token: str  # StartAppAssessment's idempotency token (the first job's id)
    assessment_arn: str | None = None
    retries: int = 0

    def dump(self) -> str:
        return pj.dump_token(self)

    @classmethod
    def first(cls, job_id: str, assessment: Assessment, now: float) -> State:
        safe = re.sub(r"[^A-Za-z0-9_-]", "-", job_id)
        return cls(
            phase="import",
            started_at=now,
            assessment=assessment.fingerprint,
            name=f"pipeline-{safe}"[:60],
            client_token=re.sub(r"[^A-Za-z0-9_.-]", "-", job_id)[:63],
        )

    @classmethod
    def load(cls, token: Any, assessment: Assessment, now: float, timing: Timing) -> State:
        """Parse a token strictly: one this handler wrote, for this job's own assessment."""
        problem = "not one this handler wrote"
        state = pj.load_token(cls, token)
        if state is not None and not _valid(state, assessment, now, timing):
            state = None
        elif state is not None and state.assessment != assessment.fingerprint:
            problem = "for another assessment than the job's user parameters name"
            state = None
        if state is None:
            raise JobFailedError(f"the continuation token is {problem}: refused", "ConfigurationError")
        return state


def _valid(state: State, assessment: Assessment, now: float, timing: Timing) -> bool:
    arn_pattern = (
        rf"arn:{re.escape(assessment.partition)}:resiliencehub:{assessment.app_region}:{assessment.app_account}"
        rf":app-assessment/{_ASSESSMENT_ID.pattern}"
    )
    return (
        state.phase in _PHASES
        and isinstance(state.started_at, (int, float))
        and not isinstance(state.started_at, bool)
        and now - timing.timeout_seconds - 3600 <= state.started_at <= now + 60
        and isinstance(state.name, str)
        and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{1,59}", state.name) is not None
        and isinstance(state.client_token, str)
        and re.fullmatch(r"[A-Za-z0-9_.-]{1,63}", state.client_token) is not None
        and isinstance(state.retries, int)
        and not isinstance(state.retries, bool)
        and 0 <= state.retries <= MAX_RETRIES
        and (state.assessment_arn is None) == (state.phase != "await_assessment")
        and (
            state.assessment_arn is None
            or (isinstance(state.assessment_arn, str) and re.fullmatch(arn_pattern, state.assessment_arn) is not None)
        )
    )


@dataclass(frozen=True)
class Outcome:
    """What one step found: the action's end (``state`` ``None``), a wait, or the next phase to run now."""

    summary: str
    state: State | None = None
    wait: bool = True
    variables: Mapping[str, str] | None = None


class _HandoverError(Exception):
    """Not enough of this invocation's time is left for the phase: hand it to a fresh invocation."""


# --------------------------------------------------------------------------- clients


class Clients(pj.SessionClients):
    """Creates the AWS clients the handler uses (replace it in tests).

    :meth:`s3` (the function's own credentials) writes job claims.
    """

    def resiliencehub(self, region: str) -> Any:  # no stubs among the dev dependencies
        """The function's own credentials, in the app's region (the app is in the pipeline's account)."""
        return self.regional("resiliencehub", region)

    def cloudformation(self, region: str, credentials: Mapping[str, str] | None) -> Any:
        """CloudFormation in the target's region: the function's own credentials, or an assumed role's."""
        return self.regional("cloudformation", region, credentials)


# --------------------------------------------------------------------------- entry point


def handler(
    event: Mapping[str, Any],
    context: Any,
    *,
    clients: Clients | None = None,
    now: Callable[[], float] = time.time,
    timing: Timing | None = None,
) -> dict[str, Any]:
    """Lambda entry point: exactly one result for the job, or an exception (for the on-failure destination)."""
    return pj.handle(
        event,
        context,
        name=NAME,
        clients=lambda: clients or Clients(),
        codepipeline=lambda resolved: resolved.codepipeline(),
        work=lambda job, data, resolved: assess_job(job, data, resolved, now, timing or Timing()),
    )


@dataclass(frozen=True)
class Run:
    """What stays the same through one invocation: the job, its assessment, the clients, the clock."""

    job: pj.Job
    assessment: Assessment
    clients: Clients
    hub: Any
    now: Callable[[], float]
    timing: Timing

    @property
    def reserve(self) -> float:
        """Time a step needs: two calls at their worst case."""
        return 2 * self.job.policy.calls.worst_case_seconds()

    def deadline(self, state: State, message: str) -> None:
        elapsed = self.now() - state.started_at
        if elapsed > self.timing.timeout_seconds:
            raise JobFailedError(
                f"timed out after {int(elapsed)} s (limit {int(self.timing.timeout_seconds)} s): {message}"
            )


def assess_job(
    job: pj.Job, data: Mapping[str, Any], clients: Clients, now: Callable[[], float], timing: Timing
) -> None:
    """Run the action's steps this invocation has time for, and report once."""
    config = AssessmentConfig.from_env(os.environ)
    if not job.claim(pj.ClaimStore(clients.s3(), pj.artifact_bucket(os.environ), config.claims_prefix)):
        return
    assessment = config.select(data)
    job.fields.update(app=assessment.app_arn, account=assessment.account, region=assessment.region)
    token = data.get("continuationToken")
    if token is not None:
        state = State.load(token, assessment, now(), timing)
    else:
        state = State.first(job.id, assessment, now())
    run = Run(job, assessment, clients, clients.resiliencehub(assessment.app_region), now, timing)
    outcome = drive(run, state)
    if outcome.state is None:
        job.succeed(outcome.summary, variables=outcome.variables)
    else:
        job.succeed(outcome.summary, continuation_token=outcome.state.dump())


def drive(run: Run, state: State) -> Outcome:
    """Run steps until the action ends, or this invocation has waited its ``hold_seconds``."""
    job, timing = run.job, run.timing
    held = time.monotonic()
    while True:
        try:
            outcome = step(run, state)
        except _HandoverError as err:
            retries = state.retries + 1
            if retries > MAX_RETRIES:
                raise JobFailedError(f"gave up after {MAX_RETRIES} handovers while {state.phase}: {err}") from None
            return Outcome(f"{err}; continuing in a fresh invocation", replace(state, retries=retries))
        if outcome.state is None:
            return outcome
        state = outcome.state
        if not outcome.wait:
            continue
        run.deadline(state, outcome.summary)
        waited = time.monotonic() - held
        if waited + timing.poll_seconds > timing.hold_seconds or job.budget.left() < timing.poll_seconds + run.reserve:
            return outcome
        job.log("INFO", "waiting", phase=state.phase, summary=outcome.summary, seconds=timing.poll_seconds)
        job.sleep(timing.poll_seconds)


def step(run: Run, state: State) -> Outcome:
    """One step of the action (raises :class:`JobFailedError` on a clear failure)."""
    if run.job.budget.left() < run.reserve:
        raise _HandoverError(f"too little of this invocation's time is left for: {state.phase}")
    try:
        if state.phase == "import":
            return start_import(run, state)
        if state.phase == "await_import":
            return await_import(run, state)
        if state.phase == "publish":
            return publish_and_start(run, state)
        return await_assessment(run, state)
    except ClientError as err:
        code = pj.error_code(err)
        if code in pj.THROTTLING_CODES or code == "ConflictException":
            # Throttled beyond the call's retries, or another import or assessment of the app is running.
            what = run.job.step
            run.deadline(state, f"{what} kept failing with {code}: {err}")
            retries = state.retries + 1
            if retries > MAX_RETRIES:
                raise JobFailedError(f"{what} failed {retries} times in a row: {err}") from None
            return Outcome(f"waiting: {what} answered {code}; retrying", replace(state, retries=retries))
        raise _aws_failure(run, err) from None


# --------------------------------------------------------------------------- the phases


def start_import(run: Run, state: State) -> Outcome:
    """Check the app, resolve the stacks' ARNs, import them into the app's draft version."""
    job, assessment = run.job, run.assessment
    app = job.call("describe the Resilience Hub app", run.hub.describe_app, appArn=assessment.app_arn)["app"]
    check_app(assessment, app)
    arns = stack_arns(run)
    response = job.call(
        "import the stacks into the app's draft version",
        run.hub.import_resources_to_draft_app_version,
        mutating=True,
        idempotent=True,  # the same stacks, AddOnly: importing twice imports the same resources
        appArn=assessment.app_arn,
        sourceArns=arns,
        importStrategy="AddOnly",
    )
    job.log("INFO", "import requested", sourceArns=arns, status=response.get("status"))
    return Outcome(
        f"importing {len(arns)} stack(s) into {assessment.app_arn}",
        replace(state, phase="await_import", retries=0),
        wait=False,
    )


def check_app(assessment: Assessment, app: Mapping[str, Any]) -> None:
    """Fail before anything changes when the app cannot give a meaningful assessment."""
    arn = assessment.app_arn
    if app.get("status") not in (None, "Active"):
        raise JobFailedError(f"the Resilience Hub app {arn} is {app.get('status')}", "ConfigurationError")
    if not app.get("policyArn"):
        raise JobFailedError(
            f"the Resilience Hub app {arn} has no resiliency policy: attach one (its RTO/RPO targets are what the "
            "assessment checks), then retry",
            "ConfigurationError",
        )
    model = (app.get("permissionModel") or {}).get("type") or "LegacyIAMUser"
    if model != "RoleBased":
        raise JobFailedError(
            f"the Resilience Hub app {arn} uses the {model} permission model: Resilience Hub would read the stacks' "
            "resources with this function's credentials, which may only run the assessment. Give the app the "
            "RoleBased permission model: an invoker role in its account that trusts resiliencehub.amazonaws.com "
            "(e.g. with the AWSResilienceHubAsssessmentExecutionPolicy managed policy), and for stacks in another "
            "account a role there that trusts the invoker role (crossAccountRoleArns)",
            "ConfigurationError",
        )


def stack_arns(run: Run) -> list[str]:
    """The ARNs (with stack ids) of the configured stacks, read in the target's account and region."""
    job, assessment = run.job, run.assessment
    credentials = None
    if assessment.lookup_role_arn is not None:
        try:
            credentials = job.call(
                f"assume the lookup role {assessment.lookup_role_arn}",
                run.clients.sts().assume_role,
                RoleArn=assessment.lookup_role_arn,
                RoleSessionName=f"resilience-{job.id}"[:64],
                DurationSeconds=900,
            )["Credentials"]
        except ClientError as err:
            raise JobFailedError(
                f"cannot assume {assessment.lookup_role_arn} to describe the stacks: {err}. Is account "
                f"{assessment.account} bootstrapped in {assessment.region} trusting the pipeline's account "
                "(cdk bootstrap --trust)?",
                "PermissionError" if pj.error_code(err) in pj.PERMISSION_CODES else "JobFailed",
            ) from None
    cfn = run.clients.cloudformation(assessment.region, credentials)
    arns = []
    for name in assessment.stack_names:
        if job.budget.left() < run.reserve:
            raise _HandoverError(f"too little of this invocation's time is left to describe stack {name}")
        arns.append(stack_arn(job, cfn, assessment, name))
    return arns


def stack_arn(job: pj.Job, cfn: Any, assessment: Assessment, name: str) -> str:
    try:
        stacks = job.call(f"describe stack {name}", cfn.describe_stacks, StackName=name).get("Stacks") or []
    except ClientError as err:
        message = str(err.response.get("Error", {}).get("Message", ""))
        if pj.error_code(err) == "ValidationError" and "does not exist" in message:
            raise JobFailedError(
                f"stack {name} does not exist in account {assessment.account}, {assessment.region}: has its stage "
                "deployed?",
                "ConfigurationError",
            ) from None
        raise
    found = [s for s in stacks if isinstance(s, Mapping) and s.get("StackName") == name]
    arn = str(found[0].get("StackId", "")) if len(found) == 1 else ""
    if not arn.startswith(assessment.stack_arn_prefix(name)):
        raise JobFailedError(
            f"DescribeStacks({name}) in {assessment.account}/{assessment.region} answered "
            f"{pj.clip(repr(stacks), 300)}, not the stack {assessment.stack_arn_prefix(name)}…"
        )
    status = str(found[0].get("StackStatus", ""))
    if status not in _SETTLED:
        raise JobFailedError(f"stack {name} is {status}: only a deployed stack can be assessed")
    return arn


def await_import(run: Run, state: State) -> Outcome:
    assessment = run.assessment
    status = run.job.call(
        "read the import status",
        run.hub.describe_draft_app_version_resources_import_status,
        appArn=assessment.app_arn,
    )
    value = status.get("status")
    if value == "Success":
        return Outcome(f"imported {assessment.where}", replace(state, phase="publish", retries=0), wait=False)
    if value == "Failed":
        details = [d.get("errorMessage") for d in status.get("errorDetails") or [] if d.get("errorMessage")]
        reasons = "; ".join(pj.clip(str(m), 300) for m in [status.get("errorMessage"), *details[:5]] if m)
        raise JobFailedError(
            f"Resilience Hub could not import {assessment.where} into {assessment.app_arn}: "
            f"{reasons or 'no reason given'}. Check that the app's invoker role (and, for another account, its "
            "cross-account role) may read them."
        )
    return Outcome(f"waiting: the import into {assessment.app_arn} is {value}", state)


def publish_and_start(run: Run, state: State) -> Outcome:
    job, assessment = run.job, run.assessment
    published = job.call(
        "publish the app version",
        run.hub.publish_app_version,
        mutating=True,
        idempotent=True,  # publishing the same draft again publishes the same resources
        appArn=assessment.app_arn,
    )
    job.log("INFO", "app version published", identifier=published.get("identifier"))
    try:
        started = job.call(
            "start the assessment",
            run.hub.start_app_assessment,
            mutating=True,
            idempotent=True,  # the client token: a repeated request starts no second assessment
            appArn=assessment.app_arn,
            appVersion=APP_VERSION,
            assessmentName=state.name,
            clientToken=state.client_token,
        )
    except ClientError as err:
        if pj.error_code(err) == "ServiceQuotaExceededException":
            raise JobFailedError(
                f"Resilience Hub refused a new assessment of {assessment.app_arn}: the app has used its quota of "
                f"assessments (20 per application per month by default; ask Service Quotas for more, or assess a "
                f"stage that deploys less often). {err}"
            ) from None
        raise
    arn = str((started.get("assessment") or {}).get("assessmentArn", ""))
    job.log("INFO", "assessment started", assessmentArn=arn, assessmentName=state.name)
    return Outcome(
        f"assessment {state.name} of {assessment.app_arn} started",
        replace(state, phase="await_assessment", assessment_arn=arn, retries=0),
        wait=False,
    )


def await_assessment(run: Run, state: State) -> Outcome:
    assessment = run.assessment
    arn = str(state.assessment_arn)
    result = run.job.call("read the assessment", run.hub.describe_app_assessment, assessmentArn=arn)["assessment"]
    if result.get("appArn") not in (None, assessment.app_arn):
        raise JobFailedError(f"assessment {arn} is not one of app {assessment.app_arn}: refused", "ConfigurationError")
    status = result.get("assessmentStatus")
    if status in ("Pending", "InProgress"):
        return Outcome(f"waiting: assessment {state.name} is {status}", state)
    if status != "Success":
        errors = ((result.get("resourceErrorsDetails") or {}).get("resourceErrors") or [])[:5]
        listed = "; ".join(
            f"{e.get('logicalResourceId') or e.get('physicalResourceId')}: {e.get('reason')}" for e in errors
        )
        raise JobFailedError(
            f"Resilience Hub assessment {arn} {status}: {result.get('message') or 'no message'}"
            + (f" (resources: {listed})" if listed else "")
        )
    return verdict(assessment, arn, result)


def verdict(assessment: Assessment, arn: str, result: Mapping[str, Any]) -> Outcome:
    """PolicyMet passes; anything else fails, naming what Resilience Hub found."""
    compliance = result.get("complianceStatus")
    score = _score(result)
    scored = f"resiliency score {score}" if score else "no resiliency score"
    if compliance == "PolicyMet":
        return Outcome(
            f"Resilience Hub assessment of {assessment.where}: the resiliency policy is met ({scored}); {arn}",
            variables={"AssessmentArn": arn, "ComplianceStatus": "PolicyMet", "ResiliencyScore": score},
        )
    if compliance == "PolicyBreached":
        raise JobFailedError(
            f"Resilience Hub assessment of {assessment.where}: the resiliency policy is breached for "
            f"{breaches(result) or 'unnamed disruption types'} ({scored}). See the assessment's recommendations: "
            f"{arn}"
        )
    raise JobFailedError(
        f"Resilience Hub assessment {arn} ended with compliance status {compliance!r}, not PolicyMet "
        f"({result.get('message') or 'no message'})"
    )


def breaches(result: Mapping[str, Any]) -> str:
    """The breached disruption types, each with its current and target RTO/RPO."""
    targets = (result.get("policy") or {}).get("policy") or {}
    out = []
    for kind, found in sorted((result.get("compliance") or {}).items()):
        if not isinstance(found, Mapping) or found.get("complianceStatus") != "PolicyBreached":
            continue
        target = targets.get(kind) or {}
        parts = [
            f"{label} {found.get(current)} s (target {target.get(wanted)} s)"
            for label, current, wanted in (
                ("RTO", "currentRtoInSecs", "rtoInSecs"),
                ("RPO", "currentRpoInSecs", "rpoInSecs"),
            )
            if found.get(current) is not None
        ]
        out.append(f"{kind}" + (f" ({', '.join(parts)})" if parts else ""))
    return ", ".join(out)


def _score(result: Mapping[str, Any]) -> str:
    value = (result.get("resiliencyScore") or {}).get("score")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ""
    return f"{float(value):g}"


def _operation(err: ClientError) -> str:
    return str(getattr(err, "operation_name", "") or "the call")


def _aws_failure(run: Run, err: ClientError) -> JobFailedError:
    code = pj.error_code(err)
    if code == "ResourceNotFoundException":
        return JobFailedError(
            f"{_operation(err)}: {err} (is {run.assessment.app_arn} the app's ARN?)", "ConfigurationError"
        )
    kind = "PermissionError" if code in pj.PERMISSION_CODES else "JobFailed"
    return JobFailedError(f"{_operation(err)} failed while {run.job.step}: {err}", kind)
