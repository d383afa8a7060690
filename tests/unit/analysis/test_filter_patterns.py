"""CloudWatch Logs filter patterns, checked against every example of AWS's guide.

CloudWatch Logs User Guide, "Filter pattern syntax for metric filters, subscription filters,
filter log events, and Live Tail" (FilterAndPatternSyntax): its example log events and the
patterns it says match them or not. "Older guide" marks the examples of the earlier page
("Filter and Pattern Syntax", doc_source/FilterAndPatternSyntax.md in
awsdocs/amazon-cloudwatch-logs-user-guide) that the current one dropped.
"""

from __future__ import annotations

import json

import pytest

from canaria.analysis.filter_patterns import FilterPatternError, Match, parse


def matching(pattern: str, events: list[str]) -> list[str]:
    compiled = parse(pattern)
    return [e for e in events if compiled.match(e) is not None]


def matches(pattern: str, event: str) -> bool:
    return parse(pattern).match(event) is not None


# ---- unstructured log events ------------------------------------------------------------

BRACKETED = [
    "[ERROR 400] BAD REQUEST",
    "[ERROR 401] UNAUTHORIZED REQUEST",
    "[ERROR 419] MISSING ARGUMENTS",
    "[ERROR 420] INVALID ARGUMENTS",
]


def test_match_a_single_term() -> None:
    assert matching("ERROR", BRACKETED) == BRACKETED


def test_match_multiple_terms() -> None:
    assert matching("ERROR ARGUMENTS", BRACKETED) == BRACKETED[2:]


def test_match_optional_terms() -> None:
    assert matching("?ERROR ?ARGUMENTS", BRACKETED) == BRACKETED


def test_optional_terms_are_ignored_beside_other_terms() -> None:
    events = ["[INFO] REQUEST FAILED", "[WARN] UNAUTHORIZED REQUEST", "[ERROR] 400 BAD REQUEST"]
    assert matching("?ERROR ?ARGUMENTS REQUEST", events) == events
    assert matching("?ERROR ?ARGUMENTS REQUEST", ["[ERROR 419] MISSING ARGUMENTS"]) == []


def test_match_exact_phrases() -> None:
    events = [*BRACKETED, "[ERROR 500] INTERNAL SERVER ERROR"]
    assert matching('"INTERNAL SERVER ERROR"', events) == ["[ERROR 500] INTERNAL SERVER ERROR"]


def test_include_and_exclude_terms() -> None:
    assert matching("ERROR -ARGUMENTS", BRACKETED) == BRACKETED[:2]


@pytest.mark.parametrize("pattern", ['" "', '""', "", "   "])
def test_match_everything(pattern: str) -> None:
    assert matching(pattern, [*BRACKETED, "", "anything at all"]) == [
        *BRACKETED,
        "",
        "anything at all",
    ]


def test_older_guide_term_examples() -> None:
    events = ["[ERROR] A fatal exception has occurred", "Exiting with ERRORCODE: -1"]
    assert matching('"ERROR"', events) == events
    assert matching('"ERROR" - "Exiting"', events) == events[:1]
    assert matching("ERROR -Exiting", events) == events[:1]
    both = ["[ERROR] Caught IllegalArgumentException", "[ERROR] Unhandled Exception"]
    assert matching("ERROR Exception", [*both, "[ERROR] fine"]) == both
    failed = [
        "[WARN] Failed to process the request",
        "[ERROR] Unable to continue: Failed to process the request",
    ]
    assert matching("Failed to process the request", [*failed, "[WARN] Failed"]) == failed


def test_older_guide_or_examples() -> None:
    events = ["ERROR WARN message", "ERROR message", "WARN message"]
    assert matching("ERROR", events) == events[:2]
    assert matching("?ERROR ?WARN", events) == events
    assert matching("ERROR WARN", events) == events[:1]
    assert matching("ERROR -WARN", events) == events[1:2]


def test_terms_are_case_sensitive_substrings() -> None:
    assert matches("ERROR", "ERRORCODE") and not matches("ERROR", "error")


def test_the_guard_pattern() -> None:
    pattern = '?REPORT ?ERROR ?"Task timed out" ?"platform.report"'
    events = [
        "REPORT RequestId: 1 Duration: 2.00 ms",
        "2024-01-01T00:00:00.000Z 1 Task timed out after 3.00 seconds",
        '{"type":"platform.report"}',
        "START RequestId: 1",
    ]
    assert matching(pattern, events) == events[:3]


