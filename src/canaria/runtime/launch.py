"""Which kind of execution environment a version gets, and its process environment.

    python3.x     WorkerProcess: canaria's worker protocol (the fast path)
    nodejs<N>.x   ApiProcess: ``node`` running canaria's ``node/bootstrap.js``
    provided*     ApiProcess: ``<code>/bootstrap``, else a layer's ``bootstrap``

Node.js functions find the AWS SDK Lambda bundles for their runtime (v2 ``aws-sdk`` up to
nodejs16.x, v3 ``@aws-sdk/*`` from nodejs18.x) in canaria's npm packages, on ``NODE_PATH``
(with the v3 packages it names beyond those, installed for it: ``sdk.py``);
``node/preload.js`` (``NODE_OPTIONS=--require``) points SDK v2 at canaria's endpoints, and
both generations' API Gateway Management API clients given an API's AWS endpoint at the
edge, and hides the generation the runtime would not have.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from canaria import nodejs, runtimes
from canaria.models.runtime import Version
from canaria.npm import node_modules
from canaria.runtime.api_process import ApiProcess
from canaria.runtime.environment import in_layers, log_stream_name, worker_environment
from canaria.runtime.process import WorkerProcess
from canaria.runtime.sdk import SDK_LINK
from canaria.runtimes import NodeInstall

NODE_DIR = Path(__file__).resolve().parent / "node"
BOOTSTRAP_JS = NODE_DIR / "bootstrap.js"
PRELOAD_JS = NODE_DIR / "preload.js"

OnLine = Callable[[str, str, str], None]


def new_environment(
    function: str,
    version: Version,
    env_extra: Mapping[str, str],
    on_line: OnLine,
    now: float,
) -> WorkerProcess:
    """An execution environment (not started) for one version of ``function``."""
    runtime = version.config.runtime
    kind = runtimes.family(runtime)
    if kind is None or kind is runtimes.Family.PYTHON:
        return WorkerProcess(function, version, dict(env_extra), on_line, now)
    node = nodejs.node_for(runtime) if kind is runtimes.Family.NODEJS else None
    log_stream = log_stream_name(version.number, now)
    env = api_environment(function, version, env_extra, log_stream, node)
    if kind is runtimes.Family.NODEJS:
        command = [node.path if node else "node", str(BOOTSTRAP_JS)]
        return ApiProcess(function, version, env, command, on_line, now, unix_socket=True)
    return ApiProcess(function, version, env, [bootstrap(version)], on_line, now)


def bootstrap(version: Version) -> str:
    """A ``provided`` function's bootstrap: its code's, else, as Lambda looks in ``/opt``
    next, the last of its layers' that has one."""
    for root in (version.artifact, *reversed(version.config.layers)):
        path = Path(root) / "bootstrap"
        if path.is_file():
            return str(path)
    return str(Path(version.artifact) / "bootstrap")  # its start fails and says so


def api_environment(
    function: str,
    version: Version,
    env_extra: Mapping[str, str],
    log_stream: str,
    node: NodeInstall | None,
) -> dict[str, str]:
    """Lambda's environment for a Runtime API runtime (the template's variables win);
    ``node``: the Node.js a ``nodejs<N>.x`` function runs on."""
    env = worker_environment(function, version, env_extra, log_stream=log_stream)
    own = version.config.environment
    runtime = version.config.runtime
    if "PYTHONPATH" not in own:
        env.pop("PYTHONPATH", None)
    if runtimes.family(runtime) is runtimes.Family.PROVIDED:
        env.pop("AWS_EXECUTION_ENV", None)
        return env
    env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{runtime}"
    if node is not None:
        env["PATH"] = os.pathsep.join([str(Path(node.path).parent), env["PATH"]])
    sdk = [str(node_modules())]
    extra = Path(version.artifact) / SDK_LINK  # the SDK packages it names beyond canaria's
    if extra.is_dir():
        sdk.append(str(extra.resolve()))  # ES resolution walks up from the real directory
    env["CANARIA_SDK_PATH"] = os.pathsep.join(sdk)
    env["CANARIA_LAYERS"] = os.pathsep.join(version.config.layers)  # what /opt holds
    if "NODE_PATH" not in own:
        major = runtimes.node_major(runtime)
        places = [f"nodejs/node{major}/node_modules"] if major else []
        layers = in_layers(version.config.layers, *places, "nodejs/node_modules")
        env["NODE_PATH"] = os.pathsep.join(p for p in (layers, *sdk, version.artifact) if p)
    options = own.get("NODE_OPTIONS", "")
    switched_off = runtimes.lambda_node_flags(runtime, node.release, options) if node else []
    env["NODE_OPTIONS"] = " ".join([f"--require {PRELOAD_JS}", *switched_off, options]).strip()
    if runtimes.bundles_sdk_v2(runtime):
        env.setdefault("AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE", "1")
    return env
