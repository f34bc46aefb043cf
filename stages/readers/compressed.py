"""Stream a plain, ``.gz``, ``.zst`` or ``.bz2`` file, local or remote, in bounded memory.

Decompression is done frame by frame here rather than with the libraries' file
wrappers because those hide a cut-off: python-zstandard's stream reader ends
quietly inside a truncated frame. A file that stops early raises
``TruncatedInput`` after everything before the cut has been delivered.

No step inflates more than a bounded amount, whatever the compression ratio (a
1 MB ``.gz`` can hold 1 GiB): gzip and bz2 decode with ``max_length``; zstd's
decompressobj has no such argument, so it is fed ``ZSTD_SLICE`` bytes at a time,
and one zstd byte yields at most 32 KiB (an RLE block: 4 bytes for 128 KiB).
Lines longer than a cap are passed over as they stream by, never collected.

Damage inside a file of several gzip members, zstd frames or bz2 streams (``cat
a.gz b.gz``, block-parallel compressors) loses only the member it is in when reading
with ``resync``. The text decoded before the damage is delivered; then the compressed
bytes are searched for the next member start (gzip ``1f 8b 08``, zstd ``28 b5 2f fd``,
bz2 ``BZh[1-9]1AY&SY``) whose first ``VERIFY_BYTES`` decode without error (or its first
``VERIFY_MIN``, when it is damaged itself further on), and reading goes on from there,
a ``Resynced`` standing in the stream for the stretch passed over. Its ``skipped``
bytes run from where the damage was found (gzip: the byte; zstd: the start of the
``ZSTD_SLICE`` it is in; bz2, whose decoder cannot be replayed: the start of the
``CHUNK_BYTES`` read it is in) to the member reading resumes at.

Some text before the damage can go with it: zstd and bz2 decode a block whole, so the
damaged block's text (zstd: up to 128 KiB, bz2: 900 kB) is lost, and so is a zstd block
that ends in the ``ZSTD_SLICE`` the damage is found in (the decoder drops the output of
a step that fails and, unlike zlib's, cannot be copied to replay it). Damage a decoder
does not notice until a checksum (deflate codes that still decode) delivers garbled text
up to there, as any reader would: its lines mostly fail to parse; in a zstd frame
without a checksum such damage may go unnoticed altogether. With no member start after
the damage (a file of one member), ``TruncatedInput`` ends the stream as for a cut-off
file, its ``skipped`` counting the bytes from the damage to the end.

``numbered_lines`` turns the damaged stretch into one ``CutLine``: the line it cut,
whose bytes before the damage are dropped. Lines after it cannot keep the numbers of
the original text (how many lines the stretch held is unknown), so numbers and offsets
count the text actually decoded, the stretch standing for one line ended by one
newline: when the cut line is line N at offset O, the first line after the resume
point is line N + 1 at offset O + (bytes of the cut line before the damage) + 1. Both
stay unique and increasing within the file. A member that starts inside a line begins
with the rest of the cut line; the readers decide what to do with it.
"""

from __future__ import annotations

import bz2
import re
import sys
import zlib
from collections.abc import Callable, Iterator
from itertools import compress
from typing import Any, NamedTuple, Protocol

from curate.storage import display_name, open_input

CHUNK_BYTES = 1 << 20
"""Compressed (or plain) bytes read from the file at a time."""
OUTPUT_BYTES = 1 << 20
"""Most decompressed bytes handed on at once."""
ZSTD_SLICE = 1024
"""Compressed bytes per zstd step: at most 32 MiB of output even for a crafted frame, and
measured at under 10 % more decompression time than 1 MiB steps (JSON parsing costs ~3x more)."""
REPLAY_BYTES = 1024
"""Compressed bytes per step when a failed gzip step is decoded again to deliver the text
before the damage (zlib drops the whole output of a call that fails); the step that fails
again is then decoded byte by byte."""
VERIFY_BYTES = 64 * 1024
"""Compressed bytes after a candidate member start that must decode without error. Random
bytes fail within a few hundred; 64 KiB also spans the start of a zstd block (<= 128 KiB)."""
VERIFY_MIN = 4 * 1024
"""A candidate whose decoding fails only after this many bytes is a member start all the
same (a member damaged further on): its text up to its own damage is read."""
MEMBER_STARTS = {
    "gzip": re.compile(rb"\x1f\x8b\x08"),
    "zstd": re.compile(rb"\x28\xb5\x2f\xfd"),
    "bzip2": re.compile(rb"BZh[1-9]1AY&SY"),
}
"""The bytes a gzip member (deflate), a zstd frame and a bz2 stream with a block start with."""


