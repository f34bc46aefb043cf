"""The global phases of MinHash near-duplicate removal: each function is the body of one task.

Map tasks leave, per unit, two kinds of keys (``MinHashDedup.emit``): ``bands`` (band
key, node) partitioned by key and ``nodes`` (node, id, length, quality, fetch time)
partitioned by node; a node is ``unit index << 32 | row``. Then, in the stage's work
folder (``GlobalJob.folder``):

1. ``lsh``: per band partition, documents sharing a band key become candidate
   edges (each bucket as a star from its first node), shuffled by first node;
   ``unique_edges`` then keeps each pair once → ``edges/part-P``. Documents that an
   earlier global stage of the pass removes (exact dedup) take no part;
2. ``verify`` (optional): per edge partition, exact Jaccard of the two shingle
   sets, texts read back from the units' row groups → ``verified/part-P``;
3. components, labelling every node with the smallest node of its component →
   ``labels/part-P`` (by node partition). One task with an array union-find
   when the edges are few (memory ~100 bytes per edge); otherwise min-label
   propagation over node partitions, one round of P tasks per iteration, each
   holding only its partition's adjacency, labels and messages;
4. ``members``: per node partition, labels joined with node attributes,
   shuffled by cluster → ``members/from-P/to-R``;
5. ``keepers``: per cluster partition, one document kept per cluster → the
   stage's decisions for every member (drop, kept id, cluster id and size).

Every task writes its files under temporary names and renames them into place,
with a small JSON record of its counts last; a task whose record exists is
skipped, so a re-run after a crash redoes only unfinished partitions.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.global_stage import GlobalJob
from curate.shuffle import part_name, read_parts, write_partitioned
from curate.workdir import finished, mark_finished, read_parquet, write_parquet_atomically
from stages.minhash.signatures import exact_jaccard

_MIX = np.uint64(0x9E3779B97F4A7C15)
ROW_BITS = 32

BAND_SCHEMA = pa.schema([pa.field("key", pa.uint64(), nullable=False), pa.field("node", pa.int64(), nullable=False)])
NODE_SCHEMA = pa.schema(
    [
        pa.field("node", pa.int64(), nullable=False),
        pa.field("id", pa.string()),
        pa.field("length", pa.int64()),
        pa.field("quality", pa.float64()),
        pa.field("fetch_time", pa.int64()),
    ]
)
EDGE_SCHEMA = pa.schema([pa.field("src", pa.int64(), nullable=False), pa.field("dst", pa.int64(), nullable=False)])
LABEL_SCHEMA = pa.schema([pa.field("node", pa.int64(), nullable=False), pa.field("label", pa.int64(), nullable=False)])


def node_ids(unit_index: int, rows: np.ndarray) -> np.ndarray:
    return (np.int64(unit_index) << np.int64(ROW_BITS)) | rows.astype(np.int64)


def node_partition(nodes: np.ndarray, partitions: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        return ((nodes.astype(np.uint64) * _MIX) >> np.uint64(40)) % np.uint64(partitions)


def key_partition(keys: np.ndarray, partitions: int) -> np.ndarray:
    return (keys >> np.uint64(40)) % np.uint64(partitions)  # band keys are already mixed


# --- 1. candidate pairs ------------------------------------------------------------------------


def candidate_edges(keys: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges linking the first (smallest) node of every bucket of equal keys to its other nodes,
    each pair once."""
    order = np.lexsort((nodes, keys))
    keys, nodes = keys[order], nodes[order]
    starts = np.concatenate(([True], keys[1:] != keys[:-1])) if len(keys) else np.zeros(0, dtype=bool)
    first = nodes[np.flatnonzero(starts)][np.cumsum(starts) - 1]
    src, dst = first[~starts], nodes[~starts]
    keep = src != dst
    pairs = (
        np.unique(np.stack([src[keep], dst[keep]], axis=1), axis=0) if keep.any() else np.zeros((0, 2), dtype=np.int64)
    )
    return pairs[:, 0], pairs[:, 1]


