"""AWS::Serverless::Function: configuration, Globals, events, DeploymentPreference, judge."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from canaria import pythons, runtimes
from canaria.models import CorsSpec, DurableSpec, FunctionUrlSpec, InlineCode, LayerSpec
from canaria.template import load
from tests.unit.template.template_helpers import PY, fails, function, line_of, resources, write

ALARM = """\
  ErrorsAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/Lambda
      MetricName: Errors
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
"""


def test_configuration(tmp_path: Path) -> None:
    fn = function(
        extra="""\
Timeout: 30
MemorySize: 512
ReservedConcurrentExecutions: 2
AutoPublishAlias: live
AutoPublishCodeSha256: abc
Environment:
  Variables:
    S: text
    N: 5
    F: 1.5
    B: true
Policies: [AWSLambdaBasicExecutionRole]
Tracing: Active
Architectures: [x86_64]
Layers: [!Ref SomeLayer]
Description: unused
"""
    )
    layer = (
        "  SomeLayer:\n    Type: AWS::Serverless::LayerVersion\n    Properties: {ContentUri: src}\n"
    )
    path = write(tmp_path, resources(fn, layer))
    app = load(path)
    spec = app.functions["Fn"]
    assert spec.name == "Fn" and spec.line == line_of(path, "Fn:")
    c = spec.config
    assert c.handler == "app.handler" and c.runtime == PY
    assert c.code_uri == str(tmp_path / "app" / "src")
    assert c.timeout_s == 30.0 and c.memory_mb == 512 and c.reserved_concurrency == 2
    assert c.environment == {"S": "text", "N": "5", "F": "1.5", "B": "true"}
    assert spec.auto_publish_alias == "live" and spec.code_sha256 == "abc"
    assert spec.deployment_preference is None
    assert spec.layers == (LayerSpec("SomeLayer", str(tmp_path / "app" / "src")),)
    assert app.skipped == ()


def test_defaults_and_code_uri_default(tmp_path: Path) -> None:
    fn = function().replace("      CodeUri: src\n", "")
    spec = load(write(tmp_path, resources(fn))).functions["Fn"]
    assert spec.config.code_uri == str(tmp_path / "app")
    assert (spec.config.timeout_s, spec.config.memory_mb) == (3.0, 128)
    assert spec.config.reserved_concurrency is None and spec.auto_publish_alias is None


@pytest.mark.parametrize(
    ("line", "prop", "allowed"),
    [
        ("Timeout: 901", "Timeout", "an integer from 1 to 900"),
        ("Timeout: 0", "Timeout", "an integer from 1 to 900"),
        ("MemorySize: 64", "MemorySize", "an integer from 128 to 10240"),
        ("ReservedConcurrentExecutions: -1", "ReservedConcurrentExecutions", "an integer >= 0"),
        (
            "AutoPublishAlias: '123'",
            "AutoPublishAlias",
            "letters, digits, - and _, not only digits",
        ),
        ("AutoPublishAlias: a.b", "AutoPublishAlias", "letters, digits, - and _, not only digits"),
    ],
)
def test_bad_values(tmp_path: Path, line: str, prop: str, allowed: str) -> None:
    path = write(tmp_path, resources(function(extra=line + "\n")))
    err = fails(path)
    assert err.prop == f"Resources.Fn.Properties.{prop}"
    assert err.line == line_of(path, line.split(":")[0] + ":")
    assert err.allowed == allowed
    assert str(err).startswith(f"{path}:{err.line}: Resources.Fn.Properties.{prop}: ")


def test_unknown_property_lists_allowed(tmp_path: Path) -> None:
    path = write(tmp_path, resources(function(extra="Timout: 3\n")))
    err = fails(path)
    assert (
        "unknown property 'Timout'" in err.message and err.prop == "Resources.Fn.Properties.Timout"
    )
    # the closest name first, and a long list cut with how many more there are
    assert err.allowed is not None and err.allowed.startswith("Timeout, ")
    assert err.allowed.endswith(" more)") and len(err.allowed) < 400


@pytest.mark.parametrize("runtime", ["python2.7", "java21", "dotnet8", "nodejs", "provided.al3"])
def test_unsupported_runtime(tmp_path: Path, runtime: str) -> None:
    path = write(tmp_path, resources(function().replace(f"Runtime: {PY}", f"Runtime: {runtime}")))
    err = fails(path)
    assert err.prop == "Resources.Fn.Properties.Runtime" and err.allowed == runtimes.ALLOWED
    assert "python3.x" in err.allowed and "nodejs" in err.allowed and "provided" in err.allowed


@pytest.mark.skipif(runtimes.installed_node() is None, reason="needs node on PATH")
def test_nodejs_runtime_is_accepted_and_says_which_node_runs_another_major(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CANARIA_NODE_MODULES", str(tmp_path / "share" / "node_modules"))
    node = runtimes.installed_node()
    assert node is not None
    same = f"nodejs{node.major}.x"
    app = load(write(tmp_path, resources(function().replace(f"Runtime: {PY}", "Runtime: " + same))))
    assert app.functions["Fn"].config.runtime == same and not app.warnings
    # another line, not installed yet: installed from the npm registry at the first build
    other = f"nodejs{node.major + 2}.x"
    app = load(
        write(tmp_path, resources(function().replace(f"Runtime: {PY}", f"Runtime: {other}")))
    )
    assert any(
        other in w and "installed from the npm registry" in w and "canaria setup --node" in w
        for w in app.warnings
    ), app.warnings
    # a line canaria does not install runs on the node on PATH, and says so
    old = function().replace(f"Runtime: {PY}", "Runtime: nodejs16.x")
    app = load(write(tmp_path, resources(old)))
    assert any("nodejs16.x" in w and node.version in w for w in app.warnings), app.warnings
    # the older names (nodejs6.10, nodejs8.10) that AWS's own samples still use
    text = function().replace(f"Runtime: {PY}", "Runtime: nodejs8.10")
    app = load(write(tmp_path, resources(text)))
    assert app.functions["Fn"].config.runtime == "nodejs8.10"
    assert runtimes.bundles_sdk_v2("nodejs8.10") and not runtimes.bundles_sdk_v2("nodejs18.x")
    # Lambda no longer creates functions on them: the rehearsal says it will not deploy
    assert any("nodejs8.10 is deprecated by Lambda" in w for w in app.warnings), app.warnings
    kinds = ("nodejs16.x", "nodejs20.x", "python3.8", "python3.12", "provided.al2")
    assert [r for r in kinds if runtimes.retired(r)] == ["nodejs16.x", "python3.8"]
    assert not any("deprecated" in w for w in load(write(tmp_path, resources(function()))).warnings)


def test_a_python_version_this_machine_lacks_runs_on_canarias_and_says_so(
    tmp_path: Path,
) -> None:
    def warnings(runtime: str) -> list[str]:
        text = function().replace(f"Runtime: {PY}", f"Runtime: {runtime}")
        return list(load(write(tmp_path, resources(text))).warnings)

    assert not warnings(f"python{pythons.RUNNING}")
    (missing,) = warnings("python3.99")
    assert f"canaria runs it with the installed {runtimes.RUNNING_PYTHON}" in missing
    assert "this machine has no python3.99 on PATH, under pyenv or uv" in missing
    other = next((f"3.{n}" for n in (12, 13, 10) if f"3.{n}" != pythons.RUNNING), None)
    if other is not None and pythons.find(other) is not None:
        assert not warnings(f"python{other}")  # it runs on that Python


def test_nodejs_without_node_on_path_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    runtimes.installed_node.cache_clear()
    try:
        path = write(
            tmp_path, resources(function().replace(f"Runtime: {PY}", "Runtime: nodejs20.x"))
        )
        err = fails(path)
    finally:
        runtimes.installed_node.cache_clear()
    assert err.prop == "Resources.Fn.Properties.Runtime"
    assert "function Fn needs Node.js (nodejs20.x)" in err.message
    assert "install Node.js" in err.message


def test_provided_needs_an_executable_bootstrap(tmp_path: Path) -> None:
    path = write(tmp_path, resources(function().replace(f"Runtime: {PY}", "Runtime: provided.al2")))
    err = fails(path)
    assert err.prop == "Resources.Fn.Properties.Runtime" and "no 'bootstrap' file" in err.message
    code = Path(path).parent / "src"
    code.mkdir(exist_ok=True)
    (code / "bootstrap").write_text("#!/bin/sh\n")
    (code / "bootstrap").chmod(0o644)
    err = fails(path)
    assert "'bootstrap' in CodeUri is not executable" in err.message and "chmod +x" in err.message
    (code / "bootstrap").chmod(0o755)
    assert load(path).functions["Fn"].config.runtime == "provided.al2"


def test_a_missing_bootstrap_that_a_build_method_makes_says_to_build_first(
    tmp_path: Path,
) -> None:
    fn = function().replace(f"Runtime: {PY}", "Runtime: provided.al2023")
    fn = fn.replace("  Properties:", "  Metadata: {BuildMethod: go1.x}\n    Properties:")
    err = fails(write(tmp_path, resources(fn)))
    assert "no 'bootstrap' file" in err.message
    assert "BuildMethod go1.x is a build `sam build` runs" in err.message
    assert ".aws-sam/build/template.yaml" in err.message


def test_other_python_runtime_warns(tmp_path: Path) -> None:
    other = "python3.99"
    app = load(
        write(tmp_path, resources(function().replace(f"Runtime: {PY}", f"Runtime: {other}")))
    )
    assert app.functions["Fn"].config.runtime == other
    assert any("python3.99" in w and PY in w for w in app.warnings)


def test_a_container_image_is_refused(tmp_path: Path) -> None:
    fn = function(extra="PackageType: Image\nImageUri: repo:tag\n")
    fn = fn.replace("      CodeUri: src\n", "")
    assert "container image" in fails(write(tmp_path, resources(fn))).message


@pytest.mark.parametrize(("runtime", "file"), [(PY, "index.py"), ("nodejs20.x", "index.js")])
def test_inline_code_is_lambdas_index_file(tmp_path: Path, runtime: str, file: str) -> None:
    fn = function(extra="InlineCode: |\n  code line 1\n  code line 2\n")
    fn = fn.replace("      CodeUri: src\n", "").replace(f"Runtime: {PY}", f"Runtime: {runtime}")
    app = load(write(tmp_path, resources(fn.replace("app.handler", "index.handler"))))
    assert app.functions["Fn"].inline == InlineCode(file, "code line 1\ncode line 2\n")
    assert app.functions["Fn"].config.code_uri == ""
    assert not app.warnings
    # a handler in another module fails on Lambda too: said at once
    app = load(write(tmp_path, resources(fn)))
    assert any(f"Lambda writes InlineCode to {file}" in w for w in app.warnings)


def test_inline_code_for_a_custom_runtime_is_refused(tmp_path: Path) -> None:
    fn = function(extra="InlineCode: 'echo hi'\n").replace("      CodeUri: src\n", "")
    fn = fn.replace(f"Runtime: {PY}", "Runtime: provided.al2023")
    err = fails(write(tmp_path, resources(fn)))
    assert "InlineCode runs on Node.js and Python runtimes only" in err.message
    assert err.prop == "Resources.Fn.Properties.InlineCode"


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("missing", "does not exist"),
        ("s3://bucket/code.zip", "is in S3"),
        ("{Bucket: b, Key: k}", "names an S3 object"),
        ("/dev/null", "is neither a directory nor a file"),
    ],
)
def test_bad_code_uri(tmp_path: Path, uri: str, words: str) -> None:
    path = write(tmp_path, resources(function().replace("CodeUri: src", f"CodeUri: {uri}")))
    err = fails(path)
    assert words in err.message and err.prop == "Resources.Fn.Properties.CodeUri"


@pytest.mark.parametrize(
    "handler", ["../app.handler", "src/../../x/app.handler", "/tmp/x/app.handler"]
)
def test_a_handler_outside_code_uri(tmp_path: Path, handler: str) -> None:
    path = write(tmp_path, resources(function().replace("app.handler", handler)))
    err = fails(path)
    assert "outside CodeUri" in err.message and err.prop == "Resources.Fn.Properties.Handler"


@pytest.mark.parametrize("handler", ["app.handler", "src/app.handler", "a.b.handler", "x..y.h"])
def test_handlers_inside_code_uri(tmp_path: Path, handler: str) -> None:
    path = write(tmp_path, resources(function().replace("app.handler", handler)))
    assert load(path).functions["Fn"].config.handler == handler


def test_code_uri_may_be_a_zip_file(tmp_path: Path) -> None:
    import zipfile

    body = resources(
        function().replace("CodeUri: src", "CodeUri: ./handler.zip"),
        function("Native", extra="CodeUri: native.zip\n")
        .replace("      CodeUri: src\n", "")
        .replace(f"Runtime: {PY}", "Runtime: provided.al2023"),
    )
    path = Path(write(tmp_path, body))
    with zipfile.ZipFile(path.parent / "handler.zip", "w") as z:
        z.writestr("app.py", "def handler(e, c):\n    return 1\n")
    with zipfile.ZipFile(path.parent / "native.zip", "w") as z:
        z.writestr(zipfile.ZipInfo("README"), "no bootstrap here")
    err = fails(str(path))  # the native zip has no bootstrap
    assert "no 'bootstrap' file at the top of" in err.message
    assert err.prop == "Resources.Native.Properties.Runtime"
    with zipfile.ZipFile(path.parent / "native.zip", "w") as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        z.writestr(info, "#!/bin/sh\n")
    app = load(str(path))
    assert app.functions["Fn"].config.code_uri == str(path.parent / "handler.zip")


def test_missing_handler(tmp_path: Path) -> None:
    err = fails(write(tmp_path, resources(function().replace("      Handler: app.handler\n", ""))))
    assert "Handler is required" in err.message


def test_environment_value_must_be_scalar(tmp_path: Path) -> None:
    path = write(tmp_path, resources(function(extra="Environment:\n  Variables:\n    X: [1]\n")))
    err = fails(path)
    assert err.prop == "Resources.Fn.Properties.Environment.Variables.X"


def test_function_name_is_set_aside(tmp_path: Path) -> None:
    hook = function("Hook", extra="FunctionName: CodeDeployHook_pre\n")
    fn = function(
        extra="AutoPublishAlias: live\nDeploymentPreference:\n  Type: AllAtOnce\n"
        "  Hooks: {PreTraffic: CodeDeployHook_pre}\n"
    )
    app = load(write(tmp_path, resources(fn, hook)))
    assert set(app.functions) == {"Fn", "Hook"} and app.warnings == ()
    p = app.functions["Fn"].deployment_preference
    assert p is not None and p.pre_traffic_hook == "Hook"


# ---- Globals -----------------------------------------------------------------------------

GLOBALS = f"""\
Globals:
  Function:
    Runtime: {PY}
    Timeout: 10
    Handler: app.handler
    Environment:
      Variables:
        SHARED: g
        OVERRIDE: g
    Layers: [arn:aws:lambda:us-east-1:123456789012:layer:a:1]
    AutoPublishAlias: live
  HttpApi:
    CorsConfiguration: {{AllowOrigins: ["*"]}}
  Api:
    Cors: "'*'"
  SimpleTable:
    SSESpecification: {{SSEEnabled: true}}
