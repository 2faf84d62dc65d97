"""An in-process Dockerfile builder for images that need no RUN.

Supported: one FROM (`scratch` or an image of the embedded registry), COPY, ADD (local files;
local tar archives are unpacked), ENV, WORKDIR, LABEL, CMD, ENTRYPOINT, EXPOSE, USER. Each COPY
or ADD becomes one layer: a tar with sorted entries, mtime 0, the owner given by `--chown`
(numeric) or root, gzip with no name and mtime 0, so the same context gives the same digests.
"""

from __future__ import annotations

import copy
import glob
import gzip
import hashlib
import io
import json
import os
import shlex
import stat
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from swrlocal.containerops.oci import MT_CONFIG, MT_LAYER_GZ, Blob, Image, canonical_json

SUPPORTED = {
    "FROM",
    "COPY",
    "ADD",
    "ENV",
    "WORKDIR",
    "LABEL",
    "CMD",
    "ENTRYPOINT",
    "EXPOSE",
    "USER",
}
ARCHIVES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


class BuildError(Exception):
    """The Dockerfile cannot be built; the message goes to the step log."""


@dataclass(frozen=True)
class Instruction:
    keyword: str
    value: str
    line: int

    def __str__(self) -> str:
        return f"{self.keyword} {self.value}"


@dataclass
class Plan:
    base: str
    instructions: list[Instruction] = field(default_factory=list)
    needs_run: bool = False


def parse(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined; comments and blank lines dropped."""
    found, buffer, start = [], "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not buffer and (not line or line.startswith("#")):
            continue
        if buffer and line.startswith("#"):
            continue  # comments may sit inside a continued instruction
        start = start or number
        if line.endswith("\\"):
            buffer += line[:-1].rstrip() + " "
            continue
        buffer += line
        keyword, _, value = buffer.strip().partition(" ")
        found.append(Instruction(keyword.upper(), value.strip(), start))
        buffer, start = "", 0
    if buffer.strip():
        keyword, _, value = buffer.strip().partition(" ")
        found.append(Instruction(keyword.upper(), value.strip(), start))
    return found


def plan(text: str) -> Plan:
    instructions = parse(text)
    if not instructions or instructions[0].keyword != "FROM":
        raise BuildError("the Dockerfile must start with FROM")
    if sum(1 for i in instructions if i.keyword == "FROM") > 1:
        raise BuildError("multi-stage builds (several FROM) are not supported")
    base = instructions[0].value.split()[0] if instructions[0].value else ""
    if not base:
        raise BuildError("FROM needs an image")
    result = Plan(base=base, instructions=instructions[1:])
    for item in result.instructions:
        if item.keyword == "RUN":
            result.needs_run = True
        elif item.keyword not in SUPPORTED:
            raise BuildError(f"line {item.line}: {item.keyword} is not supported by the builder")
    return result


def _layer_bytes(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> tuple[bytes, bytes]:
    """(gzip bytes, uncompressed tar bytes) of a deterministic tar."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for info, data in sorted(entries, key=lambda e: e[0].name):
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0, compresslevel=6) as stream:
        stream.write(raw.getvalue())
    return packed.getvalue(), raw.getvalue()


def _info(
    name: str, kind: bytes, mode: int, owner: tuple[int, int], size: int = 0
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name.lstrip("/"))
    info.type, info.mode, info.size, info.mtime = kind, mode, size, 0
    info.uid, info.gid = owner
    info.uname = info.gname = ""
    return info


