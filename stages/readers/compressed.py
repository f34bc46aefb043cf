"""Stream a plain, ``.gz`` or ``.zst`` file, local or remote, without holding it in memory.

Decompression is done frame by frame here rather than with the libraries'
file wrappers because those hide a cut-off: python-zstandard's stream reader
ends quietly inside a truncated frame. A file that stops early raises
``TruncatedInput`` after everything before the cut has been delivered.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from curate.storage import display_name, open_input

CHUNK_BYTES = 1 << 20


class TruncatedInput(OSError):
    """The compressed stream ended inside a frame or member (a cut-off download)."""

    def __init__(self, message: str, *, line: int | None = None, offset: int = 0) -> None:
        super().__init__(message)
        self.line = line
        """The line the cut falls in (from 1), when reading lines."""
        self.offset = offset
        """Decompressed bytes delivered before the cut."""


def _compression(path: str) -> str:
    name = display_name(path).lower()
    if name.endswith((".zst", ".zstd")):
        return "zstd"
    if name.endswith(".gz"):
        return "gzip"
    return "none"


def decompressed_chunks(path: str) -> Iterator[bytes]:
    """The decompressed bytes of ``path`` in chunks; compression chosen by the name's suffix.

    Multi-frame zstd files and multi-member gzip files are one stream."""
    kind = _compression(path)
    if kind == "zstd":
        import zstandard

        context = zstandard.ZstdDecompressor()
        new_decoder = lambda: context.decompressobj()  # noqa: E731
        errors: tuple[type[BaseException], ...] = (zstandard.ZstdError,)
    elif kind == "gzip":
        new_decoder = lambda: zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)  # noqa: E731
        errors = (zlib.error,)
    with open_input(path) as raw:
        if kind == "none":
            yield from iter(lambda: raw.read(CHUNK_BYTES), b"")
            return
        decoder, fed = new_decoder(), False
        for chunk in iter(lambda: raw.read(CHUNK_BYTES), b""):
            while chunk:
                try:
                    out = decoder.decompress(chunk)
                except errors as error:
                    raise TruncatedInput(f"corrupt {kind} data: {error}") from error
                fed = True
                if out:
                    yield out
                if not decoder.eof:
                    break
                # One frame/member ended; what follows starts the next one.
                chunk = decoder.unused_data
                decoder, fed = new_decoder(), False
        if fed and not decoder.eof:
            raise TruncatedInput(f"{kind} stream cut off inside a frame")


def numbered_lines(path: str) -> Iterator[tuple[int, int, bytes]]:
    """(line number from 1, byte offset in the decompressed stream, line without its newline).

    On a cut-off stream the incomplete last line is not yielded; TruncatedInput names the
    line it stopped at."""
    number, offset, pending = 0, 0, b""
    chunks = decompressed_chunks(path)
    while True:
        try:
            chunk = next(chunks, None)
        except TruncatedInput as error:
            raise TruncatedInput(
                f"{error} at line {number + 1} (byte {offset} of the decompressed text)",
                line=number + 1,
                offset=offset,
            ) from error
        if chunk is None:
            break
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        for line in lines:
            number += 1
            yield number, offset, line
            offset += len(line) + 1
    if pending:
        yield number + 1, offset, pending
