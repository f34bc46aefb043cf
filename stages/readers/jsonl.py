"""Read JSON Lines (plain, ``.gz`` or ``.zst``, streamed) into text documents.

Field names come from ``input.fields`` (defaults: ``text``, ``id``, ``url``).
Drops, each counted with its line number:

- ``read.bad_json``: a line that is not a JSON object (or not UTF-8);
- ``read.bad_field``: a mapped field of the wrong type (a number or list as text);
- ``read.missing_text``: no text field, or an empty one;
- ``read.truncated``: the compressed stream is cut off; the lines before it are used.

Blank lines are skipped without a count.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pyarrow as pa

from stages.readers.base import (
    BatchBuilder,
    Document,
    InputConfig,
    MalformedRecord,
    ReadError,
    ReadResult,
    mapped_document,
)
from stages.readers.compressed import TruncatedInput, numbered_lines


def parse_json_line(line: bytes) -> object:
    try:
        return json.loads(line)
    except UnicodeDecodeError as error:
        raise MalformedRecord("read.bad_json", f"not UTF-8: {error.reason} at byte {error.start}") from error
    except ValueError as error:
        raise MalformedRecord("read.bad_json", f"not JSON: {error}") from error


def read_json_lines(
    path: str, result: ReadResult, builder: BatchBuilder, documents_of: Callable[[object], list[Document]]
) -> Iterator[pa.RecordBatch]:
    """Shared loop of the line-based readers: ``documents_of(record)`` gives
    (text, source id, url, metadata) tuples or raises MalformedRecord."""
    lines = numbered_lines(path)
    while True:
        try:
            item = next(lines, None)
        except TruncatedInput as error:
            result.skip("read.truncated", ReadError(error.offset, str(error), line=error.line))
            break
        if item is None:
            break
        number, offset, line = item
        if not line.strip():
            continue
        result.records += 1
        try:
            documents = documents_of(parse_json_line(line))
        except MalformedRecord as error:
            result.skip(error.reason, ReadError(offset, str(error), line=number))
            continue
        for document in documents:
            batch = builder.add_document(result, number, document)
            if batch is not None:
                yield batch
    batch = builder.flush()
    if batch is not None:
        yield batch


class JsonlReader:
    """One JSON object per line; one document per object."""

    def __init__(self, config: InputConfig) -> None:
        self.config = config
        self.names = config.field_names()

    def read(self, path: str, result: ReadResult) -> Iterator[pa.RecordBatch]:
        builder = BatchBuilder(path, self.config.batch_size)
        yield from read_json_lines(path, result, builder, lambda record: [mapped_document(record, self.names)])
