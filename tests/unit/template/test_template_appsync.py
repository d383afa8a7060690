"""GraphQL APIs read from a template: SAM's ``AWS::Serverless::GraphQLApi`` and AppSync's
own resources into one ``GraphQLApiSpec``; what SAM generates, what is warned, and the
errors AppSync would give (a schema that does not parse, a resolver on a field the schema
lacks, a data source named nowhere) at their lines."""

from __future__ import annotations

from pathlib import Path

from canaria.models.appsync import DataSourceSpec, PipelineFunctionSpec
from canaria.template import load
from canaria.template.appsync import SAM_DEFAULT_CODE
from tests.unit.template.template_helpers import fails, function, line_of, resources, write

JS = "Runtime: {Name: APPSYNC_JS, Version: 1.0.0}"
SCHEMA = "type Query { note(id: ID!): String  other: String }"


def sam_api(extra: str = "", schema: str = SCHEMA) -> str:
    return f"""\
  Api:
    Type: AWS::Serverless::GraphQLApi
    Properties:
      SchemaInline: "{schema}"
      Auth: {{Type: API_KEY, Additional: [{{Type: AWS_IAM}}]}}
      ApiKeys: {{Main: {{}}}}
      DataSources:
        DynamoDb:
          Notes: {{TableName: notes, TableArn: arn}}
        Lambda:
          Calls: {{FunctionArn: !Ref Fn.Alias}}
          Plain: {{Name: plain, FunctionArn: !GetAtt Fn.Arn}}
      Functions:
        readNote: {{{JS}, DataSource: Notes, InlineCode: "export const x = 1"}}
        nothing: {{{JS}, DataSource: none, CodeUri: code/nothing.js}}
        call: {{{JS}, DataSource: Plain, InlineCode: "export const y = 2"}}
      Resolvers:
        Query:
          note: {{{JS}, Pipeline: [nothing, readNote, call]}}
{extra}"""


def test_sams_graphql_api_is_read_as_the_resources_sam_generates(tmp_path: Path) -> None:
    body = resources(function(extra="AutoPublishAlias: live\n"), sam_api())
    body += "Outputs:\n  Key: {Value: !GetAtt ApiMain.ApiKey}\n"  # SAM's name for the key
    path = write(tmp_path, body)
    (Path(path).parent / "code").mkdir()
    (Path(path).parent / "code/nothing.js").write_text("export const z = 3")
    app = load(path)
    api = app.graphql_apis["Api"]
    assert api.auth == ("API_KEY", "AWS_IAM")
    assert list(api.api_keys) == ["ApiMain"] and api.api_keys["ApiMain"].startswith("da2-")
    assert api.data_sources == {
        "Notes": DataSourceSpec("Notes", "AMAZON_DYNAMODB", table="notes"),
        "Calls": DataSourceSpec("Calls", "AWS_LAMBDA", function="Fn", qualifier="live"),
        "plain": DataSourceSpec("plain", "AWS_LAMBDA", function="Fn"),
        "ApiNoneDataSource": DataSourceSpec("ApiNoneDataSource", "NONE"),
    }
    assert api.functions["nothing"] == PipelineFunctionSpec(
        "nothing", "ApiNoneDataSource", "export const z = 3"
    )
    (resolver,) = api.resolvers
    assert (resolver.type_name, resolver.field_name, resolver.kind) == ("Query", "note", "PIPELINE")
    assert resolver.functions == ("nothing", "readNote", "call")
    assert resolver.code == SAM_DEFAULT_CODE  # SAM's code for a resolver written without
    assert not [w for w in app.warnings if "Api" in w.split(":")[2]]


def test_appsyncs_own_resources_are_read_alike(tmp_path: Path) -> None:
    body = resources(
        function(extra="AutoPublishAlias: live\n"),
        """\
  Api:
    Type: AWS::AppSync::GraphQLApi
    Properties:
      Name: mine
      AuthenticationType: API_KEY
      EnvironmentVariables: {STAGE: test}
  Schema:
    Type: AWS::AppSync::GraphQLSchema
    Properties: {ApiId: !GetAtt Api.ApiId, DefinitionS3Location: schema.graphql}
  Key:
    Type: AWS::AppSync::ApiKey
    Properties: {ApiId: !GetAtt Api.ApiId}
  Direct:
    Type: AWS::AppSync::DataSource
    Properties:
      ApiId: !GetAtt Api.ApiId
      Name: direct
      Type: AWS_LAMBDA
      LambdaConfig: {LambdaFunctionArn: !GetAtt Fn.Arn}
  Web:
    Type: AWS::AppSync::DataSource
    Properties: {ApiId: !GetAtt Api.ApiId, Name: web, Type: AMAZON_EVENTBRIDGE}
  Site:
    Type: AWS::AppSync::DataSource
    Properties:
      ApiId: !GetAtt Api.ApiId
      Name: site
      Type: HTTP
      HttpConfig:
        Endpoint: https://sync-states.us-east-1.amazonaws.com/
        AuthorizationConfig:
          AuthorizationType: AWS_IAM
          AwsIamConfig: {SigningRegion: us-east-1, SigningServiceName: states}
  Unit:
    Type: AWS::AppSync::Resolver
    Properties:
      ApiId: !GetAtt Api.ApiId
      TypeName: Query
      FieldName: note
      DataSourceName: !GetAtt Direct.Name
  Templated:
    Type: AWS::AppSync::Resolver
    Properties:
      ApiId: !GetAtt Api.ApiId
      TypeName: Query
      FieldName: other
      DataSourceName: web
      RequestMappingTemplate: "{}"
      ResponseMappingTemplate: "$util.toJson($ctx.result)"
""",
    )
    path = write(tmp_path, body)
    (Path(path).parent / "schema.graphql").write_text(SCHEMA)
    app = load(path)
    api = app.graphql_apis["Api"]
    assert (api.name, api.auth, list(api.api_keys)) == ("mine", ("API_KEY",), ["Key"])
    assert api.environment == {"STAGE": "test"}
    assert api.data_sources["direct"] == DataSourceSpec("direct", "AWS_LAMBDA", function="Fn")
    unit = api.resolver("Query", "note")
    assert unit is not None and unit.kind == "UNIT" and unit.code is None
    assert unit.data_source == "direct"
    warnings = "\n".join(app.warnings)
    assert "'web' is AMAZON_EVENTBRIDGE, which canaria does not run" in warnings
    assert warnings.count("'web' is AMAZON") == 1  # said once, however often it is named
    assert api.data_sources["site"] == DataSourceSpec(
        "site",
        "HTTP",
        endpoint="https://sync-states.us-east-1.amazonaws.com/",
        signing_service="states",
    )
    templated = api.resolver("Query", "other")
    assert templated is not None and templated.templates is not None
    assert templated.templates.response == "$util.toJson($ctx.result)"


