"""Route matching precedence, as API Gateway documents it."""

from __future__ import annotations

import pytest

from canaria.errors import TemplateError
from canaria.gateway.routes import NoRoute, RouteMatch, Router
from canaria.models import RouteSpec


def rest(method: str, path: str, fn: str) -> RouteSpec:
    return RouteSpec(method, path, "rest", "RestApi", "Prod", fn)


def http(method: str, path: str, fn: str, stage: str = "$default") -> RouteSpec:
    return RouteSpec(method, path, "http", "HttpApi", stage, fn)


# The example of "Routing API requests" in the HTTP API guide, plus methods and ANY.
PETS = Router(
    [
        rest("GET", "/pets/dog/1", "exact"),
        rest("GET", "/pets/dog/{petId}", "param"),
        rest("GET", "/pets/{proxy+}", "greedy_pets"),
        rest("ANY", "/{proxy+}", "greedy_any"),
        rest("POST", "/pets", "post_pets"),
        rest("ANY", "/pets", "any_pets"),
        rest("GET", "/", "root"),
        rest("GET", "/a/b/c", "abc"),
        rest("GET", "/a/{x}/d", "axd"),
        rest("POST", "/items/special", "special"),
        rest("GET", "/items/{id}", "item"),
    ]
)


@pytest.mark.parametrize(
    ("method", "path", "function", "params"),
    [
        ("GET", "/pets/dog/1", "exact", {}),
        ("GET", "/pets/dog/2", "param", {"petId": "2"}),
        ("GET", "/pets/cat/1", "greedy_pets", {"proxy": "cat/1"}),
        ("POST", "/pets/dog/1", "greedy_any", {"proxy": "pets/dog/1"}),
        ("POST", "/pets", "post_pets", {}),  # exact method beats ANY
        ("GET", "/pets", "any_pets", {}),
        ("DELETE", "/pets", "any_pets", {}),
        ("GET", "/", "root", {}),
        ("GET", "/pets/dog/1/", "exact", {}),  # one trailing slash is ignored
        ("GET", "/pets/dog/a%20b", "param", {"petId": "a b"}),  # values are decoded
        ("GET", "/a/b/c", "abc", {}),
        ("GET", "/a/b/d", "axd", {"x": "b"}),  # literal branch fails: backtrack to {x}
        ("GET", "/items/special", "item", {"id": "special"}),  # no GET on the literal
        ("POST", "/items/special", "special", {}),
        ("PUT", "/anything/deep/down", "greedy_any", {"proxy": "anything/deep/down"}),
    ],
)
def test_precedence(method: str, path: str, function: str, params: dict[str, str]) -> None:
    for prefix in ("", "/Prod"):
        m = PETS.match(method, prefix + path)
        assert isinstance(m, RouteMatch), (method, prefix + path, m)
        assert m.route.function == function
        assert dict(m.params) == params
        assert m.prefixed is bool(prefix)
        assert m.path == path


def test_greedy_needs_a_segment() -> None:
    m = PETS.match("DELETE", "/")
    assert m == NoRoute("rest", method_mismatch=True)


def test_unknown_path_answers_for_the_api_kind() -> None:
    only_rest = Router([rest("GET", "/hello", "f")])
    assert only_rest.match("GET", "/nope") == NoRoute("rest")
    assert only_rest.match("POST", "/hello") == NoRoute("rest", method_mismatch=True)
    only_http = Router([http("GET", "/hello", "f")])
    assert only_http.match("GET", "/nope") == NoRoute("http")
    mixed = Router([rest("GET", "/a", "f"), http("GET", "/b", "g")])
    assert mixed.match("GET", "/Prod/zzz") == NoRoute("rest")  # the stage names the API
    assert mixed.match("GET", "/zzz") == NoRoute("http")
    assert Router([]).match("GET", "/") == NoRoute("http")


def test_stage_prefix_and_default_stage() -> None:
    router = Router([rest("GET", "/hello", "r"), http("GET", "/hi", "h")])
    prefixed = router.match("GET", "/Prod/hello")
    assert isinstance(prefixed, RouteMatch)
    assert (prefixed.route.function, prefixed.path, prefixed.prefixed) == ("r", "/hello", True)
    bare = router.match("GET", "/hello")
    assert isinstance(bare, RouteMatch) and bare.route.function == "r" and not bare.prefixed
    # an HTTP API's $default stage has no prefix to strip
    assert isinstance(router.match("GET", "/hi"), RouteMatch)
    assert router.match("GET", "/$default/hi") == NoRoute("http")


