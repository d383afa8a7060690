"""Lambda's own CloudFormation resources, read as the SAM function they amount to.

A template may declare a function as ``AWS::Lambda::Function`` and deploy it through
CodeDeploy with CloudFormation's own resources, as AWS's guide to CodeDeploy for Lambda
does and as the CDK writes it:

- ``AWS::Lambda::Function`` with ``Code`` (``ZipFile``, a local path as ``sam build`` and
  ``aws cloudformation package`` take it, or an S3 object with a CDK asset's
  ``aws:asset:path`` in its ``Metadata``; code only in S3 or an image cannot be fetched
  here, and such a function is skipped with a warning, as before);
- an ``AWS::Lambda::Version`` of it, and an ``AWS::Lambda::Alias`` naming that version,
  whose ``UpdatePolicy: CodeDeployLambdaAliasUpdate`` names an
  ``AWS::CodeDeploy::DeploymentGroup`` (its ``DeploymentConfigName``, its
  ``AlarmConfiguration``) and the ``BeforeAllowTrafficHook`` / ``AfterAllowTrafficHook``.

That is what SAM generates from ``AutoPublishAlias`` and ``DeploymentPreference``, so each
such function is read as an ``AWS::Serverless::Function`` with them (before anything else
reads the template): its versions are published when its code or configuration changes,
its alias moves under the deployment group's configuration, watched by its alarms and
the judge, with its hooks, like any other. ``!Ref`` of the alias and the version, and
``!GetAtt Version.Version``, give what they give on AWS. The function keeps its own
properties' names in errors (``Code``, not ``CodeUri``); ``Globals`` do not apply to it.

A version without an alias is left as it is written (a placeholder): canaria publishes a
function's versions through its alias.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from canaria.template.nodes import LineList, LineMap, Where, depends_without, get_att_parts

FUNCTION = "AWS::Lambda::Function"
VERSION = "AWS::Lambda::Version"
ALIAS = "AWS::Lambda::Alias"
GROUP = "AWS::CodeDeploy::DeploymentGroup"
APPLICATION = "AWS::CodeDeploy::Application"
SAM_FUNCTION = "AWS::Serverless::Function"
SERVERLESS_TRANSFORM = "AWS::Serverless-2016-10-31"
# Lambda's property → SAM's, where they differ only in name
RENAMED = {"TracingConfig": "Tracing", "DeadLetterConfig": "DeadLetterQueue"}
HOOKS = {"BeforeAllowTrafficHook": "PreTraffic", "AfterAllowTrafficHook": "PostTraffic"}
CDK_ASSET_PATH = "aws:asset:path"
CDK_ASSET_PROPERTY = "aws:asset:property"


def convert(doc: LineMap, top: Where, warnings: list[str]) -> None:
    """Read ``doc``'s Lambda functions as SAM functions, in place (see the module's text)."""
    resources = doc.get("Resources")
    if not isinstance(resources, LineMap):
        return
    of = _by_type(resources)
    if not of.get(FUNCTION):
        return
    rat = top.key(doc, "Resources")
    renamed: dict[str, Any] = {}  # a resource's Ref → what it now is
    gone: set[str] = set()
    for fid in of[FUNCTION]:
        node = resources[fid]
        if not isinstance(node.get("Properties"), LineMap) or not _runnable(node):
            continue  # skipped, as a resource canaria does not run, with a warning
        _function(node, fid)
        alias_id = _alias_of(fid, of, resources, rat, warnings)
        if alias_id is None:
            continue
        alias = resources[alias_id]
        props = node["Properties"]
        props["AutoPublishAlias"] = alias["Properties"]["Name"]
        props.lines["AutoPublishAlias"] = alias["Properties"].lines.get("Name", alias.line)
        props.paths["AutoPublishAlias"] = (f"Resources.{alias_id}.Properties.Name", None, None)
        preference = _preference(alias, alias_id, resources)
        if preference is not None:
            props["DeploymentPreference"] = preference
            props.paths["DeploymentPreference"] = (
                f"Resources.{alias_id}.UpdatePolicy.CodeDeployLambdaAliasUpdate",
                alias.lines.get("UpdatePolicy"),
                None,
            )
        renamed[alias_id] = {"Ref": f"{fid}.Alias"}
        gone.add(alias_id)
        for vid in _versions_of(fid, of, resources):
            renamed[vid] = {"Ref": f"{fid}.Version"}
            gone.add(vid)
        policy = _update_policy(alias)
        group = _named(policy.get("DeploymentGroupName"), of.get(GROUP, ()))
        if group is not None:
            renamed[group] = f"{fid}DeploymentGroup"
            gone.add(group)
        application = _named(policy.get("ApplicationName"), of.get(APPLICATION, ()))
        if application is not None:
            renamed[application] = "ServerlessDeploymentApplication"
            gone.add(application)
    for key in gone:
        del resources[key]
    if renamed:
        _rewrite(doc, renamed)
    transform = doc.get("Transform")
    if transform is None:
        doc["Transform"] = SERVERLESS_TRANSFORM
    elif isinstance(transform, list) and SERVERLESS_TRANSFORM not in transform:
        transform.append(SERVERLESS_TRANSFORM)


def _by_type(resources: LineMap) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, node in resources.items():
        if isinstance(node, Mapping) and isinstance(node.get("Type"), str):
            out.setdefault(node["Type"], []).append(key)
    return out


def _function(node: LineMap, fid: str) -> None:
    """``node``, an ``AWS::Lambda::Function``, made the SAM function it amounts to."""
    props: LineMap = node["Properties"]
    out = LineMap(line=props.line)
    for key, value in props.items():
        new = RENAMED.get(key, key)
        if key == "Code":
            new, value = _code(value, node)
        elif key == "TracingConfig" and isinstance(value, Mapping):
            value = value.get("Mode", "PassThrough")
        elif key == "DeadLetterConfig" and isinstance(value, Mapping):
            arn = value.get("TargetArn")
            kind = "SNS" if isinstance(arn, str) and ":sns:" in arn else "SQS"
            value = LineMap({"Type": kind, "TargetArn": arn})
        elif key == "Tags" and isinstance(value, list):
            # ``lambda:createdBy: SAM`` is the tag SAM's own output carries: SAM adds it
            # again, and refuses it written (``lambda:`` keys are reserved)
            value = LineMap(
                (str(t.get("Key")), t.get("Value"))
                for t in value
                if isinstance(t, Mapping) and not str(t.get("Key")).startswith("lambda:")
            )
        out[new] = value
        if key in props.lines:
            out.lines[new] = props.lines[key]
        if new != key:  # errors name the property as the template writes it
            out.paths[new] = (f"Resources.{fid}.Properties.{key}", props.lines.get(key), None)
    node["Type"] = SAM_FUNCTION
    node["Properties"] = out
    node["IgnoreGlobals"] = "*"  # SAM's Globals apply to SAM's functions only


def _runnable(node: LineMap) -> bool:
    """Whether canaria can run the function's code: inline, in a local folder or file, or a
    CDK asset beside the template. Code in S3 or an image cannot be fetched here: such a
    function is skipped (a warning), the rest of the application runs."""
    code = node["Properties"].get("Code")
    if isinstance(code, str):
        return True
    if not isinstance(code, Mapping):
        return False
    if "ZipFile" in code:
        return True
    metadata = node.get("Metadata")
    return (
        isinstance(metadata, Mapping)
        and isinstance(metadata.get(CDK_ASSET_PATH), str)
        and metadata.get(CDK_ASSET_PROPERTY, "Code") == "Code"
        and "ImageUri" not in code
    )


def _code(code: Any, node: LineMap) -> tuple[str, Any]:
    """``Code`` as SAM writes it, ``InlineCode`` or ``CodeUri`` (one ``_runnable`` took)."""
    if isinstance(code, str):
        return "CodeUri", code  # a local path (sam build, aws cloudformation package)
    if "ZipFile" in code:
        return "InlineCode", code["ZipFile"]
    return "CodeUri", node["Metadata"][CDK_ASSET_PATH]  # the CDK's asset (``_runnable``)


def _refers_to(value: Any, fid: str) -> bool:
    """Whether ``value`` names function ``fid`` (its Ref, its Arn, its logical id)."""
    if value == fid:
        return True
    if isinstance(value, Mapping) and len(value) == 1:
        key, arg = next(iter(value.items()))
        if key == "Ref":
            return bool(arg == fid)
        if key == "Fn::GetAtt":
            head = arg.split(".", 1)[0] if isinstance(arg, str) else (arg or [None])[0]
            return bool(head == fid)
    return False


def _versions_of(fid: str, of: Mapping[str, list[str]], resources: LineMap) -> list[str]:
    return [
        vid
        for vid in of.get(VERSION, ())
        if isinstance(resources[vid].get("Properties"), Mapping)
        and _refers_to(resources[vid]["Properties"].get("FunctionName"), fid)
    ]


def _alias_of(
    fid: str, of: Mapping[str, list[str]], resources: LineMap, rat: Where, warnings: list[str]
) -> str | None:
    """The alias of ``fid`` that canaria moves: the one CodeDeploy updates, else the only
    one; others are left as written, with a warning."""
    aliases = [
        aid
        for aid in of.get(ALIAS, ())
        if isinstance(resources[aid].get("Properties"), Mapping)
        and _refers_to(resources[aid]["Properties"].get("FunctionName"), fid)
        and isinstance(resources[aid]["Properties"].get("Name"), str)
    ]
    if not aliases:
        return None
    deployed = [aid for aid in aliases if _update_policy(resources[aid])]
    chosen = (deployed or aliases)[0]
    for other in aliases:
        if other != chosen:
            at = rat.key(resources, other)
            warnings.append(
                f"{at.file}:{at.line}: {at.path}: {fid} has another alias ({chosen}), which "
                "canaria publishes its versions through; this one is not moved"
            )
    return chosen


def _update_policy(alias: Mapping[str, Any]) -> Mapping[str, Any]:
    policy = alias.get("UpdatePolicy")
    if not isinstance(policy, Mapping):
        return {}
    update = policy.get("CodeDeployLambdaAliasUpdate")
    return update if isinstance(update, Mapping) else {}


def _named(value: Any, candidates: Any) -> str | None:
    """The resource among ``candidates`` that ``value`` (a ``!Ref``) names."""
    if isinstance(value, Mapping) and set(value) == {"Ref"}:
        name = value["Ref"]
        if isinstance(name, str) and name in candidates:
            return name
    return None


def _preference(alias: LineMap, alias_id: str, resources: LineMap) -> LineMap | None:
    """The ``DeploymentPreference`` the alias's CodeDeploy update amounts to."""
    policy = _update_policy(alias)
    if not policy:
        return None
    out = LineMap(line=alias.lines.get("UpdatePolicy"))
    group_id = _named(policy.get("DeploymentGroupName"), resources)
    group = resources.get(group_id) if group_id is not None else None
    group_props = group.get("Properties") if isinstance(group, Mapping) else None
    group_props = group_props if isinstance(group_props, Mapping) else {}
    # CodeDeploy's default for a group that names no configuration
    out["Type"] = group_props.get("DeploymentConfigName", "CodeDeployDefault.LambdaAllAtOnce")
    alarms = group_props.get("AlarmConfiguration")
    if isinstance(alarms, Mapping) and alarms.get("Enabled", True) not in (False, "false"):
        names = [a.get("Name") for a in alarms.get("Alarms") or () if isinstance(a, Mapping)]
        if names:
            out["Alarms"] = LineList(names)
    hooks = LineMap()
    for key, hook in HOOKS.items():
        if policy.get(key) is not None:
            hooks[hook] = policy[key]
    if hooks:
        out["Hooks"] = hooks
    return out


