"""The language pre-pass keeps at least 99 % of the pages the full path (trafilatura, lid.176) keeps as Chinese."""

from __future__ import annotations

import pyarrow as pa
from conftest import _all_html_pages_warc

from curate.stage import StageStats
from stages.charset import decode_html
from stages.extract import Extract, ExtractConfig
from stages.langid import LangId, LangIdConfig
from stages.langid_prefilter import LangIdPrefilter, LangIdPrefilterConfig, han_share, may_hold_han
from stages.readers import InputConfig, ReadResult
from stages.readers.warc import WarcReader


def read_all(path: str) -> pa.RecordBatch:
    batches = list(WarcReader(InputConfig(paths=[path], batch_size=5000)).read(path, ReadResult()))
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]


def test_pre_pass_keeps_what_the_full_path_keeps_as_chinese() -> None:
    pages = read_all(_all_html_pages_warc())
    assert pages.num_rows >= 1300
    full = LangId(LangIdConfig(languages=["zh"])).apply(
        Extract(ExtractConfig()).apply(pages, StageStats("extract")), StageStats("langid")
    )
    chinese = set(full.column("id").to_pylist())
    stats = StageStats("langid_prefilter")
    candidates = set(LangIdPrefilter(LangIdPrefilterConfig()).apply(pages, stats).column("id").to_pylist())
    assert len(chinese) >= 70  # measured: 75 of the 1,413 pages
    recall = len(chinese & candidates) / len(chinese)
    assert recall >= 0.99, sorted(chinese - candidates)
    # And it is a filter: most of the other pages never reach extraction.
    rejected = stats.drops["langid.prefilter"]
    assert rejected >= 0.8 * (pages.num_rows - len(chinese)), (rejected, pages.num_rows, len(chinese))


def test_headers_only_add_candidates() -> None:
    english = b"<html><body><p>" + b"An English page about the weather and the roads. " * 20 + b"</p></body></html>"
    chinese = "<html><body><p>{}</p></body></html>".format("这是一个关于天气和道路的中文网页。" * 20).encode("utf-8")
    batch = pa.RecordBatch.from_pydict(
        {
            "id": ["en", "en-cc-zho", "en-lang-zh", "zh-declared-en"],
            "html": [english, english, english.replace(b"<html>", b"<html lang='zh-CN'>"), chinese],
            "http_content_type": ["text/html; charset=utf-8"] * 4,
            "http_content_language": [None, None, None, "en"],
            "warc_identified_language": ["eng", "zho,eng", None, "eng"],
        }
    )
    kept = LangIdPrefilter(LangIdPrefilterConfig()).apply(batch, StageStats("p")).column("id").to_pylist()
    assert kept == ["en-cc-zho", "en-lang-zh", "zh-declared-en"]
    kept = (
        LangIdPrefilter(LangIdPrefilterConfig(use_headers=False))
        .apply(batch, StageStats("p"))
        .column("id")
        .to_pylist()
    )
    assert kept == ["zh-declared-en"]
    assert han_share("中文 text") == 2 / 6


def test_pages_without_han_are_dropped_as_the_full_check_would() -> None:
    """The shortcut (no Han character, no reference to one, in the decoded HTML: dropped unrendered)
    changes no decision on 1,400 real pages of many languages and charsets, GB2312/GBK ones included."""
    pages = read_all(_all_html_pages_warc())
    shortcut = LangIdPrefilter(LangIdPrefilterConfig())
    full = LangIdPrefilter(LangIdPrefilterConfig())
    full.han_only = False
    assert shortcut.han_only
    decided = [
        [(reason.reason if reason else None) for reason in stage.annotate(pages)[1]] for stage in (shortcut, full)
    ]
    assert decided[0] == decided[1]
    html = pages.column("html").to_pylist()
    content_types = pages.column("http_content_type").to_pylist()
    han_free = sum(not may_hold_han(decode_html(h, c).text) for h, c in zip(html, content_types))
    assert han_free >= 500  # the shortcut is taken, not just harmless
    # References to Han characters count as Han: they render as Han text.
    assert may_hold_han("&#x4E2D;&#25991;") and not may_hold_han("caf&eacute; &#8217; &#x2014;")
