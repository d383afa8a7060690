"""How ``canaria`` reads SAM CLI-style arguments before its options are parsed."""

from __future__ import annotations

from canaria.cli.main import sam_overrides


def test_unquoted_parameter_overrides_become_one_value() -> None:
    assert sam_overrides(["deploy", "--parameter-overrides", "A=1", "B=2", "--wait"]) == [
        "deploy",
        "--parameter-overrides",
        "A=1 B=2",
        "--wait",
    ]
    # a value the shell kept whole with a space in it is quoted as SAM's syntax quotes it
    joined = sam_overrides(["up", "--parameter-overrides", "A=hello world", "B=2"])
    assert joined == ["up", "--parameter-overrides", 'A="hello world" B=2']
    # one word (quoted by the user already) is left as it is
    one = ["deploy", "--parameter-overrides", "A=1 B=2"]
    assert sam_overrides(one) == one


def test_what_is_not_an_override_is_left_alone() -> None:
    # nothing after the option: click says it needs a value
    assert sam_overrides(["deploy", "--parameter-overrides"]) == ["deploy", "--parameter-overrides"]
    # a word without "=" after the first is not an override
    words = ["validate", "--parameter-overrides", "A=1", "other"]
    assert sam_overrides(words) == words
    # exec's own command keeps its arguments
    command = ["exec", "--", "sam", "deploy", "--parameter-overrides", "A=1", "B=2"]
    assert sam_overrides(command) == command
