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
``forward``): a rule's event, written as EventBridge writes it and transformed by the
target's ``Input``, ``InputPath`` or ``InputTransformer``, to a queue, a topic or an API
destination (``api_destinations``), retried and dead-lettered as the target's
``RetryPolicy`` and ``DeadLetterConfig`` say; and a topic's notification to an email
address or a phone number, kept in the outbox (``outbox``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar, assert_never

import orjson
from botocore.exceptions import ClientError

from canaria.errors import CanariaError
from canaria.models import InvokeResult
from canaria.models.arns import ACCOUNT, REGION
from canaria.models.event_transforms import apply
from canaria.models.filters import matches_any, sqs_filter_view
from canaria.models.services import EventSourceKind, Forward, QueueEventSource
from canaria.services.api_destinations import ApiDestinations, CallFailed
from canaria.services.clients import EngineClients
from canaria.services.outbox import Outbox
from canaria.template.service_refs import queue_url

log = logging.getLogger("canaria.services")

Invoke = Callable[[str, bytes], Awaitable[InvokeResult]]  # (function, event) → result
Start = Callable[[str, str], Awaitable[None]]  # (state machine name, input) → started
S = TypeVar("S")
_WAIT_S = 1  # long-poll wait: how long a stopped poller may still hold its thread
_BACKOFF_S = 1.0
_RETRY_CAP_S = 60  # a rule target's retries come at most this far apart
# an EventBridge event's fields, in the order EventBridge writes them
_EVENT_FIELDS = (
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
)
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


def rule_event(message: dict[str, Any]) -> dict[str, Any] | None:
    """The EventBridge event a rule delivered to ``message``'s queue, as EventBridge
    writes it: its fields in EventBridge's order, with the ``account`` the engine leaves
    out; None when the body is not an event."""
    try:
        event = orjson.loads(str(message.get("Body", "")))
    except orjson.JSONDecodeError:
        return None
    if not isinstance(event, dict) or "detail-type" not in event:
        return None
    out = {k: event[k] for k in _EVENT_FIELDS[:4] if k in event}
    out["account"] = event.get("account") or ACCOUNT
    out.update({k: event[k] for k in _EVENT_FIELDS[5:] if k in event})
    out.update({k: v for k, v in event.items() if k not in out})
    return out


def rule_payload(message: dict[str, Any], source: QueueEventSource) -> bytes | None:
    """What a rule's target gets for the event in ``message``: the event, or what the
    target's ``Input``, ``InputPath`` or ``InputTransformer`` makes of it; None for
    nothing."""
    event = rule_event(message)
    if event is None:
        return str(message.get("Body", "")).encode()
    text = apply(source.transform, event, source.rule_arn, source.rule_name)
    return None if text is None else text.encode()


def succeeded(
    result: InvokeResult, messages: Sequence[dict[str, Any]], source: QueueEventSource
) -> list[dict[str, Any]]:
    """The messages of a batch to delete after ``result``."""
    if result.function_error:
        if source.kind is not EventSourceKind.SQS:  # asynchronous: tried 3 times, then dropped
            return [m for m in messages if _receives(m) >= SNS_ATTEMPTS]
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


def _receives(message: dict[str, Any]) -> int:
    try:
        return int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
    except ValueError:
        return 1


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
    ) -> None:
        self.endpoint = endpoint  # the services engine, through its relay
        self.invoke = invoke
        # SNS, EventBridge and S3 invoke asynchronously (a durable function's execution
        # is started, not waited for); SQS synchronously
        self.invoke_event = invoke_event or invoke
        self.start = start  # a state machine's EventBridge events start it
        self._tasks = SourceTasks[QueueEventSource](self._poll)
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="canaria-sqs")
        self._clients = EngineClients(endpoint)
        self._destinations = ApiDestinations()
        self.outbox = outbox  # a topic's email and SMS subscribers' messages

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
        self._destinations.close()

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
                    await self._run(_delete, client, url, messages)
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
                        await self._run(_delete, client, url, messages)
                    continue
                event = transformed
            else:
                event = event_of(messages, source)
            if source.forward is not None:
                await self._forward(client, url, source, messages, event)
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
                    await self._run(_delete, client, url, done)

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
            await self._run(_delete, client, url, messages)

    async def _forward(
        self,
        client: Any,
        url: str,
        source: QueueEventSource,
        messages: list[dict[str, Any]],
        event: bytes,
    ) -> None:
        """Carry a rule's event on to its queue, topic or API destination, as EventBridge
        delivers it: a failure that may pass (a throttle, a 5xx, the engine restarting)
        comes back later, sooner at first (1, 2, 4, ... s, at most a minute apart), until
        the target's ``RetryPolicy`` runs out; then, or at once for one that will not
        pass, the event goes to the target's dead-letter queue, if it has one, and is
        dropped from canaria's queue."""
        forward = source.forward
        assert forward is not None
        message = messages[0]
        try:
            await self._run(self._send_on, forward, event, message)
        except Exception as exc:
            failure = _failure(exc)
            tries = _receives(message)
            condition = None
            if failure.retryable:
                if tries > forward.delivery.max_attempts:
                    condition = "MaximumRetryAttempts"
                elif _age_s(message) >= forward.delivery.max_age_s:
                    condition = "MaximumEventAgeInSeconds"
                else:
                    delay = failure.after_s or min(2 ** (tries - 1), _RETRY_CAP_S)
                    log.warning(
                        "%s → %s: %s (tried again in %.0f s)",
                        source.event,
                        forward.arn,
                        failure.message,
                        delay,
                    )
                    with contextlib.suppress(Exception):
                        await self._run(_come_back_in, client, url, message, delay)
                    return
            dead_letter = forward.delivery.dead_letter_arn
            log.warning(
                "%s → %s: %s; the event is %s",
                source.event,
                forward.arn,
                failure.message,
                "sent to the dead-letter queue" if dead_letter else "dropped",
            )
            if dead_letter is not None:
                attributes = {
                    "RULE_ARN": source.rule_arn,
                    "TARGET_ARN": forward.arn,
                    "ERROR_CODE": failure.code,
                    "ERROR_MESSAGE": failure.message,
                    "RETRY_ATTEMPTS": str(tries - 1),
                }
                if condition is not None:
                    attributes["EXHAUSTED_RETRY_CONDITION"] = condition
                try:
                    await self._run(_dead_letter, self._clients, dead_letter, message, attributes)
                except Exception as dlq:  # it stays in canaria's queue: tried again later
                    log.warning("%s: dead-letter queue: %s", source.event, dlq)
                    return
        with contextlib.suppress(Exception):
            await self._run(_delete, client, url, messages)

    def _send_on(self, forward: Forward, body: bytes, message: dict[str, Any]) -> None:
        """A rule's event, sent to the queue, topic or API destination it targets, or a
        topic's notification kept in the outbox (from a pool thread)."""
        if forward.kind in ("email", "email-json", "sms"):
            envelope = orjson.loads(body or b"{}")
            if self.outbox is None:
                log.warning("%s to %s: no outbox here, dropped", forward.kind, forward.arn)
                return
            self.outbox.deliver(forward.kind, forward.arn, envelope)
            return
        if forward.kind == "api_destination":
            assert forward.destination is not None
            event = rule_event(message) or {}
            self._destinations.call(forward.destination, forward.http, body, event)
            return
        text = body.decode()
        name = forward.arn.rsplit(":", 1)[-1]
        if forward.kind == "topic":
            self._clients("sns").publish(TopicArn=forward.arn, Message=text)
            return
        request: dict[str, Any] = {"QueueUrl": queue_url(name), "MessageBody": text}
        if name.endswith(".fifo"):
            # EventBridge's message group (SqsParameters), and the event's id as the
            # deduplication id, so a retried delivery is not a second message
            request["MessageGroupId"] = forward.message_group_id or "canaria"
            request["MessageDeduplicationId"] = _event_id(message)
        self._clients("sqs").send_message(**request)

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
                await self._run(_delete, client, url, dropped)
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


