"""Build a deterministic benchmark WARC shaped like a Common Crawl WARC file.

The output is WARC/1.1, one gzip member per record: a ``warcinfo`` record,
then ``--records`` HTTP ``response`` records whose payloads are real web pages,
with the original page bytes as payload (never re-encoded). It is written with
the project's own writer (``curate.warc_writer``: ``http_response_block``,
``write_record``), so every record carries WARC-Date, WARC-Record-ID,
WARC-Block-Digest and WARC-Payload-Digest (``sha1:`` + base32), plus
``WARC-Identified-Payload-Type: text/html`` as Common Crawl writes it.

Sources (``../shared/data``, never copied into the repository):

- ``html/trafilatura_eval`` (990 annotated pages + 43 unreferenced ones; URL and
  language from ``MANIFEST.tsv``), ``html/scrapinghub_benchmark`` (181 pages; URL
  from ``ground-truth.json``), ``html/readability_testpages`` (130 cases;
  language from ``expected-metadata.json``; gmw, qq, youth and pixnet are
  Chinese as its SOURCE.txt says), ``html/zh_gb2312`` (69 older Chinese pages,
  Chinese by definition). A page without a dataset URL uses its own
  ``rel=canonical`` / ``og:url`` when absolute, else a synthetic host of its own
  (``<name>-<hash>.cn`` for Chinese pages, ``.com`` otherwise).
- every HTML ``response`` record (HTTP 2xx, complete, non-empty) of the WARC files
  under ``warc/``, read with fastwarc. Their body is kept as the server sent the
  page: de-chunked and content-decoded as Common Crawl stores it, with the
  original ``Transfer-Encoding`` / ``Content-Encoding`` / ``Content-Length``
  renamed ``X-Crawler-*`` like Common Crawl does; their other HTTP headers stay.
  The language of the Common Crawl excerpt's records comes from its metadata
  records (``languages-cld2``).

HTTP headers of the HTML pages: ``HTTP/1.1 200 OK``, ``Content-Type: text/html``
with the charset the page's ``<meta>`` declares (else ``charset=UTF-8`` when the
bytes are valid UTF-8, except for the zh_gb2312 pages, which get no charset
then), a ``Server`` picked per host, ``Date`` and ``Content-Length``.

Language rule ("Chinese page"): the page is decoded with the pipeline's own
decoder (``stages.charset.decode_html``), its text is every text node of the
HTML (resiliparse plain-text rendering), and the page is Chinese when it has at
least ``MIN_LETTERS`` letters (``str.isalpha``) of which at least
``ZH_HAN_SHARE`` (50 %) are Han characters and under ``MAX_KANA_SHARE`` (5 %)
kana (so Japanese is not Chinese).

``WARC-Identified-Content-Language`` (ISO 639-3, up to three codes, e.g. ``zho``
or ``eng,deu``): the languages Common Crawl measured (excerpt records), else the
dataset's language, else ``<html lang>``, else ``zho`` for a Chinese page; a
second code is added when another script is substantial (``zho,eng``,
``eng,zho``). Like Common Crawl (CLD2 needs enough text and is not always
reliable), the header is left out when the language is unknown, when the page
has fewer than ``MIN_LANG_LETTERS`` letters, and on a seeded ~8 % of the others.

Language mix: ``--zh-share`` of the response records are Chinese pages (0.05 by
default, about Common Crawl's share; 0.5 for a Chinese-heavy crawl). Each group
is subsampled when it has more pages than needed, otherwise repeated in whole
passes plus a seeded sample; records are then shuffled. Every record has a
distinct ``WARC-Target-URI``: a repeated URL gets ``?v=2``, ``?v=3``, ...

Determinism: inputs are read in sorted order, every random choice comes from
``random.Random(--seed)`` or a hash of the seed, dates are synthetic (a crawl
window starting 2024-04-12), record ids derive from content and gzip members have
mtime 0, so the same inputs and arguments give byte-identical output.

    python benchmarks/build_bench_warc.py --out /tmp/bench_005.warc.gz --zh-share 0.05 [--records 4000] [--seed 0]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import html as html_lib
import json
import random
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlsplit

from fastwarc.warc import ArchiveIterator, WarcRecordType
from resiliparse.extract.html2text import extract_plain_text

from curate.warc_writer import http_response_block, write_record
from stages.charset import decode_html, meta_charset
from stages.cjk import HAN, KANA
from stages.readers.warc import HTML_TYPES, HttpFramingError, parse_http_response

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"

MIN_LETTERS = 50
"""A page with fewer letters of text is never Chinese (too little to tell)."""
ZH_HAN_SHARE = 0.5
"""Chinese: at least this share of the page's letters are Han characters."""
MAX_KANA_SHARE = 0.05
"""... and under this share are kana (Japanese mixes kana into its Han text)."""
MIN_LANG_LETTERS = 200
"""No WARC-Identified-Content-Language below this many letters (CLD2 is unreliable there)."""
LANG_OMIT_SHARE = 0.08
"""Share of the remaining records left without the language header anyway."""
SECOND_LANG_SHARE = 0.2
"""A second language code is added when the other script has this share of the letters."""

