"""What the global screens share: keys shuffled by hash in the map phase, one resolving task per
partition, and flags added to documents in the write phase.

A global screen (``GlobalFlagScreen``) counts a population, not the survivors:
it sees every document at its observation point (``observe_after``: after the
``extract`` stage when the pipeline has one, otherwise as the reader made them,
since text inputs have no extract stage), including the ones a later filter or
screen drops. An attack planted on 15 sites is still a burst when other stages
removed some of the copies. Pieces:

- ``keys(batch, first_doc)``: the keys of a batch at the observation point;
  each key names its document by ``doc``, its number among the unit's observed
  documents;
- ``curate.units`` streams the keys to per-partition files and, when the unit is
  mapped, writes which ``doc`` became which row of ``docs.parquet`` (``-1``:
  dropped by a later map stage);
- ``resolve(keys)``: one partition's keys of every unit, with ``unit`` and
  ``row`` added, in; (unit, row, evidence) to flag out. It counts documents by
  (unit, doc), so dropped ones count, and flags only rows >= 0
  (``surviving``); ``resolve_flag_partition`` leaves out any other.

Flags only: these screens keep the documents, annotated, and count them under
the stage's ``flags``; the stage's ``observed`` says how many documents they
counted.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.sorted_rows import find_sorted
from curate.stage import Reason, Stage
from stages.screens.base import EVIDENCE_FIELD, FLAGS_FIELD

FLAG_SCHEMA = pa.schema([pa.field("unit", pa.int32()), pa.field("row", pa.int64()), pa.field("evidence", pa.string())])
DOC_FIELD = pa.field("doc", pa.int64())
"""The key column naming a document: its number among the unit's observed documents."""
ROW_FIELD = pa.field("row", pa.int64())
"""Added to the keys for ``resolve``: the document's row in the unit's docs.parquet, or -1."""
DROPPED = -1


class GlobalFlagScreen(Stage):
    rule: ClassVar[str]
    key_schema: ClassVar[pa.Schema]
    """The columns ``keys`` returns, ``doc`` among them."""
    observe_after: ClassVar[str] = "extract"
    """The map stage after which the screen sees the documents, when the pipeline has it;
    without it, the screen sees them as the reader made them."""
    writes = (FLAGS_FIELD, EVIDENCE_FIELD)
    is_global = True

    def annotate(self, batch: pa.RecordBatch) -> tuple[dict[str, Any], list[Reason]]:
        # The flags come from the global phase; pass the columns through (or start them empty).
        names = batch.schema.names
        flags = batch.column("screen_flags") if "screen_flags" in names else pa.nulls(batch.num_rows, FLAGS_FIELD.type)
        evidence = batch.column("screen_evidence") if "screen_evidence" in names else pa.nulls(batch.num_rows, EVIDENCE_FIELD.type)
        return {"screen_flags": flags, "screen_evidence": evidence}, [None] * batch.num_rows

    @abstractmethod
    def keys(self, batch: pa.RecordBatch, first_doc: int) -> tuple[pa.Table, np.ndarray]:
        """The shuffle keys (``key_schema``) of a batch of a unit's documents at the observation
        point, numbered ``first_doc`` onwards in ``doc``, and the partition of each key."""

    @abstractmethod
    def resolve(self, keys: pa.Table) -> pa.Table:
        """(unit, row, evidence) of the documents to flag, from one partition's keys of all units
        (``key_schema`` plus ``row`` and ``unit``): counted over every (unit, doc), flagged only
        where ``row`` >= 0."""


def observation_point(screen: type[GlobalFlagScreen], stage_names: Sequence[str]) -> int:
    """The position in the stage list before which ``screen`` sees the batch: right after its
    ``observe_after`` stage, or before the first stage when the pipeline has none."""
    names = list(stage_names)
    return names.index(screen.observe_after) + 1 if screen.observe_after in names else 0


def with_document_numbers(keys: pa.Table) -> pa.Table:
    """``keys`` with ``document``: one number per observed (unit, doc), to count documents by."""
    documents = pc.add(pc.multiply(keys.column("unit").cast(pa.int64()), pa.scalar(1 << 32, pa.int64())), keys.column("doc"))
    return keys.append_column("document", documents)


def flag_surviving(keys: pa.Table, hits: pa.Array, evidence: dict[int, str]) -> pa.Table:
    """FLAG_SCHEMA rows for the surviving documents whose ``key`` is in ``hits``: one per
    document, with the evidence of its first key (by key value, so the choice is deterministic)."""
    hit = surviving(keys.filter(pc.is_in(keys.column("key"), hits)))
    hit = hit.sort_by([("unit", "ascending"), ("row", "ascending"), ("key", "ascending")])
    unit, row = hit.column("unit").to_numpy(), hit.column("row").to_numpy()
    first = np.concatenate(([True], (unit[1:] != unit[:-1]) | (row[1:] != row[:-1]))) if len(row) else np.zeros(0, dtype=bool)
    hit = hit.filter(pa.array(first))
    return pa.table(
        {"unit": hit.column("unit"), "row": hit.column("row"), "evidence": [evidence[k] for k in hit.column("key").to_pylist()]},
        schema=FLAG_SCHEMA,
    )


def surviving(keys: pa.Table) -> pa.Table:
    """The keys of documents that reached docs.parquet: the only ones a screen may flag."""
    return keys.filter(pc.greater_equal(keys.column("row"), 0))


def with_flags(batch: pa.RecordBatch, rows: np.ndarray, flagged_rows: np.ndarray, evidence: list[str], rule: str) -> pa.RecordBatch:
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
    batch = batch.set_column(batch.schema.get_field_index("screen_flags"), FLAGS_FIELD, pa.array(flags, FLAGS_FIELD.type))
    return batch.set_column(batch.schema.get_field_index("screen_evidence"), EVIDENCE_FIELD, pa.array(found, EVIDENCE_FIELD.type))
