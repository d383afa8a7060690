"""An API stage's access logs: SAM's ``AccessLogSetting`` (REST) and
``AccessLogSettings`` (HTTP), and the same properties of ``AWS::ApiGateway::Stage`` and
``AWS::ApiGatewayV2::Stage``, read into ``AccessLogSpec``.

``DestinationArn`` names a log group (``!GetAtt Group.Arn``, or its ARN written out);
``Format`` is the line API Gateway writes per request, its ``$context`` variables filled
in (``gateway.access_logs`` says which). Without a ``Format`` the line is API Gateway's
Common Log Format. A Firehose stream as the destination is a warning: not written.
"""

from __future__ import annotations

from canaria.log_groups import name_of_arn
from canaria.models import AccessLogSpec
from canaria.template.context import Context
from canaria.template.index import Entry
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import as_map, as_str, check_keys

__all__ = ["CLF", "access_log"]

# API Gateway's Common Log Format, as its console offers it
CLF = (
    "$context.identity.sourceIp $context.identity.caller $context.identity.user "
    '[$context.requestTime] "$context.httpMethod $context.resourcePath $context.protocol" '
    "$context.status $context.responseLength $context.requestId"
)


def access_log(ctx: Context, entry: Entry, key: str) -> AccessLogSpec | None:
    """``entry``'s ``key`` (``AccessLogSetting`` or ``AccessLogSettings``), or None."""
    raw = ctx.get(entry, key)
    if raw is NO_VALUE:
        return None
    at = ctx.at(entry, key)
    setting = as_map(raw, at)
    check_keys(setting, at, ("DestinationArn", "Format"))
    if "DestinationArn" not in setting:
        return None  # no destination: API Gateway writes nothing
    dat = at.key(setting, "DestinationArn")
    arn = as_str(setting["DestinationArn"], dat)
    group = name_of_arn(arn)
    if group is None:
        ctx.warn(
            entry,
            f"{key}: its destination {arn!r} is not a log group: access logs are not written "
            "(canaria writes them to log groups)",
        )
        return None
    text = CLF
    if "Format" in setting:
        text = as_str(setting["Format"], at.key(setting, "Format"))
    return AccessLogSpec(group, text)
