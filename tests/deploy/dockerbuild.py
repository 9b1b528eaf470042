"""What ``docker build`` of this repository puts in the final image, computed without Docker.

Docker cannot run on the development machines, so the image's file set is reproduced here from
the same inputs Docker reads:

* ``.dockerignore`` with Docker's own rules (moby/patternmatcher, as BuildKit applies it): lines
  starting with ``#`` are comments; each pattern is trimmed, cleaned like Go's
  ``filepath.Clean`` and made relative (a leading ``/`` is dropped); ``*`` and ``?`` never cross
  ``/``, ``[...]`` is a character class, ``\\`` escapes, ``**`` matches any number of
  directories; a path is excluded when the last pattern that matches it, or one of its parent
  directories, is not a ``!`` exception;
* the Dockerfile's final stage: ``WORKDIR``, ``ENV``, the ``COPY`` instructions that read the
  build context (``--from`` copies come from another stage), the ``RUN`` steps after them and
  ``CMD``.

:func:`assemble` copies exactly the files the final stage copies into an empty folder standing
for the image's ``WORKDIR``; it raises :class:`AssemblyError` for a ``COPY`` source that is not
in the build context (missing from the repository, or excluded by ``.dockerignore``), which is
where ``docker build`` would fail.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path


class AssemblyError(Exception):
    """The Dockerfile cannot be built from this context (docker build would fail here)."""


# --- .dockerignore ----------------------------------------------------------------------------


def go_clean(path: str) -> str:
    """Go's ``filepath.Clean`` for slash-separated paths."""
    if not path:
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def read_ignore_file(text: str) -> list[str]:
    """The patterns of a ``.dockerignore`` file, normalised as Docker's reader does."""
    patterns = []
    for number, raw in enumerate(text.splitlines()):
        line = raw.removeprefix("\ufeff") if number == 0 else raw
        if line.startswith("#"):  # only at the very start of the line
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        patterns.append("!" + pattern if invert else pattern)
    return patterns


def _check_go_match_syntax(pattern: str) -> None:
    """Raise ValueError where Go's ``filepath.Match`` reports ``ErrBadPattern``."""
    index, size = 0, len(pattern)
    while index < size:
        char = pattern[index]
        if char == "\\":
            if index + 1 >= size:
                raise ValueError(f"bad pattern {pattern!r}: trailing backslash")
            index += 2
            continue
        if char == "[":
            index += 1
            if index < size and pattern[index] == "^":
                index += 1
            first = True
            while True:
                if index >= size:
                    raise ValueError(f"bad pattern {pattern!r}: unclosed [")
                if pattern[index] == "]" and not first:
                    index += 1
                    break
                _low, index = _class_char(pattern, index)
                if index < size and pattern[index] == "-":
                    _high, index = _class_char(pattern, index + 1)
                first = False
            continue
        index += 1


def _class_char(pattern: str, index: int) -> tuple[str, int]:
    if index >= len(pattern) or pattern[index] in "-]":
        raise ValueError(f"bad pattern {pattern!r}: bad character class")
    if pattern[index] == "\\":
        if index + 1 >= len(pattern):
            raise ValueError(f"bad pattern {pattern!r}: trailing backslash")
        return pattern[index + 1], index + 2
    return pattern[index], index + 1


@dataclass
class IgnorePattern:
    text: str  # cleaned, without the leading "!"
    exclusion: bool
    kind: str = field(init=False)  # exact | prefix | suffix | regexp
    regexp: re.Pattern[str] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        _check_go_match_syntax(self.text)
        regex, kind = "", "exact"
        chars, index = self.text, 0
        position = 0
        while index < len(chars):
            char = chars[index]
            index += 1
            if char == "*":
                if index < len(chars) and chars[index] == "*":
                    index += 1
                    if index < len(chars) and chars[index] == "/":
                        index += 1  # "**/" is treated as "**"
                    if index >= len(chars):
                        if kind == "exact":
                            kind = "prefix"
                        else:
                            regex += ".*"
                            kind = "regexp"
                    else:
                        regex += "(.*/)?"
                        kind = "regexp"
                    if position == 0:
                        kind = "suffix"
                else:
                    regex += "[^/]*"
                    kind = "regexp"
            elif char == "?":
                regex += "[^/]"
                kind = "regexp"
            elif char in ".+()|{}$":
                regex += "\\" + char
            elif char == "\\":
                if index < len(chars):
                    regex += "\\" + chars[index]
                    index += 1
                    kind = "regexp"
                else:
                    regex += "\\\\"
            elif char in "[]":
                regex += char
                kind = "regexp"
            else:
                regex += char
            position += 1
        self.kind = kind
        if kind == "regexp":
            self.regexp = re.compile(regex)

    def match(self, path: str) -> bool:
        if self.kind == "exact":
            return path == self.text
        if self.kind == "prefix":
            return path.startswith(self.text[:-2])
        if self.kind == "suffix":
            suffix = self.text[2:]
            if path.endswith(suffix):
                return True
            return suffix.startswith("/") and path == suffix[1:]
        assert self.regexp is not None
        return self.regexp.fullmatch(path) is not None


