"""The AWS SDK packages Lambda provides that a Node.js function names beyond canaria's own:
found in its code, installed from npm once per set, and loaded by CommonJS and ES modules.

The registry is a local one serving a small ``@aws-sdk/client-sts`` (real npm, no
network); the npm cache is the test's own, so nothing it installs reaches the user's."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import http.server
import io
import json
import tarfile
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import ClassVar, cast

import orjson
import pytest

from canaria.clock import RealClock
from canaria.errors import BuildError
from canaria.models import FunctionConfig, Version
from canaria.runtime import FunctionRuntime, build_artifact
from canaria.runtime.sdk import SDK_LINK, missing_sdk, provide_sdk, sdk_imports
from tests.functional.runtime.test_runtime_deps import _tarball, needs_npm

FAKE = "@aws-sdk/client-sts"
FAKE_SOURCE = "exports.STSClient = class STSClient { whoami() { return 'fake sts'; } };\n"


class Registry(http.server.BaseHTTPRequestHandler):
    """Just enough of npm's registry for one package: its packument and its tarball."""

    tarball: ClassVar[bytes] = b""
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Registry.requests.append(self.path)
        address = cast(tuple[str, int], self.server.server_address)
        host = f"http://{address[0]}:{address[1]}"
        if self.path.startswith("/tarballs/"):
            body, kind = Registry.tarball, "application/octet-stream"
        elif self.path.lower() in ("/@aws-sdk%2fclient-sts", "/@aws-sdk/client-sts"):
            digest = base64.b64encode(hashlib.sha512(Registry.tarball).digest()).decode()
            version = {
                "name": FAKE,
                "version": "3.0.0",
                "dist": {
                    "tarball": f"{host}/tarballs/client-sts-3.0.0.tgz",
                    "shasum": hashlib.sha1(Registry.tarball).hexdigest(),
                    "integrity": f"sha512-{digest}",
                },
            }
            packument = {
                "name": FAKE,
                "dist-tags": {"latest": "3.0.0"},
                "versions": {"3.0.0": version},
            }
            body, kind = json.dumps(packument).encode(), "application/json"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    tgz = _tarball(tmp_path, "client-sts", "3.0.0", FAKE_SOURCE)
    # the tarball's package.json must carry the scoped name npm asked for
    Registry.tarball = _scoped(tgz)
    Registry.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    monkeypatch.setenv("npm_config_registry", url)
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm-cache"))
    yield url
    server.shutdown()
    server.server_close()


