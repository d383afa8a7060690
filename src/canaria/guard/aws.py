"""The guard's one typed AWS client: every call it makes, through boto3, counted.

Credentials and region come from the standard chain (``AWS_PROFILE``, environment
variables, shared config and credentials files, instance or container roles);
``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>`` point it at a stand-in such as
``canaria up``'s edge. botocore retries throttled calls with backoff (standard mode); a
call still throttled after that raises ``Throttled`` and the guard keeps its evidence and
polls again later.

Errors::

    GuardError          the guard cannot go on as asked (message says what to do)
    ├── NoCredentials   no credentials in the chain
    ├── Throttled       AWS kept answering ThrottlingException
    └── AwsRefused      AWS answered an error (code and message kept)
"""

from __future__ import annotations

import collections
import os
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import orjson
import yaml
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
)

from canaria.errors import CanariaError
from canaria.guard.logsignals import FILTER_PATTERN, LogEvent
from canaria.guard.model import ACTIVE_STATUSES, AwsStatus, LambdaTarget, Observed

__all__ = [
    "AwsGuardClient",
    "AwsRefused",
    "GuardError",
    "NoCredentials",
    "Throttled",
    "appspec_target",
]

THROTTLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "LimitExceededException",
        "RateExceeded",  # CloudWatch Logs' FilterLogEvents: 5 per second per account and Region
    }
)
MAX_LOG_PAGES = 20  # per function per poll: 20 × up to 10,000 events
MAX_NESTING = 5  # nested stacks read below the one named


class GuardError(CanariaError):
    http_status = 400
    code = "GuardError"


class NoCredentials(GuardError):
    pass


class Throttled(GuardError):
    pass


class AwsRefused(GuardError):
    def __init__(self, operation: str, aws_code: str, message: str) -> None:
        super().__init__(f"{operation}: {aws_code}: {message}")
        self.operation = operation
        self.aws_code = aws_code