def test_a_quoted_term_holds_escaped_quotes() -> None:
    assert matches(r'"say \"hi\""', 'they say "hi"')
    assert not matches(r'"say \"hi\""', "they say hi")


# ---- regular expressions ----------------------------------------------------------------


def test_regex_authorized() -> None:
    events = ["[ERROR 401] UNAUTHORIZED REQUEST", "[SUCCESS 200] AUTHORIZED REQUEST", "OK"]
    assert matching("%AUTHORIZED%", events) == events[:2]


@pytest.mark.parametrize(
    ("pattern", "yes", "no"),
    [
        ("%^[hc]at%", ["hat", "cat on the mat"], ["that", "a cat"]),
        ("%[hc]at$%", ["hat", "a cat"], ["cats", "hat!"]),
        ("%colou?r%", ["color", "colour"], ["colr"]),
        ("%[abc]%", ["a", "b", "c"], ["xyz"]),
        ("%[a-z]%", ["q"], ["Q9"]),
        ("%[abcx-z]%", ["a", "b", "c", "x", "y", "z"], ["d", "w"]),
        ("%a{3,5}%", ["aaa", "aaaa", "aaaaa"], ["aa", "a a a"]),
        ("%gra|ey%", ["gray", "grey"], ["gruy"]),
        (
            "%^starting|^initializing|^shutting down%",
            ["starting ...", "initializing ...", "shutting down"],
            ["skipping initializing ..."],
        ),
        ("%abcc|ab[^c]$%", ["abcc ...", "aba"], ["aac ..."]),
        (r"%\[.\]%", ["[a]", "[b]", "[7]", "[@]", "[]]", "[ ]"], ["[]", "[ab]"]),
        (r"%10\.10\.0\.1%", ["10.10.0.1"], ["10010,051"]),
        ("%10.10.0.1%", ["10.10.0.1", "10010,051"], ["10.10.0"]),
        ("%ab*c%", ["ac", "abc", "abbbc"], ["ab"]),
        ("%ab[0-9]*%", ["ab", "ab0", "ab129"], ["a b"]),
        ("%ab+c%", ["abc", "abbc", "abbbc"], ["ac"]),
        ("%.at%", ["hat", "cat", "bat", "4at", "#at", " at"], ["at"]),
        (r"%\d%", ["a1"], ["abc"]),
        (r"%\D%", ["1a"], ["123"]),
        (r"%\s%", ["a b", "a\tb", "a\nb"], ["ab"]),
        (r"%\S%", [" a "], ["  \t"]),
        (r"%\w%", ["_"], ["-+ é"]),
        (r"%\W%", ["a-b"], ["a_b9"]),
        (r"%\x3A%", [":"], [";"]),
        (r"%\x28%", ["("], [")"]),
        (r"%\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}%", ["from 192.168.0.1"], ["from 192.168"]),
        ("%[Ee]rror|[Ff]ail%", ["Error", "error", "Fail", "fail"], ["ERROR"]),
    ],
)
def test_regex_operators(pattern: str, yes: list[str], no: list[str]) -> None:
    assert matching(pattern, yes + no) == yes


# ---- JSON log events --------------------------------------------------------------------

EVENT = json.dumps(
    {
        "eventType": "UpdateTrail",
        "sourceIPAddress": "111.111.111.111",
        "arrayKey": ["value", "another value"],
        "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
        "SomeObject": None,
        "cluster.name": "c",
    }
)


@pytest.mark.parametrize(
    "pattern",
    [
        '{ $.eventType = "UpdateTrail" }',
        "{ $.sourceIPAddress != 123.123.* }",
        '{ $.arrayKey[0] = "value" }',
        "{ $.eventType = %Trail% }",
        "{ $.arrayKey[*] = %val.{2}% }",
        r"{ $.* = %111\.111\.111\.1[0-9]{1,2}% }",
        "{ $.['cluster.name'] = \"c\" }",
        "{ $.SomeObject IS NULL }",
        "{ $.SomeOtherObject NOT EXISTS }",
        # older guide
        "{ $.objectList[1].id = 2 }",
    ],
)
def test_json_examples_match_the_example_event(pattern: str) -> None:
    assert matches(pattern, EVENT)


def test_json_examples_on_a_one_line_event_only() -> None:
    # the guide: "you must enter the example JSON log on a single line" — any JSON text does
    pretty = json.dumps(json.loads(EVENT), indent=4)
    assert matches('{ $.eventType = "UpdateTrail" }', pretty)


