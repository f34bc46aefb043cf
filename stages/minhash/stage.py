"""Near-duplicate removal with MinHash LSH across the whole run (a global stage).

Map side: every document with text gets LSH band keys (``stages.minhash.signatures``:
character 5-grams of the normalised, Simplified text by default). The global side
(``stages.minhash.phases``) runs as phases, one task per partition: band keys shuffled into
partitions → candidate pairs per partition (optionally verified by exact Jaccard
on the shingle sets) → connected components (one-process array union-find when
the edges are few, distributed min-label propagation otherwise) → one document
kept per cluster.

Drops ``dedup.minhash``: every member of a near-duplicate cluster but the one
chosen by ``keep``: ``longest`` text, ``highest_quality`` (``quality_score``,
then length), or ``earliest`` ``fetch_time``; remaining ties go to the first
document in input order. Kept cluster members get ``dup_cluster_id`` (the kept
document's id) and ``dup_cluster_size``; documents without near-duplicates get
a null id and size 1. Removed documents are sampled (``OUT/samples/``) with the
id of the document kept instead (``kept_id``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.config_schema import ConfigError, bounds
from curate.decoded_columns import column_values
from curate.global_stage import GlobalJob, GlobalStage, PhaseRunner
from curate.stage import Reason
from stages.minhash import phases
from stages.minhash.signatures import (
    MinHasher,
    band_keys,
    bands_for_threshold,
    char_shingles,
    collision_probability,
    normalise,
    word_shingles,
)

log = logging.getLogger("curate")

REPORTED_JACCARDS = (0.5, 0.7, 0.8, 0.9)


@dataclass
class MinHashDedupConfig:
    shingle: Literal["char", "word"] = "char"
    """Character n-grams (default), or n-grams of jieba words."""
    ngram: int = field(default=5, metadata=bounds(1, 64))
    """5 characters: Chinese words are 1-3 characters, so 5-grams span about two words."""
    fold_traditional: bool = True
    """Shingle the OpenCC Simplified form, so Traditional and Simplified copies match."""
    num_perm: int = field(default=112, metadata=bounds(1, 1024))
    bands: int = field(default=14, metadata=bounds(1, 1024))
    rows: int = field(default=8, metadata=bounds(1, 1024))
    """14 bands × 8 rows = 112 permutations (as FineWeb): pairs at Jaccard 0.8 collide with
    probability 0.92, at 0.5 with 0.05."""
    threshold: float | None = field(default=None, metadata=bounds(0.01, 0.99))
    """When set, bands and rows are derived from it (and num_perm) instead."""
    verify: bool = False
    """Check candidate pairs by exact Jaccard of their shingle sets, dropping LSH false positives."""
    verify_threshold: float = field(default=0.7, metadata=bounds(0, 1))
    """Minimum exact Jaccard of a verified pair."""
    keep: Literal["longest", "highest_quality", "earliest"] = "longest"
    seed: int = field(default=1, metadata=bounds(0))
    partitions: int = field(default=16, metadata=bounds(1, 65536))
    """Partitions of every shuffle (band keys, edges, nodes, clusters); each is one task."""
    local_components_max_edges: int = field(default=2_000_000, metadata=bounds(0))
    """Up to this many candidate edges, components are found in one task (~100 bytes per
    edge); beyond it, by distributed label propagation over the partitions."""

    def check(self, path: str) -> None:
        if self.threshold is None and self.bands * self.rows > self.num_perm:
            raise ConfigError(
                f"{path}.bands", f"bands × rows ({self.bands} × {self.rows}) exceeds num_perm ({self.num_perm})"
            )

    def band_layout(self) -> tuple[int, int]:
        return (
            bands_for_threshold(self.threshold, self.num_perm)
            if self.threshold is not None
            else (self.bands, self.rows)
        )

    def parameters(self) -> dict:
        """What the manifest records, with the S-curve: the chance that a pair becomes a candidate."""
        bands, rows = self.band_layout()
        return {
            "shingle": self.shingle,
            "ngram": self.ngram,
            "fold_traditional": self.fold_traditional,
            "num_perm": self.num_perm,
            "bands": bands,
            "rows": rows,
            "seed": self.seed,
            "verify": self.verify,
            "verify_threshold": self.verify_threshold if self.verify else None,
            "keep": self.keep,
            "candidate_probability": {
                str(j): round(collision_probability(j, bands, rows), 4) for j in REPORTED_JACCARDS
            },
        }


def describe_bands(parameters: dict) -> str:
    """One line for people: the band layout and its S-curve (from ``parameters()``)."""
    curve = ", ".join(f"J={j} {p:.3f}" for j, p in parameters["candidate_probability"].items())
    layout = f"{parameters['bands']} bands x {parameters['rows']} rows of {parameters['num_perm']} permutations"
    return f"{layout}; P(candidate) {curve}"


CLUSTER_FIELDS = (pa.field("dup_cluster_id", pa.string()), pa.field("dup_cluster_size", pa.int32()))


class MinHashDedup(GlobalStage):
    name = "minhash_dedup"
    config_class = MinHashDedupConfig
    reads = ("text",)
    writes = (pa.field("minhash_bands", pa.list_(pa.uint64())),) + CLUSTER_FIELDS
    rule = "dedup.minhash"
    decision_columns = CLUSTER_FIELDS
    evidence_as = "kept_id"
    summary_key = "minhash_dedup"

    def __init__(self, config: MinHashDedupConfig) -> None:
        super().__init__(config)
        self.bands, self.rows = config.band_layout()
        self.hasher = MinHasher(config.num_perm, config.seed)

    def shingles(self, text: str) -> np.ndarray:
        normalised = normalise(text, self.config.fold_traditional)
        if self.config.shingle == "word":
            return word_shingles(normalised, self.config.ngram)
        return char_shingles(normalised, self.config.ngram)

    def annotate(self, batch: pa.RecordBatch) -> tuple[dict[str, object], list[Reason]]:
        texts = column_values(batch, "text")
        shingle_sets = [self.shingles(text or "") for text in texts]
        has_shingles = [i for i, s in enumerate(shingle_sets) if len(s)]
        keys: list[list[int] | None] = [None] * len(texts)  # an empty text has nothing to match
        if has_shingles:
            signatures = self.hasher.signatures([shingle_sets[i] for i in has_shingles])
            for i, row in zip(has_shingles, band_keys(signatures, self.bands, self.rows).tolist()):
                keys[i] = row
        columns = {
            "minhash_bands": pa.array(keys, pa.list_(pa.uint64())),
            # Filled in by the global phase for documents in clusters.
            "dup_cluster_id": pa.nulls(len(texts), pa.string()),
            "dup_cluster_size": pa.array(np.ones(len(texts), dtype=np.int32)),
        }
        return columns, [None] * len(texts)

    def key_schemas(self) -> dict[str, pa.Schema]:
        return {"bands": phases.BAND_SCHEMA, "nodes": phases.NODE_SCHEMA}

    def emit(self, batch: pa.RecordBatch, first_doc: int, unit: int) -> dict[str, tuple[pa.Table, np.ndarray]]:
        """Band keys (partitioned by key) and node attributes (by node) of the documents with text."""
        bands = batch.column("minhash_bands")
        has_keys = pc.is_valid(bands).to_numpy(zero_copy_only=False)
        rows = np.flatnonzero(has_keys)
        with_keys = batch.filter(pa.array(has_keys))
        nodes = phases.node_ids(unit, rows + first_doc)
        keys = pc.list_flatten(with_keys.column("minhash_bands")).to_numpy()
        per_doc = pc.list_value_length(with_keys.column("minhash_bands")).to_numpy()
        band_rows = pa.table({"key": keys, "node": np.repeat(nodes, per_doc)}, schema=phases.BAND_SCHEMA)
        names = with_keys.schema.names
        missing = pa.nulls(len(rows), pa.int64())
        attributes = pa.table(
            {
                "node": nodes,
                "id": with_keys.column("id"),
                "length": pc.utf8_length(with_keys.column("text")).cast(pa.int64()),
                "quality": with_keys.column("quality_score").cast(pa.float64())
                if "quality_score" in names
                else missing.cast(pa.float64()),
                "fetch_time": with_keys.column("fetch_time").cast(pa.int64()) if "fetch_time" in names else missing,
            }
        ).cast(phases.NODE_SCHEMA)
        return {
            "bands": (band_rows, phases.key_partition(keys, self.partitions).astype(np.int64)),
            "nodes": (attributes, phases.node_partition(nodes, self.partitions).astype(np.int64)),
        }

    def resolve(self, job: GlobalJob, run: PhaseRunner) -> dict[str, Any]:
        """The MinHash phases (``stages.minhash.phases``); their summary for the manifest."""
        settings = self.config
        log.info("minhash: %s", describe_bands(settings.parameters()))
        count = settings.partitions
        partitions = range(count)
        lsh = run("minhash lsh", phases.lsh_partition, [(p, (job, p, count)) for p in partitions])
        pairs = run("minhash pairs", phases.unique_edges, [(p, (job.folder, p)) for p in partitions])
        candidates = sum(r["candidate_pairs"] for r in pairs.values())
        edge_dir, verified = "edges", None
        if settings.verify:
            jobs = [(p, (job, p, self.shingles, settings.verify_threshold)) for p in partitions]
            checked = run("minhash verify", phases.verify_partition, jobs)
            edge_dir, verified = "verified", sum(r["verified_pairs"] for r in checked.values())
        edges = verified if verified is not None else candidates
        components = self._components(job.folder, edge_dir, edges, run)
        run("minhash members", phases.members_partition, [(p, (job, p, count)) for p in partitions])
        keep_jobs = [(p, (job, p, settings.keep, self.decision_schema())) for p in partitions]
        keepers = run("minhash keepers", phases.keepers_partition, keep_jobs)
        histogram: dict[str, int] = {}
        for record in keepers.values():
            for size, number in record["cluster_sizes"].items():
                histogram[size] = histogram.get(size, 0) + number
        return {
            "parameters": settings.parameters(),
            "band_keys": sum(r["band_keys"] for r in lsh.values()),
            "candidate_pairs": candidates,
            "verified_pairs": verified,
            "components": components,
            "clusters": sum(r["clusters"] for r in keepers.values()),
            "cluster_sizes": dict(sorted(histogram.items(), key=lambda item: int(item[0]))),
            "documents_removed": sum(r["removed"] for r in keepers.values()),
        }

    def _components(self, work: str, edge_dir: str, edges: int, run: PhaseRunner) -> dict[str, Any]:
        """Connected components: in one task when the edges are few, else by label propagation."""
        count = self.config.partitions
        if edges <= self.config.local_components_max_edges:
            found = run("minhash components", phases.local_components, [("all", (work, edge_dir, count))])["all"]
            return {"method": found["method"], "iterations": found["iterations"], "nodes": found["nodes"]}
        run("minhash adjacency", phases.adjacency_partition, [(p, (work, edge_dir, p, count)) for p in range(count)])
        iteration = 0
        while True:
            jobs = [(p, (work, p, count, iteration)) for p in range(count)]
            rounds = run(f"minhash components {iteration}", phases.propagation_round, jobs)
            if iteration > 0 and sum(r["changed"] for r in rounds.values()) == 0:
                break
            iteration += 1
        for p in range(count):
            phases.publish_labels(work, iteration, p)
        return {
            "method": "distributed",
            "iterations": iteration + 1,
            "nodes": sum(r["nodes"] for r in rounds.values()),
        }
