"""Global stages: decisions that need every unit's documents (dedup, screens over a population).

A global stage has three sides, and the engine runs them for every global stage alike:

- **map side**, in each unit's map task: ``annotate`` adds the stage's columns like any
  stage (it never drops), then ``emit(batch, first_doc, unit)`` returns key rows by kind
  (most stages have one kind, ``keys``, whose rows ``keys`` returns), each with its
  partition; the engine streams them to per-partition files. Keys name their document by
  ``doc``, its number at the stage's observation point: by default the documents that
  reach the stage; with ``observe_after`` every document after that map stage, those a
  later map stage drops included (the engine maps each doc to its row, or -1);
- **global side**, in the driver: ``resolve(job, run)`` turns every unit's keys into
  decisions, rows of ``DECISION_FIELDS`` (unit, row, drop, evidence) plus the stage's
  ``decision_columns``, written per unit by ``GlobalJob.write_decisions``. The default
  runs ``resolve_partition`` on each partition as one task, resumably; a stage with
  several phases (MinHash) overrides ``resolve``;
- **write side**: the engine applies a unit's decisions when it next reads the unit's
  documents (the next pass's map task, or the write task). A ``drop`` row is removed
  with reason ``rule``; a kept row with evidence is flagged under ``rule``; ``mark`` then
  annotates the kept rows (default: sets ``decision_columns``).

A pipeline splits into passes after each run of global stages that later map stages
follow (``curate.passes``), so a new global stage is one module and a config entry.
"""

from __future__ import annotations

import functools
import glob
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.shuffle import PartitionedWriter, part_name, read_parts
from curate.sorted_rows import find_sorted
from curate.stage import Reason, Stage
from curate.workdir import Unit, finished, mark_finished, read_parquet, write_parquet_atomically

DOC_FIELD = pa.field("doc", pa.int64())
"""The key column naming a document: its number among the unit's observed documents."""
DECISION_FIELDS = (
    pa.field("unit", pa.int32(), nullable=False),
    pa.field("row", pa.int64(), nullable=False),
    pa.field("drop", pa.bool_(), nullable=False),
    pa.field("evidence", pa.string()),
)
DECISION_SCHEMA = pa.schema(DECISION_FIELDS)
DROPPED = -1
"""The row of a document that a later map stage dropped (population observers only)."""
DOC_ROWS_FILE = "doc_rows.parquet"
KEYS = "keys"
"""The kind of key rows a stage with one kind emits."""

PhaseRunner = Callable[[str, Callable, list[tuple[Any, tuple]]], dict[Any, Any]]
"""``run(phase name, function, jobs)``: every job's result by label (the executor's ``run``)."""


