"""What a template declares, resolved: no intrinsic functions left, paths absolute."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from canaria.models.appsync import GraphQLApiSpec
from canaria.models.firehose import DeliveryStreamSpec
from canaria.models.integrations import IntegrationSpec
from canaria.models.load_balancers import ListenerSpec
from canaria.models.schedules import ScheduledInvocation
from canaria.models.services import EventSource, PipeSpec, ServiceResource

ApiKind = Literal["rest", "http"]


@dataclass(frozen=True)
class FunctionConfig:
    """Everything that makes up a version besides its code; part of the version digest."""

    handler: str  # "app.handler" (module path inside code_uri, then attribute)
    runtime: str  # "python3.12" as written; canaria runs the installed interpreter
    code_uri: str  # absolute directory
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 3.0
    memory_mb: int = 128
    reserved_concurrency: int | None = None
    # the built layers' directories, in the template's order (what Lambda extracts into
    # /opt one after the other); set when a release is planned
    layers: tuple[str, ...] = ()


@dataclass(frozen=True)
class LayerSpec:
    """An ``AWS::Serverless::LayerVersion`` of the template that a function uses, or a
    public layer canaria builds from the packages it holds."""

    name: str  # logical id
    content_uri: str  # absolute directory or .zip file
    # ``Metadata: BuildMethod``: "python" or "nodejs" (built as ``sam build`` builds it:
    # the content and its dependencies under python/ or nodejs/); None: taken as it is
    build: Literal["python", "nodejs"] | None = None
    # the BuildMethod as written (``python3.12``): a Python layer's dependencies are
    # installed by that version of Python when this machine has it
    build_method: str = ""
    # a public layer canaria builds from its packages (``template.public_layers``): the
    # requirements (pip's, or npm's ``name@range``) it installs in the layer's place; its
    # content_uri is then "" (canaria writes the manifest under its state directory)
    packages: tuple[str, ...] = ()


@dataclass(frozen=True)
class TriggerConfig:
    name: str
    events: tuple[str, ...]  # DeploymentStart, DeploymentSuccess, ... (CodeDeploy names)
    target: str  # an SNS topic ARN (published to in the services engine) or a webhook URL


# the largest slow tolerance accepted (an hour): beyond, "slow" would mean nothing
MAX_SLOW_TOLERANCE_MS = 3_600_000.0


class Undetectable(enum.StrEnum):
    """What a step that requires a detectable failure rate does when its hold runs out
    before the canary has served enough to detect it."""

    FAIL = "fail"  # fail the deployment and roll back: the release could not be judged
    PROMOTE = "promote"  # go on, with a warning in the events


# under --time-scale, a deployment with no requirement of its own needs this (rehearsals
# compress the schedule, not the traffic: they must not promote a release unjudged)
REHEARSAL_MIN_DETECTABLE = 0.1


@dataclass(frozen=True)
class JudgeSettings:
    enabled: bool = True
    alpha: float = 0.01
    early_promotion: bool = False
    delta: float = 0.5  # early promotion rejects "canary rate >= (1 + delta) x stable rate"
    # a warm request is "slow" above the stable version's p99 plus this much: a canary a
    # few microseconds slower is a real difference but never a reason to roll back
    slow_tolerance_ms: float = 1.0
    # a weighted step ends only once the judge would have caught a canary failing this
    # share of its requests (None: no requirement); it holds at most ``max_hold_s``
    # (None: as long again as the step's duration), then does what ``undetectable`` says
    min_detectable: float | None = None
    max_hold_s: float | None = None
    undetectable: Undetectable = Undetectable.FAIL
    # the clock's speed when the deployment started (``--time-scale``; 1: real time). A
    # rehearsal's step holds by default until it has lasted its duration in wall time:
    # as much traffic as the step would have seen in production, no more
    rehearsal_scale: float = 1.0


@dataclass(frozen=True)
class DeploymentPreference:
    type: str  # "Linear10PercentEvery1Minute", "CodeDeployDefault.LambdaAllAtOnce", custom name
    alarms: tuple[str, ...] = ()  # alarm names (resolved from !Ref)
    pre_traffic_hook: str | None = None  # function logical id
    post_traffic_hook: str | None = None
    enabled: bool = True
    triggers: tuple[TriggerConfig, ...] = ()
    judge: JudgeSettings = field(default_factory=JudgeSettings)
    hook_timeout_s: float = 3600.0


@dataclass(frozen=True)
class AuthorizerSpec:
    """An authorizer of an API (``Auth: Authorizers``), checked before the function of
    each route it guards, as API Gateway does: a Lambda authorizer (its function runs), a
    Cognito user pool authorizer (REST) or a JWT authorizer (HTTP API); the last two read
    the token's claims, issuer, audience, expiry and scopes, and its signature when the
    token comes from a user pool of the template (``signed``)."""

    name: str  # its key under Authorizers
    api_kind: ApiKind
    function: str  # the authorizer function's logical id ("" for Cognito and JWT)
    qualifier: str | None = None  # the alias FunctionArn names; None: the latest version
    # REST: "TOKEN" (one header, the token) or "REQUEST" (identity sources); HTTP API:
    # "REQUEST" always
    payload_type: Literal["TOKEN", "REQUEST"] = "TOKEN"
    # HTTP API: the event's payload format ("1.0" or "2.0"); REST: "1.0"
    payload_version: Literal["1.0", "2.0"] = "1.0"
    simple_responses: bool = False  # HTTP API 2.0: {isAuthorized, context} answers
    # identity sources: header names (lower case) and query string names; a request
    # missing one is refused 401 without invoking the authorizer
    headers: tuple[str, ...] = ("authorization",)
    query_strings: tuple[str, ...] = ()
    validation: str | None = None  # TOKEN: a regular expression the token must match
    ttl_s: int = 300  # how long an answer is cached per identity (0: not cached)
    # "iam": ``AWS_IAM`` authorization, a SigV4 signature by keys canaria issued
    type: Literal["lambda", "cognito", "jwt", "iam"] = "lambda"
    issuer: str | None = None  # JWT: the token's iss must be this
    issuers: tuple[str, ...] = ()  # Cognito: its iss must be one of these (its user pools')
    # Cognito and JWT: the token is issued by a user pool the services engine serves, so its
    # signature is checked with the engine's keys
    signed: bool = False
    audience: tuple[str, ...] = ()  # JWT: its aud (or client_id) must be one of these
    scopes: tuple[str, ...] = ()  # the route's AuthorizationScopes: the token needs one
    # IAM: the service the signature's credential scope must name ("lambda" for a URL)
    service: str = "execute-api"


IAM_AUTHORIZER = "AWS_IAM"


def iam_authorizer(api_kind: ApiKind, service: str = "execute-api") -> AuthorizerSpec:
    """``AWS_IAM`` authorization of an API's route (or, ``service`` "lambda", of a function
    URL): the request must be signed with SigV4 by keys canaria issued."""
    return AuthorizerSpec(
        IAM_AUTHORIZER, api_kind, "", headers=(), ttl_s=0, type="iam", service=service
    )


@dataclass(frozen=True)
class CorsSpec:
    """An API's CORS configuration (REST ``Cors``, HTTP API ``CorsConfiguration``)."""

    allow_origins: tuple[str, ...]  # REST: the one origin it answers with
    allow_methods: tuple[str, ...] = ()  # REST: none given, the path's methods
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()  # HTTP API only
    max_age: int | None = None
    allow_credentials: bool = False
    # REST: the preflight goes through the API's default authorizer
    # (AddDefaultAuthorizerToCorsPreflight, true unless turned off)
    preflight_authorized: bool = True
    # REST: the API keys the preflight accepts, as a route's ``api_keys`` (the API's
    # ApiKeyRequired, with AddApiKeyRequiredToCorsPreflight true unless turned off, or a
    # hand-written preflight method's own ApiKeyRequired); None: it needs no key
    preflight_api_keys: tuple[tuple[str, str], ...] | None = None