"""


def test_globals_merge(tmp_path: Path) -> None:
    fn = """\
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Timeout: 20
      Environment:
        Variables:
          OVERRIDE: local
          OWN: mine
      Layers: [arn:aws:lambda:us-east-1:123456789012:layer:b:1]
  Plain:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
  Table:
    Type: AWS::Serverless::SimpleTable
"""
    app = load(write(tmp_path, GLOBALS + resources(fn)))
    spec = app.functions["Fn"]
    assert spec.config.timeout_s == 20.0 and spec.config.handler == "app.handler"
    assert spec.config.environment == {"SHARED": "g", "OVERRIDE": "local", "OWN": "mine"}
    assert spec.auto_publish_alias == "live"
    plain = app.functions["Plain"]
    assert plain.config.timeout_s == 10.0 and plain.config.environment["OVERRIDE"] == "g"
    assert app.tables["Table"].definition["SSESpecification"] == {"Enabled": True}


def test_globals_error_points_at_globals(tmp_path: Path) -> None:
    path = write(tmp_path, GLOBALS.replace("Timeout: 10", "Timeout: 5000") + resources(function()))
    err = fails(path)
    assert err.prop == "Globals.Function.Timeout" and err.line == line_of(path, "Timeout: 5000")


def test_globals_unknown_section_and_property(tmp_path: Path) -> None:
    err = fails(write(tmp_path, "Globals:\n  Functions:\n    Timeout: 3\n" + resources(function())))
    assert err.prop == "Globals.Functions" and err.allowed is not None and "Function" in err.allowed
    err = fails(write(tmp_path, "Globals:\n  Function:\n    Events: {}\n" + resources(function())))
    assert err.prop == "Globals.Function.Events" and err.allowed is not None


def test_ignore_globals(tmp_path: Path) -> None:
    fn = function().replace("  Type:", "  IgnoreGlobals: [Timeout]\n    Type:", 1)
    app = load(write(tmp_path, GLOBALS + resources(fn)))
    assert app.functions["Fn"].config.timeout_s == 3.0
    assert app.functions["Fn"].auto_publish_alias == "live"


# ---- events ------------------------------------------------------------------------------


def events(text: str) -> str:
    return "Events:\n" + textwrap.indent(textwrap.dedent(text), "  ")


def test_implicit_apis(tmp_path: Path) -> None:
    fn = function(
        extra=events(
            """\
            Get:
              Type: Api
              Properties: {Path: '/items/{id}', Method: get}
            Any:
              Type: HttpApi
              Properties: {Path: /any, Method: any}
            Default:
              Type: HttpApi
            Queue:
              Type: SQS
              Properties: {Queue: arn:aws:sqs:us-east-1:123456789012:q}
            """
        )
    )
    app = load(write(tmp_path, resources(fn)))
    routes = {(r.api_kind, r.method, r.path, r.api_id, r.stage) for r in app.functions["Fn"].routes}
    assert routes == {
        ("rest", "GET", "/items/{id}", "ServerlessRestApi", "Prod"),
        ("http", "ANY", "/any", "ServerlessHttpApi", "$default"),
        ("http", "ANY", "$default", "ServerlessHttpApi", "$default"),
    }
    assert set(app.apis) == {"ServerlessRestApi", "ServerlessHttpApi"}
    assert any("(SQS) is not polled" in w for w in app.warnings)  # the queue is not declared


def test_explicit_apis(tmp_path: Path) -> None:
    apis = """\
  Rest:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v1
      Cors: "'*'"
  Http:
    Type: AWS::Serverless::HttpApi
    Properties:
      StageName: live
