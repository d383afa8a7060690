"""A price for an item and a quantity. API Gateway maps the request to this event with a
mapping template, and maps "bad quantity" errors to a 400 by selection pattern."""

PRICES = {"widget": 250, "gadget": 1200}


def handler(event, context):
    quantity = event.get("quantity")
    if not isinstance(quantity, int) or quantity < 1:
        raise ValueError(f"bad quantity: {quantity!r}")
    unit = PRICES.get(event.get("item"), 100)
    return {"item": event.get("item"), "quantity": quantity, "cents": unit * quantity}
