"""Loopback ports for canaria's children and relays.

A port picked with ``bind(0)`` and let go again can be taken by any bind before its user
binds it, in this process (the Runtime API listeners bind port 0 too) or in another.
Where the port is needed before the thing that serves it exists, hold it bound.
"""

from __future__ import annotations

import socket


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
