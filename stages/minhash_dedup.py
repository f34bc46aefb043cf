"""Near-duplicate removal with MinHash LSH across the whole run (a global stage).

Map side: every document with text gets LSH band keys (``stages.minhash_signatures``:
character 5-grams of the normalised, Simplified text by default). The global side
(``curate.minhash_phases``) runs as phases on Ray: band keys shuffled into
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

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pyarrow as pa

from curate.config_schema import ConfigError, bounds
from curate.decoded_columns import column_values
from curate.stage import Reason, Stage
from stages.minhash_signatures import (
    MinHasher,
    band_keys,
    bands_for_threshold,
    char_shingles,
    collision_probability,
    normalise,
    word_shingles,
)

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
            raise ConfigError(f"{path}.bands", f"bands × rows ({self.bands} × {self.rows}) exceeds num_perm ({self.num_perm})")

    def band_layout(self) -> tuple[int, int]:
        return bands_for_threshold(self.threshold, self.num_perm) if self.threshold is not None else (self.bands, self.rows)

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
            "candidate_probability": {str(j): round(collision_probability(j, bands, rows), 4) for j in REPORTED_JACCARDS},
        }


def describe_bands(parameters: dict) -> str:
    """One line for people: the band layout and its S-curve (from ``parameters()``)."""
    curve = ", ".join(f"J={j} {p:.3f}" for j, p in parameters["candidate_probability"].items())
    return f"{parameters['bands']} bands x {parameters['rows']} rows of {parameters['num_perm']} permutations; P(candidate) {curve}"


class MinHashDedup(Stage):
    name = "minhash_dedup"
    config_class = MinHashDedupConfig
    reads = ("text",)
    writes = (
        pa.field("minhash_bands", pa.list_(pa.uint64())),
        pa.field("dup_cluster_id", pa.string()),
        pa.field("dup_cluster_size", pa.int32()),
    )
    is_global = True

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


def exact_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity of two shingle sets (arrays of hashes, repeats allowed)."""
    a, b = np.unique(a), np.unique(b)
    if not len(a) and not len(b):
        return 1.0
    common = len(np.intersect1d(a, b, assume_unique=True))
    return common / (len(a) + len(b) - common)
