"""The durable execution service, as a child process of ``canaria up``.

It is AWS's own local one: ``aws-durable-execution-sdk-python-testing``'s web runner
(the service ``sam local`` runs for durable functions). It keeps each execution's
operations and checkpoints, answers the durable APIs the SDKs call
(``CheckpointDurableExecution``, ``GetDurableExecutionState``, callbacks, ...) and
invokes the function again, through canaria's Lambda ``Invoke``, whenever an execution
has to replay: after a wait, a retry's back-off, a callback, a chained invoke.

canaria adds one thing: its clock. The runner's timers (``context.wait``, retry
back-offs, callback timeouts) run on canaria's virtual time, so ``--time-scale 60``
turns an execution's one-minute wait into a second, as it does for a deployment's
steps. The library reads its clock from ``runner.RealClock``; this module hands it a
scaled one there, and refuses to run if the library stopped using it.

    python -m canaria.durable.runner --port P --lambda-endpoint URL --store PATH \
        --time-scale S --virtual-now T [--function-configs JSON]
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import signal
import sys
import threading
import time
from typing import Any

from aws_durable_execution_sdk_python.lambda_service import ErrorObject
from aws_durable_execution_sdk_python_testing import runner as dex_runner
from aws_durable_execution_sdk_python_testing.child_dispatcher import FunctionConfigs
from aws_durable_execution_sdk_python_testing.stores.base import StoreType
from aws_durable_execution_sdk_python_testing.web.server import WebServiceConfig

from canaria.models.arns import REGION


class ScaledClock:
    """The runner's clock on canaria's virtual time: it starts at ``virtual_now`` and
    runs ``scale`` times faster than the wall, as ``canaria.clock.ScaledClock`` does."""

    def __init__(self, scale: float, virtual_now: float) -> None:
        self.scale = scale
        self._wall0 = time.monotonic()
        self._virtual0 = virtual_now
        self._lock = threading.Lock()
        self._last = datetime.datetime.fromtimestamp(0, datetime.UTC)

    def now(self) -> datetime.datetime:
        t = self._virtual0 + (time.monotonic() - self._wall0) * self.scale
        stamp = datetime.datetime.fromtimestamp(t, datetime.UTC)
        with self._lock:  # read on several threads; history events stay ordered
            if stamp <= self._last:
                stamp = self._last + datetime.timedelta(microseconds=1)
            self._last = stamp
        return stamp

    def arm(self, wake: datetime.datetime) -> float:
        """Real seconds to wait until virtual time reaches ``wake``."""
        return max((wake - self.now()).total_seconds() / self.scale, 0.0)


def resume_open_executions(web_runner: Any, clock: ScaledClock) -> int:
    """Carry on the executions a stopped or killed service left open; how many.

    The library keeps executions in its store but arms their timers in memory only, so
    after a restart nothing would wake them. Each open execution gets its execution
    timeout again (what is left of it) and one handler invocation: the SDK replays it
    from its checkpoints, answers ``PENDING`` while a wait has not come due, and the
    service arms the wait's timer as after any invocation. An invocation the kill cut
    short is retried the same way. These are the library's executor internals; a
    release that renames them fails ``canaria up`` loudly here (see the test suite's
    restart test) rather than leaving executions asleep."""
    executor = web_runner._executor
    store = web_runner._store
    scheduler = web_runner._scheduler
    resumed = 0
    for execution in store.list_all():
        if execution.is_complete:
            continue
        arn = execution.durable_execution_arn
        event = scheduler.create_event()
        executor._completion_events[arn] = event
        timeout = execution.start_input.execution_timeout_seconds
        started = execution.operations[0].start_timestamp if execution.operations else None
        if timeout > 0 and started is not None:
            left = (started + datetime.timedelta(seconds=timeout) - clock.now()).total_seconds()

            def timed_out(arn: str = arn, timeout: int = timeout) -> None:
                error = ErrorObject.from_message(f"Execution timed out after {timeout} seconds.")
                executor.on_timed_out(arn, error)

            executor._execution_timeouts[arn] = scheduler.call_later(
                timed_out, delay=max(left / clock.scale, 0.0), completion_event=event
            )
        executor._invoke_execution(arn)
        resumed += 1
    return resumed


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m canaria.durable.runner")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--lambda-endpoint", required=True, help="canaria's edge")
    p.add_argument("--store", required=True, help="SQLite file that keeps the executions")
    p.add_argument("--time-scale", type=float, default=1.0)
    p.add_argument("--virtual-now", type=float, default=None)
    p.add_argument("--invocation-timeout", type=int, default=900)
    p.add_argument(
        "--function-configs",
        default="{}",
        help="the functions a durable function may invoke, by name, in Lambda's shape",
    )
    return p.parse_args(argv)


def watch_parent() -> None:
    """Exit when ``canaria up`` is gone (killed, it cannot stop us): the service runs
    in a session of its own, so nothing else would end it."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="canaria-parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    virtual_now = time.time() if args.virtual_now is None else args.virtual_now
    clock = ScaledClock(args.time_scale, virtual_now)
    # The library builds its clock as ``RealClock()`` inside ``WebRunner.start``.
    dex_runner.RealClock = lambda: clock  # type: ignore[attr-defined,assignment,return-value]
    configs: dict[str, Any] = json.loads(args.function_configs)
    config = dex_runner.WebRunnerConfig(
        web_service=WebServiceConfig(host="127.0.0.1", port=args.port, log_level=logging.WARNING),
        lambda_endpoint=args.lambda_endpoint,
        local_runner_region=REGION,
        store_type=StoreType.SQLITE,
        store_path=args.store,
        invocation_timeout_seconds=args.invocation_timeout,
        function_configs=FunctionConfigs.from_dict(configs) if configs else None,
    )
    web_runner = dex_runner.WebRunner(config)
    web_runner.start()
    if getattr(web_runner, "_clock", None) is not clock:
        web_runner.stop()
        sys.stderr.write(
            "canaria: this aws-durable-execution-sdk-python-testing no longer takes its "
            "clock from runner.RealClock; canaria's time scale cannot reach its timers\n"
        )
        return 2

    def stop(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    resumed = resume_open_executions(web_runner, clock)
    if resumed:
        logging.getLogger("canaria.durable").warning("resumed %d open executions", resumed)
    watch_parent()
    signal.signal(signal.SIGTERM, stop)
    try:
        web_runner.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        web_runner.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
