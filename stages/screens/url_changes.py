"""The same URL with different content within one run's inputs (a global screen).

Split-view poisoning serves a crawler different content at a URL than the
page's owner published, or changes it between crawls. Every document carries
``payload_digest`` (SHA-1 of its payload, from the reader); when one URL
appears with two or more different digests across the inputs, every copy is
flagged ``screen.url_content_changed`` (kept, annotated: which version is the
poisoned one cannot be told from the crawl alone). Evidence: the number of
versions and their digests.

Map side: (URL hash, digest, row) keys shuffled by URL hash into
``partitions``; each partition is resolved by one task (``changed_urls``), so
no process holds every URL; the writer annotates the flagged rows.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.config_schema import bounds
from curate.stage import Reason, Stage
from stages.screens.base import EVIDENCE_FIELD, FLAGS_FIELD, clip

RULE = "screen.url_content_changed"
KEY_SCHEMA = pa.schema([pa.field("url_hash", pa.uint64()), pa.field("digest", pa.string()), pa.field("row", pa.int64())])
FLAG_SCHEMA = pa.schema([pa.field("unit", pa.int32()), pa.field("row", pa.int64()), pa.field("evidence", pa.string())])


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


class UrlChangeScreen(Stage):
    name = "screen_url_changes"
    config_class = UrlChangeScreenConfig
    reads = ("url", "payload_digest")
    writes = (FLAGS_FIELD, EVIDENCE_FIELD)
    is_global = True

    def annotate(self, batch: pa.RecordBatch) -> tuple[dict[str, object], list[Reason]]:
        # The flags come from the global phase; pass the columns through (or start them empty).
        names = batch.schema.names
        flags = batch.column("screen_flags") if "screen_flags" in names else pa.nulls(batch.num_rows, FLAGS_FIELD.type)
        evidence = batch.column("screen_evidence") if "screen_evidence" in names else pa.nulls(batch.num_rows, EVIDENCE_FIELD.type)
        return {"screen_flags": flags, "screen_evidence": evidence}, [None] * batch.num_rows

    def keys(self, table: pa.Table, first_row: int) -> tuple[pa.Table, np.ndarray]:
        """Shuffle keys of a unit's documents and their partition numbers."""
        has_url = pc.invert(pc.is_null(table.column("url"))).to_numpy(zero_copy_only=False)
        rows = np.flatnonzero(has_url)
        kept = table.filter(pa.array(has_url))
        hashes = url_hashes(kept.column("url").to_pylist())
        keys = pa.table({"url_hash": hashes, "digest": kept.column("payload_digest"), "row": rows + first_row}, schema=KEY_SCHEMA)
        return keys, (hashes % np.uint64(self.config.partitions)).astype(np.int64)


def changed_urls(key_paths: list[tuple[int, str]], out: str) -> int:
    """Flag every (unit, row) whose URL has more than one digest in this partition's keys;
    ``key_paths``: (unit index, key file). Returns the number of flagged rows."""
    tables = []
    for unit, path in key_paths:
        if os.path.isfile(path):
            table = pq.read_table(path, schema=KEY_SCHEMA)
            tables.append(table.append_column("unit", pa.array(np.full(table.num_rows, unit, dtype=np.int32))))
    flagged = FLAG_SCHEMA.empty_table()
    if tables:
        keys = pa.concat_tables(tables)
        versions = keys.group_by("url_hash").aggregate([("digest", "count_distinct"), ("digest", "distinct")])
        changed = versions.filter(pc.greater(versions.column("digest_count_distinct"), 1))
        if changed.num_rows:
            evidence = {
                h: f"{len(d)} versions of this URL in the inputs: " + ", ".join(sorted(d))
                for h, d in zip(changed.column("url_hash").to_pylist(), changed.column("digest_distinct").to_pylist())
            }
            hit = keys.filter(pc.is_in(keys.column("url_hash"), changed.column("url_hash")))
            flagged = pa.table(
                {
                    "unit": hit.column("unit"),
                    "row": hit.column("row"),
                    "evidence": [clip(evidence[h]) for h in hit.column("url_hash").to_pylist()],
                },
                schema=FLAG_SCHEMA,
            )
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = f"{out}.tmp-{uuid.uuid4().hex[:8]}"
    pq.write_table(flagged, tmp)
    os.replace(tmp, out)
    return flagged.num_rows


def with_url_flags(batch: pa.RecordBatch, rows: np.ndarray, flagged_rows: np.ndarray, evidence: list[str]) -> pa.RecordBatch:
    """``batch`` (rows numbered ``rows``) with the URL-change flag added to its flagged rows
    (``flagged_rows`` sorted, ``evidence`` alongside)."""
    position = np.searchsorted(flagged_rows, rows)
    inside = position < len(flagged_rows)
    hit = np.zeros(len(rows), dtype=bool)
    hit[inside] = flagged_rows[position[inside]] == rows[inside]
    if not hit.any():
        return batch
    flags = batch.column("screen_flags").to_pylist()
    found = batch.column("screen_evidence").to_pylist()
    for index in np.flatnonzero(hit).tolist():
        flags[index] = (flags[index] or []) + [RULE]
        found[index] = (found[index] or []) + [{"rule": RULE, "evidence": evidence[int(position[index])]}]
    batch = batch.set_column(batch.schema.get_field_index("screen_flags"), FLAGS_FIELD, pa.array(flags, FLAGS_FIELD.type))
    return batch.set_column(batch.schema.get_field_index("screen_evidence"), EVIDENCE_FIELD, pa.array(found, EVIDENCE_FIELD.type))