@dataclass(frozen=True)
class GatewayResponseSpec:
    """A REST API's ``GatewayResponses`` entry: how API Gateway's own answer of one type
    (``UNAUTHORIZED``, ``ACCESS_DENIED``, ``DEFAULT_4XX``, ...) is changed."""

    status: int | None = None  # StatusCode (None: the answer's own)
    headers: tuple[tuple[str, str], ...] = ()  # ResponseParameters.Headers, unquoted
    template: str | None = None  # ResponseTemplates' application/json body


@dataclass(frozen=True)
class RequestValidation:
    """A REST method's request validator, as API Gateway applies it before the method's
    integration: the parameters it requires (``ValidateRequestParameters``) and the model
    its body must match (``ValidateRequestBody``)."""

    # "header.<name>", "querystring.<name>", "path.<name>" that must be present
    parameters: tuple[str, ...] = ()
    # (content type, the model's JSON schema as JSON text) the body is checked against
    body: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class UsageLimits:
    """What a usage plan allows one API key on one method: a request rate (a token bucket
    refilled ``rate`` times a second, ``burst`` deep; the plan's ``Throttle``, or its
    ``ApiStages`` entry's for this method) and a number of requests per ``period``
    (``Quota``: ``quota`` per DAY, WEEK or MONTH, ``offset`` fewer in the first one)."""

    plan: str  # the usage plan's logical id: its key's quota and rate are counted per plan
    rate: float | None = None
    burst: int | None = None
    quota: int | None = None
    period: Literal["DAY", "WEEK", "MONTH"] = "DAY"
    offset: int = 0
    method: str | None = None  # a method-level throttle: its "path/METHOD" (own bucket)


