"""Real ``node`` processes and ``provided`` bootstraps through the Lambda Runtime API."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from canaria.clock import RealClock
from canaria.models import FunctionConfig, InvokeResult, Version
from canaria.runtime import FunctionRuntime, LogLine, build_artifact
from tests.functional.harness import alive, lift_own_peak_rss, report_max_memory_mb

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs node on PATH")

CJS = textwrap.dedent(
    """
    console.log("imported app");
    let calls = 0;
    exports.echo = async (event) => event;
    exports.variables = async () => Object.keys(process.env);
    exports.count = async () => { calls += 1; return { calls, pid: process.pid }; };
    exports.describe = async (event, context) => ({
      requestId: context.awsRequestId,
      functionName: context.functionName,
      functionVersion: context.functionVersion,
      arn: context.invokedFunctionArn,
      remaining: context.getRemainingTimeInMillis(),
      memory: context.memoryLimitInMB,
      trace: process.env._X_AMZN_TRACE_ID,
      childTrace: require("child_process").execSync("echo $_X_AMZN_TRACE_ID").toString().trim(),
      api: process.env.AWS_LAMBDA_RUNTIME_API,
      execEnv: process.env.AWS_EXECUTION_ENV,
      table: process.env.TABLE,
      cwd: process.cwd(),
    });
    exports.callback = (event, context, callback) => {
      setTimeout(() => callback(null, { via: "callback", n: event.n }), 5);
    };
    exports.callbackError = (event, context, callback) => callback(new TypeError("bad input"));
    exports.waits = (event, context, callback) => {
      const out = { done: false };
      setTimeout(() => { out.done = true; }, 50);   // still pending when the callback is called
      callback(null, out);
    };
    exports.succeed = (event, context) => { context.succeed({ via: "succeed" }); };
    exports.noWait = (event, context, callback) => {
      context.callbackWaitsForEmptyEventLoop = false;
      setTimeout(() => {}, 60000);  // would hold the answer for a minute if it waited
      callback(null, "now");
    };
    exports.syncNoResult = (event) => { setTimeout(() => {}, 10); };
    exports.boom = async () => { throw new RangeError("boom"); };
    exports.rejectString = async () => { throw "plain"; };
    exports.chatty = async (event) => {
      console.log("line one\\nline two");
      console.error("to stderr", event.tag);
      process.stdout.write("raw " + event.tag + "\\n");
      return event.tag;
    };
    exports.sleep = (event) => new Promise((r) => setTimeout(() => r(process.pid), event.ms));
    exports.big = async (event) => "x".repeat(event.size);
    exports.hog = async (event) => Buffer.alloc(event.mb * 1024 * 1024, 1).length;
    exports.crash = async () => {
      setTimeout(() => { throw new Error("uncaught"); }, 1);
      await new Promise(() => {});
    };
    exports.exit = async () => { process.exit(3); };
    exports.nested = { deeper: { handler: async () => "nested" } };
    exports.notAFunction = 42;
    """
)


class NodeEnv:
    def __init__(self, tmp_path: Path, runtime: FunctionRuntime, lines: list[LogLine]) -> None:
        self.tmp_path = tmp_path
        self.runtime = runtime
        self.lines = lines
        self._n = 0

    def code(self, files: dict[str, str], name: str = "code") -> str:
        root = self.tmp_path / name
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            if rel == "bootstrap":
                path.chmod(0o755)
        return str(root)

    def version(self, code: str, handler: str, runtime: str = "nodejs20.x", **cfg: Any) -> Version:
        digest, artifact = build_artifact(code, str(self.tmp_path / "state"))
        self._n += 1
        config = FunctionConfig(handler=handler, runtime=runtime, code_uri=code, **cfg)
        return Version("Fn", self._n, digest, config, artifact, 0.0)

    async def call(self, version: Version, event: Any = None, **kw: Any) -> InvokeResult:
        body = orjson.dumps(event if event is not None else {})
        return await self.runtime.invoke(
            version,
            body,
            qualifier=kw.get("qualifier"),
            client_context=kw.get("client_context"),
        )


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[NodeEnv]:
    lines: list[LogLine] = []
    runtime = FunctionRuntime(
        "Fn",
        reserved_concurrency=None,
        env_extra={"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "TABLE": "from-canaria"},
        clock=RealClock(),
        on_log=lines.append,
    )
    e = NodeEnv(tmp_path, runtime, lines)
    try:
        yield e
    finally:
        pids = runtime.worker_pids()
        await runtime.close()
        assert not [p for p in pids if alive(p)]


def body(result: InvokeResult) -> Any:
    return orjson.loads(result.payload)


async def test_async_handler_warm_reuse_and_context(env: NodeEnv) -> None:
    code = env.code({"app.js": CJS})
    v = env.version(code, "app.count")
    first, second = await env.call(v), await env.call(v)
    assert first.ok and first.cold_start and not second.cold_start
    assert body(first)["calls"] == 1 and body(second) == {"calls": 2, "pid": body(first)["pid"]}
    assert "Init Duration" in first.logs and "imported app" in first.logs
    d = env.version(code, "app.describe", environment={"TABLE": "from-template"}, memory_mb=256)
    r = await env.call(d, qualifier="live")
    got = body(r)
    assert got["requestId"] == r.request_id
    assert got["functionName"] == "Fn" and got["functionVersion"] == str(d.number)
    assert got["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:Fn:live"
    assert 0 < got["remaining"] <= 3000 and got["memory"] == "256"
    assert got["trace"].startswith("Root=1-") and got["api"].startswith("127.0.0.1:")
    assert got["childTrace"] == got["trace"]  # a child process sees this invocation's
    assert body(await env.call(d))["trace"] != got["trace"]
    assert got["execEnv"] == "AWS_Lambda_nodejs20.x" and got["table"] == "from-template"
    assert got["cwd"] == d.artifact


async def test_callback_handlers_and_legacy_context_methods(env: NodeEnv) -> None:
    code = env.code({"app.js": CJS})
    r = await env.call(env.version(code, "app.callback"), {"n": 7})
    assert r.ok and body(r) == {"via": "callback", "n": 7}
    err = await env.call(env.version(code, "app.callbackError"))
    assert err.function_error == "Unhandled" and err.error_type == "TypeError"
    assert body(err)["errorMessage"] == "bad input" and body(err)["trace"][0].startswith(
        "TypeError"
    )
    # callbackWaitsForEmptyEventLoop: the result is sent once the timer has run
    waited = await env.call(env.version(code, "app.waits"))
    assert body(waited) == {"done": True}
    assert body(await env.call(env.version(code, "app.succeed"))) == {"via": "succeed"}
    no_wait = await env.call(env.version(code, "app.noWait", timeout_s=30.0))
    assert no_wait.ok and body(no_wait) == "now"
    sync = await env.call(env.version(code, "app.syncNoResult"))
    assert sync.ok and body(sync) is None
    nested = await env.call(env.version(code, "app.nested.deeper.handler"))
    assert body(nested) == "nested"


async def test_a_handler_that_never_answers_is_answered_as_lambdas_runtime_does(
    env: NodeEnv,
) -> None:
    """The event loop empties with the invocation open: an async handler's unsettled
    promise is Runtime.NodeJsExit, a callback never called answers null; the environment
    serves on."""
    code = env.code(
        {
            "app.js": (
                "let calls = 0;\n"
                "exports.unsettled = async () => { calls += 1; return new Promise(() => {}); };\n"
                "exports.forgotten = (event, context, callback) => { calls += 1; };\n"
                "exports.calls = async () => calls;\n"
            )
        }
    )
    unsettled = env.version(code, "app.unsettled")
    first = await env.call(unsettled)
    assert first.function_error == "Unhandled" and first.error_type == "Runtime.NodeJsExit"
    assert body(first)["errorMessage"].startswith(
        "The Lambda runtime client detected an unexpected Node.js exit code."
    )
    again = await env.call(unsettled)
    assert again.error_type == "Runtime.NodeJsExit" and not again.cold_start
    forgotten = await env.call(env.version(code, "app.forgotten"))
    assert forgotten.ok and body(forgotten) is None


async def test_errors_have_lambdas_node_shape(env: NodeEnv) -> None:
    code = env.code({"app.js": CJS})
    v = env.version(code, "app.boom")
    r = await env.call(v)
    assert r.function_error == "Unhandled" and r.error_type == "RangeError"
    assert body(r)["errorMessage"] == "boom"
    assert "Invoke Error" in r.logs
    again = await env.call(v)  # a handled error keeps the environment
    assert not again.cold_start
    s = await env.call(env.version(code, "app.rejectString"))
    assert body(s) == {"errorType": "string", "errorMessage": "plain", "trace": []}


async def test_bad_code_fails_the_request_with_lambdas_error_types(env: NodeEnv) -> None:
    code = env.code({"app.js": CJS, "broken.js": "exports.handler = async () => {{;\n"})
    syntax = await env.call(env.version(code, "broken.handler"))
    assert syntax.error_type == "Runtime.UserCodeSyntaxError"
    assert "SyntaxError" in body(syntax)["errorMessage"]
    missing = await env.call(env.version(code, "app.nothing"))
    assert missing.error_type == "Runtime.HandlerNotFound"
    assert body(missing)["errorMessage"] == "app.nothing is undefined or not exported"
    notfn = await env.call(env.version(code, "app.notAFunction"))
    assert notfn.error_type == "Runtime.HandlerNotFound"
    nomod = await env.call(env.version(code, "nope.handler"))
    assert nomod.error_type == "Runtime.ImportModuleError"
    assert env.runtime.environments() == {}  # none of those environments is kept


async def test_es_modules_and_sub_folders(env: NodeEnv) -> None:
    code = env.code(
        {
            "lib/esm.mjs": "export const handler = async (e) => ({ esm: true, got: e.x });\n",
            "pkg/package.json": '{"type": "module"}',
            "pkg/index.js": (
                "import { helper } from './helper.js';\n"
                "export const handler = async () => helper();\n"
            ),
            "pkg/helper.js": "export const helper = () => 'type-module';\n",
            "cjs/deep/app.cjs": "module.exports.run = async () => 'cjs';\n",
        }
    )
    assert body(await env.call(env.version(code, "lib/esm.handler"), {"x": 1})) == {
        "esm": True,
        "got": 1,
    }
    assert body(await env.call(env.version(code, "pkg/index.handler"))) == "type-module"
    assert body(await env.call(env.version(code, "cjs/deep/app.run"))) == "cjs"


async def test_logs_are_lambda_formatted_and_belong_to_their_request(env: NodeEnv) -> None:
    code = env.code({"app.js": CJS})
    v = env.version(code, "app.chatty")
    for tag in ("AAA", "BBB", "CCC"):
        r = await env.call(v, {"tag": tag})
        mine = [ln for ln in env.lines if ln.request_id == r.request_id]
        texts = [ln.text for ln in mine]
        assert any(t.endswith("\tINFO\tline one\rline two") for t in texts), texts
        assert any(f"{r.request_id}\tERROR\tto stderr {tag}" in t for t in texts)
        assert f"raw {tag}" in texts
        assert f"raw {tag}" in r.logs and r.logs.index(f"raw {tag}") < r.logs.index("END ")


async def test_timeout_kills_the_process_group_and_replaces_it(env: NodeEnv) -> None:
    code = env.code({"app.js": CJS})
    v = env.version(code, "app.sleep", timeout_s=1.0)
    ok = await env.call(v, {"ms": 1})
    pid = body(ok)
    late = await env.call(v, {"ms": 60_000})
    assert late.error_type == "Sandbox.Timedout" and "Task timed out after 1.00" in late.logs
    deadline = asyncio.get_running_loop().time() + 30
    while alive(pid) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    assert not alive(pid)
    fresh = await env.call(v, {"ms": 1})
    assert fresh.ok and fresh.cold_start and body(fresh) != pid


async def test_crashes_and_exits_fail_that_request_only(env: NodeEnv) -> None:
    code = env.code({"app.js": CJS})
    crash = env.version(code, "app.crash")
    r = await env.call(crash)
    assert r.function_error == "Unhandled" and body(r)["errorMessage"] == "uncaught"
    r2 = await env.call(crash)
    assert r2.cold_start  # the crashed environment was not reused
    ex = await env.call(env.version(code, "app.exit"))
    assert ex.error_type == "Runtime.ExitError" and "exit status 3" in ex.logs
    echo = await env.call(env.version(code, "app.echo"), {"still": "fine"})
    assert body(echo) == {"still": "fine"}


async def test_response_over_6_mb_is_refused(env: NodeEnv) -> None:
    code = env.code({"app.js": CJS})
    v = env.version(code, "app.big")
    r = await env.call(v, {"size": 6 * 1024 * 1024 + 200})
    assert r.error_type == "Function.ResponseSizeTooLarge"
    assert "exceeded maximum allowed payload size (6291556 bytes)" in body(r)["errorMessage"]
    fine = await env.call(v, {"size": 1000})
    assert fine.ok and not fine.cold_start and len(body(fine)) == 1000


BOOTSTRAP = textwrap.dedent(
    """\
    #!/bin/sh
    # a custom runtime in shell, as in AWS's tutorial: curl against the Runtime API
    set -eu
    echo "init $_HANDLER"
    API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
    while true; do
      HEADERS="$(mktemp)"
      EVENT=$(curl -sS -LD "$HEADERS" "$API/invocation/next")
      ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
      echo "handling $ID"
      if [ "$EVENT" = '{"fail":true}' ]; then
        curl -sS -X POST "$API/invocation/$ID/error" \\
          -H "Lambda-Runtime-Function-Error-Type: Custom.Failure" -d 'it failed' > /dev/null
      else
        curl -sS -X POST "$API/invocation/$ID/response" -d "{\\"echo\\":$EVENT}" > /dev/null
      fi
    done
    """
)


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
async def test_provided_bootstrap_runs_against_the_runtime_api(env: NodeEnv) -> None:
    code = env.code({"bootstrap": BOOTSTRAP})
    v = env.version(code, "function.handler", runtime="provided.al2023")
    a = await env.call(v, {"n": 1})
    assert a.ok and body(a) == {"echo": {"n": 1}} and a.cold_start
    assert "init function.handler" in a.logs and f"handling {a.request_id}" in a.logs
    b = await env.call(v, {"fail": True})
    assert b.function_error == "Unhandled" and body(b) == {
        "errorMessage": "it failed",
        "errorType": "Custom.Failure",
    }
    c = await env.call(v, {"n": 3})
    assert not c.cold_start and body(c) == {"echo": {"n": 3}}


RUST_BOOTSTRAP = Path(__file__).with_name("rust_bootstrap.rs")


@pytest.mark.skipif(shutil.which("rustc") is None, reason="needs rustc")
async def test_a_compiled_rust_bootstrap_runs_against_the_runtime_api(env: NodeEnv) -> None:
    """A native executable as ``bootstrap`` (``provided.al2023``), as a Go or Rust function
    ships it; it gets the invocation's headers, the client context among them."""
    code = env.code({"bootstrap.rs": RUST_BOOTSTRAP.read_text()})
    subprocess.run(
        ["rustc", "--edition", "2021", "-o", f"{code}/bootstrap", f"{code}/bootstrap.rs"],
        check=True,
        capture_output=True,
    )
    v = env.version(code, "rust.handler", runtime="provided.al2023")
    a = await env.call(v, {"n": 1}, client_context='{"custom":{"k":"v"}}')
    assert a.ok and a.cold_start, a
    assert body(a) == {
        "event": {"n": 1},
        "requestId": a.request_id,
        "clientContext": {"custom": {"k": "v"}},
    }
    assert "rust runtime up, handler rust.handler" in a.logs
    b = await env.call(v, {"n": 2})
    assert b.ok and not b.cold_start and body(b)["clientContext"] is None


