"""What a runtime reports with its answer, over a real Runtime API listener on loopback."""

from __future__ import annotations

import asyncio

import pytest

from canaria.runtime.runtime_api import NO_REPORT, Report, RuntimeApi

PATH = "/2018-06-01/runtime/invocation/r-1/"


class Recorder:
    """A Listener that keeps what the API told it."""

    def __init__(self) -> None:
        self.answers: list[tuple[str, str, bytes, Report]] = []

    def on_next(self) -> None:
        pass

    def on_response(self, request_id: str, body: bytes, report: Report) -> bool:
        self.answers.append(("response", request_id, body, report))
        return True

    def on_error(
        self, request_id: str, body: bytes, error_type: str | None, report: Report, *, exiting: bool
    ) -> bool:
        self.answers.append(("error", request_id, body, report))
        return True

    def on_too_large(self, request_id: str, size: int) -> bool:
        return True

    def on_init_error(self, body: bytes, error_type: str | None) -> None:
        pass


async def post(address: str, action: str, headers: dict[str, str]) -> bytes:
    host, port = address.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = f"POST {PATH}{action} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 2\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    writer.write(head.encode() + b"\r\n{}")
    status = await reader.readline()
    writer.close()
    return status


@pytest.mark.parametrize(
    ("headers", "report"),
    [
        ({}, NO_REPORT),
        (
            {"Canaria-Duration-Ms": "12.345", "Canaria-Max-Memory-Kib": "51200"},
            Report(12.345, 51200),
        ),
        ({"canaria-duration-ms": "0"}, Report(0.0, None)),
        ({"Canaria-Max-Memory-Kib": "2048"}, Report(None, 2048)),
        ({"Canaria-Duration-Ms": "fast", "Canaria-Max-Memory-Kib": "-5"}, Report(None, None)),
        ({"Canaria-Duration-Ms": "nan", "Canaria-Max-Memory-Kib": "inf"}, Report(None, None)),
        ({"Canaria-Max-Memory-Kib": "1e30"}, Report(None, None)),  # no process's peak
    ],
)
async def test_a_runtimes_report_reaches_the_environment_and_nonsense_is_dropped(
    headers: dict[str, str], report: Report
) -> None:
    """Duration and peak memory reported as canaria's headers reach the environment with
    the answer; a value that is not a finite, non-negative number counts as not said (the
    environment then measures for itself), and the answer is accepted either way."""
    recorder = Recorder()
    api = RuntimeApi(recorder)
    address = await api.start()
    try:
        for action in ("response", "error"):
            status = await post(address, action, headers)
            assert status.startswith(b"HTTP/1.1 202")
        assert recorder.answers == [
            ("response", "r-1", b"{}", report),
            ("error", "r-1", b"{}", report),
        ]
    finally:
        api.close()
