"""The records of one WARC file, read on past damage.

fastwarc stops at the first bytes it cannot read: a corrupt gzip member, a
header over its 32 KiB limit (a 100 KB URL), a Content-Length that does not
land on the next record. ``WarcRecords`` then resumes at the next record start
after the damage and goes on reading:

- in a gzip file of one member per record (Common Crawl's layout), at the next
  ``\\x1f\\x8b\\x08`` whose member inflates to a ``WARC/1.`` line;
- in an uncompressed file, at the next ``WARC/1.0\\r\\n`` or ``WARC/1.1\\r\\n``.

Each damaged stretch counts as ``read.corrupt_record`` (once per record start
that failed, at least once) and its bytes, from the end of the last good record
to the next record read, add to ``ReadResult.skipped_bytes``. A record whose
Content-Length disagrees with where it really ends (its gzip member, or the next
record start) is reported as the bad one, at its own offset, and named in
``blamed``: it was already yielded (its length is only found wrong when the next
record does not follow it), so the reader must not use it. Offsets stay exact
after a resync: fastwarc's ``stream_pos`` is the position in the file.

Every corrupt record counts in ``ReadResult.records`` as one record read (a
yielded record once, when it was yielded), so the records read equal the
documents plus the drops, except in a file in which no record at all could be
read: it keeps ``records`` at 0, which marks it unreadable in the manifest.

A file with neither kind of record start after the damage (a zstd WARC, one
gzip member for a whole file, an ARC file) ends there: the rest of it counts as
skipped, from the end of the last good record (from its start when that end
cannot be found, as in a zstd WARC).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from fastwarc.warc import ArchiveIterator, WarcRecord

from stages.readers.base import ReadError, ReadResult

GZIP_MAGIC = b"\x1f\x8b\x08"
_PLAIN_START = re.compile(rb"WARC/1\.[01]\r\n")
SCAN_BYTES = 1 << 20
"""Bytes read at a time while looking for the next record start."""
_PEEK_BYTES = 64 * 1024
"""Enough for any WARC header fastwarc accepts (32 KiB) and the first bytes of a member."""


class WarcRecords:
    """Iterates over the records of ``stream``; read blocks with ``read_block`` so that a
    failure there is resumed from too."""

    def __init__(self, stream: BinaryIO, result: ReadResult, start: int = 0) -> None:
        self.stream = stream
        self.result = result
        self.start = start
        """Where the stream starts: the file's start, or a unit's range's (a record start)."""
        self._last: tuple[int, int] | None = None
        """(stream_pos, Content-Length) of the last record yielded."""
        self._broken: tuple[int, Exception] | None = None
        """Start and error of a yielded record whose block could not be read."""
        self._resumed_at = start - 1
        """Where the last resync resumed: the next one looks past it even if no record came."""
        self.blamed = -1
        """stream_pos of the last yielded record found corrupt after it was yielded (its
        Content-Length, or its gzip member, disagrees with where it ends)."""

    def read_block(self, record: WarcRecord) -> bytes | None:
        """The record's block, or None when its bytes are damaged (reading then resumes after it)."""
        try:
            return record.reader.read()
        except Exception as error:  # fastwarc raises OSError/ValueError subtypes for bad bytes
            self._broken = (record.stream_pos, error)
            return None

    def __iter__(self) -> Iterator[WarcRecord]:
        iterator: ArchiveIterator | None = ArchiveIterator(self.stream, parse_http=False)
        while iterator is not None:
            try:
                record = next(iterator)
            except StopIteration:
                return
            except Exception as error:  # fastwarc raises OSError subtypes for bad bytes
                iterator = self._resync(error)
                continue
            self._last = (record.stream_pos, record.content_length)
            yield record
            if self._broken is not None:
                iterator = self._resync(self._broken[1], damaged_at=self._broken[0])
                self._broken = None

    def _resync(self, error: Exception, damaged_at: int | None = None) -> ArchiveIterator | None:
        """An iterator from the next record start that parses; counts what was skipped to it."""
        last_start = self._last[0] if self._last else -1
        layout = self._layout(max(last_start, self.start))
        if damaged_at is not None:
            gap, last_is_bad = damaged_at, True
        else:
            gap, last_is_bad = self._gap_start(layout)
        resume, failed = self._resume_point(layout, max(last_start, self._resumed_at) + 1)
        skipped = max(0, (resume if resume is not None else self._file_size()) - gap)
        # A Content-Length running past the next record start makes the last record the bad one.
        blamed = self._last is not None and (last_is_bad or (resume is not None and resume < gap))
        blamed = blamed and self.blamed != last_start  # named once, however many resyncs follow it
        at = last_start if blamed else gap
        self.result.skipped_bytes += skipped
        where = f"skipped {skipped} bytes, resumed at byte {resume}" if resume is not None else "no record after it"
        corrupt = max(1, failed + blamed)
        self.result.skip("read.corrupt_record", ReadError(max(at, self.start), f"{error}; {where}"), count=corrupt)
        if self._last is not None or resume is not None:
            self.result.records += corrupt - blamed  # the blamed record was counted when it was yielded
        if blamed:
            self.blamed = last_start
        if resume is None:
            return None
        self._resumed_at = resume
        self.stream.seek(resume)
        return ArchiveIterator(self.stream, parse_http=False)

    def _layout(self, position: int) -> str:
        self.stream.seek(position)
        head = self.stream.read(len(GZIP_MAGIC))
        if head == GZIP_MAGIC:
            return "gzip"
        return "plain" if head == b"WAR" else "other"

    def _resume_point(self, layout: str, position: int) -> tuple[int | None, int]:
        """(the first record start at or after ``position`` that fastwarc parses, or None; how many
        starts before it failed to parse)."""
        failed = 0
        while True:
            candidate = self._next_start(layout, position)
            if candidate is None:
                break
            self.stream.seek(candidate)
            try:
                record = next(ArchiveIterator(self.stream, parse_http=False))
                if record.stream_pos == candidate:
                    return candidate, failed
            except Exception:  # StopIteration included: a verified start yields a record or is damaged
                pass
            failed, position = failed + 1, candidate + 1
        return None, failed

    def _gap_start(self, layout: str) -> tuple[int, bool]:
        """Where the damage after the last good record starts, and whether that record is the bad
        one (its Content-Length disagrees with where its gzip member ends)."""
        if self._last is None:
            return self.start, False
        last_start, content_length = self._last
        if layout == "other":
            return last_start, False  # its end cannot be found: the rest counts from its start
        self.stream.seek(last_start)
        if layout == "gzip":
            extent = _member_extent(self.stream)
            if extent is None:
                return last_start, True
            length, inflated, head = extent
            return last_start + length, inflated != _declared_length(head, content_length)
        head = self.stream.read(_PEEK_BYTES)
        return last_start + _declared_length(head, content_length), False

    def _next_start(self, layout: str, position: int) -> int | None:
        """The first verified record start at or after ``position``; a file of unknown layout
        (its last record start is unreadable) is searched for both kinds."""
        while True:
            self.stream.seek(position)
            window = self.stream.read(SCAN_BYTES + _PEEK_BYTES)
            if not window:
                return None
            hits = []
            if layout != "plain":
                hits.append(_gzip_start(window))
            if layout != "gzip":
                found = _PLAIN_START.search(window, 0, SCAN_BYTES + len(b"WARC/1.0\r\n"))
                hits.append(found.start() if found is not None else None)
            hits = [hit for hit in hits if hit is not None and hit < SCAN_BYTES]
            if hits:
                return position + min(hits)
            if len(window) <= SCAN_BYTES:
                return None
            position += SCAN_BYTES

    def _file_size(self) -> int:
        return self.stream.seek(0, 2)