def _rewrite(doc: LineMap, renamed: Mapping[str, Any]) -> None:
    """References to the resources read into their function, as SAM's names for them:
    ``!Ref Alias`` is ``Fn.Alias``, ``!GetAtt Version.Version`` is ``Fn.Version.Version``."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if len(node) == 1:
                key, arg = next(iter(node.items()))
                if key == "Ref" and isinstance(arg, str) and arg in renamed:
                    new = renamed[arg]
                    return LineMap(new) if isinstance(new, dict) else new
                if key == "Fn::GetAtt":
                    head, attr = get_att_parts(arg)
                    if head in renamed and isinstance(renamed[head], dict):
                        return LineMap({"Fn::GetAtt": [renamed[head]["Ref"], attr]})
                if key == "Fn::Sub":
                    return LineMap({"Fn::Sub": sub(arg)})
            for key, value in list(node.items()):
                if key != "DependsOn":
                    node[key] = walk(value)
                elif (rest := depends_without(value, renamed)) is None:
                    del node[key]
                else:
                    node[key] = rest
            return node
        if isinstance(node, list):
            for i, value in enumerate(node):
                node[i] = walk(value)
        return node

    def name_of(target: Any) -> str:
        return str(target["Ref"]) if isinstance(target, dict) else str(target)

    def sub(arg: Any) -> Any:
        if isinstance(arg, list) and len(arg) == 2:
            return [sub(arg[0]), walk(arg[1])]
        if not isinstance(arg, str):
            return walk(arg)
        for old, new in renamed.items():
            arg = arg.replace("${" + old + "}", "${" + name_of(new) + "}")
            arg = arg.replace("${" + old + ".", "${" + name_of(new) + ".")
        return arg

    for section in ("Resources", "Outputs", "Conditions"):
        if isinstance(doc.get(section), dict):
            walk(doc[section])
