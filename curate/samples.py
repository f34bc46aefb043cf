"""Samples of dropped and kept documents, collected during the run so reports never rescan the corpus.

Bottom-k sampling: every document offered under a reason gets a priority, a
hash of the seed and its id, and each reason keeps the ``k`` lowest. A unit's
sample is therefore reproducible whatever the batch sizes, and units' samples
merge by keeping the lowest priorities again. The merged file keeps a few times
more candidates than a report shows, so ``curate sample --seed`` can draw other
samples; a draw is stratified: documents are taken round-robin across inputs
and domains, so one site or one file cannot fill a reason's sample.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict

import pyarrow as pa
import pyarrow.parquet as pq

from curate import storage
from curate.untrusted import inside, read_rows
from curate.workdir import read_parquet, write_parquet_atomically

TEXT_CHARS = 20_000
"""Sampled texts are cut here: enough to read a page, bounded per sample."""

SAMPLE_SCHEMA = pa.schema(
    [
        pa.field("reason", pa.string()),
        pa.field("stage", pa.string()),
        pa.field("value", pa.float64()),
        pa.field("evidence", pa.string()),
        pa.field("kept_id", pa.string()),
        pa.field("id", pa.string()),
        pa.field("url", pa.string()),
        pa.field("domain", pa.string()),
        pa.field("source", pa.string()),
        pa.field("text", pa.string()),
        pa.field("signals", pa.string()),
        pa.field("priority", pa.float64()),
    ]
)
KEPT = "kept"
DOMAIN_SCHEMA = pa.schema(
    [pa.field("domain", pa.string()), pa.field("kept", pa.int64()), pa.field("dropped", pa.int64())]
)
SIGNAL_COLUMNS = ("lang_score", "quality_score", "spam_score")


def signals_of(table: pa.Table) -> list[str | None]:
    """Per row, the measured signals as JSON: language and quality scores and every field of
    the ``quality_*`` struct columns (``quality_zh.cjk_ratio``), for the report's histograms."""
    names = [
        n
        for n in table.schema.names
        if n in SIGNAL_COLUMNS or (n.startswith("quality_") and pa.types.is_struct(table.schema.field(n).type))
    ]
    if not names:
        return [None] * table.num_rows
    columns = {n: table.column(n).to_pylist() for n in names}
    out = []
    for i in range(table.num_rows):
        row: dict[str, float] = {}
        for name, values in columns.items():
            value = values[i]
            if isinstance(value, dict):
                row.update({f"{name}.{k}": v for k, v in value.items() if isinstance(v, (int, float))})
            elif isinstance(value, (int, float)):
                row[name] = value
        out.append(json.dumps(row) if row else None)
    return out


