"""The AWS Health gate: a CodePipeline job that fails while AWS Health reports an open issue.

CodePipeline invokes this function (one Lambda invoke action per target, in a ``<stage>-Health``
stage right before the deployment) with user parameters::

    {"region": "eu-west-1",                 # the target's region
     "services": ["CLOUDFORMATION", "LAMBDA"],  # AWS Health service codes (1-10)
     "includeGlobal": true}                 # also events of region "global"

For that job the function:

1. claims the job (:mod:`_pipeline_job`): a duplicate delivery reports nothing;
2. asks AWS Health ``DescribeEvents`` for events with category ``issue`` and status ``open`` in the
   region (and ``global``) for the services, page by page (``nextToken``);
3. reports exactly once: success when there is none (output variables ``OpenIssues`` = ``0``,
   ``Region``, ``Services``, ``HealthRegion``), failure naming each open event (service, region,
   event type, start time) otherwise. A person retries the stage once the issues are closed.

Endpoints. The AWS Health API of partition ``aws`` runs active-passive in ``us-east-1`` (active) and
``us-east-2`` (passive) behind the global endpoint ``global.health.amazonaws.com`` (AWS Health user
guide, "Choosing endpoints for AWS Health API requests": a request must be signed for the region that
answers it). The function calls the regional endpoints directly, each signed for its own region: the
active one first, the other when the first cannot be reached (connection errors, timeouts, 5xx after
the retries). Partition ``aws-cn`` uses ``cn-northwest-1`` (botocore's credential scope of
``global.health.amazonaws.com.cn``), ``aws-us-gov`` ``us-gov-west-1`` then ``us-gov-east-1``
(the AWS Health endpoints table).

The AWS Health API needs a Business, Enterprise On-Ramp or Enterprise support plan (or their
successors, Business Support+ and Unified Operations); without one every call fails with
``SubscriptionRequiredException``, which the job reports as such.

Configuration (environment, written by the construct at synth; never taken from the event):

``HEALTH_GATE_CONFIG`` (JSON)
    ``claimsPrefix`` (where job claims go in the artifact bucket), ``partition`` (``aws``,
    ``aws-cn``, ``aws-us-gov``).
``ARTIFACT_BUCKET``
    the pipeline's artifact bucket (job claims).
``PIPELINE_JOB_POLICY`` (JSON, optional)
    retry and time numbers (:class:`_pipeline_job.Policy`).

Standard library and boto3 only (the Lambda runtime provides boto3).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

if __package__:
    from . import _pipeline_job as pj
else:  # pragma: no cover - in the Lambda asset the handler and its helper are top-level modules
    import _pipeline_job as pj  # type: ignore[import-not-found,no-redef]

__all__ = [
    "CONFIG_ENV",
    "ENDPOINTS",
    "MAX_PAGES",
    "MAX_SERVICES",
    "SERVICE_CODE",
    "SUPPORT_PLAN_MESSAGE",
    "Clients",
    "GateConfig",
    "GateParameters",
    "handler",
    "run",
]

#: Environment variable with the function's configuration (JSON, written by the construct).
CONFIG_ENV = "HEALTH_GATE_CONFIG"
#: AWS Health's ``EventFilter.services`` takes 1 to 10 service codes (botocore model ``serviceList``).
MAX_SERVICES = 10
#: An AWS Health service code as Health writes them (``LAMBDA``, ``APIGATEWAY``, ``CLOUDFORMATION``); the API
#: allows 2-30 characters other than ``:`` and ``/``. Health matches codes exactly: a lower-case code would
#: match nothing and the gate would always pass, so only Health's own spelling is accepted.
SERVICE_CODE = re.compile(r"[A-Z0-9_]{2,30}", re.ASCII)
#: Pages of 100 events read at most; beyond that the failure says "at least".
MAX_PAGES = 4
PAGE_SIZE = 100
#: The AWS Health API's regional endpoints per partition, active first: ``(signing region, endpoint URL)``.
ENDPOINTS: dict[str, tuple[tuple[str, str], ...]] = {
    "aws": (
        ("us-east-1", "https://health.us-east-1.amazonaws.com"),
        ("us-east-2", "https://health.us-east-2.amazonaws.com"),
    ),
    "aws-cn": (("cn-northwest-1", "https://health.cn-northwest-1.amazonaws.com.cn"),),
    "aws-us-gov": (
        ("us-gov-west-1", "https://health.us-gov-west-1.amazonaws.com"),
        ("us-gov-east-1", "https://health.us-gov-east-1.amazonaws.com"),
    ),
}
SUPPORT_PLAN_MESSAGE = (
    "the AWS Health API needs a Business, Enterprise On-Ramp or Enterprise support plan (Business Support+ or "
    "Unified Operations for accounts on the new plans); this account has none, so the health gate cannot "
    "check AWS Health (SubscriptionRequiredException). Subscribe the pipeline's account to one of these "
    "plans, or remove the target's health_gate."
)
NAME = "the AWS Health gate"
_PARAMETERS = frozenset({"region", "services", "includeGlobal"})
_EXPECTED = '{"region": "eu-west-1", "services": ["LAMBDA", ...], "includeGlobal": true}'
_REGION = re.compile(r"[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}", re.ASCII)
_CONNECTION_ERRORS = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)


ConfigurationError = pj.ConfigurationError


log = pj.log


# --------------------------------------------------------------------------- configuration


def partition_of(region: str) -> str:
    """The partition of a region: ``aws-cn``, ``aws-us-gov``, ``other`` (ISO, European Sovereign Cloud), ``aws``."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith(("us-iso", "eu-iso", "eusc-")):
        return "other"
    return "aws"