@dataclass(frozen=True)
class RouteSpec:
    method: str  # upper case, or "ANY"
    path: str  # "/company/{company_id}", "/{proxy+}"
    api_kind: ApiKind
    api_id: str  # logical id of the Api/HttpApi, or the implicit one
    stage: str
    function: str  # function logical id
    authorizer: AuthorizerSpec | None = None
    cors: CorsSpec | None = None  # its API's
    # an HTTP API route whose integration takes payload format 1.0 (PayloadFormatVersion)
    payload_v1: bool = False
    stage_variables: tuple[tuple[str, str], ...] = ()  # its API's stage's
    # its API's GatewayResponses (REST): response type -> how its answers change
    gateway_responses: tuple[tuple[str, GatewayResponseSpec], ...] = ()
    # a method that is not a Lambda proxy: how API Gateway maps it to its backend. Its
    # ``function`` is the integration's (a non-proxy Lambda integration), else ""
    integration: IntegrationSpec | None = None
    # REST ``ApiKeyRequired``: the (value, id) of each API key it accepts in ``x-api-key``
    # (the enabled keys a usage plan, or the key's StageKeys, associates with its stage).
    # None: no key is required; empty: one is, and no key is valid, so every request is
    # refused, as on AWS
    api_keys: tuple[tuple[str, str], ...] | None = None
    # REST: its request validator (RequestModel's ValidateBody / ValidateParameters)
    validation: RequestValidation | None = None
    # the usage plan limits of each accepted key on this method, by key id (none: unlimited)
    api_key_limits: tuple[tuple[str, UsageLimits], ...] = ()
    # a function URL with InvokeMode RESPONSE_STREAM, or a REST Lambda proxy with
    # responseTransferMode STREAM: the answer is passed on as the function writes it, and
    # what it writes without HTTP metadata is the body (200, application/octet-stream)
    raw_stream: bool = False


