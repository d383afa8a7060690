"""Reading a container image function's Dockerfile: the runtime its Lambda base image
names, the handler, ENV and ARG as Docker expands them, the stages a target needs, and
what canaria refuses, at its line."""

from __future__ import annotations

import pytest

from canaria.dockerfiles import DockerfileError, expand, read, runtime_of


@pytest.mark.parametrize(
    ("base", "runtime"),
    [
        ("public.ecr.aws/lambda/python:3.13", "python3.13"),
        ("public.ecr.aws/lambda/python:3.12.2024.06.10.10-x86_64", "python3.12"),
        ("public.ecr.aws/lambda/python:3.11-arm64", "python3.11"),
        ("public.ecr.aws/lambda/nodejs:22", "nodejs22.x"),
        ("public.ecr.aws/lambda/nodejs:20.2024.01.01", "nodejs20.x"),
        ("amazon/aws-lambda-nodejs:18", "nodejs18.x"),
        ("public.ecr.aws/lambda/provided:al2023", "provided.al2023"),
        ("public.ecr.aws/lambda/provided:al2-arm64", "provided.al2"),
        ("public.ecr.aws/lambda/python", None),  # latest: which Python it is is not said
        ("python:3.12-slim", None),
        ("public.ecr.aws/lambda/java:21", None),
    ],
)
def test_the_runtime_is_the_base_images(base: str, runtime: str | None) -> None:
    assert runtime_of(base) == runtime


def test_sam_inits_python_image() -> None:
    image = read(
        "FROM public.ecr.aws/lambda/python:3.13\n\nCOPY app.py requirements.txt ./\n\n"
        "RUN python3.13 -m pip install -r requirements.txt -t .\n\n"
        'CMD ["app.lambda_handler"]\n',
        {},
    )
    assert image.runtime == "python3.13" and image.cmd == ("app.lambda_handler",)
    steps = image.target.steps
    assert [(s.instruction, s.args, s.workdir, s.line) for s in steps] == [
        ("COPY", ("app.py", "requirements.txt", "./"), "/var/task", 3),
        ("RUN", ("python3.13 -m pip install -r requirements.txt -t .",), "/var/task", 5),
    ]
    assert steps[1].shell and steps[1].env["LAMBDA_TASK_ROOT"] == "/var/task"


def test_env_and_arg_are_expanded_as_docker_expands_them() -> None:
    image = read(
        "ARG LINE=3.11\n"
        "FROM public.ecr.aws/lambda/python:${LINE} AS first\n"
        "FROM public.ecr.aws/lambda/python:${LINE}\n"
        "ARG LINE\n"
        "ARG MODE=dev\n"
        'ENV A=1 B="two words" C=${MODE}\n'
        "ENV A=2 D=$A\n"  # D sees A before this ENV
        "ENV E ${UNSET:-fallback}-${A:+set}\n"
        "WORKDIR ${LAMBDA_TASK_ROOT}/sub\n"
        "WORKDIR ../other\n"
        "COPY --chmod=755 --from=0 x $LINE/\n"
        "CMD app.handler\n",
        {"MODE": "prod"},
    )
    assert image.runtime == "python3.11" and image.cmd == ("app.handler",)
    env = image.target.env
    assert env["A"] == "2" and env["B"] == "two words" and env["C"] == "prod"
    assert env["D"] == "1" and env["E"] == "fallback-set"
    assert image.target.workdir == "/var/task/other"
    copy = image.target.steps[-1]
    assert copy.args == ("x", "3.11/") and copy.flags == {"chmod": "755", "from": "0"}
    assert expand(r"\$HOME ${X}", {"X": "y"}) == "$HOME y"


def test_the_last_stage_is_the_default_target() -> None:
    text = (
        "FROM public.ecr.aws/lambda/nodejs:20 AS deps\nRUN npm ci\n"
        "FROM public.ecr.aws/lambda/nodejs:20 AS unused\nRUN npm test\n"
        "FROM deps AS build\nRUN npm run build\n"
        "FROM public.ecr.aws/lambda/nodejs:20\nCOPY --from=build /var/task/dist ./\n"
        'CMD ["app.handler"]\n'
        "FROM python:3.12 AS tools\n"
    )
    with pytest.raises(DockerfileError) as info:  # the last stage is not a Lambda image
        read(text, {})
    assert info.value.line == 10 and "Lambda base images" in info.value.message


