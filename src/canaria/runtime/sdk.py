"""The rest of the AWS SDK that Lambda's Node.js runtimes provide.

Lambda's ``nodejs18.x`` and later runtimes carry every package of the AWS SDK for
JavaScript v3, so a function imports ``@aws-sdk/client-sts`` or
``@aws-sdk/s3-request-presigner`` without listing it in ``package.json``. canaria ships
the clients of the services it serves (``canaria.npm``); a function importing another
package of the SDK would fail to load at all here, where it loads on Lambda.

So a Node.js version's artifact is read for the ``@aws-sdk/...`` packages its code names
(``.js``, ``.mjs`` and ``.cjs`` files outside ``node_modules``) that neither canaria's
packages nor the function's own ``node_modules`` hold. They are installed from npm once
per set (``<state>/deps/aws-sdk-<sha256>/``, like a manifest's dependencies), and the
artifact links that ``node_modules`` as ``.canaria-sdk``, which the runtime puts on
``NODE_PATH`` and the ES module resolver after canaria's own SDK. The function then loads
as on Lambda; a call to a service canaria does not serve answers the SDK error naming it
(``NotServedByCanaria``), as from Python.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from pathlib import Path

from canaria import nodejs, runtimes
from canaria.errors import BuildError
from canaria.npm import node_modules
from canaria.runtime.deps import ensure_installed, run_tool

SDK_LINK = ".canaria-sdk"  # in an artifact: the node_modules of the SDK packages it needs
SOURCE_SUFFIXES = (".js", ".mjs", ".cjs")
MAX_SOURCE_BYTES = 32 * 1024 * 1024  # a bundle larger than this is not read
# what an import names: require("..."), import ... from "...", import("..."), import "...";
# not any string that starts so (a bundle holds Symbol.for("@aws-sdk/reviver"), and error
# messages naming packages it never loads)
_PACKAGE = re.compile(
    rb"""(?:\brequire\s*\(\s*|\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)"""
    rb"""['"`](@aws-sdk/[a-z0-9][a-z0-9.-]*)(?:/[^'"`\s]*)?['"`]"""
)


def sdk_imports(artifact: Path) -> set[str]:
    """The ``@aws-sdk/...`` packages the code in ``artifact`` names."""
    found: set[str] = set()
    for root, dirs, files in os.walk(artifact):
        dirs[:] = [d for d in dirs if d != "node_modules" and not d.startswith(".")]
        for name in files:
            path = Path(root) / name
            if not name.endswith(SOURCE_SUFFIXES) or not path.is_file():
                continue
            if path.stat().st_size > MAX_SOURCE_BYTES:
                continue
            found.update(m.decode() for m in _PACKAGE.findall(path.read_bytes()))
    return found


def missing_sdk(artifact: Path) -> list[str]:
    """The SDK packages the code names that nothing it runs with holds."""
    shipped = node_modules()
    own = artifact / "node_modules"
    return sorted(
        name
        for name in sdk_imports(artifact)
        if not (shipped / name).is_dir() and not (own / name).exists()
    )


def provide_sdk(artifact: Path, state_dir: str, runtime: str) -> list[str]:
    """Install (or reuse) the SDK packages a Node.js version's code needs beyond canaria's
    own and link them into its artifact; the packages it links. BuildError when npm
    cannot install them."""
    if runtimes.family(runtime) is not runtimes.Family.NODEJS or runtimes.bundles_sdk_v2(runtime):
        return []
    link = artifact / SDK_LINK
    if link.exists():
        return []
    names = missing_sdk(artifact)
    if not names:
        return []
    node = nodejs.node_for(runtime)
    key = hashlib.sha256("\0".join([*names, node.version if node else ""]).encode()).hexdigest()
    deps = ensure_installed(state_dir, "aws-sdk", key, lambda target: _install(names, target))
    with contextlib.suppress(FileExistsError):  # another build of it linked it first
        link.symlink_to(deps / "node_modules", target_is_directory=True)
    return names


def _install(names: list[str], target: Path) -> None:
    npm = shutil.which("npm")
    what = ", ".join(names)
    if npm is None:
        raise BuildError(f"there is no `npm` on PATH to install {what}")
    manifest = {"private": True, "dependencies": {name: "^3" for name in names}}
    (target / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    run_tool([npm, "install", "--omit=dev", "--no-audit", "--no-fund"], target, what, "npm")
