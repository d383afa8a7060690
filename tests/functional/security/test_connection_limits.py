"""Connections and bodies on both ports of a running canaria, over real sockets: bodies
are refused on their headers (credentials, Content-Length) before being read, a request
trickled a byte at a time is cut off, and thousands of idle connections do not make the
ports unreachable. Before, a body was read whole before the token or signature was
checked, a byte every few seconds kept a connection forever, and about 1,000 idle
connections exhausted the server's file descriptors."""

from __future__ import annotations

import resource
import socket
import time
from collections.abc import Iterator

import pytest

from canaria.limits import MAX_CONNECTIONS
from tests.functional.harness import Canaria, copy_example


@pytest.fixture(scope="module")
def hello(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canaria]:
    base = tmp_path_factory.mktemp("limits")
    app = copy_example("hello", base)
    c = Canaria(app / "template.yaml", base / "state")
    # start it with the soft open-files limit many systems default to
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))
    try:
        c.start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    yield c
    c.stop()


def answer_to(port: int, head: bytes, timeout: float = 20.0) -> bytes:
    """Send ``head`` (and no body) and read what the server says, within ``timeout``."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def test_an_unsigned_body_is_refused_before_it_is_read(hello: Canaria) -> None:
    """5 MB announced, none sent: the answer comes from the headers alone."""
    head = (
        b"POST /2015-03-31/functions/HelloFunction/invocations HTTP/1.1\r\n"
        b"Host: 127.0.0.1\r\nContent-Length: 5000000\r\n\r\n"
    )
    assert answer_to(hello.control_port, head).startswith(b"HTTP/1.1 403")
    head = (
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"X-Amz-Target: CodeDeploy_20141006.GetDeployment\r\n"
        b"Content-Length: 5000000\r\n\r\n"
    )
    # the JSON protocols answer UnrecognizedClientException with 400, as AWS does
    assert answer_to(hello.control_port, head).startswith(b"HTTP/1.1 400")
    head = b"POST /canaria/v1/clock HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n"
    assert answer_to(hello.control_port, head).startswith(b"HTTP/1.1 401")


def test_an_oversized_body_is_refused_on_its_length(hello: Canaria) -> None:
    head = (
        b"POST /canaria/v1/deployments HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer " + hello.token().encode() + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1500000000\r\n\r\n"
    )
    assert answer_to(hello.control_port, head).startswith(b"HTTP/1.1 413")


@pytest.mark.slow
@pytest.mark.parametrize("port", ["gateway", "control"])
def test_a_trickled_request_is_cut_off(hello: Canaria, port: str) -> None:
    number = hello.port if port == "gateway" else hello.control_port
    request = b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 10_000
    with socket.create_connection(("127.0.0.1", number), timeout=5) as s:
        deadline = time.monotonic() + 90
        sent = 0
        closed = False
        while time.monotonic() < deadline and sent < len(request):
            try:
                s.sendall(request[sent : sent + 1])
                sent += 1
                s.settimeout(0.5)
                if s.recv(1024) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue  # still open: one more byte
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
    assert closed, f"the {port} port kept a trickled request open for 90 s"


def test_thousands_of_idle_connections_leave_the_ports_reachable(hello: Canaria) -> None:
    idle: list[socket.socket] = []
    try:
        for port in (hello.port, hello.control_port):
            for _ in range(MAX_CONNECTIONS // 2 + 100):
                idle.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        assert hello.http("GET", "/hello")[0] == 200
        assert hello.status()["functions"]
        assert hello.aws("lambda").get_function(FunctionName="HelloFunction")
    finally:
        for s in idle:
            s.close()


def test_beyond_the_cap_the_longest_idle_connection_makes_room(hello: Canaria) -> None:
    idle: list[socket.socket] = []
    try:
        for _ in range(MAX_CONNECTIONS + 50):
            idle.append(socket.create_connection(("127.0.0.1", hello.port), timeout=10))
        assert hello.http("GET", "/hello")[0] == 200
        idle[0].settimeout(10)
        assert idle[0].recv(1) == b""  # the oldest idle one was closed
    finally:
        for s in idle:
            s.close()
