"""Template parameters: ``--parameter-overrides``, ``samconfig.toml`` and validation.

Precedence is the SAM CLI's: command-line overrides, then ``samconfig.toml`` next to the
template (``[<env>.deploy.parameters]``, else ``[<env>.global.parameters]``), then each
parameter's ``Default``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import regex

from canaria.errors import TemplateError
from canaria.template.nodes import LineMap, Problems, Where, as_float, as_map, as_str, check_keys

OVERRIDE_SYNTAX = 'Key=Value Key2="quoted value" or ParameterKey=Key,ParameterValue=Value'

_KEY = r"[A-Za-z0-9]+"
_VALUE = r"\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|(?:\\.|[^\s\"'\\])+"
_LONG = re.compile(rf"ParameterKey=(?P<key>{_KEY}),ParameterValue=(?P<value>{_VALUE})?(?=\s|$)")
_SHORT = re.compile(rf"(?P<key>{_KEY})=(?P<value>{_VALUE})?(?=\s|$)")


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return re.sub(r"\\(.)", r"\1", value)


def parse_parameter_overrides(text: str) -> dict[str, str]:
    """``Key=Value Key2="quoted value"`` or ``ParameterKey=K,ParameterValue=V``, as SAM CLI."""
    out: dict[str, str] = {}
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return out
        m = _LONG.match(text, pos) or _SHORT.match(text, pos)
        if m is None:
            rest = text[pos:].split()[0] if text[pos:].split() else text[pos:]
            raise TemplateError(
                f"cannot read parameter override {rest!r}",
                prop="--parameter-overrides",
                allowed=OVERRIDE_SYNTAX,
            )
        out[m.group("key")] = _unquote(m.group("value") or "")
        pos = m.end()


# ---- samconfig.toml ----------------------------------------------------------------------


def samconfig_overrides(
    template: Path, config_env: str | None
) -> tuple[dict[str, str], str, str | None]:
    """The parameter overrides ``samconfig.toml`` next to ``template`` holds, its path, and
    the ``stack_name`` it gives ``sam deploy`` (``AWS::StackName`` and the names built from
    it, as on the stack the user deploys)."""
    path = template.parent / "samconfig.toml"
    display = str(path)
    if not path.is_file():
        if config_env is not None:
            raise TemplateError(
                f"--config-env {config_env!r} needs a samconfig.toml next to the template",
                file=display,
            )
        return {}, display, None
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"invalid TOML: {exc}", file=display) from None
    version = doc.get("version")
    if version != 0.1:
        raise TemplateError(
            f"version {version!r} is not supported", file=display, prop="version", allowed="0.1"
        )
    env = config_env or "default"
    envs = sorted(k for k, v in doc.items() if isinstance(v, dict))
    if env not in doc or not isinstance(doc[env], dict):
        if config_env is None:
            return {}, display, None
        raise TemplateError(
            f"environment {env!r} is not in samconfig.toml",
            file=display,
            prop="config_env",
            allowed=", ".join(envs) or "none defined",
        )
    stack = _stack_name(doc[env], env, display)
    for command in ("deploy", "global"):
        section = doc[env].get(command, {})
        params = section.get("parameters", {}) if isinstance(section, dict) else {}
        if isinstance(params, dict) and "parameter_overrides" in params:
            raw = params["parameter_overrides"]
            prop = f"{env}.{command}.parameters.parameter_overrides"
            texts = raw if isinstance(raw, list) else [raw]
            out: dict[str, str] = {}
            for text in texts:
                if not isinstance(text, str):
                    raise TemplateError(
                        "expected a string or a list of strings", file=display, prop=prop
                    )
                try:
                    out.update(parse_parameter_overrides(text))
                except TemplateError as exc:
                    raise TemplateError(
                        exc.message.split(": ", 1)[-1].split(" (allowed")[0],
                        file=display,
                        prop=prop,
                        allowed=OVERRIDE_SYNTAX,
                    ) from None
            return out, display, stack
    return {}, display, stack


STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")


def _stack_name(env: Mapping[str, Any], name: str, display: str) -> str | None:
    """``stack_name`` from the environment's ``deploy`` parameters, else its ``global``
    ones, checked as CloudFormation checks a stack's name."""
    for command in ("deploy", "global"):
        section = env.get(command, {})
        params = section.get("parameters", {}) if isinstance(section, dict) else {}
        if isinstance(params, dict) and "stack_name" in params:
            value = params["stack_name"]
            if not isinstance(value, str) or not STACK_NAME.fullmatch(value):
                raise TemplateError(
                    f"stack_name {value!r} is not a stack name",
                    file=display,
                    prop=f"{name}.{command}.parameters.stack_name",
                    allowed="a letter, then letters, digits and hyphens; 128 characters at most",
                )
            return value
    return None


