"""Build a container image function's code from its Dockerfile, without Docker.

Each stage the target needs gets a directory that stands for its image's file system
(``/var/task`` is ``<stage>/var/task``); its steps run in order:

- ``WORKDIR`` makes the directory;
- ``COPY`` / ``ADD`` copy from the context (but what its ``.dockerignore`` leaves out)
  or, ``--from``, from an earlier stage, as Docker copies: a directory's contents, a
  wildcard's matches, into a directory when the destination ends with ``/`` or there are
  several sources; ``ADD`` extracts a local tar
  archive, and refuses a URL; ``--chmod`` is applied;
- ``RUN`` runs the commands canaria knows how to run outside the image, one after the
  other (``&&`` or ``;`` between them; ``export`` sets a variable for the commands after
  it; ``set``, ``chown`` and the like change nothing here), in the step's working
  directory, with every
  absolute path in their words moved into the stage's directory:
  ``pip`` (``pip3``, ``python3.13 -m pip``...), run by the Python the function runs on
  (``install`` without a target installs into the image's ``site-packages``, which the
  function's code then sees, as the base image's Python sees its own); ``npm``, ``npx``
  and ``yarn``; ``cd``; and the file commands ``mkdir``, ``cp``, ``mv``, ``rm``,
  ``chmod``, ``touch``, ``ln``, ``echo``, ``ls``, ``cat``. The system's package managers
  (``dnf``, ``yum``, ``microdnf``, ``apt-get``, ``apk``) are passed over with a warning:
  the function runs with this machine's libraries. Anything else is a ``BuildError``
  naming the Dockerfile's line.

As Docker reuses a layer, a stage starts from its state after the last ``RUN`` whose
inputs have not changed (every step before it, the files each ``COPY`` copied), kept
under ``<state>/image-cache`` (the 16 most recently used): a change to the code copied
after ``RUN pip install -r requirements.txt`` does not install again.

The function's code is then the target stage's working directory (``/var/task`` in AWS's
base images; ``ImageConfig.WorkingDirectory`` takes its place), with the packages ``pip``
installed beside it; it is content-addressed like any artifact: the digest covers the
context's files, the Dockerfile's text, the build's arguments and target, and the Python
or Node.js that ran it.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path

from canaria import dockerfiles
from canaria.dockerfiles import RUNTIME_CLIENTS
from canaria.errors import BuildError
from canaria.models import ImageBuild
from canaria.pythons import PythonInstall
from canaria.runtime.artifacts import SKIP_DIRS, SKIP_SUFFIXES, Confine, code_digest

log = logging.getLogger(__name__)

RUN_TIMEOUT_S = 900.0
SITE_PACKAGES = "/var/lang/lib/site-packages"  # where `pip install` puts what it installs
PIP = re.compile(r"^pip(?:3(?:\.\d+)?)?$")
# options of pip and npm that take a value (what is not a package to install)
VALUE_OPTIONS = frozenset(
    {
        "-t",
        "--target",
        "-r",
        "--requirement",
        "-c",
        "--constraint",
        "-i",
        "--index-url",
        "--extra-index-url",
        "-f",
        "--find-links",
        "--prefix",
        "--root",
        "--platform",
        "--python-version",
        "--implementation",
        "--abi",
        "--cache-dir",
        "--progress-bar",
        "--registry",
        "-m",
    }
)
PYTHON = re.compile(r"^(?:/\S*/)?python(?:3(?:\.\d+)?)?$")
FILE_COMMANDS = frozenset({"mkdir", "cp", "mv", "rm", "chmod", "touch", "ln", "ls", "cat"})
PACKAGE_MANAGERS = frozenset({"dnf", "yum", "microdnf", "apt-get", "apt", "apk", "rpm"})
NODE_TOOLS = frozenset({"npm", "npx", "yarn"})
# what changes nothing of the image's files here: shell settings, the image's users and its
# system's library cache
NO_OPS = frozenset({"set", "true", ":", "chown", "chgrp", "ldconfig", "useradd", "groupadd"})
# what a RUN line may hold besides words: commands one after another, nothing else
SEPARATORS = ("&&", ";")
CACHE_DIR = "image-cache"  # under the state directory: stages' states after their RUN steps
CACHE_KEEP = 16


def image_digest(image: ImageBuild, state_dir: str, salt: str, confine: Confine | None) -> str:
    """The artifact's digest: the context's files (but what ``.dockerignore`` leaves
    out), the Dockerfile, the build's arguments and target, and ``salt`` (the Python or
    Node.js that builds it)."""
    root = Path(image.context)
    ignore = _Ignore.read(root, Path(image.dockerfile))
    context = code_digest(
        image.context, state_dir, confine, keep=lambda rel: not ignore.excluded(root / rel, root)
    )
    parts = [
        "image",
        context,
        image.text,
        *(f"{k}={v}" for k, v in image.build_args),
        image.target or "",
        image.workdir or "",
        salt,
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def build_image(
    image: ImageBuild,
    state_dir: str,
    confine: Confine | None = None,
    python: PythonInstall | None = None,
    salt: str = "",
) -> tuple[str, str]:
    """``(digest, artifact directory)`` for the image's code; BuildError when a step fails
    or cannot run here."""
    try:
        parsed = dockerfiles.read(image.text, dict(image.build_args), image.target)
    except dockerfiles.DockerfileError as exc:  # the loader read it; the file was edited since
        raise BuildError(f"{image.dockerfile}:{exc.line}: {exc.message}") from None
    digest = image_digest(image, state_dir, salt, confine)
    artifacts = Path(state_dir).resolve() / "artifacts"
    final = artifacts / digest
    if final.is_dir():
        return digest, str(final)
    artifacts.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".image-{digest[:12]}-", dir=artifacts))
    try:
        cache = Path(state_dir).resolve() / CACHE_DIR
        builder = _Builder(image, parsed, work / "stages", python, cache, salt)
        code = builder.run()
        _warn_outside(image, builder.roots[parsed.target.index], code)
        out = work / "code"
        shutil.copytree(code, out, symlinks=True) if code.is_dir() else out.mkdir()
        site = builder.roots[parsed.target.index] / SITE_PACKAGES.lstrip("/")
        if site.is_dir():  # the image's own site-packages: importable by the function
            for item in site.iterdir():
                if not (out / item.name).exists():
                    shutil.move(str(item), out / item.name)
        out.chmod(0o755)
        try:
            out.rename(final)
        except OSError:
            if not final.is_dir():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return digest, str(final)


class _Builder:
    def __init__(
        self,
        image: ImageBuild,
        parsed: dockerfiles.Image,
        stages_dir: Path,
        python: PythonInstall | None,
        cache: Path | None = None,
        salt: str = "",
    ) -> None:
        self.image = image
        self.parsed = parsed
        self.context = Path(image.context)
        self.python = python.path if python is not None else sys.executable
        self.roots: dict[int, Path] = {}
        self.stages_dir = stages_dir
        self.cache = cache
        self.salt = salt
        self.ignore = _Ignore.read(self.context, Path(image.dockerfile))

    def run(self) -> Path:
        """Each stage's directory, built; the code's directory. A stage starts from the
        state after its last ``RUN`` whose inputs (every step before it, the files its
        ``COPY`` steps copied) the cache holds, as Docker reuses its layers: a change to
        the code after ``RUN pip install`` does not install again."""
        keys: dict[int, str] = {}
        for stage in self.parsed.stages:
            root = self.stages_dir / str(stage.index)
            parent = keys[stage.parent] if stage.parent is not None else ""
            key = _chain("stage", stage.base, parent, self.salt)
            plan: list[tuple[dockerfiles.Step, str]] = []
            for step in stage.steps:
                key = _chain(key, self.step_key(step, keys))
                plan.append((step, key))
            keys[stage.index] = key
            start = 0
            for i in range(len(plan) - 1, -1, -1):
                step, after = plan[i]
                if step.instruction == "RUN" and self.restore(after, root):
                    start = i + 1
                    break
            else:
                if stage.parent is not None:
                    shutil.copytree(self.roots[stage.parent], root, symlinks=True)
                else:
                    root.mkdir(parents=True)
                    (root / dockerfiles.TASK_ROOT.lstrip("/")).mkdir(parents=True)
            self.roots[stage.index] = root
            for step, after in plan[start:]:
                self.step(stage, root, step)
                if step.instruction == "RUN":
                    self.save(after, root)
        target = self.parsed.target
        workdir = self.image.workdir or target.workdir
        return _inside(self.roots[target.index], workdir)

    # the step cache

    def step_key(self, step: dockerfiles.Step, keys: Mapping[int, str]) -> str:
        """What the step does and reads: its words, flags, working directory and
        environment, and for COPY / ADD the files it copies (or the stage it copies from)."""
        parts = [
            step.instruction,
            *step.args,
            *(f"--{k}={v}" for k, v in sorted(step.flags.items())),
            step.workdir,
            *(f"{k}={v}" for k, v in sorted(step.env.items())),
        ]
        if step.instruction in ("COPY", "ADD"):
            source = step.flags.get("from")
            if source is not None:
                parts.append(keys[_stage_named(self.parsed.stages, source).index])
            else:
                for word in step.args[:-1]:
                    if not re.match(r"^[a-z]+://", word):
                        paths = self.matches(self.context, word, False, step)
                        parts.append(_files_digest(paths, self.ignore, self.context))
        return _chain(*parts)

    def restore(self, key: str, root: Path) -> bool:
        """``root`` as the cache holds it after the step ``key`` names, if it does."""
        if self.cache is None:
            return False
        kept = self.cache / key
        if not kept.is_dir():
            return False
        try:
            shutil.copytree(kept, root, symlinks=True)
            os.utime(kept)  # the most recently used are kept
        except OSError:
            shutil.rmtree(root, ignore_errors=True)
            return False
        return True

    def save(self, key: str, root: Path) -> None:
        """Keep ``root`` as it is after the step ``key`` names (the most recent
        ``CACHE_KEEP`` states are kept)."""
        if self.cache is None or (self.cache / key).is_dir():
            return
        self.cache.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=self.cache))
        try:
            shutil.copytree(root, partial, symlinks=True, dirs_exist_ok=True)
            partial.rename(self.cache / key)
        except OSError:
            shutil.rmtree(partial, ignore_errors=True)
            return
        kept = sorted(
            (p for p in self.cache.iterdir() if not p.name.startswith(".")),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        for old in kept[CACHE_KEEP:]:
            shutil.rmtree(old, ignore_errors=True)

    def fail(self, step: dockerfiles.Step, message: str) -> BuildError:
        return BuildError(f"{self.image.dockerfile}:{step.line}: {step.instruction}: {message}")

    def step(self, stage: dockerfiles.Stage, root: Path, step: dockerfiles.Step) -> None:
        if step.instruction == "WORKDIR":
            _inside(root, step.args[0]).mkdir(parents=True, exist_ok=True)
        elif step.instruction in ("COPY", "ADD"):
            self.copy(root, step)
        elif step.instruction == "RUN":
            self.run_step(root, step)

    # COPY and ADD

    def copy(self, root: Path, step: dockerfiles.Step) -> None:
        *sources, dest_word = step.args
        source = step.flags.get("from")
        if source is not None:
            stage = _stage_named(self.parsed.stages, source)
            base = self.roots[stage.index]
        else:
            base = self.context
        mode = step.flags.get("chmod")
        if mode and not re.fullmatch(r"[0-7]{3,4}", mode):
            raise self.fail(step, f"--chmod={mode}: expected an octal mode such as 755")
        dest = _inside(root, _absolute(dest_word, step.workdir))
        into_dir = dest_word.endswith("/") or len(sources) > 1 or dest.is_dir()
        found = False
        written: list[Path] = []
        for word in sources:
            if step.instruction == "ADD" and re.match(r"^[a-z]+://", word):
                raise self.fail(step, f"{word}: canaria builds without a network; ADD a local file")
            for path in self.matches(base, word, source is not None, step):
                found = True
                written += self.copy_one(path, dest, into_dir or path.is_dir(), step)
        if not found:
            raise self.fail(step, f"{' '.join(sources)}: no such file in the build context")
        if mode:  # the files this step copied, as Docker's: not what was there before
            for target in written:
                if not target.is_symlink():
                    target.chmod(int(mode, 8))

    def matches(
        self, base: Path, word: str, from_stage: bool, step: dockerfiles.Step
    ) -> list[Path]:
        rel = _absolute(word, "/").lstrip("/") if from_stage else os.path.normpath(word)
        if rel.startswith(".."):
            raise self.fail(step, f"{word} is outside the build context")
        pattern = str(base / rel) if rel != "." else str(base)
        if glob.has_magic(rel):
            found = [Path(p) for p in glob.glob(pattern) if not _skipped(Path(p), base)]
        else:
            path = Path(pattern)
            found = [path] if path.exists() or path.is_symlink() else []
        if not from_stage:  # what .dockerignore leaves out is not in the context
            found = [p for p in found if p == base or not self.ignore.excluded(p, base)]
        return sorted(found)

    def copy_one(
        self, path: Path, dest: Path, into_dir: bool, step: dockerfiles.Step
    ) -> list[Path]:
        """Copy ``path`` (a file or a directory's contents) to ``dest``; the files written."""
        written: list[Path] = []
        if path.is_dir():
            from_context = "from" not in step.flags
            dest.mkdir(parents=True, exist_ok=True)
            for dirpath, dirnames, filenames in os.walk(path):
                here = Path(dirpath)
                kept = []
                for d in sorted(dirnames):
                    full = here / d
                    if d in SKIP_DIRS:
                        continue
                    if from_context and self.ignore.excluded(full, self.context):
                        continue
                    if full.is_symlink():
                        filenames.append(d)  # a link to a directory: copied as a link
                    else:
                        kept.append(d)
                dirnames[:] = kept
                into = dest / here.relative_to(path)
                into.mkdir(parents=True, exist_ok=True)
                for name in filenames:
                    full = here / name
                    if from_context and self.ignore.excluded(full, self.context):
                        continue
                    _replace(full, into / name)
                    written.append(into / name)
            return written
        if step.instruction == "ADD" and tarfile.is_tarfile(path):
            dest.mkdir(parents=True, exist_ok=True)
            with tarfile.open(path) as archive:
                members = [m for m in archive.getmembers() if m.isfile()]
                archive.extractall(dest, filter="data")
            return [dest / m.name for m in members]
        target = dest / path.name if into_dir else dest
        target.parent.mkdir(parents=True, exist_ok=True)
        _replace(path, target)
        return [target]

    # RUN

    def run_step(self, root: Path, step: dockerfiles.Step) -> None:
        commands = self.commands(step)
        cwd = step.workdir
        env = _environment(root, step.env)
        variables = dict(step.env)  # as the image's shell sees them
        for raw in commands:
            words = [dockerfiles.expand(w, variables) for w in raw] if step.shell else raw
            program = os.path.basename(words[0])
            if program == "cd":
                cwd = _absolute(words[1] if len(words) > 1 else "/", cwd)
                continue
            if program == "export":  # for the commands after it in this RUN
                for word in words[1:]:
                    name, eq, value = word.partition("=")
                    if eq:
                        variables[name] = value
                        env[name] = str(_inside(root, value)) if value.startswith("/") else value
                continue
            if program in NO_OPS:
                continue
            if program in PACKAGE_MANAGERS:
                log.warning(
                    "%s:%d: RUN %s: passed over (canaria builds without the image; the "
                    "function runs with this machine's libraries)",
                    self.image.dockerfile,
                    step.line,
                    " ".join(words),
                )
                continue
            argv = self.argv(root, words, step)
            if not argv:
                continue  # nothing left to install
            directory = _inside(root, cwd)
            directory.mkdir(parents=True, exist_ok=True)
            self.execute(argv, directory, env, step)

    def commands(self, step: dockerfiles.Step) -> list[list[str]]:
        """The step's commands, each a list of words (their variables expanded as each
        runs: an ``export`` before it counts)."""
        if not step.shell:
            return [list(step.args)]
        line = step.args[0]
        try:
            lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>()")
            lexer.whitespace_split = True
            tokens = list(lexer)
        except ValueError as exc:
            raise self.fail(step, f"cannot read the line: {exc}") from None
        commands: list[list[str]] = [[]]
        for token in tokens:
            if token in SEPARATORS:
                commands.append([])
            elif set(token) <= set(";&|<>()"):
                raise self.fail(
                    step,
                    f"{token!r} in {line!r}: canaria runs commands joined by && or ; "
                    "(no pipes, redirections or subshells)",
                )
            else:
                commands[-1].append(token)
        return [c for c in commands if c]

    def argv(self, root: Path, words: list[str], step: dockerfiles.Step) -> list[str]:
        program = os.path.basename(words[0])
        rest = [_moved(root, w) for w in words[1:]]
        # AWS's runtime interface client is not installed: canaria is the function's runtime
        kept = [w for w in rest if re.split(r"[@=<>~!]", w)[0] not in RUNTIME_CLIENTS]
        if len(kept) < len(rest):
            rest = kept
            if not _names_packages(rest):
                return []  # it was all the command installed
        if PIP.match(program):
            return self.pip(root, rest, step)
        if PYTHON.match(program) and rest[:2] == ["-m", "pip"]:
            return self.pip(root, rest[2:], step)
        if program in NODE_TOOLS:
            tool = shutil.which(program)
            if tool is None:
                raise self.fail(step, f"{program} is not on this machine's PATH")
            return [tool, *rest]
        if program in FILE_COMMANDS or program == "echo":
            return [program, *rest]
        raise self.fail(
            step,
            f"{' '.join(words)}: canaria builds images without Docker and runs pip, npm, "
            "npx, yarn, cd and the file commands (mkdir, cp, mv, rm, chmod, touch, ln) "
            "from RUN; build this image's code another way, or leave this line out",
        )

    def pip(self, root: Path, args: list[str], step: dockerfiles.Step) -> list[str]:
        command = [self.python, "-m", "pip", *args]
        if args and args[0] == "install":
            placed = {"-t", "--target", "--prefix", "--root", "--user"}
            if not any(a in placed or a.startswith(("--target=", "--prefix=")) for a in args):
                site = _inside(root, SITE_PACKAGES)
                site.mkdir(parents=True, exist_ok=True)
                command += ["--target", str(site)]
            command += ["--disable-pip-version-check", "--no-input", "--progress-bar", "off"]
            command += ["--no-warn-script-location", "--upgrade"]
        return command

    def execute(
        self, argv: list[str], cwd: Path, env: Mapping[str, str], step: dockerfiles.Step
    ) -> None:
        try:
            done = subprocess.run(
                argv,
                cwd=cwd,
                env=dict(env),
                capture_output=True,
                text=True,
                timeout=RUN_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise self.fail(step, f"took more than {RUN_TIMEOUT_S:.0f} s") from None
        except OSError as exc:
            raise self.fail(step, f"{argv[0]}: {exc.strerror}") from None
        if done.returncode != 0:
            output = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise self.fail(
                step,
                f"{' '.join(os.path.basename(a) if i == 0 else a for i, a in enumerate(argv))} "
                f"exited with {done.returncode}: " + " / ".join(output),
            )


def _warn_outside(image: ImageBuild, root: Path, code: Path) -> None:
    """Say which files the image puts outside its code (``COPY model /opt/ml/model``):
    the function runs on this machine, where ``/opt/ml/model`` is not them."""
    site = root / SITE_PACKAGES.lstrip("/")
    outside: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if here in (code, site, root / "tmp"):
            dirnames[:] = []
            continue
        if filenames:  # files here, not in the code nor above it: named, not walked
            outside.append("/" + here.relative_to(root).as_posix())
            if not code.is_relative_to(here):
                dirnames[:] = []
    if outside:
        shown = ", ".join(sorted(outside)[:5]) + (" ..." if len(outside) > 5 else "")
        log.warning(
            "%s: the image puts files outside its code (%s): the function runs on this "
            "machine, where those paths are not the image's; read them relative to the "
            "code (LAMBDA_TASK_ROOT) to run the same here and on Lambda",
            image.dockerfile,
            shown,
        )


class _Ignore:
    """A build context's ``.dockerignore`` (or ``<Dockerfile>.dockerignore`` beside the
    Dockerfile, which BuildKit reads first), with Docker's rules (moby's patternmatcher):
    each line a path pattern relative to the context (``*`` and ``?`` within one name,
    ``**`` across directories), a path left out when it or a directory above it matches
    the last pattern that applies, ``!`` bringing back what an earlier line left out,
    ``#`` a comment. Written here: the maintained matchers follow ``.gitignore``'s rules,
    where ``tests`` matches at any depth; Docker's matches at the top only."""

    def __init__(self, patterns: list[tuple[re.Pattern[str], bool]]) -> None:
        self.patterns = patterns

    @classmethod
    def read(cls, context: Path, dockerfile: Path) -> _Ignore:
        for candidate in (
            dockerfile.with_name(dockerfile.name + ".dockerignore"),
            context / ".dockerignore",
        ):
            if candidate.is_file():
                text = candidate.read_text(encoding="utf-8", errors="replace")
                return cls([p for line in text.splitlines() if (p := _ignore_pattern(line))])
        return cls([])

    def excluded(self, path: Path, context: Path) -> bool:
        if not self.patterns:
            return False
        try:
            rel = path.relative_to(context).as_posix()
        except ValueError:
            return False
        parts = rel.split("/")
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        out = False
        for regex, keep in self.patterns:
            if any(regex.fullmatch(c) for c in candidates):
                out = not keep
        return out


def _ignore_pattern(line: str) -> tuple[re.Pattern[str], bool] | None:
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    keep = text.startswith("!")
    text = os.path.normpath(text.removeprefix("!").strip()).lstrip("/")
    if text in ("", "."):
        return None
    out = ""
    i = 0
    while i < len(text):
        c = text[i]
        if text.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
            continue
        if text.startswith("**", i):
            out += ".*"
            i += 2
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[" and (end := text.find("]", i + 1)) > i:
            body = text[i + 1 : end].replace("\\", "\\\\")
            out += "[" + ("^" + body[1:] if body.startswith("!") else body) + "]"
            i = end + 1
            continue
        elif c == "\\" and i + 1 < len(text):
            out += re.escape(text[i + 1])
            i += 2
            continue
        else:
            out += re.escape(c)
        i += 1
    return re.compile(out), keep


def _names_packages(words: list[str]) -> bool:
    """Whether an install command's words (after the program) name something to install:
    a package, a requirements file, or nothing at all (npm's ``install`` of package.json)."""
    command = [w for w in words if w not in ("-m", "pip")]
    if not command or command[0] not in ("install", "i", "add"):
        return True
    args = command[1:]
    skip = False
    for word in args:
        if skip:
            skip = False
            continue
        if word in ("-r", "--requirement", "-e", "--editable"):
            return True
        if word in VALUE_OPTIONS:
            skip = True
        elif not word.startswith("-"):
            return True
    return False


def _chain(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _files_digest(paths: list[Path], ignore: _Ignore, context: Path) -> str:
    """The names and contents of ``paths`` (a directory's files, walked; what
    ``.dockerignore`` leaves out, left out)."""
    h = hashlib.sha256()
    for path in paths:
        for file in _files(path):
            if ignore.excluded(file, context):
                continue
            h.update(str(file).encode() + b"\0")
            with contextlib.suppress(OSError):
                h.update(file.read_bytes())
    return h.hexdigest()


def _files(path: Path) -> list[Path]:
    if not path.is_dir():
        return [path]
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        found += (Path(dirpath, f) for f in sorted(filenames))
    return found


def _stage_named(stages: tuple[dockerfiles.Stage, ...], name: str) -> dockerfiles.Stage:
    for s in stages:
        if s.name == name or (name.isdigit() and s.index == int(name)):
            return s
    raise BuildError(f"no stage {name!r}")  # the reader checked it: not reached


def _absolute(path: str, workdir: str) -> str:
    return os.path.normpath(path if path.startswith("/") else f"{workdir}/{path}")


def _inside(root: Path, path: str) -> Path:
    """Where the image's absolute ``path`` is in the stage's directory (``..`` cannot leave
    it: the image's root is its own parent, as on Linux)."""
    return root / os.path.normpath("/" + path).lstrip("/")


def _moved(root: Path, word: str) -> str:
    """A RUN word with an absolute path moved into the stage's directory (also after an
    option's ``=``)."""
    if word.startswith("/"):
        return str(_inside(root, word))
    option, eq, value = word.partition("=")
    if eq and option.startswith("-") and value.startswith("/"):
        return f"{option}={_inside(root, value)}"
    return word


def _environment(root: Path, env: Mapping[str, str]) -> dict[str, str]:
    """The environment RUN's commands see: this machine's, with the image's variables (a
    path moved into the stage's directory)."""
    out = dict(os.environ)
    for key, value in env.items():
        if key == "PATH":
            continue  # the image's PATH names its own programs, not this machine's
        out[key] = str(_inside(root, value)) if value.startswith("/") else value
    return out


def _skipped(path: Path, base: Path) -> bool:
    try:
        rel = path.relative_to(base)
    except ValueError:
        return False
    return any(part in SKIP_DIRS for part in rel.parts) or path.name.endswith(SKIP_SUFFIXES)


def _replace(source: Path, target: Path) -> None:
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    elif target.exists() or target.is_symlink():
        target.unlink()
    shutil.copy2(source, target, follow_symlinks=False)


__all__ = ["build_image", "image_digest"]
