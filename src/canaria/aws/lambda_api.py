"""Lambda's REST-JSON API (2015-03-31): Invoke, InvokeWithResponseStream, GetFunction,
PublishVersion, ListVersionsByFunction, GetAlias, UpdateAlias — the calls hooks make."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from canaria.aws import eventstream
from canaria.aws.backend import EdgeBackend
from canaria.aws.responses import json_response, rest_error, rest_error_from
from canaria.durable import HANDLER_INVOKE_HEADER
from canaria.errors import CanariaError, Conflict, InvalidRequest, NotFound
from canaria.inputs import version_number
from canaria.models import Alias, FunctionSpec, InvokeResult, Version
from canaria.models.arns import function_arn, parse_function
from canaria.models.streaming import Flow

LOG_TAIL_BYTES = 4096
CLIENT_CONTEXT_MAX_BYTES = 3583  # Invoke's ClientContext: base64 of a JSON object
DURABLE_ARN_HEADER = "X-Amz-Durable-Execution-Arn"  # Invoke's DurableExecutionArn
EXECUTION_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")  # Invoke's DurableExecutionName


def version_configuration(
    edge: EdgeBackend, v: Version, qualifier: str, *, qualified_arn: bool = True
) -> dict[str, Any]:
    """A version's configuration as Lambda answers it; ``qualified_arn`` False: the
    function's unqualified ARN (a GetFunction without a qualifier, ListFunctions)."""
    c = v.config
    return {
        "FunctionName": v.function,
        "FunctionArn": function_arn(v.function, qualifier if qualified_arn else None),
        "Runtime": c.runtime,
        "Role": f"arn:aws:iam::123456789012:role/{v.function}-role",
        "Handler": c.handler,
        "CodeSize": 0,
        "Description": "",
        "Timeout": int(c.timeout_s),
        "MemorySize": c.memory_mb,
        "LastModified": _iso(v.created_at),
        "CodeSha256": base64.b64encode(bytes.fromhex(v.digest)).decode(),
        "Version": str(v.number) if qualifier != "$LATEST" else "$LATEST",
        "Environment": {"Variables": dict(c.environment)},
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": ["x86_64"],
    }


def alias_configuration(a: Alias, revision: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "AliasArn": function_arn(a.function, a.name),
        "Name": a.name,
        "FunctionVersion": str(a.version),
        "Description": "",
        "RevisionId": f"{a.function}-{a.name}-{revision or 0}",
    }
    if a.additional_version is not None:
        body["RoutingConfig"] = {
            "AdditionalVersionWeights": {str(a.additional_version): a.additional_weight}
        }
    return body


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _version_field(value: Any, default: int, field: str) -> int:
    """A version number sent as a body field (a string, as AWS sends it, or a number)."""
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidRequest(f"{field} must be a version number, got {value!r}"[:200])
    number = version_number(str(value))
    if number is None:
        raise InvalidRequest(f"{field} must be a version number, got {value!r}"[:200])
    return number


def _version_for(edge: EdgeBackend, name: str, qualifier: str | None) -> tuple[Version, str]:
    edge.function_spec(name)  # NotFound when the function does not exist
    if qualifier in (None, "$LATEST"):
        latest = edge.store.latest_version(name)
        if latest is None:
            raise NotFound(f"Function not found: {function_arn(name)}")
        return latest, "$LATEST"
    number = version_number(qualifier)
    if number is not None:
        return edge.store.version(name, number), qualifier
    alias = edge.store.alias(name, qualifier)
    if alias is None:
        raise NotFound(f"Function not found: {function_arn(name, qualifier)}")
    return edge.store.version(name, alias.version), qualifier


def _named(
    edge: EdgeBackend, identifier: str, qualifier: str | None = None
) -> tuple[str, str | None]:
    """``(function, qualifier)`` an identifier names, the function by its logical id: a
    function's declared ``FunctionName`` names it too, as on AWS."""
    name, qualifier = parse_function(identifier, qualifier)
    return edge.function_named(name), qualifier


class _BadContent(Exception):
    """A payload or client context Lambda cannot parse (InvalidRequestContentException)."""


