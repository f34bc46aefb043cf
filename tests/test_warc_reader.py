"""The WARC reader on real crawls and on the warcio edge cases."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from conftest import require_shared

from curate.warc_writer import write_record, write_response
from stages.readers import InputConfig, ReadResult
from stages.readers.warc import WarcReader, parse_http_response


def read_all(path: Path, **options) -> tuple[pa.Table | None, ReadResult]:
    result = ReadResult()
    reader = WarcReader(InputConfig(paths=[str(path)], **options))
    batches = list(reader.read(str(path), result))
    return (pa.Table.from_batches(batches) if batches else None), result


def assert_adds_up(result: ReadResult, table: pa.Table | None) -> None:
    stats = result.stats
    assert stats.docs_in == stats.docs_out + sum(stats.drops.values())
    assert stats.docs_out == (table.num_rows if table is not None else 0)


def test_common_crawl_excerpt_keeps_the_16_html_responses() -> None:
    table, result = read_all(require_shared("warc", "commoncrawl_excerpt", "warcfile.warc.gz"))
    assert table.num_rows == 16
    assert result.stats.drops == {"read.record_request": 17, "read.record_metadata": 16, "read.record_warcinfo": 1}
    assert result.errors == []
    assert_adds_up(result, table)
    assert len(set(table.column("id").to_pylist())) == 16
    assert all(url.startswith("http") for url in table.column("url").to_pylist())
    assert table.column("fetch_time").null_count == 0
    assert "096355.com" in table.column("domain").to_pylist()
    offsets = table.column("source_offset").to_pylist()
    assert offsets == sorted(offsets) and offsets[0] > 0


def test_ids_are_stable_across_reads() -> None:
    path = require_shared("warc", "commoncrawl_excerpt", "warcfile.warc.gz")
    first, _ = read_all(path, batch_size=3)
    second, _ = read_all(path)
    assert first.column("id").to_pylist() == second.column("id").to_pylist()


def test_truncated_record_is_skipped_counted_and_located() -> None:
    table, result = read_all(require_shared("warc", "commoncrawl_excerpt", "clipped.warc.gz"))
    assert table is None
    assert result.stats.drops == {"read.corrupt_record": 1}
    assert result.errors[0].offset == 0
    assert "truncated record: 75207 of 88275 bytes" in result.errors[0].error


def test_invalid_header_mid_file_keeps_the_records_around_it() -> None:
    table, result = read_all(require_shared("warc", "warcio", "example-trunc.warc"))
    assert result.stats.drops["read.corrupt_record"] == 1
    assert "Invalid WARC header" in result.errors[0].error
    # The response at 1197 declares 2 bytes fewer than it holds: the damage is those 2 bytes,
    # and reading resumes at the request record after them.
    assert (result.errors[0].offset, result.skipped_bytes) == (2564, 2)
    assert result.stats.drops["read.record_request"] == 1
    assert table.num_rows == 1  # the gzip-encoded response before the damage, decoded
    assert b"Example Domain" in table.column("html")[0].as_py()
    assert_adds_up(result, table)


def test_chunked_transfer_encoding_is_decoded() -> None:
    table, result = read_all(require_shared("warc", "warcio", "example-iana.org-chunked.warc"))
    html = table.column("html")[0].as_py()
    assert html.lstrip().lower().startswith(b"<!doctype html")
    assert html.rstrip().endswith(b"</html>")
    assert_adds_up(result, table)


def test_revisits_and_non_html_payloads_are_counted() -> None:
    table, result = read_all(require_shared("warc", "pywb", "iana.warc.gz"))
    assert result.stats.drops["read.record_revisit"] == 123
    assert result.stats.drops["read.record_request"] == 171
    assert result.stats.drops["read.not_html"] > 0  # css, js, images
    assert 0 < table.num_rows < 48
    assert all(ct.startswith("text/html") for ct in table.column("http_content_type").to_pylist())
    assert_adds_up(result, table)


def test_payload_cap_skips_large_records() -> None:
    table, result = read_all(
        require_shared("warc", "commoncrawl_excerpt", "warcfile.warc.gz"), max_payload_bytes=20_000
    )
    assert result.stats.drops["read.payload_too_large"] > 0
    assert table.num_rows == 16 - result.stats.drops["read.payload_too_large"]


def test_wet_conversion_records_carry_text() -> None:
    table, result = read_all(require_shared("warc", "commoncrawl-whirlwind", "whirlwind.warc.wet.gz"))
    assert table.num_rows == 1
    assert table.column("html")[0].as_py() is None
    assert "Escopete" in table.column("text")[0].as_py()


def test_arc_file_is_not_read_as_warc() -> None:
    table, result = read_all(require_shared("warc", "warcio", "example.arc.gz"))
    assert table is None and result.records == 0
    assert "Invalid WARC header" in result.errors[0].error


def test_http_status_and_empty_payloads(tmp_path: Path) -> None:
    path = tmp_path / "s.warc.gz"
    with open(path, "wb") as out:
        write_record(out, "response", b"HTTP/1.1 301 Moved\r\nLocation: /x\r\n\r\n", target_uri="https://a.cn/")
        write_record(
            out, "response", b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n", target_uri="https://a.cn/e"
        )
        write_record(out, "response", b"garbage without http framing", target_uri="https://a.cn/g")
        write_response(out, "https://a.cn/ok", b"<html><body>ok</body></html>", None)
    table, result = read_all(path)
    assert result.stats.drops == {"read.http_status": 1, "read.empty_payload": 1, "read.corrupt_record": 1}
    assert table.column("url").to_pylist() == ["https://a.cn/ok"]  # sniffed as HTML without a content type


def test_parse_http_response_decodes_gzip_bodies() -> None:
    import gzip

    block = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n" + gzip.compress(b"<html>x</html>")
    response = parse_http_response(block)
    assert response.status == 200 and response.body == b"<html>x</html>"
