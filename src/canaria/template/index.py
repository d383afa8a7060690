"""What ``Ref`` and ``Fn::GetAtt`` of each resource give.

Names follow what canaria serves: a function is named by its logical id, so
``!Ref Fn`` is ``"Fn"``; ``!Ref Fn.Version`` is the version ARN with the
``{{canaria:version:Fn}}`` placeholder the deployer replaces by the version number of the
release; ``!Ref Fn.Alias`` is the alias ARN. A SAM API's ``!Ref`` is its id (its logical id
lower-cased) and ``!Ref Api.Stage`` its stage's name, as is ``!Ref`` of the stage resource SAM
generates for it (``ApiProdStage``, an HTTP API's ``ApiApiGatewayDefaultStage``). Resources
canaria does not run get placeholder values shaped like what AWS would give (an SNS topic's
ARN, a queue's URL).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from canaria.errors import InvalidRequest, TemplateError
from canaria.log_groups import group_arn
from canaria.models.arns import (
    ACCOUNT,
    REGION,
    function_arn,
    function_url,
    layer_arn,
    parse_function,
)
from canaria.models.firehose import delivery_stream_arn
from canaria.models.services import UserPoolGroupSpec, UserPoolSpec
from canaria.template import elb_refs, service_refs, user_pools
from canaria.template.intrinsics import NO_VALUE, Resolver
from canaria.template.nodes import LineMap, Where, as_str

FUNCTION = "AWS::Serverless::Function"
API = "AWS::Serverless::Api"
HTTP_API = "AWS::Serverless::HttpApi"
WEBSOCKET_API = "AWS::Serverless::WebSocketApi"
SIMPLE_TABLE = "AWS::Serverless::SimpleTable"
SAM_STATE_MACHINE = "AWS::Serverless::StateMachine"
TABLE = "AWS::DynamoDB::Table"
ALARM = "AWS::CloudWatch::Alarm"
DEPLOYMENT_CONFIG = "AWS::CodeDeploy::DeploymentConfig"
LOG_GROUP = "AWS::Logs::LogGroup"
DELIVERY_STREAM = "AWS::KinesisFirehose::DeliveryStream"
SFN_STATE_MACHINE = "AWS::StepFunctions::StateMachine"
GRAPHQL_API = "AWS::Serverless::GraphQLApi"
GRAPHQL_APIS = (GRAPHQL_API, "AWS::AppSync::GraphQLApi")
GRAPHQL_ATTRS = (
    "ApiId",
    "Arn",
    "GraphQLEndpointArn",
    "GraphQLUrl",
    "GraphQLDns",
    "RealtimeUrl",
    "RealtimeDns",
)
POOL = user_pools.POOL

# what SAM generates for a function with AutoPublishAlias (and DeploymentPreference), named
# ``Fn.Version`` etc. in Ref and GetAtt; their GetAtt attributes
GENERATED: dict[str, tuple[str, ...]] = {
    "Version": ("Version", "FunctionArn"),
    "Alias": ("AliasArn",),
    "DeploymentGroup": (),
}
# SAM's APIs, whose ``Api.Stage`` names the stage SAM generates; the stage name each gives
# when its StageName is not written (a REST API must write one)
SAM_APIS = (API, HTTP_API, WEBSOCKET_API)
DEFAULT_STAGES = {HTTP_API: "$default", WEBSOCKET_API: "default"}
IMPLICIT_REST_API = "ServerlessRestApi"
IMPLICIT_HTTP_API = "ServerlessHttpApi"
LAMBDA_URL = "AWS::Lambda::Url"
STAGE_TYPES = {API: "AWS::ApiGateway::Stage", HTTP_API: "AWS::ApiGatewayV2::Stage"}

_ATTRS: dict[str, tuple[str, ...]] = {
    FUNCTION: ("Arn",),
    TABLE: ("Arn", "StreamArn"),
    SIMPLE_TABLE: ("Arn", "StreamArn"),
    SAM_STATE_MACHINE: ("Arn", "Name"),
    SFN_STATE_MACHINE: ("Arn", "Name"),
    API: ("RootResourceId",),
    HTTP_API: ("ApiEndpoint",),
    WEBSOCKET_API: ("ApiEndpoint", "ApiId"),
    ALARM: ("Arn",),
    DEPLOYMENT_CONFIG: (),
    LOG_GROUP: ("Arn",),
    DELIVERY_STREAM: ("Arn",),
    **service_refs.ATTRS,
    **user_pools.ATTRS,
    **elb_refs.ATTRS,
}


@dataclass
class Entry:
    logical_id: str
    type: str
    props: LineMap  # with Globals merged in
    where: Where  # Resources.<id>
    props_at: Where  # Resources.<id>.Properties
    node: LineMap  # the whole resource (Type, Properties, Metadata, ...)
    enabled: bool = True
    condition: str | None = None


def version_placeholder(function: str) -> str:
    """Replaced by the version number of the release when it is deployed."""
    return "{{canaria:version:" + function + "}}"


def api_id(logical_id: str) -> str:
    return logical_id.lower()


def state_machine_arn(name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"


def graphql_endpoint_arn(api: str) -> str:
    """What an EventBridge rule's AppSync target names: the API's GraphQL endpoint."""
    return f"arn:aws:appsync:{REGION}:{ACCOUNT}:endpoints/graphql-api/{api}"


def table_arn(name: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


def _deploys(preference: object) -> bool:
    """Whether a ``DeploymentPreference`` makes SAM generate a deployment group: present
    and not ``Enabled: false``."""
    if preference is None:
        return False
    enabled = preference.get("Enabled", True) if isinstance(preference, dict) else True
    return enabled not in (False, "false", "False")


class ResourceIndex:
    """The template's resources, for intrinsic functions and for the builders."""

    def __init__(
        self,
        entries: dict[str, Entry],
        stack_name: str,
        resolver: Resolver,
        graphql_url: Callable[[str], str] | None = None,
    ) -> None:
        self.entries = entries
        self.graphql_url = graphql_url  # a GraphQL API's local URL, by logical id
        self.stack_name = stack_name
        self.resolver = resolver
        self._names: dict[str, str] = {}
        self._naming: set[str] = set()
        self._stages: dict[str, tuple[str, str]] | None = None  # see ``generated_stage``
        self._cognito: dict[str, user_pools.CognitoSpec] = {}  # see ``cognito``
        self._pool_ids: frozenset[str] | None = None  # see ``user_pool_ids``
        self.implicit: dict[str, str] = {}  # implicit logical id -> type
        for e in entries.values():
            if e.type == GRAPHQL_API and e.enabled:
                self.implicit.update(_graphql_generated(e))
            if e.type == SAM_STATE_MACHINE and e.enabled and "Role" not in e.props:
                self.implicit[f"{e.logical_id}Role"] = "AWS::IAM::Role"  # SAM generates it
            if e.type != FUNCTION or not e.enabled:
                continue
            if "Role" not in e.props:
                self.implicit[f"{e.logical_id}Role"] = "AWS::IAM::Role"
            if "FunctionUrlConfig" in e.props:
                self.implicit[f"{e.logical_id}Url"] = LAMBDA_URL
            if _deploys(e.props.get("DeploymentPreference")):
                self.implicit[f"{e.logical_id}DeploymentGroup"] = "AWS::CodeDeploy::DeploymentGroup"
                self.implicit["ServerlessDeploymentApplication"] = "AWS::CodeDeploy::Application"
            events = e.props.get("Events")
            for event in events.values() if isinstance(events, dict) else ():
                if not isinstance(event, dict):
                    continue
                props = event.get("Properties")
                props = props if isinstance(props, dict) else {}
                if event.get("Type") == "Api" and "RestApiId" not in props:
                    self.implicit[IMPLICIT_REST_API] = API
                if event.get("Type") == "HttpApi" and "ApiId" not in props:
                    self.implicit[IMPLICIT_HTTP_API] = HTTP_API
        for name in list(self.implicit):
            if name in entries:
                del self.implicit[name]

    # ---- the Resources protocol ----------------------------------------------------------

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        if name in self.entries or name in self.implicit:
            return True
        head, dot, tail = name.partition(".")
        if not dot:
            return self.generated_stage(name) is not None
        if tail == "Stage" and head in self.entries:
            return self.entries[head].type in SAM_APIS
        return tail in GENERATED and self.type_of(head) == FUNCTION

    def names(self) -> Iterable[str]:
        return [*self.entries, *self.implicit]

    def type_of(self, name: str) -> str | None:
        if name in self.entries:
            return self.entries[name].type
        if name in self.implicit:
            return self.implicit[name]
        stage = self.generated_stage(name)
        return None if stage is None else stage[1]

    def generated_stage(self, name: str) -> tuple[str, str] | None:
        """(stage name, resource type) of the stage SAM generates for one of its REST or
        HTTP APIs whose logical id is ``name``: the API's logical id, its stage name when
        that is letters and digits, and ``Stage`` (``MyApiProdStage``); an HTTP API's
        ``$default`` stage is ``MyApiApiGatewayDefaultStage``. None for another name."""
        if not name.endswith("Stage") or name in self.entries:
            return None
        if self._stages is None:
            self._stages = {}
            apis = [(e.logical_id, e.type) for e in self.entries.values() if e.enabled]
            for api, type_ in [*apis, *self.implicit.items()]:
                if type_ not in STAGE_TYPES:
                    continue
                try:
                    stage = self.stage_of(api) if api in self.entries else None
                except TemplateError:
                    continue  # its StageName is refused where it is read
                stage = stage or ("Prod" if type_ == API else "$default")
                if stage.isalnum():
                    self._stages[f"{api}{stage}Stage"] = (stage, STAGE_TYPES[type_])
                elif stage == "$default" and type_ == HTTP_API:
                    self._stages[f"{api}ApiGatewayDefaultStage"] = (stage, STAGE_TYPES[type_])
        return self._stages.get(name)

    def ref(self, name: str, where: Where) -> Any:
        head, dot, tail = name.partition(".")
        if dot:
            self._check_enabled(head, where)
            if tail == "Stage":
                return self.stage_of(head)
            alias = self.alias_of(head)
            if alias is None:
                raise where.error(
                    f"{name} exists only when {head} has AutoPublishAlias",
                    allowed=f"!Ref {head}, or set AutoPublishAlias on {head}",
                )
            if tail == "Version":
                return function_arn(head, version_placeholder(head))
            if tail == "DeploymentGroup":
                return f"{head}DeploymentGroup"
            return function_arn(head, alias)
        type_ = self.type_of(name)
        assert type_ is not None
        self._check_enabled(name, where)
        if name in self.implicit:
            if type_ in (API, HTTP_API):
                return api_id(name)
            return _placeholder_ref(name, type_)
        stage = self.generated_stage(name)
        if stage is not None:
            return stage[0]  # a stage's Ref is its name
        match type_:
            case "AWS::Serverless::Function":
                return name
            case "AWS::Logs::LogGroup" | "AWS::KinesisFirehose::DeliveryStream":
                return self.name_of(name)
            case "AWS::Serverless::LayerVersion":
                return layer_arn(name)
            case (
                "AWS::Serverless::Api"
                | "AWS::Serverless::HttpApi"
                | "AWS::Serverless::WebSocketApi"
            ):
                return api_id(name)
            case "AWS::Serverless::StateMachine" | "AWS::StepFunctions::StateMachine":
                return state_machine_arn(self.name_of(name))
            case (
                "AWS::CloudWatch::Alarm"
                | "AWS::DynamoDB::Table"
                | ("AWS::Serverless::SimpleTable")
                | "AWS::CodeDeploy::DeploymentConfig"
            ):
                return self.name_of(name)
            case _ if type_ in service_refs.TYPES:
                return service_refs.ref(type_, name, self._service_name(name), self._prop(name))
            case _ if type_ in elb_refs.TYPES:
                return elb_refs.ref(type_, name, self._elb_name(name), self._prop(name))
            case user_pools.POOL | user_pools.CLIENT | user_pools.GROUP:
                spec = self.cognito(name)
                return spec.name if isinstance(spec, UserPoolGroupSpec) else spec.id
            case _:
                return _placeholder_ref(name, type_)

    def get_att(self, name: str, attr: str, where: Where) -> Any:
        head, dot, tail = name.partition(".")
        if dot:  # Fn.Version, Fn.Alias, Fn.DeploymentGroup, Api.Stage
            self.ref(name, where)  # Fn.* exist only with AutoPublishAlias
            attrs = GENERATED.get(tail, ())
            if attr not in attrs:
                raise where.error(
                    f"{name} has no attribute {attr!r}",
                    allowed=", ".join(attrs) or f"none (use !Ref {name})",
                )
            if attr == "Version":
                return version_placeholder(head)
            if attr == "AliasArn":
                return self.ref(name, where)
            return function_arn(head)
        type_ = self.type_of(name)
        assert type_ is not None
        self._check_enabled(name, where)
        if type_ == LAMBDA_URL:
            return self._url_att(name, attr, where)
        if name in self.implicit and type_ not in (API, HTTP_API):
            return _placeholder_att(name, type_, attr)
        if type_ in GRAPHQL_APIS and attr in GRAPHQL_ATTRS:
            return self._graphql_att(name, attr)
        if type_ not in _ATTRS:
            return _placeholder_att(name, type_, attr)
        if attr not in _ATTRS[type_]:
            raise where.error(
                f"{type_} {name} has no attribute {attr!r} canaria knows",
                allowed=", ".join(_ATTRS[type_]) or "none (use !Ref)",
            )
        match (type_, attr):
            case _ if type_ in service_refs.TYPES:
                return service_refs.get_att(
                    type_, name, self._service_name(name), attr, self._prop(name)
                )
            case _ if type_ in user_pools.TYPES:
                return user_pools.get_att(self.cognito(name), attr)
            case _ if type_ in elb_refs.TYPES:
                return elb_refs.get_att(type_, name, self._elb_name(name), attr, self._prop(name))
            case ("AWS::Serverless::Function", _):
                return function_arn(name)
            case (_, "Arn") if type_ in (TABLE, SIMPLE_TABLE):
                return table_arn(self.name_of(name))
            case (_, "StreamArn"):
                return f"{table_arn(self.name_of(name))}/stream/1970-01-01T00:00:00.000"
            case (_, "Arn") if type_ in (SAM_STATE_MACHINE, SFN_STATE_MACHINE):
                return state_machine_arn(self.name_of(name))
            case (_, "Arn") if type_ == LOG_GROUP:
                return f"{group_arn(self.name_of(name))}:*"
            case (_, "Arn") if type_ == DELIVERY_STREAM:
                return delivery_stream_arn(REGION, ACCOUNT, self.name_of(name))
            case (_, "Name"):
                return self.name_of(name)
            case (_, "RootResourceId"):
                return f"{api_id(name)}-root"
            case (_, "ApiEndpoint"):
                scheme = "wss" if type_ == WEBSOCKET_API else "https"
                return f"{scheme}://{api_id(name)}.execute-api.{REGION}.amazonaws.com"
            case (_, "ApiId"):
                return api_id(name)
            case (_, "Arn"):
                return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{self.name_of(name)}"
        raise AssertionError((type_, attr))  # pragma: no cover

    def _url_att(self, name: str, attr: str, where: Where) -> str:
        """A function URL's ``FunctionUrl`` (Lambda's form; the edge gives where canaria
        serves it) or ``FunctionArn``: SAM's ``<Fn>Url`` or an ``AWS::Lambda::Url``."""
        if attr not in ("FunctionUrl", "FunctionArn"):
            raise where.error(
                f"{LAMBDA_URL} {name} has no attribute {attr!r}",
                allowed="FunctionUrl, FunctionArn",
            )
        if name in self.implicit:
            function = name.removesuffix("Url")
        else:
            entry = self.entries[name]
            target = self.resolver.get(entry.props, "TargetFunctionArn", entry.props_at)
            named = target if isinstance(target, str) else ""
            with contextlib.suppress(InvalidRequest):
                named, _ = parse_function(named)
            function = self._function_called(named)
        return function_url(function) if attr == "FunctionUrl" else function_arn(function)

    def _function_called(self, name: str) -> str:
        """The logical id of the function whose logical id or ``FunctionName`` is
        ``name``; ``name`` itself when none is."""
        if self.type_of(name) == FUNCTION:
            return name
        for e in self.entries.values():
            if e.type == FUNCTION and e.enabled and "FunctionName" in e.props:
                declared = self.resolver.get(e.props, "FunctionName", e.props_at)
                if declared == name:
                    return e.logical_id
        return name

    def _graphql_att(self, name: str, attr: str) -> str:
        """A GraphQL API's id, or where it is served: canaria's URL when the server says,
        else AppSync's."""
        if attr == "ApiId":
            return api_id(name)
        if attr == "Arn":
            return f"arn:aws:appsync:{REGION}:{ACCOUNT}:apis/{api_id(name)}"
        if attr == "GraphQLEndpointArn":
            return graphql_endpoint_arn(api_id(name))
        url = (
            self.graphql_url(name)
            if self.graphql_url is not None
            else f"https://{api_id(name)}.appsync-api.{REGION}.amazonaws.com/graphql"
        )
        host = url.split("/")[2]
        match attr:
            case "GraphQLUrl":
                return url
            case "GraphQLDns":
                return host
            case "RealtimeUrl":
                return url.replace("https://", "wss://").replace("http://", "ws://") + "/realtime"
            case _:  # RealtimeDns
                return host

    def _check_enabled(self, name: str, where: Where) -> None:
        entry = self.entries.get(name)
        if entry is not None and not entry.enabled:
            raise where.error(
                f"{name} is not created: its Condition {entry.condition} is false",
                allowed="a resource that exists, or Fn::If on the same condition",
            )

    # ---- names ---------------------------------------------------------------------------

    def _prop(self, logical_id: str) -> service_refs.Prop:
        entry = self.entries[logical_id]
        return lambda key: self.resolver.get(entry.props, key, entry.props_at)

    def cognito(self, logical_id: str) -> user_pools.CognitoSpec:
        """A Cognito user pool, app client or group of the template, read once."""
        spec = self._cognito.get(logical_id)
        if spec is None:
            entry = self.entries[logical_id]
            if logical_id in self._naming:
                raise entry.props_at.error(f"{logical_id} refers to itself")
            self._naming.add(logical_id)
            try:
                spec = user_pools.read(
                    entry.type,
                    logical_id,
                    lambda key: self.resolver.get(entry.props, key, entry.props_at),
                    lambda key: entry.props_at.key(entry.props, key),
                    service_refs.default_name(entry.type, self.stack_name, logical_id, _none),
                )
            finally:
                self._naming.discard(logical_id)
            self._cognito[logical_id] = spec
        return spec

    def user_pool_ids(self) -> frozenset[str]:
        """The ids of the template's Cognito user pools (those the services engine serves)."""
        if self._pool_ids is None:
            specs = [self.cognito(e.logical_id) for e in self.entries.values() if e.type == POOL]
            self._pool_ids = frozenset(s.id for s in specs if isinstance(s, UserPoolSpec))
        return self._pool_ids

    def _service_name(self, logical_id: str) -> str:
        """The physical name of a resource of the services engine (none for a subscription)."""
        if self.entries[logical_id].type in service_refs.NAME_KEYS:
            return self.name_of(logical_id)
        return ""

    def _elb_name(self, logical_id: str) -> str:
        """A load balancer's or target group's name (a listener or rule has none)."""
        if self.entries[logical_id].type in elb_refs.NAME_KEYS:
            return self.name_of(logical_id)
        return ""

    def stage_of(self, api: str) -> str:
        """The name of the stage SAM generates for one of its APIs (``!Ref Api.Stage``)."""
        entry = self.entries[api]
        value = self.resolver.get(entry.props, "StageName", entry.props_at)
        if value is NO_VALUE or value is None:
            return DEFAULT_STAGES.get(entry.type, "")
        return as_str(value, entry.props_at.key(entry.props, "StageName"))

    def alias_of(self, function: str) -> str | None:
        """The function's AutoPublishAlias, resolved, or None."""
        entry = self.entries[function]
        value = self.resolver.get(entry.props, "AutoPublishAlias", entry.props_at)
        if value is NO_VALUE or value is None:
            return None
        return as_str(value, entry.props_at.key(entry.props, "AutoPublishAlias"))

    def name_of(self, logical_id: str) -> str:
        """The physical name of a table, alarm, state machine or deployment config."""
        if logical_id in self._names:
            return self._names[logical_id]
        entry = self.entries[logical_id]
        key, default = {
            TABLE: ("TableName", f"{self.stack_name}-{logical_id}"),
            SIMPLE_TABLE: ("TableName", f"{self.stack_name}-{logical_id}"),
            ALARM: ("AlarmName", logical_id),
            SAM_STATE_MACHINE: ("Name", logical_id),
            SFN_STATE_MACHINE: ("StateMachineName", logical_id),
            DEPLOYMENT_CONFIG: ("DeploymentConfigName", logical_id),
            LOG_GROUP: ("LogGroupName", f"{self.stack_name}-{logical_id}"),
            "AWS::Pipes::Pipe": ("Name", f"{self.stack_name}-{logical_id}"),
            DELIVERY_STREAM: ("DeliveryStreamName", f"{self.stack_name}-{logical_id}"),
            **{
                t: ("Name", elb_refs.default_name(self.stack_name, logical_id))
                for t in elb_refs.NAME_KEYS
            },
        }.get(entry.type) or service_refs.naming(
            entry.type, self.stack_name, logical_id, self._prop(logical_id)
        )
        props_at = entry.props_at
        if logical_id in self._naming:
            raise props_at.key(entry.props, key).error(f"{key} of {logical_id} refers to itself")
        self._naming.add(logical_id)
        try:
            value = self.resolver.get(entry.props, key, props_at)
        finally:
            self._naming.discard(logical_id)
        name = default if value is NO_VALUE else as_str(value, props_at.key(entry.props, key))
        self._names[logical_id] = name
        return name


