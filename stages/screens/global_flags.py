"""What the global screens share: keys shuffled by hash in the map phase, one resolving task per
partition, and flags added to documents in the write phase.

A global screen (``GlobalFlagScreen``) says which keys each document has
(``keys``) and, given every unit's keys of one partition (with a ``unit``
column), which (unit, row) to flag and why (``resolve``). ``curate.units``
writes the keys, runs the resolving tasks (``resolve_flag_partition``) and
annotates the flagged rows when it writes the shards. Flags only: these screens
keep the documents, annotated, and count them under the stage's ``flags``.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from curate.sorted_rows import find_sorted
from curate.stage import Reason, Stage
from stages.screens.base import EVIDENCE_FIELD, FLAGS_FIELD

FLAG_SCHEMA = pa.schema([pa.field("unit", pa.int32()), pa.field("row", pa.int64()), pa.field("evidence", pa.string())])


class GlobalFlagScreen(Stage):
    rule: ClassVar[str]
    key_schema: ClassVar[pa.Schema]
    writes = (FLAGS_FIELD, EVIDENCE_FIELD)
    is_global = True

    def annotate(self, batch: pa.RecordBatch) -> tuple[dict[str, Any], list[Reason]]:
        # The flags come from the global phase; pass the columns through (or start them empty).
        names = batch.schema.names
        flags = batch.column("screen_flags") if "screen_flags" in names else pa.nulls(batch.num_rows, FLAGS_FIELD.type)
        evidence = batch.column("screen_evidence") if "screen_evidence" in names else pa.nulls(batch.num_rows, EVIDENCE_FIELD.type)
        return {"screen_flags": flags, "screen_evidence": evidence}, [None] * batch.num_rows

    @abstractmethod
    def keys(self, batch: pa.RecordBatch, first_row: int) -> tuple[pa.Table, np.ndarray]:
        """The shuffle keys of a batch of a unit's final documents (rows ``first_row`` onwards),
        and the partition of each key."""

    @abstractmethod
    def resolve(self, keys: pa.Table) -> pa.Table:
        """(unit, row, evidence) of the documents to flag, from one partition's keys of all units."""


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
