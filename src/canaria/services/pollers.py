"""Functions' SQS event sources: poll the queue, invoke the function with a batch, delete
what succeeded — as Lambda's event source mapping does.

Per source, one task long-polls the queue (in a thread of the pollers' own pool, so the
event loop and the default executor stay free) and invokes the function through the
same path as every other invocation (its AutoPublishAlias, so a canary deployment splits
queue traffic by its weights and the judge sees it). A batch whose invocation fails
stays in the queue and comes back after the queue's visibility timeout; after the
queue's ``maxReceiveCount`` the engine moves it to the dead-letter queue. With
``ReportBatchItemFailures``, only the messages the function names in
``batchItemFailures`` stay. An SNS event's queue carries one SNS envelope per message;
the function gets it as Lambda's SNS record; an EventBridge rule's queue and a bucket's
notification queue carry the event Lambda would get. A message of those that failed three
times is dropped (Lambda's asynchronous invocation tries three times).

The same readers carry what canaria delivers in the engine's place (a source with a
``forward``: a rule's event to its queue, topic or API destination, a topic's mail to the
outbox), through ``forwarding``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar, assert_never

import orjson

from canaria.errors import CanariaError
from canaria.models import InvokeResult
from canaria.models.arns import REGION
from canaria.models.filters import matches_any, sqs_filter_view
from canaria.models.services import EventSourceKind, QueueEventSource
from canaria.services.clients import EngineClients
from canaria.services.forwarding import (
    Forwarder,
    PutRecords,
    RunGraphQL,
    WriteLog,
    rule_payload,
)
from canaria.services.outbox import Outbox
from canaria.services.queue_messages import delete, receive_count
from canaria.template.service_refs import queue_url

log = logging.getLogger("canaria.services")

Invoke = Callable[[str, bytes], Awaitable[InvokeResult]]  # (function, event) → result
Start = Callable[[str, str], Awaitable[None]]  # (state machine name, input) → started
S = TypeVar("S")
_WAIT_S = 1  # long-poll wait: how long a stopped poller may still hold its thread
_BACKOFF_S = 1.0
SNS_ATTEMPTS = 3  # Lambda's asynchronous invocation: the first try and two retries


def lambda_record(message: dict[str, Any], source: QueueEventSource) -> dict[str, Any]:
    """One SQS message as Lambda hands it to a function."""
    attributes = {k: v for k, v in message.get("Attributes", {}).items()}
    message_attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": value.get("BinaryListValues", []),
            "dataType": value.get("DataType"),
        }
        for name, value in message.get("MessageAttributes", {}).items()
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": source.queue_arn,
        "awsRegion": REGION,
    }


def sns_record(message: dict[str, Any], source: QueueEventSource) -> dict[str, Any]:
    """One SNS notification (the envelope the topic delivered to the queue) as Lambda's
    SNS event record."""
    envelope = orjson.loads(message.get("Body") or b"{}")
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": source.subscription_arn,
        "Sns": {
            "Type": envelope.get("Type", "Notification"),
            "MessageId": envelope.get("MessageId", message["MessageId"]),
            "TopicArn": envelope.get("TopicArn", ""),
            "Subject": envelope.get("Subject"),
            "Message": envelope.get("Message", ""),
            "Timestamp": envelope.get("Timestamp", ""),
            "SignatureVersion": envelope.get("SignatureVersion", "1"),
            "Signature": envelope.get("Signature", ""),
            "SigningCertUrl": envelope.get("SigningCertURL", ""),
            "UnsubscribeUrl": envelope.get("UnsubscribeURL", ""),
            "MessageAttributes": envelope.get("MessageAttributes", {}),
        },
    }


def event_of(messages: Sequence[dict[str, Any]], source: QueueEventSource) -> bytes:
    """The event the function is invoked with."""
    match source.kind:
        case EventSourceKind.SQS:
            return orjson.dumps({"Records": [lambda_record(m, source) for m in messages]})
        case EventSourceKind.SNS:
            return orjson.dumps({"Records": [sns_record(m, source) for m in messages]})
        case EventSourceKind.EVENTBRIDGE | EventSourceKind.S3:  # delivered as Lambda gets it
            (message,) = messages
            return str(message.get("Body", "")).encode()
    assert_never(source.kind)


def succeeded(
    result: InvokeResult, messages: Sequence[dict[str, Any]], source: QueueEventSource
) -> list[dict[str, Any]]:
    """The messages of a batch to delete after ``result``."""
    if result.function_error:
        if source.kind is not EventSourceKind.SQS:  # asynchronous: tried 3 times, then dropped
            return [m for m in messages if receive_count(m) >= SNS_ATTEMPTS]
        return []
    if not source.report_batch_item_failures:
        return list(messages)
    try:
        body = orjson.loads(result.payload or b"null")
    except orjson.JSONDecodeError:
        return list(messages)
    failures = body.get("batchItemFailures") if isinstance(body, dict) else None
    if not failures:
        return list(messages)
    ids = {m["MessageId"] for m in messages}
    failed = set()
    for item in failures if isinstance(failures, list) else [None]:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if ident not in ids:  # Lambda: an invalid report fails the whole batch
            return []
        failed.add(ident)
    return [m for m in messages if m["MessageId"] not in failed]


def _is_notification(message: dict[str, Any]) -> bool:
    try:
        return "Records" in orjson.loads(message.get("Body") or b"{}")
    except orjson.JSONDecodeError:
        return False


class SourceTasks(Generic[S]):
    """One task per event source (a function's event), kept in step with the sources the
    running application has: a source that changed or left has its task cancelled, a new
    one gets a task."""

    def __init__(self, start: Callable[[S], Awaitable[None]]) -> None:
        self._start = start
        self._tasks: dict[tuple[str, str], tuple[S, asyncio.Task[None]]] = {}

    def keep(self, wanted: Mapping[tuple[str, str], S], *, again: bool = False) -> None:
        """Run exactly ``wanted`` (by (function, event)); ``again``: start every one anew."""
        for key, (source, task) in list(self._tasks.items()):
            if again or wanted.get(key) != source:
                task.cancel()
                del self._tasks[key]
        for key, source in wanted.items():
            if key not in self._tasks:
                self._tasks[key] = (source, asyncio.ensure_future(self._start(source)))

    def sources(self) -> dict[tuple[str, str], S]:
        return {key: source for key, (source, _) in self._tasks.items()}

    async def stop(self) -> None:
        tasks = [task for _, task in self._tasks.values()]
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class QueuePollers:
    """One poller per enabled SQS event source of the running application."""

    def __init__(
        self,
        endpoint: str,
        invoke: Invoke,
        start: Start | None = None,
        invoke_event: Invoke | None = None,
        outbox: Outbox | None = None,
        graphql: RunGraphQL | None = None,
        write_log: WriteLog | None = None,
    ) -> None:
        self.endpoint = endpoint  # the services engine, through its relay
        self.invoke = invoke
        # SNS, EventBridge and S3 invoke asynchronously (a durable function's execution
        # is started, not waited for); SQS synchronously
        self.invoke_event = invoke_event or invoke
        self.start = start  # a state machine's EventBridge events start it
        self._tasks = SourceTasks[QueueEventSource](self._poll)
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="canaria-sqs")
        # what canaria delivers in the engine's place: rules' events, mail
        self._clients = EngineClients(endpoint)
        self._forwarder = Forwarder(self._clients, outbox, graphql, write_log)

    @property
    def gateway(self) -> tuple[str, int] | None:
        """Where API destinations' execute-api URLs are served (canaria's gateway)."""
        return self._forwarder.destinations.gateway

    @gateway.setter
    def gateway(self, address: tuple[str, int] | None) -> None:
        self._forwarder.destinations.gateway = address

    @property
    def firehose(self) -> PutRecords | None:
        """Where a topic's ``firehose`` subscription and a rule's delivery stream target
        put their records."""
        return self._forwarder.firehose

    @firehose.setter
    def firehose(self, put: PutRecords | None) -> None:
        self._forwarder.firehose = put

    async def send(self, queue: str, body: bytes) -> None:
        """Put ``body`` on queue ``queue`` of the services engine (a scheduled rule's event
        for a target canaria carries on: its reader delivers it)."""

        def put() -> None:
            self._clients("sqs").send_message(QueueUrl=queue_url(queue), MessageBody=body.decode())

        await asyncio.get_running_loop().run_in_executor(self._pool, put)

    def apply(self, sources: Iterable[object]) -> None:
        """Poll exactly the queue ``sources`` among ``sources`` (the enabled ones); a
        changed source restarts."""
        self._tasks.keep(
            {
                (s.function, s.event): s
                for s in sources
                if isinstance(s, QueueEventSource) and s.enabled
            }
        )

    async def stop(self) -> None:
        await self._tasks.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._forwarder.close()

    def _client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "sqs",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="canaria",
            aws_secret_access_key="canaria",
            config=Config(retries={"max_attempts": 1}, read_timeout=_WAIT_S + 10),
        )

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def _poll(self, source: QueueEventSource) -> None:
        client = await self._run(self._client)
        url = queue_url(source.queue_name)
        while True:
            try:
                messages = await self._run(_receive, client, url, source)
            except Exception as exc:  # the engine restarting, a queue not created yet
                log.warning("polling %s for %s: %s", source.queue_name, source.function, exc)
                await asyncio.sleep(_BACKOFF_S)
                continue
            if not messages:
                continue
            if source.kind is EventSourceKind.S3 and not _is_notification(messages[0]):
                # the s3:TestEvent a bucket sends a queue it starts notifying: Lambda's
                # S3 integration never hands it to a function
                with contextlib.suppress(Exception):
                    await self._run(delete, client, url, messages)
                continue
            if source.filters:
                messages = await self._drop_unmatched(client, url, messages, source)
                if not messages:
                    continue
            if source.kind is EventSourceKind.SNS and source.forward is not None:
                event = str(messages[0].get("Body", "")).encode()  # the notification
            elif source.kind is EventSourceKind.EVENTBRIDGE:
                transformed = rule_payload(messages[0], source)
                if transformed is None:  # EventBridge delivers nothing for it
                    log.warning(
                        "%s: the target's InputTemplate does not make JSON for an event: "
                        "not delivered, as EventBridge does not deliver it",
                        source.event,
                    )
                    with contextlib.suppress(Exception):
                        await self._run(delete, client, url, messages)
                    continue
                event = transformed
            else:
                event = event_of(messages, source)
            if source.forward is not None:
                await self._forwarder.forward(self._run, client, url, source, messages, event)
                continue
            if source.state_machine is not None:
                await self._start_machine(client, url, source, messages, event)
                continue
            try:
                invoke = self.invoke if source.kind is EventSourceKind.SQS else self.invoke_event
                result = await invoke(source.function, event)
            except CanariaError as exc:  # throttled, or no such version: the batch returns
                log.warning("%s from %s: %s", source.function, source.queue_name, exc.message)
                await asyncio.sleep(_BACKOFF_S)
                continue
            done = succeeded(result, messages, source)
            if done:
                with contextlib.suppress(Exception):  # undeleted messages come back
                    await self._run(delete, client, url, done)

    async def _start_machine(
        self,
        client: Any,
        url: str,
        source: QueueEventSource,
        messages: list[dict[str, Any]],
        event: bytes,
    ) -> None:
        """Start the source's state machine with the event (an asynchronous start, as
        EventBridge's): done once started; one that cannot start comes back."""
        assert source.state_machine is not None
        try:
            if self.start is None:
                raise CanariaError("state machines are not started here")
            await self.start(source.state_machine, event.decode())
        except CanariaError as exc:
            log.warning("%s from %s: %s", source.state_machine, source.queue_name, exc.message)
            await asyncio.sleep(_BACKOFF_S)
            return
        with contextlib.suppress(Exception):
            await self._run(delete, client, url, messages)

    async def _drop_unmatched(
        self, client: Any, url: str, messages: list[dict[str, Any]], source: QueueEventSource
    ) -> list[dict[str, Any]]:
        """The messages that match one of the source's filters; the others are deleted
        without invoking the function, as Lambda drops them."""
        kept: list[dict[str, Any]] = []
        dropped: list[dict[str, Any]] = []
        for m in messages:
            view = sqs_filter_view(lambda_record(m, source))
            (kept if matches_any(source.filters, view) else dropped).append(m)
        if dropped:
            with contextlib.suppress(Exception):  # undeleted, they are filtered again
                await self._run(delete, client, url, dropped)
        return kept


def _receive(client: Any, url: str, source: QueueEventSource) -> list[dict[str, Any]]:
    import time

    def once(n: int, wait: int) -> list[dict[str, Any]]:
        got = client.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=n,
            WaitTimeSeconds=wait,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(got.get("Messages", []))

    messages = once(min(10, source.batch_size), _WAIT_S)
    if not messages or source.max_batching_window_s == 0:
        return messages
    deadline = time.monotonic() + source.max_batching_window_s
    while len(messages) < source.batch_size and time.monotonic() < deadline:
        messages += once(min(10, source.batch_size - len(messages)), 0) or []
        if len(messages) < source.batch_size:
            time.sleep(0.05)
    return messages
