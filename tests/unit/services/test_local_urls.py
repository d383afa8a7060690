"""The URLs of the template's own endpoints, given as where canaria serves them."""

from __future__ import annotations

from canaria.models.arns import function_url
from canaria.services.local_urls import localized

GATEWAY = ("127.0.0.1", 3000)


def test_an_api_url_is_the_gateways_with_its_path() -> None:
    apis = {"serverlessrestapi", "chat"}
    cases = {
        "https://serverlessrestapi.execute-api.us-east-1.amazonaws.com/Prod/hello/{id}": (
            "http://127.0.0.1:3000/Prod/hello/{id}"
        ),
        "https://ServerlessRestApi.execute-api.eu-west-1.amazonaws.com:443/Prod/": (
            "http://127.0.0.1:3000/Prod/"
        ),
        "wss://chat.execute-api.us-east-1.amazonaws.com/Prod": "ws://127.0.0.1:3000/Prod",
        "see https://serverlessrestapi.execute-api.us-east-1.amazonaws.com, then": (
            "see http://127.0.0.1:3000, then"
        ),
        # another stack's API, and hosts that only look like one, are left alone
        "https://elsewhere.execute-api.us-east-1.amazonaws.com/Prod": (
            "https://elsewhere.execute-api.us-east-1.amazonaws.com/Prod"
        ),
        "https://serverlessrestapi.execute-api.us-east-1.amazonaws.com.evil.example/x": (
            "https://serverlessrestapi.execute-api.us-east-1.amazonaws.com.evil.example/x"
        ),
    }
    for aws, local in cases.items():
        assert localized(aws, GATEWAY, apis, {}) == local, aws


def test_a_function_url_is_its_listener() -> None:
    served = {"Fn": "http://127.0.0.1:4100/"}
    assert localized(function_url("Fn"), GATEWAY, set(), served) == "http://127.0.0.1:4100/"
    assert localized(function_url("Fn") + "items?x=1", GATEWAY, set(), served) == (
        "http://127.0.0.1:4100/items?x=1"
    )
    other = function_url("Other")  # no URL served for it
    assert localized(other, GATEWAY, set(), served) == other


def test_a_wildcard_address_is_given_as_loopback() -> None:
    url = "https://api.execute-api.us-east-1.amazonaws.com/Prod"
    assert localized(url, ("0.0.0.0", 3000), {"api"}, {}) == "http://127.0.0.1:3000/Prod"
    assert localized(url, ("::1", 3000), {"api"}, {}) == "http://[::1]:3000/Prod"


def test_a_load_balancers_dns_name_is_its_listeners_address() -> None:
    dns = "app-alb-123.us-east-1.elb.amazonaws.com"
    one = {dns: {80: 4200}}
    assert localized(dns, GATEWAY, set(), {}, one) == "127.0.0.1:4200"  # bare, as outputs give
    assert localized(f"http://{dns}/hello", GATEWAY, set(), {}, one) == (
        "http://127.0.0.1:4200/hello"
    )
    two = {dns: {80: 4200, 8080: 4201}}
    assert localized(f"http://{dns}:8080/x", GATEWAY, set(), {}, two) == "http://127.0.0.1:4201/x"
    assert localized(f"https://{dns}/x", GATEWAY, set(), {}, two) == f"https://{dns}/x"  # no 443
    other = "other-9.us-east-1.elb.amazonaws.com"
    assert localized(other, GATEWAY, set(), {}, one) == other
    assert localized(f"{dns}.evil.example", GATEWAY, set(), {}, one) == f"{dns}.evil.example"