def priority(seed: int, doc_id: str) -> float:
    digest = hashlib.blake2b(f"{seed}\0{doc_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64


class Sampler:
    """The ``k`` lowest-priority documents offered under each reason."""

    def __init__(self, k: int, seed: int) -> None:
        self.k, self.seed = k, seed
        self.kept: dict[str, list[dict]] = defaultdict(list)
        self.domains: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        """Every offered document's domain, counted kept / dropped (all of them, not a sample)."""

    def offer(self, stage: str, reason: str, rows: list[dict]) -> None:
        """``rows``: documents (id, url, domain, source, text, and optionally value, evidence, kept_id)."""
        for row in rows:
            self.domains[row.get("domain") or ""][0 if reason == KEPT else 1] += 1
        if self.k == 0:
            return
        pool = self.kept[reason]
        for row in rows:
            pool.append(
                {
                    "reason": reason,
                    "stage": stage,
                    "value": row.get("value"),
                    "evidence": row.get("evidence"),
                    "kept_id": row.get("kept_id"),
                    "id": row.get("id"),
                    "url": row.get("url"),
                    "domain": row.get("domain"),
                    "source": row.get("source"),
                    "text": (row.get("text") or "")[:TEXT_CHARS],
                    "signals": row.get("signals"),
                    "priority": priority(self.seed, row.get("id") or ""),
                }
            )
        if len(pool) > 2 * self.k:
            pool.sort(key=lambda r: r["priority"])
            del pool[self.k :]

    def table(self) -> pa.Table:
        rows = [r for pool in self.kept.values() for r in sorted(pool, key=lambda r: r["priority"])[: self.k]]
        return pa.Table.from_pylist(rows, schema=SAMPLE_SCHEMA)

    def write(self, path: str, domains_path: str) -> None:
        table = self.table()
        if table.num_rows:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            pq.write_table(table, path)
        if self.domains:
            names = list(self.domains)
            counts = [self.domains[n] for n in names]
            pq.write_table(
                pa.table(
                    {"domain": names, "kept": [c[0] for c in counts], "dropped": [c[1] for c in counts]},
                    schema=DOMAIN_SCHEMA,
                ),
                domains_path,
            )


def top_domains(tables: list[pa.Table], count: int = 25) -> dict[str, list[list]]:
    """The domains with the most kept and the most dropped documents, over units' counts."""
    if not tables:
        return {"kept": [], "dropped": []}
    totals = pa.concat_tables(tables).group_by("domain").aggregate([("kept", "sum"), ("dropped", "sum")])
    rows = list(
        zip(
            totals.column("domain").to_pylist(),
            totals.column("kept_sum").to_pylist(),
            totals.column("dropped_sum").to_pylist(),
        )
    )
    top = {}
    for key, index in (("kept", 1), ("dropped", 2)):
        ranked = sorted((r for r in rows if r[index]), key=lambda r: (-r[index], r[0]))[:count]
        top[key] = [[r[0], r[index]] for r in ranked]
    return top


def merge(tables: list[pa.Table], k: int) -> pa.Table:
    """The ``k`` lowest priorities per reason over several units' samples."""
    if not tables:
        return SAMPLE_SCHEMA.empty_table()
    merged = pa.concat_tables(tables).sort_by(
        [("reason", "ascending"), ("priority", "ascending"), ("id", "ascending")]
    )
    reasons = merged.column("reason").to_pylist()
    keep, count, previous = [], 0, None
    for reason in reasons:
        count = count + 1 if reason == previous else 1
        previous = reason
        keep.append(count <= k)
    return merged.filter(pa.array(keep))


def draw(candidates: list[dict], n: int, seed: int) -> list[dict]:
    """``n`` of ``candidates`` (one reason's), stratified: round-robin across (input, domain),
    each stratum in the order of its documents' priority under ``seed``."""
    strata: dict[tuple, list[dict]] = defaultdict(list)
    for row in candidates:
        strata[(row.get("source"), row.get("domain"))].append(row)
    queues = [sorted(rows, key=lambda r: priority(seed, r.get("id") or "")) for rows in strata.values()]
    queues.sort(key=lambda q: priority(seed, q[0].get("id") or ""))
    chosen: list[dict] = []
    while len(chosen) < n and any(queues):
        for queue in queues:
            if queue and len(chosen) < n:
                chosen.append(queue.pop(0))
    return chosen


MAP_SAMPLES_FILE = "samples.parquet"
WRITE_SAMPLES_FILE = "write_samples.parquet"
MAP_DOMAINS_FILE = "domains.parquet"
WRITE_DOMAINS_FILE = "write_domains.parquet"
SAMPLE_CANDIDATES = 4
"""Candidates kept per reason, as a multiple of output.samples_per_reason: room for other seeds."""


def unit_sampler(samples_per_reason: int, seed: int) -> Sampler:
    return Sampler(SAMPLE_CANDIDATES * samples_per_reason, seed)


def _unit_tables(unit_dirs: list[str], names: tuple[str, ...], schema: pa.Schema) -> list[pa.Table]:
    paths = [os.path.join(folder, name) for folder in unit_dirs for name in names]
    return [read_parquet(path, schema) for path in paths if os.path.isfile(path)]


def publish_samples(output: str, unit_dirs: list[str], samples_per_reason: int) -> dict | None:
    """Merge every unit folder's samples into OUT/samples/samples.parquet; its manifest record."""
    tables = _unit_tables(unit_dirs, (MAP_SAMPLES_FILE, WRITE_SAMPLES_FILE), SAMPLE_SCHEMA)
    merged = merge(tables, SAMPLE_CANDIDATES * samples_per_reason)
    if not merged.num_rows:
        return None
    relative = os.path.join("samples", "samples.parquet")
    target = os.path.join(output, relative)
    write_parquet_atomically(merged, target)
    return {
        "path": relative,
        "rows": merged.num_rows,
        "bytes": os.path.getsize(target),
        "sha256": storage.sha256(target),
    }


def merged_top_domains(unit_dirs: list[str]) -> dict[str, list[list]]:
    """Domains with the most kept and dropped documents over the run (every document counted)."""
    return top_domains(_unit_tables(unit_dirs, (MAP_DOMAINS_FILE, WRITE_DOMAINS_FILE), DOMAIN_SCHEMA))


def read_samples(out: str, record: dict) -> list[dict]:
    """The rows of the samples file a manifest lists (``record``, its ``samples``), as SAMPLE_SCHEMA
    says, each with a reason (one without is filed under nothing); UnsafeOutput when its path leads
    out of ``out`` or the file holds another table."""
    return [row for row in read_rows(inside(out, record["path"]), SAMPLE_SCHEMA) if row["reason"] is not None]