async def test_a_bootstrap_that_posts_an_init_error(env: NodeEnv) -> None:
    script = (
        "#!/bin/sh\n"
        'curl -sS -X POST "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/init/error" '
        "-H 'Lambda-Runtime-Function-Error-Type: Runtime.NoConfig' "
        '-d \'{"errorMessage":"no config","errorType":"Runtime.NoConfig"}\'\n'
        "exit 1\n"
    )
    if shutil.which("curl") is None:
        pytest.skip("needs curl")
    code = env.code({"bootstrap": script})
    r = await env.call(env.version(code, "x.y", runtime="provided"))
    assert r.error_type == "Runtime.NoConfig" and body(r)["errorMessage"] == "no config"
    assert os.path.exists(code)


SDK_PROBE = textwrap.dedent(
    """
    const tryRequire = (name) => {
      try { require(name); return true; } catch (e) { return e.code; }
    };
    exports.v2 = async () => {
      const AWS = require('aws-sdk');
      return {
        sqs: new AWS.SQS().endpoint.href,
        dynamodb: new AWS.DynamoDB().endpoint.href,
        secrets: new AWS.SecretsManager().endpoint.href,
        lambda: new AWS.Lambda().endpoint.href,
        own: new AWS.CodeDeploy({ endpoint: 'http://127.0.0.1:7/' }).endpoint.href,
        s3PathStyle: new AWS.S3().config.s3ForcePathStyle,
        v3: tryRequire('@aws-sdk/client-s3'),
      };
    };
    exports.v3 = async () => {
      const { LambdaClient, ListFunctionsCommand } = require('@aws-sdk/client-lambda');
      const { SQSClient, ListQueuesCommand } = require('@aws-sdk/client-sqs');
      const where = async (client, command) => {  // the request's address, never sent
        client.middlewareStack.add((next) => async (args) => {
          const r = args.request;
          const where = `${r.protocol}//${r.hostname}:${r.port}`;
          throw Object.assign(new Error('probe'), { where });
        }, { step: 'finalizeRequest', priority: 'low' });
        try { await client.send(command); } catch (e) { return e.where || String(e); }
      };
      return {
        lambda: await where(new LambdaClient({}), new ListFunctionsCommand({})),
        sqs: await where(new SQSClient({}), new ListQueuesCommand({})),
        v2: tryRequire('aws-sdk'),
      };
    };
    """
)


