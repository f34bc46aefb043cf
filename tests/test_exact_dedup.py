"""Exact dedup: normalisation, partition resolution, partitioning."""

from __future__ import annotations

import pyarrow as pa
from conftest import peoples_daily_documents

from stages.exact_dedup import ExactDedup, ExactDedupConfig, text_hash


def test_normalised_hash_ignores_spacing_width_and_case() -> None:
    assert text_hash("Ｈｅｌｌｏ  世界\n") == text_hash("hello 世界")
    assert text_hash("你好，世界") != text_hash("你好,世界!")


def test_resolve_keeps_first_in_input_order() -> None:
    keys = pa.table(
        {
            "exact_hash": ["b", "a", "a", "b", "c", "a"],
            "unit": pa.array([1, 2, 0, 0, 3, 0], pa.int32()),
            "row": pa.array([5, 1, 9, 7, 0, 3], pa.int64()),
        }
    )
    drops = ExactDedup(ExactDedupConfig()).resolve_partition(keys)
    assert drops.column("drop").to_pylist() == [True] * 3
    assert sorted(zip(drops.column("unit").to_pylist(), drops.column("row").to_pylist())) == [(0, 9), (1, 5), (2, 1)]


def test_partitions_are_stable_and_in_range() -> None:
    stage = ExactDedup(ExactDedupConfig(partitions=7))
    hashes = pa.array([text_hash(t) for t in peoples_daily_documents(50)])
    parts = stage.partition_of(hashes).tolist()
    assert parts == stage.partition_of(hashes).tolist()
    assert set(parts) <= set(range(7)) and len(set(parts)) > 3
