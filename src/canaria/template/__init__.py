"""canaria.template: SAM / CloudFormation templates → ``canaria.models.Application``.

``load(path, overrides, config_env=...)`` reads a YAML or JSON template (short-form tags
included), resolves parameters (overrides > samconfig.toml > Default), conditions,
mappings, ``Globals`` and intrinsic functions, and builds the functions, APIs, alarms,
deployment configs, tables and state machines canaria runs; everything else is skipped
with a warning. Whether the template is valid SAM is decided by SAM's own translator
(``sam_rules``), and references to nothing are refused as CloudFormation refuses them
(``references``). Every problem is a ``TemplateError`` naming the file, the line, the
property path and what is allowed; all of a template's problems are raised together as
one ``TemplateErrors``.

``parse_parameter_overrides(text)`` reads the SAM CLI's ``--parameter-overrides`` syntax.

Modules: ``yamlload`` (YAML/JSON with line marks and tags), ``nodes`` (line-marked values,
``Where``, coercions), ``parameters`` (parameters, overrides, samconfig.toml),
``intrinsics`` (intrinsic functions, conditions), ``index`` (what Ref/GetAtt of each
resource gives), ``sam_globals``, ``functions`` and ``preferences`` (functions),
``resources`` (APIs, alarms, deployment configs, skipped), ``tables``, ``statemachines``,
``sam_rules`` (aws-sam-translator, run offline), ``references``, ``loader`` (the order
of it all), ``validate`` (template lookup and the report behind ``canaria validate``).
"""

from canaria.template.loader import load
from canaria.template.parameters import parse_parameter_overrides

__all__ = ["load", "parse_parameter_overrides"]