async def test_the_sdk_the_runtime_provides_points_at_canaria(tmp_path: Path) -> None:
    env_extra = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4001",
        "AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:4002",
        "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:4003",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:4004",
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
    }
    runtime = FunctionRuntime(
        "Fn", reserved_concurrency=None, env_extra=env_extra, clock=RealClock(), on_log=print
    )
    e = NodeEnv(tmp_path, runtime, [])
    try:
        code = e.code({"app.js": SDK_PROBE})
        v2 = body(await e.call(e.version(code, "app.v2", runtime="nodejs16.x")))
        assert v2 == {
            "sqs": "http://127.0.0.1:4002/",
            "dynamodb": "http://127.0.0.1:4003/",
            "secrets": "http://127.0.0.1:4004/",
            "lambda": "http://127.0.0.1:4001/",
            "own": "http://127.0.0.1:7/",
            "s3PathStyle": True,
            "v3": "MODULE_NOT_FOUND",  # nodejs16.x has only v2
        }
        v3 = body(await e.call(e.version(code, "app.v3", runtime="nodejs20.x")))
        assert v3 == {
            "lambda": "http://127.0.0.1:4001",
            "sqs": "http://127.0.0.1:4002",
            "v2": "MODULE_NOT_FOUND",  # nodejs18.x and later have only v3
        }
    finally:
        await runtime.close()


