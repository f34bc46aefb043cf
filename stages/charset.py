"""Decode HTML bytes to text without silent mojibake.

Order of evidence: a byte-order mark, the HTTP ``Content-Type`` charset, the
HTML ``<meta>`` charset, then detection. Every candidate is decoded strictly;
one that fails moves on to the next. Labels are widened to their supersets the
way browsers do (GB2312 and GBK pages are decoded as GB18030, Big5 as CP950 /
Big5-HKSCS, ISO-8859-1 as windows-1252), so a GB2312 page using a GBK-only
character still comes out right.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)
_HTTP_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)

# Browser-style supersets; each label lists codecs to try in order.
_SUPERSETS: dict[str, tuple[str, ...]] = {
    "gb2312": ("gb18030",),
    "gbk": ("gb18030",),
    "gb18030": ("gb18030",),
    "big5": ("cp950", "big5hkscs"),
    "big5hkscs": ("big5hkscs", "cp950"),
    "cp950": ("cp950", "big5hkscs"),
    "latin_1": ("cp1252",),
    "iso8859_1": ("cp1252",),
    "ascii": ("cp1252",),
    "cp1252": ("cp1252",),
    "euc_kr": ("cp949",),
    "shift_jis": ("cp932",),
}
# Labels seen on the web that Python does not know.
_WEB_ALIASES = {
    "x-gbk": "gbk",
    "gb_2312-80": "gb2312",
    "x-gb2312": "gb2312",
    "x-big5": "big5",
    "x-sjis": "shift_jis",
    "x-euc-jp": "euc_jp",
}
# Codecs that decode almost any bytes: valid non-ASCII UTF-8 beats their declaration.
_PERMISSIVE = {"gb18030", "cp950", "big5hkscs", "cp949", "cp932", "euc_jp", "cp1252"}
_DETECTABLE = ("utf_8", "gb18030", "big5", "cp932", "cp949", "cp1252")
_REPAIRABLE = ("gb18030", "cp950", "big5hkscs", "cp932", "cp949")
_MAX_REPAIR_RATIO = 0.01
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


@dataclass(frozen=True)
class Decoded:
    text: str
    charset: str
    """The Python codec that decoded the bytes, e.g. ``gb18030``."""
    source: str
    """Where it came from: bom, http, meta, utf8_valid, detected or lossy."""


def _codecs_for(label: str | None) -> tuple[str, ...]:
    if not label:
        return ()
    label = label.strip().lower()
    try:
        name = codecs.lookup(_WEB_ALIASES.get(label, label)).name
    except LookupError:
        return ()
    return _SUPERSETS.get(name.replace("-", "_"), (name,))


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def http_charset(content_type: str | None) -> str | None:
    match = _HTTP_CHARSET.search(content_type or "")
    return match.group(1) if match else None


def meta_charset(html: bytes) -> str | None:
    match = _META_CHARSET.search(html[:8192])
    return match.group(1).decode("ascii", "replace") if match else None


def decode_html(html: bytes, content_type: str | None = None) -> Decoded:
    """Decode ``html`` using, in order, BOM, HTTP header, meta tag and detection."""
    for bom, codec in _BOMS:
        if html.startswith(bom):
            text = _strict(html[len(bom) :], codec)
            if text is not None:
                return Decoded(text, codec, "bom")

    http_codecs = _codecs_for(http_charset(content_type))
    meta_codecs = _codecs_for(meta_charset(html))
    candidates: list[tuple[str, str]] = []
    # Servers often send a default Latin charset that the page's own meta tag contradicts.
    if http_codecs == ("cp1252",) and meta_codecs:
        candidates += [(c, "meta") for c in meta_codecs] + [(c, "http") for c in http_codecs]
    else:
        candidates += [(c, "http") for c in http_codecs] + [(c, "meta") for c in meta_codecs]

    utf8 = _strict(html, "utf-8")
    for codec, source in candidates:
        if codec in _PERMISSIVE and utf8 is not None and not utf8.isascii():
            # Valid multi-byte UTF-8 almost never happens by chance in GBK/Big5/Latin
            # bytes: the declaration is stale (a site migrated to UTF-8).
            return Decoded(utf8, "utf-8", "utf8_valid")
        text = utf8 if codec == "utf-8" else _strict(html, codec)
        if text is not None:
            return Decoded(text, codec, source)

    if utf8 is not None:
        return Decoded(utf8, "utf-8", "utf8_valid")
    return _detect(html, [codec for codec, _ in candidates])


def _detect(html: bytes, declared: list[str]) -> Decoded:
    best = from_bytes(html[:65536], cp_isolation=list(_DETECTABLE)).best()
    if best is not None:
        for codec in _codecs_for(best.encoding):
            text = _strict(html, codec)
            if text is not None:
                return Decoded(text, codec, "detected")
    # Real pages often carry a few broken byte pairs (cut multi-byte characters,
    # mixed encodings). Take the declared or CJK codec that needs the fewest
    # replacements, if they stay rare; the U+FFFD marks remain visible.
    scored = []
    for rank, codec in enumerate(dict.fromkeys(declared + list(_REPAIRABLE))):
        text = html.decode(codec, errors="replace")
        scored.append((text.count("\ufffd") / max(len(text), 1), rank, codec, text))
    ratio, _, codec, text = min(scored)
    if ratio <= _MAX_REPAIR_RATIO:
        return Decoded(text, codec, "detected_repaired")
    return Decoded(html.decode("utf-8", errors="replace"), "utf-8", "lossy")
