"""``Metadata: {BuildMethod: esbuild}``: the esbuild command line ``sam build`` would run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from canaria.models import EsbuildOptions
from canaria.template import load
from tests.unit.template.template_helpers import PY, fails, function, resources, write

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs node on PATH")


def node_function(metadata: str) -> str:
    text = function().replace(f"Runtime: {PY}", "Runtime: nodejs20.x")
    return text + "    Metadata:\n" + "".join(f"      {line}\n" for line in metadata.splitlines())


def with_code(path: str, *files: str) -> str:
    for name in files:
        target = Path(path).parent / "src" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("export const handler = async () => 1;\n")
    return path


def test_defaults_and_properties_become_esbuilds_flags(tmp_path: Path) -> None:
    bare = "BuildMethod: esbuild\nBuildProperties:\n  EntryPoints: [app]\n"
    path = with_code(write(tmp_path, resources(node_function(bare))), "app.ts")
    spec = load(path).functions["Fn"]
    assert spec.build == EsbuildOptions(
        ("app.ts",), ("--target=es2020", "--format=cjs", "--minify")
    )
    full = (
        "BuildMethod: esbuild\n"
        "BuildProperties:\n"
        "  EntryPoints: [handlers/app.js]\n"
        "  Minify: false\n"
        "  Sourcemap: true\n"
        "  Target: es2022\n"
        "  Format: esm\n"
        "  External: ['@aws-sdk/*', pg-native]\n"
        "  OutExtension: ['.js=.mjs']\n"
        "  UseNpmCi: true\n"
    )
    path = with_code(write(tmp_path, resources(node_function(full))), "handlers/app.js")
    app = load(path)
    assert app.functions["Fn"].build == EsbuildOptions(
        ("handlers/app.js",),
        (
            "--sourcemap",
            "--target=es2022",
            "--format=esm",
            "--external:@aws-sdk/*",
            "--external:pg-native",
            "--out-extension:.js=.mjs",
        ),
    )
    assert any("BuildProperties.UseNpmCi" in w for w in app.warnings)


def test_no_build_method_no_build_and_other_methods_warn(tmp_path: Path) -> None:
    path = write(tmp_path, resources(function()))
    assert load(path).functions["Fn"].build is None
    path = write(tmp_path, resources(node_function("BuildMethod: makefile")))
    app = load(path)
    assert app.functions["Fn"].build is None
    assert any("BuildMethod makefile: canaria does not run this build" in w for w in app.warnings)


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ("BuildMethod: esbuild", "EntryPoints is required with BuildMethod esbuild"),
        ("BuildMethod: esbuild\nBuildProperties: {EntryPoints: []}", "at least one file"),
        (
            "BuildMethod: esbuild\nBuildProperties: {EntryPoints: [missing.ts]}",
            "entry point 'missing.ts' is not a file in CodeUri",
        ),
        ("BuildMethod: esbuild\nBuildProperties: {EntryPoints: app.ts}", "expected a list"),
    ],
)
def test_a_build_that_cannot_run_is_refused_at_load(
    tmp_path: Path, metadata: str, message: str
) -> None:
    path = with_code(write(tmp_path, resources(node_function(metadata))), "app.ts")
    err = fails(path)
    assert message in err.message and err.prop is not None and "Metadata" in err.prop


def test_esbuild_bundles_node_functions_only(tmp_path: Path) -> None:
    metadata = "      Metadata:\n        BuildMethod: esbuild\n"
    path = write(tmp_path, resources(function() + metadata.replace("      ", "    ", 1)))
    err = fails(path)
    assert f"BuildMethod esbuild bundles Node.js functions, not {PY}" in err.message


def test_a_template_sam_build_wrote_runs_its_bundle(tmp_path: Path) -> None:
    """``.aws-sam/build/template.yaml`` keeps the Metadata; CodeUri holds the bundle."""
    metadata = "BuildMethod: esbuild\nBuildProperties:\n  EntryPoints: [app.ts]\n"
    body = resources(node_function(metadata)).replace("Handler: app.handler", "Handler: app.go")
    path = with_code(write(tmp_path, body), "app.js")
    assert load(path).functions["Fn"].build is None
    # with neither the entry point nor the bundle, the build cannot run
    (Path(path).parent / "src" / "app.js").unlink()
    assert "entry point 'app.ts' is not a file in CodeUri" in fails(path).message
