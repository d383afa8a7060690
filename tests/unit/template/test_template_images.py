"""Container image functions read from the template: the Dockerfile's runtime, handler
and environment, `ImageConfig`, and what is refused (where, with the rest of the
template's errors)."""

from __future__ import annotations

from pathlib import Path

from canaria.template import load
from tests.unit.template.template_helpers import fails, resources, write

DOCKERFILE = """\
FROM public.ecr.aws/lambda/python:3.12
ENV GREETING=hello MODE=image
COPY app.py ./
CMD ["app.handler"]
"""


def image_function(extra: str = "", metadata: str = "") -> str:
    return f"""\
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      PackageType: Image
      Environment: {{Variables: {{MODE: template}}}}
{extra}    Metadata:
      Dockerfile: Dockerfile
      DockerContext: ./src
{metadata}"""


def app(tmp_path: Path, dockerfile: str = DOCKERFILE, **kwargs: str) -> str:
    path = write(tmp_path, resources(image_function(**kwargs)))
    (Path(path).parent / "src" / "Dockerfile").write_text(dockerfile)
    return path


def test_the_dockerfile_gives_runtime_handler_and_environment(tmp_path: Path) -> None:
    spec = load(app(tmp_path, metadata="      DockerBuildArgs: {A: '1'}\n")).functions["Fn"]
    assert spec.config.runtime == "python3.12" and spec.config.handler == "app.handler"
    assert spec.config.code_uri == str(tmp_path / "app" / "src")
    assert spec.config.environment == {"GREETING": "hello", "MODE": "template"}
    assert spec.image is not None and spec.image.build_args == (("A", "1"),)
    assert spec.image.text == DOCKERFILE and spec.build is None


def test_image_config_command_names_the_handler(tmp_path: Path) -> None:
    extra = "      ImageConfig: {Command: [other.handler], WorkingDirectory: /var/task}\n"
    spec = load(app(tmp_path, extra=extra)).functions["Fn"]
    assert spec.config.handler == "other.handler"
    assert spec.image is not None and spec.image.workdir == "/var/task"


def test_what_is_refused_is_said_where(tmp_path: Path) -> None:
    registry = write(
        tmp_path,
        resources(
            "  Fn:\n    Type: AWS::Serverless::Function\n"
            "    Properties:\n      PackageType: Image\n"
            "      ImageUri: 1.dkr.ecr.us-east-1.amazonaws.com/f:1\n"
        ),
    )
    assert "ImageUri '1.dkr.ecr.us-east-1.amazonaws.com/f:1' names an image in a registry" in (
        fails(registry).message
    )
    entry = fails(app(tmp_path, extra="      ImageConfig: {EntryPoint: [python]}\n")).message
    assert "ImageConfig.EntryPoint: canaria starts the base image's runtime itself" in entry
    no_cmd = fails(app(tmp_path, dockerfile="FROM public.ecr.aws/lambda/python:3.12\n")).message
    assert "no CMD names the handler" in no_cmd
    dockerfile = tmp_path / "app" / "src" / "Dockerfile"
    bad = fails(app(tmp_path, dockerfile="FROM public.ecr.aws/lambda/python:3.12\nRUNX x\n"))
    assert f"{dockerfile}:2: RUNX is not a Dockerfile instruction" in bad.message


def test_a_dockerfile_error_comes_with_the_functions_other_errors(tmp_path: Path) -> None:
    error = fails(app(tmp_path, dockerfile="FROM python:3.12\n", extra="      Timeout: 0\n"))
    messages = [e.message for e in getattr(error, "errors", [error])]
    text = " | ".join(messages)
    assert "Lambda base images" in text and "Timeout" in text, text
