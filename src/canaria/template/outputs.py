"""The stack as CloudFormation describes it: its ``Description``, its parameters and its
``Outputs``, resolved as ``DescribeStacks`` gives them after ``sam deploy``.

Integration tests and scripts written for AWS find what they test through the stack's
outputs (``describe_stacks(StackName=...)["Stacks"][0]["Outputs"]``, ``aws cloudformation
describe-stacks --query``): the API's URL, the table's name, a function's ARN. Each output
whose ``Condition`` holds is resolved here, once the template's resources are known. The
edge (``aws.cloudformation_api``) serves them, with the URLs of the template's own
endpoints replaced by where canaria serves them.

CloudFormation refuses an output whose ``Value`` is a list, and an ``Export.Name`` used
twice; so does canaria. An output canaria cannot resolve (an attribute of a resource type
it does not run, say) is left out with a warning rather than refusing a template
CloudFormation would accept.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from canaria.errors import TemplateError
from canaria.models import StackOutput, StackResource, StackSpec
from canaria.template.index import FUNCTION, ResourceIndex
from canaria.template.intrinsics import NO_VALUE, Resolver
from canaria.template.nodes import LineMap, Where, as_map, as_str, check_keys, type_name
from canaria.template.parameters import Parameter

OUTPUT_KEYS = ("Description", "Value", "Export", "Condition")
MASK = "****"  # what DescribeStacks shows of a NoEcho parameter


def build_stack(
    doc: LineMap,
    top: Where,
    name: str,
    index: ResourceIndex,
    params: Mapping[str, Parameter],
    warnings: list[str],
) -> StackSpec:
    """The stack ``doc`` declares, named ``name``: refusals raised, each output that cannot
    be resolved warned about and left out."""
    description = doc.get("Description")
    return StackSpec(
        name=name,
        description=description if isinstance(description, str) else None,
        parameters=_parameters(doc, params),
        outputs=_outputs(doc, top, index.resolver, warnings),
        resources=_resources(index),
    )


def _resources(index: ResourceIndex) -> tuple[StackResource, ...]:
    """Each resource whose ``Condition`` holds, with what ``!Ref`` gives as its physical id
    (a function: its declared ``FunctionName``, else its logical id, both of which
    canaria's Lambda API answers to)."""
    out = []
    for entry in index.entries.values():
        if not entry.enabled:
            continue
        if entry.type == FUNCTION:
            declared = index.resolver.get(entry.props, "FunctionName", entry.props_at)
            physical = declared if isinstance(declared, str) else entry.logical_id
        else:
            try:
                ref = index.ref(entry.logical_id, entry.where)
            except TemplateError:
                continue
            physical = ref if isinstance(ref, str) else entry.logical_id
        out.append(StackResource(entry.logical_id, _deployed_type(entry.type), physical))
    for logical_id, type_ in index.implicit.items():  # ServerlessRestApi, roles, ...
        with contextlib.suppress(TemplateError):
            ref = index.ref(logical_id, Where("", logical_id))
            if isinstance(ref, str):
                out.append(StackResource(logical_id, _deployed_type(type_), ref))
    return tuple(out)


# what SAM's types are once transformed: a stack lists CloudFormation's
_DEPLOYED = {
    FUNCTION: "AWS::Lambda::Function",
    "AWS::Serverless::Api": "AWS::ApiGateway::RestApi",
    "AWS::Serverless::HttpApi": "AWS::ApiGatewayV2::Api",
    "AWS::Serverless::WebSocketApi": "AWS::ApiGatewayV2::Api",
    "AWS::Serverless::SimpleTable": "AWS::DynamoDB::Table",
    "AWS::Serverless::StateMachine": "AWS::StepFunctions::StateMachine",
    "AWS::Serverless::LayerVersion": "AWS::Lambda::LayerVersion",
    "AWS::Serverless::Application": "AWS::CloudFormation::Stack",
    "AWS::Serverless::GraphQLApi": "AWS::AppSync::GraphQLApi",
    "AWS::Serverless::Connector": "AWS::IAM::Policy",
}


def _deployed_type(type_: str) -> str:
    return _DEPLOYED.get(type_, type_)


def _parameters(doc: LineMap, params: Mapping[str, Parameter]) -> tuple[tuple[str, str], ...]:
    declared = doc.get("Parameters")
    declared = declared if isinstance(declared, Mapping) else {}
    out = []
    for key, param in params.items():
        spec = declared.get(key)
        no_echo = isinstance(spec, Mapping) and str(spec.get("NoEcho", "")).lower() == "true"
        out.append((key, MASK if no_echo else param.value))
    return tuple(out)


def _outputs(
    doc: LineMap, top: Where, resolver: Resolver, warnings: list[str]
) -> tuple[StackOutput, ...]:
    raw = doc.get("Outputs")
    if raw is None:
        return ()
    at = top.key(doc, "Outputs")
    section = as_map(raw, at)
    outputs: list[StackOutput] = []
    exported: dict[str, str] = {}
    for key, body in section.items():
        oat = at.key(section, key)
        body = as_map(body, oat)
        check_keys(body, oat, OUTPUT_KEYS, required=("Value",), what="output attribute")
        condition = body.get("Condition")
        if condition is not None:
            cat = oat.key(body, "Condition")
            if not resolver.condition(as_str(condition, cat), cat):
                continue
        vat = oat.key(body, "Value")
        try:  # what canaria cannot resolve is left out; what CloudFormation refuses is not
            value = resolver.resolve(body["Value"], vat)
            description = _text(resolver, body.get("Description"), oat.key(body, "Description"))
        except TemplateError as exc:
            line = f":{oat.line}" if oat.line is not None else ""
            warnings.append(
                f"{oat.file}{line}: {oat.path}: not given by DescribeStacks: {exc.detail}"
            )
            continue
        if value is NO_VALUE:
            continue
        if isinstance(value, list | tuple | Mapping) or value is None:
            raise vat.error(
                f"the Value of output {key} is {type_name(value)}: CloudFormation refuses "
                "it (every Outputs member's Value must be a string)",
                allowed="a string; !Join [',', ...] makes one of a list",
            )
        output = StackOutput(key, as_str(value, vat), description, _export(body, oat, resolver))
        if output.export_name is not None:
            first = exported.setdefault(output.export_name, key)
            if first != key:
                raise oat.key(body, "Export").error(
                    f"export name {output.export_name!r} is already exported by output "
                    f"{first} (CloudFormation refuses the template)"
                )
        outputs.append(output)
    return tuple(outputs)


def _export(body: LineMap, at: Where, resolver: Resolver) -> str | None:
    if "Export" not in body:
        return None
    eat = at.key(body, "Export")
    export = as_map(body["Export"], eat)
    check_keys(export, eat, ("Name",), required=("Name",), what="Export attribute")
    nat = eat.key(export, "Name")
    return as_str(resolver.resolve(export["Name"], nat), nat)


def _text(resolver: Resolver, value: Any, at: Where) -> str | None:
    if value is None:
        return None
    resolved = resolver.resolve(value, at)
    return None if resolved is NO_VALUE else as_str(resolved, at)
