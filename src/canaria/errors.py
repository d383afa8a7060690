"""One exception hierarchy for canaria.

    CanariaError
    ├── TemplateError        a template is malformed or unsupported (file, line, property)
    │   └── TemplateErrors   several of them, all reported at once
    ├── BuildError           a version's artifact could not be built (requirements install)
    ├── NotFound             a function, version, alias or deployment does not exist
    ├── Conflict             the operation clashes with current state (alias already deploying)
    ├── InvalidRequest       a request body or argument is not acceptable
    ├── IllegalTransition    a deployment status change the lifecycle does not allow
    ├── InvocationError      the runtime could not run an invocation (not the handler's own error)
    │   └── Throttled        the function is at its concurrency limit
    └── ResolverCodeError    a GraphQL resolver's APPSYNC_JS code failed (canaria.appsync.js)

Every error carries a message a person can act on; the control API maps them to HTTP
statuses (404, 409, 400, ...) and the CLI to exit code 2 for bad input.
"""

from __future__ import annotations


class CanariaError(Exception):
    """Base of every error canaria raises on purpose."""

    http_status = 500
    code = "ServiceException"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TemplateError(CanariaError):
    """A template is malformed or uses something canaria does not support."""

    http_status = 400
    code = "InvalidTemplate"

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        prop: str | None = None,
        allowed: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.prop = prop
        self.allowed = allowed
        self.detail = message  # what is wrong, without the place
        where = ":".join(str(p) for p in (file, line) if p is not None)
        parts = [f"{where}: " if where else ""]
        if prop:
            parts.append(f"{prop}: ")
        parts.append(message)
        if allowed:
            parts.append(f" (allowed: {allowed})")
        super().__init__("".join(parts))


class TemplateErrors(TemplateError):
    """Every problem found in one template; ``errors`` in the order of their lines."""

    MAX_SHOWN = 50

    def __init__(self, errors: list[TemplateError]) -> None:
        super().__init__("")
        self.errors = tuple(errors)
        first = errors[0]
        self.file, self.line, self.prop, self.allowed = (
            first.file,
            first.line,
            first.prop,
            first.allowed,
        )
        self.detail = first.detail
        if len(errors) == 1:
            self.message = first.message
        else:
            shown = [e.message for e in errors[: self.MAX_SHOWN]]
            lines = [f"{len(errors)} problems in the template:", *(f"  {m}" for m in shown)]
            if len(errors) > len(shown):
                lines.append(f"  ... and {len(errors) - len(shown)} more")
            self.message = "\n".join(lines)
        self.args = (self.message,)


class BuildError(CanariaError):
    http_status = 400
    code = "BuildFailed"


class NotFound(CanariaError):
    http_status = 404
    code = "ResourceNotFoundException"


class Conflict(CanariaError):
    http_status = 409
    code = "ResourceConflictException"


class InvalidRequest(CanariaError):
    http_status = 400
    code = "InvalidParameterValueException"


class IllegalTransition(CanariaError):
    http_status = 409
    code = "IllegalTransition"


class InvocationError(CanariaError):
    http_status = 502
    code = "ServiceException"


class Throttled(InvocationError):
    http_status = 429
    code = "TooManyRequestsException"
