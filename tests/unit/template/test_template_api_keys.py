"""API keys and usage plans: CloudFormation's ApiKey / UsagePlan / UsagePlanKey resources
and SAM's ``Auth.ApiKeyRequired`` / ``Auth.UsagePlan``, read into the keys each REST
method that requires one accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from canaria.models import ApiKeySpec, Application, RouteSpec, UsageLimits
from canaria.template import load
from canaria.template.api_keys import api_key_id
from canaria.template.usage_plans import for_method
from tests.unit.template.template_helpers import fails, function, line_of, resources, write

LAMBDA_PATH = "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions"
URI = f"!Sub '{LAMBDA_PATH}/${{Fn.Arn}}/invocations'"


def generated(logical_id: str) -> str:
    """What the server's keyring would give (any stable function of the logical id)."""
    return f"generated-{logical_id}".ljust(40, "0")


def loaded(path: str, **kwargs: object) -> Application:
    return load(path, api_key_value=generated, **kwargs)  # type: ignore[arg-type]


def by_path(app: Application) -> dict[tuple[str, str], RouteSpec]:
    return {(r.method, r.path): r for r in app.routes}


# The aws-samples serverless-patterns "apigw-api-key" application, as it is written there
# (a RestApi, a method with ApiKeyRequired, a usage plan naming !Ref Stage, a key with
# only Enabled, a UsagePlanKey), plus an open method.
CFN = f"""\
  AppApi:
    Type: AWS::ApiGateway::RestApi
    Properties: {{Name: apigw-api-key}}
  RootMethodGet:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref AppApi
      ResourceId: !GetAtt AppApi.RootResourceId
      HttpMethod: GET
      AuthorizationType: NONE
      ApiKeyRequired: True
      Integration: {{Type: AWS_PROXY, IntegrationHttpMethod: POST, Uri: {URI}}}
  Open:
    Type: AWS::ApiGateway::Resource
    Properties: {{RestApiId: !Ref AppApi, ParentId: !GetAtt AppApi.RootResourceId, PathPart: open}}
  OpenGet:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref AppApi
      ResourceId: !Ref Open
      HttpMethod: GET
      AuthorizationType: NONE
      ApiKeyRequired: false
      Integration: {{Type: AWS_PROXY, IntegrationHttpMethod: POST, Uri: {URI}}}
  UsagePlan:
    Type: AWS::ApiGateway::UsagePlan
    Properties:
      ApiStages:
        - ApiId: !Ref AppApi
          Stage: !Ref Stage
  ApiKey:
    Type: AWS::ApiGateway::ApiKey
    Properties:
      Enabled: True
  UsagePlanKey:
    Type: AWS::ApiGateway::UsagePlanKey
    Properties:
      KeyId: !Ref ApiKey
      KeyType: API_KEY
      UsagePlanId: !Ref UsagePlan
  Deployment:
    Type: AWS::ApiGateway::Deployment
    DependsOn: [RootMethodGet]
    Properties:
      RestApiId: !Ref AppApi
  Stage:
    Type: AWS::ApiGateway::Stage
    Properties:
      StageName: Prod
      RestApiId: !Ref AppApi
      DeploymentId: !Ref Deployment
"""


def cfn(tmp_path: Path, *extra: str, base: str = CFN) -> str:
    return write(tmp_path, resources(base, function("Fn"), *extra))


def test_the_patterns_generated_key_is_the_one_its_method_accepts(tmp_path: Path) -> None:
    app = loaded(cfn(tmp_path))
    key = app.api_keys["ApiKey"]
    assert key == ApiKeySpec(
        "ApiKey",
        api_key_id("ApiKey"),
        "app-ApiKey",  # CloudFormation's name: the stack's, then the logical id
        generated("ApiKey"),
        True,
        (("AppApi", "Prod"),),  # !Ref Stage is the stage's name, as on AWS
        generated=True,
    )
    assert len(key.id) == 10 and key.id.isalnum() and key.id == key.id.lower()
    routes = by_path(app)
    assert routes["GET", "/"].api_keys == ((generated("ApiKey"), key.id),)
    assert routes["GET", "/open"].api_keys is None  # ApiKeyRequired: false
    assert not [w for w in app.warnings if "API key" in w or "usage plan" in w], app.warnings


