"""Write WARC/1.1 files the way Common Crawl does: one gzip member per record.

Used to build the shipped sample crawl, test fixtures and benchmark inputs from
HTML pages, keeping the page bytes exactly as given (no re-encoding). Output is
byte-identical for identical input (gzip mtime 0, record ids derived from content).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from typing import BinaryIO


def record_id(*parts: object) -> str:
    """A deterministic, RFC 4122 shaped (version 5 style) record id."""
    digest = hashlib.sha1("|".join(str(p) for p in parts).encode("utf-8")).hexdigest()[:32]
    chars = list(digest)
    chars[12] = "5"
    chars[16] = "0123456789abcdef"[(int(chars[16], 16) & 0x3) | 0x8]
    h = "".join(chars)
    return f"<urn:uuid:{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}>"


def sha1_b32(data: bytes) -> str:
    """Common Crawl style digest: ``sha1:`` + base32 of the SHA-1."""
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


def serialize_record(headers: list[tuple[str, str]], block: bytes) -> bytes:
    """One WARC/1.1 record; Content-Length is inserted after the record id."""
    lines = ["WARC/1.1"]
    for name, value in headers:
        lines.append(f"{name}: {value}")
        if name == "WARC-Record-ID":
            lines.append(f"Content-Length: {len(block)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    return head + block + b"\r\n\r\n"


def gzip_member(record: bytes) -> bytes:
    """Compress one record as its own gzip member with a fixed header."""
    return gzip.compress(record, compresslevel=9, mtime=0)


def http_response_block(
    body: bytes, content_type: str | None, extra_headers: dict[str, str] | None = None, status: str = "200 OK"
) -> bytes:
    headers = [f"HTTP/1.1 {status}"]
    if content_type is not None:
        headers.append(f"Content-Type: {content_type}")
    for name, value in (extra_headers or {}).items():
        headers.append(f"{name}: {value}")
    headers.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode("iso-8859-1") + body


_CONTENT_TYPES = {
    "response": "application/http; msgtype=response",
    "request": "application/http; msgtype=request",
    "warcinfo": "application/warc-fields",
    "metadata": "application/warc-fields",
    "conversion": "text/plain",
}


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
    fields = [
        ("WARC-Type", record_type),
        ("WARC-Date", date),
        ("WARC-Record-ID", record_id(record_type, target_uri or "", date, hashlib.sha1(block).hexdigest())),
        ("Content-Type", _CONTENT_TYPES.get(record_type, "application/octet-stream")),
    ]
    if target_uri:
        fields.append(("WARC-Target-URI", target_uri))
    fields.append(("WARC-Block-Digest", sha1_b32(block)))
    if record_type == "response":
        split = block.find(b"\r\n\r\n")
        if split >= 0:
            fields.append(("WARC-Payload-Digest", sha1_b32(block[split + 4 :])))
    fields += list((headers or {}).items())
    raw = serialize_record(fields, block)
    data = gzip_member(raw) if compress else raw
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