AWSLAMBDARIC_APP = textwrap.dedent(
    """
    print("init")
    def handler(event, context):
        print("hello", event["n"])
        cc = context.client_context
        return {"n": event["n"], "rid": context.aws_request_id,
                "left": context.get_remaining_time_in_millis() > 0,
                "custom": cc.custom if cc else None}
    def boom(event, context):
        raise ValueError("boom")
    """
)


async def test_awss_own_runtime_client_runs_against_canarias_runtime_api(env: NodeEnv) -> None:
    """AWS's Python runtime interface client (``awslambdaric``) as a ``provided`` bootstrap."""
    pytest.importorskip("awslambdaric")
    code = env.code(
        {
            "app.py": AWSLAMBDARIC_APP,
            "bootstrap": f'#!/bin/sh\nexec {sys.executable} -m awslambdaric "$_HANDLER"\n',
        }
    )
    v = env.version(code, "app.handler", runtime="provided.al2023")
    first = await env.call(v, {"n": 1}, client_context='{"custom":{"k":"v"}}')
    second = await env.call(v, {"n": 2})
    assert first.ok and first.cold_start and not second.cold_start
    assert body(first)["n"] == 1 and body(first)["rid"] == first.request_id and body(first)["left"]
    assert body(first)["custom"] == {"k": "v"} and body(second)["custom"] is None
    assert body(second)["n"] == 2 and "hello 2" in second.logs and "init" in first.logs
    boom = await env.call(env.version(code, "app.boom", runtime="provided.al2023"))
    assert boom.function_error == "Unhandled" and boom.error_type == "ValueError"
    assert body(boom)["errorMessage"] == "boom" and body(boom)["requestId"] == boom.request_id