# ---- the Parameters section ------------------------------------------------------------

PARAMETER_KEYS = (
    "Type",
    "Default",
    "AllowedValues",
    "AllowedPattern",
    "MinValue",
    "MaxValue",
    "MinLength",
    "MaxLength",
    "Description",
    "ConstraintDescription",
    "NoEcho",
)
_LIST_TYPES = re.compile(r"^(CommaDelimitedList|List<.+>)$")
_AWS_TYPE = re.compile(
    r"^(AWS::[A-Za-z0-9]+::[A-Za-z0-9]+::[A-Za-z0-9]+|AWS::SSM::Parameter::"
    r"Value<.+>|List<AWS::[A-Za-z0-9:]+>|AWS::SSM::Parameter::Name)$"
)
# a parameter whose value CloudFormation reads from SSM Parameter Store, its own value
# being the SSM parameter's name: ``AWS::SSM::Parameter::Value<String>`` and the like
SSM_VALUE = "AWS::SSM::Parameter::Value<"
BASIC_TYPES = ("String", "Number", "CommaDelimitedList", "List<Number>")


class Parameter:
    """One declared parameter with its resolved value."""

    def __init__(self, name: str, type_: str, value: str, source: str = "Default") -> None:
        self.name = name
        self.source = source
        self.type = type_
        self.value = value

    @property
    def is_list(self) -> bool:
        return bool(_LIST_TYPES.match(self.type))

    def ref(self) -> str | list[str]:
        """What ``Ref`` gives: a list for list types, else the string."""
        if self.is_list:
            return [] if self.value == "" else [p.strip() for p in self.value.split(",")]
        return self.value


def _scalar_text(value: Any, where: Where) -> str:
    if isinstance(value, list):
        return ",".join(as_str(v, where) for v in value)
    return as_str(value, where)


def resolve_parameters(
    section: Any,
    where: Where,
    overrides: Mapping[str, str],
    config: Mapping[str, str],
    config_file: str,
) -> dict[str, Parameter]:
    """Every declared parameter with its value; unknown or invalid values are refused."""
    declared = as_map(section, where) if section is not None else LineMap()
    names = sorted(declared)
    for source, values, file in (
        ("--parameter-overrides", overrides, None),
        ("samconfig.toml", config, config_file),
    ):
        for key in values:
            if key not in declared:
                raise TemplateError(
                    f"{source} names {key!r}, which the template does not declare",
                    file=file or where.file,
                    prop=f"Parameters.{key}",
                    allowed=", ".join(names) or "no parameters declared",
                )
    out: dict[str, Parameter] = {}
    problems = Problems()  # each parameter is checked, all errors reported at once
    for name in declared:
        with problems.catch():
            out[name] = _parameter(name, declared, where, overrides, config, config_file)
    problems.raise_any()
    return out


