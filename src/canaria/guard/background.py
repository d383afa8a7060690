"""``canaria up --guard-stack NAME``: the guard's loop in a thread of the ``up`` process,
on the same store, so the dashboard and ``canaria status`` show its decisions live.

A guard that cannot start (no credentials, no region, an unknown stack) says why on
stderr and stops; ``canaria up`` goes on serving.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable

from canaria.clock import RealClock
from canaria.guard.aws import AwsGuardClient, GuardError, NoCredentials
from canaria.guard.records import GuardRecords
from canaria.guard.runner import Guard, GuardOptions
from canaria.store import Store

__all__ = ["GuardThread"]

log = logging.getLogger("canaria.guard")


class GuardThread:
    def __init__(
        self, make_client: Callable[[], AwsGuardClient], store: Store, options: GuardOptions
    ) -> None:
        self._make_client = make_client
        self.store = store
        self.options = options
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="canaria-guard", daemon=True)
        self.error: str | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.store.close()

    def _run(self) -> None:
        try:
            guard = Guard(self._make_client(), GuardRecords(self.store), self.options, RealClock())
            guard.poll()  # the first poll's errors (credentials, region, stack) end the guard
            while not self._stop.wait(guard.next_delay()):
                try:
                    guard.poll()
                except NoCredentials:
                    raise
                except GuardError as exc:  # later ones: said, and tried again
                    print(f"guard: {exc.message}; will retry", file=sys.stderr, flush=True)
        except GuardError as exc:
            self.error = exc.message
            print(f"guard stopped: {exc.message}", file=sys.stderr, flush=True)
        except Exception:  # a bug must not take `canaria up` down with it
            log.exception("the guard failed")
            self.error = "the guard failed (see the log)"