CRAWL_START = datetime(2024, 4, 12, 17, 0, 0, tzinfo=timezone.utc)

ISO_639_3 = {
    "zh": "zho", "en": "eng", "de": "deu", "fr": "fra", "es": "spa", "pt": "por", "it": "ita", "nl": "nld",
    "ru": "rus", "ja": "jpn", "ko": "kor", "pl": "pol", "ar": "ara", "el": "ell", "fi": "fin", "hu": "hun",
    "id": "ind", "ms": "msa", "no": "nor", "nb": "nor", "sv": "swe", "da": "dan", "cs": "ces", "la": "lat",
    "bn": "ben", "az": "aze", "an": "arg", "tr": "tur", "uk": "ukr", "he": "heb", "fa": "fas", "vi": "vie",
    "th": "tha", "hi": "hin", "ca": "cat", "ro": "ron",
}  # fmt: skip
SERVERS = (
    "nginx",
    "Apache",
    "cloudflare",
    "nginx/1.18.0 (Ubuntu)",
    "Apache/2.4.41 (Ubuntu)",
    "Microsoft-IIS/10.0",
    "openresty",
    "LiteSpeed",
)
ZH_SERVERS = ("nginx", "Tengine", "Apache", "Microsoft-IIS/7.5", "openresty", "nginx/1.12.2", "JSP3/2.0.14")
RENAMED = {
    "transfer-encoding": "X-Crawler-Transfer-Encoding",
    "content-encoding": "X-Crawler-Content-Encoding",
    "content-length": "X-Crawler-Content-Length",
}
READABILITY_LANG = {"gmw": "zh", "qq": "zh", "youth": "zh", "pixnet": "zh", "hukumusume": "ja", "yahoo-4": "ja"}

_CANONICAL = re.compile(rb"<link[^>]+rel\s*=\s*[\"']?canonical[\"']?[^>]*>|<meta[^>]+og:url[^>]*>", re.IGNORECASE)
_HREF = re.compile(rb"(?:href|content)\s*=\s*[\"']?([^\"'\s>]+)", re.IGNORECASE)
_HTML_LANG = re.compile(rb"<html[^>]*?\slang\s*=\s*[\"']?([a-zA-Z]{2,3})", re.IGNORECASE)


@dataclass(frozen=True)
class Page:
    """One page to wrap as a response record."""

    key: str
    """``dataset/name``: sorting key and seed of synthetic names."""
    body: bytes
    url: str
    content_type: str | None
    lang: list[str]
    """ISO 639-3 codes known for the page (may be empty)."""
    letters: int
    han_share: float
    chinese: bool
    status: str = "200 OK"
    http_headers: dict[str, str] = field(default_factory=dict)
    """Original HTTP headers besides Content-Type (WARC sources); empty for the HTML datasets."""


@dataclass
class Profile:
    letters: int
    han: float
    kana: float
    latin: float


def _hash(*parts: object) -> str:
    return hashlib.sha1("\0".join(str(p) for p in parts).encode("utf-8")).hexdigest()


def profile(body: bytes, content_type: str | None) -> Profile:
    """Letter count and Han / kana / Latin shares of every text node of the page."""
    text = extract_plain_text(decode_html(body, content_type).text, main_content=False, alt_texts=False, links=False)
    letters = sum(1 for c in text if c.isalpha())
    if not letters:
        return Profile(0, 0.0, 0.0, 0.0)
    han = len(HAN.findall(text))
    kana = len(KANA.findall(text))
    latin = sum(1 for c in text if c.isascii() and c.isalpha())
    return Profile(letters, han / letters, kana / letters, latin / letters)


