"""Dockerfiles of container image functions, read without Docker.

A function with ``PackageType: Image`` is built by ``sam build`` from ``Metadata:
{Dockerfile, DockerContext, DockerBuildArgs, DockerBuildTarget}``: Docker runs the
Dockerfile on one of AWS's Lambda base images, and Lambda runs the image's runtime on the
handler its ``CMD`` names. canaria has no Docker; it reads the Dockerfile (dockerfile-parse
joins its continuation lines and leaves its comments out; the words are split here as
Docker splits them) and builds what the image's files would be:

- ``FROM public.ecr.aws/lambda/python:3.13`` (or ``nodejs:22``, ``provided:al2023``;
  ``amazon/aws-lambda-*`` too) gives the function's runtime, ``python3.13``; a stage
  named in a later ``FROM`` starts that stage from its files; another base image is
  allowed for a stage the target copies from, not for the target itself;
- ``CMD`` is the handler (``ImageConfig.Command`` takes its place); an ``ENTRYPOINT`` is
  refused, but the ``./bootstrap`` of a ``provided`` image, and AWS's runtime interface
  client on another base (``FROM python:3.12`` with ``ENTRYPOINT ["python", "-m",
  "awslambdaric"]``, ``FROM node:20`` with ``npx aws-lambda-ric``), whose runtime the
  base's tag names;
- ``ENV`` is the function's environment under the template's own ``Environment``;
- ``ARG`` takes ``DockerBuildArgs``; ``$VAR``, ``${VAR}``, ``${VAR:-default}`` and
  ``${VAR:+alternative}`` are expanded as Docker expands them;
- ``COPY``, ``ADD``, ``WORKDIR`` and ``RUN`` are the build's steps, which
  ``canaria.runtime.images`` runs; ``LABEL``, ``EXPOSE``, ``USER`` and the like change no
  file and are passed over.

This module only reads: what the steps are, each with the environment and working
directory it runs in; nothing here touches a file but the Dockerfile's text.
"""

from __future__ import annotations

import io
import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from dockerfile_parse import DockerfileParser

TASK_ROOT = "/var/task"
# what AWS's Lambda base images set for every stage built on them
LAMBDA_ENV = {"LAMBDA_TASK_ROOT": TASK_ROOT, "LAMBDA_RUNTIME_DIR": "/var/runtime"}
LAMBDA_BASE = re.compile(
    r"^(?:public\.ecr\.aws/lambda/|(?:docker\.io/)?amazon/aws-lambda-)"
    r"(?P<family>python|nodejs|provided)(?::(?P<tag>[^@\s]+))?(?:@\S+)?$"
)
# instructions that change no file of the image and nothing Lambda reads from it
PASSED_OVER = frozenset(
    {"LABEL", "EXPOSE", "USER", "VOLUME", "STOPSIGNAL", "HEALTHCHECK", "SHELL", "MAINTAINER"}
)
BUILD_STEPS = frozenset({"COPY", "ADD", "RUN", "WORKDIR"})
ALLOWED_BASES = (
    "public.ecr.aws/lambda/python:3.N, public.ecr.aws/lambda/nodejs:N or "
    "public.ecr.aws/lambda/provided:al2023 (AWS's Lambda base images)"
)