class IgnoreMatcher:
    """Docker's ``.dockerignore`` matcher (``MatchesOrParentMatches``)."""

    def __init__(self, patterns: list[str]) -> None:
        self.patterns: list[IgnorePattern] = []
        for raw in patterns:
            pattern = go_clean(raw.strip()) if raw.strip() else ""
            if not pattern:
                continue
            exclusion = pattern.startswith("!")
            if exclusion:
                if len(pattern) == 1:
                    raise ValueError('illegal exclusion pattern: "!"')
                pattern = pattern[1:]
            self.patterns.append(IgnorePattern(pattern, exclusion))
        self.has_exclusions = any(p.exclusion for p in self.patterns)

    @classmethod
    def from_text(cls, text: str) -> IgnoreMatcher:
        return cls(read_ignore_file(text))

    def ignored(self, path: str) -> bool:
        """Whether the slash-separated context path ``path`` is left out of the context."""
        path = go_clean(path)
        if path == ".":
            return False
        matched = False
        parent = posixpath.dirname(path) or "."
        parent_dirs = parent.split("/")
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue
            match = pattern.match(path)
            if not match and parent != ".":
                match = any(
                    pattern.match("/".join(parent_dirs[: i + 1])) for i in range(len(parent_dirs))
                )
            if match:
                matched = not pattern.exclusion
        return matched


# --- Dockerfile -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    line: int  # 1-based line of the instruction's first line


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction]