async def test_a_bootstrap_that_cannot_be_executed_fails_the_request(env: NodeEnv) -> None:
    code = env.code({"bootstrap": "echo no interpreter line\n"})  # ENOEXEC at execve
    r = await env.call(env.version(code, "x.y", runtime="provided.al2"))
    assert r.function_error == "Unhandled" and r.error_type == "Runtime.InvalidEntrypoint"
    assert "could not start" in body(r)["errorMessage"]
    assert env.runtime.environments() == {}


async def test_a_node_version_prepared_ahead_of_traffic_serves_warm(env: NodeEnv) -> None:
    code = env.code({"app.js": CJS})
    v = env.version(code, "app.count")
    assert await env.runtime.prepare(v) == 1
    first = await env.call(v)
    assert first.ok and not first.cold_start and body(first)["calls"] == 1
    assert env.runtime.cold_starts() == 0
    bad = env.version(env.code({"app.js": "throw new Error('no config');\n"}, "bad"), "app.count")
    assert await env.runtime.prepare(bad) == 0  # its init failed: stopped, not counted
    failed = await env.call(bad)
    assert failed.cold_start and not failed.ok


async def test_the_node_bootstrap_talks_to_the_runtime_api_over_a_private_unix_socket(
    env: NodeEnv,
) -> None:
    """canaria's Node.js bootstrap uses the Unix socket canaria serves the Runtime API on
    (no TCP work per invocation; only this user can connect); the handler does not see its
    variable, and the socket's directory goes when the environment stops."""
    v = env.version(env.code({"app.js": CJS}), "app.variables")
    first, second = await env.call(v), await env.call(v)
    assert first.ok and second.ok
    assert "AWS_LAMBDA_RUNTIME_API" in body(first)
    assert not any(name.startswith("_CANARIA_RUNTIME") for name in body(first))
    (pid,) = env.runtime.worker_pids()
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    (entry,) = [e for e in environ if e.startswith(b"_CANARIA_RUNTIME_SOCKET=")]
    socket_path = entry.split(b"=", 1)[1].decode()
    assert Path(socket_path).is_socket()
    assert Path(socket_path).parent.stat().st_mode & 0o777 == 0o700
    unix = Path("/proc/net/unix").read_text().split()
    assert unix.count(socket_path) >= 2  # the listener and the bootstrap's connection
    await env.runtime.close()
    assert not Path(socket_path).parent.exists()


