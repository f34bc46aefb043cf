"""Issue 15: bounded memory on any input, and one bad record loses only itself.

Each case is a small generated file: decompression and size bombs (read in a child process
whose peak RSS must stay under 1 GiB), corrupt gzip members and wrong Content-Lengths in real
WARC files (reading resumes at the next record), corrupt members and frames in multi-member
text inputs (reading resumes at the next one), and JSON nested too deeply to parse.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import os
import re
import subprocess
import sys
import typing
import zlib
from pathlib import Path

import pyarrow as pa
import pytest
import zstandard
from conftest import REPO, SAMPLE_WARC, peoples_daily_documents, require_shared
from fastwarc.warc import ArchiveIterator

from curate.warc_writer import write_record, write_response
from stages.readers import InputConfig, ReadResult, reader_for
from stages.readers.base import MAX_ERRORS_KEPT
from stages.readers.http_response import BodyTooLarge, parse_http_response

MiB = 1 << 20
RSS_LIMIT = 1 << 30

CHILD = """
import json, sys
from stages.readers import InputConfig, ReadResult, reader_for
from conftest import peak_rss
path, fmt = sys.argv[1], sys.argv[2]
result = ReadResult()
rows = sum(b.num_rows for b in reader_for(InputConfig(paths=[path], format=fmt)).read(path, result))
peak = peak_rss()
print(json.dumps({"rows": rows, "records": result.records, "drops": dict(result.stats.drops), "peak": peak}))
"""


def read_in_child(path: Path, format: str) -> dict:
    """Read ``path`` in a fresh interpreter; its counts and its own peak RSS (``peak_rss``)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), format], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def read(path: Path, format: str = "warc", **options) -> tuple[pa.Table | None, ReadResult]:
    result = ReadResult()
    batches = list(reader_for(InputConfig(paths=[str(path)], format=format, **options)).read(str(path), result))
    return (pa.Table.from_batches(batches) if batches else None), result