"""
    fn = function(
        extra=events(
            """\
            A:
              Type: Api
              Properties: {Path: /a, Method: post, RestApiId: !Ref Rest}
            B:
              Type: HttpApi
              Properties: {Path: /b, Method: GET, ApiId: !Ref Http}
            """
        )
    )
    app = load(write(tmp_path, resources(fn, apis)))
    routes = {(r.method, r.path, r.api_id, r.stage) for r in app.functions["Fn"].routes}
    assert routes == {("POST", "/a", "Rest", "v1"), ("GET", "/b", "Http", "live")}
    assert app.apis["Rest"].kind == "rest" and app.apis["Http"].kind == "http"
    assert "ServerlessRestApi" not in app.apis


def test_event_api_must_be_an_api_of_the_right_kind(tmp_path: Path) -> None:
    http = "  Http:\n    Type: AWS::Serverless::HttpApi\n"
    fn = function(
        extra=events(
            "A:\n  Type: Api\n  Properties: {Path: /a, Method: get, RestApiId: !Ref Http}\n"
        )
    )
    path = write(tmp_path, resources(fn, http))
    err = fails(path)
    assert err.prop == "Resources.Fn.Properties.Events.A.Properties.RestApiId"
    assert "AWS::Serverless::Api" in err.message


def test_rest_api_needs_stage_name(tmp_path: Path) -> None:
    err = fails(write(tmp_path, resources(function(), "  Rest:\n    Type: AWS::Serverless::Api\n")))
    assert "StageName is required" in err.message and err.prop == "Resources.Rest.Properties"


@pytest.mark.parametrize(
    ("event", "words"),
    [
        ("A:\n  Type: Api\n  Properties: {Path: /a}\n", "Method is required"),
        ("A:\n  Type: HttpApi\n  Properties: {Path: a, Method: get}\n", "must start with '/'"),
        ("A:\n  Type: HttpApi\n  Properties: {Path: /a, Method: fetch}\n", "unknown method"),
        ("A:\n  Type: Apii\n", "unknown event type"),
    ],
)
def test_bad_events(tmp_path: Path, event: str, words: str) -> None:
    err = fails(write(tmp_path, resources(function(extra=events(event)))))
    assert (
        words in err.message
        and err.prop is not None
        and err.prop.startswith("Resources.Fn.Properties.Events.A")
    )


def test_duplicate_route(tmp_path: Path) -> None:
    ev = events("A:\n  Type: HttpApi\n  Properties: {Path: /a, Method: get}\n")
    err = fails(write(tmp_path, resources(function(extra=ev), function("Other", extra=ev))))
    assert "already served by Fn" in err.message


def test_a_function_url_is_read_with_its_auth_mode_and_cors(tmp_path: Path) -> None:
    fn = function(
        extra="FunctionUrlConfig: {AuthType: AWS_IAM, InvokeMode: RESPONSE_STREAM, "
        "Cors: {AllowOrigins: ['*']}}"
    )
    app = load(write(tmp_path, resources(fn)))
    assert app.functions["Fn"].url == FunctionUrlSpec(
        "AWS_IAM", "RESPONSE_STREAM", CorsSpec(("*",))
    )
    assert not app.warnings  # AWS_IAM is enforced, RESPONSE_STREAM streamed
    plain = load(write(tmp_path, resources(function(extra="FunctionUrlConfig: {AuthType: NONE}"))))
    assert plain.functions["Fn"].url == FunctionUrlSpec("NONE", "BUFFERED") and not plain.warnings


@pytest.mark.parametrize(
    ("config", "prop", "message"),
    [
        ("{AuthType: OPEN}", "FunctionUrlConfig.AuthType", "'OPEN' is not one of Lambda's"),
        ("{AuthType: NONE, InvokeMode: FAST}", "FunctionUrlConfig.InvokeMode", "'FAST'"),
        ("{InvokeMode: BUFFERED}", "FunctionUrlConfig", "AuthType"),
    ],
)
def test_a_wrong_function_url_config_is_named(
    tmp_path: Path, config: str, prop: str, message: str
) -> None:
    err = fails(write(tmp_path, resources(function(extra=f"FunctionUrlConfig: {config}"))))
    assert err.prop == f"Resources.Fn.Properties.{prop}" and message in err.detail


def test_payload_format_1_0_and_stage_variables_reach_the_routes(tmp_path: Path) -> None:
    apis = (
        "  Rest:\n    Type: AWS::Serverless::Api\n    Properties:\n      StageName: Prod\n"
        "      Variables: {table: orders, retries: 3}\n"
        "  Http:\n    Type: AWS::Serverless::HttpApi\n    Properties:\n"
        "      StageVariables: {mode: test}\n"
    )
    ev = events(
        "Old:\n  Type: HttpApi\n"
        "  Properties: {ApiId: !Ref Http, Path: /old, Method: get, PayloadFormatVersion: '1.0'}\n"
        "New:\n  Type: HttpApi\n  Properties: {ApiId: !Ref Http, Path: /new, Method: get}\n"
        "R:\n  Type: Api\n  Properties: {RestApiId: !Ref Rest, Path: /r, Method: get}\n"
    )
    app = load(write(tmp_path, resources(apis, function(extra=ev))))
    got = {r.path: (r.payload_v1, r.stage_variables) for r in app.routes}
    assert got == {
        "/old": (True, (("mode", "test"),)),
        "/new": (False, (("mode", "test"),)),
        "/r": (False, (("table", "orders"), ("retries", "3"))),
    }


def test_durable_config_makes_a_durable_function(tmp_path: Path) -> None:
    fn = function(extra="DurableConfig:\n  ExecutionTimeout: 3600\n  RetentionPeriodInDays: 7\n")
    app = load(write(tmp_path, resources(fn)))
    assert not [w for w in app.warnings if "DurableConfig" in w]
    (spec,) = app.functions.values()
    assert spec.durable == DurableSpec(execution_timeout_s=3600, retention_days=7)
    fn = function(extra="DurableConfig: {ExecutionTimeout: 60}\n")
    (spec,) = load(write(tmp_path, resources(fn))).functions.values()
    assert spec.durable == DurableSpec(60, 14)  # SAM's default retention
    (spec,) = load(write(tmp_path, resources(function()))).functions.values()
    assert spec.durable is None


def test_a_long_durable_execution_behind_a_synchronous_event_is_a_warning(
    tmp_path: Path,
) -> None:
    events = "Events:\n  Q:\n    Type: SQS\n    Properties: {Queue: arn:aws:sqs:us-east-1:1:q}\n"
    fn = function(extra="DurableConfig: {ExecutionTimeout: 3600}\n" + events)
    said = [w for w in load(write(tmp_path, resources(fn))).warnings if "DurableConfig" in w]
    assert len(said) == 1 and "SQS" in said[0] and "900" in said[0], said
    fn = function(extra="DurableConfig: {ExecutionTimeout: 900}\n" + events)
    assert not [w for w in load(write(tmp_path, resources(fn))).warnings if "Durable" in w]


@pytest.mark.parametrize(
    ("config", "said"),
    [
        ("{RetentionPeriodInDays: 7}", "ExecutionTimeout"),
        ("{ExecutionTimeout: 0}", "ExecutionTimeout"),
        ("{ExecutionTimeout: 31622401}", "ExecutionTimeout"),
        ("{ExecutionTimeout: 60, RetentionPeriodInDays: 91}", "RetentionPeriodInDays"),
        ("{ExecutionTimeout: 60, Timeout: 5}", "Timeout"),
    ],
)
def test_a_wrong_durable_config_is_refused_where_it_is(
    tmp_path: Path, config: str, said: str
) -> None:
    err = str(fails(write(tmp_path, resources(function(extra=f"DurableConfig: {config}\n")))))
    assert "DurableConfig" in err and said in err, err


def test_a_code_uri_may_name_the_one_file_of_the_code(tmp_path: Path) -> None:
    """As ``sam deploy`` packages it (public templates write ``CodeUri: src/function.py``)."""
    path = write(tmp_path, resources(function().replace("CodeUri: src", "CodeUri: src/app.py")))
    (Path(path).parent / "src" / "app.py").write_text("def handler(e, c):\n    return 1\n")
    assert load(path).functions["Fn"].config.code_uri.endswith("/src/app.py")


def test_an_efs_mount_is_named_in_a_warning(tmp_path: Path) -> None:
    fn = function(
        extra="FileSystemConfigs:\n"
        "  - Arn: arn:aws:elasticfilesystem:us-east-1:1:access-point/fsap-1\n"
        "    LocalMountPath: /mnt/lambda\n"
    )
    app = load(write(tmp_path, resources(fn)))
    assert any("does not mount EFS" in w and "/mnt/lambda" in w for w in app.warnings)