async def _invocation_input(request: Request) -> tuple[bytes, str | None]:
    """An invocation's payload (JSON) and decoded ``ClientContext``; _BadContent when
    either is not what Lambda takes."""
    payload = await request.body() or b"{}"
    try:
        orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise _BadContent("Could not parse request body into json: payload is not JSON") from None
    try:
        return payload, _client_context(request.headers.get("x-amz-client-context"))
    except ValueError as exc:
        raise _BadContent(str(exc)) from None


class _Call(NamedTuple):
    """An invocation request as the Lambda API reads it."""

    function: str
    qualifier: str | None
    spec: FunctionSpec
    kind: str  # X-Amz-Invocation-Type
    payload: bytes
    client_context: str | None


async def _read_call(edge: EdgeBackend, request: Request, kinds: tuple[str, ...]) -> _Call:
    """The invocation ``request`` asks for; ``kinds``: the invocation types the operation
    takes besides ``DryRun``. Raises ``_BadContent`` or a ``CanariaError``."""
    name, qualifier = _named(
        edge, request.path_params["name"], request.query_params.get("Qualifier")
    )
    spec = edge.function_spec(name)
    kind = request.headers.get("x-amz-invocation-type", "RequestResponse")
    payload, client_context = await _invocation_input(request)
    if kind not in (*kinds, "DryRun"):
        allowed = ", ".join((*kinds, "DryRun"))
        raise InvalidRequest(f"InvocationType {kind!r} (allowed: {allowed})")
    return _Call(name, qualifier, spec, kind, payload, client_context)


async def invoke(edge: EdgeBackend, request: Request) -> Response:
    try:
        try:
            call = await _read_call(edge, request, ("RequestResponse", "Event"))
        except _BadContent as exc:
            return rest_error(400, "InvalidRequestContentException", str(exc))
        name, qualifier, spec, kind, payload, client_context = call
        if kind == "DryRun":
            return Response(status_code=204)
        handler_invocation = HANDLER_INVOKE_HEADER in request.headers
        if spec.durable is not None and not handler_invocation:
            return await _invoke_durable(edge, request, name, qualifier, payload, kind)
        if kind == "Event":  # Lambda passes ClientContext to synchronous invocations only
            task = asyncio.ensure_future(edge.invoke_qualified(name, qualifier, payload))
            _background.add(task)
            task.add_done_callback(_background.discard)
            return Response(status_code=202)
        result = await edge.invoke_qualified(
            name,
            qualifier,
            payload,
            client_context=client_context,
            handler_invocation=handler_invocation,
        )
    except CanariaError as exc:
        return rest_error_from(exc)
    return _invoke_response(request, result)


async def invoke_with_response_stream(edge: EdgeBackend, request: Request) -> Response:
    """``InvokeWithResponseStream``: the function's response as event stream frames, a
    ``PayloadChunk`` for each piece as the function writes it (one for the whole payload of
    a function that does not stream), then ``InvokeComplete``. The HTTP head goes when the
    stream begins (its ``Content-Type`` is the stream's), so an invocation that fails
    before it (not found, throttled) is answered as ``Invoke`` answers it."""
    try:
        try:
            call = await _read_call(edge, request, ("RequestResponse",))
        except _BadContent as exc:
            return rest_error(400, "InvalidRequestContentException", str(exc))
        name, qualifier, spec, kind, payload, client_context = call
        if kind == "DryRun":
            return Response(status_code=204)
        if spec.durable is not None:
            raise InvalidRequest(
                f"{name} is a durable function: invoke it with Invoke, not InvokeWithResponseStream"
            )
        version, alias = edge.resolve(name, qualifier)
    except CanariaError as exc:
        return rest_error_from(exc)
    relay = _Relay()
    task = asyncio.ensure_future(
        edge.invoke_resolved(
            name, version, alias, payload, client_context=client_context, stream=relay
        )
    )
    _background.add(task)  # it runs to its end (and is recorded) if the caller goes away
    task.add_done_callback(relay.ended)
    began = asyncio.ensure_future(relay.began.wait())
    await asyncio.wait((task, began), return_when=asyncio.FIRST_COMPLETED)
    began.cancel()
    if not relay.began.is_set():
        failure = task.exception()
        if isinstance(failure, CanariaError):
            return rest_error_from(failure)
    tail = request.headers.get("x-amz-log-type") == "Tail"
    return StreamingResponse(
        relay.frames(task, tail),
        status_code=200,
        media_type=relay.content_type or "application/json",
        headers={"X-Amz-Executed-Version": str(version)},
    )


