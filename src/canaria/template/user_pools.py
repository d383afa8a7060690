"""``AWS::Cognito::UserPool``, ``UserPoolClient`` and ``UserPoolGroup`` → the requests that
create them in the services engine, and the ids a template's ``!Ref`` and ``!GetAtt`` give.

On AWS a pool's id (``us-east-1_AbC123``) and a client's id are random, known once the
resource exists. A template is resolved before the engine holds anything, and the same
template must give the same ids each time it loads (functions read them from their
environment, tests from ``canaria status``). So the ids are derived from what creates the
resource: the engine (moto, started with its ``HASH`` id strategy) names a pool by the
SHA-256 of its region, its name and its whole ``CreateUserPool`` request, and a client by
that of its pool, its ``GenerateSecret`` and its whole ``CreateUserPoolClient`` request,
each request as sent, in order; :func:`pool_id` and :func:`client_id` compute the same,
and the provisioner checks the engine's answer against them (a moto that names them
otherwise stops ``canaria up`` with an error that says so). A pool's id is therefore
longer than AWS's (55 characters), and a change to its settings gives a new pool (with no
users), as a replacement would on AWS.

Settings are passed as the API names and types them (CloudFormation's property names are
the same); what the engine does not act on is still accepted, and what would change
behaviour that canaria does not reproduce is named in a warning: ``LambdaConfig`` (the
pool's triggers are not invoked).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from typing import Any

from canaria.models.arns import ACCOUNT, REGION
from canaria.models.services import UserPoolClientSpec, UserPoolGroupSpec, UserPoolSpec
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import Where, as_bool, as_int, as_list, as_map, as_str, check_keys

POOL = "AWS::Cognito::UserPool"
CLIENT = "AWS::Cognito::UserPoolClient"
GROUP = "AWS::Cognito::UserPoolGroup"
TYPES = (POOL, CLIENT, GROUP)
ATTRS: dict[str, tuple[str, ...]] = {
    POOL: ("Arn", "ProviderName", "ProviderURL", "UserPoolId"),
    CLIENT: ("ClientId", "ClientSecret", "Name"),
    GROUP: (),
}

ID_LENGTH = 55  # the engine's: "us-east-1_" and the digest, cut
CLIENT_ID_LENGTH = 26

POOL_KEYS = (
    "AccountRecoverySetting",
    "AdminCreateUserConfig",
    "AliasAttributes",
    "AutoVerifiedAttributes",
    "DeletionProtection",
    "DeviceConfiguration",
    "EmailAuthenticationMessage",
    "EmailAuthenticationSubject",
    "EmailConfiguration",
    "EmailVerificationMessage",
    "EmailVerificationSubject",
    "EnabledMfas",
    "LambdaConfig",
    "MfaConfiguration",
    "Policies",
    "Schema",
    "SmsAuthenticationMessage",
    "SmsConfiguration",
    "SmsVerificationMessage",
    "UserAttributeUpdateSettings",
    "UserPoolAddOns",
    "UserPoolName",
    "UserPoolTags",
    "UserPoolTier",
    "UsernameAttributes",
    "UsernameConfiguration",
    "VerificationMessageTemplate",
    "WebAuthnRelyingPartyID",
    "WebAuthnUserVerification",
)
CLIENT_KEYS = (
    "AccessTokenValidity",
    "AllowedOAuthFlows",
    "AllowedOAuthFlowsUserPoolClient",
    "AllowedOAuthScopes",
    "AnalyticsConfiguration",
    "AuthSessionValidity",
    "CallbackURLs",
    "ClientName",
    "DefaultRedirectURI",
    "EnablePropagateAdditionalUserContextData",
    "EnableTokenRevocation",
    "ExplicitAuthFlows",
    "GenerateSecret",
    "IdTokenValidity",
    "LogoutURLs",
    "PreventUserExistenceErrors",
    "ReadAttributes",
    "RefreshTokenRotation",
    "RefreshTokenValidity",
    "SupportedIdentityProviders",
    "TokenValidityUnits",
    "UserPoolId",
    "WriteAttributes",
)
GROUP_KEYS = ("Description", "GroupName", "Precedence", "RoleArn", "UserPoolId")

# The settings passed to the engine, with the API's type of each: "s" text, "i" integer,
# "b" boolean, [t] a list of t, {key: t} a structure (its other keys passed as written)
Shape = Any
_STRINGS: Shape = ["s"]
POOL_SETTINGS: dict[str, Shape] = {
    "Policies": {
        "PasswordPolicy": {
            "MinimumLength": "i",
            "RequireLowercase": "b",
            "RequireNumbers": "b",
            "RequireSymbols": "b",
            "RequireUppercase": "b",
            "TemporaryPasswordValidityDays": "i",
            "PasswordHistorySize": "i",
        }
    },
    "Schema": [
        {
            "Name": "s",
            "AttributeDataType": "s",
            "DeveloperOnlyAttribute": "b",
            "Mutable": "b",
            "Required": "b",
            "StringAttributeConstraints": {"MinLength": "s", "MaxLength": "s"},
            "NumberAttributeConstraints": {"MinValue": "s", "MaxValue": "s"},
        }
    ],
    "UsernameAttributes": _STRINGS,
    "AliasAttributes": _STRINGS,
    "AutoVerifiedAttributes": _STRINGS,
    "UsernameConfiguration": {"CaseSensitive": "b"},
    "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": "b", "UnusedAccountValidityDays": "i"},
    "MfaConfiguration": "s",
}
CLIENT_SETTINGS: dict[str, Shape] = {
    "ExplicitAuthFlows": _STRINGS,
    "ReadAttributes": _STRINGS,
    "WriteAttributes": _STRINGS,
    "AllowedOAuthFlows": _STRINGS,
    "AllowedOAuthScopes": _STRINGS,
    "AllowedOAuthFlowsUserPoolClient": "b",
    "CallbackURLs": _STRINGS,
    "LogoutURLs": _STRINGS,
    "SupportedIdentityProviders": _STRINGS,
    "AccessTokenValidity": "i",
    "IdTokenValidity": "i",
    "RefreshTokenValidity": "i",
    "TokenValidityUnits": {"AccessToken": "s", "IdToken": "s", "RefreshToken": "s"},
}
USERNAME_ATTRIBUTES = ("email", "phone_number")
ALIAS_ATTRIBUTES = ("email", "phone_number", "preferred_username")
MFA = ("OFF", "ON", "OPTIONAL")
_POOL_NAME = re.compile(r"^[\w\s+=,.@-]{1,128}$")
_GROUP_NAME = re.compile(r"^\S{1,128}$")  # letters, marks, symbols, digits, punctuation

Get = Callable[[str], Any]  # a property of the resource, resolved (NO_VALUE when absent)
At = Callable[[str], Where]  # where a property is written


def pool_arn(pool_id: str) -> str:
    return f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{pool_id}"


def provider_name(pool_id: str) -> str:
    """A pool's ``ProviderName``, and its tokens' issuer without the scheme."""
    return f"cognito-idp.{REGION}.amazonaws.com/{pool_id}"


def provider_url(pool_id: str) -> str:
    """A pool's ``ProviderURL``: the ``iss`` of the tokens it issues."""
    return f"https://{provider_name(pool_id)}"


