"""The shuffle: rows written to one Parquet file per hash partition, and read back by partition.

Map tasks stream key rows through a ``PartitionedWriter`` (bounded memory, no file
left open between writes); global tasks read one partition of every unit with
``read_parts``. Every global phase that redistributes rows uses ``write_partitioned``.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from curate.workdir import read_parquet, write_parquet_atomically

BUFFER_ROWS = 1 << 18
"""Key rows a writer buffers before writing them out: a unit's keys are never all in memory."""


def part_name(partition: int) -> str:
    return f"part-{partition:05d}.parquet"


def write_partitioned(
    table: pa.Table, partition_of_row: np.ndarray, partitions: int, path_of: Callable[[int], str]
) -> None:
    """Write ``table``'s rows to one file per partition that has rows."""
    order = np.argsort(partition_of_row, kind="stable")
    ordered, parts = table.take(pa.array(order)), partition_of_row[order]
    bounds = np.searchsorted(parts, np.arange(partitions + 1))
    for partition in range(partitions):
        if bounds[partition + 1] > bounds[partition]:
            rows = ordered.slice(bounds[partition], bounds[partition + 1] - bounds[partition])
            write_parquet_atomically(rows, path_of(partition))


def read_parts(paths: list[str], schema: pa.Schema) -> pa.Table:
    tables = [read_parquet(p, schema) for p in paths if os.path.isfile(p)]
    return pa.concat_tables(tables) if tables else schema.empty_table()


class PartitionedWriter:
    """Rows streamed to ``part-PPPPP-CCCC.parquet`` files in ``folder``: each time the buffer
    fills (``buffer_rows`` rows in all), one file per partition with rows, C counting the writes."""

    def __init__(self, folder: str, schema: pa.Schema, partitions: int, buffer_rows: int = BUFFER_ROWS) -> None:
        self.folder, self.schema, self.partitions, self.buffer_rows = folder, schema, partitions, buffer_rows
        self.buffered: list[tuple[pa.Table, np.ndarray]] = []
        self.buffered_rows = 0
        self.chunks = 0

    def add(self, rows: pa.Table, partitions: np.ndarray) -> None:
        if not rows.num_rows:
            return
        self.buffered.append((rows.cast(self.schema), np.asarray(partitions, dtype=np.int64)))
        self.buffered_rows += rows.num_rows
        if self.buffered_rows >= self.buffer_rows:
            self.flush()

    def flush(self) -> None:
        if not self.buffered:
            return
        table = pa.concat_tables([rows for rows, _ in self.buffered])
        parts = np.concatenate([p for _, p in self.buffered])
        chunk = self.chunks
        write_partitioned(
            table, parts, self.partitions, lambda p: os.path.join(self.folder, f"part-{p:05d}-{chunk:04d}.parquet")
        )
        self.buffered, self.buffered_rows = [], 0
        self.chunks += 1

    @staticmethod
    def paths(folder: str, partition: int) -> list[str]:
        return sorted(glob.glob(os.path.join(folder, f"part-{partition:05d}-*.parquet")))
