"""What every reader shares: the ``input`` config, read results, and the batch builder.

A reader turns one input file into Arrow batches of ``READER_SCHEMA`` and
counts what it could not use. Bad pieces of a file (a corrupt WARC record, a
JSON line that does not parse, a field of the wrong type, a cut-off
compressed stream) are skipped and counted as ``read.*`` drops, with their
line or byte offset kept for the manifest; the rest of the file is still used.

Memory stays bounded whatever the file holds: records and lines over the
``input`` caps are passed over unread (``read.payload_too_large``,
``read.line_too_large``), decompression never inflates more than a bounded
step at a time, and only the first ``MAX_ERRORS_KEPT`` errors of a file are kept
(the rest are counted in ``ReadResult.error_count``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa

from curate.config_schema import ConfigError, bounds
from curate.document import READER_SCHEMA, document_id, host_of
from curate.stage import StageStats
from curate.storage import WHOLE, Span  # noqa: F401 - re-exported: every reader takes a Span
from curate.warc_writer import sha1_b32

Format = Literal["warc", "wet", "jsonl", "parquet", "wudao", "mnbvc"]
TEXT_FORMATS = frozenset({"wet", "jsonl", "parquet", "wudao", "mnbvc"})
"""Formats whose documents arrive as text: stages that need the page's HTML cannot run on them."""
MAPPED_FORMATS = frozenset({"jsonl", "parquet", "wudao"})
"""Formats whose field names ``input.fields`` may set."""


@dataclass
class FieldMap:
    """Which fields (JSON keys or Parquet columns) hold the document; dotted names reach into
    nested objects (``meta.url``). Unset names take the format's defaults."""

    text: str | None = None
    """jsonl/parquet: ``text``; wudao: ``content``."""
    title: str | None = None
    """Joined before the text with a newline. wudao: ``title``; others: none."""
    id: str | None = None
    """The source's own id, kept as ``source_id`` (ids are ours: stable hashes). Default ``id``."""
    url: str | None = None
    """Default ``url`` (absent in WuDao)."""
    metadata: list[str] | None = None
    """Fields kept as a JSON object in ``metadata``. wudao: dataType, uniqueKey, titleUkey."""


FORMAT_FIELDS: dict[str, dict[str, Any]] = {
    "jsonl": {"text": "text", "title": None, "id": "id", "url": "url", "metadata": []},
    "parquet": {"text": "text", "title": None, "id": "id", "url": "url", "metadata": []},
    "wudao": {
        "text": "content",
        "title": "title",
        "id": "id",
        "url": None,
        "metadata": ["dataType", "uniqueKey", "titleUkey"],
    },
}


@dataclass
class InputConfig:
    """The ``input`` section of a pipeline config."""

    paths: list[str]
    """Files or globs, local or ``s3://...``; relative ones resolve against the config file's folder."""
    format: Format = "warc"
    """warc (HTML pages), wet (Common Crawl text), jsonl, parquet, wudao (WuDaoCorpora JSON
    arrays) or mnbvc (MNBVC JSON lines). JSON inputs may be ``.gz``, ``.zst`` or ``.bz2``."""
    fields: FieldMap = field(default_factory=FieldMap)
    max_payload_bytes: int = field(default=4 * 1024 * 1024, metadata=bounds(1024))
    """WARC records with a larger block (their Content-Length, as stored) are skipped unread
    (``read.payload_too_large``). 4 MiB holds every Common Crawl record (its crawler truncates
    payloads at 1 MiB since 2013) with room for other crawlers' larger pages."""
    max_decoded_bytes: int = field(default=20_000_000, metadata=bounds(1024))
    """WARC responses whose HTTP body, once its chunked transfer and gzip/deflate content
    encoding are undone, is larger are dropped (``read.payload_too_large``); decoding stops at
    the cap, so a 2 KB record that inflates to 1 GiB costs 20 MB, not 1 GiB. The default is
    trafilatura's MAX_FILE_SIZE: extraction refuses a larger page anyway."""
    max_line_bytes: int = field(default=20_000_000, metadata=bounds(1024))
    """jsonl and mnbvc lines longer than this many bytes, and wudao array elements longer than
    this many characters, are dropped (``read.line_too_large``) and passed over as they stream
    by, never held whole. The default matches ``max_decoded_bytes``: a corpus document may be
    as large as the largest page the WARC path keeps, and parsing one line of that size stays
    in the hundreds of MB even for the worst JSON (``[{},{},...]`` grows ~20x)."""
    batch_size: int = field(default=256, metadata=bounds(1, 1_000_000))
    """Documents per Arrow batch travelling through the stages of one unit."""

    def check(self, path: str) -> None:
        if not self.paths:
            raise ConfigError(f"{path}.paths", "expected at least one input path or glob")
        given = [name for name, value in vars(self.fields).items() if value is not None]
        if given and self.format not in MAPPED_FORMATS:
            raise ConfigError(
                f"{path}.fields.{given[0]}",
                f"input.format {self.format!r} has a fixed layout; "
                f"fields apply to {', '.join(sorted(MAPPED_FORMATS))}",
            )

    def field_names(self) -> dict[str, Any]:
        """The effective field map: the config's names over the format's defaults."""
        names = dict(FORMAT_FIELDS.get(self.format, {}))
        names.update({k: v for k, v in vars(self.fields).items() if v is not None})
        return names