def test_without_a_generator_a_generated_key_has_no_value_and_no_warning(tmp_path: Path) -> None:
    app = load(cfn(tmp_path))  # as `canaria validate` loads it
    assert app.api_keys["ApiKey"].value is None
    assert by_path(app)["GET", "/"].api_keys == ()
    assert not [w for w in app.warnings if "refuse every request" in w], app.warnings


def test_a_written_value_name_and_stage_keys(tmp_path: Path) -> None:
    base = CFN.replace(
        "      Enabled: True\n",
        "      Enabled: 'true'\n"
        "      Name: partner\n"
        "      Value: a-value-of-twenty-chars-or-more\n"
        "      StageKeys: [{RestApiId: !Ref AppApi, StageName: Prod}]\n",
    ).replace("      KeyId: !Ref ApiKey\n", "      KeyId: !GetAtt ApiKey.APIKeyId\n")
    app = loaded(cfn(tmp_path, base=base))
    key = app.api_keys["ApiKey"]
    assert (key.name, key.value, key.enabled, key.generated, key.stages) == (
        "partner",
        "a-value-of-twenty-chars-or-more",
        True,
        False,
        (("AppApi", "Prod"),),  # named twice (StageKeys and the plan), kept once
    )
    assert by_path(app)["GET", "/"].api_keys == (("a-value-of-twenty-chars-or-more", key.id),)


def test_stage_keys_alone_associate_a_key_with_a_stage(tmp_path: Path) -> None:
    base = CFN.replace(
        "      Enabled: True\n",
        "      Enabled: true\n      StageKeys: [{RestApiId: !Ref AppApi, StageName: !Ref Stage}]\n",
    )
    second = """\
  Spare:
    Type: AWS::ApiGateway::ApiKey
    Properties:
      Enabled: true
      StageKeys: [{RestApiId: !Ref AppApi, StageName: Prod}]
"""
    app = loaded(cfn(tmp_path, second, base=base))
    ids = {k: s.id for k, s in app.api_keys.items()}
    assert by_path(app)["GET", "/"].api_keys == (
        (generated("ApiKey"), ids["ApiKey"]),
        (generated("Spare"), ids["Spare"]),
    )


def test_disabled_keys_and_keys_in_no_plan_are_accepted_nowhere(tmp_path: Path) -> None:
    base = CFN.replace("      Enabled: True\n", "      Enabled: false\n")
    extra = """\
  Forgotten:
    Type: AWS::ApiGateway::ApiKey
    Properties: {Enabled: true, Value: forgotten-key-value-0123456789}
  Unset:
    Type: AWS::ApiGateway::ApiKey
    Properties: {Value: unset-key-value-0123456789}
"""
    path = cfn(tmp_path, extra, base=base)
    app = loaded(path)
    assert not app.api_keys["ApiKey"].enabled
    assert not app.api_keys["Unset"].enabled  # CloudFormation's Enabled defaults to false
    assert by_path(app)["GET", "/"].api_keys == ()
    warnings = "\n".join(app.warnings)
    line = line_of(path, "  Forgotten:")
    assert f"template.yaml:{line}: Resources.Forgotten: this API key is in no usage plan" in (
        warnings
    )
    assert "Resources.Unset: this API key has no Enabled, which is false in CloudFormation" in (
        warnings
    )
    assert (
        "Resources.AppApi: 1 method(s) require an API key, and no enabled key is associated "
        "with its stage Prod" in warnings
    )


def test_usage_plan_limits_reach_the_methods_and_other_stages_are_warnings(
    tmp_path: Path,
) -> None:
    base = CFN.replace(
        "          Stage: !Ref Stage\n",
        "          Stage: !Ref Stage\n"
        "          Throttle: {/GET: {BurstLimit: 1, RateLimit: 1}}\n"
        "        - {ApiId: !Ref AppApi, Stage: Dev}\n"
        "        - {ApiId: abc123defg, Stage: Prod}\n"
        "      Quota: {Limit: 5, Period: DAY}\n",
    )
    app = loaded(cfn(tmp_path, base=base))
    assert app.api_keys["ApiKey"].stages == (("AppApi", "Prod"),)
    warnings = "\n".join(app.warnings)
    assert "not applied" not in warnings
    route = by_path(app)["GET", "/"]
    key_id = app.api_keys["ApiKey"].id
    assert route.api_key_limits == (
        (key_id, UsageLimits("UsagePlan", 1.0, 1, 5, "DAY", 0, "/GET")),
    )
    assert "ApiStages[1]: stage 'Dev' of AppApi is not the one canaria serves ('Prod')" in warnings
    assert "ApiStages[2]: ApiId 'abc123defg' is not a REST API canaria serves" in warnings