def test_older_guide_is_true_and_false() -> None:
    event = json.dumps({"ThisFlag": True, "Other": False, "Null": None})
    assert matches("{ $.ThisFlag IS TRUE }", event)
    assert not matches("{ $.ThisFlag IS FALSE }", event)
    assert matches("{ $.Other IS FALSE }", event)
    assert not matches("{ $.Null IS TRUE }", event)
    assert not matches("{ $.Missing IS NULL }", event)


COMPOUND = json.dumps(
    {
        "user": {"id": 1, "email": "John.Stiles@example.com"},
        "users": [
            {"id": 2, "email": "John.Doe@example.com"},
            {"id": 3, "email": "Jane.Doe@example.com"},
        ],
        "actions": ["GET", "PUT", "DELETE"],
        "coordinates": [[0, 1, 2], [4, 5, 6], [7, 8, 9]],
    }
)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ('{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }', True),
        (
            '{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch"'
            ' && $.actions[2] = "nonmatch" }',
            True,
        ),
        (
            '{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch")'
            ' && $.actions[2] = "nonmatch" }',
            False,
        ),
        ('{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }', False),
        # older guide: bare strings
        (
            '{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch'
            " && $.actions[2] = nomatch }",
            True,
        ),
    ],
)
def test_compound_expressions(pattern: str, expected: bool) -> None:
    assert matches(pattern, COMPOUND) is expected


def test_older_guide_or_in_json() -> None:
    events = ['{"foo": "bar"}', '{"foo": "baz"}']
    assert matching("{$.foo = bar}", events) == events[:1]
    assert matching("{$.foo = baz }", events) == events[1:]
    assert matching("{$.foo = bar || $.foo = baz }", events) == events


def test_a_selector_on_an_array_or_object_never_matches() -> None:
    # older guide: both {$.users = 1} and {$.users != 1} fail on an array
    event = '{"users": [1, 2, 3], "o": {"a": 1}}'
    for pattern in ("{$.users = 1}", "{$.users != 1}", "{$.o = *}", "{$.o != x}"):
        assert not matches(pattern, event), pattern


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [
        ("{ $.bandwidth > 75 }", {"bandwidth": 76}, True),
        ("{ $.bandwidth > 75 }", {"bandwidth": 75}, False),
        ("{ $.latency < 50 }", {"latency": 49.9}, True),
        ("{ $.refreshRate >= 60 }", {"refreshRate": 60}, True),
        ("{ $.responseTime <= 5 }", {"responseTime": 6}, False),
        ("{ $.errorCode = 400}", {"errorCode": 400}, True),
        ("{ $.errorCode = 400}", {"errorCode": 400.0}, True),
        ("{ $.errorCode != 500 }", {"errorCode": 400}, True),
        ("{ $.errorCode != 500 }", {"errorCode": 500}, False),
        ("{ $.number[0] = 1e+3 }", {"number": [1000]}, True),
        ("{ $.number[0] != 1e-3 }", {"number": [0.001]}, False),
        # older guide
        ("{ $.latency >= 500 }", {"latency": 500}, True),
        ("{ $.numbers[0] < 10e3 }", {"numbers": [9999]}, True),
        ("{ $.numbers[0] < 10e-3 }", {"numbers": [0.01]}, False),
        (
            "{ $.processes[4].averageRuntime <= 55.5 }",
            {"processes": [0] * 4 + [{"averageRuntime": 55.5}]},
            True,
        ),
        ("{ $.latency > +1000 }", {"latency": 1001}, True),
        # a numeric comparison against a non-number does not match, != included
        ("{ $.status >= 500 }", {"status": "503"}, False),
        ("{ $.status != 200 }", {"status": "503"}, False),
        ("{ $.status != 200 }", {}, False),
        ("{ $.status != 200 }", {"status": None}, False),
        ("{ $.status != 200 }", {"status": True}, False),
    ],
)
def test_numeric_comparisons(pattern: str, event: dict[str, object], expected: bool) -> None:
    assert matches(pattern, json.dumps(event)) is expected