class GlobalStage(Stage):
    """Base of the global stages: set ``rule``, ``key_schema`` (with ``doc``) and the config's
    ``partitions``, and write ``keys`` and ``resolve_partition``."""

    is_global = True
    rule: ClassVar[str]
    """The drop reason of the documents it removes, or the rule of those it flags."""
    key_schema: ClassVar[pa.Schema]
    observe_after: ClassVar[str | None] = None
    """None: the stage sees the documents that reach it. A map stage's name: it sees every
    document after that stage when its pass has it (else as its pass starts), later drops
    included, and only the survivors get decisions."""
    decision_columns: ClassVar[tuple[pa.Field, ...]] = ()
    """Columns of ``writes`` that decisions set on kept rows (``mark``)."""
    evidence_as: ClassVar[str] = "evidence"
    """The field of a sampled dropped document that holds its decision's evidence."""
    summary_key: ClassVar[str | None] = None
    """The manifest key of ``resolve``'s summary, when it returns one."""
    rewrites_text: ClassVar[bool] = False
    """True when ``mark`` changes the kept documents' text (their token counts then change)."""
    evaluates_population: ClassVar[bool] = False
    """True when ``evaluate`` treats its batch as the whole population and applies the stage's
    global decisions in memory (the quality evaluation then runs it with the map stages)."""

    def annotate(self, batch: pa.RecordBatch) -> tuple[dict[str, Any], list[Reason]]:
        """Pass existing columns through, or start them empty (decisions fill them in later)."""
        columns = {}
        for column in self.writes:
            present = column.name in batch.schema.names
            columns[column.name] = batch.column(column.name) if present else pa.nulls(batch.num_rows, column.type)
        return columns, [None] * batch.num_rows

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            return  # a base for a family of global stages (GlobalFlagScreen), not a stage
        missing = []
        if cls.keys is GlobalStage.keys and cls.emit is GlobalStage.emit:
            missing.append("keys() or emit()")
        if cls.resolve_partition is GlobalStage.resolve_partition and cls.resolve is GlobalStage.resolve:
            missing.append("resolve_partition() or resolve()")
        if missing:
            raise TypeError(f"global stage {cls.__name__} must define {' and '.join(missing)}")

    @property
    def partitions(self) -> int:
        return self.config.partitions

    def key_schemas(self) -> dict[str, pa.Schema]:
        return {KEYS: self.key_schema}

    def emit(self, batch: pa.RecordBatch, first_doc: int, unit: int) -> dict[str, tuple[pa.Table, np.ndarray]]:
        """Key rows by kind, each with the partition of every row."""
        return {KEYS: self.keys(batch, first_doc)}

    def keys(self, batch: pa.RecordBatch, first_doc: int) -> tuple[pa.Table, np.ndarray]:
        """The key rows (``key_schema``) of a batch whose documents are numbered ``first_doc``
        onwards, and the partition of each row. (A stage defines this or ``emit``: checked when
        the class is created, so the default is never called.)"""
        raise NotImplementedError(type(self).__name__)

    def resolve_partition(self, keys: pa.Table) -> pa.Table:
        """Decisions (``DECISION_SCHEMA``) from one partition's keys of every unit: ``key_schema``
        plus ``unit`` and ``row`` (-1 for documents a later map stage dropped: count them, the
        engine discards their decisions)."""
        raise NotImplementedError(type(self).__name__)  # never called: see __init_subclass__

    def resolve(self, job: GlobalJob, run: PhaseRunner) -> dict[str, Any] | None:
        """Write every unit's decisions; return a summary for the manifest, or None."""
        run(self.name, resolve_partition_task, [(p, (job, p)) for p in range(self.partitions)])
        return None

    def mark(self, batch: pa.RecordBatch, rows: np.ndarray, decisions: pa.Table) -> pa.RecordBatch:
        """``batch`` (its rows numbered ``rows``) annotated by the decisions of its kept rows
        (sorted by row): by default the ``decision_columns`` are set from them."""
        position, hit = find_sorted(decisions.column("row").to_numpy(), rows)
        if not hit.any():
            return batch
        for column in self.decision_columns:
            values = batch.column(column.name).to_pylist()
            found = decisions.column(column.name).take(pa.array(position[hit])).to_pylist()
            for index, value in zip(np.flatnonzero(hit).tolist(), found):
                values[index] = value
            batch = batch.set_column(batch.schema.get_field_index(column.name), column, pa.array(values, column.type))
        return batch

    @classmethod
    def decision_schema(cls) -> pa.Schema:
        return pa.schema(DECISION_FIELDS + cls.decision_columns)


def observation_point(stage: type[GlobalStage], stage_names: Sequence[str]) -> int | None:
    """Before which stage of a pass (its ``stage_names``) the stage sees the batch, or None for
    the documents that reach it (the end of the pass's map stages)."""
    if stage.observe_after is None:
        return None
    names = list(stage_names)
    return names.index(stage.observe_after) + 1 if stage.observe_after in names else 0


@dataclass(frozen=True)
class GlobalJob:
    """What a global stage's tasks need: picklable paths and the stage's spec."""

    spec: Any
    """The stage's ``curate.config.StageSpec``."""
    units: tuple[Unit, ...]
    unit_dirs: dict[int, str]
    """Each unit's folder in this pass (its docs.parquet and keys)."""
    folder: str
    """The stage's own work folder in this pass."""
    earlier: tuple[str, ...] = ()
    """The work folders of the global stages before it in the same pass."""

    def build(self) -> GlobalStage:
        return self.spec.build()

    def key_folder(self, unit_dir: str, kind: str) -> str:
        return key_folder(unit_dir, self.spec.name, kind)

    def read_keys(self, kind: str, partition: int, schema: pa.Schema) -> pa.Table:
        """One partition of every unit's keys of ``kind``, with ``unit`` and each key's ``row``."""
        tables = []
        for unit in self.units:
            table = read_unit_keys(self.unit_dirs[unit.index], self.spec.name, kind, partition, schema)
            if table is not None:
                tables.append(
                    table.append_column("unit", pa.array(np.full(table.num_rows, unit.index, dtype=np.int32)))
                )
        if tables:
            return pa.concat_tables(tables)
        return schema.append(pa.field("row", pa.int64())).append(pa.field("unit", pa.int32())).empty_table()

    def key_paths(self, kind: str, partition: int) -> list[str]:
        return [
            p
            for u in self.units
            for p in PartitionedWriter.paths(self.key_folder(self.unit_dirs[u.index], kind), partition)
        ]

    def write_decisions(self, decisions: pa.Table, partition: int) -> int:
        """Store one partition's decisions, one file per unit; decisions about documents that
        no longer exist (row -1) are left out."""
        decisions = decisions.filter(pc.greater_equal(decisions.column("row"), 0))
        units = decisions.column("unit").to_numpy()
        for unit in np.unique(units).tolist():
            write_parquet_atomically(
                decisions.filter(pa.array(units == unit)), decisions_path(self.folder, unit, partition)
            )
        return decisions.num_rows

    def earlier_drops(self) -> pa.Table:
        """(unit, row) of the documents the global stages before this one in the pass remove."""
        paths = [
            p
            for folder in self.earlier
            for p in sorted(glob.glob(os.path.join(folder, "decisions", "unit-*", "part-*.parquet")))
        ]
        return _drops_in(tuple((path, os.stat(path).st_mtime_ns) for path in paths))