@dataclass(frozen=True)
class ApiKeySpec:
    """An API key: an ``AWS::ApiGateway::ApiKey``, or one SAM generates for an API's
    ``Auth.UsagePlan``. A REST method that requires a key (``ApiKeyRequired``) answers
    only requests whose ``x-api-key`` header holds the value of an enabled key valid for
    its API's stage."""

    logical_id: str
    id: str  # its id as AWS shows it (10 lower-case letters and digits), from logical_id
    name: str  # Name, else the one CloudFormation would generate
    # Value; a key without one has a value canaria generates (``generated``), None when
    # the template was loaded without a way to make it (``canaria validate``)
    value: str | None
    enabled: bool = False  # Enabled (CloudFormation's default is false)
    # the (API logical id, stage name) pairs it is valid for: its usage plans' ApiStages
    # and its own StageKeys
    stages: tuple[tuple[str, str], ...] = ()
    generated: bool = False


@dataclass(frozen=True)
class AccessLogSpec:
    """An API stage's access logs (``AccessLogSetting`` / ``AccessLogSettings``): one line
    per request, its ``Format`` with the ``$context`` variables filled in, written to a
    log group."""

    group: str  # the log group's name
    format: str


@dataclass(frozen=True)
class ApiSpec:
    logical_id: str
    kind: ApiKind
    stage: str
    authorizers: tuple[AuthorizerSpec, ...] = ()
    default_authorizer: str | None = None  # Auth.DefaultAuthorizer (a name, never NONE)
    # Lambda authorizers whose function is not the template's: not run (a warning)
    skipped_authorizers: tuple[str, ...] = ()
    cors: CorsSpec | None = None
    stage_variables: tuple[tuple[str, str], ...] = ()  # Variables / StageVariables
    gateway_responses: tuple[tuple[str, GatewayResponseSpec], ...] = ()
    # REST: SAM's Auth.ApiKeyRequired, every method requires an API key (an event's
    # ``Auth: {ApiKeyRequired: false}`` opts its route out)
    api_key_required: bool = False
    # REST: SAM's Auth.UsagePlan.CreateUsagePlan when it makes one (PER_API or SHARED)
    usage_plan: Literal["PER_API", "SHARED"] | None = None
    # REST: that usage plan's Quota and Throttle (None: unlimited)
    usage_limits: UsageLimits | None = None
    # REST: its Models (name, JSON schema as JSON text), for its methods' RequestModel
    models: tuple[tuple[str, str], ...] = ()
    # REST: ApiKeySourceType; canaria reads keys from the x-api-key header only
    api_key_source: Literal["HEADER", "AUTHORIZER"] = "HEADER"
    access_log: AccessLogSpec | None = None  # its stage's access logs

    def authorizer(self, name: str) -> AuthorizerSpec | None:
        if name == IAM_AUTHORIZER:
            return iam_authorizer(self.kind)
        return next((a for a in self.authorizers if a.name == name), None)


@dataclass(frozen=True)
class WebSocketRoute:
    """One route of a WebSocket API whose integration is a Lambda proxy to a function of
    the template (an entry of a SAM API's ``Routes``, or an ``AWS::ApiGatewayV2::Route``
    → ``Integration``)."""

    key: str  # "$connect", "$disconnect", "$default", or a value of the selection expression
    function: str  # function logical id
    # ``RouteResponseSelectionExpression: $default`` (or an ``AWS::ApiGatewayV2::RouteResponse``
    # with that key): the function's answer is sent back to the client on its connection
    two_way: bool = False
    # ``$connect`` only: a Lambda ``REQUEST`` authorizer run before the route's function
    authorizer: AuthorizerSpec | None = None
    # an integration that is not a Lambda proxy (an AWS service, mock, HTTP, a function
    # with mapping templates); ``function`` is then its function or ""
    integration: IntegrationSpec | None = None


@dataclass(frozen=True)
class WebSocketApiSpec:
    """An ``AWS::Serverless::WebSocketApi``, or an ``AWS::ApiGatewayV2::Api`` with
    ``ProtocolType: WEBSOCKET``, served at ``ws://<gateway>/<stage>``."""

    logical_id: str
    stage: str  # its StageName (SAM's: "default" when not written)
    # RouteSelectionExpression: "$request.body.action" (a JSON path into each message)
    selection: str
    routes: tuple[WebSocketRoute, ...]
    stage_variables: tuple[tuple[str, str], ...] = ()

    def route(self, key: str) -> WebSocketRoute | None:
        return next((r for r in self.routes if r.key == key), None)


