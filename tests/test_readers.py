"""The text readers (jsonl, parquet, wudao, mnbvc, wet) on fixtures we write in each layout."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from conftest import peoples_daily_documents, require_shared

from curate.config_schema import ConfigError, build
from stages.readers import InputConfig, ReadResult, reader_for
from stages.readers.compressed import TruncatedInput, numbered_lines


def read(path: Path, format: str, **fields) -> tuple[pa.Table | None, ReadResult]:
    config = build(
        InputConfig,
        {"paths": [str(path)], "format": format, "batch_size": 7, **({"fields": fields} if fields else {})},
        "input",
    )
    result = ReadResult()
    batches = list(reader_for(config).read(str(path), result))
    return (pa.Table.from_batches(batches) if batches else None), result


def assert_adds_up(table: pa.Table | None, result: ReadResult) -> None:
    rows = table.num_rows if table is not None else 0
    assert result.stats.docs_out == rows
    assert result.stats.docs_in == rows + sum(result.stats.drops.values())


def jsonl_lines(documents: list[str]) -> list[str]:
    lines = [
        json.dumps(
            {
                "id": f"doc-{i}",
                "text": text,
                "url": f"https://news.example.cn/{i}.html",
                "meta": {"site": "example", "year": 1998},
            },
            ensure_ascii=False,
        )
        for i, text in enumerate(documents)
    ]
    lines.insert(3, '{"id": "broken", "text": "未闭合的字符串')  # bad JSON
    lines.insert(5, json.dumps({"id": "n", "text": 12345}))  # wrong type
    lines.insert(7, json.dumps({"id": "no-text", "body": "正文"}, ensure_ascii=False))  # missing text
    lines.insert(9, "")  # blank: not a record
    lines.insert(10, "[1, 2, 3]")  # JSON, but not an object
    return lines


@pytest.mark.parametrize("suffix", ["", ".gz", ".zst"])
def test_jsonl_keeps_good_lines_and_counts_bad_ones_by_line(tmp_path: Path, suffix: str) -> None:
    documents = peoples_daily_documents(20)
    data = ("\n".join(jsonl_lines(documents)) + "\n").encode("utf-8")
    path = tmp_path / f"corpus.jsonl{suffix}"
    path.write_bytes({"": data, ".gz": gzip.compress(data), ".zst": zstandard.ZstdCompressor().compress(data)}[suffix])

    table, result = read(path, "jsonl", metadata=["meta.site", "meta.year"])
    assert table.column("text").to_pylist() == documents
    assert table.column("source_id").to_pylist() == [f"doc-{i}" for i in range(20)]
    assert table.column("domain").to_pylist() == ["news.example.cn"] * 20
    assert json.loads(table.column("metadata")[0].as_py()) == {"meta.site": "example", "meta.year": 1998}
    assert set(table.column("source").to_pylist()) == {str(path)}
    # Provenance is the line's byte offset in the (decompressed) text: lines 1, 2, 3 and 5 hold
    # documents 0-3 (line 4 is bad JSON).
    starts = [0, *itertools.accumulate(len(line.encode("utf-8")) + 1 for line in jsonl_lines(documents))]
    assert table.column("source_offset").to_pylist()[:4] == [starts[0], starts[1], starts[2], starts[4]]
    assert len(set(table.column("id").to_pylist())) == 20
    assert dict(result.stats.drops) == {"read.bad_json": 2, "read.bad_field": 1, "read.missing_text": 1}
    assert [(e.line, e.error.split(":")[0]) for e in result.errors] == [
        (4, "not JSON"),
        (6, "field 'text' is int, expected a string"),
        (8, "no 'text' field"),
        (11, "expected a JSON object, got list"),
    ]
    assert result.records == 24  # every non-blank line
    assert_adds_up(table, result)


def test_jsonl_field_mapping_and_title(tmp_path: Path) -> None:
    path = tmp_path / "mapped.jsonl"
    path.write_text(
        json.dumps(
            {"doc": {"body": "正文第一段。\n正文第二段。", "headline": "标题"}, "key": 7, "link": "http://a.cn/x"},
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    table, result = read(path, "jsonl", text="doc.body", title="doc.headline", id="key", url="link")
    row = table.to_pylist()[0]
    assert row["text"] == "标题\n正文第一段。\n正文第二段。"
    assert (row["source_id"], row["url"], row["domain"]) == ("7", "http://a.cn/x", "a.cn")


def test_truncated_zst_keeps_the_lines_before_the_cut(tmp_path: Path) -> None:
    documents = peoples_daily_documents(200)
    data = ("\n".join(json.dumps({"text": t}, ensure_ascii=False) for t in documents) + "\n").encode("utf-8")
    compressed = zstandard.ZstdCompressor().compress(data)
    path = tmp_path / "cut.jsonl.zst"
    path.write_bytes(compressed[: len(compressed) // 2])

    table, result = read(path, "jsonl")
    kept = table.column("text").to_pylist()
    assert 0 < len(kept) < 200 and kept == documents[: len(kept)]
    assert dict(result.stats.drops) == {"read.truncated": 1}
    (error,) = result.errors
    assert error.line == len(kept) + 1 and "cut off" in error.error
    assert_adds_up(table, result)


def test_multi_frame_zst_and_multi_member_gz_are_one_stream(tmp_path: Path) -> None:
    lines = [f"line {i}".encode() for i in range(1000)]
    first, second = b"\n".join(lines[:400]) + b"\n", b"\n".join(lines[400:]) + b"\n"
    (tmp_path / "a.txt.zst").write_bytes(
        zstandard.ZstdCompressor().compress(first) + zstandard.ZstdCompressor().compress(second)
    )
    (tmp_path / "a.txt.gz").write_bytes(gzip.compress(first) + gzip.compress(second))
    for name in ("a.txt.zst", "a.txt.gz"):
        assert [line for _, _, line in numbered_lines(str(tmp_path / name))] == lines
    (tmp_path / "garbage.txt.zst").write_bytes(b"\x28\xb5\x2f\xfd" + b"\xff" * 100)
    with pytest.raises(TruncatedInput):
        list(numbered_lines(str(tmp_path / "garbage.txt.zst")))


def test_parquet_with_column_mapping(tmp_path: Path) -> None:
    documents = peoples_daily_documents(30)
    texts = documents[:10] + [None, ""] + documents[10:]
    table = pa.table(
        {
            "content": texts,
            "doc_id": list(range(len(texts))),
            "source_url": [f"https://p.example.cn/{i}" for i in range(len(texts))],
            "tags": [["新闻", "1998"]] * len(texts),
        }
    )
    path = tmp_path / "corpus.parquet"
    pq.write_table(table, path, row_group_size=8)

    out, result = read(path, "parquet", text="content", id="doc_id", url="source_url", metadata=["tags"])
    assert out.column("text").to_pylist() == documents
    assert out.column("source_offset").to_pylist()[10] == 13  # rows 11 and 12 were empty
    assert json.loads(out.column("metadata")[0].as_py()) == {"tags": ["新闻", "1998"]}
    assert dict(result.stats.drops) == {"read.missing_text": 2}
    assert [e.line for e in result.errors] == [11, 12]
    assert_adds_up(out, result)

    pq.write_table(pa.table({"content": [1, 2]}), tmp_path / "ints.parquet")
    with pytest.raises(ValueError, match="column 'content' is int64, expected strings"):
        read(tmp_path / "ints.parquet", "parquet", text="content")
    with pytest.raises(ValueError, match="no column 'text'"):
        read(path, "parquet")


def wudao_elements(documents: list[str]) -> list[dict]:
    return [
        {
            "id": i,
            "uniqueKey": f"u{i:04d}",
            "titleUkey": f"t{i:04d}",
            "dataType": "新闻",
            "title": f"标题{i}",
            "content": text,
        }
        for i, text in enumerate(documents)
    ]


def test_wudao_array_joins_title_and_content(tmp_path: Path) -> None:
    documents = peoples_daily_documents(40)
    elements = wudao_elements(documents)
    elements[5]["content"] = 404  # wrong type
    del elements[9]["content"]  # missing text
    path = tmp_path / "part-2021278643.json"
    # Compact, as WuDao ships: the whole array on one line, far longer than one read chunk.
    path.write_text(json.dumps(elements, ensure_ascii=False), encoding="utf-8")

    table, result = read(path, "wudao")
    expected = [f"标题{i}\n{t}" for i, t in enumerate(documents) if i not in (5, 9)]
    assert table.column("text").to_pylist() == expected
    assert table.column("source_id").to_pylist()[:5] == ["0", "1", "2", "3", "4"]
    assert json.loads(table.column("metadata")[0].as_py()) == {
        "dataType": "新闻",
        "titleUkey": "t0000",
        "uniqueKey": "u0000",
    }
    assert dict(result.stats.drops) == {"read.bad_field": 1, "read.missing_text": 1}
    assert result.records == 40
    assert_adds_up(table, result)


def test_wudao_bad_element_and_cut_off_array(tmp_path: Path) -> None:
    documents = peoples_daily_documents(12)
    lines = [json.dumps(e, ensure_ascii=False) for e in wudao_elements(documents)]
    lines[4] = '{"id": 4, "title": "坏", "content": "缺少引号}'  # malformed: reading resumes at the next element
    text = "[\n" + ",\n".join(lines) + "\n]\n"
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    table, result = read(path, "wudao")
    assert table.num_rows == 11 and dict(result.stats.drops) == {"read.bad_json": 1}
    assert result.errors[0].line == 6 and "element 5" in result.errors[0].error

    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(gzip.compress(("[\n" + ",\n".join(lines[:4] + lines[5:]) + "\n]\n").encode("utf-8"))[:-400])
    table, result = read(cut, "wudao")
    assert 0 < table.num_rows < 11
    assert (
        table.column("text").to_pylist()
        == [f"标题{i}\n{t}" for i, t in enumerate(documents) if i != 4][: table.num_rows]
    )
    assert dict(result.stats.drops) == {"read.truncated": 1}


def mnbvc_records(documents: list[str]) -> list[str]:
    file_record = {
        "文件名": "新闻/0001.txt",
        "是否待查文件": False,
        "是否重复文件": False,
        "文件大小": 100,
        "simhash": 123,
        "段落数": 3,
        "去重段落数": 3,
        "低质量段落数": 0,
        # Out of order on purpose: 行号 decides the order.
        "段落": [
            {"行号": n, "是否重复": False, "是否跨文件重复": False, "md5": "x", "内容": p}
            for n, p in [(2, "第二段。"), (1, "第一段。"), (3, "第三段。")]
        ],
    }
    parallel = {
        "文件名": "parallel.txt",
        "是否待查文件": False,
        "段落": [{"行号": 1, "zh_text": "你好，世界。", "en_text": "Hello, world."}],
    }
    qa = {
        "id": 17,
        "问": "天空为什么是蓝色的？",
        "答": "因为瑞利散射。",
        "来源": "百科",
        "元数据": {"create_time": "20230101 00:00:00", "问题明细": "", "回答明细": "", "扩展字段": ""},
    }
    forum = {
        "ID": 3,
        "主题": "求推荐书",
        "来源": "论坛",
        "回复": [{"楼ID": 1, "回复": "推荐《围城》。", "扩展字段": ""}, {"楼ID": 2, "回复": "同问。", "扩展字段": ""}],
    }
    long_file = {"文件名": "long.txt", "段落": [{"行号": i + 1, "内容": t} for i, t in enumerate(documents)]}
    return [json.dumps(r, ensure_ascii=False) for r in (file_record, parallel, qa, forum, long_file)] + [
        json.dumps({"文件名": "empty.txt", "段落": []}),
        json.dumps({"文件名": "bad.txt", "段落": "not a list"}),
        json.dumps({"unexpected": "layout"}),
        '{"问": "半行',
    ]


def test_mnbvc_layouts_stream_from_zst(tmp_path: Path) -> None:
    documents = peoples_daily_documents(5)
    path = tmp_path / "mnbvc.jsonl.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(("\n".join(mnbvc_records(documents)) + "\n").encode("utf-8")))
    table, result = read(path, "mnbvc")
    rows = table.to_pylist()
    assert [r["text"] for r in rows] == [
        "第一段。\n第二段。\n第三段。",
        "你好，世界。",
        "问：天空为什么是蓝色的？\n答：因为瑞利散射。",
        "求推荐书\n推荐《围城》。\n同问。",
        "\n".join(documents),
    ]
    assert [r["source_id"] for r in rows] == ["新闻/0001.txt", "parallel.txt", "17", "3", "long.txt"]
    assert json.loads(rows[0]["metadata"])["simhash"] == 123
    assert json.loads(rows[2]["metadata"])["来源"] == "百科"
    assert dict(result.stats.drops) == {
        "read.missing_text": 1,
        "read.bad_field": 1,
        "read.unknown_layout": 1,
        "read.bad_json": 1,
    }
    assert [e.line for e in result.errors] == [6, 7, 8, 9]
    assert_adds_up(table, result)


def test_wet_reads_common_crawls_text_records() -> None:
    path = require_shared("warc", "commoncrawl-whirlwind", "whirlwind.warc.wet.gz")
    table, result = read(path, "wet")
    assert table.num_rows >= 1
    assert table.column("html").null_count == table.num_rows
    assert all(t.strip() for t in table.column("text").to_pylist())
    assert table.column("url")[0].as_py().startswith("http")
    assert_adds_up(table, result)


def test_fields_are_rejected_for_fixed_layouts() -> None:
    with pytest.raises(ConfigError, match=r"input\.fields\.text: input\.format 'mnbvc' has a fixed layout"):
        build(InputConfig, {"paths": ["x"], "format": "mnbvc", "fields": {"text": "body"}}, "input")
    with pytest.raises(ConfigError, match=r"input\.format: expected one of"):
        build(InputConfig, {"paths": ["x"], "format": "csv"}, "input")