def test_wildcards_in_strings_and_numbers() -> None:
    assert matches('{ $.eventType = "Update*" }', '{"eventType": "UpdateTrail"}')
    assert not matches('{ $.eventType = "Update*" }', '{"eventType": "PutUpdate"}')
    assert matches("{ $.eventType = *Trail }", '{"eventType": "UpdateTrail"}')
    assert matches("{ $.eventType = Up*Tr*l }", '{"eventType": "UpdateTrail"}')
    assert matches('{ $.s = "a\\*b" }', '{"s": "a*b"}')
    assert not matches('{ $.s = "a\\*b" }', '{"s": "axxb"}')
    assert matches("{ $.latency = * }", '{"latency": 50}')
    assert matches("{ $.latency = 5* }", '{"latency": 50}')
    assert not matches("{ $.latency = * }", '{"latency": null}')


def test_a_wildcard_selector_holds_for_any_element() -> None:
    assert matches("{ $.users[*].id = 3 }", COMPOUND)
    assert not matches("{ $.users[*].id = 4 }", COMPOUND)
    assert matches("{ $.user.* = 1 }", COMPOUND)
    assert matches("{ $.users[*].phone NOT EXISTS }", COMPOUND)


def test_only_json_objects_are_json_events() -> None:
    pattern = parse('{ $.level = "ERROR" }')
    assert pattern.match('{"level": "ERROR"}') is not None
    assert pattern.match('  {"level": "ERROR"}\n') is not None
    for event in [
        '2024-01-01T00:00:00.000Z\tc0ffee\tINFO\t{"level": "ERROR"}',  # Lambda's text format
        '[{"level": "ERROR"}]',
        '{"level": "ERROR"',
        '{"level": NaN}',
        "level ERROR",
        "",
    ]:
        assert pattern.match(event) is None, event


def test_strings_compare_with_the_text_of_numbers() -> None:
    assert matches('{ $.code = "400" }', '{"code": 400}')
    assert not matches("{ $.code = 400 }", '{"code": "400"}')


# ---- space-delimited log events ---------------------------------------------------------

APACHE = '127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534'


@pytest.mark.parametrize(
    "pattern",
    [
        r"[ip=%127\.0\.0\.[1-9]%, user, username, timestamp, request =*.html*,"
        " status_code = 4*, bytes]",
        "[..., request =*.html*, status_code = 4*, bytes]",
        "[ip, user, username, timestamp, request =*.html*,"
        " status_code = 404 || status_code = 410, bytes]",
    ],
)
def test_space_delimited_examples(pattern: str) -> None:
    m = parse(pattern).match(APACHE)
    assert m is not None
    assert m.value("$request") == "GET /index.html HTTP/1.0"
    assert m.value("$status_code") == "404"


def test_space_delimited_fields() -> None:
    m = parse("[ip, user, username, timestamp, request, status_code, bytes]").match(APACHE)
    assert m is not None
    assert m.fields == {
        "$ip": "127.0.0.1",
        "$user": "Prod",
        "$username": "frank",
        "$timestamp": "10/Oct/2000:13:25:15 -0700",
        "$request": "GET /index.html HTTP/1.0",
        "$status_code": "404",
        "$bytes": "1534",
    }


OLDER_APACHE = [
    '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534',
    '127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 500 5324',
    '127.0.0.1 - frank [10/Oct/2000:13:50:35 -0700] "GET /apache_pb.gif HTTP/1.0" 200 4355',
]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("[ip, user, username, timestamp, request, status_code, bytes]", [0, 1, 2]),
        ("[..., status_code, bytes]", [0, 1, 2]),
        ("[ip, user, ..., status_code, bytes]", [0, 1, 2]),
        ("[ip, user, ...]", [0, 1, 2]),
        ("[ip, user, username, timestamp, request, status_code, bytes > 1000]", [0, 1, 2]),
        ("[ip, user, username, timestamp, request, status_code, bytes > 5000]", [1]),
        ("[ip, user, username, timestamp, request, status_code = 200, bytes]", [0, 2]),
        ("[ip, user, username, timestamp, request, status_code = 4*, bytes]", []),
        ("[ip, user, username, timestamp, request = *html*, status_code = 4*, bytes]", []),
        ("[ip, user, username, timestamp, request = *gif*, status_code = 5*, bytes]", [1]),
        (
            "[ip, user, username, timestamp, request,"
            " status_code = 5* && status_code != 503, bytes]",
            [1],
        ),
        (
            "[ip, user, username, timestamp, request,"
            " status_code = 403 || status_code = 404, bytes]",
            [],
        ),
    ],
)
def test_older_guide_space_delimited(pattern: str, expected: list[int]) -> None:
    assert matching(pattern, OLDER_APACHE) == [OLDER_APACHE[i] for i in expected]


