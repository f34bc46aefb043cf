"""The map side of global stages: a unit's key rows streamed to per-partition files.

Each global stage closing a pass emits keys at its observation point
(``curate.global_stage.observation_point``): the documents that reach it, numbered by
their row in the unit's docs.parquet, or, for a stage with ``observe_after``, every
document at that point, numbered in the order observed. For the latter, ``close``
stores which observed document became which row (``doc_rows.parquet``, -1: dropped by
a later map stage), which ``read_unit_keys`` joins back onto the keys: such a stage
counts the whole population and decides only about the survivors.
"""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.global_stage import DOC_ROWS_FILE, DROPPED, GlobalStage, key_folder, observation_point
from curate.shuffle import PartitionedWriter
from curate.stage import StageStats, Timer

ROW_SCHEMA = pa.schema([pa.field("row", pa.int64())])


class KeyWriter:
    def __init__(
        self, stages: list[GlobalStage], stage_names: list[str], stats: list[StageStats], folder: str, unit: int
    ) -> None:
        self.unit, self.folder = unit, folder
        self.stats = {s.name: s for s in stats}
        self.at: dict[int | None, list[GlobalStage]] = {}
        self.writers: dict[tuple[str, str], PartitionedWriter] = {}
        for stage in stages:
            point = observation_point(type(stage), stage_names)
            self.at.setdefault(point, []).append(stage)
            if point is not None:
                self.stats[stage.name].observed = 0
            for kind, schema in stage.key_schemas().items():
                self.writers[stage.name, kind] = PartitionedWriter(
                    key_folder(folder, stage.name, kind), schema, stage.partitions
                )
        # Document ids, one per observed document: what maps a doc to its row.
        self.observed_ids: dict[int, list[pa.Array]] = {point: [] for point in self.at if point is not None}
        self.observed = {point: 0 for point in self.observed_ids}
        self.written_ids: list[pa.Array] = []

    def _emit(self, stage: GlobalStage, batch: pa.RecordBatch, first_doc: int) -> None:
        with Timer(self.stats[stage.name]):
            for kind, (rows, partitions) in stage.emit(batch, first_doc, self.unit).items():
                self.writers[stage.name, kind].add(rows, partitions)

    def observe(self, point: int, batch: pa.RecordBatch) -> None:
        """Before the pass's stage number ``point``: the keys of the stages observing there."""
        stages = self.at.get(point)
        if not stages or not batch.num_rows:
            return
        for stage in stages:
            self._emit(stage, batch, self.observed[point])
            self.stats[stage.name].observed += batch.num_rows
        self.observed_ids[point].append(batch.column("id"))
        self.observed[point] += batch.num_rows

    def written(self, batch: pa.RecordBatch, first_row: int) -> None:
        """A batch about to be written to docs.parquet from row ``first_row`` on."""
        for stage in self.at.get(None, []):
            self._emit(stage, batch, first_row)
        if self.observed_ids:
            self.written_ids.append(batch.column("id"))

    def close(self) -> None:
        for writer in self.writers.values():
            writer.flush()
        if not self.observed_ids:
            return
        written = pa.chunked_array(self.written_ids, pa.string()).combine_chunks()
        for point, ids in self.observed_ids.items():
            observed = pa.chunked_array(ids, pa.string())
            if pc.count_distinct(observed).as_py() != len(observed):
                raise ValueError(
                    "document ids repeat within one input: a global stage cannot tell which documents survived"
                )
            rows = pc.fill_null(pc.index_in(observed, value_set=written).cast(pa.int64()), DROPPED)
            for stage in self.at[point]:
                path = os.path.join(self.folder, "keys", stage.name, DOC_ROWS_FILE)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                pq.write_table(pa.table([rows], schema=ROW_SCHEMA), path)