@dataclass(frozen=True)
class EsbuildOptions:
    """``Metadata: {BuildMethod: esbuild}``: how ``sam build`` bundles a Node.js function's
    code (TypeScript among others) before it runs; part of its artifact's digest."""

    entry_points: tuple[str, ...]  # files in CodeUri, with their extension
    flags: tuple[str, ...]  # esbuild's command-line options from BuildProperties


@dataclass(frozen=True)
class DurableSpec:
    """A function's ``DurableConfig``: each of its invocations starts a durable execution
    (``canaria.durable``) that may run for ``execution_timeout_s`` and is kept
    ``retention_days`` after it ends."""

    execution_timeout_s: int
    retention_days: int = 14


@dataclass(frozen=True)
class FunctionUrlSpec:
    """A function's ``FunctionUrlConfig``: canaria serves it on a port of its own."""

    auth_type: str = "NONE"  # NONE | AWS_IAM (requests signed by keys canaria issued)
    invoke_mode: str = "BUFFERED"  # BUFFERED | RESPONSE_STREAM (answered buffered)
    cors: CorsSpec | None = None  # applied as an HTTP API's CorsConfiguration


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # logical id; also the function name canaria uses
    config: FunctionConfig
    auto_publish_alias: str | None = None
    code_sha256: str | None = None  # AutoPublishCodeSha256
    deployment_preference: DeploymentPreference | None = None
    routes: tuple[RouteSpec, ...] = ()
    line: int | None = None  # where the resource starts in its template
    build: EsbuildOptions | None = None  # bundled with esbuild first, as `sam build` does
    layers: tuple[LayerSpec, ...] = ()  # the template's layers it names, in its order
    url: FunctionUrlSpec | None = None  # FunctionUrlConfig
    inline: InlineCode | None = None  # InlineCode (then config.code_uri is "")
    durable: DurableSpec | None = None  # DurableConfig
    log_group: str | None = None  # LoggingConfig.LogGroup; None: /aws/lambda/<name>
    image: ImageBuild | None = None  # PackageType Image: built from its Dockerfile


@dataclass(frozen=True)
class ImageBuild:
    """A container image function's build, as ``sam build`` reads it from the function's
    ``Metadata`` (``canaria.dockerfiles`` reads the Dockerfile, ``canaria.runtime.images``
    runs its steps without Docker); the function's runtime, handler and environment come
    from it."""

    context: str  # DockerContext: an absolute directory
    dockerfile: str  # the Dockerfile's absolute path
    text: str  # its content when the template was loaded: what is built
    build_args: tuple[tuple[str, str], ...] = ()  # DockerBuildArgs
    target: str | None = None  # DockerBuildTarget
    workdir: str | None = None  # ImageConfig.WorkingDirectory: where the code is


@dataclass(frozen=True)
class InlineCode:
    """A function's ``InlineCode``: Lambda writes it to one file, ``index.py`` or
    ``index.js`` by runtime (CloudFormation's ``Code.ZipFile``)."""

    file: str
    text: str


@dataclass(frozen=True)
class MetricStatSpec:
    """One metric and how to read it: a metric math alarm's ``MetricStat``."""

    namespace: str  # AWS/Lambda, or a namespace the application publishes
    metric_name: str
    dimensions: Mapping[str, str]
    period_s: int
    statistic: str | None = None
    extended_statistic: str | None = None


@dataclass(frozen=True)
class MetricQuerySpec:
    """An entry of a metric math alarm's ``Metrics``: a metric or an expression."""

    id: str
    stat: MetricStatSpec | None = None
    expression: str | None = None
    return_data: bool = True
    label: str = ""