class _Relay:
    """An ``InvokeWithResponseStream``'s ``ResponseSink``: each piece the function writes
    becomes a ``PayloadChunk`` frame, queued for the response body."""

    # frames queued before the function's writes pause, and down to which they resume
    HIGH, LOW = 32, 8

    def __init__(self) -> None:
        self.began = asyncio.Event()
        self.content_type: str | None = None
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._flow: Flow | None = None
        self._paused = False

    def begin(self, content_type: str | None, flow: Flow) -> None:
        self.content_type = content_type or "application/octet-stream"
        self._flow = flow
        self.began.set()

    def write(self, data: bytes) -> None:
        if data:
            self._queue.put_nowait(eventstream.payload_chunk(data))
            if self._queue.qsize() >= self.HIGH and self._flow is not None and not self._paused:
                self._paused = True  # the caller reads slower than the function writes
                self._flow.pause()

    def _resume(self) -> None:
        if self._paused and self._flow is not None:
            self._paused = False
            self._flow.resume()

    def ended(self, task: asyncio.Future[InvokeResult]) -> None:
        _background.discard(task)
        self._queue.put_nowait(None)

    async def frames(self, task: asyncio.Future[InvokeResult], tail: bool) -> Any:
        try:
            while (frame := await self._queue.get()) is not None:
                if self._queue.qsize() <= self.LOW:
                    self._resume()
                yield frame
        finally:  # the stream is over, or its caller went away
            self._resume()
        try:
            result = task.result()
        except CanariaError as exc:  # the runtime went away mid-stream
            yield eventstream.invoke_complete(exc.code, exc.message, None)
            return
        if not self.began.is_set() and result.function_error is None and result.payload:
            yield eventstream.payload_chunk(result.payload)  # a function that does not stream
        code = details = None
        if result.function_error is not None:
            code, details = _error_fields(result.payload)
        logs = base64.b64encode(result.logs.encode()[-LOG_TAIL_BYTES:]).decode() if tail else None
        yield eventstream.invoke_complete(code, details, logs)


def _error_fields(payload: bytes) -> tuple[str, str]:
    """``InvokeComplete``'s ``ErrorCode`` and ``ErrorDetails`` from Lambda's error shape."""
    try:
        shape = orjson.loads(payload)
    except orjson.JSONDecodeError:
        shape = None
    if not isinstance(shape, dict):
        return "Unhandled", payload.decode("utf-8", "replace")
    return str(shape.get("errorType") or "Unhandled"), str(shape.get("errorMessage") or "")


def _invoke_response(request: Request, result: InvokeResult) -> Response:
    headers = {"X-Amz-Executed-Version": str(result.version)}
    if result.function_error:
        headers["X-Amz-Function-Error"] = result.function_error
    if request.headers.get("x-amz-log-type") == "Tail":
        tail = result.logs.encode()[-LOG_TAIL_BYTES:]
        headers["X-Amz-Log-Result"] = base64.b64encode(tail).decode()
    if result.durable_execution is not None:
        headers[DURABLE_ARN_HEADER] = result.durable_execution
    return Response(result.payload, status_code=200, media_type="application/json", headers=headers)


async def _invoke_durable(
    edge: EdgeBackend,
    request: Request,
    name: str,
    qualifier: str | None,
    payload: bytes,
    kind: str,
) -> Response:
    """Invoke of a durable function: it starts an execution (``canaria.durable``), named
    by ``X-Amz-Durable-Execution-Name`` if the caller gave one; an ``Event`` answers at
    once, a ``RequestResponse`` when the execution ends, with its result."""
    execution_name = request.headers.get("x-amz-durable-execution-name") or None
    if execution_name is not None and not EXECUTION_NAME.fullmatch(execution_name):
        raise InvalidRequest(
            f"DurableExecutionName {execution_name[:80]!r} must be 1 to 64 letters, digits, "
            "hyphens and underscores"
        )
    if kind == "Event":
        arn, version = await edge.start_durable(name, qualifier, payload, execution_name)
        return Response(
            status_code=202,
            headers={DURABLE_ARN_HEADER: arn, "X-Amz-Executed-Version": str(version)},
        )
    result = await edge.run_durable(name, qualifier, payload, execution_name)
    return _invoke_response(request, result)


