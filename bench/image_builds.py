"""What building a container image function costs: `sam init`'s Python image (its
Dockerfile copies the code and `requirements.txt`, then `RUN pip install -r
requirements.txt`), and the same image written for the layer cache (`requirements.txt`
copied and installed first, the code copied after), against the same code as a Zip
function (`CodeUri`, the same `requirements.txt`), in the same run.

    .venv/bin/python bench/image_builds.py [--runs 5] [--requirement requests]

Each run builds both, alternating which goes first, into fresh state directories:

- **first build**: nothing built before (pip downloads from its own cache after the
  first run, as it would on a developer's machine);
- **code change**: `app.py` edited, built again: the image written for the cache starts
  from the state its `RUN pip install` left (canaria's step cache, as Docker's layer
  cache); `sam init`'s copies `app.py` before its `RUN`, which runs again (as it would
  with Docker); the Zip function links the dependencies installed once per manifest;
- **unchanged**: built again with nothing changed (the content-addressed artifact).

The table gives the medians, in ms, and each image ÷ Zip. pip needs PyPI (or its cache).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from canaria import pythons
from canaria.models import ImageBuild
from canaria.runtime import build_artifact, build_image

DOCKERFILES = {
    "sam init": """\
FROM public.ecr.aws/lambda/python:{line}

COPY app.py requirements.txt ./

RUN python{line} -m pip install -r requirements.txt -t .

CMD ["app.lambda_handler"]
""",
    "cache-friendly": """\
FROM public.ecr.aws/lambda/python:{line}

COPY requirements.txt ./
RUN pip install -r requirements.txt
COPY app.py ./

CMD ["app.lambda_handler"]
""",
}
APP = 'import json\n\ndef lambda_handler(event, context):\n    return {"body": "REV"}\n'


def timed(build: Callable[[], object]) -> float:
    start = time.perf_counter()
    build()
    return (time.perf_counter() - start) * 1000


def one_run(requirement: str, image_first: bool) -> dict[str, dict[str, float]]:
    line = pythons.RUNNING
    runtime = f"python{line}"
    with tempfile.TemporaryDirectory(prefix="canaria-bench-images-") as tmp:
        code = Path(tmp) / "hello_world"
        code.mkdir()
        (code / "app.py").write_text(APP.replace("REV", "1"))
        (code / "requirements.txt").write_text(requirement + "\n")
        python = pythons.python_for(runtime)
        builds: dict[str, Callable[[], object]] = {}
        for name, text in DOCKERFILES.items():
            dockerfile = code / f"{name}.Dockerfile"
            dockerfile.write_text(text.format(line=line))
            spec = ImageBuild(str(code), str(dockerfile), dockerfile.read_text())
            state = str(Path(tmp) / f"{name}-state")
            builds[name] = lambda spec=spec, state=state: build_image(spec, state, None, python)
        builds["zip"] = lambda: build_artifact(
            str(code), str(Path(tmp) / "zip-state"), runtime=runtime
        )
        order = [*DOCKERFILES, "zip"] if image_first else ["zip", *DOCKERFILES]
        out: dict[str, dict[str, float]] = {kind: {} for kind in order}
        for phase in ("first build", "code change", "unchanged"):
            if phase == "code change":
                (code / "app.py").write_text(APP.replace("REV", "2"))
            for kind in order:
                out[kind][phase] = timed(builds[kind])
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requirement", default="requests", help="requirements.txt's line")
    args = parser.parse_args()
    results = [one_run(args.requirement, i % 2 == 0) for i in range(args.runs)]
    phases = ("first build", "code change", "unchanged")
    print(f"requirements.txt: {args.requirement}; medians of {args.runs} runs, ms\n")
    print("| build | `sam init` image | cache-friendly image | Zip | ÷ Zip |")
    print("|---|---:|---:|---:|---:|")
    for phase in phases:
        m = {k: statistics.median(r[k][phase] for r in results) for k in (*DOCKERFILES, "zip")}
        ratios = " / ".join(f"{m[k] / max(m['zip'], 0.01):.2f}" for k in DOCKERFILES)
        print(
            f"| {phase} | {m['sam init']:.0f} | {m['cache-friendly']:.0f} | {m['zip']:.0f} "
            f"| {ratios} |"
        )


if __name__ == "__main__":
    main()