@dataclass(frozen=True)
class AlarmSpec:
    """A CloudWatch alarm: on one metric (AWS/Lambda's or one the application publishes),
    or on a metric math expression (``queries``; then ``metric_name`` is empty)."""

    name: str
    metric_name: str  # Invocations | Errors | Throttles | Duration | ConcurrentExecutions
    dimensions: Mapping[str, str]  # FunctionName, Resource ("fn:alias"), ExecutedVersion
    period_s: int
    evaluation_periods: int
    threshold: float
    comparison_operator: str
    statistic: str | None = None  # Sum | Average | Minimum | Maximum | SampleCount
    extended_statistic: str | None = None  # "p99", "p99.9"
    datapoints_to_alarm: int | None = None
    treat_missing_data: str = "missing"  # missing | notBreaching | breaching | ignore
    namespace: str = "AWS/Lambda"
    queries: tuple[MetricQuerySpec, ...] = ()


@dataclass(frozen=True)
class MetricTransformationSpec:
    """What a metric filter publishes for a matching event."""

    namespace: str
    name: str
    value: str  # a number, or a selector of the event: "$.latency", "$size"
    default_value: float | None = None
    dimensions: Mapping[str, str] = field(default_factory=dict)  # name -> selector


@dataclass(frozen=True)
class MetricFilterSpec:
    """An ``AWS::Logs::MetricFilter`` on a function's log group."""

    logical_id: str
    function: str  # the function whose log group it filters (logical id)
    pattern: str
    transformations: tuple[MetricTransformationSpec, ...]


@dataclass(frozen=True)
class LogSubscriptionSpec:
    """A CloudWatch Logs subscription filter on a function's log group that delivers to a
    function or a Firehose delivery stream of the template: an
    ``AWS::Logs::SubscriptionFilter``, or SAM's ``CloudWatchLogs`` event."""

    name: str  # the filter's name, as the events it delivers carry it
    group: str  # the log group's name, as the events carry it
    source: str  # the function writing to that group (logical id)
    pattern: str
    destination: str  # the function invoked (logical id), through its alias
    delivery_stream: str | None = None  # else: the delivery stream's ARN each batch is put to


@dataclass(frozen=True)
class DeploymentConfigSpec:
    """A custom AWS::CodeDeploy::DeploymentConfig, or canaria's own step list."""

    name: str
    kind: Literal["canary", "linear", "all_at_once", "steps"]
    percentage: int = 0
    interval_minutes: int = 0
    steps: tuple[Mapping[str, Any], ...] = ()  # canaria step lists (raw, validated by controller)


@dataclass(frozen=True)
class TableSpec:
    logical_id: str
    table_name: str
    definition: Mapping[str, Any]  # CreateTable request body (KeySchema, AttributeDefinitions, ...)


@dataclass(frozen=True)
class ExecutionLogging:
    """A state machine's ``LoggingConfiguration`` (SAM: ``Logging``): which history
    events its executions write to a log group, and whether with their data."""

    group: str  # the log group's name
    level: Literal["ALL", "ERROR", "FATAL"]
    include_data: bool = False


@dataclass(frozen=True)
class StateMachineSpec:
    logical_id: str
    name: str
    definition: Mapping[str, Any]  # ASL with DefinitionSubstitutions applied
    type: str = "STANDARD"
    logging: ExecutionLogging | None = None


@dataclass(frozen=True)
class LogGroupSpec:
    """An ``AWS::Logs::LogGroup`` of the template (and its ``AWS::Logs::LogStream``s)."""

    logical_id: str
    name: str
    retention_days: int | None = None  # RetentionInDays; None: kept for ever
    streams: tuple[str, ...] = ()


@dataclass(frozen=True)
class SkippedResource:
    logical_id: str
    type: str
    reason: str


@dataclass(frozen=True)
class StackOutput:
    """One of the template's ``Outputs`` (its ``Condition`` held), resolved."""

    key: str
    value: str
    description: str | None = None
    export_name: str | None = None  # Export.Name


