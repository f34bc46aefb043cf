"""Where files live: local paths, or URIs of a pyarrow filesystem (``s3://``, ``gs://``, ``hdfs://``).

Inputs are read and outputs published through these few functions, so a
pipeline reads ``s3://bucket/crawl/*.warc.gz`` the way it reads a local glob.
S3 settings come from pyarrow's usual sources: the URI's query
(``?endpoint_override=host:port&scheme=http``), the ``AWS_*`` environment
variables (including ``AWS_ENDPOINT_URL``) and the AWS config files.
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import io
import os
import re
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import pyarrow.fs as pafs


def is_uri(path: str) -> bool:
    """True for ``scheme://...`` paths other than ``file://`` (those are local)."""
    return "://" in path and not path.startswith("file://")


def local_path(path: str) -> str:
    return path[len("file://") :] if path.startswith("file://") else path


def filesystem(path: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem of ``path`` and the path inside it."""
    if not is_uri(path):
        return pafs.LocalFileSystem(), os.path.abspath(local_path(path))
    return pafs.FileSystem.from_uri(path)


def join(base: str, *parts: str) -> str:
    if is_uri(base):
        scheme, rest = base.split("://", 1)
        return f"{scheme}://" + "/".join([rest.rstrip("/")] + [p.strip("/") for p in parts])
    return os.path.join(base, *parts)


def display_name(path: str) -> str:
    """The file name of a local path or URI (without its query)."""
    return os.path.basename(urlsplit(path).path if is_uri(path) else path)


@dataclass(frozen=True)
class Span:
    """The bytes of an input file one unit reads, ``[start, end)`` (``end`` None: to the end of
    the file). Both ends are record starts (``stages.readers.splits``); a reader given a range
    reads the records that start in it, with the file's own offsets."""

    start: int = 0
    end: int | None = None

    @property
    def whole(self) -> bool:
        return self.start == 0 and self.end is None


WHOLE = Span()


def open_input(path: str, start: int = 0, end: int | None = None) -> BinaryIO:
    """A binary stream over ``path``, or over its bytes ``[start, end)``. Remote files are read in
    8 MiB ranged requests. The stream tells and seeks in the file's own offsets (fastwarc takes
    record offsets from it); a range's stream ends at ``end``."""
    if not is_uri(path):
        raw: Any = open(local_path(path), "rb")
    else:
        fs, inner = filesystem(path)
        raw = fs.open_input_file(inner)
    if start == 0 and end is None:
        return raw if not is_uri(path) else io.BufferedReader(raw, buffer_size=8 << 20)
    raw.seek(start)
    return io.BufferedReader(_Window(raw, end), buffer_size=8 << 20 if is_uri(path) else io.DEFAULT_BUFFER_SIZE)


class _Window(io.RawIOBase):
    """A seekable file seen up to ``end``: reads stop there and the end of file is there."""

    def __init__(self, raw: Any, end: int | None) -> None:
        self.raw = raw
        if end is None:
            position = raw.tell()
            end = raw.seek(0, 2)
            raw.seek(position)
        self.end = end

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = min(len(buffer), self.end - self.raw.tell())
        if count <= 0:
            return 0
        data = self.raw.read(count)
        buffer[: len(data)] = data
        return len(data)

    def tell(self) -> int:
        return self.raw.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 2:
            return self.raw.seek(self.end + offset)
        return self.raw.seek(offset, whence)

    def close(self) -> None:
        self.raw.close()
        super().close()


def open_random_access(path: str):
    """A seekable file (Parquet footers are read first)."""
    if not is_uri(path):
        return open(local_path(path), "rb")
    fs, inner = filesystem(path)
    return fs.open_input_file(inner)


def file_size(path: str) -> int | None:
    if not is_uri(path):
        return os.path.getsize(local_path(path)) if os.path.exists(local_path(path)) else None
    fs, inner = filesystem(path)
    info = fs.get_file_info(inner)
    return info.size if info.type == pafs.FileType.File else None


def fingerprint(path: str) -> tuple[int | None, int | None]:
    """(size, modification time in ns) of a file: what tells a changed input from the same one."""
    if not is_uri(path):
        stat = os.stat(local_path(path))
        return stat.st_size, stat.st_mtime_ns
    fs, inner = filesystem(path)
    info = fs.get_file_info(inner)
    return info.size, info.mtime_ns


def sha256(path: str, start: int = 0, end: int | None = None) -> str:
    """Of the file, or of its bytes ``[start, end)``."""
    digest = hashlib.sha256()
    with open_input(path, start, end) as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Matches:
    """What an input path or glob matched, sorted."""

    files: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    """Folders it matched: a ``*`` or ``**`` matches folder names as well as file names."""
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    """(path, why) of entries that are neither: dangling symbolic links, FIFOs, sockets, devices."""


def has_wildcards(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


def expand(pattern: str) -> list[str]:
    """Files matching a path or glob (``*``, ``?``, ``**``), local or remote; whatever else
    it matches is left out (``match_inputs`` reports it)."""
    return match_inputs(pattern).files


def match_inputs(pattern: str) -> Matches:
    """Everything a path or glob (``*``, ``?``, ``**``) matches, local or remote, by kind."""
    if not is_uri(pattern):
        return _match_local(local_path(pattern))
    fs, inner = filesystem(pattern)
    scheme = pattern.split("://", 1)[0] + "://"
    query = "?" + pattern.split("?", 1)[1] if "?" in pattern else ""
    if not has_wildcards(inner):
        kind = fs.get_file_info(inner).type
        return Matches(
            files=[pattern] if kind == pafs.FileType.File else [],
            folders=[pattern] if kind == pafs.FileType.Directory else [],
        )
    # List from the deepest folder without wildcards, then match the rest (fnmatch's * also
    # crosses "/", so ** needs no special case, and the files inside a matched folder match
    # too: folders are not reported).
    fixed = inner.split("*")[0].split("?")[0].split("[")[0]
    root = fixed.rsplit("/", 1)[0] if "/" in fixed else ""
    selector = pafs.FileSelector(root, recursive=True, allow_not_found=True)
    found = []
    for info in fs.get_file_info(selector):
        if info.type == pafs.FileType.File and fnmatch.fnmatchcase(info.path, inner.replace("**/", "*")):
            found.append(f"{scheme}{info.path}{query}")
    return Matches(files=sorted(found))


def _match_local(pattern: str) -> Matches:
    matches = Matches()
    for path in sorted(glob.glob(pattern, recursive=True)):
        if os.path.isfile(path):
            matches.files.append(path)
        elif os.path.isdir(path):
            matches.folders.append(path)
        elif os.path.islink(path):
            matches.unreadable.append((path, f"a broken symbolic link (to {os.readlink(path)!r})"))
        else:
            matches.unreadable.append((path, "not a regular file (a FIFO, socket or device)"))
    return matches


def delete_file(path: str) -> None:
    """Remove a file if it exists (local or remote)."""
    if not is_uri(path):
        if os.path.exists(local_path(path)):
            os.remove(local_path(path))
        return
    fs, inner = filesystem(path)
    if fs.get_file_info(inner).type == pafs.FileType.File:
        fs.delete_file(inner)


def upload_folder(local: str, target: str, *, replace: dict[str, re.Pattern], last: list[str]) -> None:
    """Copy the published parts of a local output folder to ``target`` (a URI).

    ``replace`` maps sub-folders to the names curate gives its files there: such remote
    files are deleted first (a previous run's shards must not mix with this one's), any
    other file stays; ``last`` are files uploaded after everything else (the manifest:
    whoever sees it sees complete shards)."""
    fs, root = filesystem(target)
    fs.create_dir(root, recursive=True)
    for folder, written in replace.items():
        remote = f"{root.rstrip('/')}/{folder}"
        found = fs.get_file_info(pafs.FileSelector(remote, recursive=False, allow_not_found=True))
        for info in found:
            if info.type == pafs.FileType.File and written.fullmatch(info.base_name):
                fs.delete_file(info.path)
        if os.path.isdir(os.path.join(local, folder)):
            pafs.copy_files(os.path.join(local, folder), remote, destination_filesystem=fs, use_threads=True)
    for name in last:
        if os.path.isfile(os.path.join(local, name)):
            pafs.copy_files(os.path.join(local, name), f"{root.rstrip('/')}/{name}", destination_filesystem=fs)


def list_names(folder: str) -> list[str] | None:
    """Names of the files directly in ``folder``; None when there is no such folder."""
    if not is_uri(folder):
        folder = local_path(folder)
        return (
            sorted(name for name in os.listdir(folder) if os.path.isfile(os.path.join(folder, name)))
            if os.path.isdir(folder)
            else None
        )
    fs, inner = filesystem(folder)
    infos = fs.get_file_info(pafs.FileSelector(inner, recursive=False, allow_not_found=True))
    names = sorted(info.base_name for info in infos if info.type == pafs.FileType.File)
    return names if names or fs.get_file_info(inner).type == pafs.FileType.Directory else None


def read_text(path: str) -> str | None:
    """A small text file's content (UTF-8); None when it does not exist."""
    if file_size(path) is None:
        return None
    with open_input(path) as handle:
        return handle.read().decode("utf-8")


def read_parquet(path: str, **options):
    """``pyarrow.parquet.read_table`` on a local path or URI (columns, filters ... as options)."""
    import pyarrow.parquet as pq

    fs, inner = filesystem(path)
    return pq.read_table(inner, filesystem=fs, **options)


def write_text(path: str, text: str) -> None:
    """Write a small text file whole: locally through a temporary name, remotely as one object."""
    if not is_uri(path):
        path = local_path(path)
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
        return
    fs, inner = filesystem(path)
    with fs.open_output_stream(inner, compression=None) as handle:
        handle.write(text.encode("utf-8"))
