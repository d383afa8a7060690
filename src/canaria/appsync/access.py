"""Which authorization modes may read each field of a schema, as AppSync decides it from
the schema's directives: a field's own (``@aws_api_key``, ``@aws_iam``,
``@aws_cognito_user_pools`` with its ``cognito_groups``, ``@aws_oidc``, ``@aws_lambda``,
``@aws_auth``) replace its type's; a field with neither is the default mode's only."""

from __future__ import annotations

from typing import Any

import graphql
from graphql import GraphQLSchema

Rule = dict[str, tuple[str, ...] | None]  # mode -> the Cognito groups it needs (None: any)


DIRECTIVE_MODES = {
    "aws_api_key": "API_KEY",
    "aws_iam": "AWS_IAM",
    "aws_cognito_user_pools": "AMAZON_COGNITO_USER_POOLS",
    "aws_oidc": "OPENID_CONNECT",
    "aws_lambda": "AWS_LAMBDA",
}


def modes_of(node: Any, default: str) -> Rule | None:
    """The authorization modes a type's or field's directives allow, each with the Cognito
    groups it requires (None: any caller of that mode); None when it has none."""
    out: dict[str, tuple[str, ...] | None] = {}
    for directive in getattr(node, "directives", None) or ():
        name = directive.name.value
        mode = DIRECTIVE_MODES.get(name)
        if name == "aws_auth":  # the default mode, Cognito, with groups
            mode = default
        if mode is None:
            continue
        groups: tuple[str, ...] | None = None
        for argument in directive.arguments or ():
            if argument.name.value == "cognito_groups":
                value = graphql.value_from_ast_untyped(argument.value)
                groups = tuple(str(g) for g in value) if isinstance(value, list) else None
        out[mode] = groups
    return out or None


def field_rules(schema: GraphQLSchema, default: str) -> dict[tuple[str, str], Rule]:
    """For each field whose own directives or whose type's name authorization modes:
    those modes (a field's own directives replace its type's, as in AppSync)."""
    out: dict[tuple[str, str], Rule] = {}
    for type_name, gtype in schema.type_map.items():
        if type_name.startswith("__") or not isinstance(gtype, graphql.GraphQLObjectType):
            continue
        on_type = modes_of(gtype.ast_node, default)
        for extension in gtype.extension_ast_nodes or ():
            on_type = modes_of(extension, default) or on_type
        for field_name, gfield in gtype.fields.items():
            rule = modes_of(gfield.ast_node, default) or on_type
            if rule is not None:
                out[(type_name, field_name)] = rule
    return out