@dataclass(frozen=True)
class StackResource:
    """One of the template's resources (its ``Condition`` held), as the stack lists it."""

    logical_id: str
    type: str
    physical_id: str  # what ``!Ref`` gives; a function's declared FunctionName, else its id


@dataclass(frozen=True)
class StackSpec:
    """The stack as CloudFormation's ``DescribeStacks`` shows it."""

    name: str  # AWS::StackName: samconfig.toml's stack_name, else the template's folder
    description: str | None = None
    parameters: tuple[tuple[str, str], ...] = ()  # (key, value), a NoEcho value as ****
    outputs: tuple[StackOutput, ...] = ()
    resources: tuple[StackResource, ...] = ()  # in the template's order


@dataclass(frozen=True)
class Application:
    template_path: str
    functions: Mapping[str, FunctionSpec]
    apis: Mapping[str, ApiSpec] = field(default_factory=dict)
    alarms: Mapping[str, AlarmSpec] = field(default_factory=dict)
    metric_filters: tuple[MetricFilterSpec, ...] = ()
    log_subscriptions: tuple[LogSubscriptionSpec, ...] = ()
    # each API (logical id) -> ("rest", its ApiName) or ("http", its ApiId): what its
    # AWS/ApiGateway metrics are published by
    api_labels: Mapping[str, tuple[Literal["rest", "http"], str]] = field(default_factory=dict)
    deployment_configs: Mapping[str, DeploymentConfigSpec] = field(default_factory=dict)
    tables: Mapping[str, TableSpec] = field(default_factory=dict)
    state_machines: Mapping[str, StateMachineSpec] = field(default_factory=dict)
    # S3, SQS, SNS, SSM, Secrets Manager, EventBridge, Kinesis, Cognito resources, by logical
    # id, in the order they are created (what they refer to first)
    services: Mapping[str, ServiceResource] = field(default_factory=dict)
    event_sources: tuple[EventSource, ...] = ()  # the queues and streams canaria reads
    pipes: Mapping[str, PipeSpec] = field(default_factory=dict)  # by logical id
    # Firehose delivery streams, by logical id
    delivery_streams: Mapping[str, DeliveryStreamSpec] = field(default_factory=dict)
    websockets: Mapping[str, WebSocketApiSpec] = field(default_factory=dict)  # by logical id
    graphql_apis: Mapping[str, GraphQLApiSpec] = field(default_factory=dict)  # by logical id
    # Application Load Balancers' listeners, by logical id (each served on a port of its own)
    listeners: Mapping[str, ListenerSpec] = field(default_factory=dict)
    # API methods that invoke no function of the template: AWS service, mock and HTTP
    # integrations (a function's own routes are on its ``FunctionSpec``)
    integration_routes: tuple[RouteSpec, ...] = ()
    # a function's declared ``FunctionName`` → its logical id: the name code that calls
    # Lambda by name uses (canaria knows functions by logical id)
    function_names: Mapping[str, str] = field(default_factory=dict)
    schedules: tuple[ScheduledInvocation, ...] = ()  # rate / cron / at schedules it fires
    log_groups: Mapping[str, LogGroupSpec] = field(default_factory=dict)  # by group name
    api_keys: Mapping[str, ApiKeySpec] = field(default_factory=dict)  # by logical id
    skipped: tuple[SkippedResource, ...] = ()
    warnings: tuple[str, ...] = ()
    parameters: Mapping[str, str] = field(default_factory=dict)
    stack: StackSpec | None = None  # its name, description, parameters and Outputs

    @property
    def routes(self) -> tuple[RouteSpec, ...]:
        return (
            *(r for f in self.functions.values() for r in f.routes),
            *self.integration_routes,
        )

    def function_named(self, name: str) -> str:
        """The logical id of the function ``name`` names (a logical id, or a declared
        ``FunctionName``); ``name`` itself when it names none."""
        return name if name in self.functions else self.function_names.get(name, name)