@pytest.mark.parametrize(
    ("old", "new", "prop", "message"),
    [
        (
            "      KeyId: !Ref ApiKey\n",
            "      KeyId: abcdefghij\n",
            "Resources.UsagePlanKey.Properties.KeyId",
            "KeyId 'abcdefghij' names no AWS::ApiGateway::ApiKey of this template",
        ),
        (
            "      UsagePlanId: !Ref UsagePlan\n",
            "      UsagePlanId: !Ref ApiKey\n",
            "Resources.UsagePlanKey.Properties.UsagePlanId",
            "UsagePlanId 'ApiKey' names no AWS::ApiGateway::UsagePlan of this template",
        ),
        (
            "      KeyType: API_KEY\n",
            "      KeyType: SECRET\n",
            "Resources.UsagePlanKey.Properties.KeyType",
            "unknown KeyType 'SECRET'",
        ),
        (
            "      Enabled: True\n",
            "      Enabled: True\n      Value: short\n",
            "Resources.ApiKey.Properties.Value",
            "an API key's Value must be 20 to 128 characters",
        ),
        (
            "      Enabled: True\n",
            "      Enabled: True\n      Stages: [Prod]\n",
            "Resources.ApiKey.Properties.Stages",
            "unknown property 'Stages'",
        ),
        (
            "          Stage: !Ref Stage\n",
            "          Stage: !Ref Stage\n        - {ApiId: !Ref AppApi}\n",
            "Resources.UsagePlan.Properties.ApiStages[1]",
            "Stage is required here",
        ),
    ],
)
def test_bad_keys_and_usage_plans_are_refused_where_they_are(
    tmp_path: Path, old: str, new: str, prop: str, message: str
) -> None:
    assert old in CFN
    path = cfn(tmp_path, base=CFN.replace(old, new, 1))
    err = fails(path)
    assert err.prop == prop, err
    assert message in err.message, err
    assert err.line is not None and err.file == path


def test_two_keys_of_one_value_are_refused(tmp_path: Path) -> None:
    extra = """\
  First:
    Type: AWS::ApiGateway::ApiKey
    Properties: {Enabled: true, Value: the-same-value-0123456789}
  Second:
    Type: AWS::ApiGateway::ApiKey
    Properties: {Enabled: true, Value: the-same-value-0123456789}
"""
    path = cfn(tmp_path, extra)
    err = fails(path)
    assert err.prop == "Resources.Second.Properties.Value"
    assert "API keys First and Second have the same Value" in err.message


def test_an_authorizer_key_source_is_not_applied(tmp_path: Path) -> None:
    base = CFN.replace(
        "    Properties: {Name: apigw-api-key}\n",
        "    Properties: {Name: apigw-api-key, ApiKeySourceType: AUTHORIZER}\n",
    )
    app = loaded(cfn(tmp_path, base=base))
    assert by_path(app)["GET", "/"].api_keys is None
    assert any("its ApiKeySourceType AUTHORIZER" in w for w in app.warnings), app.warnings


# ---- SAM's Auth ---------------------------------------------------------------------------


def sam_api(name: str, auth: str, extra: str = "") -> str:
    text = f"  {name}:\n    Type: AWS::Serverless::Api\n    Properties:\n      StageName: Prod\n"
    text += extra
    return text + "      Auth:\n" + "".join(f"        {line}\n" for line in auth.splitlines())


def event(name: str, api: str, path: str, auth: str = "") -> str:
    text = f"  {name}:\n    Type: Api\n    Properties:\n      RestApiId: !Ref {api}\n"
    text += f"      Path: {path}\n      Method: get\n"
    return text + (f"      Auth: {auth}\n" if auth else "")


def sam(tmp_path: Path, *apis: str, events: tuple[str, ...], extra: str = "") -> str:
    fn = function("Fn", "Events:\n" + "".join(events))
    return write(tmp_path, resources(*apis, fn, extra))