def lsh_partition(job: GlobalJob, partition: int, partitions: int) -> dict[str, Any]:
    """Candidate edges of one band-key partition. Documents that an earlier global stage of the
    pass removes (exact deduplication) take no part: their copy stands for them."""
    work = job.folder
    out = os.path.join(work, "bucket-edges", f"from-{partition:05d}")
    if (record := finished(out)) is not None:
        return record
    table = read_parts(job.key_paths("bands", partition), BAND_SCHEMA)
    keys, nodes = table.column("key").to_numpy(), table.column("node").to_numpy()
    drops = job.earlier_drops()
    if drops.num_rows:
        removed = node_ids(0, drops.column("row").to_numpy()) | (
            drops.column("unit").to_numpy().astype(np.int64) << ROW_BITS
        )
        kept = ~np.isin(nodes, removed)
        keys, nodes = keys[kept], nodes[kept]
    src, dst = candidate_edges(keys, nodes)
    # A pair that shares several bands is found in several partitions: shuffle the edges by
    # their first node so that ``unique_edges`` sees every copy of a pair together.
    edges = pa.table({"src": src, "dst": dst}, schema=EDGE_SCHEMA)
    write_partitioned(edges, node_partition(src, partitions), partitions, lambda q: os.path.join(out, part_name(q)))
    return mark_finished(out, {"band_keys": table.num_rows, "bucket_edges": len(src)})


def unique_edges(work: str, partition: int) -> dict[str, Any]:
    """The distinct candidate pairs whose first node is in this partition."""
    out = os.path.join(work, "edges", part_name(partition))
    if (record := finished(out)) is not None:
        return record
    edges = read_parts(
        sorted(glob.glob(os.path.join(work, "bucket-edges", "from-*", part_name(partition)))), EDGE_SCHEMA
    )
    pairs = np.stack([edges.column("src").to_numpy(), edges.column("dst").to_numpy()], axis=1)
    pairs = np.unique(pairs, axis=0) if len(pairs) else pairs.reshape(0, 2)
    write_parquet_atomically(pa.table({"src": pairs[:, 0], "dst": pairs[:, 1]}, schema=EDGE_SCHEMA), out)
    return mark_finished(out, {"candidate_pairs": len(pairs)})


# --- 2. verification ---------------------------------------------------------------------------


def read_texts(docs_path: str, rows: np.ndarray) -> dict[int, str]:
    """Texts of some rows of a unit's docs.parquet, reading only the row groups that hold them."""
    handle = pq.ParquetFile(docs_path)
    starts = np.cumsum([0] + [handle.metadata.row_group(i).num_rows for i in range(handle.num_row_groups)])
    texts: dict[int, str] = {}
    wanted = np.unique(rows)
    groups = np.searchsorted(starts, wanted, side="right") - 1
    for group in np.unique(groups).tolist():
        column = handle.read_row_group(group, columns=["text"]).column("text").to_pylist()
        for row in wanted[groups == group].tolist():
            texts[row] = column[row - starts[group]]
    return texts


def verify_partition(
    job: GlobalJob, partition: int, shingles: Callable[[str], np.ndarray], threshold: float
) -> dict[str, Any]:
    work = job.folder

    out = os.path.join(work, "verified", part_name(partition))
    if (record := finished(out)) is not None:
        return record
    edges = read_parts([os.path.join(work, "edges", part_name(partition))], EDGE_SCHEMA)
    src, dst = edges.column("src").to_numpy(), edges.column("dst").to_numpy()
    nodes = np.unique(np.concatenate([src, dst]))
    sets: dict[int, np.ndarray] = {}
    units = nodes >> ROW_BITS
    for unit in np.unique(units).tolist():
        rows = nodes[units == unit] & ((1 << ROW_BITS) - 1)
        for row, text in read_texts(os.path.join(job.unit_dirs[unit], "docs.parquet"), rows).items():
            sets[(unit << ROW_BITS) | row] = shingles(text or "")
    keep = np.array(
        [exact_jaccard(sets[a], sets[b]) >= threshold for a, b in zip(src.tolist(), dst.tolist())], dtype=bool
    )
    write_parquet_atomically(pa.table({"src": src[keep], "dst": dst[keep]}, schema=EDGE_SCHEMA), out)
    return mark_finished(out, {"candidate_pairs": len(src), "verified_pairs": int(keep.sum())})


# --- 3. connected components -------------------------------------------------------------------


