"""Exact duplicate removal across the whole run (a global stage).

Map side: every document gets ``exact_hash``, a 128-bit BLAKE2b digest of its
normalised text (NFKC, lower case, whitespace collapsed), so copies that differ
only in spacing, full-width forms or case collide.

Global side: hashes are shuffled into partitions by their first bytes; each
partition is resolved independently, so no process needs every hash. In each
group of equal hashes the first document in input order (input file order, then
row order) is kept and the others are dropped as ``dedup.exact``, whatever the
scheduling, so re-runs give the same output.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.config_schema import bounds
from curate.decoded_columns import column_values
from curate.global_stage import DECISION_SCHEMA, DOC_FIELD, GlobalStage, decisions_table
from curate.stage import Reason

_WHITESPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def text_hash(text: str) -> str:
    return hashlib.blake2b(normalise(text).encode("utf-8"), digest_size=16).hexdigest()


@dataclass
class ExactDedupConfig:
    partitions: int = field(default=16, metadata=bounds(1, 65536))
    """Hash partitions of the shuffle; each is resolved by one task."""


class ExactDedup(GlobalStage):
    name = "exact_dedup"
    config_class = ExactDedupConfig
    reads = ("text",)
    writes = (pa.field("exact_hash", pa.string()),)
    rule = "dedup.exact"
    key_schema = pa.schema([pa.field("exact_hash", pa.string()), DOC_FIELD])

    def annotate(self, batch: pa.RecordBatch) -> tuple[dict[str, list], list[Reason]]:
        texts = column_values(batch, "text")
        return {"exact_hash": [text_hash(t) for t in texts]}, [None] * len(texts)

    def keys(self, batch: pa.RecordBatch, first_doc: int) -> tuple[pa.Table, np.ndarray]:
        hashes = batch.column("exact_hash")
        docs = np.arange(first_doc, first_doc + batch.num_rows, dtype=np.int64)
        return pa.table({"exact_hash": hashes, "doc": docs}, schema=self.key_schema), self.partition_of(hashes)

    def partition_of(self, hashes: pa.Array) -> np.ndarray:
        """Partition number of each hash (from its first 8 hex digits)."""
        prefix = pc.utf8_slice_codeunits(hashes, 0, 8)
        return np.array([int(p, 16) % self.config.partitions for p in prefix.to_pylist()], dtype=np.int64)

    def resolve_partition(self, keys: pa.Table) -> pa.Table:
        """Every duplicate in one partition: all but the first of each hash, in input order."""
        if not keys.num_rows:
            return DECISION_SCHEMA.empty_table()
        ordered = keys.sort_by([("exact_hash", "ascending"), ("unit", "ascending"), ("row", "ascending")])
        hashes = ordered.column("exact_hash").combine_chunks()
        previous = pa.concat_arrays([pa.array([None], pa.string()), hashes.slice(0, len(hashes) - 1)])
        repeats = ordered.filter(pc.fill_null(pc.equal(hashes, previous), False))
        return decisions_table(repeats.column("unit"), repeats.column("row"), drop=True)
