"""Names, ``Ref`` and ``Fn::GetAtt`` of Elastic Load Balancing's resources.

Shaped as CloudFormation documents them (``Ref`` of a load balancer, listener, rule or
target group is its ARN), deterministic so that a template resolves the same way each
time it loads: a name CloudFormation would generate is ``stack-Logical`` cut to 32
characters with a digest of the whole, and the id in an ARN is a digest of the logical id.
``canaria.template.load_balancers`` reads a listener's, rule's and action's references
back to the resources by these ARNs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

from canaria.models.arns import ACCOUNT, REGION

LOAD_BALANCER = "AWS::ElasticLoadBalancingV2::LoadBalancer"
LISTENER = "AWS::ElasticLoadBalancingV2::Listener"
LISTENER_RULE = "AWS::ElasticLoadBalancingV2::ListenerRule"
TARGET_GROUP = "AWS::ElasticLoadBalancingV2::TargetGroup"
TYPES = (LOAD_BALANCER, LISTENER, LISTENER_RULE, TARGET_GROUP)

ATTRS: dict[str, tuple[str, ...]] = {
    LOAD_BALANCER: (
        "CanonicalHostedZoneID",
        "DNSName",
        "LoadBalancerArn",
        "LoadBalancerFullName",
        "LoadBalancerName",
        "SecurityGroups",
    ),
    LISTENER: ("ListenerArn",),
    LISTENER_RULE: ("IsDefault", "RuleArn"),
    TARGET_GROUP: (
        "LoadBalancerArns",
        "TargetGroupArn",
        "TargetGroupFullName",
        "TargetGroupName",
    ),
}
NAME_KEYS = {LOAD_BALANCER: "Name", TARGET_GROUP: "Name"}
_PREFIX = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:"
ALB_ZONE = "Z35SXDOTRQ7X7K"  # the hosted zone of us-east-1's Application Load Balancers

Prop = Callable[[str], Any]  # a resolved property of the resource, or NO_VALUE


def default_name(stack: str, logical_id: str) -> str:
    """A load balancer's or target group's name when the template gives none: letters,
    digits and hyphens, at most 32 characters (ELB's limit)."""
    base = re.sub(r"[^A-Za-z0-9-]+", "-", f"{stack}-{logical_id}").strip("-")
    if len(base) <= 32:
        return base
    return f"{base[:23].rstrip('-')}-{_digest(base)[:8]}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def load_balancer_arn(name: str, logical_id: str) -> str:
    return f"{_PREFIX}loadbalancer/app/{name}/{_digest(logical_id)[:16]}"


def target_group_arn(name: str, logical_id: str) -> str:
    return f"{_PREFIX}targetgroup/{name}/{_digest(logical_id)[:16]}"


def _under(parent: Any, kind: str, logical_id: str) -> str:
    """A listener's (or rule's) ARN under its load balancer's (or listener's) ARN."""
    marker = "loadbalancer/" if kind == "listener" else "listener/"
    tail = parent.split(marker, 1)[1] if isinstance(parent, str) and marker in parent else ""
    if not tail:
        tail = f"app/{logical_id}/{_digest('lb' + logical_id)[:16]}"
    if kind == "listener-rule" and tail.count("/") < 3:
        tail += f"/{_digest('listener' + logical_id)[:16]}"
    return f"{_PREFIX}{kind}/{tail}/{_digest(logical_id)[:16]}"


def ref(type_: str, logical_id: str, name: str, prop: Prop) -> str:
    """``!Ref``: the ARN (``name``: a load balancer's or target group's)."""
    match type_:
        case "AWS::ElasticLoadBalancingV2::LoadBalancer":
            return load_balancer_arn(name, logical_id)
        case "AWS::ElasticLoadBalancingV2::TargetGroup":
            return target_group_arn(name, logical_id)
        case "AWS::ElasticLoadBalancingV2::Listener":
            return _under(prop("LoadBalancerArn"), "listener", logical_id)
        case _:  # a listener rule
            return _under(prop("ListenerArn"), "listener-rule", logical_id)


def get_att(type_: str, logical_id: str, name: str, attr: str, prop: Prop) -> Any:
    arn = ref(type_, logical_id, name, prop)
    match attr:
        case "LoadBalancerArn" | "ListenerArn" | "RuleArn" | "TargetGroupArn":
            return arn
        case "LoadBalancerName" | "TargetGroupName":
            return name
        case "LoadBalancerFullName" | "TargetGroupFullName":
            return arn.split(":", 5)[5].removeprefix("loadbalancer/")
        case "DNSName":
            return f"{name}-{int(_digest(logical_id)[:8], 16)}.{REGION}.elb.amazonaws.com"
        case "CanonicalHostedZoneID":
            return ALB_ZONE
        case "SecurityGroups":
            groups = prop("SecurityGroups")
            return list(groups) if isinstance(groups, list) else []
        case "LoadBalancerArns":
            return []
        case _:  # IsDefault
            return "false"
