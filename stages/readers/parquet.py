"""Read Parquet files (a corpus already in columns) into text documents.

Column names come from ``input.fields`` (defaults: ``text``, ``id``, ``url``;
dotted names reach into struct columns). Only the mapped columns are read, a
row group at a time. A file whose text column is missing or not a string
column cannot be used at all and fails its unit with that message. Drops,
each counted with its row number (from 1):

- ``read.missing_text``: a null or empty text;
- ``read.bad_field``: an id or URL value of an unusable type (a list, a map).
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from curate.storage import open_random_access
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


class ParquetSchemaError(ValueError):
    pass


def row_group_start(metadata: pq.FileMetaData, index: int) -> int:
    """The file offset where row group ``index`` starts (its first column chunk's first page)."""
    column = metadata.row_group(index).column(0)
    starts = [column.data_page_offset, column.dictionary_page_offset]
    return min(offset for offset in starts if offset is not None and offset > 0)


def row_groups_in(metadata: pq.FileMetaData, span: Span) -> list[int]:
    """The row groups that start inside ``span``."""
    end = span.end if span.end is not None else float("inf")
    return [g for g in range(metadata.num_row_groups) if span.start <= row_group_start(metadata, g) < end]


class ParquetReader:
    def __init__(self, config: InputConfig) -> None:
        self.config = config
        self.names = config.field_names()

    def _columns(self, schema: pa.Schema, path: str) -> list[str]:
        wanted = [
            self.names["text"],
            self.names.get("title"),
            self.names.get("id"),
            self.names.get("url"),
            *(self.names.get("metadata") or []),
        ]
        top = {name.split(".")[0] for name in wanted if name}
        text_column = self.names["text"].split(".")[0]
        if text_column not in schema.names:
            raise ParquetSchemaError(
                f"{path}: no column {text_column!r} for the text "
                f"(columns: {', '.join(schema.names)}; set input.fields.text)"
            )
        text_type = schema.field(text_column).type
        if "." not in self.names["text"] and not (
            pa.types.is_string(text_type) or pa.types.is_large_string(text_type)
        ):
            raise ParquetSchemaError(f"{path}: column {text_column!r} is {text_type}, expected strings")
        return [name for name in schema.names if name in top]

    def read(self, path: str, result: ReadResult, span: Span = WHOLE) -> Iterator[pa.RecordBatch]:
        """The file's rows, or those of the row groups that start in ``span``; rows are
        numbered in the file, whichever range they are read in."""
        builder = BatchBuilder(path, self.config.batch_size)
        with open_random_access(path) as handle:
            parquet = pq.ParquetFile(handle)
            columns = self._columns(parquet.schema_arrow, path)
            groups = row_groups_in(parquet.metadata, span)
            row = sum(parquet.metadata.row_group(g).num_rows for g in range(groups[0])) if groups else 0
            batches = parquet.iter_batches(
                batch_size=max(self.config.batch_size, 1024), columns=columns, row_groups=groups
            )
            for table in batches:
                for record in table.to_pylist():
                    row += 1
                    result.records += 1
                    try:
                        document = mapped_document(record, self.names)
                    except MalformedRecord as error:
                        result.skip(error.reason, ReadError(0, str(error), line=row))
                        continue
                    batch = builder.add_document(result, row, document)
                    if batch is not None:
                        yield batch
        batch = builder.flush()
        if batch is not None:
            yield batch