class AwsGuardClient:
    def __init__(
        self,
        *,
        profile: str | None = None,
        region: str | None = None,
        session: boto3.session.Session | None = None,
        endpoint_url: str | None = None,
        max_attempts: int = 5,
    ) -> None:
        # boto3 reads AWS_DEFAULT_REGION only; AWS_REGION is the other SDKs' (and what
        # Lambda, CodeBuild and most CI runners set), so it is read too, after a profile's
        try:
            self.session = session or boto3.session.Session(
                profile_name=profile, region_name=region
            )
            if (
                session is None
                and self.session.region_name is None
                and os.environ.get("AWS_REGION")
            ):
                self.session = boto3.session.Session(
                    profile_name=profile, region_name=os.environ["AWS_REGION"]
                )
        except BotoCoreError as exc:  # e.g. ProfileNotFound
            raise GuardError(str(exc)) from None
        if self.session.region_name is None:
            raise GuardError(
                "no AWS region: pass --region, or set AWS_REGION / AWS_DEFAULT_REGION "
                "or a region in your AWS profile"
            )
        self.region: str = self.session.region_name
        config = Config(
            retries={"mode": "standard", "max_attempts": max_attempts}, connect_timeout=5
        )
        self._clients: dict[str, Any] = {}
        self._config = config
        self.endpoint_url = endpoint_url  # one endpoint for every service (a stand-in)
        self.calls: collections.Counter[str] = collections.Counter()
        self._log_groups: dict[str, str] = {}

    def _client(self, service: str) -> Any:
        client = self._clients.get(service)
        if client is None:
            client = self._clients[service] = self.session.client(
                service, config=self._config, endpoint_url=self.endpoint_url
            )
        return client

    def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """One AWS call (``operation``: the boto3 method, e.g. ``list_deployments``),
        counted, with its errors turned into the guard's."""
        self.calls[f"{service}:{operation}"] += 1
        method = getattr(self._client(service), operation)
        try:
            answer: dict[str, Any] = method(**params)
        except NoCredentialsError:
            raise NoCredentials(
                "no AWS credentials found: set AWS_PROFILE (or pass --profile), or "
                "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or run where a role is attached"
            ) from None
        except NoRegionError:
            raise GuardError("no AWS region: pass --region or set AWS_REGION") from None
        except EndpointConnectionError as exc:
            raise GuardError(
                f"cannot reach {service} in region {self.region!r} ({exc}); is the region right?"
            ) from None
        except ClientError as exc:
            err = exc.response.get("Error", {})
            code = str(err.get("Code", "Unknown"))
            message = str(err.get("Message", ""))
            if code in THROTTLE_CODES:
                raise Throttled(f"{service} {operation} throttled: {message}") from None
            raise AwsRefused(f"{service} {operation}", code, message[:300]) from None
        answer.pop("ResponseMetadata", None)
        return answer

    # ---- finding deployments ----------------------------------------------------------

    def _region_hint(self) -> str:
        return (
            f"in region {self.region} (is that the region it was deployed to? "
            "pass --region or set AWS_REGION)"
        )

    def stack_groups(self, stack: str) -> list[tuple[str, str]]:
        """(application, deployment group) pairs a CloudFormation stack created, its
        nested stacks' included (a SAM ``AWS::Serverless::Application`` is one)."""
        pairs = self._stack_groups(stack, 0)
        if not pairs:
            raise GuardError(
                f"stack {stack!r} has no CodeDeploy application with deployment groups, "
                "nor has any stack nested in it (a SAM function needs AutoPublishAlias "
                "and DeploymentPreference to get one)"
            )
        return pairs

    def _stack_groups(self, stack: str, depth: int) -> list[tuple[str, str]]:
        apps: list[str] = []
        groups: list[str] = []
        nested: list[str] = []
        token: str | None = None
        while True:
            try:
                page = self.call(
                    "cloudformation",
                    "list_stack_resources",
                    StackName=stack,
                    **({"NextToken": token} if token else {}),
                )
            except AwsRefused as exc:
                if exc.aws_code == "ValidationError" and "does not exist" in exc.message:
                    raise GuardError(f"{exc.message} {self._region_hint()}") from None
                raise
            for r in page.get("StackResourceSummaries", []):
                physical = str(r.get("PhysicalResourceId") or "")
                if not physical:
                    continue  # not created (yet), or deleted
                match r.get("ResourceType"):
                    case "AWS::CodeDeploy::Application":
                        apps.append(physical)
                    case "AWS::CodeDeploy::DeploymentGroup":
                        groups.append(physical)
                    case "AWS::CloudFormation::Stack":
                        nested.append(physical)  # the nested stack's id (an ARN)
            token = page.get("NextToken")
            if not token:
                break
        # A SAM stack has one application; group names are unique within it.
        pairs = [(apps[0], g) for g in groups] if apps else []
        if depth < MAX_NESTING:
            for child in nested:
                pairs += self._stack_groups(child, depth + 1)
        return pairs

    def application_groups(self, application: str) -> list[tuple[str, str]]:
        groups: list[str] = []
        token: str | None = None
        while True:
            try:
                page = self.call(
                    "codedeploy",
                    "list_deployment_groups",
                    applicationName=application,
                    **({"nextToken": token} if token else {}),
                )
            except AwsRefused as exc:
                if exc.aws_code == "ApplicationDoesNotExistException":
                    raise GuardError(f"{exc.message} {self._region_hint()}") from None
                raise
            groups.extend(page.get("deploymentGroups", []))
            token = page.get("nextToken") or None
            if not token:
                break
        if not groups:
            raise GuardError(
                f"CodeDeploy application {application!r} has no deployment groups "
                f"{self._region_hint()}"
            )
        return [(application, g) for g in groups]

    def active_deployments(self, application: str, group: str) -> list[str]:
        ids: list[str] = []
        token: str | None = None
        while True:
            page = self.call(
                "codedeploy",
                "list_deployments",
                applicationName=application,
                deploymentGroupName=group,
                includeOnlyStatuses=list(ACTIVE_STATUSES),
                **({"nextToken": token} if token else {}),
            )
            ids.extend(page.get("deployments", []))
            token = page.get("nextToken") or None
            if not token:
                break
        return ids

    def observe(self, deployment_id: str, known: LambdaTarget | None = None) -> Observed:
        """The deployment as AWS reports it; its Lambda target read once (``known``
        skips reading it again)."""
        info = self.call("codedeploy", "get_deployment", deploymentId=deployment_id)[
            "deploymentInfo"
        ]
        target = known or self._target(deployment_id, info)
        create = info.get("createTime", 0.0)
        return Observed(
            deployment_id=deployment_id,
            application=str(info.get("applicationName", "")),
            group=str(info.get("deploymentGroupName", "")),
            status=AwsStatus(info.get("status", "Created")),
            target=target,
            create_time=create.timestamp() if hasattr(create, "timestamp") else float(create),
            config_name=str(info.get("deploymentConfigName", "")),
            creator=str(info.get("creator", "")),
        )

    def _target(self, deployment_id: str, info: Mapping[str, Any]) -> LambdaTarget | None:
        if info.get("computePlatform", "Lambda") != "Lambda":
            return None
        try:
            for target_id in self._target_ids(deployment_id):
                t = self.call(
                    "codedeploy",
                    "get_deployment_target",
                    deploymentId=deployment_id,
                    targetId=target_id,
                )["deploymentTarget"].get("lambdaTarget")
                fi = (t or {}).get("lambdaFunctionInfo")
                if fi:
                    return LambdaTarget(
                        function=str(fi["functionName"]),
                        alias=str(fi["functionAlias"]),
                        current_version=str(fi["currentVersion"]),
                        target_version=str(fi["targetVersion"]),
                        weight=fi.get("targetVersionWeight"),
                    )
        except AwsRefused:
            pass  # e.g. not implemented by a stand-in: the AppSpec says the same
        return appspec_target(info.get("revision") or {})

    def _target_ids(self, deployment_id: str) -> Iterator[str]:
        """ListDeploymentTargets, every page (a Lambda deployment has one target)."""
        token: str | None = None
        while True:
            page = self.call(
                "codedeploy",
                "list_deployment_targets",
                deploymentId=deployment_id,
                **({"nextToken": token} if token else {}),
            )
            yield from (str(t) for t in page.get("targetIds", []))
            token = page.get("nextToken") or None
            if not token:
                return

    # ---- signals ------------------------------------------------------------------------

    def log_group(self, function: str) -> str:
        """Where the function logs: its ``LoggingConfig.LogGroup`` if it names one, else
        ``/aws/lambda/<function>`` (also when the configuration cannot be read)."""
        group = self._log_groups.get(function)
        if group is None:
            group = f"/aws/lambda/{function}"
            try:
                config = self.call("lambda", "get_function_configuration", FunctionName=function)
                group = (config.get("LoggingConfig") or {}).get("LogGroup") or group
            except AwsRefused:
                pass  # no lambda:GetFunctionConfiguration, or a stand-in without it
            self._log_groups[function] = group
        return group

    def log_events(self, function: str, start_ms: int) -> Iterator[LogEvent]:
        """The lines the guard reads from the function's log group from ``start_ms`` on."""
        group = self.log_group(function)
        token: str | None = None
        for _ in range(MAX_LOG_PAGES):
            try:
                page = self.call(
                    "logs",
                    "filter_log_events",
                    logGroupName=group,
                    startTime=start_ms,
                    filterPattern=FILTER_PATTERN,
                    **({"nextToken": token} if token else {}),
                )
            except AwsRefused as exc:
                if exc.aws_code == "ResourceNotFoundException":
                    return  # Lambda creates the group with its first line: nothing yet
                raise
            for raw in page.get("events", []):
                yield LogEvent.from_aws(raw)
            token = page.get("nextToken")
            if not token:
                return

    def metric_data(
        self, queries: list[dict[str, Any]], start: float, end: float
    ) -> list[dict[str, Any]]:
        """GetMetricData over [start, end), every page, results merged by query id."""
        merged: dict[str, dict[str, Any]] = {}
        token: str | None = None
        while True:
            page = self.call(
                "cloudwatch",
                "get_metric_data",
                MetricDataQueries=queries,
                StartTime=start,
                EndTime=end,
                **({"NextToken": token} if token else {}),
            )
            for r in page.get("MetricDataResults", []):
                m = merged.setdefault(r["Id"], {"Id": r["Id"], "Timestamps": [], "Values": []})
                m["Timestamps"].extend(r.get("Timestamps", []))
                m["Values"].extend(r.get("Values", []))
            token = page.get("NextToken")
            if not token:
                return list(merged.values())

    # ---- acting -------------------------------------------------------------------------

    def stop_deployment(self, deployment_id: str, auto_rollback: bool) -> dict[str, Any]:
        return self.call(
            "codedeploy",
            "stop_deployment",
            deploymentId=deployment_id,
            autoRollbackEnabled=auto_rollback,
        )

    def set_alarm_state(self, name: str, state: str, reason: str) -> dict[str, Any]:
        return self.call(
            "cloudwatch",
            "set_alarm_state",
            AlarmName=name,
            StateValue=state,
            StateReason=reason[:1023],
        )


def appspec_target(revision: Mapping[str, Any]) -> LambdaTarget | None:
    """The Lambda target an AppSpec revision names (``revisionType: AppSpecContent`` or
    ``String``, YAML or JSON: ``Resources: [{Name: {Type: AWS::Lambda::Function,
    Properties: {Name, Alias, CurrentVersion, TargetVersion}}}]``)."""
    content = (revision.get("appSpecContent") or revision.get("string") or {}).get("content")
    if not isinstance(content, str):
        return None
    try:
        spec = orjson.loads(content)
    except orjson.JSONDecodeError:
        try:
            spec = yaml.safe_load(content)
        except yaml.YAMLError:
            return None
    if not isinstance(spec, dict):
        return None
    for resource in spec.get("Resources") or []:
        if not isinstance(resource, dict):
            continue
        for body in resource.values():
            props = body.get("Properties") if isinstance(body, dict) else None
            if isinstance(props, dict) and {"Name", "Alias", "TargetVersion"} <= set(props):
                return LambdaTarget(
                    function=str(props["Name"]),
                    alias=str(props["Alias"]),
                    current_version=str(props.get("CurrentVersion", "")),
                    target_version=str(props["TargetVersion"]),
                )
    return None
