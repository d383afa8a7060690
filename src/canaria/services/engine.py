"""Supervise moto's server and relay the functions' requests to it.

Why moto: one maintained Python package (installed from PyPI with canaria) implements the
wire APIs of S3, SQS, SNS, SSM Parameter Store, Secrets Manager, EventBridge, Kinesis and
Cognito user pools on one port, with SNS → SQS and EventBridge → SQS / SNS delivery inside
it. Its state is in memory: nothing it holds outlives the process (the template's resources
are created again when it restarts; their contents are not).

Functions reach it through ``AWS_ENDPOINT_URL_S3``, ``..._SQS`` and the others, which name
a relay that canaria itself listens on from the start. The relay starts moto on the first
request that needs it (or when a template declares resources of those services), and
forwards bytes both ways; so the endpoint every environment was given stays valid across
a restart of the engine, and a request that finds no engine gets an error that says so in
its SDK's terms instead of a refused connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from functools import partial

from canaria.errors import CanariaError
from canaria.models.arns import ACCOUNT, REGION
from canaria.ports import free_port, reserve_port
from canaria.services import h2c
from canaria.services.answers import error_answer, signing_service
from canaria.services.user_pool_triggers import UserPoolTriggers, exchange_with

log = logging.getLogger("canaria.services")

# the SDK's service identifiers (AWS_ENDPOINT_URL_<ID>) → the SigV4 signing name
SERVED = {
    "S3": "s3",
    "SQS": "sqs",
    "SNS": "sns",
    "SSM": "ssm",
    "SECRETS_MANAGER": "secretsmanager",
    "EVENTBRIDGE": "events",
    "KINESIS": "kinesis",
    "COGNITO_IDENTITY_PROVIDER": "cognito-idp",
}
_CHUNK = 1 << 16


class EngineError(CanariaError):
    http_status = 503
    code = "ServiceUnavailable"


# how often a new port is tried when another process took the engine's between our pick
# and its bind (moto binds its port itself, so the pick cannot be held for it)
_SPAWN_ATTEMPTS = 3


class _PortTaken(Exception):
    """The engine exited at start because another process bound its port first."""


class ServicesEngine:
    """moto's server as a supervised child, behind a relay on a fixed loopback port."""

    def __init__(
        self,
        start_timeout_s: float = 30.0,
        command: Sequence[str] = (),
        log_path: str | None = None,
    ) -> None:
        # the relay's port, what functions are given: bound now and kept, so nothing else
        # takes it before the relay listens (a port picked and let go can be)
        self._reserved: socket.socket | None = reserve_port()
        self.port = int(self._reserved.getsockname()[1])
        # the engine's command line, its port appended (default: moto's server)
        self.command = tuple(command) or (sys.executable, "-m", "moto.server", "-H", "127.0.0.1")
        self.start_timeout_s = start_timeout_s
        self.log_path = log_path  # the engine's own log (moto's tracebacks), appended
        self.restarts = 0
        self.on_restart: Callable[[], Awaitable[None]] | None = None
        # the user pools' Lambda triggers: the relay hands it the Cognito requests that run one
        self.triggers: UserPoolTriggers | None = None
        self._engine_port: int | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._relay: asyncio.Server | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._stopping = False
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    @property
    def engine_endpoint(self) -> str:
        """moto's own address (for canaria's own clients; functions use ``endpoint``)."""
        assert self._engine_port is not None, "the engine has not started"
        return f"http://127.0.0.1:{self._engine_port}"

    def signing_endpoints(self) -> dict[str, tuple[str, str]]:
        """Each served SigV4 signing name → (endpoint, the variable that names it)."""
        return {sig: (self.endpoint, f"AWS_ENDPOINT_URL_{sid}") for sid, sig in SERVED.items()}

    def environment(self) -> dict[str, str]:
        """``AWS_ENDPOINT_URL_<SERVICE>`` for each service the engine serves."""
        return {f"AWS_ENDPOINT_URL_{sid}": self.endpoint for sid in SERVED}

    # ---- lifecycle ---------------------------------------------------------------------

    async def listen(self) -> None:
        """Open the relay (cheap; the engine itself starts when first needed)."""
        if self._relay is None:
            assert self._reserved is not None, "the engine was stopped"
            self._relay = await asyncio.start_server(self._accept, sock=self._reserved)
            self._reserved = None  # the relay's now, closed with it

    async def ensure_running(self) -> None:
        async with self._lock:
            if self.running:
                return
            if self._stopping:
                raise EngineError("canaria is stopping")
            await self._spawn()
            if self._supervisor is None or self._supervisor.done():
                self._supervisor = asyncio.ensure_future(self._supervise())

    async def _spawn(self) -> None:
        for attempt in range(1, _SPAWN_ATTEMPTS + 1):
            try:
                await self._spawn_on(free_port())
                return
            except _PortTaken:
                log.warning(
                    "the services engine's port was taken before it bound it (try %d)", attempt
                )
        raise EngineError(
            f"the services engine (moto) found its port taken {_SPAWN_ATTEMPTS} times in a row"
        )

    async def _spawn_on(self, port: int) -> None:
        env = dict(
            os.environ,
            MOTO_ACCOUNT_ID=ACCOUNT,
            AWS_DEFAULT_REGION=REGION,
            # user pools and app clients named by what creates them (``template.user_pools``)
            MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY="HASH",
            MOTO_COGNITO_IDP_USER_POOL_CLIENT_ID_STRATEGY="HASH",
        )
        self._proc = await asyncio.create_subprocess_exec(
            *self.command,
            "-p",
            str(port),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        drain = asyncio.ensure_future(self._drain(self._proc, self.log_path))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout_s
        while loop.time() < deadline:
            if self._proc.returncode is not None:
                await drain
                if "Address already in use" in drain.result():
                    raise _PortTaken
                raise EngineError(
                    "the services engine (moto) exited at start: "
                    f"{drain.result()[-500:]}; is moto[server] installed (`make setup`)?"
                )
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            self._engine_port = port
            return
        self._proc.kill()
        raise EngineError(
            f"the services engine (moto) did not listen within {self.start_timeout_s} s"
        )

    @staticmethod
    async def _drain(proc: asyncio.subprocess.Process, log_path: str | None) -> str:
        """Read the child's stderr to its end (a full pipe would stall it) into the log;
        return the tail."""
        tail = b""
        assert proc.stderr is not None
        log_file = None
        if log_path is not None:
            os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
            log_file = open(log_path, "ab")  # noqa: SIM115 - closed below
        try:
            while chunk := await proc.stderr.read(_CHUNK):
                tail = (tail + chunk)[-4096:]
                if log_file is not None:
                    log_file.write(chunk)
                    log_file.flush()
        finally:
            if log_file is not None:
                log_file.close()
        return tail.decode(errors="replace")

    async def _supervise(self) -> None:
        while not self._stopping:
            proc = self._proc
            assert proc is not None
            await proc.wait()
            if self._stopping:
                return
            self.restarts += 1
            log.warning("the services engine exited (%s); restarting", proc.returncode)
            await asyncio.sleep(min(5.0, 0.2 * self.restarts))
            try:
                async with self._lock:
                    if not self.running and not self._stopping:
                        await self._spawn()
                if self.on_restart is not None:
                    await self.on_restart()
            except CanariaError as exc:
                log.error("the services engine did not restart: %s", exc.message)
                return

    async def stop(self) -> None:
        self._stopping = True
        if self._reserved is not None:
            self._reserved.close()
            self._reserved = None
        if self._relay is not None:
            self._relay.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        proc = self._proc
        if proc is not None and proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if self._relay is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._relay.wait_closed(), 5)

    # ---- the relay ---------------------------------------------------------------------

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(self._serve(reader, writer))
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = b""
        try:
            try:
                await self.ensure_running()
                assert self._engine_port is not None
                port = self._engine_port
                head = await asyncio.wait_for(reader.readuntil(b"\r\n"), 30)
                if head == h2c.PREFACE_LINE:  # HTTP/2 (the SDK for JavaScript's Kinesis)
                    await h2c.serve(head, reader, writer, partial(self._exchange, port))
                    return
                if self.triggers is not None and self.triggers.active:
                    head += await self._read_head(reader)
                    target = _header(head, b"x-amz-target")
                    if self.triggers.wants(target):
                        length = int(_header(head, b"content-length") or 0)
                        body = await reader.readexactly(length)
                        exchange = partial(exchange_with, port)
                        writer.write(await self.triggers.serve(target, head, body, exchange))
                        await writer.drain()
                        return
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
            except (EngineError, OSError, ValueError, asyncio.LimitOverrunError) as exc:
                await self._refuse(reader, writer, str(exc), head)
                return
            try:
                up_writer.write(head)  # what was read to tell a Cognito trigger's request
                await _pipe_both(reader, writer, up_reader, up_writer)
            finally:
                up_writer.close()
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            writer.close()

    async def _exchange(self, port: int, request: bytes) -> h2c.Answer:
        """One whole HTTP/1.1 request to the engine (an HTTP/2 stream's), a Cognito
        request that runs a trigger through the triggers; its answer."""
        if self.triggers is not None and self.triggers.active:
            head, _, body = request.partition(b"\r\n\r\n")
            target = _header(head + b"\r\n\r\n", b"x-amz-target")
            if self.triggers.wants(target):
                exchange = partial(exchange_with, port)
                raw = await self.triggers.serve(target, head + b"\r\n\r\n", body, exchange)
                return h2c.read_answer(raw)
        return await h2c.exchange(port, request)

    @staticmethod
    async def _read_head(reader: asyncio.StreamReader) -> bytes:
        return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)

    async def _refuse(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        problem: str,
        head: bytes = b"",
    ) -> None:
        try:
            if not head.endswith(b"\r\n\r\n"):  # nothing, or the request line only
                head += await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        except (asyncio.LimitOverrunError, asyncio.IncompleteReadError, TimeoutError):
            return
        lines = head.decode("latin-1").split("\r\n")
        target = lines[0].split(" ")[1] if lines[0].count(" ") >= 2 else ""
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        service = signing_service(headers, target.partition("?")[2])
        status, extra, body = error_answer(
            headers,
            503,
            "ServiceUnavailable",
            f"canaria could not serve {service or 'the service'}: {problem}",
            service,
        )
        response = f"HTTP/1.1 {status} Service Unavailable\r\ncontent-length: {len(body)}\r\n"
        response += "".join(f"{k}: {v}\r\n" for k, v in extra) + "\r\n"
        writer.write(response.encode("latin-1") + body)
        with contextlib.suppress(ConnectionError):
            await writer.drain()


def _header(head: bytes, name: bytes) -> str:
    """The value of header ``name`` (lower case) in a request's ``head`` ("" if absent)."""
    for line in head.split(b"\r\n")[1:]:
        key, sep, value = line.partition(b":")
        if sep and key.strip().lower() == name:
            return value.strip().decode("latin-1")
    return ""


async def _pipe_both(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
) -> None:
    """Bytes both ways until the engine's side ends (it closes after each response)."""

    async def requests() -> None:
        while chunk := await reader.read(_CHUNK):
            up_writer.write(chunk)
            await up_writer.drain()
        if up_writer.can_write_eof():
            with contextlib.suppress(OSError):
                up_writer.write_eof()

    forward = asyncio.ensure_future(requests())
    try:
        while chunk := await up_reader.read(_CHUNK):
            writer.write(chunk)
            await writer.drain()
    finally:
        forward.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await forward
