"""The global side of ``line_dedup``, in three phases, each resumable task by task:

1. ``count``, one task per partition: every unit hash of the partition, from every unit, counted
   exactly: the distinct domains whose pages hold it, and its pages per domain. The boilerplate
   ones' keys are written per unit (``removals/unit-U/part-P``), and per (hash, domain) its
   pages and one place where it occurs (``spread/part-P``), for the manifest;
2. ``decide``, one task per unit: its removals grouped by document; a document left with fewer
   than ``min_chars_left`` characters is dropped, the others keep the places of their
   boilerplate units (the write side cuts them);
3. in the driver: totals, and the most removed lines of the domains with most removals, their
   text read back from one document holding each.
"""

from __future__ import annotations

import glob
import os
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.executor import node_id
from curate.global_stage import GlobalJob, PhaseRunner, read_unit_keys
from curate.shuffle import part_name, read_parts
from curate.workdir import finished, mark_finished, read_parquet, write_parquet_atomically
from stages.line_dedup.lines import split_units

UNITS = pa.list_(pa.int32())

if TYPE_CHECKING:
    from stages.line_dedup.stage import LineDedup, LineDedupConfig

REMOVAL_SCHEMA = pa.schema(
    [
        pa.field("unit", pa.int32()),
        pa.field("row", pa.int64()),
        pa.field("place", pa.int32()),
        pa.field("chars", pa.int32()),
    ]
)
SPREAD_SCHEMA = pa.schema(
    [
        pa.field("unit_hash", pa.uint64()),
        pa.field("domain_hash", pa.uint64()),
        pa.field("pages", pa.int64()),
        pa.field("unit", pa.int32()),
        pa.field("row", pa.int64()),
        pa.field("place", pa.int32()),
    ]
)


def resolve_line_dedup(stage: LineDedup, job: GlobalJob, run: PhaseRunner) -> dict[str, Any]:
    counted = run(f"{stage.name} count", count_partition, [(p, (job, p)) for p in range(stage.partitions)])
    decided = run(f"{stage.name} decide", decide_unit, [(u.index, (job, u.index)) for u in job.units])
    totals = {
        key: sum(result[key] for result in decided.values())
        for key in ("documents_changed", "documents_emptied", "units_removed", "chars_removed")
    }
    return {
        "parameters": {
            name: getattr(stage.config, name)
            for name in (
                "min_domains",
                "min_pages_per_domain",
                "min_pages_unpunctuated",
                "min_unit_chars",
                "max_unit_chars",
                "keep_code_lines",
                "min_chars_left",
            )
        },
        "boilerplate_units": sum(result["boilerplate"] for result in counted.values()),
        "count_nodes": sorted({result["node"] for result in counted.values() if result.get("node")}),
        **totals,
        "top_removed": top_removed(stage, job),
    }


def count_partition(job: GlobalJob, partition: int) -> dict[str, int]:
    """Phase 1 for one partition: which unit hashes are boilerplate, and where they are."""
    done = os.path.join(job.folder, "counted", part_name(partition))
    if (record := finished(done)) is not None:
        return record
    stage = job.build()
    keys = job.read_keys("lines", partition, stage.key_schema)
    pages, per_domain, boilerplate = count_spread(keys, stage.config)
    removed = keys.filter(pc.is_in(keys.column("unit_hash"), value_set=boilerplate))
    _write_removals(job, removed, partition)
    _write_spread(job, pages, per_domain, boilerplate, partition)
    return mark_finished(done, {"boilerplate": len(boilerplate), "removed": removed.num_rows, "node": node_id()})


def count_spread(keys: pa.Table, config: LineDedupConfig) -> tuple[pa.Table, pa.Table, pa.Array]:
    """From unit keys (with ``unit`` and ``row``): the pages holding each (hash, domain), the
    distinct pages per (hash, domain) as ``row_count``, and the boilerplate unit hashes."""
    # A unit repeated inside one page counts once: spread is over pages, not occurrences.
    pages = keys.group_by(["unit_hash", "domain_hash", "unit", "row"], use_threads=False).aggregate(
        [("place", "min"), ("page_hash", "min")]
    )
    # Copies of one page (the same normalised text) count as one page.
    distinct = pages.group_by(["unit_hash", "domain_hash", "page_hash_min"], use_threads=False).aggregate([])
    per_domain = distinct.group_by(["unit_hash", "domain_hash"], use_threads=False).aggregate(
        [("page_hash_min", "count")]
    )
    per_domain = per_domain.rename_columns(["unit_hash", "domain_hash", "row_count"])
    spread = per_domain.group_by("unit_hash", use_threads=False).aggregate(
        [("domain_hash", "count"), ("row_count", "max")]
    )
    # A unit is a sentence if any occurrence holds a sentence end (the hash ignores punctuation).
    sentence = keys.group_by("unit_hash", use_threads=False).aggregate([("sentence", "any")])
    spread = spread.join(sentence, "unit_hash", join_type="inner", use_threads=False)
    most = spread.column("row_count_max")
    boilerplate = spread.filter(
        pc.or_(
            pc.or_(
                pc.greater_equal(spread.column("domain_hash_count"), config.min_domains),
                pc.greater_equal(most, config.min_pages_per_domain),
            ),
            pc.and_(pc.invert(spread.column("sentence_any")), pc.greater_equal(most, config.min_pages_unpunctuated)),
        )
    ).column("unit_hash")
    return pages, per_domain, boilerplate


