"""An output folder read back is untrusted input.

Whoever can write to a folder (or a bucket) can edit its manifest and files, and
``verify``, ``report`` and ``sample`` must not then read outside the folder, crash,
or show what a string says instead of what it is. They take every path a manifest
names through ``inside``, read its tables through ``read_rows``, and show its
strings through ``shown``.
"""

from __future__ import annotations

import os
import re

import pyarrow as pa
import pyarrow.parquet as pq

from curate import storage

SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
URI_SPECIAL = "%?#"
"""pyarrow decodes %-escapes in a URI's path (``%2e%2e`` is ``..``) and reads its query as
filesystem options (``?endpoint_override=``): none may come from a manifest."""

BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_CONTROLS = [chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)] if chr(c) not in "\n\t"]
NEUTRALISED = str.maketrans({c: f"\\u{ord(c):04x}" for c in BIDI_CONTROLS + "".join(_CONTROLS)})
"""Bidi controls reorder what follows them (a URL that reads backwards), and terminal control
characters (ESC, CR) rewrite the screen: both are shown as their code point instead."""


class UnsafeOutput(ValueError):
    """A file of an output folder that is not read: outside the folder, or not what it should hold."""


def shown(text: str, limit: int | None = None) -> str:
    """``text`` safe to show: cut to ``limit`` characters with an ellipsis (a 1 MB URL stays a
    line), bidi and control characters (but newlines and tabs) as escaped code points
    (``\\u202e``). Not HTML-escaped."""
    if limit is not None and len(text) > limit:
        text = text[:limit] + "…"
    return text.translate(NEUTRALISED)


def _lexical_problem(relative: object, uri: bool) -> str | None:
    if not isinstance(relative, str) or not relative:
        return "not a path"
    if relative.startswith("/"):
        return "an absolute path"
    if SCHEME.match(relative):
        return "a URI, not a path inside the folder"
    if "\\" in relative or any(c in relative for c in _CONTROLS + ["\n", "\t"]):
        return "a backslash or control character in the path"
    if any(segment in ("", ".", "..") for segment in relative.split("/")):
        return "an empty, '.' or '..' segment in the path"
    if uri and any(c in relative for c in URI_SPECIAL):
        return f"one of {URI_SPECIAL} in the path (it would change the URI)"
    return None


def inside(out: str, relative: str) -> str:
    """The file ``relative`` (a path from the manifest) names in output folder ``out``, a local
    folder or a URI. UnsafeOutput if it may lead anywhere else: an absolute path, a scheme, a ``..``
    segment; for a local folder, also a symlink that resolves outside it (the resolved path is
    returned, so the file checked is the file read). URIs have no symlinks: for them the lexical
    checks are the containment."""
    problem = _lexical_problem(relative, storage.is_uri(out))
    if problem is not None:
        raise UnsafeOutput(f"{shown(str(relative), 200)}: refused, {problem}")
    path = storage.join(out, relative)
    if storage.is_uri(out):
        return path
    root = os.path.realpath(storage.local_path(out))
    real = os.path.realpath(storage.local_path(path))
    if os.path.commonpath([root, real]) != root:
        raise UnsafeOutput(f"{shown(relative, 200)}: refused, it resolves outside the output folder (a symlink)")
    return real


def read_rows(path: str, schema: pa.Schema, limit: int | None = None) -> list[dict]:
    """The rows of the Parquet file ``path`` (from ``inside``) as ``schema``: only its columns,
    cast to its types, so that code reading them can trust the types; the first ``limit`` rows
    when given. UnsafeOutput when the file is no such table."""
    try:
        with storage.open_random_access(path) as handle:
            parquet = pq.ParquetFile(handle)
            missing = [name for name in schema.names if name not in parquet.schema_arrow.names]
            if missing:
                raise UnsafeOutput(f"{shown(path, 200)}: no column {shown(missing[0], 60)!r}")
            if limit is None:
                table = parquet.read(columns=schema.names)
            else:
                first = next(parquet.iter_batches(batch_size=limit, columns=schema.names), None)
                table = schema.empty_table() if first is None else pa.Table.from_batches([first])
            return table.select(schema.names).cast(schema).to_pylist()
    except UnsafeOutput:
        raise
    except (pa.ArrowException, OSError, ValueError) as error:
        raise UnsafeOutput(f"{shown(path, 200)}: not the table it should be: {shown(str(error), 200)}") from error