def _scoped(tgz: Path) -> bytes:
    out = io.BytesIO()
    with tarfile.open(tgz) as src, tarfile.open(fileobj=out, mode="w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member)
            assert data is not None
            content = data.read()
            if member.name == "package/package.json":
                content = json.dumps({"name": FAKE, "version": "3.0.0"}).encode()
                member.size = len(content)
            dst.addfile(member, io.BytesIO(content))
    return out.getvalue()


@pytest.fixture
async def runtime() -> AsyncIterator[FunctionRuntime]:
    rt = FunctionRuntime(
        "Fn", reserved_concurrency=None, env_extra={}, clock=RealClock(), on_log=lambda _: None
    )
    yield rt
    await rt.close()


def test_the_sdk_packages_code_names_are_found(tmp_path: Path) -> None:
    code = tmp_path / "code"
    (code / "lib").mkdir(parents=True)
    (code / "node_modules" / "dep").mkdir(parents=True)
    (code / "app.mjs").write_text(
        'import { STSClient } from "@aws-sdk/client-sts";\n'
        "import { S3Client } from '@aws-sdk/client-s3';\n"
        "const { Upload } = await import(`@aws-sdk/lib-storage`);\n"
    )
    (code / "lib" / "util.cjs").write_text(
        "const k = require('@aws-sdk/client-kinesis/dist-cjs/index.js');\n"
        "// a comment naming @aws-sdk/not-quoted is not an import\n"
        'const reviver = Symbol.for("@aws-sdk/reviver");\n'  # a bundle's strings: not imports
        'throw new Error("install \\"@aws-sdk/signature-v4-crt\\" for this");\n'
        'const lazy = () => require ( "@aws-sdk/client-sqs" );\n'
    )
    (code / "README.md").write_text('"@aws-sdk/client-ses" in prose')
    (code / "node_modules" / "dep" / "index.js").write_text("require('@aws-sdk/client-kms')")
    assert sdk_imports(code) == {
        "@aws-sdk/client-sts",
        "@aws-sdk/client-s3",
        "@aws-sdk/lib-storage",
        "@aws-sdk/client-kinesis",
        "@aws-sdk/client-sqs",
    }
    # canaria ships client-s3; the function ships client-kinesis itself
    (code / "node_modules" / "@aws-sdk" / "client-kinesis").mkdir(parents=True)
    assert missing_sdk(code) == ["@aws-sdk/client-sts", "@aws-sdk/lib-storage"]


def test_nothing_is_installed_for_a_runtime_with_sdk_v2_or_for_python(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.js").write_text("require('@aws-sdk/client-sts')\n")
    for runtime in ("nodejs16.x", "python3.11"):
        assert provide_sdk(code, str(tmp_path / "state"), runtime) == []
    assert not (code / SDK_LINK).exists()


@needs_npm
@pytest.mark.parametrize(
    ("file", "source"),
    [
        (
            "app.js",
            "const { STSClient } = require('@aws-sdk/client-sts');\n"
            "exports.handler = async () => new STSClient().whoami();\n",
        ),
        (
            "app.mjs",
            "import { STSClient } from '@aws-sdk/client-sts';\n"
            "export const handler = async () => new STSClient().whoami();\n",
        ),
    ],
    ids=["commonjs", "es-module"],
)
async def test_a_package_canaria_does_not_ship_is_installed_once_and_loads(
    tmp_path: Path, registry: str, runtime: FunctionRuntime, file: str, source: str
) -> None:
    code, state = tmp_path / "code", tmp_path / "state"
    code.mkdir()
    (code / file).write_text(source)
    digest, artifact = await asyncio.to_thread(build_artifact, str(code), str(state))
    assert await asyncio.to_thread(provide_sdk, Path(artifact), str(state), "nodejs20.x") == [FAKE]
    assert (Path(artifact) / SDK_LINK / FAKE / "index.js").read_text() == FAKE_SOURCE
    cfg = FunctionConfig(handler="app.handler", runtime="nodejs20.x", code_uri=str(code))
    version = Version("Fn", 1, digest, cfg, artifact, 0.0)
    result = await runtime.invoke(version, b"{}", qualifier=None)
    assert result.ok, result.payload
    assert orjson.loads(result.payload) == "fake sts"
    # another version naming the same packages reuses the install
    (code / file).write_text(source.replace("whoami()", "whoami() + '!'"))
    _, second = await asyncio.to_thread(build_artifact, str(code), str(state))
    fetched = len(Registry.requests)
    assert await asyncio.to_thread(provide_sdk, Path(second), str(state), "nodejs20.x") == [FAKE]
    assert len(Registry.requests) == fetched
    assert [p.name.split("-")[0:2] for p in (state / "deps").iterdir()] == [["aws", "sdk"]]


@needs_npm
def test_an_install_that_fails_says_what_it_could_not_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("npm_config_registry", "http://127.0.0.1:9/")  # nothing listens
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm-cache"))
    monkeypatch.setenv("npm_config_fetch_retries", "0")
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.js").write_text("require('@aws-sdk/client-sts')\n")
    with pytest.raises(BuildError) as info:
        provide_sdk(code, str(tmp_path / "state"), "nodejs20.x")
    assert info.value.message.startswith(f"npm could not install {FAKE}")
    assert not (code / SDK_LINK).exists()
    assert list((tmp_path / "state" / "deps").iterdir()) == []