def compressed(data_size: int, byte: bytes, compressor, tail: bytes = b"", head: bytes = b"") -> bytes:
    """``head``, ``data_size`` bytes of ``byte``, then ``tail``, compressed a MiB at a time."""
    piece = byte * MiB
    parts = [compressor.compress(head)] + [compressor.compress(piece) for _ in range(data_size // MiB)]
    return b"".join(parts) + compressor.compress(tail) + compressor.flush()


def gzip_compressor():
    return zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)


def assert_bounded(summary: dict) -> None:
    assert summary["peak"] < RSS_LIMIT, f"peak RSS {summary['peak'] / MiB:.0f} MiB"


def assert_adds_up(table: pa.Table | None, result: ReadResult) -> None:
    """Every record read is a document out of the reader or one read.* drop."""
    rows = table.num_rows if table is not None else 0
    assert result.records == rows + sum(result.stats.drops.values())
    assert (result.stats.docs_in, result.stats.docs_out) == (result.records, rows)


# Decompression and size bombs


def test_http_gzip_bomb_in_a_warc_record_is_dropped_without_inflating(tmp_path: Path) -> None:
    body = compressed(256 * MiB, b"\0", gzip_compressor())  # 256 KB inflating to 256 MiB
    path = tmp_path / "bomb.warc.gz"
    with open(path, "wb") as out:
        block = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n\r\n" + body
        write_record(out, "response", block, target_uri="https://bomb.example.cn/")
        write_response(out, "https://ok.example.cn/", b"<html><body>ok</body></html>", None)
    assert path.stat().st_size < 16 * 1024
    summary = read_in_child(path, "warc")
    assert summary["drops"] == {"read.payload_too_large": 1}
    assert (summary["records"], summary["rows"]) == (2, 1)
    assert_bounded(summary)


@pytest.mark.parametrize("wrap", [zlib.MAX_WBITS, -zlib.MAX_WBITS])
def test_deflate_and_gzip_bodies_stop_at_the_cap(wrap: int) -> None:
    encoder = zlib.compressobj(9, zlib.DEFLATED, wrap)
    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\n\r\n"
    bomb = head + compressed(8 * MiB, b"\0", encoder)
    with pytest.raises(BodyTooLarge):
        parse_http_response(bomb, max_body_bytes=MiB)
    small = zlib.compressobj(9, zlib.DEFLATED, wrap)
    fits = head + small.compress(b"<html>x</html>") + small.flush()
    assert parse_http_response(fits, max_body_bytes=MiB).body == b"<html>x</html>"
    gzipped = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
    member = gzip.compress(b"x" * (2 * MiB))
    gzipped += b"%x\r\n" % len(member) + member + b"\r\n0\r\n\r\n"
    with pytest.raises(BodyTooLarge):
        parse_http_response(gzipped, max_body_bytes=MiB)
    assert len(parse_http_response(gzipped, max_body_bytes=4 * MiB).body) == 2 * MiB


def test_one_huge_zst_line_is_passed_over(tmp_path: Path) -> None:
    path = tmp_path / "line.jsonl.zst"
    tail = b'"}\n' + json.dumps({"text": "下一行"}, ensure_ascii=False).encode() + b"\n"
    compressor = zstandard.ZstdCompressor().compressobj()
    path.write_bytes(compressed(256 * MiB, b"a", compressor, tail, head=b'{"text": "'))
    assert path.stat().st_size < 64 * 1024
    summary = read_in_child(path, "jsonl")
    assert summary["drops"] == {"read.line_too_large": 1}
    assert (summary["records"], summary["rows"]) == (2, 1)
    assert_bounded(summary)


def test_gz_of_newlines_is_read_in_bounded_steps(tmp_path: Path) -> None:
    # Before: the whole 1 MB input inflated in one call, then split into one list item per line.
    path = tmp_path / "newlines.jsonl.gz"
    path.write_bytes(compressed(64 * MiB, b"\n", gzip_compressor(), b'{"text": "last"}\n'))
    summary = read_in_child(path, "jsonl")
    assert (summary["records"], summary["rows"], summary["drops"]) == (1, 1, {})
    assert_bounded(summary)
    table, _ = read(path, "jsonl")
    assert table.column("source_offset").to_pylist() == [64 * MiB]  # its byte offset in the text


def test_plain_json_line_over_the_cap_is_never_held(tmp_path: Path) -> None:
    path = tmp_path / "plain.jsonl"
    with open(path, "wb") as out:
        out.write(b'{"text": "' + b"x" * (64 * MiB) + b'"}\n{"text": "ok"}\n')
    summary = read_in_child(path, "jsonl")
    assert summary["drops"] == {"read.line_too_large": 1}
    assert summary["rows"] == 1
    assert_bounded(summary)


def test_bz2_text_input_and_its_long_lines(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl.bz2"
    good = "\n".join(json.dumps({"text": f"第{i}段"}, ensure_ascii=False) for i in range(3)) + "\n"
    # Two bz2 streams, as from parallel compressors; a 2 MiB line between them.
    path.write_bytes(
        bz2.compress(good.encode()) + compressed(2 * MiB, b"a", bz2.BZ2Compressor(), b"\n" + good.encode())
    )
    table, result = read(path, "jsonl", max_line_bytes=MiB)
    assert table.column("text").to_pylist() == ["第0段", "第1段", "第2段"] * 2
    assert dict(result.stats.drops) == {"read.line_too_large": 1}
    assert result.errors[0].line == 4 and "2097152 bytes" in result.errors[0].error


def test_mnbvc_line_over_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "mnbvc.jsonl"
    record = {"文件名": "a.txt", "段落": [{"行号": 1, "内容": "长" * 50_000}]}
    short = {"文件名": "b.txt", "段落": [{"行号": 1, "内容": "短"}]}
    lines = [json.dumps(r, ensure_ascii=False) for r in (record, short)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table, result = read(path, "mnbvc", max_line_bytes=64 * 1024)
    assert table.column("source_id").to_pylist() == ["b.txt"]
    assert dict(result.stats.drops) == {"read.line_too_large": 1}


def test_errors_kept_are_bounded_and_all_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"not json\n" * 200_000 + b'{"text": "ok"}\n')
    table, result = read(path, "jsonl")
    assert table.num_rows == 1
    assert result.stats.drops["read.bad_json"] == result.error_count == 200_000
    assert len(result.errors) == MAX_ERRORS_KEPT
    assert [e.line for e in result.errors[:3]] == [1, 2, 3]


# JSON nested too deeply


def test_deeply_nested_json_line_loses_only_itself(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl.gz"
    lines = [
        json.dumps({"text": "第一行"}, ensure_ascii=False),
        "[" * 200_000,
        '{"text": "x", "meta": ' + "[" * 5000 + "]" * 5000 + "}",
        json.dumps({"text": "最后一行"}, ensure_ascii=False),
    ]
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode("utf-8")))
    table, result = read(path, "jsonl")
    assert table.column("text").to_pylist() == ["第一行", "最后一行"]
    assert dict(result.stats.drops) == {"read.bad_json": 2}
    assert [(e.line, "nested too deeply" in e.error) for e in result.errors] == [(2, True), (3, True)]


def test_mnbvc_deep_line_loses_only_itself(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl.zst"
    good = json.dumps({"文件名": "a.txt", "段落": [{"行号": 1, "内容": "正文"}]}, ensure_ascii=False)
    path.write_bytes(zstandard.ZstdCompressor().compress(f"{'[' * 200_000}\n{good}\n".encode()))
    table, result = read(path, "mnbvc")
    assert table.column("source_id").to_pylist() == ["a.txt"]
    assert dict(result.stats.drops) == {"read.bad_json": 1}


def wudao_element(i: int, content: str | None = None) -> str:
    element = {"id": i, "uniqueKey": f"u{i}", "titleUkey": f"t{i}", "dataType": "新闻", "title": f"标题{i}"}
    element["content"] = content if content is not None else f"第{i}篇的正文。"
    return json.dumps(element, ensure_ascii=False)


def test_wudao_deep_long_and_malformed_elements_lose_only_themselves(tmp_path: Path) -> None:
    elements = [wudao_element(i) for i in range(8)]
    elements[1] = '{"id": 1, "content": ' + "[" * 200_000 + "]" * 200_000 + "}"  # nested in an object
    elements[3] = "[" * 200_000  # bare and never closed
    elements[5] = wudao_element(5, "长" * (3 * MiB))  # over the cap; spans several read chunks
    # Malformed early, ending two read chunks later: the next element lies past the buffer.
    elements[6] = '{"id": 6, "title": "坏" "content": "' + "x" * (2 * MiB) + '"}'
    path = tmp_path / "wudao.json.gz"
    path.write_bytes(gzip.compress(("[\n" + ",\n".join(elements) + "\n]\n").encode("utf-8")))
    table, result = read(path, "wudao", max_line_bytes=MiB)
    assert table.column("source_id").to_pylist() == ["0", "2", "4", "7"]
    assert dict(result.stats.drops) == {"read.bad_json": 3, "read.line_too_large": 1}
    assert [e.line for e in result.errors] == [3, 5, 7, 8]  # element 0 is on line 2
    assert result.records == 8


# Damaged WARC files: reading resumes at the next record


def members(path: Path) -> tuple[bytes, list[tuple[int, int, str]]]:
    """The file's bytes and (start, end, record type) of each gzip member (one per record)."""
    data = path.read_bytes()
    records = [(r.stream_pos, str(r.record_type)) for r in ArchiveIterator(io.BytesIO(data), parse_http=False)]
    ends = [start for start, _ in records[1:]] + [len(data)]
    return data, [(start, end, kind) for (start, kind), end in zip(records, ends)]


def middle_response(spans: list[tuple[int, int, str]]) -> int:
    responses = [i for i, (_, _, kind) in enumerate(spans) if "response" in kind]
    return responses[len(responses) // 2]


def replaced(data: bytes, span: tuple[int, int, str], member: bytes) -> bytes:
    return data[: span[0]] + member + data[span[1] :]


def offsets_after(table: pa.Table, position: int) -> list[int]:
    return [o for o in table.column("source_offset").to_pylist() if o > position]


@pytest.mark.parametrize("source", ["cc_excerpt", "zh_web_sample"])
def test_corrupt_gzip_member_loses_only_its_record(tmp_path: Path, source: str) -> None:
    original = (
        require_shared("warc", "commoncrawl_excerpt", "warcfile.warc.gz") if source == "cc_excerpt" else SAMPLE_WARC
    )
    data, spans = members(original)
    clean, _ = read(original)
    bad = middle_response(spans)
    start, end, _ = spans[bad]
    damaged = bytearray(data)
    damaged[(start + end) // 2 : (start + end) // 2 + 16] = b"\xff" * 16
    path = tmp_path / "damaged.warc.gz"
    path.write_bytes(bytes(damaged))

    table, result = read(path)
    assert result.records == len(spans)  # the bad one counts once, as read.corrupt_record
    assert result.stats.drops["read.corrupt_record"] == 1
    assert result.skipped_bytes == end - start
    assert (result.errors[0].offset, result.error_count) == (start, 1)
    assert table.num_rows == clean.num_rows - 1
    assert_adds_up(table, result)
    # The records after the damage keep their exact offsets (the file's bytes did not move).
    assert offsets_after(table, start) == offsets_after(clean, end - 1)


def test_corrupt_member_deep_in_a_large_block(tmp_path: Path) -> None:
    """Damage found while reading a record's block (not its header) also resumes after it."""
    path = tmp_path / "large.warc.gz"
    starts = []
    with open(path, "wb") as out:
        for i in range(4):
            starts.append(out.tell())
            noise = os.urandom(1_200_000).hex().encode()  # incompressible: the member is MBs long
            write_response(out, f"https://large.example.cn/{i}", b"<html><body>" + noise + b"</body></html>", None)
        starts.append(out.tell())
    data = bytearray(path.read_bytes())
    data[starts[2] - 300 : starts[2] - 290] = b"\xff" * 10  # near the end of record 1's member
    path.write_bytes(bytes(data))
    table, result = read(path, max_payload_bytes=8 * MiB)
    assert table.column("url").to_pylist() == [f"https://large.example.cn/{i}" for i in (0, 2, 3)]
    assert result.stats.drops == {"read.corrupt_record": 1}
    assert result.skipped_bytes == starts[2] - starts[1]
    assert result.errors[0].offset == starts[1]
    assert_adds_up(table, result)


def with_content_length(record: bytes, change: int) -> bytes:
    found = re.search(rb"Content-Length: (\d+)", record)
    return record[: found.start(1)] + str(int(found.group(1)) + change).encode() + record[found.end(1) :]


@pytest.mark.parametrize("change", [+5000, -50])
def test_wrong_content_length_loses_no_other_record(tmp_path: Path, change: int) -> None:
    original = require_shared("warc", "commoncrawl_excerpt", "warcfile.warc.gz")
    data, spans = members(original)
    clean, _ = read(original)
    bad = middle_response(spans)
    record = gzip.decompress(data[spans[bad][0] : spans[bad][1]])
    path = tmp_path / "wrong_length.warc.gz"
    path.write_bytes(replaced(data, spans[bad], gzip.compress(with_content_length(record, change))))

    table, result = read(path)
    assert result.records == len(spans)  # the records it ran into are read again after it
    assert result.stats.drops["read.corrupt_record"] == 1
    assert result.errors[0].offset == spans[bad][0]  # the record with the wrong length is named
    assert result.skipped_bytes == 0
    # It is the corrupt one, so it gives no document (before, +5000 gave one whose HTML ran on into the
    # next record); every other page is read.
    url = re.search(rb"WARC-Target-URI: (\S+)", record).group(1).decode()
    assert set(table.column("url").to_pylist()) == set(clean.column("url").to_pylist()) - {url}
    assert not any(b"WARC/1." in html for html in table.column("html").to_pylist())
    assert_adds_up(table, result)


def test_huge_target_uri_loses_only_its_record(tmp_path: Path) -> None:
    original = require_shared("warc", "commoncrawl_excerpt", "warcfile.warc.gz")
    data, spans = members(original)
    clean, _ = read(original)
    bad = middle_response(spans)
    record = gzip.decompress(data[spans[bad][0] : spans[bad][1]])
    url = re.search(rb"WARC-Target-URI: (\S+)", record).group(1)
    long_url = b"https://spam.example.cn/" + b"a" * 100_000
    member = gzip.compress(record.replace(b"WARC-Target-URI: " + url, b"WARC-Target-URI: " + long_url, 1))
    path = tmp_path / "long_uri.warc.gz"
    path.write_bytes(replaced(data, spans[bad], member))

    table, result = read(path)
    assert result.records == len(spans)
    assert result.stats.drops["read.corrupt_record"] == 1
    assert result.skipped_bytes == len(member)
    assert "header length" in result.errors[0].error
    assert set(table.column("url").to_pylist()) == set(clean.column("url").to_pylist()) - {url.decode()}
    assert_adds_up(table, result)


def test_uncompressed_warc_resumes_at_the_next_warc_line(tmp_path: Path) -> None:
    original = require_shared("warc", "commoncrawl_excerpt", "warcfile.warc.gz")
    data, spans = members(original)
    records = [gzip.decompress(data[start:end]) for start, end, _ in spans]
    bad = middle_response(spans)
    records[bad] = b"garbage, not a record\r\n" * 40
    path = tmp_path / "plain.warc"
    path.write_bytes(b"".join(records))
    clean, _ = read(original)

    table, result = read(path)
    assert result.records == len(spans)
    assert result.stats.drops["read.corrupt_record"] == 1
    assert result.skipped_bytes == len(records[bad])
    assert table.num_rows == clean.num_rows - 1
    assert_adds_up(table, result)


def test_damaged_first_record_and_a_file_of_garbage(tmp_path: Path) -> None:
    data, spans = members(require_shared("warc", "commoncrawl_excerpt", "warcfile.warc.gz"))
    path = tmp_path / "bad_start.warc.gz"
    path.write_bytes(b"\0" * 1000 + data[spans[1][0] :])
    table, result = read(path)
    assert (result.records, result.skipped_bytes) == (len(spans), 1000)  # the 1000 bytes are one corrupt record
    assert_adds_up(table, result)
    (tmp_path / "garbage.warc.gz").write_bytes(os.urandom(50_000))
    table, result = read(tmp_path / "garbage.warc.gz")
    # No record at all: records stays 0 (the manifest then calls the file unreadable), the only
    # file whose drops are not records read.
    assert (table, result.records, result.skipped_bytes) == (None, 0, 50_000)
    assert result.stats.drops == {"read.corrupt_record": 1}


# Damaged multi-member text inputs: reading resumes at the next gzip member or zstd frame

MEMBER_TEXT = 32 * 1024
"""Text per member, cut anywhere in a line as block writers (bgzip, parallel zstd) do."""
BAD_BLOCK = {"gzip": b"\x06", "zstd": b"\x06\x00\x00"}
"""A deflate block header of the reserved type 11, a zstd block header of the reserved type 3: at
a block boundary, every decoder stops right there, so the damage is where the test says."""
ZSTD_PAD = b"\x00\x40\x00" + b" " * 2048
"""A raw zstd block of 2048 spaces before the damage: zstd drops the output of the step it fails
in (ZSTD_SLICE bytes), and without it the text's last block would end in that step."""
SUFFIX = {"gzip": "gz", "zstd": "zst"}


def member(kind: str, data: bytes, damage_at: int | None = None) -> tuple[bytes, int]:
    """One gzip member or zstd frame (with the checksum the zstd tool writes) of ``data``, and where
    its damage is: with ``damage_at``, a bad block after the text before that offset, then the
    member's other bytes."""
    if kind == "gzip":
        encoder = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS | 16)
        to_block_end, pad = (lambda: encoder.flush(zlib.Z_FULL_FLUSH)), b""
    else:
        encoder = zstandard.ZstdCompressor(write_checksum=True).compressobj()
        to_block_end, pad = (lambda: encoder.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)), ZSTD_PAD
    if damage_at is None:
        return encoder.compress(data) + encoder.flush(), -1
    head = encoder.compress(data[:damage_at]) + to_block_end() + pad
    return head + BAD_BLOCK[kind] + encoder.compress(data[damage_at:]) + encoder.flush(), len(head)


class Damage(typing.NamedTuple):
    at: int
    """File offset of the bad block."""
    resume: int
    """File offset of the member after the damaged one."""
    text_at: int
    """Offset in the text of the damage, and of the next member's first byte."""
    text_resume: int


def write_damaged(path: Path, kind: str, text: bytes) -> Damage:
    """``text`` as members of MEMBER_TEXT bytes, the middle one damaged halfway."""
    pieces = [text[i : i + MEMBER_TEXT] for i in range(0, len(text), MEMBER_TEXT)]
    bad = len(pieces) // 2
    before = b"".join(member(kind, piece)[0] for piece in pieces[:bad])
    damaged, at = member(kind, pieces[bad], len(pieces[bad]) // 2)
    path.write_bytes(before + damaged + b"".join(member(kind, piece)[0] for piece in pieces[bad + 1 :]))
    text_at = bad * MEMBER_TEXT + len(pieces[bad]) // 2
    return Damage(len(before) + at, len(before) + len(damaged), text_at, (bad + 1) * MEMBER_TEXT)


def line_starts(text: bytes) -> list[int]:
    """The byte offset of every line of ``text``."""
    return [0, *(i + 1 for i, byte in enumerate(text) if byte == 0x0A)]


def kept_lines(text: bytes, damage: Damage) -> tuple[list[int], int]:
    """Indexes of the lines of ``text`` a resync keeps (those ending before the damage and those
    starting in the next member; the rest of the cut line goes with it), and the cut line's."""
    kept, cut, start = [], -1, 0
    for index, line in enumerate(text.split(b"\n")[:-1]):
        if start + len(line) <= damage.text_at or start >= damage.text_resume:
            kept.append(index)
        elif cut < 0:
            cut = index
        start += len(line) + 1
    return kept, cut


def assert_skipped_from_the_damage(result: ReadResult, damage: Damage, kind: str) -> None:
    """Skipped bytes run from the damage to the next member: from its very byte in gzip (a failed step
    is decoded again byte by byte), from the start of the ZSTD_SLICE it ends in in zstd."""
    if kind == "gzip":
        assert result.skipped_bytes == damage.resume - damage.at
    else:
        assert damage.resume - damage.at - 3 <= result.skipped_bytes < damage.resume - damage.at + 1024


def jsonl_text(documents: list[str]) -> bytes:
    return ("\n".join(json.dumps({"text": t}, ensure_ascii=False) for t in documents) + "\n").encode()


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_corrupt_member_of_a_jsonl_loses_only_the_rest_of_it(tmp_path: Path, kind: str) -> None:
    documents = peoples_daily_documents(300)
    text = jsonl_text(documents)
    damage = write_damaged(tmp_path / f"corpus.jsonl.{SUFFIX[kind]}", kind, text)
    table, result = read(tmp_path / f"corpus.jsonl.{SUFFIX[kind]}", "jsonl")

    kept, cut = kept_lines(text, damage)
    # Before: read.truncated at the damage, and every document after it lost (about half).
    assert table.column("text").to_pylist() == [documents[i] for i in kept]
    assert dict(result.stats.drops) == {"read.corrupt_record": 1}  # the cut line, its rest folded in
    assert_skipped_from_the_damage(result, damage, kind)
    assert_adds_up(table, result)
    (error,) = result.errors
    assert error.line == cut + 1 and f"member at byte {damage.resume}" in error.error
    # Offsets before the damage are the text's; after it they count the text decoded, the
    # damaged stretch standing for one byte: unique and increasing, shifted from the text's.
    offsets = table.column("source_offset").to_pylist()
    starts = line_starts(text)
    assert offsets[:cut] == [starts[i] for i in kept[:cut]]
    assert offsets == sorted(set(offsets)) and offsets[cut] < starts[kept[cut]]

    # A file of one member has nothing to resume at: it ends there, as a cut-off file does.
    one = tmp_path / f"one.jsonl.{SUFFIX[kind]}"
    data, at = member(kind, text, damage.text_at)
    one.write_bytes(data)
    table, result = read(one, "jsonl")
    assert table.column("text").to_pylist() == documents[:cut]
    assert dict(result.stats.drops) == {"read.truncated": 1}
    assert_skipped_from_the_damage(result, Damage(at, len(data), damage.text_at, len(text)), kind)


def test_corrupt_frame_of_mnbvc_sample_loses_only_the_rest_of_it(tmp_path: Path) -> None:
    text = (
        zstandard.ZstdDecompressor()
        .decompressobj()
        .decompress((REPO / "samples" / "mnbvc_sample.jsonl.zst").read_bytes())
    )
    (tmp_path / "clean.jsonl").write_bytes(text)
    clean, _ = read(tmp_path / "clean.jsonl", "mnbvc")
    damage = write_damaged(tmp_path / "mnbvc.jsonl.zst", "zstd", text)
    table, result = read(tmp_path / "mnbvc.jsonl.zst", "mnbvc")

    kept, _ = kept_lines(text, damage)
    index_at = {offset: index for index, offset in enumerate(line_starts(text))}  # the sample has bad lines too
    offsets = clean.column("source_offset").to_pylist()
    expected = [t for t, offset in zip(clean.column("text").to_pylist(), offsets) if index_at[offset] in kept]
    assert 0 < len(expected) < clean.num_rows
    assert table.column("text").to_pylist() == expected
    assert result.stats.drops["read.corrupt_record"] == 1 and "read.truncated" not in result.stats.drops
    assert_skipped_from_the_damage(result, damage, "zstd")
    assert_adds_up(table, result)


def test_corrupt_member_of_a_wudao_array_loses_only_the_rest_of_it(tmp_path: Path) -> None:
    documents = peoples_daily_documents(300)
    text = ("[\n" + ",\n".join(wudao_element(i, t) for i, t in enumerate(documents)) + "\n]\n").encode()
    damage = write_damaged(tmp_path / "wudao.json.gz", "gzip", text)
    table, result = read(tmp_path / "wudao.json.gz", "wudao")

    kept, cut = kept_lines(text, damage)  # element i is on line i + 1 (from 0)
    assert table.column("source_id").to_pylist() == [str(i - 1) for i in kept[1:-1]]
    assert dict(result.stats.drops) == {"read.corrupt_record": 1}  # the rest of the cut one is passed over
    assert_skipped_from_the_damage(result, damage, "gzip")
    assert_adds_up(table, result)
    (error,) = result.errors
    assert error.error.startswith(f"element {cut}: corrupt gzip data")
    # Element i starts line i + 1; offsets before the damage are the text's, then go on increasing.
    offsets = table.column("source_offset").to_pylist()
    starts = line_starts(text)
    assert offsets[: cut - 1] == [starts[i] for i in kept[1:cut]]
    assert offsets == sorted(set(offsets))


def test_corrupt_bz2_stream_is_passed_over(tmp_path: Path) -> None:
    documents = peoples_daily_documents(90)
    streams = [bz2.compress(jsonl_text(documents[i : i + 30])) for i in (0, 30, 60)]
    streams[1] = streams[1][:3] + b"0" + streams[1][4:]  # block size 0: the stream is refused at once
    path = tmp_path / "corpus.jsonl.bz2"
    path.write_bytes(b"".join(streams))
    table, result = read(path, "jsonl")
    assert table.column("text").to_pylist() == documents[:30] + documents[60:]
    assert dict(result.stats.drops) == {"read.corrupt_record": 1}
    assert result.skipped_bytes == len(streams[1])
    assert_adds_up(table, result)
