"""A wheel made by hand: a package pip installs without a network or a build backend."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path


def probe_wheel(path: Path) -> str:
    """A minimal wheel of a package ``probe`` (so pip installs it without a network)."""
    files = {
        "probe/__init__.py": b"ANSWER = 42\n",
        "probe-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: probe\nVersion: 1.0\n",
        "probe-1.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = [
        f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}"
        for name, data in files.items()
    ]
    files["probe-1.0.dist-info/RECORD"] = (
        "\n".join([*record, "probe-1.0.dist-info/RECORD,,"]) + "\n"
    ).encode()
    target = path / "probe-1.0-py3-none-any.whl"
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return target.name