def test_a_per_api_usage_plan_generates_the_apis_key(tmp_path: Path) -> None:
    path = sam(
        tmp_path,
        sam_api("MyApi", "ApiKeyRequired: true\nUsagePlan: {CreateUsagePlan: PER_API}"),
        sam_api("Other", "ApiKeyRequired: false"),
        events=(
            event("Keyed", "MyApi", "/keyed"),
            event("Open", "MyApi", "/open", "{ApiKeyRequired: false}"),
            event("Elsewhere", "Other", "/elsewhere", "{ApiKeyRequired: true}"),
        ),
    )
    app = loaded(path)
    key = app.api_keys["MyApiApiKey"]  # SAM's name for it
    assert key == ApiKeySpec(
        "MyApiApiKey",
        api_key_id("MyApiApiKey"),
        "app-MyApiApiKey",
        generated("MyApiApiKey"),
        True,
        (("MyApi", "Prod"),),
        generated=True,
    )
    routes = by_path(app)
    assert routes["GET", "/keyed"].api_keys == ((key.value, key.id),)
    assert routes["GET", "/open"].api_keys is None  # the event opts out
    assert routes["GET", "/elsewhere"].api_keys == ()  # Other's stage has no key
    assert any("Resources.Other: 1 method(s) require an API key" in w for w in app.warnings), (
        app.warnings
    )
    assert app.apis["MyApi"].usage_plan == "PER_API" and app.apis["MyApi"].api_key_required


def test_a_shared_usage_plan_has_one_key_for_every_api_that_shares_it(tmp_path: Path) -> None:
    shared = "ApiKeyRequired: true\nUsagePlan: {CreateUsagePlan: SHARED}"
    path = sam(
        tmp_path,
        sam_api("A", shared),
        sam_api("B", shared),
        sam_api("C", "ApiKeyRequired: true\nUsagePlan: {CreateUsagePlan: NONE}"),
        events=(event("OnA", "A", "/a"), event("OnB", "B", "/b"), event("OnC", "C", "/c")),
    )
    app = loaded(path)
    assert list(app.api_keys) == ["ServerlessApiKey"]
    key = app.api_keys["ServerlessApiKey"]
    assert key.stages == (("A", "Prod"), ("B", "Prod"))
    routes = by_path(app)
    assert routes["GET", "/a"].api_keys == routes["GET", "/b"].api_keys == ((key.value, key.id),)
    assert routes["GET", "/c"].api_keys == ()  # NONE: no plan, so no key is valid


def test_sam_apis_in_a_cloudformation_usage_plan(tmp_path: Path) -> None:
    # aws-samples serverless-patterns "apigw-usage-plans" names SAM's generated stage,
    # "serverless-multi-tenant-api" writes !Ref MyApi.Stage
    plan = """\
  Plan:
    Type: AWS::ApiGateway::UsagePlan
    Properties:
      ApiStages:
        - {ApiId: !Ref MyApi, Stage: !Ref MyApiProdStage}
        - {ApiId: !Ref Second, Stage: !Ref Second.Stage}
      UsagePlanName: DailyLimit
  Key:
    Type: AWS::ApiGateway::ApiKey
    Properties: {Enabled: true}
  Link:
    Type: AWS::ApiGateway::UsagePlanKey
    Properties: {KeyId: !Ref Key, KeyType: API_KEY, UsagePlanId: !Ref Plan}
"""
    path = sam(
        tmp_path,
        sam_api("MyApi", "ApiKeyRequired: true"),
        sam_api("Second", "ApiKeyRequired: true").replace("StageName: Prod", "StageName: v2"),
        events=(event("One", "MyApi", "/one"), event("Two", "Second", "/two")),
        extra=plan,
    )
    app = loaded(path)
    key = app.api_keys["Key"]
    assert key.stages == (("MyApi", "Prod"), ("Second", "v2"))
    routes = by_path(app)
    assert routes["GET", "/one"].api_keys == routes["GET", "/two"].api_keys


def test_the_cors_preflight_requires_the_key_unless_turned_off(tmp_path: Path) -> None:
    cors = "      Cors: \"'*'\"\n"
    path = sam(
        tmp_path,
        sam_api("Keyed", "ApiKeyRequired: true\nUsagePlan: {CreateUsagePlan: PER_API}", cors),
        sam_api(
            "Unkeyed",
            "ApiKeyRequired: true\nAddApiKeyRequiredToCorsPreflight: false\n"
            "UsagePlan: {CreateUsagePlan: PER_API}",
            cors,
        ),
        events=(event("A", "Keyed", "/on"), event("B", "Unkeyed", "/off")),
    )
    routes = by_path(loaded(path))
    on, off = routes["GET", "/on"], routes["GET", "/off"]
    assert on.cors is not None and off.cors is not None
    assert on.cors.preflight_api_keys == on.api_keys and on.api_keys
    assert off.cors.preflight_api_keys is None and off.api_keys


