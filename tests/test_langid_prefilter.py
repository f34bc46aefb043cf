"""The language pre-pass keeps at least 99 % of the pages the full path (trafilatura, lid.176) keeps as Chinese."""

from __future__ import annotations

import pyarrow as pa
from conftest import _all_html_pages_warc

from curate.stage import StageStats
from stages.extract import Extract, ExtractConfig
from stages.langid import LangId, LangIdConfig
from stages.langid_prefilter import LangIdPrefilter, LangIdPrefilterConfig, han_share
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
