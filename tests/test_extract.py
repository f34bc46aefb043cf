"""Charset decoding and trafilatura extraction on real Chinese pages."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa

from curate.stage import StageStats
from curate.warc_writer import write_response
from stages.charset import decode_html
from stages.cjk import HAN
from stages.extract import Extract, ExtractConfig
from stages.warc_reader import ReadResult, WarcReader, WarcReaderConfig

from conftest import require_shared


def han_recall(reference: str, extracted: str) -> float:
    ref, got = Counter(HAN.findall(reference)), Counter(HAN.findall(extracted))
    return sum((ref & got).values()) / max(sum(ref.values()), 1)


def wrap_pages(pages: list[Path], out_path: Path) -> None:
    """The real pages as WARC response records, original bytes, no HTTP charset (as many old servers sent)."""
    with open(out_path, "wb") as out:
        for page in pages:
            write_response(out, f"http://zh-gb2312.test/{page.stem}.html", page.read_bytes(), "text/html")


def test_gb2312_gbk_pages_come_out_as_correct_text(tmp_path: Path) -> None:
    folder = require_shared("html", "zh_gb2312")
    pages = sorted((folder / "original").glob("*.html"))
    assert len(pages) == 69
    warc = tmp_path / "zh.warc.gz"
    wrap_pages(pages, warc)
    result = ReadResult()
    batches = list(WarcReader(WarcReaderConfig(paths=[str(warc)], batch_size=32)).read(str(warc), result))
    stage, stats = Extract(ExtractConfig()), StageStats("extract")
    table = pa.Table.from_batches([stage.apply(b, stats) for b in batches])
    assert stats.docs_in == 69 and stats.docs_in == stats.docs_out + sum(stats.drops.values())

    by_url = {row["url"]: row for row in table.to_pylist()}
    recalls = []
    for page in pages:
        reference = (folder / "cleaned" / f"{page.stem}.txt").read_text(encoding="utf-8", errors="replace")
        row = by_url.get(f"http://zh-gb2312.test/{page.stem}.html")
        recalls.append(han_recall(reference, row["text"]) if row else 0.0)
        if row:
            # No mojibake: broken bytes are rare, and Han characters dominate where the reference has them.
            assert row["text"].count("\ufffd") <= 12, (page.name, row["charset"], row["charset_source"])
    mean = sum(recalls) / len(recalls)
    print(f"zh_gb2312: mean Han-character recall {mean:.3f}, pages >= 0.8: {sum(r >= 0.8 for r in recalls)}/69")
    assert mean >= 0.9
    assert sum(r >= 0.8 for r in recalls) >= 62
    sources = Counter(table.column("charset_source").to_pylist())
    assert table.column("charset").to_pylist().count("gb18030") >= 45
    assert sources["meta"] > 0 and sources["detected"] > 0


def test_http_header_wins_over_meta_and_meta_over_detection() -> None:
    text = "中文网页的正文内容，用于测试字符集判断。" * 5
    big5_html = f'<html><head><meta charset="big5"></head><body><p>{text}</p></body></html>'
    gbk_bytes = big5_html.replace("big5", "gbk").encode("gbk")
    assert decode_html(gbk_bytes, "text/html; charset=GBK").source == "http"
    meta = decode_html(gbk_bytes, "text/html")
    assert (meta.charset, meta.source) == ("gb18030", "meta")
    assert text in meta.text
    traditional = "繁體中文網頁的內容，測試大五碼解碼是否正確。" * 5
    big5_bytes = f'<html><head><meta charset="big5"></head><body><p>{traditional}</p></body></html>'.encode("big5")
    decoded = decode_html(big5_bytes, None)
    assert decoded.charset == "cp950" and traditional in decoded.text
    # A server default of ISO-8859-1 must not override the page's own GBK declaration.
    assert text in decode_html(gbk_bytes, "text/html; charset=ISO-8859-1").text
    # A stale GB2312 declaration on a page that is really UTF-8.
    utf8 = decode_html(big5_html.replace("big5", "gb2312").encode("utf-8"), "text/html; charset=gb2312")
    assert (utf8.charset, utf8.source) == ("utf-8", "utf8_valid") and text in utf8.text


def test_undeclared_gbk_is_detected() -> None:
    text = "没有声明字符集的老网页仍然需要正确解码，否则会产生乱码。" * 8
    decoded = decode_html(f"<html><body><p>{text}</p></body></html>".encode("gbk"))
    assert decoded.source in ("detected", "detected_repaired")
    assert text in decoded.text


def test_real_traditional_chinese_page_is_extracted(tmp_path: Path) -> None:
    import gzip

    page = require_shared("html", "readability_testpages", "pixnet", "source.html.gz")
    html = gzip.decompress(page.read_bytes())
    warc = tmp_path / "tw.warc.gz"
    with open(warc, "wb") as out:
        write_response(out, "https://pixnet.test/blog/post/1", html, "text/html; charset=utf-8")
    result = ReadResult()
    (batch,) = WarcReader(WarcReaderConfig(paths=[str(warc)])).read(str(warc), result)
    out = Extract(ExtractConfig()).apply(batch, StageStats("extract"))
    text = out.column("text")[0].as_py()
    assert len(HAN.findall(text)) > 200