@dataclass(frozen=True)
class GateConfig:
    """What the function trusts (``HEALTH_GATE_CONFIG`` and ``ARTIFACT_BUCKET``, fixed at synth)."""

    artifact_bucket: str
    claims_prefix: str
    partition: str

    @property
    def endpoints(self) -> tuple[tuple[str, str], ...]:
        return ENDPOINTS[self.partition]

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> GateConfig:
        raw = environ.get(CONFIG_ENV)
        if not raw:
            raise ConfigurationError(f"{CONFIG_ENV} is not set on the function")
        try:
            data = json.loads(raw)
            config = cls(
                artifact_bucket=pj.artifact_bucket(environ),
                claims_prefix=pj.text(data, "claimsPrefix"),
                partition=pj.text(data, "partition"),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise ConfigurationError(f"{CONFIG_ENV} is malformed: {err!r}") from None
        if config.partition not in ENDPOINTS:
            raise ConfigurationError(
                f"{CONFIG_ENV}.partition {config.partition!r} has no AWS Health endpoint this function knows "
                f"(known: {sorted(ENDPOINTS)})"
            )
        return config


@dataclass(frozen=True)
class GateParameters:
    """The action's user parameters, parsed strictly (unknown keys, wrong types and bad codes refused)."""

    region: str
    services: tuple[str, ...]
    include_global: bool

    @property
    def regions(self) -> list[str]:
        return [self.region, "global"] if self.include_global else [self.region]

    @classmethod
    def from_job(cls, data: Mapping[str, Any], config: GateConfig) -> GateParameters:
        params = pj.user_parameters(data, _PARAMETERS, expected=_EXPECTED)
        missing = sorted(_PARAMETERS - set(params))
        if missing:
            raise ConfigurationError(f"UserParameters lacks {missing}; expected {_EXPECTED}")
        region = params["region"]
        if not isinstance(region, str) or not _REGION.fullmatch(region):
            raise ConfigurationError(f"UserParameters.region {pj.clip(repr(region), 100)} is not an AWS region")
        if partition_of(region) != config.partition:
            raise ConfigurationError(
                f"UserParameters.region {region!r} is not in this function's partition {config.partition!r}"
            )
        services = params["services"]
        if not isinstance(services, list) or not 1 <= len(services) <= MAX_SERVICES:
            raise ConfigurationError(
                f"UserParameters.services must be a list of 1 to {MAX_SERVICES} AWS Health service codes "
                f"(AWS Health's filter limit), not {pj.clip(repr(services), 200)}"
            )
        for service in services:
            if not isinstance(service, str) or not SERVICE_CODE.fullmatch(service):
                raise ConfigurationError(
                    f"UserParameters.services has {pj.clip(repr(service), 100)}: expected an AWS Health service "
                    "code such as 'LAMBDA' (2-30 characters from A-Z, 0-9, '_')"
                )
        if len(set(services)) != len(services):
            raise ConfigurationError(f"UserParameters.services repeats a service: {services}")
        include_global = params["includeGlobal"]
        if not isinstance(include_global, bool):
            raise ConfigurationError(
                f"UserParameters.includeGlobal must be a JSON boolean, not {pj.clip(repr(include_global), 50)}"
            )
        return cls(region=region, services=tuple(services), include_global=include_global)


# --------------------------------------------------------------------------- AWS clients


@dataclass
class Clients:
    """Factories for the clients the job uses (tests replace them).

    :param codepipeline: CodePipeline client (reports the result).
    :param health: ``(signing region, endpoint URL) -> AWS Health client``.
    :param claims_s3: S3 client for job claims (the function's own region).
    """

    codepipeline: Any
    health: Callable[[str, str], Any]
    claims_s3: Callable[[], Any]


def default_clients() -> Clients:
    """boto3 clients with the job machinery's timeouts and no retries of their own (:meth:`Job.call` retries)."""
    policy = pj.job_policy()
    calls = policy.calls.client_config()
    cache: dict[tuple[str, str], Any] = {}

    def health(region: str, endpoint: str) -> Any:
        key = (region, endpoint)
        if key not in cache:
            cache[key] = boto3.client("health", region_name=region, endpoint_url=endpoint, config=calls)
        return cache[key]

    def claims_s3() -> Any:
        region = pj.function_region()
        return boto3.client("s3", region_name=region, config=policy.calls.client_config(signature_version="s3v4"))

    return Clients(
        codepipeline=boto3.client("codepipeline", config=policy.reports.client_config()),
        health=health,
        claims_s3=claims_s3,
    )


# --------------------------------------------------------------------------- AWS Health


@dataclass(frozen=True)
class OpenIssues:
    """What AWS Health answered: the open issues, whether there may be more, and who answered."""

    events: tuple[Mapping[str, Any], ...]
    truncated: bool
    health_region: str


def _unreachable(err: BaseException) -> bool:
    """The endpoint could not answer (no connection, a timeout, a 5xx): the other endpoint may."""
    if isinstance(err, _CONNECTION_ERRORS):
        return True
    if isinstance(err, ClientError):
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return isinstance(status, int) and status >= 500
    return False


def _describe(job: pj.Job, client: Any, health_region: str, params: GateParameters) -> OpenIssues:
    """Every open issue event of the filter, page by page, from one endpoint."""
    request: dict[str, Any] = {
        "filter": {
            "regions": params.regions,
            "services": list(params.services),
            "eventTypeCategories": ["issue"],
            "eventStatusCodes": ["open"],
        },
        "maxResults": PAGE_SIZE,
    }
    events: list[Mapping[str, Any]] = []
    token: str | None = None
    for page in range(1, MAX_PAGES + 1):
        if token is not None:
            request["nextToken"] = token
        response = job.call(
            f"ask AWS Health ({health_region}) for open issues, page {page}", client.describe_events, **request
        )
        for event in response.get("events") or []:
            # The filter asked for open issues only; an event that says otherwise is not counted.
            if event.get("statusCode", "open") == "open" and event.get("eventTypeCategory", "issue") == "issue":
                events.append(event)
        token = response.get("nextToken") or None
        if token is None:
            return OpenIssues(tuple(events), truncated=False, health_region=health_region)
    return OpenIssues(tuple(events), truncated=True, health_region=health_region)


def open_issues(job: pj.Job, clients: Clients, config: GateConfig, params: GateParameters) -> OpenIssues:
    """Ask the active AWS Health endpoint, and the passive one when the active cannot be reached."""
    failures: list[str] = []
    for health_region, endpoint in config.endpoints:
        try:
            return _describe(job, clients.health(health_region, endpoint), health_region, params)
        except ClientError as err:
            code = pj.error_code(err)
            if code == "SubscriptionRequiredException":
                raise pj.JobFailedError(SUPPORT_PLAN_MESSAGE, "ConfigurationError") from None
            if code in pj.PERMISSION_CODES:
                raise pj.JobFailedError(
                    f"the function's role may not call health:DescribeEvents ({endpoint}): {err}", "PermissionError"
                ) from None
            if not _unreachable(err):
                raise
            failures.append(f"{endpoint}: {err}")
        except BotoCoreError as err:
            if not _unreachable(err):
                raise
            failures.append(f"{endpoint}: {err}")
        job.log("WARN", "AWS Health endpoint unreachable; trying the next one", endpoint=endpoint, error=failures[-1])
    raise pj.JobFailedError(
        "AWS Health could not be reached, so the gate cannot tell whether the target is safe to deploy to; "
        f"retry the stage. Tried: {'; '.join(failures)}"
    )


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value) if value else "an unknown time"


