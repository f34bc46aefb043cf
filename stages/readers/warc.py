"""Read WARC and WET files into document batches.

Keeps HTTP ``response`` records with an HTML payload (and WET ``conversion``
records, whose text skips extraction). Everything else is counted as a drop
with its reason, so the funnel's first step adds up:

- ``read.record_<type>``: request, metadata, revisit, warcinfo, resource ... records;
- ``read.http_status``: responses whose HTTP status is not 2xx (redirects, errors);
- ``read.not_html``: payload types other than HTML/XHTML (images, PDFs, scripts);
- ``read.payload_too_large``: records over ``max_payload_bytes`` (never read into
  memory), and responses whose body, decoded (chunked, gzip, deflate), would pass
  ``max_decoded_bytes`` (decoding stops at the cap: a 2 KB record can hold 1 GiB);
- ``read.empty_payload``: responses with no body;
- ``read.corrupt_record``: a truncated record, bad HTTP framing, or bytes fastwarc
  cannot read (a bad gzip member, an invalid or oversized header, a wrong
  Content-Length). Reading resumes at the next record start after the damage
  (see ``warc_records``); the error, its byte offset and the bytes skipped are kept
  for the manifest. A record with a wrong Content-Length is found out only when the
  next record does not follow it, so each record's outcome is counted once the next
  one is read (its row stays in the batch being built until then): a record found
  corrupt then gives nothing but its ``read.corrupt_record`` (a too large length
  would have put the bytes it ran into on the end of its HTML).

``ReadResult.records`` counts every record, the corrupt ones included, so it equals
the documents plus the drops (but for a file with no readable record at all, see
``warc_records``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import NamedTuple

import pyarrow as pa
from fastwarc.warc import WarcRecord, WarcRecordType

from curate.document import READER_SCHEMA, document_id, host_of
from curate.storage import display_name, open_input
from curate.warc_writer import sha1_b32
from stages.readers.base import WHOLE, InputConfig, ReadError, ReadResult, Span
from stages.readers.http_response import BodyTooLarge, HttpFramingError, HttpResponse, parse_http_response
from stages.readers.warc_records import WarcRecords

__all__ = ["HttpFramingError", "HttpResponse", "WarcReader", "parse_http_response"]

HTML_TYPES = ("text/html", "application/xhtml+xml")
KEPT_TYPES = (WarcRecordType.response, WarcRecordType.conversion)


def _mime_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def _looks_like_html(body: bytes) -> bool:
    head = body[:1024].lstrip().lower()
    return head.startswith(b"<!doctype html") or b"<html" in head or b"<head" in head or b"<body" in head


def _parse_warc_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).replace(microsecond=0)


Page = tuple[str | None, bytes | None, str | None, str | None, bytes]
"""(text, html, HTTP content type, HTTP content language, the payload its digest is of)."""


class Drop(NamedTuple):
    """A record that yields no document: why, and the error kept for the manifest."""

    reason: str
    error: ReadError | None = None


class WarcReader:
    """Streams one WARC/WET file as Arrow batches of READER_SCHEMA."""

    def __init__(self, config: InputConfig) -> None:
        self.config = config

    def read(self, path: str, result: ReadResult, span: Span = WHOLE) -> Iterator[pa.RecordBatch]:
        """Yield batches from ``path`` (or the records of its range ``span``); counts and errors
        accumulate in ``result``."""
        source_name = display_name(path)
        rows: dict[str, list] = {name: [] for name in READER_SCHEMA.names}
        with open_input(path, span.start, span.end) as stream:
            records = WarcRecords(stream, result, span.start)
            pending: tuple[int, Page | Drop | None] | None = None
            for record in records:
                # Reading this record shows whether the one before ended where it said.
                _settle(pending, records, result, rows)
                if len(rows["id"]) >= self.config.batch_size:
                    yield pa.RecordBatch.from_pydict(rows, schema=READER_SCHEMA)
                    rows = {name: [] for name in READER_SCHEMA.names}
                result.records += 1
                page = self._page(record, records)
                if page is not None and not isinstance(page, Drop):
                    _add_row(rows, path, source_name, record, page)
                pending = (record.stream_pos, page)
            _settle(pending, records, result, rows)
        if rows["id"]:
            yield pa.RecordBatch.from_pydict(rows, schema=READER_SCHEMA)

    def _page(self, record: WarcRecord, records: WarcRecords) -> Page | Drop | None:
        """The record's page, why it is dropped, or None when its bytes are damaged."""
        record_type = record.record_type
        if record_type not in KEPT_TYPES:
            return Drop(f"read.record_{str(record_type).rsplit('.', 1)[-1]}")
        if record.content_length > self.config.max_payload_bytes:
            return Drop("read.payload_too_large")
        block = records.read_block(record)
        if block is None:
            return None  # damaged bytes: counted where reading resumes
        offset = record.stream_pos
        if len(block) < record.content_length:
            message = f"truncated record: {len(block)} of {record.content_length} bytes"
            return Drop("read.corrupt_record", ReadError(offset, message))
        if record_type == WarcRecordType.conversion:
            return block.decode("utf-8", errors="replace"), None, None, None, block
        try:
            response = parse_http_response(block, self.config.max_decoded_bytes)
        except HttpFramingError as error:
            return Drop("read.corrupt_record", ReadError(offset, f"bad HTTP response: {error}"))
        except BodyTooLarge:
            return Drop("read.payload_too_large")
        reason = _response_drop(record, response)
        if reason is not None:
            return Drop(reason)
        headers = response.headers
        return None, response.body, headers.get("content-type"), headers.get("content-language"), response.body