def test_older_guide_extracted_values() -> None:
    # the older guide's [..., request=*.html*, status_code=4*,]: the empty last field is
    # unnamed, so the line's seventh field is $7
    event = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534'
    m = parse("[..., request=*.html*, status_code=4*,]").match(event)
    assert m is not None
    assert m.fields == {
        "$status_code": "404",
        "$request": "GET /index.html HTTP/1.0",
        "$7": "1534",
        "$4": "10/Oct/2000:13:25:15 -0700",
        "$3": "frank",
        "$2": "-",
        "$1": "127.0.0.1",
    }


SERVICE = [
    "INFO 09/25/2014 12:00:00 GET /service/resource/67 1200",
    "INFO 09/25/2014 12:00:01 POST /service/resource/67/part/111 1310",
    "WARNING 09/25/2014 12:00:02 Invalid user request",
    "ERROR 09/25/2014 12:00:02 Failed to process request",
]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("[w1=ERROR, w2]", [3]),
        ("[w1=ERROR || w1=WARNING, w2]", [2, 3]),
        ("[w1!=ERROR && w1!=WARNING, w2]", [0, 1]),
        ("[logLevel, date, time, method, url=%/service/resource/[0-9]+$%, response_time]", [0]),
        (
            "[logLevel, date, time, method, url=%/service/resource/[0-9]+/part/[0-9]+$%,"
            " response_time]",
            [1],
        ),
    ],
)
def test_match_terms_in_order(pattern: str, expected: list[int]) -> None:
    assert matching(pattern, SERVICE) == [SERVICE[i] for i in expected]


def test_without_ellipsis_the_last_field_takes_the_rest() -> None:
    m = parse("[w1=ERROR, w2]").match(SERVICE[3])
    assert m is not None and m.fields == {
        "$w1": "ERROR",
        "$w2": "09/25/2014 12:00:02 Failed to process request",
    }
    assert parse("[a, b, c]").match("one two") is None


def test_several_ellipses_take_the_leftmost_place() -> None:
    m = parse("[first, ..., x = 5*, ..., last]").match("a 1 5 500 b 501 z")
    assert m is not None
    assert (m.value("$first"), m.value("$x"), m.value("$last")) == ("a", "5", "z")
    assert parse("[first, ..., x = 9*, ..., last]").match("a 1 5 500 b 501 z") is None


def test_numeric_field_conditions_need_numbers() -> None:
    assert matches("[a, n > 10]", "x 11")
    assert not matches("[a, n > 10]", "x eleven")
    assert not matches("[a, n != 10]", "x eleven")
    assert matches("[a, n != ten]", "x eleven")


# ---- values for metric filters ----------------------------------------------------------


def test_json_values() -> None:
    # the guide's "publish a metric with the latency": { $.latency = * }, MetricValue $.latency
    m = parse("{ $.latency = * }").match('{ "latency": 50, "requestType": "GET" }')
    assert m is not None
    assert m.value("$.latency") == 50.0
    assert m.value("$.requestType") == "GET"
    assert m.value("$.missing") is None
    m = parse("{ $.a = * }").match('{"a": 1, "b": {"c": [true, null, "x", 2.5]}, "d": {}}')
    assert m is not None
    assert [m.value(f"$.b.c[{i}]") for i in range(5)] == [True, None, "x", 2.5, None]
    assert m.value("$.d") is None and m.value("$['a']") == 1.0


def test_values_of_the_other_form_are_none() -> None:
    json_match = parse("{ $.a = 1 }").match('{"a": 1}')
    fields_match = parse("[a]").match("1")
    assert json_match is not None and fields_match is not None
    assert json_match.value("$a") is None
    assert fields_match.value("$.a") is None
    assert fields_match.value("$a") == "1"
    assert parse("ERROR").match("ERROR") == Match()


@pytest.mark.parametrize("selector", ["1", "latency", "$", "$.a[", "$.a.*", "$.a b"])
def test_bad_value_selectors(selector: str) -> None:
    m = parse("{ $.a = * }").match('{"a": 1}')
    assert m is not None
    with pytest.raises(FilterPatternError) as e:
        m.value(selector)
    assert str(e.value).startswith(f"value selector {selector!r}, column")
    with pytest.raises(FilterPatternError):
        Match().value(selector)  # how a template's MetricValue is checked before any event


