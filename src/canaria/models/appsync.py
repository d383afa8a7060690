"""GraphQL APIs as AWS AppSync runs them: what a template's ``AWS::Serverless::GraphQLApi``
or ``AWS::AppSync::*`` resources declare, read into one shape (``canaria.template.appsync``)
and served by ``canaria.appsync``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

# AppSync's data source types canaria runs; another type's calls fail with an error naming it
NONE = "NONE"
LAMBDA = "AWS_LAMBDA"
DYNAMODB = "AMAZON_DYNAMODB"
HTTP = "HTTP"
SERVED_DATA_SOURCES = (NONE, LAMBDA, DYNAMODB, HTTP)

# AppSync's authorization modes; canaria checks API keys and SigV4 (``AWS_IAM``)
API_KEY = "API_KEY"
AWS_IAM = "AWS_IAM"


@dataclass(frozen=True)
class DataSourceSpec:
    """One data source: a ``NONE`` one (a resolver's request is its result), a function
    (invoked as its ARN names it: an alias or version, else ``$LATEST``), a table, an HTTP
    endpoint, or a type canaria does not run (``kind`` says which)."""

    name: str
    kind: str
    function: str | None = None  # AWS_LAMBDA: the template's function (its logical id)
    qualifier: str | None = None  # ... the alias or version its ARN names; None: $LATEST
    table: str | None = None  # AMAZON_DYNAMODB: the table's name
    endpoint: str | None = None  # HTTP: its scheme, host and port
    signing_service: str | None = None  # ... its AWS_IAM SigningServiceName, when signed


@dataclass(frozen=True)
class Templates:
    """VTL mapping templates; a missing one is AppSync's default (a direct Lambda
    request, or the data source's result as the field's value)."""

    request: str | None
    response: str | None


@dataclass(frozen=True)
class PipelineFunctionSpec:
    """An ``AWS::AppSync::FunctionConfiguration`` (a SAM GraphQLApi's ``Functions`` entry):
    its data source and its ``APPSYNC_JS`` code, or its VTL mapping templates (neither: a
    direct Lambda function, whose data source function gets AppSync's whole context)."""

    name: str
    data_source: str
    code: str | None
    templates: Templates | None = None  # VTL: the request and response mapping templates


@dataclass(frozen=True)
class ResolverSpec:
    """The resolver of one field: a unit resolver calls its data source; a pipeline
    resolver runs its code's ``request``, each function in order, then its ``response``.
    Without ``code``: its VTL ``templates``, else a direct Lambda resolver (unit)."""

    type_name: str
    field_name: str
    kind: Literal["UNIT", "PIPELINE"]
    code: str | None
    data_source: str | None = None  # UNIT
    functions: tuple[str, ...] = ()  # PIPELINE: the functions' names, in order
    templates: Templates | None = None  # VTL: the request and response mapping templates


@dataclass(frozen=True)
class GraphQLApiSpec:
    logical_id: str
    name: str
    schema: str  # the schema's SDL, as written
    schema_file: str  # where it came from, for messages ("template.yaml" when inline)
    auth: tuple[str, ...]  # the default mode first, then the additional ones
    api_keys: Mapping[str, str] = field(default_factory=dict)  # logical id -> value
    data_sources: Mapping[str, DataSourceSpec] = field(default_factory=dict)  # by name
    functions: Mapping[str, PipelineFunctionSpec] = field(default_factory=dict)  # by name
    resolvers: tuple[ResolverSpec, ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)  # ctx.env
    # AWS_LAMBDA authorization: the function (and the alias or version its ARN names)
    authorizer: DataSourceSpec | None = None
    authorizer_ttl_s: float = 300.0  # its answers are kept this long (ttlOverride aside)

    @property
    def api_id(self) -> str:
        """The API's id: its logical id in lower case, as canaria's API Gateway ids are."""
        return self.logical_id.lower()

    @property
    def default_mode(self) -> str:
        """The authorization mode fields without auth directives allow."""
        return self.auth[0] if self.auth else API_KEY

    def resolver(self, type_name: str, field_name: str) -> ResolverSpec | None:
        for r in self.resolvers:
            if r.type_name == type_name and r.field_name == field_name:
                return r
        return None
