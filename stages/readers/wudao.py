"""Read WuDaoCorpora JSON files: one JSON array of ``{id, uniqueKey, titleUkey, dataType, title, content}``.

The array is parsed element by element from a decompressed stream (files are
hundreds of MB; loading one whole would take several GB). ``title`` and
``content`` are joined into the text (the title first, unless the content
already starts with it); ``id`` becomes ``source_id`` and ``dataType``,
``uniqueKey``, ``titleUkey`` go to ``metadata`` (all configurable in
``input.fields``). A file of concatenated objects or JSON lines reads too.

Drops, each counted with its element number and line: ``read.bad_json`` (an
element that does not parse, or is not an object; reading resumes at the next
element), ``read.bad_field``, ``read.missing_text``, and ``read.truncated``
(the file ends inside the array: the complete elements before it are used).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator

import pyarrow as pa

from stages.readers.base import BatchBuilder, InputConfig, MalformedRecord, ReadError, ReadResult, mapped_document
from stages.readers.compressed import TruncatedInput, decompressed_chunks

MAX_ELEMENT_CHARS = 64 * 1024 * 1024
"""An element still unparsed after this many characters is malformed, not incomplete."""
_SEPARATORS = re.compile(r"[\s,]*")
_NEXT_ELEMENT = re.compile(r"\}\s*,\s*\{")


class ArrayElements:
    """(element number from 1, line of its start, decoded object or the parse error) of a JSON array."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.truncated: str | None = None
        """Why the stream stopped early, if it did."""

    def __iter__(self) -> Iterator[tuple[int, int, object]]:
        decoder = json.JSONDecoder()
        text_decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        chunks = decompressed_chunks(self.path)
        buffer, pos, line, number = "", 0, 1, 0
        at_end, opened = False, False

        def more() -> bool:
            nonlocal buffer, pos, at_end
            if at_end:
                return False
            try:
                chunk = next(chunks, None)
            except TruncatedInput as error:
                self.truncated, chunk = str(error), None
            if chunk is None:
                at_end = True
                buffer = buffer[pos:] + text_decoder.decode(b"", final=True)
            else:
                buffer = buffer[pos:] + text_decoder.decode(chunk)
            pos = 0
            return True

        while True:
            gap = _SEPARATORS.match(buffer, pos)
            line += buffer.count("\n", pos, gap.end())
            pos = gap.end()
            if pos >= len(buffer):
                if not more():
                    if opened and self.truncated is None:
                        self.truncated = "the array is not closed"
                    return
                continue
            if buffer[pos] == "[" and not opened:
                opened, pos = True, pos + 1
                continue
            if buffer[pos] == "]":
                return
            try:
                value, end = decoder.raw_decode(buffer, pos)
            except json.JSONDecodeError as error:
                # The parser stopped at the buffer's end (or inside a string running to it): the
                # element continues in the next chunk. Anywhere else the element is malformed.
                incomplete = error.pos >= len(buffer) - 8 or error.msg.startswith("Unterminated string")
                if incomplete and len(buffer) - pos < MAX_ELEMENT_CHARS and more():
                    continue
                if at_end and (self.truncated or not _NEXT_ELEMENT.search(buffer, pos)):
                    self.truncated = self.truncated or f"the file ends inside element {number + 1}"
                    return
                number += 1
                yield number, line, MalformedRecord("read.bad_json", f"element {number}: {error.msg} (line {line})")
                skip = _NEXT_ELEMENT.search(buffer, pos)
                if skip is None:
                    return
                line += buffer.count("\n", pos, skip.start() + 1)
                pos = skip.start() + 1
                continue
            number += 1
            yield number, line, value
            line += buffer.count("\n", pos, end)
            pos = end


class WudaoReader:
    def __init__(self, config: InputConfig) -> None:
        self.config = config
        self.names = config.field_names()

    def read(self, path: str, result: ReadResult) -> Iterator[pa.RecordBatch]:
        builder = BatchBuilder(path, self.config.batch_size)
        elements = ArrayElements(path)
        for number, line, value in elements:
            result.records += 1
            try:
                if isinstance(value, MalformedRecord):
                    raise value
                document = mapped_document(value, self.names)
            except MalformedRecord as error:
                message = str(error) if str(error).startswith("element") else f"element {number}: {error}"
                result.skip(error.reason, ReadError(0, message, line=line))
                continue
            batch = builder.add_document(result, number, document)
            if batch is not None:
                yield batch
        if elements.truncated:
            result.skip("read.truncated", ReadError(0, f"stopped reading: {elements.truncated}"))
        batch = builder.flush()
        if batch is not None:
            yield batch
