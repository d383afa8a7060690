"""``canaria validate``: a template checked the way ``up`` and ``deploy`` load it.

``find_template`` looks for the template as the SAM CLI does (``template.yaml``, then
``template.yml``, then ``template.json``); ``validate`` loads it and returns a ``Report``
with every error (file, line, property, what is allowed) and every warning (what canaria
skips or ignores).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from canaria.errors import TemplateError, TemplateErrors
from canaria.template.loader import load

TEMPLATE_NAMES = ("template.yaml", "template.yml", "template.json")


def find_template(given: str | None, directory: Path | None = None) -> Path:
    """``given`` when the user named a template, else the first of ``TEMPLATE_NAMES`` in
    ``directory`` (the working directory) that exists; a ``TemplateError`` otherwise."""
    if given is not None:
        path = Path(given)
        if not path.is_file():
            raise TemplateError(f"template {given} does not exist")
        return path
    base = directory or Path()
    for name in TEMPLATE_NAMES:
        if (base / name).is_file():
            return base / name
    raise TemplateError(
        f"no template in {base.resolve()}",
        allowed=", ".join(TEMPLATE_NAMES) + ", or name one with -t",
    )


@dataclass(frozen=True)
class Problem:
    file: str | None
    line: int | None
    property: str | None
    message: str
    allowed: str | None
    text: str  # the whole line as printed

    @staticmethod
    def of(error: TemplateError) -> Problem:
        return Problem(
            error.file, error.line, error.prop, error.detail, error.allowed, error.message
        )


@dataclass(frozen=True)
class Report:
    template: str
    errors: tuple[Problem, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def valid(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return {
            "template": self.template,
            "valid": self.valid,
            "errors": [
                {
                    "file": p.file,
                    "line": p.line,
                    "property": p.property,
                    "message": p.message,
                    "allowed": p.allowed,
                }
                for p in self.errors
            ],
            "warnings": list(self.warnings),
        }


def validate(
    path: Path, overrides: Mapping[str, str] | None = None, *, config_env: str | None = None
) -> Report:
    """Every error and warning of the template at ``path``."""
    try:
        app = load(str(path), overrides, config_env=config_env)
    except TemplateErrors as exc:
        return Report(str(path), tuple(Problem.of(e) for e in exc.errors))
    except TemplateError as exc:
        return Report(str(path), (Problem.of(exc),))
    return Report(str(path), warnings=app.warnings)
