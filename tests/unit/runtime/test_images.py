"""Building an image function's code from its Dockerfile without Docker: COPY and ADD as
Docker copies, WORKDIR, RUN's file commands and pip with absolute paths kept inside the
stage, what RUN refuses (at its line) or passes over, and the content address."""

from __future__ import annotations

import io
import logging
import os
import tarfile
from pathlib import Path

import pytest

from canaria.errors import BuildError
from canaria.models import ImageBuild
from canaria.runtime.images import build_image
from tests.wheels import probe_wheel


def image(context: Path, dockerfile: str, **kwargs: object) -> ImageBuild:
    (context / "Dockerfile").write_text(dockerfile)
    return ImageBuild(str(context), str(context / "Dockerfile"), dockerfile, **kwargs)  # type: ignore[arg-type]


def files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def context(tmp_path: Path) -> Path:
    ctx = tmp_path / "ctx"
    (ctx / "src" / "lib").mkdir(parents=True)
    (ctx / "src" / "app.py").write_text("app")
    (ctx / "src" / "lib" / "util.py").write_text("util")
    (ctx / "a.txt").write_text("a")
    (ctx / "b.txt").write_text("b")
    (ctx / ".canaria").mkdir()
    (ctx / ".canaria" / "state").write_text("never copied")
    return ctx


