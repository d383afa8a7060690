"""A checkout as a durable function: each step's result is checkpointed, so however often
the function is replayed (after the approval, after the charge, after the hold) the order
is reserved once and charged once."""

import os
import uuid

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration, WaitForCallbackConfig

PRICE = 25  # per item
APPROVAL_ABOVE = 100


def reserve(event):
    items = int(event.get("items", 1))
    order = {"order": f"o-{uuid.uuid4().hex[:8]}", "items": items, "total": PRICE * items}
    print(f"RESERVED {order['order']} ({items} items, {order['total']})")
    return order


def ask_for_approval(order):
    def ask(callback_id, _context):
        print(
            f"APPROVE {order['order']} ({order['total']}): canaria exec -- aws lambda "
            f"send-durable-execution-callback-success --callback-id {callback_id} "
            f"--result '\"approved\"'"
        )

    return ask


@durable_execution
def handler(event, context: DurableContext):
    order = context.step(lambda _: reserve(event), name="reserve")
    if order["total"] > APPROVAL_ABOVE:
        context.wait_for_callback(
            ask_for_approval(order),
            name="approval",
            config=WaitForCallbackConfig(timeout=Duration.from_hours(24)),
        )
    charge = {"amount": order["total"], "currency": "EUR"}
    payment = context.invoke(os.environ["PAYMENTS"], charge, name="charge")
    context.wait(Duration.from_minutes(10), name="hold")
    return {**order, "payment": payment, "status": "shipped"}
