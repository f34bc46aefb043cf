"""Write kept documents as zstd Parquet shards with deterministic names.

Shards roll over at ``shard_max_rows`` rows or ``shard_max_bytes`` uncompressed
bytes, and hold row groups of ``ROW_GROUP_ROWS`` rows. Each shard is written under a
temporary name and renamed when complete, so a reader never sees half a file; its sha256
goes into the manifest.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from curate.storage import sha256


@dataclass
class ShardInfo:
    path: str
    """Relative to the output folder."""
    rows: int
    bytes: int
    sha256: str

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "rows": self.rows, "bytes": self.bytes, "sha256": self.sha256}


ROW_GROUP_ROWS = 1024
"""Rows per row group, whatever the batches they arrive in: the shards' bytes then depend only
on the documents, not on how units or batches cut them (an input read in ranges writes the
same shards as read whole)."""


def fixed_batches(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """``batches`` re-cut into batches of exactly ``rows`` rows (the last one shorter)."""
    held: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        held.append(batch)
        count += batch.num_rows
        if count < rows:
            continue
        table = pa.Table.from_batches(held)
        start = 0
        while count - start >= rows:
            yield table.slice(start, rows).combine_chunks().to_batches()[0]
            start += rows
        held = table.slice(start).to_batches() if start < count else []
        count -= start
    if count:
        yield pa.Table.from_batches(held).combine_chunks().to_batches()[0]


class ParquetShardWriter:
    def __init__(
        self,
        out_dir: str,
        schema: pa.Schema,
        *,
        max_rows: int,
        max_bytes: int,
        compression_level: int,
        row_group_rows: int = ROW_GROUP_ROWS,
    ) -> None:
        self.out_dir = out_dir
        self.schema = schema
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.compression_level = compression_level
        self.row_group_rows = row_group_rows

    def write(self, batches: Iterable[pa.RecordBatch], prefix: str) -> list[ShardInfo]:
        """Write ``batches`` as ``data/{prefix}-00000.parquet``, ``-00001`` ...; return the shards."""
        data_dir = os.path.join(self.out_dir, "data")
        os.makedirs(data_dir, exist_ok=True)
        shards: list[ShardInfo] = []
        writer: pq.ParquetWriter | None = None
        rows = size = 0
        tmp_path = final_path = ""

        def close() -> None:
            nonlocal writer
            assert writer is not None
            writer.close()
            writer = None
            os.replace(tmp_path, final_path)
            shards.append(
                ShardInfo(
                    os.path.relpath(final_path, self.out_dir),
                    rows,
                    os.path.getsize(final_path),
                    sha256(final_path),
                )
            )

        for batch in fixed_batches(batches, self.row_group_rows):
            offset = 0
            while offset < batch.num_rows:
                if writer is None:
                    final_path = os.path.join(data_dir, f"{prefix}-{len(shards):05d}.parquet")
                    tmp_path = f"{final_path}.tmp-{os.getpid()}"
                    writer = pq.ParquetWriter(
                        tmp_path, self.schema, compression="zstd", compression_level=self.compression_level
                    )
                    rows = size = 0
                take = min(batch.num_rows - offset, self.max_rows - rows)
                piece = batch.slice(offset, take)
                writer.write_batch(piece)
                rows += piece.num_rows
                size += piece.nbytes
                offset += take
                if rows >= self.max_rows or size >= self.max_bytes:
                    close()
        if writer is not None:
            close()
        return shards
