"""GraphQL APIs, written either way a template may write one: SAM's
``AWS::Serverless::GraphQLApi``, or AppSync's own CloudFormation resources
(``AWS::AppSync::GraphQLApi`` with its ``GraphQLSchema``, ``DataSource``,
``FunctionConfiguration``, ``Resolver`` and ``ApiKey`` resources). Both are read into the
same ``GraphQLApiSpec``.

SAM's resource is read as the resources SAM generates for it: a data source per entry of
``DataSources`` (``DynamoDb``, ``Lambda``; named by its ``Name``, else its key), a function
configuration per entry of ``Functions`` (``DataSource`` one of those keys, ``NONE`` for
the API's ``NONE`` data source, or a data source written as AppSync's resource), a
pipeline resolver per field of ``Resolvers`` (SAM writes no unit resolvers; a resolver
without code gets SAM's default, which returns the last function's result), an API key per
entry of ``ApiKeys`` (named ``<Api><Key>``, as SAM names them).

A resolver or function whose code is ``APPSYNC_JS`` runs it; one with Velocity (VTL)
mapping templates renders them; one with neither on a Lambda data source is a direct
Lambda resolver. A data source of a type canaria does not run (HTTP, EventBridge,
OpenSearch, RDS, Bedrock) is warned when the template loads, and a call to it fails the
field with an error saying so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from canaria.models.appsync import (
    API_KEY,
    DYNAMODB,
    HTTP,
    LAMBDA,
    NONE,
    SERVED_DATA_SOURCES,
    DataSourceSpec,
    GraphQLApiSpec,
    PipelineFunctionSpec,
    ResolverSpec,
    Templates,
)
from canaria.template.context import Context
from canaria.template.graphql_schema import SchemaError, appsync_schema
from canaria.template.index import Entry
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import Problems, Where, as_list, as_map, as_str, check_keys
from canaria.template.openapi import target_of_uri

SAM_API = "AWS::Serverless::GraphQLApi"
API = "AWS::AppSync::GraphQLApi"
SCHEMA = "AWS::AppSync::GraphQLSchema"
DATA_SOURCE = "AWS::AppSync::DataSource"
FUNCTION = "AWS::AppSync::FunctionConfiguration"
RESOLVER = "AWS::AppSync::Resolver"
API_KEY_TYPE = "AWS::AppSync::ApiKey"
TYPES = (SAM_API, API, SCHEMA, DATA_SOURCE, FUNCTION, RESOLVER, API_KEY_TYPE)
JS = "APPSYNC_JS"
# SAM's code for a pipeline resolver written without any
SAM_DEFAULT_CODE = (
    "export function request(ctx) {\n    return {};\n}\n\n"
    "export function response(ctx) {\n    return ctx.prev.result;\n}\n"
)
_CODE_ALLOWED = "a local file (CodeUri / CodeS3Location) or InlineCode / Code"


def build_graphql_apis(
    ctx: Context, live: list[Entry], function_names: Mapping[str, str]
) -> dict[str, GraphQLApiSpec]:
    """The template's GraphQL APIs, by logical id; every problem raised at once."""
    functions = {e.logical_id for e in live if e.type == "AWS::Serverless::Function"}
    reader = _Reader(ctx, live, functions, function_names)
    problems = Problems()
    out: dict[str, GraphQLApiSpec] = {}
    for entry in live:
        if entry.type not in (SAM_API, API):
            continue
        with problems.catch():
            spec = reader.sam_api(entry) if entry.type == SAM_API else reader.cfn_api(entry)
            if spec is not None:
                _check_schema(spec, entry)
                out[entry.logical_id] = spec
    problems.raise_any()
    return out