def test_the_named_target() -> None:
    text = (
        "FROM public.ecr.aws/lambda/nodejs:20 AS deps\nRUN npm ci\n"
        "FROM public.ecr.aws/lambda/nodejs:20 AS unused\nRUN npm test\n"
        "FROM deps AS build\nRUN npm run build\n"
        "FROM public.ecr.aws/lambda/nodejs:20 AS app\nCOPY --from=build /var/task/dist ./\n"
        'CMD ["app.handler"]\n'
        "FROM python:3.12 AS tools\n"
    )
    image = read(text, {}, target="app")
    assert [s.name for s in image.stages] == ["deps", "build", "app"]
    assert image.stages[1].parent == 0 and image.runtime == "nodejs20.x"
    with pytest.raises(DockerfileError, match="'nope' is no stage"):
        read(text, {}, target="nope")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("# nothing\n", 0, "no FROM"),
        ("FROM public.ecr.aws/lambda/python:3.12\nRUN <<EOF\necho hi\nEOF\n", 2, "here-document"),
        ("RUN x\nFROM public.ecr.aws/lambda/python:3.12\n", 1, "RUN before the first FROM"),
        ('FROM python:3.12\nCMD ["app.h"]\n', 1, "Lambda base images"),
        (
            "FROM public.ecr.aws/lambda/python:3.12\nCOPY --from=builder /x ./\n",
            2,
            "no earlier stage",
        ),
        ("FROM public.ecr.aws/lambda/python:3.12\nFROBNICATE x\n", 2, "not a Dockerfile"),
        ("FROM public.ecr.aws/lambda/python:3.12\nCOPY x\n", 2, "a source and a destination"),
        ('FROM public.ecr.aws/lambda/python:3.12\nENTRYPOINT ["python"]\n', 0, "ENTRYPOINT"),
    ],
)
def test_what_canaria_refuses_is_said_at_its_line(text: str, line: int, message: str) -> None:
    with pytest.raises(DockerfileError) as info:
        read(text, {})
    assert message in info.value.message and info.value.line == line


def test_a_provided_images_bootstrap_entrypoint_is_accepted() -> None:
    image = read(
        "FROM public.ecr.aws/lambda/provided:al2023\nCOPY bootstrap ./\n"
        'ENTRYPOINT ["./bootstrap"]\n',
        {},
    )
    assert image.runtime == "provided.al2023" and image.cmd == ()


def test_another_base_with_aws_runtime_interface_client() -> None:
    """AWS's documented alternative base images: the runtime is the base's tag; the code
    is the working directory the client starts in."""
    python = read(
        'ARG FUNCTION_DIR="/function"\n'
        "FROM python:3.12 AS build-image\nARG FUNCTION_DIR\n"
        "RUN mkdir -p ${FUNCTION_DIR}\nCOPY . ${FUNCTION_DIR}\n"
        "RUN pip install --target ${FUNCTION_DIR} awslambdaric\n"
        "FROM python:3.12-slim\nARG FUNCTION_DIR\nWORKDIR ${FUNCTION_DIR}\n"
        "COPY --from=build-image ${FUNCTION_DIR} ${FUNCTION_DIR}\n"
        'ENTRYPOINT [ "/usr/local/bin/python", "-m", "awslambdaric" ]\n'
        'CMD [ "lambda_function.handler" ]\n',
        {},
    )
    assert python.runtime == "python3.12" and python.cmd == ("lambda_function.handler",)
    assert python.target.workdir == "/function" and len(python.stages) == 2
    node = read(
        "FROM node:20-buster\nWORKDIR /function\nCOPY . .\nRUN npm install aws-lambda-ric\n"
        'ENTRYPOINT ["/usr/local/bin/npx", "aws-lambda-ric"]\nCMD ["index.handler"]\n',
        {},
    )
    assert node.runtime == "nodejs20.x"
    with pytest.raises(DockerfileError, match="runtime interface client"):
        read('FROM python:3.12\nENTRYPOINT ["python", "app.py"]\n', {})