def high_water_mb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return -(-int(re.search(r"VmHWM:\s*(\d+)", status).group(1)) // 1024)  # type: ignore[union-attr]


async def test_reports_carry_the_handlers_own_time_and_the_runtimes_peak_memory(
    env: NodeEnv,
) -> None:
    """canaria's bootstrap reports, with each answer, how long the handler took and the
    runtime's peak memory: REPORT's Duration covers a 50 ms handler; Max Memory Used is the
    runtime's own high-water mark (not canaria's peak, which the runtime inherits in
    ``ru_maxrss``), stays at its peak once a handler has let go of 80 MB, as Lambda's does,
    and a spike past the function's memory fails the request with Runtime.OutOfMemory.
    canaria's own peak is lifted above the runtime's first, as a long-running canaria's is."""
    lift_own_peak_rss()
    code = env.code({"app.js": CJS})
    sleep = env.version(code, "app.sleep")
    slow = await env.call(sleep, {"ms": 50})
    # libuv fires a timer by its loop clock, whole milliseconds read at the start of an
    # iteration: up to 1 ms before 50 ms have passed on performance.now()
    assert slow.ok and 49 <= slow.duration_ms < 5000
    assert re.search(r"\tDuration: (49|[5-9]\d|\d{3,})\.\d\d ms", slow.logs)

    hog = env.version(code, "app.hog", memory_mb=1024)
    sleeping = set(env.runtime.worker_pids())
    quiet = await env.call(hog, {"mb": 0})
    (pid,) = set(env.runtime.worker_pids()) - sleeping
    assert abs(report_max_memory_mb(quiet) - high_water_mb(pid)) <= 4
    loud = await env.call(hog, {"mb": 80})
    assert loud.ok and report_max_memory_mb(loud) >= report_max_memory_mb(quiet) + 80
    after = await env.call(hog, {"mb": 0})
    assert not after.cold_start and report_max_memory_mb(after) >= report_max_memory_mb(loud)

    small = env.version(code, "app.hog", memory_mb=128)
    over = await env.call(small, {"mb": 200})
    assert over.error_type == "Runtime.OutOfMemory" and over.function_error == "Unhandled"
    fresh = await env.call(small, {"mb": 1})
    assert fresh.ok and fresh.cold_start  # the environment that ran out was not reused


STREAMING = textwrap.dedent(
    """\
    const { pipeline } = require("stream/promises");
    const { Readable } = require("stream");
    exports.page = awslambda.streamifyResponse(async (event, responseStream, context) => {
      const stream = awslambda.HttpResponseStream.from(responseStream, {
        statusCode: 201,
        headers: { "Content-Type": "text/html" },
        cookies: ["a=1"],
      });
      stream.write("<p>" + context.awsRequestId.length + "</p>");
      await new Promise((r) => setTimeout(r, 20));
      stream.write("<p>" + event.name + "</p>");
      stream.end();
    });
    exports.raw = awslambda.streamifyResponse(async (event, responseStream) => {
      await pipeline(Readable.from(["one ", "two ", "three"]), responseStream);
    });
    exports.binary = awslambda.streamifyResponse(async (event, responseStream) => {
      const stream = awslambda.HttpResponseStream.from(responseStream, { statusCode: 200 });
      stream.write(Buffer.from([0xff, 0x00, 0xfe]));
      // not ended by the handler: canaria ends it when the handler's promise settles
    });
    exports.fails = awslambda.streamifyResponse(async (event, responseStream) => {
      responseStream.write("half");
      throw new TypeError("stream broke");
    });
    """
)


async def test_a_streaming_handler_is_answered_buffered_as_lambdas_invoke_answers_it(
    env: NodeEnv,
) -> None:
    """``awslambda.streamifyResponse`` handlers (Lambda's response streaming) load and run:
    the answer is what they wrote, once the stream ends, with HttpResponseStream's
    metadata as a proxy response."""
    code = env.code({"app.js": STREAMING})
    page_version = env.version(code, "app.page")
    page = await env.call(page_version, {"name": "ada"})
    assert page.ok, page.payload
    assert body(page) == {
        "statusCode": 201,
        "headers": {"Content-Type": "text/html"},
        "cookies": ["a=1"],
        "body": "<p>36</p><p>ada</p>",
    }
    raw = await env.call(env.version(code, "app.raw"))
    assert raw.ok and raw.payload == b"one two three"
    binary = await env.call(env.version(code, "app.binary"))
    assert body(binary) == {"statusCode": 200, "body": "/wD+", "isBase64Encoded": True}
    failed = await env.call(env.version(code, "app.fails"))
    assert failed.function_error == "Unhandled" and failed.error_type == "TypeError"
    assert body(failed)["errorMessage"] == "stream broke"
    again = await env.call(page_version, {"name": "bo"})
    assert not again.cold_start and body(again)["body"] == "<p>36</p><p>bo</p>"


# a provided runtime in Python that reports no peak of its own: it grows by the event's
# "mb", lets the memory go again (a large block is returned to the system), then answers
SPIKING_BOOTSTRAP = f"""\
#!{sys.executable}
import json, os, urllib.request
base = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
while True:
    with urllib.request.urlopen(base + "/invocation/next") as r:
        request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(r.read())
    blob = b"\\x01" * (event["mb"] << 20)
    del blob
    answer = urllib.request.Request(
        base + "/invocation/" + request_id + "/response", data=b'"done"', method="POST"
    )
    urllib.request.urlopen(answer).read()
"""


async def test_a_provided_runtimes_spike_counts_though_freed_before_the_answer(
    env: NodeEnv,
) -> None:
    """A runtime that reports no peak is read from /proc as its peak (VmHWM), not its
    size at the answer: REPORT shows the spike, and one past the memory size is
    Runtime.OutOfMemory, as Lambda's limit catches it."""
    lift_own_peak_rss()  # the runtime's peak is its own, whatever canaria's is
    code = env.code({"bootstrap": SPIKING_BOOTSTRAP})
    v = env.version(code, "function.handler", runtime="provided.al2023", memory_mb=256)
    small = await env.call(v, {"mb": 1})
    assert small.ok and body(small) == "done"
    spike = await env.call(v, {"mb": 80})
    assert spike.ok and not spike.cold_start
    assert report_max_memory_mb(spike) >= 80 + report_max_memory_mb(small) - 5
    over = await env.call(v, {"mb": 300})
    assert over.error_type == "Runtime.OutOfMemory", over.payload
    again = await env.call(v, {"mb": 1})
    assert again.ok and again.cold_start  # the environment that ran out is not reused
