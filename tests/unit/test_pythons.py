"""What canaria says when pip cannot give another Python the worker's packages."""

from __future__ import annotations

from canaria.pythons import _pip_reason

# pip 23's answer when the pinned packages need a newer Python than the one asked
PIP_OUTPUT = (
    """\
Processing /root/.cache/boto3-1.43.107-py3-none-any.whl
WARNING: Location 'file:///simple/orjson/' is ignored: it is neither a file nor a directory.
ERROR: Ignored the following versions that require a different python version: """
    + ("; ".join(f"1.43.{i} Requires-Python >=3.10" for i in range(200)))
    + """
ERROR: Could not find a version that satisfies the requirement sdk==3.0.0 (from versions: 0.0.2)
ERROR: No matching distribution found for sdk==3.0.0
"""
)


def test_the_reason_is_pips_errors_without_the_list_of_every_version_it_ignored() -> None:
    reason = _pip_reason(PIP_OUTPUT)
    assert reason == (
        "ERROR: Could not find a version that satisfies the requirement sdk==3.0.0 "
        "(from versions: 0.0.2); ERROR: No matching distribution found for sdk==3.0.0"
    )


def test_without_error_lines_the_last_lines_are_given_each_cut_short() -> None:
    reason = _pip_reason("first\n" + "x" * 1000 + "\nlast\n")
    assert reason.startswith("first; " + "x" * 297 + "...; last")


def test_the_durable_sdk_is_installed_only_for_the_pythons_it_supports() -> None:
    # a python3.9 function keeps Python 3.9: pip skips the SDK there, as Lambda's
    # Python 3.9 runtime has none
    from canaria.pythons import WORKER_PACKAGES

    (pin,) = [p for p in WORKER_PACKAGES if p.startswith("aws-durable-execution-sdk-python==")]
    assert '; python_full_version >= "3.' in pin
