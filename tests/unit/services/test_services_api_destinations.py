"""An API destination call's URL and body, as EventBridge builds them, without a network."""

from __future__ import annotations

import json

from canaria.models.services import ApiDestinationSpec, ConnectionSpec, HttpParameters
from canaria.services.api_destinations import _with_body_parameters, url_of

EVENT = {"detail-type": "Placed", "detail": {"order": "o/1", "count": 2, "tags": ["a"]}}


def destination(endpoint: str, query: tuple[tuple[str, str], ...] = ()) -> ApiDestinationSpec:
    connection = ConnectionSpec("C", "c", "API_KEY", api_key=("k", "v"), query=query)
    return ApiDestinationSpec("D", "d", "arn:d", endpoint, "POST", connection)


def test_path_wildcards_are_filled_in_turn_from_the_event_or_as_written() -> None:
    http = HttpParameters(path_values=("$.detail.order", "fixed"))
    url = url_of(destination("https://x.example/orders/*/items/*"), http, EVENT)
    assert url == "https://x.example/orders/o%2F1/items/fixed"  # a value is one segment


def test_the_query_is_the_connections_then_the_targets() -> None:
    http = HttpParameters(query=(("n", "$.detail.count"), ("t", "$.detail.tags")))
    url = url_of(destination("https://x.example/h?a=1", (("src", "canaria"),)), http, EVENT)
    assert url == "https://x.example/h?a=1&src=canaria&n=2&t=%5B%22a%22%5D"


def test_a_path_that_names_nothing_is_empty_and_a_missing_value_leaves_the_wildcard() -> None:
    http = HttpParameters(path_values=("$.detail.nothing",))
    assert url_of(destination("https://x.example/*/*"), http, EVENT) == "https://x.example//*"


def test_body_parameters_join_a_json_object_and_leave_other_bodies_alone() -> None:
    params = (("via", "connection"),)
    assert json.loads(_with_body_parameters(b'{"a": 1}', params)) == {"a": 1, "via": "connection"}
    assert _with_body_parameters(b'"text"', params) == b'"text"'
    assert _with_body_parameters(b"not json", params) == b"not json"