def test_a_schema_that_does_not_parse_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        resources(
            function(extra="AutoPublishAlias: live\n"),
            sam_api(schema="type Query { note(: String }"),
        ),
    )
    (Path(path).parent / "code").mkdir()
    (Path(path).parent / "code/nothing.js").write_text("")
    error = fails(path)
    assert "the schema" in error.message and "is not valid GraphQL" in error.message
    assert error.line == line_of(path, "Api:")


def test_a_resolver_on_a_field_the_schema_lacks_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        resources(
            function(extra="AutoPublishAlias: live\n"),
            sam_api(schema="type Query { other: String }"),
        ),
    )
    (Path(path).parent / "code").mkdir()
    (Path(path).parent / "code/nothing.js").write_text("")
    error = fails(path)
    assert "Query.note, which the schema does not define" in error.message
    assert "other" in (error.allowed or "")


def test_a_function_naming_no_data_source_is_refused_at_its_line(tmp_path: Path) -> None:
    api = sam_api().replace("DataSource: Notes,", "DataSource: Nowhere,")
    path = write(tmp_path, resources(function(extra="AutoPublishAlias: live\n"), api))
    (Path(path).parent / "code").mkdir()
    (Path(path).parent / "code/nothing.js").write_text("")
    error = fails(path)  # SAM's translator says so too, at the resource
    line = line_of(path, "readNote:")
    assert (
        f":{line}: Resources.Api.Properties.Functions.readNote.DataSource: names no data "
        "source of this API: 'Nowhere'" in error.message
    )


def test_a_schema_naming_an_undefined_type_says_where(tmp_path: Path) -> None:
    schema = "type Query {\n  note(id: ID!): String\n  other: Nope\n}"
    path = write(tmp_path, resources(function(extra="AutoPublishAlias: live\n"), sam_api()))
    (Path(path).parent / "code").mkdir()
    (Path(path).parent / "code/nothing.js").write_text("")
    text = Path(path).read_text().replace(f'SchemaInline: "{SCHEMA}"', "SchemaUri: schema.graphql")
    Path(path).write_text(text)
    (Path(path).parent / "schema.graphql").write_text(schema)
    error = fails(path)
    assert "the schema (schema.graphql:3) is not valid GraphQL: Unknown type 'Nope'" in (
        error.message
    )


def test_an_http_data_source_needs_its_endpoint(tmp_path: Path) -> None:
    def source(props: str) -> str:
        return resources(
            function(),
            "  Api:\n    Type: AWS::AppSync::GraphQLApi\n"
            "    Properties: {Name: a, AuthenticationType: API_KEY}\n"
            "  Schema:\n    Type: AWS::AppSync::GraphQLSchema\n"
            "    Properties:\n      ApiId: !GetAtt Api.ApiId\n"
            "      Definition: 'type Query { note: String }'\n"
            "  Web:\n    Type: AWS::AppSync::DataSource\n    Properties:\n"
            f"      ApiId: !GetAtt Api.ApiId\n      Name: web\n      Type: HTTP\n{props}"
            "  Unit:\n    Type: AWS::AppSync::Resolver\n    Properties:\n"
            "      {ApiId: !GetAtt Api.ApiId, TypeName: Query, FieldName: note,"
            " DataSourceName: web, RequestMappingTemplate: '{}'}\n",
        )

    err = fails(write(tmp_path, source("")))
    assert "needs HttpConfig" in err.message
    err = fails(write(tmp_path, source("      HttpConfig: {Endpoint: example.com}\n")))
    assert err.prop.endswith("HttpConfig.Endpoint") and "not an HTTP(S) URL" in err.message
