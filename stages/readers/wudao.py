"""Read WuDaoCorpora JSON files: one JSON array of ``{id, uniqueKey, titleUkey, dataType, title, content}``.

The array is parsed element by element from a decompressed stream (files are
hundreds of MB; loading one whole would take several GB). ``title`` and
``content`` are joined into the text (the title first, unless the content
already starts with it); ``id`` becomes ``source_id`` and ``dataType``,
``uniqueKey``, ``titleUkey`` go to ``metadata`` (all configurable in
``input.fields``). A file of concatenated objects or JSON lines reads too.

A document's ``source_offset`` is its element's byte offset in the (decompressed) text, so
a plain file read in ranges (``run.unit_max_bytes``, cut at element starts) gives every
document the offset and id it gets read whole. Drops, each counted with its element number
and line (a range that starts past the file's beginning names the element's byte offset
instead): ``read.bad_json`` (an
element that does not parse, is nested too deeply, or is not an object),
``read.line_too_large`` (an element longer than ``input.max_line_bytes``
characters, passed over unread), ``read.bad_field``, ``read.missing_text``,
``read.corrupt_record`` and ``read.truncated`` (the file ends inside the array, or
is damaged with no gzip member or zstd frame after the damage: the complete elements
before it are used). After a bad element reading resumes at the next one.

A corrupt gzip member or zstd frame in a file of several is passed over to the next
one that decodes (``compressed``): the element it cut, with its text before the
damage, counts as one ``read.corrupt_record`` element whatever the stretch held (whole
elements lost inside it cannot be counted), and the compressed bytes passed over add
to ``skipped_bytes``. Reading resumes at the first element start in the text after it
(the member's own start when it begins with one, else the next ``{"`` after a comma or
newline), so the rest of a cut element is passed over, not parsed as one. Element
numbers go on counting (the cut one takes a number); line numbers count the lines of
the text decoded, the damaged stretch counting as one line break.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator

import pyarrow as pa

from curate.storage import open_input
from stages.readers.base import (
    WHOLE,
    BatchBuilder,
    InputConfig,
    MalformedRecord,
    ReadError,
    ReadResult,
    Span,
    mapped_document,
)
from stages.readers.compressed import Resynced, TruncatedInput, decompressed_chunks

_SEPARATORS = re.compile(r"[\s,]*")
_NEXT_ELEMENT = re.compile(r'[,\n]\s*(?=\{\s*")')
"""Where the next element starts: ``{"`` after a comma or newline. Inside a JSON string a quote
is escaped, so this cannot match in the text of a field."""
_ELEMENT_START = re.compile(r'\{\s*"')
_BOUNDARY_CHARS = 256
"""Characters kept from passed-over text: a boundary may straddle two chunks."""


class ArrayElements:
    """(byte offset of the element's start in the decompressed text, line of its start, decoded
    object or the parse error) of a JSON array, or of its range ``span`` of a plain file (which
    starts at an element, ``stages.readers.splits``). Offsets count the text as decoded: bytes
    that are not UTF-8 count as their replacement character's three.

    An element that does not parse (malformed, nested too deeply) or is longer than
    ``max_chars`` becomes a MalformedRecord; reading resumes at the next element start, and a
    long element's text is passed over chunk by chunk, never held whole."""

    def __init__(self, path: str, max_chars: int, span: Span = WHOLE) -> None:
        self.path = path
        self.max_chars = max_chars
        self.span = span
        self.truncated: str | None = None
        """Why the stream stopped early, if it did."""
        self.skipped_bytes = 0
        """Compressed bytes passed over after damage."""
        self.cut: Resynced | None = None
        """A damaged stretch met and not yet yielded as a corrupt element."""

    def _more(self) -> bool:
        """Append the next decoded chunk (dropping what is before ``pos``); False at the end."""
        if self.at_end:
            return False
        try:
            chunk = next(self.chunks, None)
        except TruncatedInput as error:
            self.truncated, chunk = str(error), None
            self.skipped_bytes += error.skipped
        if type(chunk) is Resynced:
            # The element being read is cut: its text so far goes, as does a partial character.
            self.line += self.buffer.count("\n", self.pos) + 1
            # Offsets go on from the text decoded, the damaged stretch standing for one byte.
            self._mark_byte += len(self.buffer[self._mark_pos :].encode()) + 1
            self.buffer, self.pos, self.cut, self._mark_pos = "", 0, chunk, 0
            self.text.reset()
            return True
        self._offset_at(self.pos)  # the byte mark moves to ``pos``, which becomes 0
        self._mark_pos = 0
        rest = self.buffer[self.pos :]
        if chunk is None:
            self.at_end = True
            self.buffer = rest + self.text.decode(b"", final=True)
        else:
            self.buffer = rest + self.text.decode(chunk)
        self.pos = 0
        return True

    def _offset_at(self, pos: int) -> int:
        """The byte offset of ``buffer[pos]`` (``pos`` never behind the last one asked): the
        text is UTF-8-encoded from the last mark on, so each byte is counted once."""
        self._mark_byte += len(self.buffer[self._mark_pos : pos].encode())
        self._mark_pos = pos
        return self._mark_byte

    def _advance(self, end: int) -> None:
        self.line += self.buffer.count("\n", self.pos, end)
        self.pos = end

    def _skip_element(self) -> bool:
        """Move to the next element start after ``pos``, reading on as needed; False at the end."""
        while True:
            found = _NEXT_ELEMENT.search(self.buffer, self.pos + 1)
            if found is not None:
                self._advance(found.end())
                return True
            self._advance(max(self.pos, len(self.buffer) - _BOUNDARY_CHARS))
            if not self._more():
                return False
            if self.cut is not None:
                return True  # the element being passed over ends at the damage

    def _cut_element(self, number: int) -> tuple[int, int, MalformedRecord]:
        damage, self.cut = self.cut, None
        self.skipped_bytes += damage.skipped
        message = (
            f"{damage.error} at compressed byte {damage.found_at}; skipped {damage.skipped} bytes"
            f" to the member at byte {damage.resumed_at}; the element it cut is dropped"
        )
        offset = self._offset_at(self.pos)
        return offset, self.line, MalformedRecord("read.corrupt_record", f"{self._element(number, offset)}: {message}")

    def _resume(self) -> bool:
        """After a cut, move to the first element start in the text read on; False at the end."""
        while True:
            self._advance(_SEPARATORS.match(self.buffer, self.pos).end())
            if len(self.buffer) - self.pos >= 2:
                break
            if not self._more():
                return False
            if self.cut is not None:
                return True
        return bool(_ELEMENT_START.match(self.buffer, self.pos)) or self._skip_element()

    def _element(self, number: int, offset: int) -> str:
        """An element as messages name it: its number, in a range from further on its offset."""
        return f"element {number}" if self.span.start == 0 else f"element at byte {offset}"

    def _failed(self, number: int, reason: str, message: str) -> tuple[int, int, MalformedRecord]:
        offset = self._offset_at(self.pos)
        where = f" (line {self.line})" if self.span.start == 0 else ""
        return offset, self.line, MalformedRecord(reason, f"{self._element(number, offset)}: {message}{where}")

    def __iter__(self) -> Iterator[tuple[int, int, object]]:
        decoder = json.JSONDecoder()
        self.text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        span = self.span
        self.chunks = decompressed_chunks(self.path, resync=True, start=span.start, end=span.end)
        self.buffer, self.pos, self.line, self.at_end = "", 0, 1, False
        self._mark_pos, self._mark_byte = 0, span.start
        # A range from further on starts inside the file's array if the file opens with one.
        number, opened = 0, span.start > 0 and _opens_array(self.path)
        last_range = span.end is None
        while True:
            if self.cut is not None:
                number += 1
                yield self._cut_element(number)
                if not self._resume():
                    return
                continue
            self._advance(_SEPARATORS.match(self.buffer, self.pos).end())
            if self.pos >= len(self.buffer):
                if not self._more():
                    if opened and last_range and self.truncated is None:
                        self.truncated = "the array is not closed"
                    return
                continue
            if self.buffer[self.pos] == "[" and not opened:
                opened, self.pos = True, self.pos + 1
                continue
            if self.buffer[self.pos] == "]":
                return
            try:
                value, end = decoder.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError as error:
                # The parser stopped at the buffer's end (or inside a string running to it): the
                # element continues in the next chunk. Anywhere else the element is malformed.
                incomplete = error.pos >= len(self.buffer) - 8 or error.msg.startswith("Unterminated string")
                if incomplete and len(self.buffer) - self.pos <= self.max_chars and self._more():
                    continue
                if incomplete and not self.at_end:
                    failure = ("read.line_too_large", f"longer than input.max_line_bytes ({self.max_chars} chars)")
                elif self.at_end and (self.truncated or not _NEXT_ELEMENT.search(self.buffer, self.pos)):
                    self.truncated = self.truncated or f"the file ends inside element {number + 1}"
                    return
                else:
                    failure = ("read.bad_json", error.msg)
            except (RecursionError, MemoryError):
                failure = ("read.bad_json", "nested too deeply to parse")
            else:
                number += 1
                if end - self.pos > self.max_chars:
                    yield self._failed(number, "read.line_too_large", f"{end - self.pos} chars")
                else:
                    yield self._offset_at(self.pos), self.line, value
                self._advance(end)
                continue
            number += 1
            yield self._failed(number, *failure)
            if not self._skip_element():
                return


def _opens_array(path: str) -> bool:
    """Whether the file's first non-blank character is ``[``."""
    with open_input(path, 0, 4096) as head:
        return head.read(4096).lstrip()[:1] == b"["


class WudaoReader:
    def __init__(self, config: InputConfig) -> None:
        self.config = config
        self.names = config.field_names()

    def read(self, path: str, result: ReadResult, span: Span = WHOLE) -> Iterator[pa.RecordBatch]:
        builder = BatchBuilder(path, self.config.batch_size)
        elements = ArrayElements(path, self.config.max_line_bytes, span)
        numbered = span.start == 0  # a range from further on cannot know its line numbers
        for offset, line, value in elements:
            result.records += 1
            shown = line if numbered else None
            try:
                if isinstance(value, MalformedRecord):
                    raise value
                document = mapped_document(value, self.names)
            except MalformedRecord as error:
                message = str(error) if str(error).startswith("element") else f"element at byte {offset}: {error}"
                result.skip(error.reason, ReadError(offset, message, line=shown))
                continue
            except RecursionError:
                # Parsed just under the recursion limit, then nested too deeply to re-encode as metadata.
                message = f"element at byte {offset}: nested too deeply"
                result.skip("read.bad_json", ReadError(offset, message, line=shown))
                continue
            batch = builder.add_document(result, offset, document)
            if batch is not None:
                yield batch
        result.skipped_bytes += elements.skipped_bytes
        if elements.truncated:
            result.skip("read.truncated", ReadError(0, f"stopped reading: {elements.truncated}"))
        batch = builder.flush()
        if batch is not None:
            yield batch
