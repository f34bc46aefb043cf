"""Shard roll-over, names and checksums of the Parquet writer; progress lines off a terminal."""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curate.progress import Progress
from curate.storage import sha256
from stages.parquet_writer import ParquetShardWriter


def batches(n: int, size: int) -> list[pa.RecordBatch]:
    return [
        pa.RecordBatch.from_pydict({"id": [f"{b}-{i}" for i in range(size)], "text": ["正文内容" * 20] * size})
        for b in range(n)
    ]


def test_shards_roll_over_by_rows(tmp_path: Path) -> None:
    schema = batches(1, 1)[0].schema
    writer = ParquetShardWriter(str(tmp_path), schema, max_rows=25, max_bytes=1 << 30, compression_level=3)
    shards = writer.write(batches(4, 20), "unit-abc")
    assert [s.path for s in shards] == [f"data/unit-abc-{i:05d}.parquet" for i in range(4)]
    assert [s.rows for s in shards] == [25, 25, 25, 5]
    ids = [i for s in shards for i in pq.read_table(tmp_path / s.path).column("id").to_pylist()]
    assert ids == [f"{b}-{i}" for b in range(4) for i in range(20)]
    for shard in shards:
        assert shard.sha256 == sha256(str(tmp_path / shard.path))
        assert shard.bytes == (tmp_path / shard.path).stat().st_size
    assert not list((tmp_path / "data").glob("*.tmp-*"))


def test_shards_roll_over_by_bytes(tmp_path: Path) -> None:
    data = batches(10, 10)
    writer = ParquetShardWriter(
        str(tmp_path),
        data[0].schema,
        max_rows=10**6,
        max_bytes=data[0].nbytes * 3,
        compression_level=3,
        row_group_rows=10,
    )
    shards = writer.write(data, "u")
    assert [s.rows for s in shards] == [30, 30, 30, 10]


def test_no_rows_no_shards(tmp_path: Path) -> None:
    writer = ParquetShardWriter(
        str(tmp_path), batches(1, 1)[0].schema, max_rows=5, max_bytes=1 << 20, compression_level=3
    )
    assert writer.write([], "u") == []


def test_progress_logs_lines_when_not_on_a_terminal(caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="curate")
    with Progress("map", 2) as progress:
        progress.advance("a.warc.gz")
        progress.advance("b.warc.gz")
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "map: 2 tasks"
    assert "map: 2/2 done (b.warc.gz)" in messages
    assert messages[-1].startswith("map: finished in")
