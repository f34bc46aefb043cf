"""The same URL with different content within one run's inputs (a global screen).

Split-view poisoning serves a crawler different content at a URL than the
page's owner published, or changes it between crawls. Every document carries
``payload_digest`` (SHA-1 of its payload, from the reader); when one URL
appears with two or more different digests across the inputs, every surviving
copy is flagged ``screen.url_content_changed`` (kept, annotated: which version
is the poisoned one cannot be told from the crawl alone). Evidence: the number
of versions and their digests.

What is counted: every document that reached extraction (or, for text inputs,
every document read), including versions a later filter or screen drops: a
poisoned version the quality rules remove still shows that the URL changed,
and the surviving version is flagged (see ``stages.screens.global_flags``).

Map side: (URL hash, digest, doc) keys shuffled by URL hash into
``partitions``; each partition is resolved by one task, so no process holds
every URL; the writer annotates the flagged rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.config_schema import bounds
from curate.global_stage import DECISION_SCHEMA, decisions_table
from stages.screens.base import clip
from stages.screens.global_flags import DOC_FIELD, GlobalFlagScreen, surviving


@dataclass
class UrlChangeScreenConfig:
    action: Literal["flag"] = "flag"
    """Only flag: the crawl alone cannot tell which version is genuine."""
    partitions: int = field(default=16, metadata=bounds(1, 65536))


def url_hashes(urls: list[str | None]) -> np.ndarray:
    return np.array(
        [int.from_bytes(hashlib.blake2b((u or "").encode("utf-8"), digest_size=8).digest(), "little") for u in urls],
        dtype=np.uint64,
    )


class UrlChangeScreen(GlobalFlagScreen):
    name = "screen_url_changes"
    config_class = UrlChangeScreenConfig
    reads = ("url", "payload_digest")
    rule = "screen.url_content_changed"
    key_schema = pa.schema([pa.field("url_hash", pa.uint64()), pa.field("digest", pa.string()), DOC_FIELD])

    def keys(self, batch: pa.RecordBatch, first_doc: int) -> tuple[pa.Table, np.ndarray]:
        has_url = pc.invert(pc.is_null(batch.column("url"))).to_numpy(zero_copy_only=False)
        kept = batch.filter(pa.array(has_url))
        hashes = url_hashes(kept.column("url").to_pylist())
        docs = np.flatnonzero(has_url) + first_doc
        keys = pa.table(
            {"url_hash": hashes, "digest": kept.column("payload_digest"), "doc": docs}, schema=self.key_schema
        )
        return keys, (hashes % np.uint64(self.config.partitions)).astype(np.int64)

    def resolve_partition(self, keys: pa.Table) -> pa.Table:
        # Versions of every observed copy, the ones later stages dropped too.
        versions = keys.group_by("url_hash").aggregate([("digest", "count_distinct"), ("digest", "distinct")])
        changed = versions.filter(pc.greater(versions.column("digest_count_distinct"), 1))
        if not changed.num_rows:
            return DECISION_SCHEMA.empty_table()
        evidence = {
            h: clip(f"{len(d)} versions of this URL in the inputs: " + ", ".join(sorted(d)))
            for h, d in zip(changed.column("url_hash").to_pylist(), changed.column("digest_distinct").to_pylist())
        }
        hit = surviving(keys.filter(pc.is_in(keys.column("url_hash"), changed.column("url_hash"))))
        return decisions_table(
            hit.column("unit"), hit.column("row"), False, [evidence[h] for h in hit.column("url_hash").to_pylist()]
        )