@dataclass
class ReadError:
    offset: int
    """Byte offset (WARC), or of the line in the decompressed stream (JSON inputs)."""
    error: str
    line: int | None = None
    """1-based line (jsonl, mnbvc, wudao) or row (parquet) of the bad piece; a unit reading a
    range of a text file that starts past its beginning cannot know it and leaves it out."""

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"offset": self.offset, "error": self.error}
        if self.line is not None:
            out["line"] = self.line
        return out


MAX_ERRORS_KEPT = 100
"""Errors kept per file with their offsets, as many as the manifest lists; later ones are only
counted, so a file of a billion bad lines holds a hundred."""


@dataclass
class ReadResult:
    """What reading one file produced besides its batches."""

    stats: StageStats = field(default_factory=lambda: StageStats("read"))
    errors: list[ReadError] = field(default_factory=list)
    """The first ``MAX_ERRORS_KEPT`` errors; ``error_count`` counts them all."""
    error_count: int = 0
    """Errors met in the file, kept in ``errors`` or not."""
    records: int = 0
    """Records (WARC), lines (JSON lines), array elements (WuDao) or rows (Parquet) read."""
    skipped_bytes: int = 0
    """Bytes passed over unread after damage: in a WARC file from where the bad record starts to
    the next record read (a corrupt gzip member, a record fastwarc cannot parse); in a compressed
    text input, the compressed bytes from the damage to the next gzip member, zstd frame or bz2
    stream that decodes."""

    def add_error(self, error: ReadError) -> None:
        """Count an error; keep it for the manifest while fewer than MAX_ERRORS_KEPT are."""
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(error)

    def skip(self, reason: str, error: ReadError | None = None, count: int = 1) -> None:
        """Count ``count`` unusable records as drops; keep the error for the manifest."""
        self.stats.docs_in += count
        self.stats.drops[reason] += count
        if error is not None:
            self.add_error(error)


class MalformedRecord(ValueError):
    """One record of a text input that cannot become a document; ``reason`` is its drop reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def get_field(record: dict[str, Any], name: str) -> Any:
    """``record[name]``, following dots into nested objects; None when absent."""
    value: Any = record
    for part in name.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def text_field(record: dict[str, Any], name: str, *, required: bool) -> str | None:
    value = get_field(record, name)
    if value is None:
        if required:
            raise MalformedRecord("read.missing_text", f"no {name!r} field")
        return None
    if not isinstance(value, str):
        raise MalformedRecord("read.bad_field", f"field {name!r} is {type(value).__name__}, expected a string")
    return value


def scalar_field(record: dict[str, Any], name: str | None) -> str | None:
    """An id or URL: strings as they are, numbers as text, anything else is malformed."""
    if not name:
        return None
    value = get_field(record, name)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise MalformedRecord("read.bad_field", f"field {name!r} is {type(value).__name__}, expected a string or number")


def metadata_json(record: dict[str, Any], names: list[str]) -> str | None:
    kept = {name: get_field(record, name) for name in names}
    kept = {k: v for k, v in kept.items() if v is not None}
    return json.dumps(kept, ensure_ascii=False, sort_keys=True, default=str) if kept else None


Document = tuple[str, str | None, str | None, str | None]
"""(text, source id, url, metadata JSON) of one text record."""


def mapped_document(record: Any, names: dict[str, Any]) -> Document:
    """(text, source id, url, metadata JSON) of one record under a field map."""
    if not isinstance(record, dict):
        raise MalformedRecord("read.bad_json", f"expected a JSON object, got {type(record).__name__}")
    text = text_field(record, names["text"], required=True)
    title = text_field(record, names["title"], required=False) if names.get("title") else None
    if title and title.strip() and not text.lstrip().startswith(title.strip()):
        text = f"{title.strip()}\n{text}"
    if not text.strip():
        raise MalformedRecord("read.missing_text", f"field {names['text']!r} is empty")
    return (
        text,
        scalar_field(record, names.get("id")),
        scalar_field(record, names.get("url")),
        metadata_json(record, names.get("metadata") or []),
    )


class BatchBuilder:
    """Collects documents of one source file into READER_SCHEMA batches of ``batch_size`` rows."""

    def __init__(self, path: str, batch_size: int) -> None:
        from curate.storage import display_name

        self.path = path
        self.source_name = display_name(path)
        self.batch_size = batch_size
        self.rows: dict[str, list] = {name: [] for name in READER_SCHEMA.names}

    def add_document(self, result: ReadResult, position: int, document: Document) -> pa.RecordBatch | None:
        """Count and add a text document found at ``position`` (the byte offset of its line or
        element in the decompressed text, or its row number); return a full batch, if any."""
        text, source_id, url, metadata = document
        result.stats.docs_in += 1
        result.stats.docs_out += 1
        rows = self.rows
        rows["id"].append(document_id(self.source_name, position, url))
        rows["url"].append(url)
        rows["domain"].append(host_of(url))
        rows["source"].append(self.path)
        rows["source_offset"].append(position)
        rows["text"].append(text)
        rows["source_id"].append(source_id)
        rows["metadata"].append(metadata)
        # The digest lets the URL-change screen compare versions of a page across inputs.
        rows["payload_digest"].append(sha1_b32(text.encode("utf-8")))
        for name in (
            "fetch_time",
            "html",
            "http_content_type",
            "http_content_language",
            "warc_identified_language",
            "warc_record_id",
        ):
            rows[name].append(None)
        return self.flush() if len(rows["id"]) >= self.batch_size else None

    def flush(self) -> pa.RecordBatch | None:
        if not self.rows["id"]:
            return None
        batch = pa.RecordBatch.from_pydict(self.rows, schema=READER_SCHEMA)
        self.rows = {name: [] for name in READER_SCHEMA.names}
        return batch