class TruncatedInput(OSError):
    """The compressed stream ended inside a frame or member (a cut-off download), or was
    damaged with no member start after the damage to read on from."""

    def __init__(self, message: str, *, line: int | None = None, offset: int = 0, skipped: int = 0) -> None:
        super().__init__(message)
        self.line = line
        """The line the cut falls in (from 1), when reading lines."""
        self.offset = offset
        """Decompressed bytes delivered before the cut."""
        self.skipped = skipped
        """Compressed bytes from the damage to the end of the file (0 for a plain cut-off)."""


class Resynced(NamedTuple):
    """Stands, in a decompressed stream read with ``resync``, for a damaged stretch passed over."""

    error: str
    """What the decoder said about the damage."""
    found_at: int
    """Compressed offset of the step the damage was found in."""
    resumed_at: int
    """Compressed offset of the member or frame reading resumed at."""

    @property
    def skipped(self) -> int:
        return self.resumed_at - self.found_at


class _Member(Protocol):
    """One gzip member, zstd frame or bz2 stream being decoded."""

    eof: bool
    unused_data: bytes
    failed_at: int
    """After ``feed`` raised: where in its data the step that failed began."""

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Decoded pieces of ``data`` (each at most ~OUTPUT_BYTES), up to the member's end."""


def _zlib_steps(decoder, data: bytes) -> Iterator[bytes]:
    """``data`` decoded in pieces of at most OUTPUT_BYTES, up to the member's end."""
    while True:
        out = decoder.decompress(data, OUTPUT_BYTES)
        if out:
            yield out
        data = decoder.unconsumed_tail
        # A full output may leave decoded bytes inside zlib even with no input left.
        if decoder.eof or (not data and len(out) < OUTPUT_BYTES):
            return


class _LibraryDecoder:
    """A member read by a standard-library decoder, which tracks its own end and leftover bytes."""

    _decoder: Any

    @property
    def eof(self) -> bool:
        return self._decoder.eof

    @property
    def unused_data(self) -> bytes:
        return self._decoder.unused_data


class _GzipMember(_LibraryDecoder):
    errors: tuple[type[Exception], ...] = (zlib.error,)

    def __init__(self) -> None:
        self._decoder = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
        self.failed_at = 0

    def feed(self, data: bytes) -> Iterator[bytes]:
        decoder, size = self._decoder, len(data)
        while True:
            # A copy of the state (a 32 KiB window: ~1 % of a 1 MiB step) lets a failed step be
            # decoded again in small pieces, delivering the text up to the damage.
            saved = decoder.copy()
            try:
                out = decoder.decompress(data, OUTPUT_BYTES)
            except zlib.error:
                yield from self._replay(saved, data, size - len(data))
                raise
            if out:
                yield out
            data = decoder.unconsumed_tail
            if decoder.eof or (not data and len(out) < OUTPUT_BYTES):
                return

    def _replay(self, decoder, data: bytes, base: int, step: int = REPLAY_BYTES) -> Iterator[bytes]:
        """``data`` decoded again from the state before it, ``step`` bytes at a time and the piece
        that fails byte by byte: raises at the damage, as the step did, after yielding all the
        text before it (a piece's text is held until it decodes, at most ~1 MiB for 1 KiB)."""
        for start in range(0, len(data), step):
            piece = data[start : start + step]
            saved = decoder.copy()
            try:
                decoded = list(_zlib_steps(decoder, piece))
            except zlib.error:
                self.failed_at = base + start
                if step > 1:
                    yield from self._replay(saved, piece, base + start, 1)
                raise
            yield from decoded


class _Bz2Stream(_LibraryDecoder):
    errors: tuple[type[Exception], ...] = (OSError, ValueError)
    failed_at = 0
    """The decoder takes a whole read at once and has no copy(): the damage is somewhere in it."""

    def __init__(self) -> None:
        self._decoder = bz2.BZ2Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        decoder = self._decoder
        out = decoder.decompress(data, OUTPUT_BYTES)
        while True:
            if out:
                yield out
            if decoder.eof or decoder.needs_input:
                return
            out = decoder.decompress(b"", OUTPUT_BYTES)


class _ZstdFrame:
    def __init__(self, context) -> None:
        self._decoder = context.decompressobj()
        self.eof = False
        self.unused_data = b""
        self.failed_at = 0

    def feed(self, data: bytes) -> Iterator[bytes]:
        decoder, held, size = self._decoder, [], 0
        for start in range(0, len(data), ZSTD_SLICE):
            try:
                out = decoder.decompress(data[start : start + ZSTD_SLICE])
            except Exception:
                self.failed_at = start
                if held:
                    yield b"".join(held)  # what precedes the bad bytes is still delivered
                raise
            if len(out) >= OUTPUT_BYTES:
                if held:
                    yield b"".join(held)
                    held, size = [], 0
                for cut in range(0, len(out), OUTPUT_BYTES):
                    yield out[cut : cut + OUTPUT_BYTES]
            elif out:
                held.append(out)
                size += len(out)
                if size >= OUTPUT_BYTES:
                    yield b"".join(held)
                    held, size = [], 0
            if decoder.eof:
                self.eof = True
                self.unused_data = decoder.unused_data + data[start + ZSTD_SLICE :]
                break
        if held:
            yield b"".join(held)


