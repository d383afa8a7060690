"""Connection limits both ports share (the gateway's own protocol and the control port's
uvicorn): a request must be read within ``REQUEST_READ_TIMEOUT_S`` of its first byte (or
of the connection, for the first request), so a client sending a byte now and then cannot
hold a connection; each port keeps at most ``MAX_CONNECTIONS`` open, and at the cap the
connection idle the longest is closed to make room for a new one (or, with none idle,
the new one is refused). Raising the process's open-file limit to its hard limit keeps
the cap, not the file table, what refuses connections."""

from __future__ import annotations

import contextlib
import resource

REQUEST_READ_TIMEOUT_S = 20.0
MAX_CONNECTIONS = 2000


def raise_open_files_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit (no privilege needed); the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return target
    return soft


__all__ = ["MAX_CONNECTIONS", "REQUEST_READ_TIMEOUT_S", "raise_open_files_limit"]