@functools.lru_cache(maxsize=1)
def _drops_in(files: tuple[tuple[str, int], ...]) -> pa.Table:
    """Read once per process for the same files: every partition task of a stage reads all of
    them (the driver runs a small run's partitions one after another: 16 reads of each of exact
    dedup's decision files cost 1.5 s of a 48 s run on the benchmark WARC)."""
    table = read_parts([path for path, _ in files], DECISION_SCHEMA)
    return table.filter(table.column("drop")).select(["unit", "row"])


def key_folder(unit_dir: str, stage_name: str, kind: str) -> str:
    return os.path.join(unit_dir, "keys", stage_name, kind)


def read_unit_keys(unit_dir: str, stage_name: str, kind: str, partition: int, schema: pa.Schema) -> pa.Table | None:
    """One partition of a unit's keys with each key's ``row``: the doc itself, or through the
    unit's doc -> row map when the stage observed a population (-1: dropped later)."""
    paths = PartitionedWriter.paths(key_folder(unit_dir, stage_name, kind), partition)
    if not paths:
        return None
    keys = pa.concat_tables([read_parquet(path, schema) for path in paths])
    docs = keys.column("doc").to_numpy()
    doc_rows_path = os.path.join(unit_dir, "keys", stage_name, DOC_ROWS_FILE)
    if os.path.isfile(doc_rows_path):
        docs = _doc_rows(doc_rows_path, os.stat(doc_rows_path).st_mtime_ns)[docs]
    return keys.append_column("row", pa.array(docs, pa.int64()))


@functools.lru_cache(maxsize=64)
def _doc_rows(path: str, mtime_ns: int) -> np.ndarray:
    """A unit's doc -> row map, read once per process rather than once per partition."""
    return read_parquet(path).column("row").to_numpy()


def decisions_path(folder: str, unit: int, partition: int) -> str:
    return os.path.join(folder, "decisions", f"unit-{unit:06d}", part_name(partition))


def read_decisions(folder: str, unit: int, schema: pa.Schema) -> pa.Table:
    """A unit's decisions from one global stage, sorted by row, one per row (a document can be
    decided on from several partitions: the first partition's decision holds)."""
    paths = sorted(glob.glob(os.path.join(folder, "decisions", f"unit-{unit:06d}", "part-*.parquet")))
    table = read_parts(paths, schema).sort_by("row")
    rows = table.column("row").to_numpy()
    first = np.concatenate(([True], rows[1:] != rows[:-1])) if len(rows) else np.zeros(0, dtype=bool)
    return table.filter(pa.array(first))


def resolve_partition_task(job: GlobalJob, partition: int) -> dict[str, Any]:
    """One partition of a stage with the default ``resolve``: every unit's keys in, decisions out."""
    done = os.path.join(job.folder, "resolved", part_name(partition))
    if (record := finished(done)) is not None:
        return record
    stage = job.build()
    keys = job.read_keys(KEYS, partition, stage.key_schema)
    decisions = stage.resolve_partition(keys).cast(stage.decision_schema())
    return mark_finished(done, {"decisions": job.write_decisions(decisions, partition)})


def decisions_table(unit: Any, row: Any, drop: bool, evidence: Any = None) -> pa.Table:
    """``DECISION_SCHEMA`` rows: the same ``drop`` for all, ``evidence`` a list or None."""
    count = len(row)
    evidence = pa.nulls(count, pa.string()) if evidence is None else evidence
    return pa.table(
        {"unit": unit, "row": row, "drop": np.full(count, drop), "evidence": evidence}, schema=DECISION_SCHEMA
    )