def _compression(path: str) -> str:
    name = display_name(path).lower()
    if name.endswith((".zst", ".zstd")):
        return "zstd"
    if name.endswith(".gz"):
        return "gzip"
    if name.endswith(".bz2"):
        return "bzip2"
    return "none"


def _member_factory(kind: str) -> tuple[Callable[[], _Member], tuple[type[Exception], ...]]:
    if kind == "zstd":
        import zstandard

        context = zstandard.ZstdDecompressor()
        return (lambda: _ZstdFrame(context)), (zstandard.ZstdError,)
    member = _GzipMember if kind == "gzip" else _Bz2Stream
    return member, member.errors


class _Compressed:
    """The compressed bytes of a file as they are read, with their offsets. Bytes handed back
    (what follows a member's end, the rest of a read after damage) come again first."""

    def __init__(self, reads: Iterator[bytes]) -> None:
        self._reads = reads
        self._held = b""
        self.position = 0
        """File offset of the next byte ``take`` returns."""

    def take(self) -> bytes:
        """The next bytes; empty at the end of the file."""
        data = self._held or next(self._reads, b"")
        self._held = b""
        self.position += len(data)
        return data

    def give_back(self, data: bytes) -> None:
        self._held = data + self._held if self._held else data
        self.position -= len(data)

    def _fill(self, size: int) -> bool:
        """Read on until ``size`` bytes are held; True if the file ended first."""
        while len(self._held) < size:
            data = next(self._reads, b"")
            if not data:
                return True
            self._held += data
        return False

    def _drop(self, count: int) -> None:
        """Pass over ``count`` bytes, reading on if fewer are held."""
        while count > len(self._held):
            count -= len(self._held)
            self.position += len(self._held)
            self._held = next(self._reads, b"")
            if not self._held:
                return
        self._held = self._held[count:]
        self.position += count

    def find_start(self, start: int, kind: str, decodes: Callable[[bytes], bool]) -> int | None:
        """Offset of the first member start at or after ``start`` whose first bytes
        ``decodes``; the bytes before it are passed over. None (all passed over) if there is none."""
        pattern = MEMBER_STARTS[kind]
        self._drop(start - self.position)
        while True:
            at_end = self._fill(CHUNK_BYTES + VERIFY_BYTES)
            held = self._held
            # Starts in the last VERIFY_BYTES are tried once more is read, unless the file ended.
            last = len(held) if at_end else len(held) - VERIFY_BYTES
            for found in pattern.finditer(held):
                hit = found.start()
                if hit >= last:
                    break
                if decodes(held[hit : hit + VERIFY_BYTES]):
                    self._drop(hit)
                    return self.position
            self._drop(last)
            if at_end:
                return None


def _verifier(new_member: Callable[[], _Member], errors: tuple[type[Exception], ...]) -> Callable[[bytes], bool]:
    def decodes(window: bytes) -> bool:
        """Whether ``window`` begins a member: it decodes without error to some text, to the
        member's end, or through VERIFY_BYTES (a bz2 block gives no text before its end), or
        to some text through VERIFY_MIN before it fails."""
        member, produced = new_member(), False
        try:
            for _ in member.feed(window):
                produced = True
        except errors:
            return produced and member.failed_at >= VERIFY_MIN
        return produced or member.eof or len(window) >= VERIFY_BYTES

    return decodes


def _inflate(kind: str, reads: Iterator[bytes], resync: bool) -> Iterator[bytes | Resynced]:
    """Multi-frame zstd, multi-member gzip and multi-stream bz2 files are one stream; with
    ``resync`` a damaged member is passed over to the next one that decodes."""
    new_member, errors = _member_factory(kind)
    source, decodes = _Compressed(reads), _verifier(new_member, errors)
    member, member_start, fed = new_member(), 0, False
    while chunk := source.take():
        try:
            yield from member.feed(chunk)
        except errors as error:
            message = f"corrupt {kind} data: {error}"
            if not resync:
                raise TruncatedInput(message) from error
            found_at = source.position - len(chunk) + member.failed_at
            source.give_back(chunk[member.failed_at :])
            # Past the damaged member's own start, so a member damaged further on is not read twice.
            resume = source.find_start(max(found_at, member_start + 1), kind, decodes)
            if resume is None:
                message += f"; no {kind} member start after it"
                raise TruncatedInput(message, skipped=source.position - found_at) from error
            yield Resynced(message, found_at, resume)
            member, member_start, fed = new_member(), resume, False
            continue
        fed = True
        if member.eof:
            # One frame/member ended; what follows starts the next one.
            source.give_back(member.unused_data)
            member, member_start, fed = new_member(), source.position, False
    if fed and not member.eof:
        raise TruncatedInput(f"{kind} stream cut off inside a frame")