def test_copy_add_workdir_and_file_commands(context: Path, tmp_path: Path) -> None:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        data = b"from the tar"
        info = tarfile.TarInfo("vendor/lib.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (context / "vendor.tar.gz").write_bytes(archive.getvalue())
    spec = image(
        context,
        "FROM public.ecr.aws/lambda/python:3.12\n"
        "COPY src/ ${LAMBDA_TASK_ROOT}/\n"  # a directory: its contents
        "COPY *.txt texts/\n"  # a wildcard, into a directory
        "COPY a.txt renamed.txt\n"  # one file to a file name
        "ADD vendor.tar.gz ./\n"  # a local archive: extracted
        "COPY b.txt private/\n"  # before: keeps its mode
        "COPY --chmod=700 a.txt private/\n"
        "WORKDIR /var/task/made\n"
        "RUN mkdir -p /var/task/generated && cp /var/task/app.py /var/task/generated/ "
        "&& cd .. && touch marker && rm -f b.txt\n"
        "RUN set -eux && export OUT=/var/task/exported && mkdir -p $OUT && chown -R 1000 .\n"
        "RUN dnf install -y gcc\n"
        "WORKDIR ${LAMBDA_TASK_ROOT}\n"  # the code: the working directory at the end
        'CMD ["app.handler"]\n',
    )
    digest, artifact = build_image(spec, str(tmp_path / "state"))
    root = Path(artifact)
    assert files(root) == {
        "app.py": "app",
        "lib/util.py": "util",
        "texts/a.txt": "a",
        "texts/b.txt": "b",
        "renamed.txt": "a",
        "vendor/lib.py": "from the tar",
        "private/a.txt": "a",
        "private/b.txt": "b",
        "generated/app.py": "app",
        "marker": "",
    }
    assert (root / "made").is_dir()
    assert (root / "private" / "a.txt").stat().st_mode & 0o777 == 0o700
    assert (root / "private" / "b.txt").stat().st_mode & 0o777 != 0o700  # not this step's
    # the same context and Dockerfile: the same artifact, not built again
    assert build_image(spec, str(tmp_path / "state")) == (digest, artifact)
    (context / "src" / "app.py").write_text("app v2")
    assert build_image(spec, str(tmp_path / "state"))[0] != digest


def test_the_code_is_the_targets_working_directory(context: Path, tmp_path: Path) -> None:
    spec = image(
        context,
        "FROM public.ecr.aws/lambda/nodejs:20 AS build\n"
        "WORKDIR /build\n"
        "COPY src ./\n"
        "RUN mkdir dist && cp app.py dist/app.js\n"
        "FROM public.ecr.aws/lambda/nodejs:20\n"
        "COPY --from=build /build/dist/ ./\n"
        'CMD ["app.handler"]\n',
    )
    assert files(Path(build_image(spec, str(tmp_path / "state"))[1])) == {"app.js": "app"}
    # ImageConfig.WorkingDirectory takes the code from elsewhere
    spec = image(
        context,
        'FROM public.ecr.aws/lambda/python:3.12\nCOPY src /opt/app\nCMD ["app.h"]\n',
        workdir="/opt/app",
    )
    assert sorted(files(Path(build_image(spec, str(tmp_path / "s2"))[1]))) == [
        "app.py",
        "lib/util.py",
    ]


def test_pip_installs_into_the_images_site_packages(context: Path, tmp_path: Path) -> None:
    name = probe_wheel(context / "pkg")
    spec = image(
        context,
        "FROM public.ecr.aws/lambda/python:3.12\n"
        "COPY pkg /tmp/pkg\n"
        f"RUN pip3 install --no-index /tmp/pkg/{name}\n"
        "COPY src/app.py ./\n"
        'CMD ["app.handler"]\n',
    )
    root = Path(build_image(spec, str(tmp_path / "state"))[1])
    assert (root / "probe" / "__init__.py").read_text() == "ANSWER = 42\n"
    assert (root / "app.py").is_file()


@pytest.mark.parametrize(
    ("run", "message"),
    [
        ("make all", "make all: canaria builds images without Docker"),
        ("cat a.txt | sort", "'|' in 'cat a.txt | sort'"),
        ("echo hi > /var/task/x", "'>' in"),
        ("false-command", "false-command: canaria builds"),
        ("ls /nowhere", "ls /"),  # the command ran and failed: its exit status
    ],
)
def test_what_run_cannot_do_is_said_at_its_line(
    context: Path, tmp_path: Path, run: str, message: str
) -> None:
    spec = image(context, f'FROM public.ecr.aws/lambda/python:3.12\n\nRUN {run}\nCMD ["a.h"]\n')
    with pytest.raises(BuildError) as info:
        build_image(spec, str(tmp_path / "state"))
    assert f"{context / 'Dockerfile'}:3: RUN: " in info.value.message
    assert message in info.value.message
    artifacts = tmp_path / "state" / "artifacts"
    assert [p.name for p in artifacts.iterdir()] == []  # nothing half-built left


def test_copy_refuses_what_is_not_in_the_context(context: Path, tmp_path: Path) -> None:
    for line, message in (
        ("COPY ../outside ./", "outside the build context"),
        ("COPY missing.txt ./", "missing.txt: no such file"),
        ("ADD https://example.com/x.tgz ./", "canaria builds without a network"),
        ("COPY --chmod=rwx a.txt ./", "--chmod=rwx: expected an octal mode"),
    ):
        spec = image(context, f"FROM public.ecr.aws/lambda/python:3.12\n{line}\n")
        with pytest.raises(BuildError, match=message):
            build_image(spec, str(tmp_path / "state"))


def test_a_package_manager_is_passed_over_with_a_warning(
    context: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = image(
        context, "FROM public.ecr.aws/lambda/python:3.12\nRUN yum install -y git\nCOPY a.txt ./\n"
    )
    with caplog.at_level(logging.WARNING):
        root = Path(build_image(spec, str(tmp_path / "state"))[1])
    assert files(root) == {"a.txt": "a"}
    assert any("RUN yum install -y git: passed over" in r.getMessage() for r in caplog.records)
    assert os.access(root, os.R_OK | os.X_OK)


def test_files_outside_the_code_are_named_in_a_warning(
    context: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = image(
        context,
        "FROM public.ecr.aws/lambda/python:3.12\n"
        "COPY src /opt/ml/model\nCOPY a.txt /var/\nCOPY b.txt /tmp/\nCOPY a.txt ./\n",
    )
    with caplog.at_level(logging.WARNING):
        build_image(spec, str(tmp_path / "state"))
    (warning,) = [r.getMessage() for r in caplog.records if "outside its code" in r.getMessage()]
    assert "(/opt/ml/model, /var)" in warning  # /tmp is scratch space


def test_a_run_step_is_reused_while_what_comes_before_it_is_unchanged(
    context: Path, tmp_path: Path
) -> None:
    """As Docker's layer cache: a change copied after the RUN reuses the state the RUN
    left (its file keeps its time); a change to what the RUN reads runs it again."""
    spec = image(
        context,
        "FROM public.ecr.aws/lambda/python:3.12\n"
        "COPY a.txt ./\n"
        "RUN touch made-by-run\n"
        "COPY src/app.py ./\n",
    )
    state = str(tmp_path / "state")

    def made() -> int:
        root = Path(build_image(spec, state)[1])
        return (root / "made-by-run").stat().st_mtime_ns

    first = made()
    (context / "src" / "app.py").write_text("app v2")
    assert made() == first  # the RUN's state, restored
    (context / "a.txt").write_text("a v2")
    assert made() != first  # what the RUN sees changed: it ran again
    assert len(list((tmp_path / "state" / "image-cache").iterdir())) == 2


def test_dockerignore_leaves_out_what_docker_leaves_out(context: Path, tmp_path: Path) -> None:
    for rel in (
        "tests/test_app.py",
        "docs/a.md",
        "README.md",
        "node_modules/z.js",
        "sub/node_modules/y.js",
        "sub/keep.md",
        "build.log",
        "sub/deep/build.log",
    ):
        (context / rel).parent.mkdir(parents=True, exist_ok=True)
        (context / rel).write_text(rel)
    (context / ".dockerignore").write_text(
        "# what the image does not need\n"
        "tests\n/node_modules\n**/*.md\n!README.md\n*.log\n*.txt\nDockerfile\n.dockerignore\n"
    )
    spec = image(
        context,
        "FROM public.ecr.aws/lambda/python:3.12\nCOPY . ./\nRUN touch made-by-run\n",
    )
    root = Path(build_image(spec, str(tmp_path / "state"))[1])
    assert sorted(files(root)) == [
        "README.md",  # brought back by the later !README.md
        "made-by-run",
        "src/app.py",
        "src/lib/util.py",
        "sub/deep/build.log",  # *.log matches at the top only, as in Docker
        "sub/node_modules/y.js",  # /node_modules: the top one only
    ]
    made = (root / "made-by-run").stat().st_mtime_ns
    # a change to what .dockerignore leaves out is no change to the COPY: the RUN is reused
    (context / "tests" / "test_app.py").write_text("changed")
    (context / "src" / "app.py").write_text("app v2")  # ... but this one is
    root = Path(build_image(spec, str(tmp_path / "state"))[1])
    assert (root / "made-by-run").stat().st_mtime_ns != made
    (context / "tests" / "test_app.py").write_text("changed again")
    (context / "docs" / "a.md").write_text("changed")
    again = Path(build_image(spec, str(tmp_path / "state"))[1])
    assert again == root  # nothing the image holds changed: the same artifact


def test_aws_runtime_interface_client_is_not_installed(context: Path, tmp_path: Path) -> None:
    """canaria is the function's runtime: installing AWS's runtime interface client (from
    AWS's alternative-base-image Dockerfiles) is left out of the command, and a command
    that installed only it is passed over."""
    name = probe_wheel(context / "pkg")
    spec = image(
        context,
        'ARG FUNCTION_DIR="/function"\n'
        "FROM python:3.12 AS build-image\nARG FUNCTION_DIR\n"
        "RUN mkdir -p ${FUNCTION_DIR}\nCOPY src ${FUNCTION_DIR}\nCOPY pkg /pkg\n"
        "RUN pip install --target ${FUNCTION_DIR} awslambdaric\n"
        f"RUN pip install --no-index --target ${{FUNCTION_DIR}} awslambdaric /pkg/{name}\n"
        "RUN npm install aws-lambda-ric\n"
        "FROM python:3.12-slim\nARG FUNCTION_DIR\nWORKDIR ${FUNCTION_DIR}\n"
        "COPY --from=build-image ${FUNCTION_DIR} ${FUNCTION_DIR}\n"
        'ENTRYPOINT [ "/usr/local/bin/python", "-m", "awslambdaric" ]\n'
        'CMD [ "app.handler" ]\n',
    )
    root = Path(build_image(spec, str(tmp_path / "state"))[1])
    assert (root / "app.py").is_file() and (root / "probe" / "__init__.py").is_file()
    assert not any(p.name.startswith("awslambdaric") for p in root.iterdir())
