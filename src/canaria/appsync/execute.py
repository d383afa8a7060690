"""One GraphQL request as AppSync runs it: the schema (AppSync's scalars and directives
declared), each field with a resolver resolved by it, the others read from their parent's
value, errors in AppSync's shape.

A unit resolver runs its code's ``request`` handler, calls its data source with what
``request`` returned, and runs ``response`` with the data source's answer in
``ctx.result`` (or its failure in ``ctx.error``). A pipeline resolver runs its own
``request``, then each function that way, each seeing the last one's answer in
``ctx.prev.result``, then its own ``response``; ``ctx.stash`` is shared by all of them. A
resolver or function on a Lambda data source without code is a direct Lambda resolver:
the function gets AppSync's context as its event and its answer is the result.

``util.error`` in a handler fails the field: its value is ``null`` and the error is
reported with its ``errorType``, ``data`` and ``errorInfo``; ``util.appendError`` reports
one and goes on. A data source's failure is only ``ctx.error``: the response handler
decides (AppSync's JavaScript runtime raises nothing for it).
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from inspect import isawaitable
from typing import Any, NamedTuple

import graphql
from graphql import GraphQLError, GraphQLSchema, OperationType

from canaria.models.appsync import (
    DYNAMODB,
    HTTP,
    LAMBDA,
    NONE,
    GraphQLApiSpec,
    ResolverSpec,
    Templates,
)
from canaria.models.runtime import InvokeResult
from canaria.template.graphql_schema import appsync_schema

from . import dynamodb, http
from .access import field_rules
from .auth import Caller
from .js import JsRuntime, ResolverCodeError
from .realtime import Subscriptions
from .vtl import VtlError, render

Invoke = Callable[[str, str | None, bytes], Awaitable[InvokeResult]]
MAX_REMEMBERED_QUERIES = 512  # parsed and validated queries kept, by their text
MAX_REMEMBERED_QUERY = 64 * 1024  # longer queries are validated each time
Info = graphql.GraphQLResolveInfo[Any]  # the context: ``Request``


class FieldError(Exception):
    """A field that failed: what AppSync reports for it."""

    def __init__(
        self,
        message: str,
        error_type: str | None = None,
        data: Any = None,
        error_info: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.data = data
        self.error_info = error_info


@dataclass
class Request:
    """What every resolver of one GraphQL request shares."""

    identity: Any
    headers: Mapping[str, str]
    domain: str
    variables: Mapping[str, Any]
    now_ms: int | None
    mode: str | None = None  # the authorization mode that let it in (None: not checked)
    denied: frozenset[str] = frozenset()  # Type.field a Lambda authorizer denied
    appended: list[dict[str, Any]] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)


class Ran(NamedTuple):
    """What one handler gave: its value; whether it returned early (``earlyReturn``,
    ``#return``); whether that skips the rest of the pipeline (``skipTo: 'END'``)."""

    value: Any
    early: bool
    end: bool


@dataclass(frozen=True)
class Handlers:
    """A resolver's or function's ``APPSYNC_JS`` code, or its VTL templates."""

    code: str | None
    templates: Templates | None

    def __bool__(self) -> bool:
        return self.code is not None or self.templates is not None

    def has(self, handler: str) -> bool:
        if self.code is not None:
            return True
        return self.templates is not None and getattr(self.templates, handler) is not None


_DIRECT_EVENT = ("arguments", "identity", "source", "request", "prev", "info", "stash")


def _direct_event(ctx: Mapping[str, Any]) -> dict[str, Any]:
    """What a direct Lambda resolver's function gets: AppSync's context, as AppSync sends
    it (no ``env``, ``result`` or ``error``)."""
    return {key: ctx.get(key) for key in _DIRECT_EVENT}


def _version(asked: Any) -> str | None:
    """A request template's ``version`` (``2017-02-28`` or ``2018-05-29``)."""
    return asked.get("version") if isinstance(asked, Mapping) else None


class GraphQLApi:
    """An API's schema and resolvers, ready to execute requests."""

    def __init__(
        self,
        spec: GraphQLApiSpec,
        js: JsRuntime,
        invoke: Invoke,
        table_client: Callable[[], Any],
        subscriptions: Subscriptions | None = None,
        send: http.Send | None = None,
    ) -> None:
        self.spec = spec
        self._send = send  # an HTTP data source's requests
        self.subscriptions = subscriptions or Subscriptions()
        self._js = js
        self._invoke = invoke
        self._table_client = table_client
        self._client: Any = None
        self._events: set[asyncio.Task[Any]] = set()
        self._documents: OrderedDict[
            str, tuple[graphql.DocumentNode | None, list[GraphQLError]]
        ] = OrderedDict()
        self.schema: GraphQLSchema = appsync_schema(spec.schema)
        for resolver in spec.resolvers:
            gtype = self.schema.get_type(resolver.type_name)
            fields = getattr(gtype, "fields", None)
            if fields is not None and resolver.field_name in fields:
                fields[resolver.field_name].resolve = self._resolver(resolver)
        self.triggers = Subscriptions.triggers(self.schema)
        self._access = field_rules(self.schema, spec.default_mode)
        # checked per field only where a mode could be refused
        # (graphql-core takes a function, or an object with a ``resolve`` method: this one)
        self._middleware = [self] if len(set(spec.auth)) > 1 or self._access else None

    async def execute(
        self,
        query: str,
        variables: Mapping[str, Any] | None,
        operation: str | None,
        request: Request,
    ) -> dict[str, Any]:
        """The response document AppSync sends for a request: ``data`` and ``errors``. A
        mutation's result goes to the subscribers of the subscriptions it triggers."""
        document, problems = self._document(query)
        if problems:
            return {"data": None, "errors": [_error_shape(e) for e in problems]}
        assert document is not None
        result = graphql.execute(
            self.schema,
            document,
            context_value=request,
            variable_values=dict(variables or {}),
            operation_name=operation,
            middleware=self._middleware,
        )
        if isawaitable(result):
            result = await result
        assert isinstance(result, graphql.ExecutionResult)
        out: dict[str, Any] = {"data": result.data}
        errors = [_error_shape(e) for e in result.errors or ()] + request.appended
        if errors:
            out["errors"] = errors
        chosen = graphql.get_operation_ast(document, operation)
        if chosen is not None and chosen.operation == OperationType.MUTATION and result.data:
            self.subscriptions.publish(self.schema, self.triggers, _by_field(chosen, result.data))
        return out

    def _document(self, query: str) -> tuple[graphql.DocumentNode | None, list[GraphQLError]]:
        """A query parsed and validated against the schema, remembered by its text: a
        client sends the same few queries again and again, and validating one costs over
        a millisecond (graphql-core walks the document once per rule)."""
        known = self._documents.get(query)
        if known is not None:
            self._documents.move_to_end(query)
            return known
        try:
            document: graphql.DocumentNode | None = graphql.parse(query)
        except GraphQLError as exc:
            return None, [exc]
        assert document is not None
        found = (document, graphql.validate(self.schema, document))
        if len(query) <= MAX_REMEMBERED_QUERY:
            self._documents[query] = found
            if len(self._documents) > MAX_REMEMBERED_QUERIES:
                self._documents.popitem(last=False)
        return found

    async def subscribe(
        self, field: str, arguments: Mapping[str, Any], caller: Caller, headers: Mapping[str, str]
    ) -> tuple[str, str | None] | None:
        """Run a subscription field's resolver, when it has one, as a client subscribes:
        None, or the (message, errorType) that refuses the subscription (a field its
        authorization mode may not read, or a failing resolver)."""
        request = Request(
            caller.identity, headers, headers.get("host", ""), {}, None, caller.mode, caller.denied
        )
        if not self._allows(request, "Subscription", field):
            return f"Not Authorized to access {field} on type Subscription", "Unauthorized"
        spec = self.spec.resolver("Subscription", field)
        if spec is None:
            return None
        ctx = self._context(None, "Subscription", field, arguments, request, [])
        try:
            await self._resolve(spec, ctx, request, [field])
        except FieldError as exc:
            return exc.message, exc.error_type
        except ResolverCodeError as exc:
            return str(exc), "Code"
        return None

    # ---- authorization of each field -------------------------------------------------------

    def _allows(self, request: Request, type_name: str, field_name: str) -> bool:
        if request.mode is None:
            return True
        if f"{type_name}.{field_name}" in request.denied:
            return False
        rule = self._access.get((type_name, field_name))
        if rule is None:  # no directive on the field or its type: the default mode only
            return request.mode == self.spec.default_mode
        groups = rule.get(request.mode, ())
        if request.mode not in rule:
            return False
        if groups is None:
            return True
        held = request.identity.get("groups") if isinstance(request.identity, dict) else None
        return bool(set(groups) & set(held or ()))

    def resolve(self, resolve: Any, source: Any, info: Info, **args: Any) -> Any:
        """graphql-core middleware, around every field: one the request's mode may not read
        is ``null`` with AppSync's ``Unauthorized`` error."""
        if not info.field_name.startswith("__") and not self._allows(
            info.context, info.parent_type.name, info.field_name
        ):
            raise FieldError(
                f"Not Authorized to access {info.field_name} on type {info.parent_type.name}",
                "Unauthorized",
            )
        return resolve(source, info, **args)

    # ---- resolvers ------------------------------------------------------------------------

    def _resolver(self, spec: ResolverSpec) -> Callable[..., Awaitable[Any]]:
        async def resolve(source: Any, info: Info, **args: Any) -> Any:
            if info.operation.operation == OperationType.SUBSCRIPTION:
                # an event's payload is the mutation's result: no resolver runs for it
                return source.get(info.field_name) if isinstance(source, Mapping) else None
            request: Request = info.context
            ctx = self._context(source, info.parent_type.name, info.field_name, args, request, info)
            try:
                return await self._resolve(spec, ctx, request, info.path.as_list())
            except ResolverCodeError as exc:
                raise FieldError(str(exc), "Code") from None

        return resolve

    async def _resolve(
        self, spec: ResolverSpec, ctx: dict[str, Any], request: Request, path: list[str | int]
    ) -> Any:
        if spec.kind == "PIPELINE":
            return await self._pipeline(spec, ctx, request, path)
        assert spec.data_source is not None
        handlers = Handlers(spec.code, spec.templates)
        value, _ = await self._step(handlers, spec.data_source, ctx, request, path)
        return value

    def _context(
        self,
        source: Any,
        parent: str,
        field: str,
        args: Mapping[str, Any],
        request: Request,
        info: Info | list[str],
    ) -> dict[str, Any]:
        headers = dict(request.headers)
        return {
            "arguments": dict(args),
            "identity": request.identity,
            "source": source,
            "request": {"headers": headers, "domainName": request.domain},
            "info": {
                "fieldName": field,
                "parentTypeName": parent,
                "variables": dict(request.variables),
                "selectionSetList": _selection_list(info) if not isinstance(info, list) else [],
                "selectionSetGraphQL": _selection_text(info) if not isinstance(info, list) else "",
            },
            "stash": {},
            "prev": None,
            "env": dict(self.spec.environment),
        }

    async def _pipeline(
        self,
        spec: ResolverSpec,
        ctx: dict[str, Any],
        request: Request,
        path: list[str | int],
    ) -> Any:
        handlers = Handlers(spec.code, spec.templates)
        if not handlers:
            raise FieldError(
                "this pipeline resolver has neither code nor mapping templates",
                "MappingTemplate",
            )
        before = await self._run(handlers, "request", ctx, request, path)
        prev = before.value
        if not before.early:  # an early return here skips every function
            for name in spec.functions:
                function = self.spec.functions[name]
                ctx["prev"] = {"result": prev}
                ctx.pop("result", None)
                ctx.pop("error", None)
                prev, end = await self._step(
                    Handlers(function.code, function.templates),
                    function.data_source,
                    ctx,
                    request,
                    path,
                )
                if end:  # runtime.earlyReturn(..., {skipTo: 'END'})
                    break
        ctx["prev"] = {"result": prev}
        ctx.pop("result", None)
        ctx.pop("error", None)
        after = await self._run(handlers, "response", ctx, request, path)
        return after.value

    async def _step(
        self,
        handlers: Handlers,
        data_source: str,
        ctx: dict[str, Any],
        request: Request,
        path: list[str | int],
    ) -> tuple[Any, bool]:
        """A unit resolver, or one function of a pipeline: its value, and whether its
        ``runtime.earlyReturn`` skips the rest of the pipeline (``skipTo: 'END'``). An
        early return from the request handler (``#return`` in VTL) skips the data source
        and the response handler. Without a request template, a Lambda data source gets
        AppSync's context (a direct Lambda resolver); without a response template, the
        data source's answer is the value."""
        source = self.spec.data_sources.get(data_source)
        if source is None:  # a pipeline function given by Id, defined elsewhere
            raise FieldError(
                "a function of this resolver is defined outside the template, or its data "
                "source is: canaria cannot run it",
                "NotServedByCanaria",
            )
        if not handlers.has("request"):
            if source.kind != LAMBDA:
                raise FieldError(
                    f"a resolver on a {source.kind} data source needs code or a request "
                    "mapping template",
                    "MappingTemplate",
                )
            answer, failure = await self._lambda(source.name, _direct_event(ctx))
            if failure is not None:
                raise FieldError(failure["message"], failure["type"])
            if not handlers.has("response"):
                return answer, False
            ctx["result"] = answer
            return (await self._run(handlers, "response", ctx, request, path)).value, False
        asked = await self._run(handlers, "request", ctx, request, path)
        if asked.early:
            return asked.value, asked.end
        result, failure = await self._call(data_source, asked.value)
        ctx["result"] = result
        if failure is not None:
            ctx["error"] = failure
            if handlers.code is None and _version(asked.value) == "2017-02-28":
                # templates of the first version do not see a failure: AppSync raises it
                raise FieldError(failure["message"], failure["type"], result)
        if not handlers.has("response"):
            if failure is not None:
                raise FieldError(failure["message"], failure["type"], result)
            return result, False
        answered = await self._run(handlers, "response", ctx, request, path)
        return answered.value, answered.end

    async def _run(
        self,
        handlers: Handlers,
        handler: str,
        ctx: dict[str, Any],
        request: Request,
        path: list[str | int],
    ) -> Ran:
        """One handler: the code's ``request`` or ``response`` function, or the VTL
        template of that name."""
        if handlers.code is not None:
            js = await self._js.call(handlers.code, handler, ctx, now_ms=request.now_ms)
            stash, logs, errors, error = js.stash, js.logs, js.errors, js.error
            ran = Ran(js.value, js.early, js.early and js.skip_to == "END")
        else:
            assert handlers.templates is not None
            template = getattr(handlers.templates, handler)
            try:
                vtl = render(template, ctx, which=handler, now_ms=request.now_ms)
            except VtlError as exc:
                raise FieldError(str(exc), exc.error_type) from None
            stash, logs, errors, error = vtl.stash, vtl.logs, vtl.errors, vtl.error
            ran = Ran(vtl.value, vtl.returned, False)
        ctx["stash"] = stash
        request.logs.extend(logs)
        for e in errors:
            request.appended.append(_appended(e, path))
        if error is not None:
            raise FieldError(
                str(error.get("message")),
                error.get("errorType"),
                error.get("data"),
                error.get("errorInfo"),
            )
        return ran

    # ---- data sources ---------------------------------------------------------------------

    async def _call(self, name: str, asked: Any) -> tuple[Any, dict[str, Any] | None]:
        """A data source's answer to a request handler's result: (``ctx.result``, None),
        or (None, ``ctx.error``)."""
        source = self.spec.data_sources[name]
        if source.kind == NONE:
            return (asked.get("payload") if isinstance(asked, Mapping) else None), None
        if source.kind == LAMBDA:
            if not isinstance(asked, Mapping) or "payload" not in asked:
                payload = asked
            else:
                payload = asked["payload"]
            if isinstance(asked, Mapping) and asked.get("invocationType") == "Event":
                task = asyncio.ensure_future(self._lambda(name, payload))
                self._events.add(task)  # an Event invocation: not waited for
                task.add_done_callback(self._events.discard)
                return None, None
            return await self._lambda(name, payload)
        if source.kind == DYNAMODB:
            assert source.table is not None
            if not isinstance(asked, Mapping):
                raise FieldError(
                    "a DynamoDB request must be an object with an operation",
                    "DynamoDB:DynamoDbException",
                )
            if self._client is None:
                self._client = self._table_client()
            try:
                result = await asyncio.to_thread(dynamodb.run, self._client, source.table, asked)
            except dynamodb.DataSourceError as exc:
                # AppSync puts what DynamoDB holds beside the error (the item a condition
                # rejected, a cancelled transaction's reasons) in ctx.result
                return exc.data, {"message": exc.message, "type": exc.error_type}
            except dynamodb.RequestError as exc:
                raise FieldError(str(exc), "DynamoDB:DynamoDbException") from None
            return result, None
        if source.kind == HTTP and self._send is not None:
            return await http.call(self._send, source, asked)
        raise FieldError(
            f"data source {name!r} is {source.kind}, which canaria does not run",
            "NotServedByCanaria",
        )

    async def _lambda(self, name: str, payload: Any) -> tuple[Any, dict[str, Any] | None]:
        source = self.spec.data_sources[name]
        if source.function is None:
            return None, {
                "message": f"data source {name!r} names no function of the template",
                "type": "Lambda:ResourceNotFoundException",
            }
        result = await self._invoke(source.function, source.qualifier, _dumps(payload))
        try:
            answer = json.loads(result.payload) if result.payload else None
        except ValueError:
            answer = result.payload.decode("utf-8", "replace")
        if result.function_error is not None:
            message = answer.get("errorMessage") if isinstance(answer, Mapping) else None
            return None, {
                "message": str(message or result.error_type or "Unhandled"),
                "type": "Lambda:Unhandled",
            }
        return answer, None


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _error_shape(error: GraphQLError) -> dict[str, Any]:
    """An error as AppSync reports it: ``errorType``, ``data`` and ``errorInfo`` beside the
    message, path and locations."""
    original = error.original_error
    shape: dict[str, Any] = {
        "path": error.path,
        "data": None,
        "errorType": None,
        "errorInfo": None,
        "locations": [
            {"line": loc.line, "column": loc.column, "sourceName": None}
            for loc in error.locations or ()
        ],
        "message": error.message,
    }
    if isinstance(original, FieldError):
        shape.update(
            data=original.data,
            errorType=original.error_type,
            errorInfo=original.error_info,
            message=original.message,
        )
    elif original is None and error.path is None:
        shape["errorType"] = "ValidationError" if error.locations else None
    return shape


def _by_field(
    operation: graphql.OperationDefinitionNode, data: Mapping[str, Any]
) -> dict[str, Any]:
    """A mutation's result keyed by field name rather than by alias."""
    out: dict[str, Any] = {}
    for node in operation.selection_set.selections:
        if isinstance(node, graphql.FieldNode):
            key = node.alias.value if node.alias else node.name.value
            if key in data:
                out[node.name.value] = data[key]
    return out


def _appended(error: Mapping[str, Any], path: list[str | int]) -> dict[str, Any]:
    return {
        "path": path,
        "data": error.get("data"),
        "errorType": error.get("errorType"),
        "errorInfo": error.get("errorInfo"),
        "locations": [],
        "message": str(error.get("message")),
    }


def _selection_list(info: Info) -> list[str]:
    """``ctx.info.selectionSetList``: each field selected below this one, as a path
    (``children``, ``children/id``), fragments spread in."""
    out: list[str] = []

    def walk(selection_set: graphql.SelectionSetNode | None, prefix: str) -> None:
        for node in selection_set.selections if selection_set else ():
            if isinstance(node, graphql.FieldNode):
                name = node.name.value
                if name == "__typename":
                    continue
                path = f"{prefix}{name}"
                out.append(path)
                walk(node.selection_set, path + "/")
            elif isinstance(node, graphql.InlineFragmentNode):
                walk(node.selection_set, prefix)
            elif isinstance(node, graphql.FragmentSpreadNode):
                fragment = info.fragments.get(node.name.value)
                if fragment is not None:
                    walk(fragment.selection_set, prefix)

    for node in info.field_nodes:
        walk(node.selection_set, "")
    return out


def _selection_text(info: Info) -> str:
    node = info.field_nodes[0]
    return graphql.print_ast(node.selection_set) if node.selection_set else ""