def instructions(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined and comment lines dropped."""
    result: list[Instruction] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        line = (pending + stripped).strip()
        pending = ""
        if not line:
            continue
        keyword, _, arguments = line.partition(" ")
        result.append(Instruction(keyword.upper(), arguments.strip(), start))
    if pending:
        raise AssemblyError("the Dockerfile ends inside a continued line")
    return result


def stages(text: str) -> list[Stage]:
    result: list[Stage] = []
    for instruction in instructions(text):
        if instruction.keyword == "FROM":
            words = [w for w in instruction.arguments.split() if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            result.append(Stage(words[0], name, []))
        elif result:
            result[-1].instructions.append(instruction)
        elif instruction.keyword not in {"ARG"}:
            raise AssemblyError(f"{instruction.keyword} before the first FROM")
    if not result:
        raise AssemblyError("the Dockerfile has no FROM")
    return result


@dataclass(frozen=True)
class Copy:
    sources: list[str]
    destination: str
    flags: dict[str, str]
    line: int

    @property
    def from_context(self) -> bool:
        return "from" not in self.flags


def parse_copy(instruction: Instruction) -> Copy:
    flags: dict[str, str] = {}
    rest = instruction.arguments
    while (flag := re.match(r"--([\w-]+)(?:=(\S*))?\s+", rest)) is not None:
        flags[flag.group(1)] = flag.group(2) or ""
        rest = rest[flag.end() :]
    paths = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
    if len(paths) < 2:
        raise AssemblyError(f"line {instruction.line}: COPY needs a source and a destination")
    return Copy(paths[:-1], paths[-1], flags, instruction.line)


def parse_env(arguments: str) -> dict[str, str]:
    words = shlex.split(arguments)
    if words and "=" not in words[0]:  # legacy "ENV NAME value"
        return {words[0]: arguments.split(None, 1)[1] if len(words) > 1 else ""}
    return dict(word.split("=", 1) for word in words)


def parse_command(arguments: str) -> list[str]:
    """CMD/ENTRYPOINT/RUN as an argv: the exec (JSON) form, or the shell form under /bin/sh."""
    stripped = arguments.strip()
    if stripped.startswith("["):
        try:
            argv = json.loads(stripped)
        except ValueError:
            argv = None
        if isinstance(argv, list) and all(isinstance(a, str) for a in argv):
            return argv
    return ["/bin/sh", "-c", stripped]


# --- the image's file set ---------------------------------------------------------------------


@dataclass
class Assembly:
    """The final stage reproduced in ``root`` (which stands for its WORKDIR)."""

    root: Path
    workdir: str
    env: dict[str, str]
    copies: list[Copy]
    files: list[str]  # paths relative to root, as copied
    runs: list[str]  # RUN steps after the first COPY from the build context (shell form)
    cmd: list[str]
    user: str | None


_GLOB_CHARS = re.compile(r"[*?\[]")


def _glob_sources(context: Path, pattern: str, ignore: IgnoreMatcher) -> list[str]:
    """A COPY source with wildcards in its last segment, expanded as Go's filepath.Match."""
    cleaned = go_clean(pattern).lstrip("/")
    folder, _, name = cleaned.rpartition("/")
    if _GLOB_CHARS.search(folder):
        raise AssemblyError(f"COPY {pattern}: wildcards in folder names are not supported here")
    matcher = IgnorePattern(name.replace("**", "*"), exclusion=False)
    base = context / folder if folder else context
    found = []
    for entry in sorted(base.iterdir()) if base.is_dir() else []:
        relative = f"{folder}/{entry.name}" if folder else entry.name
        if matcher.match(entry.name) and not ignore.ignored(relative):
            found.append(relative)
    return found


def _context_files(context: Path, source: str, ignore: IgnoreMatcher) -> list[str]:
    """Every file under the context directory ``source`` that the context includes."""
    result = []
    base = context / source
    for dirpath, dirnames, filenames in os.walk(base):
        relative_dir = Path(dirpath).relative_to(context).as_posix()
        kept = []
        for name in sorted(dirnames):
            path = f"{relative_dir}/{name}"
            # Like BuildKit: an excluded directory is not walked unless an exception may
            # bring back something inside it.
            if ignore.ignored(path) and not ignore.has_exclusions:
                continue
            kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            path = f"{relative_dir}/{name}"
            if not ignore.ignored(path):
                result.append(path)
    return result


def assemble(
    dockerfile: str, dockerignore: str, context: Path, root: Path, *, copy_files: bool = True
) -> Assembly:
    """Copy what the final stage of ``dockerfile`` copies from ``context`` into ``root``."""
    final = stages(dockerfile)[-1]
    ignore = IgnoreMatcher.from_text(dockerignore)
    workdir, env, copies, files, runs = "/", {}, [], [], []
    cmd: list[str] = []
    user = None
    root.mkdir(parents=True, exist_ok=True)

    def target(destination: str) -> str:
        absolute = go_clean(posixpath.join(workdir, destination))
        return absolute + ("/" if destination.endswith("/") else "")

    for instruction in final.instructions:
        keyword = instruction.keyword
        if keyword == "WORKDIR":
            workdir = go_clean(posixpath.join(workdir, instruction.arguments))
        elif keyword == "ENV":
            env.update(parse_env(instruction.arguments))
        elif keyword == "USER":
            user = instruction.arguments
        elif keyword == "CMD":
            cmd = parse_command(instruction.arguments)
        elif keyword == "RUN" and copies:
            argv = parse_command(instruction.arguments)
            runs.append(argv[2] if argv[:2] == ["/bin/sh", "-c"] else shlex.join(argv))
        elif keyword in {"COPY", "ADD"}:
            copy = parse_copy(instruction)
            if not copy.from_context:
                continue
            if keyword == "ADD":
                raise AssemblyError(f"line {copy.line}: use COPY, not ADD, for context files")
            copies.append(copy)
            files += _apply_copy(copy, context, root, ignore, target, workdir, copy_files)
    return Assembly(root, workdir, env, copies, files, runs, cmd, user)


def _apply_copy(copy, context, root, ignore, target, workdir, copy_files) -> list[str]:
    sources: list[str] = []
    for source in copy.sources:
        if _GLOB_CHARS.search(source):
            matched = _glob_sources(context, source, ignore)
            if not matched:
                raise AssemblyError(f"line {copy.line}: COPY {source}: no file matches")
            sources += matched
            continue
        cleaned = go_clean(source).lstrip("/")
        if cleaned in ("", ".") or cleaned.startswith(".."):
            raise AssemblyError(f"line {copy.line}: COPY {source}: outside the named folders")
        if not (context / cleaned).exists():
            raise AssemblyError(
                f"line {copy.line}: COPY {source}: not in the repository "
                "(docker build fails: not found)"
            )
        if ignore.ignored(cleaned):
            raise AssemblyError(
                f"line {copy.line}: COPY {source}: excluded by .dockerignore "
                "(docker build fails: not found)"
            )
        sources.append(cleaned)

    destination = target(copy.destination)
    into_directory = destination.endswith("/") or len(sources) > 1
    if not destination.startswith(workdir.rstrip("/") + "/") and destination.rstrip("/") != workdir:
        raise AssemblyError(f"line {copy.line}: COPY to {destination}, outside WORKDIR {workdir}")

    copied = []
    for source in sources:
        if (context / source).is_dir():
            base = destination.rstrip("/") + "/"
            for path in _context_files(context, source, ignore):
                inside = path[len(source) :].lstrip("/")
                copied.append(posixpath.join(base, inside))
                if copy_files:
                    _copy_file(context / path, root, base + inside, workdir)
        else:
            path = destination + posixpath.basename(source) if into_directory else destination
            copied.append(path)
            if copy_files:
                _copy_file(context / source, root, path, workdir)
    return [posixpath.relpath(path, workdir) for path in copied]


def _copy_file(source: Path, root: Path, image_path: str, workdir: str) -> None:
    relative = posixpath.relpath(image_path, workdir)
    destination = root / relative
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, destination)
