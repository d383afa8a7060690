"""Loopback ports for canaria's children and relays.

A port picked with ``bind(0)`` and let go again can be taken by any bind before its user
binds it, in this process (the Runtime API listeners bind port 0 too) or in another.
Where the port is needed before the thing that serves it exists, hold it bound.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    """A port free now, for a child that binds it itself (the caller handles its being
    taken meanwhile)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def reserve_port(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A socket bound to ``port`` (0: one the OS picks), not listening. While it is open
    no other socket binds that port; listen on it, or close it just before a child binds
    the port."""
    sock = socket.socket()
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def known_ports(path: Path) -> dict[str, int]:
    """The ports a listener of each name had (``save_ports``), so that it keeps its port
    across restarts while the port is free; {} when there are none yet."""
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(known, dict):
        return {}
    return {str(n): p for n, p in known.items() if isinstance(p, int) and 0 < p < 65536}


def save_ports(path: Path, ports: Mapping[str, int]) -> None:
    """Write the ports by name, whole or not at all (a temporary file renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(dict(ports), sort_keys=True))
    tmp.replace(path)
