"""A global stage written outside curate, as a user would: one document per normalised URL.

Used by tests/test_engine.py by import path (``url_dedup:UrlDedup``). Drops
``dedup.url``: every document whose URL, normalised (scheme and host lower-cased,
``www.`` and the fragment removed, ``utm_*`` parameters removed, the rest sorted), was
seen earlier in input order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.config_schema import bounds
from curate.global_stage import DOC_FIELD, GlobalStage, decisions_table


def normalise_url(url: str) -> str:
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.startswith("utm_"))
    return f"{host}{parts.path.rstrip('/') or '/'}?{urlencode(query)}"


@dataclass
class UrlDedupConfig:
    partitions: int = field(default=4, metadata=bounds(1, 4096))


class UrlDedup(GlobalStage):
    name = "url_dedup"
    config_class = UrlDedupConfig
    reads = ("url",)
    rule = "dedup.url"
    key_schema = pa.schema([pa.field("url_hash", pa.uint64()), DOC_FIELD])

    def keys(self, batch: pa.RecordBatch, first_doc: int) -> tuple[pa.Table, np.ndarray]:
        urls = [normalise_url(u) for u in batch.column("url").to_pylist() if u is not None]
        docs = np.flatnonzero(pc.is_valid(batch.column("url")).to_numpy(zero_copy_only=False)) + first_doc
        digests = [hashlib.blake2b(u.encode(), digest_size=8).digest() for u in urls]
        hashes = np.array([int.from_bytes(d, "little") for d in digests], dtype=np.uint64)
        keys = pa.table({"url_hash": hashes, "doc": docs}, schema=self.key_schema)
        return keys, (hashes % np.uint64(self.config.partitions)).astype(np.int64)

    def resolve_partition(self, keys: pa.Table) -> pa.Table:
        ordered = keys.sort_by([("url_hash", "ascending"), ("unit", "ascending"), ("row", "ascending")])
        hashes = ordered.column("url_hash").to_numpy()
        repeat = np.concatenate(([False], hashes[1:] == hashes[:-1])) if len(hashes) else np.zeros(0, dtype=bool)
        dropped = ordered.filter(pa.array(repeat))
        return decisions_table(dropped.column("unit"), dropped.column("row"), drop=True)