def is_chinese(p: Profile) -> bool:
    return p.letters >= MIN_LETTERS and p.han >= ZH_HAN_SHARE and p.kana < MAX_KANA_SHARE


def page_url(body: bytes, *candidates: str | None) -> str | None:
    """The first absolute http(s) URL among the candidates and the page's canonical / og:url."""
    for match in _CANONICAL.finditer(body[:200_000]):
        href = _HREF.search(match.group(0))
        if href:
            candidates += (html_lib.unescape(href.group(1).decode("utf-8", "replace")),)
    for url in candidates:
        if not url:
            continue
        url = url.strip().strip("<>")
        if url.startswith("//"):
            url = "http:" + url
        start = url.find("http")
        url = url[start:] if start >= 0 else url
        try:
            parts = urlsplit(url)
        except ValueError:
            continue
        if (
            parts.scheme in ("http", "https")
            and parts.hostname
            and "." in parts.hostname
            and url.isascii()
            and " " not in url
        ):
            return url
    return None


def synthetic_url(key: str, chinese: bool) -> str:
    """A host of its own for a page the dataset gives no URL for."""
    name = re.sub(r"[^a-z0-9]+", "-", key.rsplit("/", 1)[-1].lower()).strip("-")[:20].strip("-") or "page"
    digest = _hash("host", key)
    if chinese:
        return f"http://www.{name}-{digest[:6]}.cn/html/{2000 + int(digest[6:8], 16) % 20}/{digest[8:16]}.html"
    return f"https://www.{name}-{digest[:6]}.com/{2010 + int(digest[6:8], 16) % 14}/{digest[8:16]}.html"


def html_lang(body: bytes) -> str | None:
    match = _HTML_LANG.search(body[:4096])
    return match.group(1).decode("ascii").lower() if match else None


def lang_codes(primary: str | None, p: Profile) -> list[str]:
    """``primary`` (ISO 639-1 or -3) as ISO 639-3, plus a second code for a substantial other script."""
    code = ISO_639_3.get(primary, primary if primary in ISO_639_3.values() else None) if primary else None
    if code is None and is_chinese(p):
        code = "zho"
    if code is None:
        return []
    codes = [code]
    if code == "zho" and p.latin >= SECOND_LANG_SHARE:
        codes.append("eng")
    elif code not in ("zho", "jpn") and p.han >= SECOND_LANG_SHARE:
        codes.append("zho")
    return codes


def content_type_of(body: bytes, utf8_default: bool) -> str:
    charset = meta_charset(body)
    if charset:
        return f"text/html; charset={charset}"
    if utf8_default:
        try:
            body.decode("utf-8")
            return "text/html; charset=UTF-8"
        except UnicodeDecodeError:
            pass
    return "text/html"


def html_page(key: str, body: bytes, url: str | None, lang: str | None, utf8_default: bool = True) -> Page:
    content_type = content_type_of(body, utf8_default)
    p = profile(body, content_type)
    chinese = is_chinese(p)
    return Page(
        key=key,
        body=body,
        url=page_url(body, url) or synthetic_url(key, chinese),
        content_type=content_type,
        lang=lang_codes(lang or html_lang(body), p),
        letters=p.letters,
        han_share=p.han,
        chinese=chinese,
    )