def _write_removals(job: GlobalJob, removed: pa.Table, partition: int) -> None:
    units = removed.column("unit").to_numpy()
    for unit in np.unique(units).tolist():
        rows = removed.filter(pa.array(units == unit)).select(REMOVAL_SCHEMA.names).cast(REMOVAL_SCHEMA)
        write_parquet_atomically(rows, os.path.join(job.folder, "removals", f"unit-{unit:06d}", part_name(partition)))


def _write_spread(
    job: GlobalJob, pages: pa.Table, per_domain: pa.Table, boilerplate: pa.Array, partition: int
) -> None:
    """Per boilerplate (hash, domain): its pages and one page holding it (the first in input order)."""
    chosen = pages.filter(pc.is_in(pages.column("unit_hash"), value_set=boilerplate))
    chosen = chosen.sort_by([("unit_hash", "ascending"), ("domain_hash", "ascending"), ("unit", "ascending")])
    first = chosen.group_by(["unit_hash", "domain_hash"], use_threads=False).aggregate(
        [("unit", "first"), ("row", "first"), ("place_min", "first")]
    )
    joined = first.join(per_domain, ["unit_hash", "domain_hash"])
    table = pa.table(
        {
            "unit_hash": joined.column("unit_hash"),
            "domain_hash": joined.column("domain_hash"),
            "pages": joined.column("row_count"),
            "unit": joined.column("unit_first"),
            "row": joined.column("row_first"),
            "place": joined.column("place_min_first"),
        }
    ).cast(SPREAD_SCHEMA)
    write_parquet_atomically(table, os.path.join(job.folder, "spread", part_name(partition)))


def decide_unit(job: GlobalJob, unit: int) -> dict[str, int]:
    """Phase 2 for one unit: a decision for each document holding boilerplate units."""
    done = os.path.join(job.folder, "decided", f"unit-{unit:06d}")
    if (record := finished(done)) is not None:
        return record
    stage = job.build()
    paths = sorted(glob.glob(os.path.join(job.folder, "removals", f"unit-{unit:06d}", "part-*.parquet")))
    removals = read_parts(paths, REMOVAL_SCHEMA)
    by_doc = removals.group_by("row", use_threads=False).aggregate([("place", "list"), ("chars", "sum")])
    by_doc = by_doc.sort_by("row")
    docs = read_unit_keys(job.unit_dirs[unit], stage.name, "docs", 0, stage.doc_schema)
    docs = (docs if docs is not None else stage.doc_schema.append(pa.field("row", pa.int64())).empty_table()).sort_by(
        "row"
    )
    position = np.searchsorted(docs.column("row").to_numpy(), by_doc.column("row").to_numpy())
    doc_chars = docs.column("chars").to_numpy()[position]
    removed = by_doc.column("chars_sum").to_numpy()
    drop = doc_chars - removed < stage.config.min_chars_left
    evidence = [
        f"{cut} of {total} characters were boilerplate" if dropped else None
        for cut, total, dropped in zip(removed.tolist(), doc_chars.tolist(), drop.tolist())
    ]
    decisions = pa.table(
        {
            "unit": np.full(by_doc.num_rows, unit, dtype=np.int32),
            "row": by_doc.column("row"),
            "drop": drop,
            "evidence": pa.array(evidence, pa.string()),
            "boilerplate_chars": removed.astype(np.int32),
            "boilerplate_units": pa.array([sorted(p) for p in by_doc.column("place_list").to_pylist()], UNITS),
        }
    ).cast(stage.decision_schema())
    job.write_decisions(decisions, 0)
    record = {
        "documents_changed": int((~drop).sum()),
        "documents_emptied": int(drop.sum()),
        "units_removed": removals.num_rows,
        "chars_removed": int(removed.sum()),
    }
    return mark_finished(done, record)


def top_removed(stage: LineDedup, job: GlobalJob) -> list[dict[str, Any]]:
    """The domains with most removed units, each with its most removed lines and their pages."""
    if not stage.config.top_domains or not stage.config.top_lines:
        return []
    spread = read_parts(sorted(glob.glob(os.path.join(job.folder, "spread", "part-*.parquet"))), SPREAD_SCHEMA)
    if not spread.num_rows:
        return []
    totals = spread.group_by("domain_hash").aggregate([("pages", "sum")]).sort_by([("pages_sum", "descending")])
    texts: dict[int, pa.Table] = {}
    out = []
    for domain in totals.column("domain_hash").to_pylist()[: stage.config.top_domains]:
        rows = spread.filter(pc.equal(spread.column("domain_hash"), pa.scalar(domain, pa.uint64())))
        rows = rows.sort_by([("pages", "descending"), ("unit_hash", "ascending")]).slice(0, stage.config.top_lines)
        found = [_example(stage, job, row, texts) for row in rows.to_pylist()]
        out.append({"domain": found[0][0], "lines": [{"text": text, "pages": pages} for _, text, pages in found]})
    return out


def _example(
    stage: LineDedup, job: GlobalJob, row: dict[str, Any], texts: dict[int, pa.Table]
) -> tuple[str | None, str, int]:
    """(domain, text, pages) of a removed unit, its text read back from the document it was
    first seen in (each unit's documents read once)."""
    if row["unit"] not in texts:
        path = os.path.join(job.unit_dirs[row["unit"]], "docs.parquet")
        texts[row["unit"]] = read_parquet(path, columns=["text", "domain"])
    table = texts[row["unit"]]
    text, domain = table.column("text")[row["row"]].as_py() or "", table.column("domain")[row["row"]].as_py()
    unit = split_units(text, stage.config.max_unit_chars)[row["place"]]
    return domain, text[unit.start : unit.end][:200], row["pages"]