def _parameter(
    name: str,
    declared: LineMap,
    where: Where,
    overrides: Mapping[str, str],
    config: Mapping[str, str],
    config_file: str,
) -> Parameter:
    at = where.key(declared, name)
    spec = as_map(declared[name], at)
    check_keys(spec, at, PARAMETER_KEYS, required=("Type",))
    type_ = as_str(spec["Type"], at.key(spec, "Type"))
    if type_ not in BASIC_TYPES and not _AWS_TYPE.match(type_):
        raise at.key(spec, "Type").error(
            f"unknown parameter type {type_!r}",
            allowed="String, Number, CommaDelimitedList, List<Number>, AWS-specific types",
        )
    if name in overrides:
        value, vat, source = overrides[name], at, "--parameter-overrides"
    elif name in config:
        value, vat, source = config[name], at, config_file
    elif "Default" in spec:
        vat, source = at.key(spec, "Default"), "Default"
        value = _scalar_text(spec["Default"], vat)
    else:
        raise at.error(
            f"parameter {name} has no Default and no value was given",
            allowed=f"--parameter-overrides {name}=<value>",
        )
    param = Parameter(name, type_, value, source)
    _validate(param, spec, at, vat)
    return param


def check_parameter(param: Parameter, spec: LineMap, at: Where, vat: Where) -> None:
    """Refuse ``param``'s value where its declaration ``spec`` (at ``at``) does not allow it
    (``vat``: where the value is written)."""
    _validate(param, spec, at, vat)


def _constraint(spec: LineMap, at: Where, key: str) -> float | None:
    """A numeric constraint (MinValue, MaxLength, ...) checked where it is written."""
    if key not in spec:
        return None
    return as_float(spec[key], at.key(spec, key))


def _pattern(spec: LineMap, at: Where) -> regex.Pattern[str]:
    """CloudFormation reads AllowedPattern as a Java regular expression: ``regex`` knows
    what Java has and ``re`` lacks (``\\p{L}`` and the other Unicode classes, possessive
    quantifiers, atomic groups)."""
    pat = at.key(spec, "AllowedPattern")
    text = as_str(spec["AllowedPattern"], pat)
    try:
        return regex.compile(text)
    except regex.error as exc:
        raise pat.error(
            f"AllowedPattern {text!r} is not a regular expression: {exc}",
            allowed="a Java-style regular expression, e.g. [a-z]+",
        ) from None


def _validate(param: Parameter, spec: LineMap, at: Where, vat: Where) -> None:
    values = param.ref()
    items = values if isinstance(values, list) else [values]
    hint = spec.get("ConstraintDescription")
    suffix = f" ({hint})" if isinstance(hint, str) else ""
    suffix += f" [value from {param.source}]"
    if "AllowedValues" in spec:
        allowed_at = at.key(spec, "AllowedValues")
        allowed = [_scalar_text(v, allowed_at) for v in spec["AllowedValues"] or []]
        for item in items:
            if item not in allowed:
                raise vat.error(
                    f"parameter {param.name}: {item!r} is not allowed{suffix}",
                    allowed=", ".join(allowed),
                )
    if "AllowedPattern" in spec:
        pattern = _pattern(spec, at)
        for item in items:
            if pattern.fullmatch(item) is None:
                raise vat.error(
                    f"parameter {param.name}: {item!r} does not match the pattern{suffix}",
                    allowed=pattern.pattern,
                )
    numeric = param.type in ("Number", "List<Number>")
    lo, hi = _constraint(spec, at, "MinValue"), _constraint(spec, at, "MaxValue")
    short, long = _constraint(spec, at, "MinLength"), _constraint(spec, at, "MaxLength")
    for item in items:
        if numeric:
            try:
                number = float(item)
            except ValueError:
                raise vat.error(
                    f"parameter {param.name}: {item!r} is not a number", allowed="a number"
                ) from None
            if (lo is not None and number < lo) or (hi is not None and number > hi):
                raise vat.error(
                    f"parameter {param.name}: {item} is out of range{suffix}",
                    allowed=f"{_num(lo, '-inf')} to {_num(hi, 'inf')}",
                )
        elif param.type == "String" and (
            (short is not None and len(item) < short) or (long is not None and len(item) > long)
        ):
            raise vat.error(
                f"parameter {param.name}: {item!r} has the wrong length{suffix}",
                allowed=f"{_num(short, '0')} to {_num(long, 'any')} characters",
            )


def _num(value: float | None, default: str) -> str:
    return default if value is None else f"{value:g}"
