"""An API's CORS configuration: REST ``Cors`` (a string or a map of quoted literals),
HTTP API ``CorsConfiguration`` (true or a map of lists), and their Globals."""

from __future__ import annotations

from pathlib import Path

import pytest

from canaria.models import CorsSpec
from canaria.template import load
from tests.unit.template.template_helpers import function, resources, write


def routed(kind: str = "Api", api: str = "") -> str:
    ref = f", {'RestApiId' if kind == 'Api' else 'ApiId'}: !Ref {api}" if api else ""
    props = f"{{Path: /items, Method: get{ref}}}"
    return function("Fn", f"Events:\n  E:\n    Type: {kind}\n    Properties: {props}\n")


def cors_of(path: str) -> CorsSpec | None:
    (route,) = load(path).routes
    return route.cors


@pytest.mark.parametrize(
    ("globals_", "expected"),
    [
        ("Cors: \"'*'\"", CorsSpec(("*",))),
        (
            "Cors:\n      AllowOrigin: \"'https://app.example'\"\n"
            "      AllowMethods: \"'GET, POST'\"\n      AllowHeaders: \"'Content-Type'\"\n"
            "      MaxAge: \"'600'\"\n      AllowCredentials: true",
            CorsSpec(
                ("https://app.example",),
                allow_methods=("GET", "POST"),
                allow_headers=("Content-Type",),
                max_age=600,
                allow_credentials=True,
            ),
        ),
        # no AllowOrigin: SAM's preflight allows every origin
        ("Cors:\n      AllowHeaders: \"'X-Key'\"", CorsSpec(("*",), allow_headers=("X-Key",))),
    ],
)
def test_rest_cors_from_globals_reaches_the_implicit_apis_routes(
    tmp_path: Path, globals_: str, expected: CorsSpec
) -> None:
    body = f"Globals:\n  Api:\n    {globals_}\n" + resources(routed())
    assert cors_of(write(tmp_path, body)) == expected


def test_a_preflight_may_skip_the_default_authorizer(tmp_path: Path) -> None:
    api = (
        "  Api:\n    Type: AWS::Serverless::Api\n    Properties:\n      StageName: Prod\n"
        "      Cors: \"'*'\"\n      Auth:\n        AddDefaultAuthorizerToCorsPreflight: false\n"
    )
    cors = cors_of(write(tmp_path, resources(api, routed("Api", "Api"))))
    assert cors == CorsSpec(("*",), preflight_authorized=False)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("true", CorsSpec(("*",))),
        (
            "\n        AllowOrigins: [https://app.example]\n        AllowMethods: [get, post]\n"
            "        ExposeHeaders: [x-total]\n        MaxAge: 300\n        AllowCredentials: true",
            CorsSpec(
                ("https://app.example",),
                allow_methods=("GET", "POST"),
                expose_headers=("x-total",),
                max_age=300,
                allow_credentials=True,
            ),
        ),
    ],
)
def test_http_api_cors_configuration(tmp_path: Path, config: str, expected: CorsSpec) -> None:
    api = "  Http:\n    Type: AWS::Serverless::HttpApi\n    Properties:\n"
    api += f"      CorsConfiguration: {config}\n"
    assert cors_of(write(tmp_path, resources(api, routed("HttpApi", "Http")))) == expected


def test_an_api_without_cors_has_none(tmp_path: Path) -> None:
    assert cors_of(write(tmp_path, resources(routed()))) is None


@pytest.mark.parametrize(("value", "expected"), [("true", CorsSpec(("*",))), ("false", None)])
def test_an_http_apis_cors_from_a_string_parameter(
    tmp_path: Path, value: str, expected: CorsSpec | None
) -> None:
    api = (
        "  Http:\n    Type: AWS::Serverless::HttpApi\n"
        "    Properties: {CorsConfiguration: !Ref CorsParam}\n"
    )
    params = f"Parameters:\n  CorsParam: {{Type: String, Default: {value}}}\n"
    assert cors_of(write(tmp_path, params + resources(api, routed("HttpApi", "Http")))) == expected
