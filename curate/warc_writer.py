"""Write WARC/1.1 files the way Common Crawl does: one gzip member per record.

Used to build the shipped sample crawl, test fixtures and benchmark inputs from
HTML pages, keeping the page bytes exactly as given (no re-encoding). Output is
byte-identical for identical input (gzip mtime 0, record ids derived from content).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import uuid
from typing import BinaryIO


def _sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


def record_id(*parts: str) -> str:
    return f"<urn:uuid:{uuid.UUID(hashlib.md5(chr(0).join(parts).encode('utf-8')).hexdigest())}>"


def http_response_block(body: bytes, content_type: str | None, extra_headers: dict[str, str] | None = None, status: str = "200 OK") -> bytes:
    headers = [f"HTTP/1.1 {status}"]
    if content_type is not None:
        headers.append(f"Content-Type: {content_type}")
    for name, value in (extra_headers or {}).items():
        headers.append(f"{name}: {value}")
    headers.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode("iso-8859-1") + body


def write_record(
    out: BinaryIO,
    record_type: str,
    block: bytes,
    *,
    target_uri: str | None = None,
    date: str = "2024-05-01T00:00:00Z",
    headers: dict[str, str] | None = None,
    compress: bool = True,
) -> int:
    """Append one record; return the number of bytes written."""
    lines = [
        "WARC/1.1",
        f"WARC-Type: {record_type}",
        f"WARC-Date: {date}",
        f"WARC-Record-ID: {record_id(record_type, target_uri or '', date, hashlib.sha1(block).hexdigest())}",
    ]
    if target_uri:
        lines.append(f"WARC-Target-URI: {target_uri}")
    content_type = {
        "response": "application/http; msgtype=response",
        "request": "application/http; msgtype=request",
        "warcinfo": "application/warc-fields",
        "metadata": "application/warc-fields",
        "conversion": "text/plain",
    }.get(record_type, "application/octet-stream")
    lines.append(f"Content-Type: {content_type}")
    lines.append(f"WARC-Block-Digest: {_sha1_b32(block)}")
    if record_type == "response":
        split = block.find(b"\r\n\r\n")
        if split >= 0:
            lines.append(f"WARC-Payload-Digest: {_sha1_b32(block[split + 4:])}")
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    lines.append(f"Content-Length: {len(block)}")
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + block + b"\r\n\r\n"
    data = gzip.compress(raw, mtime=0) if compress else raw
    out.write(data)
    return len(data)


def write_response(
    out: BinaryIO,
    url: str,
    body: bytes,
    content_type: str | None = "text/html; charset=utf-8",
    *,
    date: str = "2024-05-01T00:00:00Z",
    http_headers: dict[str, str] | None = None,
    warc_headers: dict[str, str] | None = None,
    compress: bool = True,
) -> int:
    """Append an HTTP response record for ``url`` with ``body`` as its exact payload bytes."""
    block = http_response_block(body, content_type, http_headers)
    return write_record(out, "response", block, target_uri=url, date=date, headers=warc_headers, compress=compress)
