"""Execution environments: Python, Node.js and custom runtimes, with Lambda's semantics.

    build_artifact(code_uri, state_dir) -> (digest, artifact dir)      artifacts.py
    build_inline(inline, state_dir) -> (digest, artifact dir)          artifacts.py
    build_layer(layer, state_dir) -> (digest, the layer's /opt)        artifacts.py
    build_image(image, state_dir) -> (digest, artifact dir)            images.py
        └── dependencies installed once per manifest, linked in        deps.py
    FunctionRuntime(name, ...).invoke(version, event, qualifier=...)   function.py
        ├── WorkerProcess: one process, one socket, one request at a time   process.py
        │     └── worker.py: the process itself (stdlib + orjson only)
        │           └── boto_hooks.py: handlers canaria adds to the function's botocore
        └── ApiProcess: Node.js / provided over the Lambda Runtime API    api_process.py
              ├── runtime_api.py: one Runtime API listener per environment
              └── node/bootstrap.js, node/preload.js: canaria's Node.js runtime client
    which kind a runtime gets, its process environment                launch.py
    LogLine, the environment variables, the log's platform lines    environment.py

Parent and worker speak length-prefixed orjson frames over a ``socketpair`` (see
``worker.py``). Measured with ``bench/runtime_roundtrip.py`` (2 shared cores): a warm
round trip through ``FunctionRuntime.invoke`` ≈ 90–120 µs median, against ≈ 30–40 µs
for a bare framed echo over the same kind of socket in the same run.
"""

from canaria.runtime.artifacts import build_artifact, build_inline, build_layer, code_digest
from canaria.runtime.environment import LogLine
from canaria.runtime.function import FunctionRuntime
from canaria.runtime.images import build_image

__all__ = [
    "FunctionRuntime",
    "LogLine",
    "build_artifact",
    "build_image",
    "build_inline",
    "build_layer",
    "code_digest",
]