# ---- refused patterns -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "column", "words"),
    [
        # unbalanced braces, brackets, parentheses and quotes
        ("{ $.a = 1", 10, "closing }"),
        ("{ $.a = 1 }}", 12, "nothing may follow"),
        ("{ ($.a = 1 }", 12, "to close the ( at column 3"),
        ("{ $.a = 1) }", 10, "closing }"),
        ("[a, b", 6, "expected , or ]"),
        ('"abc', 1, "no closing"),
        ('{ $.a = "abc }', 9, "no closing"),
        ("%abc", 1, "no closing %"),
        # unknown operators
        ("{ $.a ~ 1 }", 7, "expected an operator after $.a"),
        ("{ $.a == 1 }", 7, "unknown operator '=='"),
        ("{ $.a =< 1 }", 7, "unknown operator '=<'"),
        ("{ $.a LIKE 1 }", 7, "unknown operator 'LIKE'"),
        ("{ $.a = 1 & $.b = 2 }", 11, "AND is &&"),
        ("{ $.a = 1 | $.b = 2 }", 11, "OR is ||"),
        ("[a, b ~ 1]", 7, "expected an operator after b"),
        ("{ $.a IS NOT NULL }", 7, "does not support IS NOT"),
        ("{ $.a EXISTS }", 7, "does not support EXISTS"),
        ("{ $.a IS MAYBE }", 7, "unknown operator 'IS MAYBE'"),
        # missing values
        ("{ $.a = }", 9, "expected a value after $.a ="),
        ("{ $.a > }", 9, "expected a value after $.a >"),
        ("[a, b = ]", 9, "expected a value after b ="),
        ("{ $.a < abc }", 9, "is not a number"),
        ("{ $.a > %x% }", 9, "is not a number"),
        ("{ $.a = b@c }", 10, "enclose the value in quotes"),
        # selectors
        ("{ a = 1 }", 3, "expected a property selector"),
        ("{ $ = 1 }", 3, "names a property"),
        ("{ $.a[x] = 1 }", 7, "array index"),
        ("{ $.*.b[*] = 1 }", 3, "one wildcard"),
        ("{ $.a.* = 1 || $.b.* = 1 || $.c.* = 1 || $.d.* = 1 }", 42, "3 wildcard selectors"),
        ("{ }", 3, "empty JSON pattern"),
        # regexes
        ("%a(b)%", 3, "( or )"),
        ("%something!%", 11, "'!' cannot appear"),
        ("%café%", 5, "'é' cannot appear"),
        ("%%", 1, "empty"),
        ("%a% ERROR", 5, "nothing may follow"),
        ("ERROR %a%", 7, "cannot be combined"),
        ("%a{2,1}%", 4, "invalid %regex%"),
        ("{ $.a = %a% || $.b = %b% || $.c = %c% }", 29, "2 %regex% at most"),
        # space-delimited
        ("[]", 2, "field name"),
        ("[a, a]", 5, "two fields are named 'a'"),
        ("[a, b = 1 && a = 2]", 14, "can only test that field"),
        ("[a] x", 5, "nothing may follow"),
        ("[1a]", 2, "field name"),
        # terms
        ("ERROR -", 7, "must be followed by a term"),
        ('ERR"OR"', 4, "double quote inside a term"),
    ],
)
def test_refused_patterns_say_what_and_where(pattern: str, column: int, words: str) -> None:
    with pytest.raises(FilterPatternError) as e:
        parse(pattern)
    assert e.value.column == column, str(e.value)
    assert words in str(e.value)
    assert str(e.value).startswith(f"filter pattern {pattern!r}, column {column}: ")


def test_errors_list_what_is_allowed() -> None:
    with pytest.raises(FilterPatternError) as e:
        parse("{ $.a ~ 1 }")
    assert "=, !=, <, >, <=, >=, IS NULL, IS TRUE, IS FALSE or NOT EXISTS" in e.value.problem
    with pytest.raises(FilterPatternError) as e:
        parse("{ $.a = }")
    assert '"a quoted string" or a %regex%' in e.value.problem


def test_limits() -> None:
    with pytest.raises(FilterPatternError) as e:
        parse("x" * 1025)
    assert e.value.column == 1025
    parse("x" * 1024)
    deep = "{ " + "(" * 40 + "$.a = 1" + ")" * 40 + " }"
    with pytest.raises(FilterPatternError) as e:
        parse(deep)
    assert "nest" in str(e.value)
    assert matches("{ " + "(" * 30 + "$.a = 1" + ")" * 30 + " }", '{"a": 1}')