def _none(key: str) -> Any:
    return NO_VALUE


def _service(type_: str) -> str:
    parts = type_.split("::")
    return parts[1].lower() if len(parts) == 3 else "custom"


def _graphql_generated(entry: Entry) -> dict[str, str]:
    """The resources SAM generates for an ``AWS::Serverless::GraphQLApi`` that a template
    may name in ``Ref`` / ``GetAtt`` (its API keys, data sources and functions): logical id
    -> type."""
    out: dict[str, str] = {}
    name = entry.logical_id
    keys = entry.props.get("ApiKeys")
    for key in keys if isinstance(keys, dict) else ():
        out[f"{name}{key}"] = "AWS::AppSync::ApiKey"
    sources = entry.props.get("DataSources")
    for kind, label in (("DynamoDb", "DynamoDB"), ("Lambda", "Lambda")):
        group = sources.get(kind) if isinstance(sources, dict) else None
        for key in group if isinstance(group, dict) else ():
            out[f"{name}{key}{label}DataSource"] = "AWS::AppSync::DataSource"
    functions = entry.props.get("Functions")
    for key in functions if isinstance(functions, dict) else ():
        out[f"{name}{key}"] = "AWS::AppSync::FunctionConfiguration"
    return out


def _placeholder_ref(name: str, type_: str) -> str:
    match type_:
        case "AWS::SNS::Topic":
            return f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
        case "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
        case "AWS::S3::Bucket":
            return name.lower()
        case _:
            return name


def _placeholder_att(name: str, type_: str, attr: str) -> str:
    if attr != "Arn":
        return f"{name}.{attr}"
    match _service(type_):
        case "iam":
            return f"arn:aws:iam::{ACCOUNT}:role/{name}"
        case "s3":
            return f"arn:aws:s3:::{name.lower()}"
        case service:
            return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{name}"
