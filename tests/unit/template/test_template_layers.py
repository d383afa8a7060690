"""``AWS::Serverless::LayerVersion`` resources and the layers a function names."""

from __future__ import annotations

from pathlib import Path

import pytest

from canaria.models import LayerSpec
from canaria.template import load
from tests.unit.template.template_helpers import PY, fails, function, resources, write


def layer(name: str, content: str = "lib", metadata: str = "") -> str:
    text = f"  {name}:\n    Type: AWS::Serverless::LayerVersion\n"
    text += f"    Properties:\n      ContentUri: {content}\n"
    if metadata:
        text += f"    Metadata:\n      BuildMethod: {metadata}\n"
    return text


def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "app" / "lib").mkdir(parents=True, exist_ok=True)
    return tmp_path / "app"


def test_a_function_gets_its_layers_in_order_after_the_globals(tmp_path: Path) -> None:
    lib = app_dir(tmp_path) / "lib"
    body = "Globals:\n  Function:\n    Layers: [!Ref Common]\n" + resources(
        layer("Common"),
        layer("Deps", metadata="python3.12"),
        layer("Modules", metadata="nodejs20.x"),
        function(extra="Layers: [!Ref Deps, !Ref Modules]"),
    )
    app = load(write(tmp_path, body))
    assert app.functions["Fn"].layers == (
        LayerSpec("Common", str(lib)),
        LayerSpec("Deps", str(lib), "python", "python3.12"),
        LayerSpec("Modules", str(lib), "nodejs", "nodejs20.x"),
    )
    assert app.skipped == () and app.warnings == ()


def test_a_layer_from_outside_the_template_is_a_warning(tmp_path: Path) -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:layer:team-shared-lib:4"
    app_dir(tmp_path)
    app = load(write(tmp_path, resources(function(extra=f"Layers: [{arn}]"))))
    assert app.functions["Fn"].layers == ()
    assert len(app.warnings) == 1
    assert arn in app.warnings[0] and "cannot fetch" in app.warnings[0]


@pytest.mark.parametrize(
    ("runtime", "arn", "expected"),
    [
        (
            PY,
            "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPython:9",
            LayerSpec(
                "AWSLambdaPowertoolsPython", "", "python", PY, ("aws-lambda-powertools>=1,<2",)
            ),
        ),
        (
            PY,
            "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV2-Arm64:46",
            LayerSpec(
                "AWSLambdaPowertoolsPythonV2-Arm64",
                "",
                "python",
                PY,
                ("aws-lambda-powertools[all]>=2,<3",),
            ),
        ),
        (
            PY,
            "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-x86_64:7",
            LayerSpec(
                "AWSLambdaPowertoolsPythonV3-python313-x86_64",
                "",
                "python",
                PY,
                ("aws-lambda-powertools[all]>=3,<4",),
            ),
        ),
    ],
)
def test_a_public_powertools_layer_is_built_from_its_packages(
    tmp_path: Path, runtime: str, arn: str, expected: LayerSpec
) -> None:
    app_dir(tmp_path)
    app = load(write(tmp_path, resources(function(extra=f"Layers: [{arn}]"))))
    assert app.functions["Fn"].layers == (expected,)
    (warning,) = app.warnings
    assert "AWS's public Powertools layer" in warning and "from PyPI" in warning


def test_a_public_typescript_layer_gives_node_functions_its_packages(tmp_path: Path) -> None:
    app_dir(tmp_path)
    arn = "arn:aws:lambda:us-east-1:094274105915:layer:AWSLambdaPowertoolsTypeScriptV2:12"
    node = (
        "  Node:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      Handler: app.handler\n      Runtime: nodejs20.x\n      CodeUri: src\n"
        f"      Layers: [{arn}]\n"
    )
    app = load(write(tmp_path, resources(node)))
    (built,) = app.functions["Node"].layers
    assert (built.name, built.build) == ("AWSLambdaPowertoolsTypeScriptV2", "nodejs")
    assert "@aws-lambda-powertools/logger@^2" in built.packages
    # the Python layer means nothing to a Node.js function: warned, and left out
    python_arn = "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV2:46"
    app = load(write(tmp_path, resources(node.replace(arn, python_arn))))
    assert app.functions["Node"].layers == ()
    assert "cannot fetch" in app.warnings[0]


def test_another_build_method_takes_the_layer_as_it_is(tmp_path: Path) -> None:
    app_dir(tmp_path)
    body = resources(layer("Lib", metadata="makefile"), function(extra="Layers: [!Ref Lib]"))
    app = load(write(tmp_path, body))
    assert app.functions["Fn"].layers[0].build is None
    assert "BuildMethod makefile" in app.warnings[0]


def test_a_missing_layer_is_named(tmp_path: Path) -> None:
    app_dir(tmp_path)
    body = resources(layer("Lib", "missing"), function(extra="Layers: [!Ref Lib]"))
    err = fails(write(tmp_path, body))
    assert err.prop == "Resources.Lib.Properties.ContentUri"
    assert "ContentUri 'missing' does not exist" in err.detail


@pytest.mark.parametrize("content", ["s3://bucket/layer.zip", "{Bucket: b, Key: k}"])
def test_a_layer_in_s3_is_a_warning(tmp_path: Path, content: str) -> None:
    """As a layer from an account: canaria cannot fetch it, the function runs without."""
    app_dir(tmp_path)
    body = resources(layer("Lib", content), function(extra="Layers: [!Ref Lib]"))
    app = load(write(tmp_path, body))
    assert app.functions["Fn"].layers == ()
    assert len(app.warnings) == 1 and "ContentUri is in S3" in app.warnings[0]


def test_more_than_five_layers_is_refused(tmp_path: Path) -> None:
    app_dir(tmp_path)
    names = [f"L{i}" for i in range(6)]
    refs = ", ".join(f"!Ref {n}" for n in names)
    body = resources(*(layer(n) for n in names), function(extra=f"Layers: [{refs}]"))
    err = fails(write(tmp_path, body))
    assert err.prop == "Resources.Fn.Properties.Layers" and "at most 5" in err.detail


def test_an_aws_lambda_layer_version_is_skipped_with_a_reason(tmp_path: Path) -> None:
    app_dir(tmp_path)
    lambda_layer = (
        "  Raw:\n    Type: AWS::Lambda::LayerVersion\n"
        "    Properties: {Content: {S3Bucket: b, S3Key: k}}\n"
    )
    app = load(write(tmp_path, resources(lambda_layer, function())))
    assert [s.logical_id for s in app.skipped] == ["Raw"]
    assert "AWS::Serverless::LayerVersion" in app.skipped[0].reason


def test_a_provided_function_may_take_its_bootstrap_from_a_layer(tmp_path: Path) -> None:
    lib = app_dir(tmp_path) / "lib"
    fn = function(extra="Layers: [!Ref Runtime]").replace(
        f"Runtime: {PY}", "Runtime: provided.al2023"
    )
    path = write(tmp_path, resources(layer("Runtime"), fn))
    err = fails(path)  # neither the code nor the layer has one
    assert "no 'bootstrap' file" in err.detail and "of one of its layers" in (err.allowed or "")
    (lib / "bootstrap").write_text("#!/bin/sh\n")
    (lib / "bootstrap").chmod(0o755)
    assert load(path).functions["Fn"].config.runtime == "provided.al2023"