class DockerfileError(Exception):
    """What is wrong with a Dockerfile, at its line (0: the file as a whole)."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(frozen=True)
class Step:
    """A step that builds files: ``COPY``, ``ADD``, ``RUN`` or ``WORKDIR``, its words
    expanded (a shell-form ``RUN``: its one line, which its shell expands)."""

    instruction: str
    args: tuple[str, ...]
    flags: Mapping[str, str]  # --from=build → {"from": "build"}
    line: int
    workdir: str  # the absolute working directory it runs in
    env: Mapping[str, str]  # the environment it runs with (ENV and ARG so far)
    shell: bool = False  # a RUN in shell form


@dataclass(frozen=True)
class Stage:
    index: int
    name: str | None  # FROM ... AS name
    base: str  # the image, or an earlier stage's name
    parent: int | None  # the earlier stage it starts from, if any
    line: int
    steps: tuple[Step, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)  # at its end
    workdir: str = "/"  # at its end
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Image:
    """The Dockerfile read for one target: its stages up to the target, the target last."""

    stages: tuple[Stage, ...]
    runtime: str  # python3.13, nodejs22.x, provided.al2023
    cmd: tuple[str, ...]  # CMD (empty: none)

    @property
    def target(self) -> Stage:
        return self.stages[-1]


def read(text: str, build_args: Mapping[str, str], target: str | None = None) -> Image:
    """The image ``text`` describes, for ``target`` (a stage's name; None: the last);
    DockerfileError naming the line of what canaria cannot build."""
    commands = _commands(text)
    global_args: dict[str, str] = {}  # ARGs before the first FROM
    stages: list[Stage] = []
    builder: _StageBuilder | None = None
    for c in commands:
        cmd = c.cmd.upper()
        if cmd == "FROM":
            if builder is not None:
                stages.append(builder.done())
            builder = _from(c, stages, global_args, build_args)
        elif builder is None:
            if cmd != "ARG":
                raise DockerfileError(f"{cmd} before the first FROM", c.start_line)
            for name, value in _args(c, global_args).items():
                global_args[name] = build_args.get(name, value)
        else:
            builder.add(c, build_args, global_args)
    if builder is None:
        raise DockerfileError("no FROM: the Dockerfile names no base image")
    stages.append(builder.done())
    chosen = _target(stages, target)
    return _image(chosen)


class Command(NamedTuple):
    """One instruction as the Dockerfile writes it: its words (a JSON form's list, else
    the line split as Docker splits it), its ``--flag=value`` options, its first line."""

    cmd: str
    flags: tuple[str, ...]
    value: tuple[str, ...]
    json: bool
    start_line: int
    heredocs: bool = False


# instructions whose value may be a JSON list (the exec form)
_JSON_FORMS = frozenset({"RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME"})
_FLAGGED = frozenset({"FROM", "RUN", "COPY", "ADD"})
_HEREDOC = re.compile(r"<<-?\s*[\"']?\w")


def _commands(text: str) -> list[Command]:
    """The Dockerfile's instructions, read by dockerfile-parse (continuation lines joined,
    comments left out) and split into words here."""
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode("utf-8")))
    out: list[Command] = []
    for entry in parser.structure:
        cmd = str(entry["instruction"]).upper()
        if cmd == "COMMENT":
            continue
        value = str(entry["value"]).strip()
        line = int(entry["startline"]) + 1
        flags: list[str] = []
        if cmd in _FLAGGED:
            while value.startswith("--"):
                flag, _, value = value.partition(" ")
                flags.append(flag)
                value = value.lstrip()
        heredoc = cmd in ("RUN", "COPY", "ADD") and bool(_HEREDOC.match(value))
        if cmd in _JSON_FORMS and value.startswith("["):
            try:
                words = json.loads(value)
            except json.JSONDecodeError:
                words = None
            if isinstance(words, list) and all(isinstance(w, str) for w in words):
                out.append(Command(cmd, tuple(flags), tuple(words), True, line, heredoc))
                continue
        if cmd == "RUN" or cmd in ("CMD", "ENTRYPOINT"):
            words = [value] if value else []
        elif cmd in ("ENV", "ARG", "LABEL"):
            words = _pairs(cmd, value, line)
        else:
            words = value.split()
        out.append(Command(cmd, tuple(flags), tuple(words), False, line, heredoc))
    return out


def _pairs(cmd: str, value: str, line: int) -> list[str]:
    """``ENV A=1 B="two words"`` → ``[A, 1, B, two words]``; the legacy ``ENV A 1`` →
    ``[A, 1]``; ``ARG A=1 B`` → ``[A=1, B]``."""
    try:
        tokens = shlex.split(value, posix=True)
    except ValueError as exc:
        raise DockerfileError(f"{cmd} {value}: {exc}", line) from None
    if cmd == "ARG":
        return tokens
    if tokens and "=" not in tokens[0]:
        name, _, rest = value.partition(" ")
        return [name, rest.strip()]
    words: list[str] = []
    for token in tokens:
        name, eq, val = token.partition("=")
        if not eq:
            raise DockerfileError(f"{cmd} {value}: expected NAME=value pairs", line)
        words += [name, val]
    return words


def runtime_of(base: str) -> str | None:
    """``public.ecr.aws/lambda/python:3.13`` → ``python3.13``; None for another image."""
    m = LAMBDA_BASE.match(base)
    if m is None:
        return None
    family, tag = m.group("family"), m.group("tag") or ""
    if family == "python" and (v := re.match(r"(3\.\d+)(?:$|[.-])", tag)):
        return f"python{v.group(1)}"
    if family == "nodejs" and (v := re.match(r"(\d+)(?:$|[.-])", tag)):
        return f"nodejs{v.group(1)}.x"
    if family == "provided" and (v := re.match(r"(al2023|al2)(?:$|[.-])", tag)):
        return f"provided.{v.group(1)}"
    return None


# AWS's runtime interface clients, which make another base image a Lambda runtime
RUNTIME_CLIENTS = frozenset({"awslambdaric", "aws-lambda-ric"})
_OTHER_BASE = re.compile(
    r"^(?:docker\.io/)?(?:library/)?(?P<family>python|node):(?P<tag>[^@\s]+)(?:@\S+)?$"
)


def client_runtime(base: str, entrypoint: tuple[str, ...]) -> str | None:
    """The runtime of an image on another base that starts AWS's runtime interface client
    (``python:3.12`` with ``python -m awslambdaric``, ``node:20`` with ``npx
    aws-lambda-ric``); None for another image."""
    m = _OTHER_BASE.match(base)
    words = " ".join(entrypoint)
    if m is None:
        return None
    if m.group("family") == "python" and "awslambdaric" in words:
        v = re.match(r"(3\.\d+)(?:$|[.-])", m.group("tag"))
        return f"python{v.group(1)}" if v else None
    if m.group("family") == "node" and "aws-lambda-ric" in words:
        v = re.match(r"(\d+)(?:$|[.-])", m.group("tag"))
        return f"nodejs{v.group(1)}.x" if v else None
    return None


def expand(word: str, env: Mapping[str, str]) -> str:
    """``word`` with ``$VAR``, ``${VAR}``, ``${VAR:-default}`` and ``${VAR:+alternative}``
    replaced as Docker replaces them (an unset variable: empty; ``\\$`` stays ``$``)."""

    def one(m: re.Match[str]) -> str:
        if m.group("escaped"):
            return "$"
        name = m.group("bare") or m.group("name")
        value = env.get(name, "")
        op, operand = m.group("op"), m.group("operand")
        if op == ":-":
            return value or expand(operand, env)
        if op == ":+":
            return expand(operand, env) if value else ""
        return value

    return _VARIABLE.sub(one, word)


_VARIABLE = re.compile(
    r"(?P<escaped>\\\$)|\$(?:(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
    r"|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|:\+)(?P<operand>[^}]*))?\})"
)


def _from(
    c: Command,
    stages: list[Stage],
    global_args: Mapping[str, str],
    build_args: Mapping[str, str],
) -> _StageBuilder:
    words = [expand(w, global_args) for w in c.value]
    if len(words) == 3 and words[1].upper() == "AS":
        base, name = words[0], words[2]
    elif len(words) == 1:
        base, name = words[0], None
    else:
        raise DockerfileError(f"FROM {' '.join(c.value)}: expected IMAGE [AS NAME]", c.start_line)
    parent = next((s for s in stages if s.name is not None and s.name == base), None)
    if parent is None and base.isdigit() and int(base) < len(stages):
        parent = stages[int(base)]
    env: dict[str, str] = {}
    workdir = "/"
    if parent is not None:
        env, workdir = dict(parent.env), parent.workdir
    elif LAMBDA_BASE.match(base):
        env, workdir = dict(LAMBDA_ENV), TASK_ROOT
    return _StageBuilder(
        index=len(stages),
        name=name,
        base=base,
        parent=parent.index if parent is not None else None,
        line=c.start_line,
        env=env,
        workdir=workdir,
        cmd=parent.cmd if parent is not None else None,
        entrypoint=parent.entrypoint if parent is not None else None,
    )


@dataclass
class _StageBuilder:
    index: int
    name: str | None
    base: str
    parent: int | None
    line: int
    env: dict[str, str]
    workdir: str
    cmd: tuple[str, ...] | None
    entrypoint: tuple[str, ...] | None
    steps: list[Step] = field(default_factory=list)
    args: dict[str, str] = field(default_factory=dict)

    def scope(self) -> dict[str, str]:
        """The variables a word of this stage is expanded with: ARG under ENV."""
        return {**self.args, **self.env}

    def add(
        self, c: Command, build_args: Mapping[str, str], global_args: Mapping[str, str]
    ) -> None:
        cmd = c.cmd.upper()
        line = c.start_line
        if cmd == "ARG":
            for name, value in _args(c, self.scope()).items():
                # an ARG without a value takes the global one (Docker's rule for FROM's ARGs)
                default = value if value else global_args.get(name, "")
                self.args[name] = build_args.get(name, default)
        elif cmd == "ENV":
            for name, value in _env(c, self.scope()).items():
                self.env[name] = value
        elif cmd == "WORKDIR":
            path = expand(_one(c), self.scope())
            self.workdir = _absolute(path, self.workdir)
            self.steps.append(self._step("WORKDIR", (self.workdir,), {}, line))
        elif cmd in ("COPY", "ADD"):
            if c.heredocs:
                raise DockerfileError(f"{cmd} with a here-document is not supported", line)
            words = tuple(expand(w, self.scope()) for w in c.value)
            if len(words) < 2:
                raise DockerfileError(f"{cmd} needs a source and a destination", line)
            self.steps.append(self._step(cmd, words, _flags(c, self.scope()), line))
        elif cmd == "RUN":
            if c.heredocs:
                raise DockerfileError("RUN with a here-document is not supported", line)
            flags = _flags(c, self.scope())
            if c.json:
                words = tuple(expand(w, self.scope()) for w in c.value)
                self.steps.append(self._step("RUN", words, flags, line))
            else:
                self.steps.append(self._step("RUN", (" ".join(c.value),), flags, line, True))
        elif cmd == "CMD":
            self.cmd = _command(c)
        elif cmd == "ENTRYPOINT":
            self.entrypoint = _command(c)
        elif cmd == "ONBUILD" or cmd in PASSED_OVER:
            pass
        else:
            raise DockerfileError(f"{cmd} is not a Dockerfile instruction", line)

    def _step(
        self,
        instruction: str,
        args: tuple[str, ...],
        flags: Mapping[str, str],
        line: int,
        shell: bool = False,
    ) -> Step:
        return Step(instruction, args, flags, line, self.workdir, self.scope(), shell)

    def done(self) -> Stage:
        return Stage(
            index=self.index,
            name=self.name,
            base=self.base,
            parent=self.parent,
            line=self.line,
            steps=tuple(self.steps),
            env=dict(self.env),
            workdir=self.workdir,
            cmd=self.cmd,
            entrypoint=self.entrypoint,
        )


def _target(stages: list[Stage], target: str | None) -> list[Stage]:
    """The stages the target needs, in order: the target, what it starts from, what any of
    them copies from."""
    if target is None:
        last = stages[-1]
    else:
        found = [s for s in stages if s.name == target]
        if not found:
            names = ", ".join(s.name for s in stages if s.name) or "none"
            raise DockerfileError(f"DockerBuildTarget {target!r} is no stage (named: {names})")
        last = found[0]
    needed: set[int] = set()

    def need(stage: Stage) -> None:
        if stage.index in needed:
            return
        needed.add(stage.index)
        if stage.parent is not None:
            need(stages[stage.parent])
        for step in stage.steps:
            source = step.flags.get("from")
            if source is None:
                continue
            used = _stage_named(stages[: stage.index], source)
            if used is None:
                raise DockerfileError(
                    f"{step.instruction} --from={source}: no earlier stage of that name "
                    "(canaria builds without Docker and does not pull images to copy from)",
                    step.line,
                )
            need(used)

    need(last)
    return [s for s in stages if s.index in needed and s.index <= last.index]


def _stage_named(stages: list[Stage], name: str) -> Stage | None:
    for s in stages:
        if s.name == name:
            return s
    if name.isdigit() and int(name) < len(stages):
        return stages[int(name)]
    return None


def _image(stages: list[Stage]) -> Image:
    last = stages[-1]
    root = last
    while root.parent is not None:
        root = stages[[s.index for s in stages].index(root.parent)]
    runtime = runtime_of(root.base)
    with_client = runtime is None and last.entrypoint is not None
    if with_client:
        runtime = client_runtime(root.base, last.entrypoint or ())
    if runtime is None:
        raise DockerfileError(
            f"FROM {root.base}: canaria runs images built on AWS's Lambda base images, with "
            "the runtime their tag names, or on python:3.N or node:N with AWS's runtime "
            "interface client as the ENTRYPOINT",
            root.line,
        )
    cmd = last.cmd or ()
    if (
        last.entrypoint is not None
        and not with_client
        and not (
            runtime.startswith("provided") and _bootstrap_entrypoint(last.entrypoint, last.workdir)
        )
    ):
        raise DockerfileError(
            f"ENTRYPOINT {' '.join(last.entrypoint)}: canaria starts the base image's runtime "
            "itself (a provided image's ./bootstrap aside)"
        )
    return Image(tuple(stages), runtime, cmd)


def _bootstrap_entrypoint(entrypoint: tuple[str, ...], workdir: str) -> bool:
    return len(entrypoint) == 1 and _absolute(entrypoint[0], workdir) == f"{TASK_ROOT}/bootstrap"


def _one(c: Command) -> str:
    if len(c.value) != 1:
        raise DockerfileError(f"{c.cmd.upper()} takes one value", c.start_line)
    return str(c.value[0])


def _absolute(path: str, workdir: str) -> str:
    joined = path if path.startswith("/") else f"{workdir.rstrip('/')}/{path}"
    parts: list[str] = []
    for part in joined.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


def _flags(c: Command, scope: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for flag in c.flags:
        name, _, value = flag.removeprefix("--").partition("=")
        out[name] = expand(value, scope)
    return out


def _args(c: Command, scope: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for word in c.value:
        name, _, value = word.partition("=")
        out[name] = expand(_unquote(value), scope)
    return out


def _env(c: Command, scope: Mapping[str, str]) -> dict[str, str]:
    """``ENV A=1 B="two words"`` (pairs, as the parser gives them) or ``ENV A 1``."""
    words = list(c.value)
    if len(words) % 2:
        raise DockerfileError("ENV needs NAME=value pairs", c.start_line)
    # each value is expanded with the variables as they were before this ENV (Docker's rule)
    return {
        name: expand(_unquote(value), scope)
        for name, value in zip(words[::2], words[1::2], strict=True)
    }


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        try:
            return shlex.split(value)[0]
        except ValueError:
            return value
    return value


def _command(c: Command) -> tuple[str, ...]:
    """CMD's or ENTRYPOINT's words: the JSON form's list, else the shell form's line (which
    Docker would hand to ``/bin/sh -c``, and Lambda's runtime reads as its handler)."""
    if c.json:
        return tuple(str(w) for w in c.value)
    return (" ".join(c.value).strip(),) if c.value else ()


__all__ = [
    "ALLOWED_BASES",
    "BUILD_STEPS",
    "LAMBDA_ENV",
    "RUNTIME_CLIENTS",
    "TASK_ROOT",
    "Command",
    "DockerfileError",
    "Image",
    "Stage",
    "Step",
    "client_runtime",
    "expand",
    "read",
    "runtime_of",
]
