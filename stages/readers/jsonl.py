"""Read JSON Lines (plain, ``.gz``, ``.zst`` or ``.bz2``, streamed) into text documents.

Field names come from ``input.fields`` (defaults: ``text``, ``id``, ``url``).
A document's ``source_offset`` is its line's byte offset in the (decompressed) text, so a
plain file read in ranges (``run.unit_max_bytes``) gives every document the offset and id it
gets read whole. Drops, each counted with its line number (left out in a range that starts
past the file's beginning, which cannot know it) and byte offset; reading goes on with the
next line:

- ``read.bad_json``: a line that is not a JSON object (or not UTF-8, or nested
  deeper than the parser's recursion limit);
- ``read.line_too_large``: a line over ``input.max_line_bytes``, passed over
  unread (one huge line must not take the worker's memory);
- ``read.bad_field``: a mapped field of the wrong type (a number or list as text);
- ``read.missing_text``: no text field, or an empty one;
- ``read.corrupt_record``: a corrupt gzip member, zstd frame or bz2 stream in a file
  of several. Reading resumes at the next member that decodes (``compressed``); the
  line the damage cut is this one record, whatever the stretch held (the lines lost
  whole inside it cannot be counted), and its compressed bytes passed over add to
  ``skipped_bytes``. When the next member starts inside a line, that line's rest fails
  to parse and is counted with the cut line, not as ``read.bad_json`` on its own.
  Line numbers and offsets after it count the text decoded, the damaged stretch
  standing for one line (``compressed``): unique and increasing, but shifted from the
  original file's;
- ``read.truncated``: the compressed stream is cut off, or damaged with no member
  after the damage; the lines before it are used.

Blank lines are skipped without a count. ``records`` counts every other line, the
cut one included, so it equals the documents plus the drops other than ``read.truncated``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pyarrow as pa

from stages.readers.base import (
    WHOLE,
    BatchBuilder,
    Document,
    InputConfig,
    MalformedRecord,
    ReadError,
    ReadResult,
    Span,
    mapped_document,
)
from stages.readers.compressed import CutLine, LongLine, TruncatedInput, numbered_lines


def parse_json_line(line: bytes) -> object:
    try:
        return json.loads(line)
    except UnicodeDecodeError as error:
        raise MalformedRecord("read.bad_json", f"not UTF-8: {error.reason} at byte {error.start}") from error
    except ValueError as error:
        raise MalformedRecord("read.bad_json", f"not JSON: {error}") from error
    except RecursionError as error:
        raise MalformedRecord("read.bad_json", "not JSON: nested too deeply to parse") from error
    except MemoryError as error:
        # One line's objects (a capped line of "[{}," can grow ~20x) failed to allocate: only it is lost.
        raise MalformedRecord("read.bad_json", "not JSON: too large to parse in memory") from error


def read_json_lines(
    path: str,
    result: ReadResult,
    builder: BatchBuilder,
    documents_of: Callable[[object], list[Document]],
    max_line_bytes: int,
    span: Span = WHOLE,
) -> Iterator[pa.RecordBatch]:
    """Shared loop of the line-based readers: ``documents_of(record)`` gives
    (text, source id, url, metadata) tuples or raises MalformedRecord. A document's position
    is its line's byte offset, the same whichever range of the file it is read in."""
    lines = numbered_lines(path, max_line_bytes, resync=True, start=span.start, end=span.end)
    numbered = span.start == 0  # a range from further on cannot know its line numbers
    cut_line = -1  # the number of the last line a damaged stretch cut
    while True:
        try:
            item = next(lines, None)
        except TruncatedInput as error:
            result.skipped_bytes += error.skipped
            result.skip("read.truncated", ReadError(error.offset, str(error), line=error.line))
            break
        if item is None:
            break
        number, offset, line = item
        shown = number if numbered else None
        if type(line) is LongLine:
            result.records += 1
            message = f"line of {line.size} bytes, over input.max_line_bytes ({max_line_bytes})"
            result.skip("read.line_too_large", ReadError(offset, message, line=shown))
            continue
        if type(line) is CutLine:
            _count_cut(result, number, offset, line)
            cut_line = number
            continue
        if not line.strip():
            continue
        result.records += 1
        try:
            documents = documents_of(parse_json_line(line))
        except MalformedRecord as error:
            if number == cut_line + 1 and error.reason == "read.bad_json":
                result.records -= 1  # the rest of the cut line: already counted with it
            else:
                result.skip(error.reason, ReadError(offset, str(error), line=shown))
            continue
        except RecursionError:
            # Parsed just under the recursion limit, then nested too deeply to re-encode as metadata.
            result.skip("read.bad_json", ReadError(offset, "nested too deeply to convert", line=shown))
            continue
        for document in documents:
            batch = builder.add_document(result, offset, document)
            if batch is not None:
                yield batch
    batch = builder.flush()
    if batch is not None:
        yield batch


def _count_cut(result: ReadResult, number: int, offset: int, line: CutLine) -> None:
    """Count the line a damaged stretch cut as one corrupt record, and the bytes passed over."""
    damage = line.damage
    result.records += 1
    result.skipped_bytes += damage.skipped
    message = (
        f"{damage.error} at compressed byte {damage.found_at}; skipped {damage.skipped} bytes to the member"
        f" at byte {damage.resumed_at}; the line it cut is dropped ({line.size} bytes before the damage)"
    )
    result.skip("read.corrupt_record", ReadError(offset, message, line=number))


class JsonlReader:
    """One JSON object per line; one document per object."""

    def __init__(self, config: InputConfig) -> None:
        self.config = config
        self.names = config.field_names()

    def read(self, path: str, result: ReadResult, span: Span = WHOLE) -> Iterator[pa.RecordBatch]:
        builder = BatchBuilder(path, self.config.batch_size)
        yield from read_json_lines(path, result, builder, self._documents, self.config.max_line_bytes, span)

    def _documents(self, record: object) -> list[Document]:
        return [mapped_document(record, self.names)]