_background: set[asyncio.Task[Any]] = set()


def _client_context(header: str | None) -> str | None:
    """Invoke's ``ClientContext`` (the ``X-Amz-Client-Context`` header): up to 3,583 bytes
    of base64 of a JSON object. The runtime gets it decoded, as one line of JSON (the
    Runtime API's ``Lambda-Runtime-Client-Context``), which Node.js's runtime exposes as
    ``context.clientContext`` and Python's as ``context.client_context``. Raises
    ``ValueError`` saying what is wrong."""
    if header is None or header == "":
        return None
    if len(header) > CLIENT_CONTEXT_MAX_BYTES:
        raise ValueError(
            f"ClientContext is {len(header)} bytes; at most {CLIENT_CONTEXT_MAX_BYTES} bytes "
            "of base64-encoded JSON are allowed"
        )
    try:
        value = json.loads(base64.b64decode(header, validate=True).decode("utf-8"))
    except ValueError:  # not base64, not UTF-8, not JSON
        value = None
    if not isinstance(value, dict):
        raise ValueError(
            "Client context must be a valid Base64-encoded JSON object "
            '(e.g. base64 of {"custom": {"key": "value"}})'
        )
    return json.dumps(value, separators=(",", ":"))  # one ASCII line: safe as a header


async def get_function(edge: EdgeBackend, request: Request) -> Response:
    try:
        name, qualifier = _named(
            edge, request.path_params["name"], request.query_params.get("Qualifier")
        )
        v, shown = _version_for(edge, name, qualifier)
    except CanariaError as exc:
        return rest_error_from(exc)
    return json_response(
        {
            "Configuration": version_configuration(
                edge, v, shown, qualified_arn=qualifier is not None
            ),
            "Code": {"RepositoryType": "S3", "Location": f"file://{v.artifact}"},
        }
    )


async def get_function_configuration(edge: EdgeBackend, request: Request) -> Response:
    """GetFunctionConfiguration; ``LoggingConfig`` names the log group the function writes
    to (its ``LoggingConfig.LogGroup``, else Lambda's default ``/aws/lambda/<name>``)."""
    try:
        name, qualifier = _named(
            edge, request.path_params["name"], request.query_params.get("Qualifier")
        )
        v, shown = _version_for(edge, name, qualifier)
    except CanariaError as exc:
        return rest_error_from(exc)
    config = version_configuration(edge, v, shown, qualified_arn=qualifier is not None)
    config["LoggingConfig"] = {"LogFormat": "Text", "LogGroup": edge.log_groups.group_of(name)}
    return json_response(config)


async def publish_version(edge: EdgeBackend, request: Request) -> Response:
    try:
        name, _ = _named(edge, request.path_params["name"])
        v = await edge.publish_version(name)
    except CanariaError as exc:
        return rest_error_from(exc)
    return json_response(version_configuration(edge, v, str(v.number)), status=201)


async def list_versions(edge: EdgeBackend, request: Request) -> Response:
    try:
        name, _ = _named(edge, request.path_params["name"])
        edge.function_spec(name)
        versions = edge.store.versions(name)
    except CanariaError as exc:
        return rest_error_from(exc)
    items = []
    if versions:
        items.append(version_configuration(edge, versions[-1], "$LATEST"))
    items.extend(version_configuration(edge, v, str(v.number)) for v in versions)
    return json_response({"Versions": items})