def _ttl(value: Any) -> float:
    """``AuthorizerResultTtlInSeconds``: 300 when not written, as AppSync's default."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return 300.0


def _check_schema(spec: GraphQLApiSpec, entry: Entry) -> None:
    """The schema must make one, and each resolver's field must be in it, as AppSync
    refuses to create either otherwise."""
    try:
        schema = appsync_schema(spec.schema)
    except SchemaError as exc:
        line = f":{exc.line}" if exc.line is not None else ""
        raise entry.where.error(
            f"the schema ({spec.schema_file}{line}) is not valid GraphQL: {exc}"
        ) from None
    for r in spec.resolvers:
        gtype = schema.get_type(r.type_name)
        fields = getattr(gtype, "fields", None)
        if fields is None:
            raise entry.where.error(
                f"a resolver names type {r.type_name!r}, which the schema does not define"
            )
        if r.field_name not in fields:
            raise entry.where.error(
                f"a resolver names {r.type_name}.{r.field_name}, which the schema does not define",
                allowed=", ".join(sorted(fields)),
            )


class _Reader:
    def __init__(
        self,
        ctx: Context,
        live: list[Entry],
        functions: set[str],
        function_names: Mapping[str, str],
    ) -> None:
        self.ctx = ctx
        self.functions = functions
        self.function_names = function_names
        self._sources: dict[str, DataSourceSpec] = {}  # AppSync's resources, by logical id
        self.of: dict[str, list[Entry]] = {}
        for e in live:
            self.of.setdefault(e.type, []).append(e)

    # ---- what both kinds share ------------------------------------------------------------

    def text(self, entry: Entry, key: str) -> str | None:
        value = self.ctx.get(entry, key)
        return (
            None if value is NO_VALUE or value is None else as_str(value, self.ctx.at(entry, key))
        )

    def file_text(self, value: Any, at: Where, allowed: str) -> tuple[str, str]:
        """A local file's text and its name as written."""
        if isinstance(value, str) and value.startswith(("https://", "http://")):
            raise at.error(f"{value!r} is not a local file; canaria reads local files", allowed)
        written, path = self.ctx.local_path(value, at, allowed)
        try:
            return path.read_text(encoding="utf-8"), written
        except FileNotFoundError:
            raise at.error(f"{written!r} ({path}) does not exist", allowed=allowed) from None
        except IsADirectoryError:
            raise at.error(f"{written!r} ({path}) is a folder, not a file", allowed) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise at.error(f"{written!r} ({path}) cannot be read: {exc}") from None

    def code(self, props: Mapping[str, Any], at: Where, inline: str, uri: str) -> str | None:
        """An ``APPSYNC_JS`` resolver's or function's code: inline, or a local file."""
        resolve = self.ctx.resolver.get
        text = resolve(props, inline, at)
        if text is not NO_VALUE and text is not None:
            return as_str(text, at.key(props, inline))
        location = resolve(props, uri, at)
        if location is NO_VALUE or location is None:
            return None
        return self.file_text(location, at.key(props, uri), _CODE_ALLOWED)[0]

    def runtime(self, props: Mapping[str, Any], at: Where, entry: Entry) -> str | None:
        runtime = self.ctx.resolver.get(props, "Runtime", at)
        if not isinstance(runtime, Mapping):
            return None
        name = runtime.get("Name")
        if name is not None and name != JS:
            self.ctx.warn(entry, f"runtime {name!r} is not run by canaria (only {JS})")
        return as_str(name, at.key(props, "Runtime")) if name is not None else None

    def lambda_source(self, name: str, arn: Any, entry: Entry) -> DataSourceSpec:
        target = target_of_uri(arn, self.functions, self.function_names)
        if target is None:
            self.ctx.warn(
                entry,
                f"data source {name!r} invokes {arn!r}, which is not a function of the "
                "template: its calls fail",
            )
            return DataSourceSpec(name, LAMBDA)
        return DataSourceSpec(name, LAMBDA, function=target[0], qualifier=target[1])

    def templates(self, props: Mapping[str, Any], at: Where) -> Templates | None:
        """A resolver's or function's VTL mapping templates, inline or in local files."""
        texts: list[str | None] = []
        for which in ("Request", "Response"):
            texts.append(
                self.code(props, at, f"{which}MappingTemplate", f"{which}MappingTemplateS3Location")
            )
        if texts == [None, None]:
            return None
        return Templates(texts[0], texts[1])

    # ---- SAM's GraphQLApi ----------------------------------------------------------------

    def sam_api(self, entry: Entry) -> GraphQLApiSpec:
        ctx = self.ctx
        name = self.text(entry, "Name") or entry.logical_id
        schema, schema_file = self.sam_schema(entry)
        auth = self.auth(ctx.get(entry, "Auth"))
        keys = ctx.get(entry, "ApiKeys")
        api_keys = {
            f"{entry.logical_id}{k}": self.key_value(f"{entry.logical_id}{k}")
            for k in (keys if isinstance(keys, Mapping) else {})
        }
        sources, by_key = self.sam_sources(entry)
        sources.update(self.cfn_sources(entry))  # AppSync's own, attached to this API
        functions = self.cfn_functions(entry, sources)
        function_names: dict[str, str] = {}  # the Functions key -> its name
        fat = ctx.at(entry, "Functions")
        raw = ctx.get(entry, "Functions")
        for key, body in (as_map(raw, fat) if raw is not NO_VALUE else {}).items():
            at = fat.key(raw, key)
            body = as_map(body, at)
            if "Id" in body:  # a function written as AppSync's resource, or elsewhere
                fid = body["Id"]
                if isinstance(fid, str) and fid.endswith(".FunctionId"):
                    function_names[str(key)] = self.named_function(
                        fid, at.key(body, "Id"), functions
                    )
                else:
                    ctx.warn(entry, f"function {key} is defined outside the template: not run")
                    functions[str(key)] = PipelineFunctionSpec(str(key), "", None)
                    function_names[str(key)] = str(key)
                continue
            fname = as_str(body.get("Name", key), at)
            source = body.get("DataSource")
            if isinstance(source, str) and source.lower() == "none":
                ds = f"{entry.logical_id}NoneDataSource"
                sources.setdefault(ds, DataSourceSpec(ds, NONE))
            elif isinstance(source, str) and source in by_key:
                ds = by_key[source]
            else:
                ds = self.named_source(source, at.key(body, "DataSource"), entry, sources)
            self.runtime(body, at, entry)
            functions[fname] = PipelineFunctionSpec(
                fname, ds, self.code(body, at, "InlineCode", "CodeUri")
            )
            function_names[str(key)] = fname
        resolvers: list[ResolverSpec] = []
        rat = ctx.at(entry, "Resolvers")
        raw = ctx.get(entry, "Resolvers")
        for type_name, fields in (as_map(raw, rat) if raw is not NO_VALUE else {}).items():
            tat = rat.key(raw, type_name)
            for key, body in as_map(fields, tat).items():
                at = tat.key(fields, key)
                body = as_map(body, at)
                pipeline = as_list(body.get("Pipeline", []), at.key(body, "Pipeline"))
                names = []
                for i, step in enumerate(pipeline):
                    sat = at.key(body, "Pipeline").index(pipeline, i)
                    if isinstance(step, str) and step in function_names:
                        names.append(function_names[step])
                    else:
                        names.append(self.named_function(step, sat, functions))
                self.runtime(body, at, entry)
                code = self.code(body, at, "InlineCode", "CodeUri") or SAM_DEFAULT_CODE
                field_name = as_str(body.get("FieldName", key), at)
                resolvers.append(
                    ResolverSpec(
                        str(type_name), field_name, "PIPELINE", code, functions=tuple(names)
                    )
                )
        resolvers += self.cfn_resolvers(entry, sources, functions)
        api_keys.update(self.cfn_keys(entry))
        authorizer, ttl = None, 300.0
        for config in self.auth_configs(ctx.get(entry, "Auth")):
            lam = config.get("LambdaAuthorizer")
            if isinstance(lam, Mapping):
                authorizer = self.lambda_source("authorizer", lam.get("AuthorizerUri"), entry)
                ttl = _ttl(lam.get("AuthorizerResultTtlInSeconds"))
        return GraphQLApiSpec(
            entry.logical_id,
            name,
            schema,
            schema_file,
            auth,
            api_keys,
            sources,
            functions,
            tuple(resolvers),
            authorizer=authorizer,
            authorizer_ttl_s=ttl,
        )

    def sam_schema(self, entry: Entry) -> tuple[str, str]:
        inline = self.text(entry, "SchemaInline")
        if inline is not None:
            return inline, self.ctx.file
        value = self.ctx.get(entry, "SchemaUri")
        at = self.ctx.at(entry, "SchemaUri")
        if value is NO_VALUE:
            raise entry.props_at.error(
                f"{entry.logical_id} has no schema", allowed="SchemaInline or SchemaUri"
            )
        return self.file_text(value, at, "a local .graphql file, or SchemaInline")

    def sam_sources(self, entry: Entry) -> tuple[dict[str, DataSourceSpec], dict[str, str]]:
        """The data sources of SAM's ``DataSources``, by name; and each key's name."""
        ctx = self.ctx
        out: dict[str, DataSourceSpec] = {}
        by_key: dict[str, str] = {}
        raw = ctx.get(entry, "DataSources")
        at = ctx.at(entry, "DataSources")
        groups = as_map(raw, at) if raw is not NO_VALUE else {}
        for kind, group in groups.items():
            gat = at.key(groups, kind)
            for key, body in as_map(group, gat).items():
                bat = gat.key(group, key)
                body = as_map(body, bat)
                name = as_str(body.get("Name", key), bat)
                if kind == "DynamoDb":
                    table = as_str(body.get("TableName"), bat.key(body, "TableName"))
                    out[name] = DataSourceSpec(name, DYNAMODB, table=table)
                elif kind == "Lambda":
                    out[name] = self.lambda_source(name, body.get("FunctionArn"), entry)
                else:
                    continue  # SAM refuses other kinds
                by_key[str(key)] = name
        return out, by_key

    # ---- AppSync's own resources ---------------------------------------------------------

    def belongs(self, entry: Entry, api: Entry) -> bool:
        """Whether ``entry``'s ``ApiId`` names ``api`` (``!GetAtt Api.ApiId``, ``!Ref``)."""
        value = self.ctx.get(entry, "ApiId")
        name = api.logical_id
        return value in (f"{name}.ApiId", name, name.lower())

    def cfn_api(self, entry: Entry) -> GraphQLApiSpec | None:
        ctx = self.ctx
        name = self.text(entry, "Name") or entry.logical_id
        modes = [ctx.get(entry, "AuthenticationType")]
        lambdas = [ctx.get(entry, "LambdaAuthorizerConfig")]
        extra = ctx.get(entry, "AdditionalAuthenticationProviders")
        for provider in extra if isinstance(extra, list) else ():
            if isinstance(provider, Mapping):
                modes.append(provider.get("AuthenticationType"))
                lambdas.append(provider.get("LambdaAuthorizerConfig"))
        authorizer, ttl = None, 300.0
        for config in lambdas:
            if isinstance(config, Mapping):
                uri = config.get("AuthorizerUri")
                authorizer = self.lambda_source("authorizer", uri, entry)
                ttl = _ttl(config.get("AuthorizerResultTtlInSeconds"))
        auth = tuple(m for m in modes if isinstance(m, str))
        env = ctx.get(entry, "EnvironmentVariables")
        environment = {str(k): str(v) for k, v in env.items()} if isinstance(env, Mapping) else {}
        schemas = [s for s in self.of.get(SCHEMA, []) if self.belongs(s, entry)]
        if not schemas:  # AppSync creates it so; it answers nothing until it has one
            ctx.warn(
                entry,
                f"{entry.logical_id} has no schema (an {SCHEMA} whose ApiId is !GetAtt "
                f"{entry.logical_id}.ApiId): not served",
            )
            return None
        schema_entry = schemas[0]
        definition = self.text(schema_entry, "Definition")
        if definition is not None:
            schema, schema_file = definition, ctx.file
        else:
            schema, schema_file = self.file_text(
                ctx.get(schema_entry, "DefinitionS3Location"),
                ctx.at(schema_entry, "DefinitionS3Location"),
                "Definition, or a local .graphql file in DefinitionS3Location",
            )
        sources = self.cfn_sources(entry)
        functions = self.cfn_functions(entry, sources)
        return GraphQLApiSpec(
            entry.logical_id,
            name,
            schema,
            schema_file,
            auth,
            self.cfn_keys(entry),
            sources,
            functions,
            tuple(self.cfn_resolvers(entry, sources, functions)),
            environment,
            authorizer,
            ttl,
        )

    def cfn_sources(self, api: Entry) -> dict[str, DataSourceSpec]:
        """The ``AWS::AppSync::DataSource`` resources attached to ``api``, by name."""
        out: dict[str, DataSourceSpec] = {}
        for ds in self.of.get(DATA_SOURCE, []):
            if self.belongs(ds, api):
                spec = self.cfn_source(ds)
                out[spec.name] = spec
        return out

    def cfn_functions(
        self, api: Entry, sources: dict[str, DataSourceSpec]
    ) -> dict[str, PipelineFunctionSpec]:
        """The ``AWS::AppSync::FunctionConfiguration`` resources attached to ``api``."""
        ctx = self.ctx
        out: dict[str, PipelineFunctionSpec] = {}
        for fn in self.of.get(FUNCTION, []):
            if not self.belongs(fn, api):
                continue
            fname = self.text(fn, "Name") or fn.logical_id
            source = self.named_source(
                ctx.get(fn, "DataSourceName"),
                ctx.at(fn, "DataSourceName"),
                fn,
                sources,
                elsewhere=True,
            )
            code, templates = self.cfn_code(fn, sources.get(source, DataSourceSpec(source, "")))
            out[fname] = PipelineFunctionSpec(fname, source, code, templates)
        return out

    def cfn_resolvers(
        self,
        api: Entry,
        sources: dict[str, DataSourceSpec],
        functions: Mapping[str, PipelineFunctionSpec],
    ) -> list[ResolverSpec]:
        return [
            self.cfn_resolver(r, sources, functions)
            for r in self.of.get(RESOLVER, [])
            if self.belongs(r, api)
        ]

    def cfn_keys(self, api: Entry) -> dict[str, str]:
        return {
            k.logical_id: self.key_value(k.logical_id)
            for k in self.of.get(API_KEY_TYPE, [])
            if self.belongs(k, api)
        }

    def cfn_source(self, entry: Entry) -> DataSourceSpec:
        """An ``AWS::AppSync::DataSource``, read once (its warnings said once)."""
        spec = self._sources.get(entry.logical_id)
        if spec is None:
            spec = self._sources[entry.logical_id] = self._cfn_source(entry)
        return spec

    def _cfn_source(self, entry: Entry) -> DataSourceSpec:
        ctx = self.ctx
        name = self.text(entry, "Name") or entry.logical_id
        kind = self.text(entry, "Type") or NONE
        if kind == LAMBDA:
            config = ctx.get(entry, "LambdaConfig")
            arn = config.get("LambdaFunctionArn") if isinstance(config, Mapping) else None
            return self.lambda_source(name, arn, entry)
        if kind == DYNAMODB:
            config = ctx.get(entry, "DynamoDBConfig")
            table = config.get("TableName") if isinstance(config, Mapping) else None
            at = ctx.at(entry, "DynamoDBConfig")
            return DataSourceSpec(name, DYNAMODB, table=as_str(table, at))
        if kind == HTTP:
            return self.http_source(name, entry)
        if kind not in SERVED_DATA_SOURCES:
            ctx.warn(entry, f"data source {name!r} is {kind}, which canaria does not run")
        return DataSourceSpec(name, kind)

    def http_source(self, name: str, entry: Entry) -> DataSourceSpec:
        """An HTTP data source's ``HttpConfig``: its endpoint, and the service its
        ``AWS_IAM`` requests are signed for."""
        at = self.ctx.at(entry, "HttpConfig")
        raw = self.ctx.get(entry, "HttpConfig")
        if raw is NO_VALUE:
            raise at.error(f"the HTTP data source {name!r} needs HttpConfig with its Endpoint")
        config = as_map(raw, at)
        check_keys(config, at, ("Endpoint", "AuthorizationConfig"), required=("Endpoint",))
        endpoint = as_str(config["Endpoint"], at.key(config, "Endpoint"))
        if not endpoint.startswith(("http://", "https://")):
            raise at.key(config, "Endpoint").error(
                f"{endpoint!r} is not an HTTP(S) URL", allowed="https://host[:port]"
            )
        signing = None
        if "AuthorizationConfig" in config:
            aat = at.key(config, "AuthorizationConfig")
            auth = as_map(config["AuthorizationConfig"], aat)
            check_keys(auth, aat, ("AuthorizationType", "AwsIamConfig"))
            if auth.get("AuthorizationType") == "AWS_IAM":
                iat = aat.key(auth, "AwsIamConfig")
                iam = as_map(auth.get("AwsIamConfig") or {}, iat)
                check_keys(iam, iat, ("SigningRegion", "SigningServiceName"))
                if "SigningServiceName" not in iam:
                    raise iat.error("AWS_IAM needs AwsIamConfig.SigningServiceName")
                signing = as_str(iam["SigningServiceName"], iat.key(iam, "SigningServiceName"))
        return DataSourceSpec(name, HTTP, endpoint=endpoint, signing_service=signing)

    def cfn_code(self, entry: Entry, source: DataSourceSpec) -> tuple[str | None, Templates | None]:
        """The ``APPSYNC_JS`` code, or the VTL templates, of a function or resolver written
        as AppSync's resource; neither for a direct Lambda one."""
        at = entry.props_at
        if self.runtime(entry.props, at, entry) is not None:
            code = self.code(entry.props, at, "Code", "CodeS3Location")
            if code is None:
                raise at.error(f"{entry.logical_id} has a Runtime and no code", _CODE_ALLOWED)
            return code, None
        templates = self.templates(entry.props, at)
        if templates is None and source.kind != LAMBDA:
            self.ctx.warn(
                entry,
                f"neither code nor templates on a {source.kind} data source: the field "
                "answers an error",
            )
        return None, templates

    def cfn_resolver(
        self,
        entry: Entry,
        sources: dict[str, DataSourceSpec],
        functions: Mapping[str, PipelineFunctionSpec],
    ) -> ResolverSpec:
        ctx = self.ctx
        type_name = self.text(entry, "TypeName") or ""
        field_name = self.text(entry, "FieldName") or ""
        kind = self.text(entry, "Kind") or "UNIT"
        if kind == "PIPELINE":
            config = ctx.get(entry, "PipelineConfig")
            at = ctx.at(entry, "PipelineConfig")
            steps = config.get("Functions", []) if isinstance(config, Mapping) else []
            names = [
                self.named_function(s, at.key(config, "Functions").index(steps, i), functions)
                for i, s in enumerate(as_list(steps, at))
            ]
            code, templates = None, None
            if self.runtime(entry.props, entry.props_at, entry) is not None:
                code = self.code(entry.props, entry.props_at, "Code", "CodeS3Location")
            else:
                templates = self.templates(entry.props, entry.props_at)
            return ResolverSpec(
                type_name,
                field_name,
                "PIPELINE",
                code,
                functions=tuple(names),
                templates=templates,
            )
        ds = self.named_source(
            ctx.get(entry, "DataSourceName"),
            ctx.at(entry, "DataSourceName"),
            entry,
            sources,
            elsewhere=True,
        )
        code, templates = self.cfn_code(entry, sources.get(ds, DataSourceSpec(ds, "")))
        return ResolverSpec(
            type_name, field_name, "UNIT", code, data_source=ds, templates=templates
        )

    # ---- names ---------------------------------------------------------------------------

    def named_source(
        self,
        value: Any,
        at: Where,
        entry: Entry,
        sources: dict[str, DataSourceSpec],
        *,
        elsewhere: bool = False,
    ) -> str:
        """The data source a ``DataSourceName`` names: its name, or ``!GetAtt DS.Name``.
        ``elsewhere``: a name the template does not declare may be a data source created
        outside it (a warning; its fields answer an error), as AppSync's own resources may
        name one."""
        if isinstance(value, str) and value in sources:
            return value
        if isinstance(value, str) and value.endswith(".Name"):
            logical = value[: -len(".Name")]
            for ds in self.of.get(DATA_SOURCE, []):
                if ds.logical_id == logical:
                    spec = self.cfn_source(ds)
                    sources.setdefault(spec.name, spec)
                    return spec.name
        if elsewhere and isinstance(value, str) and not value.endswith(".Name"):
            self.ctx.warn(
                entry,
                f"data source {value!r} is not in the template (one created elsewhere): the "
                "fields that use it answer an error",
            )
            return value
        raise at.error(
            f"names no data source of this API: {value!r}",
            allowed=", ".join(sorted(sources)) or "a data source of the API",
        )

    def named_function(
        self, value: Any, at: Where, functions: Mapping[str, PipelineFunctionSpec]
    ) -> str:
        """The function a pipeline names: ``!GetAtt F.FunctionId``, or its name."""
        if isinstance(value, str) and value.endswith(".FunctionId"):
            logical = value[: -len(".FunctionId")]
            for fn in self.of.get(FUNCTION, []):
                if fn.logical_id == logical:
                    return self.text(fn, "Name") or fn.logical_id
        if isinstance(value, str) and value in functions:
            return value
        raise at.error(
            f"names no function of this API: {value!r}",
            allowed=", ".join(sorted(functions)) or "a function of the API",
        )

    @staticmethod
    def auth_configs(value: Any) -> list[Mapping[str, Any]]:
        """SAM's ``Auth``, then each of its ``Additional`` entries."""
        if not isinstance(value, Mapping):
            return []
        extra = value.get("Additional")
        return (
            [value, *(a for a in extra if isinstance(a, Mapping))]
            if isinstance(extra, list)
            else [value]
        )

    def auth(self, value: Any) -> tuple[str, ...]:
        """SAM's ``Auth``: its ``Type``, then each ``Additional`` entry's."""
        if not isinstance(value, Mapping):
            return (API_KEY,)
        modes = [c.get("Type") for c in self.auth_configs(value)]
        return tuple(m for m in modes if isinstance(m, str))

    def key_value(self, logical_id: str) -> str:
        """An API key's value: AppSync generates one (``da2-`` and 26 characters); canaria's
        is derived from the operator's token, so it stays across restarts."""
        if self.ctx.api_key_value is None:
            return f"da2-{logical_id.lower()}"
        return "da2-" + self.ctx.api_key_value(f"appsync:{logical_id}")[:26].lower()
