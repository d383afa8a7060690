"""examples/orders through a real `canaria up`, as the README's walkthrough runs it: orders
placed through the API reach the Counter through the table's stream (INSERTs only), and
an order that becomes "shipped" reaches the shipped queue through the pipe, the bus and
the rule."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.functional.harness import Canaria, copy_example, eventually


@pytest.fixture
def orders(tmp_path: Path) -> Iterator[Canaria]:
    app = copy_example("orders", tmp_path)
    c = Canaria(app / "template.yaml", tmp_path / "state").start()
    yield c
    c.stop()


def call(c: Canaria, method: str, path: str, body: str = "") -> tuple[int, Any]:
    status, _, answer = c.http(method, path, body.encode())
    return status, json.loads(answer) if answer else None


def test_the_orders_walkthrough(orders: Canaria) -> None:
    assert call(orders, "PUT", "/orders/o1", '{"item": "book"}') == (
        201,
        {"order": "o1", "status": "placed"},
    )
    assert call(orders, "PUT", "/orders/o2", '{"item": "pen"}')[0] == 201
    eventually(lambda: call(orders, "GET", "/stats")[1] == {"placed": 2}, "the count")
    assert call(orders, "POST", "/orders/o1/ship") == (200, {"order": "o1", "status": "shipped"})
    assert call(orders, "POST", "/orders/o9/ship") == (404, {"error": "no order o9"})
    shipped = eventually(lambda: call(orders, "GET", "/shipped")[1], "the shipment")
    assert shipped == [{"order": "o1", "item": "book"}]
    assert call(orders, "GET", "/orders/o1") == (
        200,
        {"id": "o1", "item": "book", "status": "shipped"},
    )
    # shipping changed o1 (a MODIFY): the Counter counts INSERTs only
    time.sleep(1)
    assert call(orders, "GET", "/stats")[1] == {"placed": 2}