def _response_drop(record: WarcRecord, response: HttpResponse) -> str | None:
    """Why a parsed HTTP response is not an HTML page, if it is not."""
    if not 200 <= response.status < 300:
        return "read.http_status"
    if not response.body:
        return "read.empty_payload"
    mime = _mime_type(response.headers.get("content-type"))
    identified = _mime_type(record.headers.get("WARC-Identified-Payload-Type"))
    if mime not in HTML_TYPES and identified not in HTML_TYPES:
        # A missing or generic type is judged by the bytes themselves.
        if mime not in ("", "application/octet-stream", "text/plain") or not _looks_like_html(response.body):
            return "read.not_html"
    return None


def _settle(
    pending: tuple[int, Page | Drop | None] | None, records: WarcRecords, result: ReadResult, rows: dict
) -> None:
    """Count the last record's outcome; one found corrupt once the next was read (``records.blamed``,
    counted as read.corrupt_record where reading resumed) gives nothing: its row, the last added, goes."""
    if pending is None:
        return
    start, outcome = pending
    if outcome is None:
        return
    if records.blamed == start:
        if not isinstance(outcome, Drop):
            for column in rows.values():
                column.pop()
        return
    if isinstance(outcome, Drop):
        result.skip(outcome.reason, outcome.error)
        return
    result.stats.docs_in += 1
    result.stats.docs_out += 1


def _add_row(rows: dict[str, list], path: str, source_name: str, record: WarcRecord, page: Page) -> None:
    text, html, content_type, content_language, payload = page
    headers = record.headers
    url = (headers.get("WARC-Target-URI") or "").strip().strip("<>") or None
    offset = record.stream_pos
    # By file and offset alone: a record read in a unit's range gets the id it gets read whole.
    rows["id"].append(document_id(source_name, offset, url))
    rows["url"].append(url)
    rows["domain"].append(host_of(url))
    rows["source"].append(path)
    rows["source_offset"].append(offset)
    rows["fetch_time"].append(_parse_warc_date(headers.get("WARC-Date")))
    rows["html"].append(html)
    rows["http_content_type"].append(content_type)
    rows["http_content_language"].append(content_language)
    rows["warc_identified_language"].append(headers.get("WARC-Identified-Content-Language"))
    rows["text"].append(text)
    rows["warc_record_id"].append((headers.get("WARC-Record-ID") or "").strip().strip("<>") or None)
    rows["payload_digest"].append(sha1_b32(payload))
    rows["source_id"].append(None)
    rows["metadata"].append(None)