_POOL_ARN = re.compile(r"^arn:aws[a-z-]*:cognito-idp:[^:]*:[^:]*:userpool/(.+)$")


def pool_of_arn(arn: str) -> str | None:
    """The pool id an ARN names, or None when it is not a user pool's ARN."""
    m = _POOL_ARN.match(arn)
    return m.group(1) if m else None


def _digest(*parts: Any) -> str:
    """The engine's id digest: SHA-256 over each part's ``str``."""
    h = hashlib.sha256()
    for part in parts:
        h.update(str(part).encode())
    return h.hexdigest()


def pool_id(name: str, settings: Mapping[str, Any]) -> str:
    """The id the engine gives a pool created with ``name`` and ``settings``."""
    request = {"PoolName": name, **settings}
    return f"{REGION}_{_digest(REGION, name, request)}"[:ID_LENGTH]


def client_id(pool: str, generate_secret: bool, name: str, settings: Mapping[str, Any]) -> str:
    """The id the engine gives a client of ``pool`` created with these."""
    request = {"UserPoolId": pool, "GenerateSecret": generate_secret, "ClientName": name}
    return _digest(pool, generate_secret, {**request, **settings})[:CLIENT_ID_LENGTH]


def _coerce(value: Any, shape: Shape, at: Where) -> Any:
    """``value`` as the API types it (``shape``), or an error naming the property."""
    if shape == "s":
        return as_str(value, at)
    if shape == "i":
        return as_int(value, at)
    if shape == "b":
        return as_bool(value, at)
    if isinstance(shape, list):
        items = as_list(value, at)
        return [_coerce(v, shape[0], at.index(items, i)) for i, v in enumerate(items)]
    node = as_map(value, at)
    out: dict[str, Any] = {}
    for key, v in node.items():
        out[key] = _coerce(v, shape[key], at.key(node, key)) if key in shape else _plain(v)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _settings(get: Get, at: At, shapes: Mapping[str, Shape]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, shape in shapes.items():
        value = get(key)
        if value is not NO_VALUE and value is not None:
            out[key] = _coerce(value, shape, at(key))
    return out


def _pool_settings(get: Get, at: At) -> dict[str, Any]:
    """The rest of a pool's ``CreateUserPool`` request, checked."""
    settings = _settings(get, at, POOL_SETTINGS)
    for key, allowed in (
        ("UsernameAttributes", USERNAME_ATTRIBUTES),
        ("AliasAttributes", ALIAS_ATTRIBUTES),
        ("AutoVerifiedAttributes", USERNAME_ATTRIBUTES),
    ):
        for value in settings.get(key, ()):
            if value not in allowed:
                raise at(key).error(f"unknown {key} value {value!r}", allowed=allowed)
    if "UsernameAttributes" in settings and "AliasAttributes" in settings:
        raise at("AliasAttributes").error(
            "a pool has UsernameAttributes or AliasAttributes, not both",
            allowed="one of them",
        )
    mfa = settings.get("MfaConfiguration")
    if mfa is not None and mfa not in MFA:
        raise at("MfaConfiguration").error(f"unknown MfaConfiguration {mfa!r}", allowed=MFA)
    return settings


def _pool_name(get: Get, at: At, default: str) -> str:
    value = get("UserPoolName")
    if value is NO_VALUE or value is None:
        return default
    name = as_str(value, at("UserPoolName"))
    if not _POOL_NAME.match(name):
        raise at("UserPoolName").error(
            f"{name!r} is not a valid user pool name",
            allowed="1 to 128 letters, digits, spaces and + = , . @ _ -",
        )
    return name


def _client_name(get: Get, at: At, default: str) -> str:
    value = get("ClientName")
    return default if value is NO_VALUE or value is None else as_str(value, at("ClientName"))


def _generate_secret(get: Get, at: At) -> bool:
    value = get("GenerateSecret")
    return False if value is NO_VALUE or value is None else as_bool(value, at("GenerateSecret"))


def _client_settings(get: Get, at: At) -> dict[str, Any]:
    """The rest of a client's ``CreateUserPoolClient`` request, checked."""
    return _settings(get, at, CLIENT_SETTINGS)


def _pool_of(get: Get, at: At) -> str:
    """The pool a client or group belongs to: its ``UserPoolId``."""
    value = get("UserPoolId")
    if value is NO_VALUE or value is None:
        raise at("UserPoolId").error("UserPoolId is required", allowed="!Ref <a user pool>")
    return as_str(value, at("UserPoolId"))


def _user_pool(logical_id: str, get: Get, at: At, default_name: str) -> UserPoolSpec:
    name = _pool_name(get, at, default_name)
    settings = _pool_settings(get, at)
    return UserPoolSpec(logical_id, name, pool_id(name, settings), settings)


def _user_pool_client(logical_id: str, get: Get, at: At, default_name: str) -> UserPoolClientSpec:
    pool = _pool_of(get, at)
    name = _client_name(get, at, default_name)
    secret = _generate_secret(get, at)
    settings = _client_settings(get, at)
    return UserPoolClientSpec(
        logical_id, pool, name, client_id(pool, secret, name, settings), secret, settings
    )


def _user_pool_group(logical_id: str, get: Get, at: At, default_name: str) -> UserPoolGroupSpec:
    pool = _pool_of(get, at)
    value = get("GroupName")
    name = default_name if value is NO_VALUE or value is None else as_str(value, at("GroupName"))
    if not _GROUP_NAME.match(name):
        raise at("GroupName").error(
            f"{name!r} is not a valid group name", allowed="1 to 128 characters, no spaces"
        )
    optional: dict[str, Any] = {}
    for key in ("Description", "RoleArn"):
        value = get(key)
        if value is not NO_VALUE and value is not None:
            optional[key] = as_str(value, at(key))
    precedence = get("Precedence")
    return UserPoolGroupSpec(
        logical_id,
        pool,
        name,
        description=optional.get("Description"),
        precedence=None
        if precedence is NO_VALUE or precedence is None
        else as_int(precedence, at("Precedence"), 0),
        role_arn=optional.get("RoleArn"),
    )


def secret_placeholder(logical_id: str) -> str:
    """``!GetAtt Client.ClientSecret``: the engine draws a client's secret at random when
    it creates the client, after the template is resolved; the secret is read with
    ``DescribeUserPoolClient``."""
    return f"{logical_id}.ClientSecret"


CognitoSpec = UserPoolSpec | UserPoolClientSpec | UserPoolGroupSpec


def read(type_: str, logical_id: str, get: Get, at: At, default_name: str) -> CognitoSpec:
    """The pool, client or group a resource of ``type_`` creates."""
    if type_ == POOL:
        return _user_pool(logical_id, get, at, default_name)
    if type_ == CLIENT:
        return _user_pool_client(logical_id, get, at, default_name)
    return _user_pool_group(logical_id, get, at, default_name)


def get_att(spec: CognitoSpec, attr: str) -> str:
    """``!GetAtt`` of a pool or client; ``attr`` is one of ``ATTRS``."""
    match spec, attr:
        case UserPoolSpec(), "Arn":
            return pool_arn(spec.id)
        case UserPoolSpec(), "ProviderName":
            return provider_name(spec.id)
        case UserPoolSpec(), "ProviderURL":
            return provider_url(spec.id)
        case UserPoolSpec(), "UserPoolId":
            return spec.id
        case UserPoolClientSpec(), "ClientId":
            return spec.id
        case UserPoolClientSpec(), "Name":
            return spec.name
        case UserPoolClientSpec(), "ClientSecret":
            return secret_placeholder(spec.logical_id)
    raise AssertionError((spec, attr))  # pragma: no cover


def check(type_: str, props: Mapping[str, Any], props_at: Where) -> None:
    """Refuse a property the resource type does not have."""
    keys = {POOL: POOL_KEYS, CLIENT: CLIENT_KEYS, GROUP: GROUP_KEYS}[type_]
    check_keys(props, props_at, keys, required=() if type_ == POOL else ("UserPoolId",))


__all__ = [
    "ATTRS",
    "CLIENT",
    "GROUP",
    "POOL",
    "TYPES",
    "CognitoSpec",
    "check",
    "client_id",
    "get_att",
    "pool_arn",
    "pool_id",
    "pool_of_arn",
    "provider_name",
    "provider_url",
    "read",
    "secret_placeholder",
]
