"""What canaria delivers in the services engine's place: an EventBridge rule's event to
its target, and a topic's notification to an email address or a phone number.

The engine (moto) matches a rule's events but does not deliver them as EventBridge does
(``template.eventbridge`` says why), and it cannot mail. So such a target reads from a
queue of canaria's own, and the pollers hand each message to ``Forwarder.forward``:

- a rule's event is written as EventBridge writes it (``rule_event``: its fields in
  order, its ``account``) and transformed by the target's ``Input``, ``InputPath`` or
  ``InputTransformer`` (``rule_payload``), then sent to a queue (a FIFO queue's message
  group kept, the event id as deduplication id), a topic or an API destination
  (``api_destinations``) or an AppSync API (its ``GraphQLOperation`` run on the
  template's GraphQL API, the input as variables) or a log group (the event as the
  message, in a stream named by its id: canaria's choice, AWS's naming is not
  documented). A failure that may pass (a throttle, a 5xx, the engine restarting) comes
  back later, 1, 2, 4, ... seconds apart (at most a minute, or as ``Retry-After`` says),
  until the target's ``RetryPolicy`` runs out; then, or at once for one that will not
  pass, the event goes to the target's ``DeadLetterConfig`` queue with EventBridge's
  attributes, or is dropped.
- a topic's notification to an ``email``, ``email-json`` or ``sms`` subscriber is kept in
  the outbox (``outbox``).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from botocore.exceptions import ClientError

from canaria.errors import CanariaError
from canaria.log_groups import name_of_arn
from canaria.models.arns import ACCOUNT
from canaria.models.event_transforms import apply
from canaria.models.services import EventSourceKind, Forward, QueueEventSource
from canaria.services.api_destinations import ApiDestinations, CallFailed
from canaria.services.clients import EngineClients
from canaria.services.outbox import Outbox
from canaria.services.queue_messages import age_s, come_back_in, delete, receive_count
from canaria.template.service_refs import queue_url

log = logging.getLogger("canaria.services")

Run = Callable[..., Awaitable[Any]]  # runs a blocking call on the pollers' threads
# runs an operation on the template's GraphQL API: (its logical id, query, variables)
RunGraphQL = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]
# writes (timestamp ms, message) events to a stream of a log group: (group, stream, events)
WriteLog = Callable[[str, str, list[tuple[int, str]]], None]
# puts records to a Firehose delivery stream: (its ARN, the records)
PutRecords = Callable[[str, list[bytes]], object]

_RETRY_CAP_S = 60  # a rule target's retries come at most this far apart
# what a topic's notification to a delivery stream holds, in SNS's order
_FIREHOSE_ENVELOPE = (
    "Type",
    "MessageId",
    "TopicArn",
    "Subject",
    "Message",
    "Timestamp",
    "UnsubscribeURL",
    "MessageAttributes",
)
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


class Forwarder:
    """Delivers for the sources that have a ``forward``."""

    def __init__(
        self,
        clients: EngineClients,
        outbox: Outbox | None = None,
        graphql: RunGraphQL | None = None,
        write_log: WriteLog | None = None,
    ) -> None:
        self._clients = clients
        self.destinations = ApiDestinations()
        self._outbox = outbox  # a topic's email and SMS subscribers' messages
        self._run_graphql = graphql  # an AppSync target's operation, on the local API
        self._write_log = write_log  # a log group target's events
        self.firehose: PutRecords | None = None  # a delivery stream's records

    def _log(self, forward: Forward, body: bytes, message: dict[str, Any]) -> None:
        """A log group target: the event (as the target's transform made it) is the
        message of one event in a stream named by the event's id."""
        group = name_of_arn(forward.arn)
        if self._write_log is None or group is None:
            raise CallFailed("SDK_CLIENT_ERROR", "no log groups are kept here", retryable=False)
        sent = str(message.get("Attributes", {}).get("SentTimestamp", ""))
        stamp = int(sent) if sent.isdigit() else int(time.time() * 1000)
        self._write_log(group, _event_id(message), [(stamp, body.decode())])

    def _firehose(self, forward: Forward, body: bytes, source: QueueEventSource) -> None:
        """A delivery stream: a rule's event is one record, as EventBridge puts it; a
        topic's notification is one record followed by a newline, as SNS puts it (the
        message alone with raw message delivery, else SNS's JSON envelope)."""
        if self.firehose is None:
            raise CallFailed("SDK_CLIENT_ERROR", "no delivery streams run here", retryable=False)
        record = body
        if source.kind is EventSourceKind.SNS:
            envelope = orjson.loads(body or b"{}")
            if forward.raw:
                record = str(envelope.get("Message", "")).encode()
            else:  # SNS's metadata, on one line, without the signature's fields
                record = orjson.dumps(
                    {k: envelope[k] for k in _FIREHOSE_ENVELOPE if envelope.get(k) is not None}
                )
            record += b"\n"
        try:
            self.firehose(forward.arn, [record])
        except CanariaError as exc:  # a stream holding too much is tried again later
            busy = exc.code == "ServiceUnavailableException"
            raise CallFailed(
                "THROTTLING" if busy else "NO_RESOURCE", exc.message, retryable=busy
            ) from None

    async def _graphql(self, forward: Forward, body: bytes) -> None:
        """An AppSync target: its ``GraphQLOperation`` run on the template's API, with
        what the target's transform made of the event as its variables, as EventBridge
        runs it (signed by the rule's role: ``AWS_IAM``)."""
        assert forward.graphql is not None
        api, operation = forward.graphql
        if self._run_graphql is None:
            raise CallFailed("SDK_CLIENT_ERROR", "no GraphQL API is served here", retryable=False)
        try:
            variables = orjson.loads(body)
        except orjson.JSONDecodeError:
            variables = None
        if not isinstance(variables, dict):
            raise CallFailed(
                "SDK_CLIENT_ERROR",
                "an AppSync target's input must be a JSON object (the operation's variables)",
                retryable=False,
            )
        answer = await self._run_graphql(api, operation, variables)
        errors = answer.get("errors")
        if errors:
            raise CallFailed("ERROR_FROM_TARGET", orjson.dumps(errors).decode(), retryable=False)

    def close(self) -> None:
        self.destinations.close()

    async def forward(
        self,
        run: Run,
        client: Any,
        url: str,
        source: QueueEventSource,
        messages: list[dict[str, Any]],
        event: bytes,
    ) -> None:
        """Deliver one message of ``source``'s queue as the module's docstring says:
        deleted once delivered, dead-lettered or dropped; left to come back for a retry."""
        forward = source.forward
        assert forward is not None
        message = messages[0]
        try:
            if forward.kind == "appsync":
                await self._graphql(forward, event)
            elif forward.kind == "log_group":  # on the loop: the log book is the loop's
                self._log(forward, event, message)
            elif forward.kind == "firehose":  # on the loop: the buffers are the loop's
                self._firehose(forward, event, source)
            else:
                await run(self.deliver, forward, event, message)
        except Exception as exc:
            failure = _failure(exc)
            tries = receive_count(message)
            condition = None
            if failure.retryable:
                if tries > forward.delivery.max_attempts:
                    condition = "MaximumRetryAttempts"
                elif age_s(message) >= forward.delivery.max_age_s:
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
                        await run(come_back_in, client, url, message, delay)
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
                    await run(_dead_letter, self._clients, dead_letter, message, attributes)
                except Exception as dlq:  # it stays in canaria's queue: tried again later
                    log.warning("%s: dead-letter queue: %s", source.event, dlq)
                    return
        with contextlib.suppress(Exception):
            await run(delete, client, url, messages)

    def deliver(self, forward: Forward, body: bytes, message: dict[str, Any]) -> None:
        """A rule's event, sent to the queue, topic or API destination it targets, or a
        topic's notification kept in the outbox (from a pool thread)."""
        if forward.kind in ("email", "email-json", "sms"):
            envelope = orjson.loads(body or b"{}")
            if self._outbox is None:
                log.warning("%s to %s: no outbox here, dropped", forward.kind, forward.arn)
                return
            self._outbox.deliver(forward.kind, forward.arn, envelope)
            return
        if forward.kind == "api_destination":
            assert forward.destination is not None
            event = rule_event(message) or {}
            self.destinations.call(forward.destination, forward.http, body, event)
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


def _failure(exc: Exception) -> CallFailed:
    """What a failed delivery was, as a dead-letter queue names it, and whether
    EventBridge would try it again."""
    if isinstance(exc, CallFailed):
        return exc
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        text = str(error.get("Message", "")) or code
        if "NonExistent" in code or code in ("NotFound", "QueueDoesNotExist"):
            return CallFailed("NO_RESOURCE", text, retryable=False)
        if "Throttl" in code:
            return CallFailed("THROTTLING", text, retryable=True)
        return CallFailed("SDK_CLIENT_ERROR", text, retryable=False)
    return CallFailed("SDK_CLIENT_ERROR", str(exc) or type(exc).__name__, retryable=True)


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


__all__ = [
    "Forwarder",
    "PutRecords",
    "Run",
    "RunGraphQL",
    "WriteLog",
    "rule_event",
    "rule_payload",
]
