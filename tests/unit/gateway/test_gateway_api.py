"""The package's public surface."""

from __future__ import annotations

import types
import uuid

import canaria.gateway as gateway
from canaria.gateway.events import new_request_id


def test_all_is_honest() -> None:
    public = {
        name
        for name, value in vars(gateway).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(gateway.__all__) == public
    assert gateway.__all__ == sorted(gateway.__all__)


def test_request_ids_are_unique_uuid_shaped() -> None:
    ids = [new_request_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    for rid in ids[:10]:
        assert str(uuid.UUID(rid)) == rid