class Builder:
    def __init__(
        self, context: Path, base: Image | None, architecture: str, log: Callable[[str], None]
    ) -> None:
        self.context = context.resolve()
        self.log = log
        self.layers = list(base.layers) if base else []
        self.config: dict[str, Any] = (
            json.loads(base.config.data)
            if base
            else {
                "architecture": architecture,
                "os": "linux",
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": []},
            }
        )
        self.config.setdefault("config", {})
        self.config.setdefault("history", [])
        self.config.pop("created", None)  # no build time in the config: same input, same digest

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.config["config"])

    def build(self, instructions: list[Instruction]) -> Image:
        for item in instructions:
            self.log(f"step: {item}")
            handler = getattr(self, "do_" + item.keyword.lower())
            handler(item)
            self.config["history"].append(
                {"created_by": str(item), "empty_layer": item.keyword not in ("COPY", "ADD")}
            )
        return Image(Blob(MT_CONFIG, canonical_json(self.config)), self.layers)

    # metadata instructions

    def _set(self, key: str, value: Any) -> None:
        self.config["config"][key] = value

    def do_env(self, item: Instruction) -> None:
        env = dict(e.split("=", 1) for e in self.settings.get("Env") or [] if "=" in e)
        env.update(_pairs(item))
        self._set("Env", [f"{k}={v}" for k, v in env.items()])

    def do_label(self, item: Instruction) -> None:
        self._set("Labels", {**(self.settings.get("Labels") or {}), **_pairs(item)})

    def do_workdir(self, item: Instruction) -> None:
        self._set("WorkingDir", str(PurePosixPath(self._workdir()) / item.value))

    def do_user(self, item: Instruction) -> None:
        self._set("User", item.value)

    def do_expose(self, item: Instruction) -> None:
        ports = dict(self.settings.get("ExposedPorts") or {})
        for port in item.value.split():
            number, _, proto = port.partition("/")
            if not number.isdigit() or proto not in ("", "tcp", "udp", "sctp"):
                raise BuildError(f"line {item.line}: bad port {port!r}")
            ports[f"{number}/{proto or 'tcp'}"] = {}
        self._set("ExposedPorts", ports)

    def do_cmd(self, item: Instruction) -> None:
        self._set("Cmd", _command(item))

    def do_entrypoint(self, item: Instruction) -> None:
        self._set("Entrypoint", _command(item))

    def do_run(self, item: Instruction) -> None:
        raise BuildError(f"line {item.line}: RUN needs a build tool")

    # file instructions

    def do_copy(self, item: Instruction) -> None:
        self._add_layer(item, unpack=False)

    def do_add(self, item: Instruction) -> None:
        self._add_layer(item, unpack=True)

    def _workdir(self) -> str:
        return str(self.settings.get("WorkingDir") or "/")

    def _add_layer(self, item: Instruction, *, unpack: bool) -> None:
        owner, sources, dest = self._file_args(item)
        entries: dict[str, tuple[tarfile.TarInfo, bytes | None]] = {}
        into_dir = dest.endswith("/") or len(sources) > 1 or any(s.is_dir() for s in sources)
        target = PurePosixPath(self._workdir()) / dest
        folders = [target, *target.parents] if into_dir else list(target.parents)
        for parent in reversed(folders):
            if str(parent) != "/":
                entries[str(parent)] = (_info(str(parent), tarfile.DIRTYPE, 0o755, owner), None)
        for source in sources:
            if unpack and source.is_file() and source.name.endswith(ARCHIVES):
                self._unpack(source, target, owner, entries)
            elif source.is_dir():
                self._walk(source, target, owner, entries)
            else:
                self._file(source, target / source.name if into_dir else target, owner, entries)
        packed, raw = _layer_bytes(list(entries.values()))
        self.layers.append(Blob(MT_LAYER_GZ, packed))
        self.config["rootfs"]["diff_ids"].append("sha256:" + hashlib.sha256(raw).hexdigest())
        self.log(f"layer {len(self.layers)}: {len(entries)} entries, {len(packed)} bytes")

    def _file_args(self, item: Instruction) -> tuple[tuple[int, int], list[Path], str]:
        words = json.loads(item.value) if item.value.startswith("[") else shlex.split(item.value)
        owner = (0, 0)
        while words and words[0].startswith("--"):
            flag, _, value = words.pop(0)[2:].partition("=")
            if flag != "chown" or not all(p.isdigit() for p in value.split(":")):
                raise BuildError(
                    f"line {item.line}: only --chown=<uid>[:<gid>] (numeric) is supported"
                )
            uid, _, gid = value.partition(":")
            owner = (int(uid), int(gid or uid))
        if len(words) < 2:
            raise BuildError(f"line {item.line}: {item.keyword} needs a source and a destination")
        sources = [path for pattern in words[:-1] for path in self._matches(pattern, item)]
        return owner, sources, words[-1]

    def _matches(self, pattern: str, item: Instruction) -> Iterator[Path]:
        if "://" in pattern:
            raise BuildError(f"line {item.line}: remote sources are not supported")
        names = sorted(glob.glob(pattern.lstrip("/") or ".", root_dir=self.context)) or [pattern]
        for name in names:
            path = self.context / name
            if not path.resolve().is_relative_to(self.context):
                raise BuildError(f"line {item.line}: {pattern} is outside the build context")
            if not path.exists() and not path.is_symlink():
                raise BuildError(f"line {item.line}: {pattern} does not exist in the build context")
            yield path

    def _file(
        self, source: Path, target: PurePosixPath, owner: tuple[int, int], entries: dict[str, Any]
    ) -> None:
        status = source.lstat()
        mode = stat.S_IMODE(status.st_mode)
        if stat.S_ISLNK(status.st_mode):
            info = _info(str(target), tarfile.SYMTYPE, 0o777, owner)
            info.linkname = os.readlink(source)
            entries[str(target)] = (info, None)
        elif stat.S_ISDIR(status.st_mode):
            entries[str(target)] = (_info(str(target), tarfile.DIRTYPE, mode, owner), None)
        else:
            data = source.read_bytes()
            entries[str(target)] = (
                _info(str(target), tarfile.REGTYPE, mode, owner, len(data)),
                data,
            )

    def _walk(
        self, root: Path, target: PurePosixPath, owner: tuple[int, int], entries: dict[str, Any]
    ) -> None:
        for path in sorted(root.rglob("*")):
            if ".git" in path.relative_to(root).parts:
                continue  # the checkout's metadata is not part of the image
            self._file(path, target / path.relative_to(root).as_posix(), owner, entries)

    def _unpack(
        self, archive: Path, target: PurePosixPath, owner: tuple[int, int], entries: dict[str, Any]
    ) -> None:
        with tarfile.open(archive) as source:
            for member in source.getmembers():
                name = PurePosixPath(member.name)
                if (
                    name.is_absolute()
                    or ".." in name.parts
                    or not (member.isfile() or member.isdir())
                ):
                    continue  # keep the layer inside its destination; links are not unpacked
                path = str(target / name)
                if member.isdir():
                    entries[path] = (
                        _info(path, tarfile.DIRTYPE, member.mode & 0o7777, owner),
                        None,
                    )
                    continue
                handle = source.extractfile(member)
                data = handle.read() if handle else b""
                entries[path] = (
                    _info(path, tarfile.REGTYPE, member.mode & 0o7777, owner, len(data)),
                    data,
                )


def _pairs(item: Instruction) -> dict[str, str]:
    words = shlex.split(item.value)
    if words and "=" not in words[0]:  # legacy `ENV key value`
        return {words[0]: item.value.split(None, 1)[1] if len(words) > 1 else ""}
    pairs = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise BuildError(f"line {item.line}: expected key=value, got {word!r}")
        pairs[key] = value
    return pairs


def _command(item: Instruction) -> list[str]:
    if item.value.startswith("["):
        try:
            words = json.loads(item.value)
        except ValueError as exc:
            raise BuildError(f"line {item.line}: bad JSON array") from exc
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise BuildError(f"line {item.line}: expected a JSON array of strings")
        return list(words)
    return ["/bin/sh", "-c", item.value]


def build(
    text: str, context: Path, base: Image | None, architecture: str, log: Callable[[str], None]
) -> Image:
    result = plan(text)
    builder = Builder(context, copy.deepcopy(base) if base else None, architecture, log)
    return builder.build(result.instructions)