def is_compressed(path: str) -> bool:
    """Whether ``path`` is read through a decompressor (by its name's suffix)."""
    return _compression(path) != "none"


def decompressed_chunks(
    path: str, *, resync: bool = False, start: int = 0, end: int | None = None
) -> Iterator[bytes | Resynced]:
    """The decompressed bytes of ``path`` in chunks of at most ~OUTPUT_BYTES; compression
    chosen by the name's suffix (``.gz``, ``.zst``/``.zstd``, ``.bz2``, else none). With
    ``resync``, a damaged member is passed over (a ``Resynced`` in its place) when another
    follows it; without, damage ends the stream with TruncatedInput. A plain file can be read
    from ``start`` to ``end`` only (a unit's range)."""
    kind = _compression(path)
    if (start or end is not None) and kind != "none":
        raise ValueError(f"{path}: a compressed input is read whole, not from byte {start}")
    with open_input(path, start, end) as raw:
        reads = iter(lambda: raw.read(CHUNK_BYTES), b"")
        if kind == "none":
            yield from reads
        else:
            yield from _inflate(kind, reads, resync)


class LongLine(NamedTuple):
    """Stands for a line over the cap, whose bytes were passed over."""

    size: int
    """Its length in bytes (up to the cut, on a cut-off stream)."""


class CutLine(NamedTuple):
    """Stands for the line a damaged stretch cut (``resync``): its bytes before it are dropped."""

    size: int
    """Its bytes before the damage."""
    damage: Resynced


Line = tuple[int, int, bytes | LongLine | CutLine]
"""(line number, offset, the line or what stands for it), as ``numbered_lines`` yields them."""


def numbered_lines(
    path: str, max_line_bytes: int | None = None, *, resync: bool = False, start: int = 0, end: int | None = None
) -> Iterator[Line]:
    """(line number from 1, byte offset in the decompressed stream, line without its newline)
    of every non-empty line; empty lines are skipped in C (a file of a billion newlines costs
    seconds, not a Python step each). A line over ``max_line_bytes`` comes as ``LongLine``,
    and with ``resync`` a damaged stretch as ``CutLine`` (numbering as the module says).
    A plain file's range (``start`` at a line start) is numbered from its first line, its
    offsets are the file's.

    On a cut-off stream the incomplete last line is not yielded; TruncatedInput names the
    line it stopped at."""
    cap = max_line_bytes if max_line_bytes is not None else sys.maxsize
    number, offset = 1, start  # the line being read: its number and where it starts
    parts: list[bytes] | None = []  # its bytes so far; None once it is over the cap
    size = 0
    chunks = decompressed_chunks(path, resync=resync, start=start, end=end)
    while True:
        try:
            chunk = next(chunks, None)
        except TruncatedInput as error:
            where = f"line {number} (byte {offset} of the decompressed text)"
            raise TruncatedInput(f"{error} at {where}", line=number, offset=offset, skipped=error.skipped) from error
        if chunk is None:
            break
        if type(chunk) is Resynced:
            yield number, offset, CutLine(size, chunk)
            number, offset, parts, size = number + 1, offset + size + 1, [], 0
            continue
        lines = chunk.split(b"\n")
        tail = lines.pop()
        if lines:
            start, chunk_start, first = number, offset + size, lines[0]
            length = size + len(first)
            if parts is None or length > cap:
                yield start, offset, LongLine(length)
            elif length:
                yield start, offset, (b"".join((*parts, first)) if parts else first)
            # compress() passes over empty lines in C; each moves the next offset by one byte.
            lines[0] = b""
            next_number, next_offset = start + 1, chunk_start + len(first) + 1
            for number, line in compress(enumerate(lines, start), lines):
                offset = next_offset + number - next_number
                length = len(line)
                yield number, offset, (line if length <= cap else LongLine(length))
                next_number, next_offset = number + 1, offset + length + 1
            number, offset = start + len(lines), chunk_start + len(chunk) - len(tail)
            parts, size = [], 0
        size += len(tail)
        if parts is not None and tail:
            if size > cap:
                parts = None
            else:
                parts.append(tail)
    if size:
        yield number, offset, (LongLine(size) if parts is None else b"".join(parts))