def gzip_record_start(stream: BinaryIO, position: int, limit: int) -> int | None:
    """The first record start at or after ``position`` (and before ``position + limit``) of a
    WARC file of one gzip member per record: a member that inflates to a WARC header and that
    fastwarc reads as a record there. Where a unit's range may start."""
    end = position + limit
    while position < end:
        stream.seek(position)
        window = stream.read(SCAN_BYTES + _PEEK_BYTES)
        hit = _gzip_start(window)
        if hit is None:
            if len(window) <= SCAN_BYTES:
                return None
            position += SCAN_BYTES
            continue
        candidate = position + hit
        stream.seek(candidate)
        try:
            if next(ArchiveIterator(stream, parse_http=False)).stream_pos == candidate:
                return candidate
        except Exception:  # StopIteration included: not a record after all
            pass
        position = candidate + 1
    return None


def _gzip_start(window: bytes) -> int | None:
    """The first gzip member start in ``window`` that inflates to a WARC header."""
    hit = window.find(GZIP_MAGIC)
    while 0 <= hit < SCAN_BYTES:
        try:
            head = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16).decompress(window[hit : hit + _PEEK_BYTES], 8)
        except zlib.error:
            head = b""
        if head.startswith(b"WARC/1."):
            return hit
        hit = window.find(GZIP_MAGIC, hit + 1)
    return None


def _declared_length(head: bytes, content_length: int) -> int:
    """A record's length by its own header: the header, its Content-Length and the closing CRLFs."""
    end = head.find(b"\r\n\r\n")
    return (end + 4 if end >= 0 else len(head)) + content_length + 4


def _member_extent(stream: BinaryIO) -> tuple[int, int, bytes] | None:
    """(compressed length, inflated length, first inflated bytes) of the gzip member at the
    stream's position, inflated a bounded step at a time; None if it is damaged."""
    decoder = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
    consumed = inflated = 0
    head = b""
    try:
        while not decoder.eof:
            data = stream.read(SCAN_BYTES)
            if not data:
                return None
            consumed += len(data)
            while not decoder.eof:
                out = decoder.decompress(data, SCAN_BYTES)
                inflated += len(out)
                if len(head) < _PEEK_BYTES:
                    head += out[:_PEEK_BYTES]
                data = decoder.unconsumed_tail
                if not data and len(out) < SCAN_BYTES:
                    break
    except zlib.error:
        return None
    return consumed - len(decoder.unused_data), inflated, head
