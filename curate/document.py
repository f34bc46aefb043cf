"""The document schema: the columns readers produce and the writer keeps.

Readers emit ``READER_SCHEMA``. ``source`` and ``source_offset`` locate a
document in its input: the byte offset of its WARC record, of its line (JSON
lines, MNBVC) or array element (WuDao) in the decompressed text, or its row
(Parquet, from 1). None depends on how the file was cut into units.
``source_id`` is the source's own id and ``metadata`` a JSON object of the
source fields a config keeps (text inputs only). Stages add their own columns (declared in
``Stage.writes``). ``TRANSIENT_COLUMNS`` travel between stages inside a unit
(the raw HTML, its HTTP content type and language, Common Crawl's identified
languages, MinHash band keys) but are never written to the output.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

import pyarrow as pa

READER_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("domain", pa.string()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("source_offset", pa.int64(), nullable=False),
        pa.field("fetch_time", pa.timestamp("s", tz="UTC")),
        pa.field("html", pa.binary()),
        pa.field("http_content_type", pa.string()),
        pa.field("http_content_language", pa.string()),
        pa.field("warc_identified_language", pa.string()),
        pa.field("text", pa.string()),
        pa.field("warc_record_id", pa.string()),
        pa.field("payload_digest", pa.string()),
        pa.field("source_id", pa.string()),
        pa.field("metadata", pa.string()),
    ]
)

TRANSIENT_COLUMNS = frozenset(
    {"html", "http_content_type", "http_content_language", "warc_identified_language", "minhash_bands"}
)


def document_id(source_name: str, offset: int, url: str | None) -> str:
    """A stable id: the same record of the same input file always gets the same id."""
    digest = hashlib.sha1(f"{source_name}\0{offset}\0{url or ''}".encode()).hexdigest()
    return digest[:24]


def host_of(url: str | None) -> str | None:
    """The ``domain`` of a document: its URL's host, lower case (None without a parsable URL)."""
    if not url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.lower() if host else None


def output_schema(schema: pa.Schema, keep: frozenset[str] | set[str] = frozenset()) -> pa.Schema:
    """The schema written to Parquet: everything but the transient columns, except those in
    ``keep`` (a later pass's stages read them)."""
    return pa.schema([f for f in schema if f.name not in TRANSIENT_COLUMNS or f.name in keep])


def pipeline_schema(stage_classes: list) -> pa.Schema:
    """Columns after every stage has run: the reader's plus each stage's, in order."""
    schema = READER_SCHEMA
    for stage_class in stage_classes:
        for column in stage_class.writes:
            index = schema.get_field_index(column.name)
            schema = schema.set(index, column) if index >= 0 else schema.append(column)
    return schema
