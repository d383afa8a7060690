"""AWS's public layers that canaria builds from the packages they hold.

A layer ARN from another account is code canaria cannot download (the layer's content is
behind ``GetLayerVersion`` on AWS). The most used of them, Powertools for AWS Lambda's, are
published from packages that PyPI and npm serve: a function that names one gets, in its
place, a layer canaria builds from those packages, with the function's runtime (pip of its
Python version; npm), as ``sam build`` builds a layer. The version installed is the newest
of the layer's major line, not necessarily the one the layer version number holds; the
warning says so.

- ``arn:aws:lambda:<region>:017000801446:layer:AWSLambdaPowertoolsPython:<n>``: Powertools
  1.x (its public layers held the core package, without pydantic);
- ``...:AWSLambdaPowertoolsPythonV2[-Arm64]:<n>``: 2.x with every extra, as the layer holds;
- ``...:AWSLambdaPowertoolsPythonV3-python3<N>-<arch>:<n>``: 3.x with every extra;
- ``arn:aws:lambda:<region>:094274105915:layer:AWSLambdaPowertoolsTypeScript[V2]:<n>``:
  the TypeScript packages of 1.x (or 2.x) the layer holds.
"""

from __future__ import annotations

import re
from typing import Literal

from canaria.models import LayerSpec

_REGION = r"arn:aws:lambda:[a-z]{2}(?:-[a-z]+)+-\d:"
_PYTHON = _REGION + r"017000801446:layer:"
_TYPESCRIPT = _REGION + r"094274105915:layer:"
_TS_PACKAGES = ("batch", "commons", "idempotency", "logger", "metrics", "parameters", "tracer")

# (the layer's ARN, its family, the packages it holds)
_KNOWN: tuple[tuple[re.Pattern[str], Literal["python", "nodejs"], tuple[str, ...]], ...] = (
    (
        re.compile(_PYTHON + r"AWSLambdaPowertoolsPython:\d+$"),
        "python",
        ("aws-lambda-powertools>=1,<2",),
    ),
    (
        re.compile(_PYTHON + r"AWSLambdaPowertoolsPythonV2(?:-Arm64)?:\d+$"),
        "python",
        ("aws-lambda-powertools[all]>=2,<3",),
    ),
    (
        re.compile(_PYTHON + r"AWSLambdaPowertoolsPythonV3-python3\d+-(?:x86_64|arm64):\d+$"),
        "python",
        ("aws-lambda-powertools[all]>=3,<4",),
    ),
    (
        re.compile(_TYPESCRIPT + r"AWSLambdaPowertoolsTypeScript:\d+$"),
        "nodejs",
        tuple(f"@aws-lambda-powertools/{p}@^1" for p in _TS_PACKAGES),
    ),
    (
        re.compile(_TYPESCRIPT + r"AWSLambdaPowertoolsTypeScriptV2:\d+$"),
        "nodejs",
        tuple(f"@aws-lambda-powertools/{p}@^2" for p in (*_TS_PACKAGES, "jmespath")),
    ),
)


def public_layer(arn: str, runtime: str) -> LayerSpec | None:
    """The layer canaria builds in the place of the public layer ``arn`` for a function
    of ``runtime``, or None when ``arn`` is none it knows (or of another language)."""
    for pattern, family, packages in _KNOWN:
        if pattern.match(arn) and runtime.startswith(family):
            name = arn.split(":")[6]
            method = runtime if family == "python" else ""
            return LayerSpec(name, "", family, method, packages)
    return None


def described(layer: LayerSpec) -> str:
    """What stands in for the layer, for the warning."""
    source = "PyPI" if layer.build == "python" else "the npm registry"
    return f"{', '.join(layer.packages)} from {source}"


__all__ = ["described", "public_layer"]