def trafilatura_pages(root: Path) -> Iterator[Page]:
    listed: set[str] = set()
    with open(root / "MANIFEST.tsv", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            listed.add(row["path"])
            body = gzip.decompress((root / row["path"]).read_bytes())
            yield html_page(
                f"trafilatura_eval/{row['path']}", body, row["url"], row["langid_of_with_snippets"] or None
            )
    for path in sorted([*root.glob("eval/*.html.gz"), *root.glob("cache/*.html.gz")]):
        relative = path.relative_to(root).as_posix()
        if relative not in listed:
            yield html_page(f"trafilatura_eval/{relative}", gzip.decompress(path.read_bytes()), None, None)


def scrapinghub_pages(root: Path) -> Iterator[Page]:
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    for path in sorted((root / "html").glob("*.html.gz")):
        page_id = path.name.removesuffix(".html.gz")
        yield html_page(
            f"scrapinghub_benchmark/{page_id}",
            gzip.decompress(path.read_bytes()),
            truth.get(page_id, {}).get("url"),
            None,
        )


def readability_pages(root: Path) -> Iterator[Page]:
    for folder in sorted(p for p in root.iterdir() if (p / "source.html.gz").is_file()):
        metadata = folder / "expected-metadata.json"
        lang = READABILITY_LANG.get(folder.name)
        if lang is None and metadata.is_file():
            lang = (json.loads(metadata.read_text(encoding="utf-8")).get("lang") or "").split("-")[0].lower() or None
        yield html_page(
            f"readability_testpages/{folder.name}",
            gzip.decompress((folder / "source.html.gz").read_bytes()),
            None,
            lang,
        )


def zh_gb2312_pages(root: Path) -> Iterator[Page]:
    for path in sorted((root / "original").glob("*.html")):
        yield html_page(f"zh_gb2312/{path.stem}", path.read_bytes(), None, "zh", utf8_default=False)


def _cld2_languages(block: bytes) -> list[str]:
    for line in block.decode("utf-8", "replace").splitlines():
        if line.startswith("languages-cld2:"):
            try:
                found = json.loads(line.split(":", 1)[1])
            except json.JSONDecodeError:
                return []
            return [lang["code-iso-639-3"] for lang in found.get("languages", [])][:3]
    return []


def _http_head(block: bytes) -> tuple[str, list[tuple[str, str]]]:
    """Status (code and reason) and headers of an HTTP response block, names as sent."""
    end = block.find(b"\r\n\r\n")
    if end < 0:
        end = block.find(b"\n\n")
    lines = block[:end].decode("iso-8859-1").splitlines()
    status = lines[0].split(None, 1)[1].strip()
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon and name.strip():
            headers.append((name.strip(), value.strip()))
    return status, headers


def warc_pages(root: Path) -> Iterator[Page]:
    """HTML responses (2xx, complete, non-empty) of every WARC file under ``root``."""
    paths = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.name.endswith((".warc", ".warc.gz")) and ".wet." not in p.name and ".wat." not in p.name
    )
    for path in paths:
        relative = path.relative_to(root).as_posix()
        responses: list[tuple[int, str, bytes]] = []
        languages: dict[str, list[str]] = {}
        with open(path, "rb") as stream:
            try:
                for record in ArchiveIterator(
                    stream, parse_http=False, record_types=WarcRecordType.response | WarcRecordType.metadata
                ):
                    block = record.reader.read()
                    if len(block) < record.content_length:
                        continue  # truncated
                    url = (record.headers.get("WARC-Target-URI") or "").strip().strip("<>")
                    if record.record_type == WarcRecordType.metadata:
                        languages[url] = _cld2_languages(block)
                    else:
                        responses.append((record.stream_pos, url, block))
            except (OSError, ValueError):  # fastwarc on a damaged file (warcio edge cases)
                pass  # the records before the damage are kept
        for offset, url, block in responses:
            try:
                response = parse_http_response(block)
                status, raw_headers = _http_head(block)
            except (HttpFramingError, IndexError):
                continue
            mime = (response.headers.get("content-type") or "").split(";")[0].strip().lower()
            if not 200 <= response.status < 300 or mime not in HTML_TYPES or not response.body:
                continue
            content_type = None
            headers: dict[str, str] = {}
            for name, value in raw_headers:
                lower = name.lower()
                if lower == "content-type":
                    content_type = content_type or value
                elif lower == "date" or RENAMED.get(lower, name) in headers or not value.isascii():
                    continue
                else:
                    headers[RENAMED.get(lower, name)] = value
            p = profile(response.body, content_type)
            chinese = is_chinese(p)
            key = f"warc/{relative}@{offset}"
            cld2 = languages.get(url) or []
            yield Page(
                key=key,
                body=response.body,
                url=page_url(b"", url) or synthetic_url(key, chinese),
                content_type=content_type,
                lang=cld2 or lang_codes(html_lang(response.body), p),
                letters=p.letters,
                han_share=p.han,
                chinese=chinese,
                status=status,
                http_headers=headers,
            )


def load_pages(data: Path) -> list[Page]:
    html = data / "html"
    pages = [
        *trafilatura_pages(html / "trafilatura_eval"),
        *scrapinghub_pages(html / "scrapinghub_benchmark"),
        *readability_pages(html / "readability_testpages"),
        *zh_gb2312_pages(html / "zh_gb2312"),
        *warc_pages(data / "warc"),
    ]
    return sorted(pages, key=lambda page: page.key)


