"""Global screens: a population's keys in the map phase, one resolving task per partition, flags
on the surviving documents in the write phase (``curate.global_stage`` runs all three).

A global screen counts a population, not the survivors: it sees every document
at its observation point (``observe_after``: after the ``extract`` stage when
the pass has one, otherwise as the pass starts; text inputs have no extract
stage), including the ones a later filter or screen drops. An attack planted on
15 sites is still a burst when other stages removed some of the copies.
``keys(batch, first_doc)`` names each key's document by ``doc``;
``resolve_partition(keys)`` counts documents by (unit, doc), so dropped ones
count, and returns flag decisions, of which only those about surviving documents
(``row`` >= 0) are kept.

Flags only: these screens keep the documents, annotated (``mark``), and count them
under the stage's ``flags``; the stage's ``observed`` says how many documents they
counted.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.global_stage import DOC_FIELD, GlobalStage, decisions_table
from curate.sorted_rows import find_sorted
from stages.screens.base import EVIDENCE_FIELD, FLAGS_FIELD

__all__ = ["DOC_FIELD", "GlobalFlagScreen", "flag_surviving", "surviving", "with_document_numbers", "with_flags"]


class GlobalFlagScreen(GlobalStage):
    observe_after: ClassVar[str | None] = "extract"
    writes = (FLAGS_FIELD, EVIDENCE_FIELD)

    def mark(self, batch: pa.RecordBatch, rows: np.ndarray, decisions: pa.Table) -> pa.RecordBatch:
        return with_flags(
            batch, rows, decisions.column("row").to_numpy(), decisions.column("evidence").to_pylist(), self.rule
        )


def with_document_numbers(keys: pa.Table) -> pa.Table:
    """``keys`` with ``document``: one number per observed (unit, doc), to count documents by."""
    documents = pc.add(
        pc.multiply(keys.column("unit").cast(pa.int64()), pa.scalar(1 << 32, pa.int64())), keys.column("doc")
    )
    return keys.append_column("document", documents)


def flag_surviving(keys: pa.Table, hits: pa.Array, evidence: dict[int, str]) -> pa.Table:
    """Flag decisions for the surviving documents whose ``key`` is in ``hits``: one per
    document, with the evidence of its first key (by key value, so the choice is deterministic)."""
    hit = surviving(keys.filter(pc.is_in(keys.column("key"), hits)))
    hit = hit.sort_by([("unit", "ascending"), ("row", "ascending"), ("key", "ascending")])
    unit, row = hit.column("unit").to_numpy(), hit.column("row").to_numpy()
    first = (
        np.concatenate(([True], (unit[1:] != unit[:-1]) | (row[1:] != row[:-1])))
        if len(row)
        else np.zeros(0, dtype=bool)
    )
    hit = hit.filter(pa.array(first))
    return decisions_table(
        hit.column("unit"), hit.column("row"), False, [evidence[k] for k in hit.column("key").to_pylist()]
    )


def surviving(keys: pa.Table) -> pa.Table:
    """The keys of documents that reached docs.parquet: the only ones a screen may flag."""
    return keys.filter(pc.greater_equal(keys.column("row"), 0))


def with_flags(
    batch: pa.RecordBatch, rows: np.ndarray, flagged_rows: np.ndarray, evidence: list[str], rule: str
) -> pa.RecordBatch:
    """``batch`` (its rows numbered ``rows``) with ``rule`` added to the rows in ``flagged_rows``
    (sorted, with ``evidence`` alongside)."""
    position, hit = find_sorted(flagged_rows, rows)
    if not hit.any():
        return batch
    flags = batch.column("screen_flags").to_pylist()
    found = batch.column("screen_evidence").to_pylist()
    for index in np.flatnonzero(hit).tolist():
        flags[index] = (flags[index] or []) + [rule]
        found[index] = (found[index] or []) + [{"rule": rule, "evidence": evidence[int(position[index])]}]
    batch = batch.set_column(
        batch.schema.get_field_index("screen_flags"), FLAGS_FIELD, pa.array(flags, FLAGS_FIELD.type)
    )
    return batch.set_column(
        batch.schema.get_field_index("screen_evidence"), EVIDENCE_FIELD, pa.array(found, EVIDENCE_FIELD.type)
    )
