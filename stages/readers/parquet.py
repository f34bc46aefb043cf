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
from stages.readers.base import BatchBuilder, InputConfig, MalformedRecord, ReadError, ReadResult, mapped_document


class ParquetSchemaError(ValueError):
    pass


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

    def read(self, path: str, result: ReadResult) -> Iterator[pa.RecordBatch]:
        builder = BatchBuilder(path, self.config.batch_size)
        with open_random_access(path) as handle:
            parquet = pq.ParquetFile(handle)
            columns = self._columns(parquet.schema_arrow, path)
            row = 0
            for table in parquet.iter_batches(batch_size=max(self.config.batch_size, 1024), columns=columns):
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