def describe_event(event: Mapping[str, Any]) -> str:
    """One open event, for the failure message: service, region, event type, start time, ARN."""
    return (
        f"{event.get('service', '?')} in {event.get('region', '?')}: {event.get('eventTypeCode', '?')} "
        f"since {_when(event.get('startTime'))} ({event.get('arn', 'no ARN')})"
    )


def failure_message(found: OpenIssues, params: GateParameters) -> str:
    """The failure naming the open events, as many as fit CodePipeline's message limit."""
    count = f"at least {len(found.events)}" if found.truncated else str(len(found.events))
    head = (
        f"AWS Health reports {count} open issue(s) for {', '.join(params.services)} in "
        f"{' or '.join(params.regions)}; the deployment waits. Retry this stage once AWS Health shows them "
        "closed (https://health.aws.amazon.com/health/home). Open: "
    )
    budget = pj.FAILURE_MESSAGE_LIMIT - len(head) - 40
    parts: list[str] = []
    for i, event in enumerate(found.events):
        text = describe_event(event)
        if sum(len(p) + 2 for p in parts) + len(text) > budget:
            parts.append(f"... and {len(found.events) - i} more")
            break
        parts.append(text)
    return head + "; ".join(parts)


# --------------------------------------------------------------------------- the job


def check(job: pj.Job, data: Mapping[str, Any], clients: Clients) -> None:
    """Do one job and report its outcome."""
    config = GateConfig.from_env(os.environ)
    if not job.claim(pj.ClaimStore(clients.claims_s3(), config.artifact_bucket, config.claims_prefix)):
        return
    params = GateParameters.from_job(data, config)
    job.fields.update(region=params.region, services=list(params.services))
    found = open_issues(job, clients, config, params)
    job.log(
        "INFO",
        "AWS Health answered",
        health_region=found.health_region,
        open_issues=len(found.events),
        truncated=found.truncated,
        events=[e.get("arn") for e in found.events],
    )
    if found.events:
        job.fail(failure_message(found, params))
        return
    where = " or ".join(params.regions)
    job.succeed(
        f"AWS Health reports no open issue for {', '.join(params.services)} in {where} (asked {found.health_region}).",
        variables={
            "OpenIssues": "0",
            "Region": params.region,
            "Services": ",".join(params.services),
            "HealthRegion": found.health_region,
        },
    )


#: ``run(event, context=None, *, clients=None)`` handles one CodePipeline job (exactly one result, or an
#: exception for the on-failure destination); ``handler(event, context)`` is the Lambda entry point.
run, handler = pj.entry_points(
    name=NAME, default_clients=default_clients, codepipeline=lambda resolved: resolved.codepipeline, work=check
)
