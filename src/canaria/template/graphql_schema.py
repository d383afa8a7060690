"""A GraphQL API's schema as AppSync reads it: the SDL as written, with AppSync's scalars
(``AWSDateTime``, ``AWSJSON``, ...) and directives (``@aws_api_key``, ``@aws_subscribe``,
...) declared, as AppSync declares them for every schema.

``AWSJSON`` values are JSON text on the wire and parsed values in a resolver's
``ctx.arguments``; a resolver may answer one with any JSON value, which is sent as its
text. ``AWSTimestamp`` is an integer (seconds). The other AppSync scalars are strings,
not checked against their formats here.
"""

from __future__ import annotations

import json
import re
from typing import Any

import graphql
from graphql import GraphQLScalarType, GraphQLSchema

_SCALARS = (
    "AWSDate",
    "AWSTime",
    "AWSDateTime",
    "AWSTimestamp",
    "AWSEmail",
    "AWSJSON",
    "AWSURL",
    "AWSPhone",
    "AWSIPAddress",
)
_PLACES = "OBJECT | FIELD_DEFINITION | INTERFACE | UNION | INPUT_OBJECT | ENUM"
_DIRECTIVES = {
    "aws_api_key": "",
    "aws_iam": "",
    "aws_oidc": "",
    "aws_lambda": "",
    "aws_cognito_user_pools": "(cognito_groups: [String])",
    "aws_auth": "(cognito_groups: [String])",
    "aws_subscribe": "(mutations: [String])",
    "aws_publish": "(subscriptions: [String])",
    "canonical": "",
    "hidden": "",
    "renamed": "(to: String)",
    "deprecated": "(reason: String)",
}


class SchemaError(Exception):
    """The SDL does not parse or does not make a schema; ``line`` where, when known."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def appsync_schema(sdl: str) -> GraphQLSchema:
    """The schema ``sdl`` defines, AppSync's scalars and directives declared (those the
    SDL declares itself are its own). Raises ``SchemaError``."""
    try:
        document = graphql.parse(sdl)
    except graphql.GraphQLError as exc:
        raise SchemaError(exc.message, _line(exc)) from None
    declared = {
        d.name.value
        for d in document.definitions
        if isinstance(d, graphql.ScalarTypeDefinitionNode | graphql.DirectiveDefinitionNode)
    }
    prelude = [f"scalar {s}" for s in _SCALARS if s not in declared]
    prelude += [
        f"directive @{name}{args} repeatable on {_PLACES}"
        for name, args in _DIRECTIVES.items()
        if name not in declared and name != "deprecated"
    ]
    try:
        schema = graphql.build_ast_schema(
            graphql.concat_ast([document, graphql.parse("\n".join(prelude))])
            if prelude
            else document
        )
    except (graphql.GraphQLError, TypeError) as exc:
        message = exc.message if isinstance(exc, graphql.GraphQLError) else str(exc)
        raise SchemaError(message, _line(exc) or _named_line(sdl, message)) from None
    errors = graphql.validate_schema(schema)
    if errors:
        raise SchemaError(errors[0].message, _line(errors[0]))
    for name in _SCALARS:
        scalar = schema.get_type(name)
        if isinstance(scalar, GraphQLScalarType) and name not in declared:
            _behave(scalar)
    return schema


def _behave(scalar: GraphQLScalarType) -> None:
    """Give an AppSync scalar its coercions. graphql-core 3.2 calls ``serialize`` and
    ``parse_value``; 3.3 calls ``coerce_output_value`` and ``coerce_input_value``, set from
    those when the type is made: both are set here."""
    model = {"AWSTimestamp": graphql.GraphQLInt}.get(scalar.name, graphql.GraphQLString)
    out, into, literal = model.serialize, model.parse_value, model.parse_literal
    if scalar.name == "AWSJSON":
        out, into, literal = _json_out, _json_in, _json_literal
    names = {
        "serialize": out,
        "coerce_output_value": out,
        "parse_value": into,
        "coerce_input_value": into,
        "parse_literal": literal,
    }
    for name, function in names.items():
        if name in ("serialize", "parse_value", "parse_literal") or hasattr(scalar, name):
            setattr(scalar, name, function)


def _json_out(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _json_in(value: Any) -> Any:
    if not isinstance(value, str):
        return value  # a variable given as JSON itself
    try:
        return json.loads(value)
    except ValueError:
        raise graphql.GraphQLError(f"Variable 'AWSJSON' has an invalid value: {value}") from None


def _json_literal(node: graphql.ValueNode, variables: Any = None) -> Any:
    if isinstance(node, graphql.StringValueNode):
        return _json_in(node.value)
    return graphql.value_from_ast_untyped(node, variables)


def _named_line(sdl: str, message: str) -> int | None:
    """The line where the type a message names (``Unknown type 'Tsk'``) is first used:
    graphql-core's schema builder gives no location for it."""
    found = re.search(r"Unknown type '([_A-Za-z][_0-9A-Za-z]*)'", message)
    if found is None:
        return None
    use = re.search(rf"\b{found.group(1)}\b", sdl)
    return sdl.count("\n", 0, use.start()) + 1 if use else None


def _line(exc: BaseException) -> int | None:
    locations = getattr(exc, "locations", None)
    return locations[0].line if locations else None