class _Failure:
    def __init__(
        self, code: str, message: str, retryable: bool, after_s: float | None = None
    ) -> None:
        self.code, self.message, self.retryable, self.after_s = code, message, retryable, after_s


def _failure(exc: Exception) -> _Failure:
    """What a failed delivery was, as a dead-letter queue names it, and whether
    EventBridge would try it again."""
    if isinstance(exc, CallFailed):
        return _Failure(exc.code, exc.message, exc.retryable, exc.after_s)
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        text = str(error.get("Message", "")) or code
        if "NonExistent" in code or code in ("NotFound", "QueueDoesNotExist"):
            return _Failure("NO_RESOURCE", text, False)
        if "Throttl" in code:
            return _Failure("THROTTLING", text, True)
        return _Failure("SDK_CLIENT_ERROR", text, False)
    return _Failure("SDK_CLIENT_ERROR", str(exc) or type(exc).__name__, True)


def _age_s(message: dict[str, Any]) -> float:
    import time

    try:
        sent = int(message.get("Attributes", {}).get("SentTimestamp", "0")) / 1000
    except ValueError:
        return 0.0
    return time.time() - sent if sent else 0.0


def _come_back_in(client: Any, url: str, message: dict[str, Any], delay_s: float) -> None:
    client.change_message_visibility(
        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=int(delay_s)
    )


def _dead_letter(
    clients: EngineClients, arn: str, message: dict[str, Any], attributes: dict[str, str]
) -> None:
    """The event EventBridge could not deliver, as it sends it to a dead-letter queue:
    the event itself, with what happened as message attributes."""
    event = rule_event(message)
    clients("sqs").send_message(
        QueueUrl=queue_url(arn.rsplit(":", 1)[-1]),
        MessageBody=orjson.dumps(event).decode() if event else str(message.get("Body", "")),
        MessageAttributes={
            k: {"DataType": "String", "StringValue": v or "-"} for k, v in attributes.items()
        },
    )


def _event_id(message: dict[str, Any]) -> str:
    try:
        event = orjson.loads(str(message.get("Body", "")))
    except orjson.JSONDecodeError:
        event = None
    ident = event.get("id") if isinstance(event, dict) else None
    return str(ident) if ident else str(message["MessageId"])


def _delete(client: Any, url: str, messages: Sequence[dict[str, Any]]) -> None:
    for i in range(0, len(messages), 10):
        chunk = messages[i : i + 10]
        client.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(chunk)
            ],
        )
