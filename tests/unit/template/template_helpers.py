"""Writing small templates into a temporary application directory."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from canaria.errors import TemplateError

PY = f"python{sys.version_info.major}.{sys.version_info.minor}"
HEAD = "Transform: AWS::Serverless-2016-10-31\n"


def write(tmp_path: Path, body: str, name: str = "template.yaml", head: str = HEAD) -> str:
    """The template ``body`` (dedented; ``{py}`` → the running runtime) in ``tmp_path/app``."""
    app = tmp_path / "app"
    (app / "src").mkdir(parents=True, exist_ok=True)
    path = app / name
    path.write_text(head + textwrap.dedent(body).replace("{py}", PY))
    return str(path)


def function(name: str = "Fn", extra: str = "", indent: int = 2) -> str:
    """A minimal function resource; ``extra`` lines go under Properties (6 spaces)."""
    text = f"""\
{name}:
  Type: AWS::Serverless::Function
  Properties:
    Handler: app.handler
    Runtime: {PY}
    CodeUri: src
"""
    if extra:
        text += textwrap.indent(textwrap.dedent(extra), "    ")
    return textwrap.indent(text, " " * indent)


def resources(*parts: str) -> str:
    return "Resources:\n" + "".join(parts)


def line_of(path: str, needle: str) -> int:
    """The 1-based line of the first line of ``path`` containing ``needle``."""
    for i, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in {path}")


def fails(path: str, **kwargs: object) -> TemplateError:
    from canaria.template import load

    with pytest.raises(TemplateError) as info:
        load(path, **kwargs)  # type: ignore[arg-type]
    return info.value