def test_named_http_stage_and_default_route() -> None:
    router = Router(
        [http("GET", "/hi", "h", stage="dev"), http("ANY", "$default", "catch", stage="dev")]
    )
    m = router.match("GET", "/dev/hi")
    assert isinstance(m, RouteMatch) and m.route.function == "h"
    m = router.match("DELETE", "/dev/else/where")
    assert isinstance(m, RouteMatch)
    assert (m.route.function, m.route.route_key, m.path) == ("catch", "$default", "/else/where")
    m = router.match("GET", "/hi")
    assert isinstance(m, RouteMatch) and m.route.function == "h"


def test_route_keys() -> None:
    router = Router([http("get", "/pets/{id}", "f"), http("ANY", "/{proxy+}", "g")])
    assert [r.route_key for r in router.routes] == ["GET /pets/{id}", "ANY /{proxy+}"]


def test_first_declared_route_wins_a_duplicate() -> None:
    router = Router([rest("GET", "/x", "first"), rest("GET", "/x", "second")])
    m = router.match("GET", "/x")
    assert isinstance(m, RouteMatch) and m.route.function == "first"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("hello", "must start with '/'"),
        ("/{proxy+}/more", "greedy variable must end the path"),
        ("/{bad name}", "bad path variable"),
    ],
)
def test_bad_templates_are_refused(path: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        Router([rest("GET", path, "f")])


def test_matching_has_no_side_effects() -> None:
    router = Router([rest("GET", "/a/{x}", "f")])
    first = router.match("GET", "/a/1")
    for _ in range(3):
        assert router.match("GET", "/a/1") == first


def test_remembered_answers_are_the_walks_answers_and_stay_bounded() -> None:
    from canaria.gateway.routes import MATCH_CACHE, MATCH_CACHE_PATH

    router = Router([rest("GET", "/items/{id}", "item"), rest("POST", "/items/special", "sp")])
    for i in range(MATCH_CACHE + 10):  # past the memory's size: it starts over, answers hold
        found = router.match("GET", f"/items/{i}")
        assert isinstance(found, RouteMatch) and found.params == {"id": str(i)}
    assert len(router._matched) <= MATCH_CACHE
    assert isinstance(router.match("POST", "/items/7"), NoRoute)  # same path, other method
    assert router.match("POST", "/items/special").route.function == "sp"  # type: ignore[union-attr]
    long_path = "/items/" + "x" * MATCH_CACHE_PATH
    assert router.match("GET", long_path).params == {"id": "x" * MATCH_CACHE_PATH}  # type: ignore[union-attr]
    assert ("GET", long_path) not in router._matched  # a 64 KB path is walked, not kept


def test_two_apis_on_one_path_each_answer_a_host_naming_their_id() -> None:
    """Two REST APIs of the same stage both serve ``POST /ask`` (as a streaming and a
    buffered API of one application do): the path reaches the first; a Host whose first
    label is an API's id reaches that API, as its own execute-api host does on AWS."""
    router = Router(
        [
            RouteSpec("POST", "/ask", "rest", "StreamingApi", "Prod", "streaming"),
            RouteSpec("POST", "/ask", "rest", "BufferedApi", "Prod", "buffered"),
            RouteSpec("GET", "/only/{id}", "rest", "BufferedApi", "Prod", "only"),
        ]
    )
    assert sorted(router.by_api) == ["bufferedapi", "streamingapi"]

    def function(host: str, method: str, path: str) -> str:
        match = router.for_host(host).match(method, path)
        return match.route.function if isinstance(match, RouteMatch) else "none"

    assert function("127.0.0.1:3000", "POST", "/Prod/ask") == "streaming"
    assert function("bufferedapi.localhost:3000", "POST", "/Prod/ask") == "buffered"
    assert function("BufferedApi.execute-api.us-east-1.amazonaws.com", "POST", "/ask") == (
        "buffered"
    )
    assert function("streamingapi.localhost", "POST", "/Prod/ask") == "streaming"
    # an API's host reaches that API's routes only
    assert function("streamingapi.localhost", "GET", "/Prod/only/7") == "none"
    assert function("anything.localhost", "GET", "/Prod/only/7") == "only"


def test_apis_that_do_not_collide_are_matched_by_path_alone() -> None:
    assert PETS.by_api == {}
    router = Router([rest("GET", "/a", "a"), http("GET", "/a", "b", stage="v2")])
    assert router.by_api == {}  # another stage: its prefix tells them apart


def test_slashes_doubled_after_the_stage_are_one() -> None:
    # a base URL ending in / joined to /pets: API Gateway answers /Prod//pets as /Prod/pets
    for path, function, params in (
        ("/Prod//pets", "post_pets", {}),
        ("/Prod///pets/dog/2", "param", {"petId": "2"}),
    ):
        m = PETS.match("POST" if function == "post_pets" else "GET", path)
        assert isinstance(m, RouteMatch), path
        assert (m.route.function, dict(m.params), m.prefixed) == (function, params, True)
        assert not m.path.startswith("//"), m.path
