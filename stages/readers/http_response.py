"""The HTTP response stored in a WARC ``response`` record: status, headers and decoded body.

Decoding is bounded: a body whose transfer and content encodings (chunked,
gzip, deflate) are undone is never allowed to grow past ``max_body_bytes``. A
2 KB gzip member can inflate to 1 GiB, so the decoder is asked for at most the
cap plus one byte and a longer result raises ``BodyTooLarge`` instead of being
built. Other encodings (br, zstd) are left as stored: Common Crawl keeps
decoded payloads, and extraction finds no text in the rest.
"""

from __future__ import annotations

import sys
import zlib
from dataclasses import dataclass


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes


class HttpFramingError(ValueError):
    pass


class BodyTooLarge(ValueError):
    """The decoded body would exceed the cap; decoding stopped there."""


def parse_http_response(block: bytes, max_body_bytes: int | None = None) -> HttpResponse:
    """Split an HTTP/1.x response block into status, headers (lower-cased names) and decoded body.

    Raises HttpFramingError for a block that is not an HTTP response, BodyTooLarge for a body
    over ``max_body_bytes`` once decoded."""
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
    cap = max_body_bytes if max_body_bytes is not None else sys.maxsize - 1
    body = block[end + sep :]
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _dechunk(body)  # never longer than what it decodes
    body = _decode_content_encoding(body, headers.get("content-encoding", "").lower(), cap)
    if len(body) > cap:
        raise BodyTooLarge(f"body of {len(body)} bytes")
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


def _inflate(body: bytes, wbits: int, cap: int) -> tuple[bytes, bool]:
    """(at most ``cap`` decoded bytes, whether the stream ended); BodyTooLarge past the cap."""
    decoder = zlib.decompressobj(wbits=wbits)
    out = decoder.decompress(body, cap + 1)
    if len(out) > cap:
        raise BodyTooLarge(f"body inflates past {cap} bytes")
    return out, decoder.eof


def _decode_content_encoding(body: bytes, encoding: str, cap: int) -> bytes:
    # Common Crawl stores decoded payloads but some crawlers keep the encoded
    # bytes; decode only when the bytes really are compressed.
    if encoding in ("gzip", "x-gzip") and body[:2] == b"\x1f\x8b":
        try:
            # A streaming decoder keeps what precedes a cut-off end (truncated captures).
            return _inflate(body, zlib.MAX_WBITS | 16, cap)[0]
        except zlib.error:
            return body
    if encoding == "deflate":
        # zlib-wrapped as the RFC says, or raw deflate as some servers send; only a
        # complete stream counts (bytes that merely start like deflate are not decoded).
        for wbits in (zlib.MAX_WBITS, -zlib.MAX_WBITS):
            try:
                out, complete = _inflate(body, wbits, cap)
            except zlib.error:
                continue
            if complete:
                return out
    return body
