"""Lambda durable functions: executions kept, checkpointed and replayed by AWS's local
durable execution service, run as a child of ``canaria up`` (see ``service``)."""

from canaria.durable.service import (
    HANDLER_INVOKE_HEADER,
    DurableExecutions,
    Outcome,
    ended_failed,
    function_configs,
    invocation_id,
)

__all__ = [
    "HANDLER_INVOKE_HEADER",
    "DurableExecutions",
    "Outcome",
    "ended_failed",
    "function_configs",
    "invocation_id",
]
