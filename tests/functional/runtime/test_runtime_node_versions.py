"""Each ``nodejs<N>.x`` runtime on Node.js N, installed from the npm registry as canaria
installs it, with the rules Lambda gives each line: real ``node`` processes through the
Runtime API."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from canaria import nodejs, runtimes
from tests.functional.runtime.versions import Env, body, running_env

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None, reason="needs node and npm"
)

LINES = (18, 20, 22, 24)

APP = textwrap.dedent(
    """
    exports.version = async () => process.version;
    exports.options = async () => process.env.NODE_OPTIONS;
    exports.context = async (event, context) =>
      ["callbackWaitsForEmptyEventLoop", "done", "succeed", "fail"].filter((k) => k in context);
    exports.callback = (event, context, callback) => callback(null, "by callback");
    exports.asyncWithCallback = async (event, context, callback) => "declared a callback";
    exports.stream = awslambda.streamifyResponse(async (event, stream, context) => {
      stream.write("streamed on " + process.version.split(".")[0]);
      stream.end();
    });
    exports.sync = (event) => { setTimeout(() => {}, 5); return "ignored"; };
    """
)


@pytest.fixture(scope="module")
def lines() -> dict[int, str]:
    """Node.js 18, 22 and 24 (and 20, unless the machine's own is 20) installed as ``canaria
    up`` installs them; the version each runs."""
    found = {}
    for major in LINES:
        node = nodejs.node_for(f"nodejs{major}.x")
        if node is None or node.major != major:
            node = nodejs.install(major)
        found[major] = node.version
    return found


@pytest.fixture
async def env(tmp_path: Path, lines: dict[int, str]) -> AsyncIterator[Env]:
    async for e in running_env(tmp_path):
        yield e


async def test_each_runtime_runs_on_its_own_release_line(env: Env, lines: dict[int, str]) -> None:
    code = env.code({"app.js": APP})
    for major in LINES:
        r = await env.call(code, "app.version", f"nodejs{major}.x")
        assert r.ok, r.payload
        assert body(r) == lines[major] and body(r).startswith(f"v{major}.")


async def test_lambdas_switched_off_features_per_line_unless_asked_back(env: Env) -> None:
    """Lambda turns off require() of ES modules on 20 and 22, and syntax detection on 22."""
    code = env.code({"app.js": APP})
    seen = {m: body(await env.call(code, "app.options", f"nodejs{m}.x")) for m in LINES}
    assert "--no-experimental-require-module" in seen[20]
    assert "--no-experimental-detect-module" not in seen[20]
    assert "--no-experimental-require-module" in seen[22]
    assert "--no-experimental-detect-module" in seen[22]
    assert "experimental" not in seen[24]
    own = await env.call(
        code,
        "app.options",
        "nodejs22.x",
        environment={"NODE_OPTIONS": "--experimental-require-module"},
    )
    assert "--no-experimental-require-module" not in body(own)
    assert "--no-experimental-detect-module" in body(own)
    assert body(own).endswith("--experimental-require-module")


async def test_es_module_syntax_in_a_plain_js_file_loads_on_24_only(env: Env) -> None:
    """``export`` in ``index.js`` with no ``"type": "module"``: a syntax error on Lambda's
    nodejs20.x and nodejs22.x, a module on nodejs24.x."""
    code = env.code({"index.js": "export const handler = async () => 'esm in .js';\n"})
    for major in (20, 22):
        r = await env.call(code, "index.handler", f"nodejs{major}.x")
        assert r.error_type == "Runtime.UserCodeSyntaxError", (major, r.payload)
        assert "export" in body(r)["errorMessage"]
    r = await env.call(code, "index.handler", "nodejs24.x")
    assert r.ok and body(r) == "esm in .js"


async def test_nodejs24_refuses_a_handler_declared_with_a_callback(env: Env) -> None:
    code = env.code({"app.js": APP})
    for handler in ("app.callback", "app.asyncWithCallback"):
        r = await env.call(code, handler, "nodejs24.x")
        assert r.function_error == "Unhandled" and r.error_type == (
            "Runtime.CallbackHandlerDeprecated"
        ), r.payload
        assert body(r)["errorMessage"].startswith(
            "ERROR: AWS Lambda has removed support for callback-based function handlers "
            "starting with Node.js 24."
        )
    old = await env.call(code, "app.callback", "nodejs22.x")
    assert old.ok and body(old) == "by callback"
    # nodejs22.x warns at init, as Lambda's runtime client does, unless told not to
    assert "WARN\tAWS Lambda plans to remove support for callback-based" in old.logs
    quiet = await env.call(
        code,
        "app.callback",
        "nodejs22.x",
        environment={"AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING": "1"},
    )
    assert quiet.ok and "plans to remove support" not in quiet.logs
    async_one = await env.call(code, "app.version", "nodejs22.x")
    assert "plans to remove support" not in async_one.logs
    # a streaming handler's three parameters are (event, responseStream, context)
    streamed = await env.call(code, "app.stream", "nodejs24.x")
    assert streamed.ok and streamed.payload == b"streamed on v24"


async def test_nodejs24_context_has_no_callback_members(env: Env) -> None:
    code = env.code({"app.js": APP})
    assert body(await env.call(code, "app.context", "nodejs24.x")) == []
    assert body(await env.call(code, "app.context", "nodejs22.x")) == [
        "callbackWaitsForEmptyEventLoop",
        "done",
        "succeed",
        "fail",
    ]
    # a synchronous handler's value is not its answer, on either line
    for major in (22, 24):
        r = await env.call(code, "app.sync", f"nodejs{major}.x")
        assert r.ok and body(r) is None


def test_install_finds_what_is_installed_and_names_the_package(lines: dict[int, str]) -> None:
    assert nodejs.package_name() is not None
    again = nodejs.install(24)  # a second install finds the first
    assert again.version == lines[24] and Path(again.path).is_file()
    machine = runtimes.installed_node()
    assert machine is not None and nodejs.wanted(f"nodejs{machine.major}.x") is None
    other = 24 if machine.major != 24 else 22
    assert nodejs.wanted(f"nodejs{other}.x") == other
    assert nodejs.wanted("nodejs16.x") is None and nodejs.wanted("python3.12") is None


ADDON_GYP = '{"targets": [{"target_name": "abi", "sources": ["abi.cc"]}]}\n'
ADDON_CC = textwrap.dedent(
    """\
    #include <node.h>
    namespace abi {
    void Version(const v8::FunctionCallbackInfo<v8::Value>& args) {
      args.GetReturnValue().Set(v8::Integer::New(args.GetIsolate(), NODE_MODULE_VERSION));
    }
    void Init(v8::Local<v8::Object> exports) { NODE_SET_METHOD(exports, "version", Version); }
    NODE_MODULE(NODE_GYP_MODULE_NAME, Init)
    }
    """
)


@pytest.mark.skipif(
    shutil.which("make") is None or shutil.which("g++") is None, reason="needs a C++ toolchain"
)
async def test_a_compiled_addon_is_built_for_the_line_that_loads_it(
    env: Env, tmp_path: Path
) -> None:
    """An addon built against V8's own API (not N-API) loads only in the release it was
    built for: npm and node-gyp run on the function's line, with its headers, offline."""
    source = tmp_path / "abi"
    source.mkdir()
    (source / "binding.gyp").write_text(ADDON_GYP)
    (source / "abi.cc").write_text(ADDON_CC)
    (source / "package.json").write_text(
        '{"name": "abi", "version": "1.0.0", "main": "build/Release/abi.node",'
        ' "scripts": {"install": "node-gyp rebuild"}}'
    )
    packed = subprocess.run(
        ["npm", "pack", "--silent"], cwd=source, capture_output=True, text=True, check=True
    )
    tarball = source / packed.stdout.strip().splitlines()[-1]
    code = env.code(
        {
            "app.js": "exports.handler = async () =>"
            " [require('abi').version(), Number(process.versions.modules)];\n",
            "package.json": f'{{"dependencies": {{"abi": "file:{tarball}"}}}}',
        }
    )
    for major in (22, 24):
        r = await env.call(code, "app.handler", f"nodejs{major}.x")
        assert r.ok, r.payload
        built_for, loads = body(r)
        assert built_for == loads, (major, built_for, loads)