def component_labels(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(nodes, labels): every node of an edge, labelled with the smallest node of its component.

    An array union-find: every edge hooks the larger root under the smaller one, then
    pointers are jumped to their roots, until no edge joins two roots. Roots only ever get
    smaller, so each root is its component's smallest node."""
    nodes = np.unique(np.concatenate([src, dst]))
    a, b = np.searchsorted(nodes, src), np.searchsorted(nodes, dst)
    parent = np.arange(len(nodes))
    while True:
        ra, rb = parent[a], parent[b]
        joins = ra != rb
        if not joins.any():
            break
        np.minimum.at(parent, np.maximum(ra, rb)[joins], np.minimum(ra, rb)[joins])
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
    return nodes, nodes[parent]


def local_components(work: str, edge_dir: str, partitions: int) -> dict[str, Any]:
    out = os.path.join(work, "labels", "local")
    if (record := finished(out)) is not None:
        return record
    edges = read_parts(sorted(glob.glob(os.path.join(work, edge_dir, "part-*.parquet"))), EDGE_SCHEMA)
    nodes, labels = component_labels(edges.column("src").to_numpy(), edges.column("dst").to_numpy())
    table = pa.table({"node": nodes, "label": labels}, schema=LABEL_SCHEMA)
    write_partitioned(
        table, node_partition(nodes, partitions), partitions, lambda q: os.path.join(work, "labels", part_name(q))
    )
    return mark_finished(out, {"method": "local", "iterations": 1, "nodes": len(nodes)})


def adjacency_partition(work: str, edge_dir: str, partition: int, partitions: int) -> dict[str, Any]:
    """Both directions of one edge partition's edges, shuffled by the partition of their source."""
    out = os.path.join(work, "cc", "adjacency", f"from-{partition:05d}")
    if (record := finished(out)) is not None:
        return record
    edges = read_parts([os.path.join(work, edge_dir, part_name(partition))], EDGE_SCHEMA)
    src, dst = edges.column("src").to_numpy(), edges.column("dst").to_numpy()
    both = pa.table({"src": np.concatenate([src, dst]), "dst": np.concatenate([dst, src])}, schema=EDGE_SCHEMA)
    write_partitioned(
        both,
        node_partition(both.column("src").to_numpy(), partitions),
        partitions,
        lambda q: os.path.join(out, part_name(q)),
    )
    return mark_finished(out, {"edges": len(src)})


def propagation_round(work: str, partition: int, partitions: int, iteration: int) -> dict[str, Any]:
    """One round of min-label propagation for the nodes of one partition.

    Labels start as the nodes themselves. A round takes the labels neighbours sent in the
    previous round, lowers this partition's labels to the smallest, and sends every lowered
    label to the neighbours (one message file per destination partition). The run has
    converged when a round lowers nothing."""
    out = os.path.join(work, "cc", f"round-{iteration:04d}", part_name(partition))
    if (record := finished(out)) is not None:
        return record
    adjacency = read_parts(
        sorted(glob.glob(os.path.join(work, "cc", "adjacency", "from-*", part_name(partition)))), EDGE_SCHEMA
    )
    src, dst = adjacency.column("src").to_numpy(), adjacency.column("dst").to_numpy()
    if iteration == 0:
        nodes = np.unique(src)
        labels = nodes.copy()
        changed = np.ones(len(nodes), dtype=bool)
    else:
        previous = read_parquet(
            os.path.join(work, "cc", f"round-{iteration - 1:04d}", part_name(partition)), LABEL_SCHEMA
        )
        nodes, labels = previous.column("node").to_numpy(), previous.column("label").to_numpy().copy()
        messages = read_parts(
            sorted(
                glob.glob(os.path.join(work, "cc", f"messages-{iteration - 1:04d}", "from-*", part_name(partition)))
            ),
            LABEL_SCHEMA,
        )
        incoming = np.full(len(nodes), np.iinfo(np.int64).max)
        if messages.num_rows:
            np.minimum.at(
                incoming,
                np.searchsorted(nodes, messages.column("node").to_numpy()),
                messages.column("label").to_numpy(),
            )
        changed = incoming < labels
        labels = np.minimum(labels, incoming)
    # Tell the neighbours of every node whose label went down.
    sender = np.searchsorted(nodes, src)
    send = changed[sender]
    outgoing = pa.table({"node": dst[send], "label": labels[sender[send]]}, schema=LABEL_SCHEMA)
    message_dir = os.path.join(work, "cc", f"messages-{iteration:04d}", f"from-{partition:05d}")
    write_partitioned(
        outgoing,
        node_partition(outgoing.column("node").to_numpy(), partitions),
        partitions,
        lambda q: os.path.join(message_dir, part_name(q)),
    )
    write_parquet_atomically(pa.table({"node": nodes, "label": labels}, schema=LABEL_SCHEMA), out)
    return mark_finished(
        out, {"changed": int(changed.sum()) if iteration else 0, "messages": outgoing.num_rows, "nodes": len(nodes)}
    )


def publish_labels(work: str, iteration: int, partition: int) -> None:
    """The converged round's labels become ``labels/part-P``."""
    source = os.path.join(work, "cc", f"round-{iteration:04d}", part_name(partition))
    write_parquet_atomically(read_parquet(source, LABEL_SCHEMA), os.path.join(work, "labels", part_name(partition)))


# --- 4 and 5. clusters and keepers -------------------------------------------------------------


def members_partition(job: GlobalJob, partition: int, partitions: int) -> dict[str, Any]:
    """Attach node attributes to this node partition's labels; shuffle them by cluster."""
    work = job.folder
    out = os.path.join(work, "members", f"from-{partition:05d}")
    if (record := finished(out)) is not None:
        return record
    labels = read_parts([os.path.join(work, "labels", part_name(partition))], LABEL_SCHEMA)
    attributes = read_parts(job.key_paths("nodes", partition), NODE_SCHEMA)
    joined = labels.join(attributes, "node", join_type="inner").sort_by("node")
    label_column = joined.column("label").to_numpy()
    write_partitioned(
        joined, node_partition(label_column, partitions), partitions, lambda r: os.path.join(out, part_name(r))
    )
    return mark_finished(out, {"members": joined.num_rows})


KEEP_ORDER = {
    # Sort keys, best first; the node (input order) breaks remaining ties. Nulls sort last
    # whatever the direction: a missing quality or fetch time never wins.
    "longest": [("length", "descending", "at_end"), ("node", "ascending", "at_end")],
    "highest_quality": [
        ("quality", "descending", "at_end"),
        ("length", "descending", "at_end"),
        ("node", "ascending", "at_end"),
    ],
    "earliest": [("fetch_time", "ascending", "at_end"), ("node", "ascending", "at_end")],
}


def keepers_partition(job: GlobalJob, partition: int, keep: str, decision_schema: pa.Schema) -> dict[str, Any]:
    """Choose one document per cluster of this partition; record a decision for every member:
    removed (with the id of the document kept instead), or kept with its cluster id and size."""
    work = job.folder
    out = os.path.join(work, "keepers", part_name(partition))
    if (record := finished(out)) is not None:
        return record
    member_schema = LABEL_SCHEMA.append(NODE_SCHEMA.field("id")).append(NODE_SCHEMA.field("length"))
    member_schema = member_schema.append(NODE_SCHEMA.field("quality")).append(NODE_SCHEMA.field("fetch_time"))
    paths = sorted(glob.glob(os.path.join(work, "members", "from-*", part_name(partition))))
    members = (
        pa.concat_tables([read_parquet(p, columns=member_schema.names) for p in paths])
        if paths
        else member_schema.empty_table()
    )
    ordered = members.sort_by([("label", "ascending", "at_end")] + KEEP_ORDER[keep])
    labels = ordered.column("label").to_numpy()
    starts = np.concatenate(([True], labels[1:] != labels[:-1])) if len(labels) else np.zeros(0, dtype=bool)
    group = np.cumsum(starts) - 1
    sizes = np.bincount(group) if len(group) else np.zeros(0, dtype=np.int64)
    ids = ordered.column("id").to_pylist()
    kept_ids = [ids[i] for i in np.flatnonzero(starts).tolist()]
    nodes = ordered.column("node").to_numpy()
    cluster_ids = [kept_ids[g] for g in group.tolist()]
    decisions = pa.table(
        {
            "unit": (nodes >> ROW_BITS).astype(np.int32),
            "row": nodes & ((1 << ROW_BITS) - 1),
            "drop": ~starts,
            # A removed document's evidence is the id of the one kept instead; kept ones carry none.
            "evidence": [None if first else kept for kept, first in zip(cluster_ids, starts.tolist())],
            "dup_cluster_id": cluster_ids,
            "dup_cluster_size": sizes[group].astype(np.int32),
        },
        schema=decision_schema,
    )
    job.write_decisions(decisions, partition)
    histogram = np.bincount(sizes) if len(sizes) else np.zeros(0, dtype=np.int64)
    return mark_finished(
        out,
        {
            "clusters": int(len(sizes)),
            "removed": int((~starts).sum()),
            "cluster_sizes": {str(size): int(count) for size, count in enumerate(histogram.tolist()) if count},
        },
    )