def _page_size(request: Request) -> int:
    raw = request.query_params.get("MaxItems", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
        raise InvalidRequest(f"MaxItems must be from 1 to 10000, got {raw!r}"[:200])
    return int(raw)


def _paged(items: list[dict[str, Any]], request: Request, key: str) -> dict[str, Any]:
    """``items`` from the ``Marker`` on (a position, as this edge writes its markers), at
    most ``MaxItems`` of them, and the next page's ``NextMarker``."""
    size = _page_size(request)
    marker = request.query_params.get("Marker", "0")
    if not marker.isdigit():
        raise InvalidRequest(f"Marker {marker[:100]!r} is not one this endpoint gave")
    start = int(marker)
    body: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        body["NextMarker"] = str(start + size)
    return body


async def list_functions(edge: EdgeBackend, request: Request) -> Response:
    """ListFunctions: each function of the application at ``$LATEST`` (its last
    published version's configuration), with ``FunctionVersion=ALL`` each published
    version too; by name, paged."""
    every = request.query_params.get("FunctionVersion") == "ALL"
    app = edge.app
    items: list[dict[str, Any]] = []
    try:
        for name in sorted(app.functions if app is not None else ()):
            versions = edge.store.versions(name)
            if not versions:
                continue
            items.append(version_configuration(edge, versions[-1], "$LATEST", qualified_arn=every))
            if every:
                items.extend(version_configuration(edge, v, str(v.number)) for v in versions)
        return json_response(_paged(items, request, "Functions"))
    except CanariaError as exc:
        return rest_error_from(exc)


async def list_aliases(edge: EdgeBackend, request: Request) -> Response:
    """ListAliases of a function (``FunctionVersion``: only the aliases pointing there)."""
    try:
        name, _ = _named(edge, request.path_params["name"])
        edge.function_spec(name)
        wanted = request.query_params.get("FunctionVersion")
        aliases = [
            alias_configuration(a)
            for a in sorted(edge.store.aliases(name), key=lambda a: a.name)
            if wanted is None or str(a.version) == wanted
        ]
        return json_response(_paged(aliases, request, "Aliases"))
    except CanariaError as exc:
        return rest_error_from(exc)


async def get_alias(edge: EdgeBackend, request: Request) -> Response:
    try:
        name, _ = _named(edge, request.path_params["name"])
        edge.function_spec(name)
        alias = edge.store.alias(name, request.path_params["alias"])
        if alias is None:
            raise NotFound(f"Alias not found: {function_arn(name, request.path_params['alias'])}")
    except CanariaError as exc:
        return rest_error_from(exc)
    return json_response(alias_configuration(alias))


async def update_alias(edge: EdgeBackend, request: Request) -> Response:
    try:
        name, _ = _named(edge, request.path_params["name"])
        edge.function_spec(name)
        current = edge.store.alias(name, request.path_params["alias"])
        if current is None:
            raise NotFound(f"Alias not found: {function_arn(name, request.path_params['alias'])}")
        try:
            body = orjson.loads(await request.body() or b"{}")
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest("request body is not JSON") from exc
        if not isinstance(body, dict):
            raise InvalidRequest("request body must be a JSON object")
        version = _version_field(body.get("FunctionVersion"), current.version, "FunctionVersion")
        edge.store.version(name, version)
        extra, weight = None, 0.0
        routing = body.get("RoutingConfig")
        if routing is not None and not isinstance(routing, dict):
            raise InvalidRequest("RoutingConfig must be an object")
        weights = (
            routing.get("AdditionalVersionWeights")
            if routing is not None
            else (
                {str(current.additional_version): current.additional_weight}
                if current.additional_version is not None
                else {}
            )
        )
        if weights:
            if not isinstance(weights, dict) or len(weights) > 1:
                raise InvalidRequest("RoutingConfig.AdditionalVersionWeights allows one version")
            ((k, w),) = weights.items()
            extra = version_number(str(k))
            if extra is None:
                raise InvalidRequest(f"additional version {k!r} must be a published version")
            if isinstance(w, bool) or not isinstance(w, int | float) or not 0.0 <= w < 1.0:
                raise InvalidRequest(f"additional version weight {w!r} (allowed: [0.0, 1.0))")
            weight = float(w)
            edge.store.version(name, extra)
        busy = [
            d.id
            for d in edge.store.deployments(active_only=True)
            if any(t.function == name and t.alias == current.name for t in d.targets)
        ]
        if busy:
            raise Conflict(
                f"alias {name}:{current.name} is being deployed by {busy[0]}: its weights are "
                f"the deployment's; stop it first (`canaria stop {busy[0]}`)"
            )
        alias = await edge.update_alias(
            Alias(name, current.name, version, extra if weight else None, weight)
        )
    except CanariaError as exc:
        return rest_error_from(exc)
    except (ValueError, TypeError) as exc:
        return rest_error(400, "InvalidParameterValueException", str(exc))
    return json_response(alias_configuration(alias))