def test_the_implicit_api_takes_the_globals_auth(tmp_path: Path) -> None:
    body = (
        "Globals:\n  Api:\n    Auth:\n      ApiKeyRequired: true\n"
        "      UsagePlan: {CreateUsagePlan: PER_API, Throttle: {RateLimit: 5, BurstLimit: 5}}\n"
    )
    events = "Events:\n  Get:\n    Type: Api\n    Properties: {Path: /x, Method: get}\n"
    app = loaded(write(tmp_path, body + resources(function("Fn", events))))
    key = app.api_keys["ServerlessRestApiApiKey"]
    assert key.stages == (("ServerlessRestApi", "Prod"),)
    route = by_path(app)["GET", "/x"]
    assert route.api_keys == ((key.value, key.id),)
    limits = UsageLimits("ServerlessRestApiUsagePlan", 5.0, 5)
    assert route.api_key_limits == ((key.id, limits),)
    assert not any("not applied" in w for w in app.warnings)


def test_an_openapi_definitions_api_key_security(tmp_path: Path) -> None:
    definition = f"""\
      DefinitionBody:
        swagger: '2.0'
        securityDefinitions:
          api_key: {{type: apiKey, name: x-api-key, in: header}}
        paths:
          /keyed:
            get:
              security: [{{api_key: []}}]
              x-amazon-apigateway-integration:
                {{type: aws_proxy, httpMethod: POST, uri: {URI}}}
          /open:
            get:
              x-amazon-apigateway-integration:
                {{type: aws_proxy, httpMethod: POST, uri: {URI}}}
"""
    api = sam_api("Defined", "UsagePlan: {CreateUsagePlan: PER_API}", definition)
    app = loaded(write(tmp_path, resources(api, function("Fn"))))
    key = app.api_keys["DefinedApiKey"]
    routes = by_path(app)
    assert routes["GET", "/keyed"].api_keys == ((key.value, key.id),)
    assert routes["GET", "/open"].api_keys is None


def test_http_apis_have_no_api_keys(tmp_path: Path) -> None:
    http = """\
  Http:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Jwt
        Authorizers:
          Jwt:
            JwtConfiguration: {issuer: "https://issuer.example", audience: [a]}
            IdentitySource: $request.header.Authorization
"""
    events = (
        "Events:\n  Get:\n    Type: HttpApi\n    Properties:\n      ApiId: !Ref Http\n"
        "      Path: /x\n      Method: get\n"
        "      Auth: {Authorizer: NONE, ApiKeyRequired: true}\n"
    )
    app = loaded(write(tmp_path, resources(http, function("Fn", events))))
    assert by_path(app)["GET", "/x"].api_keys is None
    assert any(
        "Events.Get.Properties.Auth.ApiKeyRequired is ignored: HTTP APIs have no API keys" in w
        for w in app.warnings
    ), app.warnings


def test_a_bad_create_usage_plan_is_refused(tmp_path: Path) -> None:
    path = sam(
        tmp_path,
        sam_api("MyApi", "UsagePlan: {CreateUsagePlan: EVERYONE}"),
        events=(event("A", "MyApi", "/a"),),
    )
    err = fails(path)
    assert "CreateUsagePlan" in str(err), err


def test_a_methods_throttle_is_found_by_its_resource_path() -> None:
    base = UsageLimits("Plan", 15.0, 30, 50)
    post = UsageLimits("Plan", 5.0, 10, 50, method="/plantest/POST")
    anything = UsageLimits("Plan", 1.0, 1, 50, method="*/*")
    methods = {"/plantest/POST": post}
    # SAM's "Path: /plantest/" is the resource /plantest, as apigw-usage-plans writes it
    assert for_method(base, methods, "/plantest/", "POST") == post
    assert for_method(base, methods, "/plantest", "GET") == base
    assert for_method(base, {"*/*": anything}, "/", "GET") == anything
    assert for_method(None, {}, "/x", "GET") is None
