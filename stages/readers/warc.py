"""Read WARC and WET files into document batches.

Keeps HTTP ``response`` records with an HTML payload (and WET ``conversion``
records, whose text skips extraction). Everything else is counted as a drop
with its reason, so the funnel's first step adds up:

- ``read.record_<type>``: request, metadata, revisit, warcinfo, resource ... records;
- ``read.http_status``: responses whose HTTP status is not 2xx (redirects, errors);
- ``read.not_html``: payload types other than HTML/XHTML (images, PDFs, scripts);
- ``read.payload_too_large``: records over ``max_payload_bytes`` (never read into memory);
- ``read.empty_payload``: responses with no body;
- ``read.corrupt_record``: a truncated record, bad HTTP framing, or a file that stops
  being readable (bad gzip data, invalid header). The error and byte offset are kept
  for the manifest; the records before it are still used.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

import pyarrow as pa
from fastwarc.warc import ArchiveIterator, WarcRecordType

from curate.document import READER_SCHEMA, document_id, host_of
from curate.storage import display_name, open_input
from curate.warc_writer import sha1_b32
from stages.readers.base import InputConfig, ReadError, ReadResult

HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes


class HttpFramingError(ValueError):
    pass


def parse_http_response(block: bytes) -> HttpResponse:
    """Split an HTTP/1.x response block into status, headers (lower-cased names) and decoded body."""
    end = block.find(b"\r\n\r\n")
    sep = 4
    if end < 0:
        end, sep = block.find(b"\n\n"), 2
    if end < 0:
        raise HttpFramingError("no end of HTTP headers")
    head = block[:end].decode("iso-8859-1").splitlines()
    if not head or not head[0].startswith("HTTP/"):
        raise HttpFramingError(f"not an HTTP status line: {head[0][:60] if head else ''!r}")
    parts = head[0].split(None, 2)
    try:
        status = int(parts[1])
    except (IndexError, ValueError) as error:
        raise HttpFramingError(f"bad HTTP status line {head[0][:60]!r}") from error
    headers: dict[str, str] = {}
    for line in head[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    body = block[end + sep :]
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _dechunk(body)
    body = _decode_content_encoding(body, headers.get("content-encoding", "").lower())
    return HttpResponse(status, headers, body)


def _dechunk(body: bytes) -> bytes:
    # Some crawlers store the chunked wire format; when the framing does not
    # parse, the payload was stored already de-chunked.
    out, pos = bytearray(), 0
    try:
        while pos < len(body):
            line_end = body.index(b"\r\n", pos)
            size = int(body[pos:line_end].split(b";")[0].strip() or b"0", 16)
            if size == 0:
                return bytes(out)
            start = line_end + 2
            out += body[start : start + size]
            pos = start + size + 2
    except ValueError:
        return body
    return bytes(out)


def _decode_content_encoding(body: bytes, encoding: str) -> bytes:
    # Common Crawl stores decoded payloads but some crawlers keep the encoded
    # bytes; decode only when the bytes really are compressed.
    if encoding in ("gzip", "x-gzip") and body[:2] == b"\x1f\x8b":
        try:
            # A streaming decoder keeps what precedes a cut-off end (truncated captures).
            return zlib.decompressobj(wbits=zlib.MAX_WBITS | 16).decompress(body)
        except zlib.error:
            return body
    if encoding == "deflate":
        for wbits in (zlib.MAX_WBITS, -zlib.MAX_WBITS):
            try:
                return zlib.decompress(body, wbits)
            except zlib.error:
                continue
    return body


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


class WarcReader:
    """Streams one WARC/WET file as Arrow batches of READER_SCHEMA."""

    def __init__(self, config: InputConfig) -> None:
        self.config = config

    def read(self, path: str, result: ReadResult) -> Iterator[pa.RecordBatch]:
        """Yield batches from ``path``; counts and errors accumulate in ``result``."""
        stats = result.stats
        source_name = display_name(path)
        rows: dict[str, list] = {name: [] for name in READER_SCHEMA.names}
        ordinal = 0
        offset = 0
        cap = self.config.max_payload_bytes

        def drop(reason: str) -> None:
            stats.docs_in += 1
            stats.drops[reason] += 1

        with open_input(path) as stream:
            iterator = iter(ArchiveIterator(stream, parse_http=False))
            while True:
                try:
                    record = next(iterator)
                except StopIteration:
                    break
                except Exception as error:  # fastwarc raises OSError/ValueError subtypes for bad bytes
                    result.errors.append(ReadError(offset, f"stopped reading: {error}"))
                    drop("read.corrupt_record")
                    break
                ordinal += 1
                offset = record.stream_pos
                result.records += 1
                record_type = record.record_type
                if record_type not in (WarcRecordType.response, WarcRecordType.conversion):
                    drop(f"read.record_{str(record_type).rsplit('.', 1)[-1]}")
                    continue
                if record.content_length > cap:
                    drop("read.payload_too_large")
                    continue
                block = record.reader.read()
                if len(block) < record.content_length:
                    result.errors.append(
                        ReadError(offset, f"truncated record: {len(block)} of {record.content_length} bytes")
                    )
                    drop("read.corrupt_record")
                    continue
                url = (record.headers.get("WARC-Target-URI") or "").strip().strip("<>") or None
                text = html = content_type = content_language = None
                if record_type == WarcRecordType.conversion:
                    text = block.decode("utf-8", errors="replace")
                else:
                    try:
                        response = parse_http_response(block)
                    except HttpFramingError as error:
                        result.errors.append(ReadError(offset, f"bad HTTP response: {error}"))
                        drop("read.corrupt_record")
                        continue
                    if not 200 <= response.status < 300:
                        drop("read.http_status")
                        continue
                    content_type = response.headers.get("content-type")
                    content_language = response.headers.get("content-language")
                    identified = _mime_type(record.headers.get("WARC-Identified-Payload-Type"))
                    mime = _mime_type(content_type)
                    if not response.body:
                        drop("read.empty_payload")
                        continue
                    if mime not in HTML_TYPES and identified not in HTML_TYPES:
                        # A missing or generic type is judged by the bytes themselves.
                        if mime not in ("", "application/octet-stream", "text/plain") or not _looks_like_html(
                            response.body
                        ):
                            drop("read.not_html")
                            continue
                    html = response.body
                payload = html if html is not None else block
                stats.docs_in += 1
                stats.docs_out += 1
                rows["id"].append(document_id(source_name, offset, f"{ordinal}\0{url or ''}"))
                rows["url"].append(url)
                rows["domain"].append(host_of(url))
                rows["source"].append(path)
                rows["source_offset"].append(offset)
                rows["fetch_time"].append(_parse_warc_date(record.headers.get("WARC-Date")))
                rows["html"].append(html)
                rows["http_content_type"].append(content_type)
                rows["http_content_language"].append(content_language)
                rows["warc_identified_language"].append(record.headers.get("WARC-Identified-Content-Language"))
                rows["text"].append(text)
                rows["warc_record_id"].append((record.headers.get("WARC-Record-ID") or "").strip().strip("<>") or None)
                rows["payload_digest"].append(sha1_b32(payload))
                rows["source_id"].append(None)
                rows["metadata"].append(None)
                if len(rows["id"]) >= self.config.batch_size:
                    yield pa.RecordBatch.from_pydict(rows, schema=READER_SCHEMA)
                    rows = {name: [] for name in READER_SCHEMA.names}
        if rows["id"]:
            yield pa.RecordBatch.from_pydict(rows, schema=READER_SCHEMA)