def pick(pool: list[Page], count: int, rng: random.Random) -> list[Page]:
    """``count`` pages: a seeded sample, or whole passes over ``pool`` plus a seeded sample."""
    if count and not pool:
        raise SystemExit("no pages of this kind to draw from")
    passes, rest = divmod(count, len(pool)) if pool else (0, 0)
    return pool * passes + rng.sample(pool, rest)


def distinct_url(url: str, used: dict[str, int]) -> str:
    """``url`` (without fragment) the first time, then ``url?v=2``, ``url?v=3`` ..."""
    base = url.split("#", 1)[0]
    used[base] = used.get(base, 0) + 1
    if used[base] == 1:
        return base
    while True:
        variant = f"{base}{'&' if '?' in base else '?'}v={used[base]}"
        if variant not in used:
            used[variant] = 1
            return variant
        used[base] += 1


def build(out: Path, zh_share: float, records: int, seed: int, data: Path = DATA) -> dict[str, int]:
    pages = load_pages(data)
    rng = random.Random(seed)
    zh_pool = [p for p in pages if p.chinese]
    other_pool = [p for p in pages if not p.chinese]
    n_zh = round(records * zh_share)
    chosen = pick(zh_pool, n_zh, rng) + pick(other_pool, records - n_zh, rng)
    rng.shuffle(chosen)

    used: dict[str, int] = {}
    written = with_lang = 0
    moment = CRAWL_START
    with open(out, "wb") as stream:
        info = (
            f"isPartOf: curate-bench-zh{round(zh_share * 100):03d}\r\n"
            f"publisher: curate benchmarks\r\nsoftware: benchmarks/build_bench_warc.py\r\n"
            f"format: WARC File Format 1.1\r\n"
            f"description: {records} real pages, zh share {zh_share}, seed {seed}\r\n"
        ).encode()
        written += write_record(
            stream,
            "warcinfo",
            info,
            date=CRAWL_START.strftime("%Y-%m-%dT%H:%M:%SZ"),
            headers={"WARC-Filename": out.name},
        )
        for page in chosen:
            moment += timedelta(seconds=rng.randint(0, 4))
            url = distinct_url(page.url, used)
            warc_headers = {"WARC-Identified-Payload-Type": "text/html"}
            omit = int(_hash("lang", seed, url)[:8], 16) / 2**32 < LANG_OMIT_SHARE
            if page.lang and page.letters >= MIN_LANG_LETTERS and not omit:
                warc_headers["WARC-Identified-Content-Language"] = ",".join(page.lang)
                with_lang += 1
            http_headers = dict(page.http_headers)
            if not http_headers:
                host = urlsplit(url).hostname or ""
                servers = ZH_SERVERS if page.chinese else SERVERS
                http_headers["Server"] = servers[int(_hash("server", host)[:8], 16) % len(servers)]
            http_headers["Date"] = format_datetime(moment - timedelta(seconds=rng.randint(0, 2)), usegmt=True)
            block = http_response_block(page.body, page.content_type, http_headers, status=page.status)
            written += write_record(
                stream,
                "response",
                block,
                target_uri=url,
                date=moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                headers=warc_headers,
            )
    return {
        "records": len(chosen),
        "chinese": sum(p.chinese for p in chosen),
        "with_language": with_lang,
        "distinct_pages": len({p.key for p in chosen}),
        "pool_chinese": len(zh_pool),
        "pool_other": len(other_pool),
        "bytes": written,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output .warc.gz")
    parser.add_argument(
        "--zh-share", type=float, default=0.05, help="share of Chinese pages (0.05 ~ Common Crawl; 0.5 Chinese-heavy)"
    )
    parser.add_argument("--records", type=int, default=4000, help="response records to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    args = parser.parse_args(argv)
    if not 0.0 <= args.zh_share <= 1.0 or args.records < 1:
        parser.error("--zh-share must be in [0, 1] and --records positive")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    stats = build(args.out, args.zh_share, args.records, args.seed, args.data)
    print(
        f"{args.out}: {stats['records']} response records (+1 warcinfo), {stats['chinese']} Chinese, "
        f"{stats['with_language']} with WARC-Identified-Content-Language, {stats['distinct_pages']} distinct pages "
        f"(pool {stats['pool_chinese']} Chinese / {stats['pool_other']} other), {stats['bytes']} bytes"
    )


if __name__ == "__main__":
    sys.exit(main())
