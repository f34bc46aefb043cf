"""One unit's map task in one pass: its documents through the pass's stages, published atomically.

The first pass reads the input file; a later pass reads the unit's survivors of the
pass before, with that pass's global decisions applied (``curate.decisions``). Either
way the task leaves, in the unit's folder for the pass:

- ``docs.parquet``: the documents that survived the pass's map stages (no raw HTML);
- ``keys/<global stage>/<kind>/part-PPPPP-CCCC.parquet``: the keys of the global stages
  closing the pass, shuffled by partition (``curate.keys``);
- ``quarantine.parquet``, ``samples.parquet``, ``domains.parquet``: what screens dropped, and
  the unit's samples and domain counts;
- ``done.json``: the completion record with counts, errors and timings.

All of it is written into a temporary folder renamed into place at the end, so a unit is
either complete or absent: a killed run loses only the units in flight.
"""

from __future__ import annotations

import os
import shutil
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate import storage
from curate.config import PipelineConfig
from curate.decisions import StageDecisions, apply_decisions, load_decisions
from curate.document import output_schema, pipeline_schema
from curate.executor import node_id
from curate.keys import KeyWriter
from curate.passes import Pass
from curate.quarantine import QUARANTINE_FILE, QuarantineWriter
from curate.samples import MAP_DOMAINS_FILE, MAP_SAMPLES_FILE, Sampler, unit_sampler
from curate.stage import Stage, StageStats, Timer
from curate.tokens import Tokenizer, load_tokenizers, tokens_field, with_tokens
from curate.workdir import Unit, publish_folder, temporary, write_json_atomically
from stages.readers import ReadResult, reader_for

MAX_ERRORS_LISTED = 100
DOCS_FILE = "docs.parquet"


@dataclass(frozen=True)
class UnitTask:
    """One unit in one pass, with where its documents come from and go."""

    unit: Unit
    folder: str
    """The unit's folder for this pass."""
    source: str | None = None
    """The unit's folder in the pass before (None: read the input file)."""
    decided: tuple[str, ...] = ()
    """The work folders of the global stages that closed the pass before, in config order."""


def map_unit(config: PipelineConfig, plan: Pass, task: UnitTask) -> dict[str, Any]:
    """Run the pass's stages over one unit and publish its folder; its completion record."""
    started = time.time()
    tmp = temporary(task.folder)
    os.makedirs(tmp)
    try:
        record = _map_into(config, plan, task, tmp)
        record["seconds"] = round(time.time() - started, 3)
        record["node"] = node_id()
        write_json_atomically(record, os.path.join(tmp, "done.json"), indent=1, sort_keys=True)
        publish_folder(tmp, task.folder)
        return record
    except Exception as error:  # noqa: BLE001 - the unit fails; the runner decides what that means
        shutil.rmtree(tmp, ignore_errors=True)
        failure = "input" if isinstance(error, InputUnreadable) else "run"
        cause = error.__cause__ if isinstance(error, InputUnreadable) and error.__cause__ else error
        return failed_unit_record(task.unit, f"{type(cause).__name__}: {cause}", traceback.format_exc(), failure)


class InputUnreadable(Exception):
    """The reader could not go on with the input file (raised from the reader's own error)."""


def failed_unit_record(unit: Unit, error: str, detail: str = "", failure: str = "run") -> dict[str, Any]:
    """The record of a unit whose task failed. ``failure`` says why: ``input``, the file itself
    cannot be read (the run goes on without it); ``run``, the run broke around it (a worker died
    or ran out of memory, the disk filled, a stage raised), which fails the run."""
    try:
        size = _unit_size(unit)
    except OSError:
        size = None
    return _range(unit) | {
        "unit": unit.key,
        "path": unit.path,
        "size": size,
        "status": "failed",
        "failure": failure,
        "error": error,
        "detail": detail[-4000:],
    }


class UnitOutput:
    """Where a unit's map task writes: docs, quarantine, samples."""

    def __init__(self, config: PipelineConfig, folder: str, schema: pa.Schema) -> None:
        self.folder, self.schema = folder, schema
        self.docs = pq.ParquetWriter(os.path.join(folder, DOCS_FILE), schema, compression="zstd")
        self.quarantine = QuarantineWriter(os.path.join(folder, QUARANTINE_FILE))
        self.sampler: Sampler = unit_sampler(config.output.samples_per_reason, config.output.sample_seed)
        self.rows = 0

    def write(self, batch: pa.RecordBatch) -> pa.Table:
        out = pa.Table.from_batches([batch]).select(self.schema.names).cast(self.schema)
        self.docs.write_table(out)
        self.rows += out.num_rows
        return out

    def close(self) -> None:
        self.docs.close()
        self.quarantine.close()
        self.sampler.write(os.path.join(self.folder, MAP_SAMPLES_FILE), os.path.join(self.folder, MAP_DOMAINS_FILE))


def _map_into(config: PipelineConfig, plan: Pass, task: UnitTask, tmp: str) -> dict[str, Any]:
    # Models, dictionaries and automata load once per worker process (cached); only a worker's
    # first unit pays for them, which setup_seconds shows.
    setup_started = time.perf_counter()
    stages = [config.stages[i].build() for i in plan.stages]
    tokenizers = load_tokenizers(config.run.tokenizers)
    for stage in stages:
        stage.tokenizers = tokenizers
    setup_seconds = time.perf_counter() - setup_started
    stats = [StageStats(stage.name) for stage in stages]
    output, count = _unit_output(config, plan, tokenizers, tmp)
    keys = KeyWriter([s for s in stages if s.is_global], [s.name for s in stages], stats, tmp, task.unit.index)
    for stage in stages:
        stage.sampler = output.sampler
    read_result = ReadResult()
    decided: list[StageDecisions] = []
    if task.source is None:
        batches = _read_input(config, task.unit, read_result)
    else:
        decided = load_decisions(
            [config.stages[i].build() for i in _closing_before(config, plan)], list(task.decided), task.unit.index
        )
        for found in decided:
            found.stage.tokenizers = tokenizers
        batches = _read_survivors(config, task.source, decided, output.sampler)
    for batch in batches:
        batch = _run_stages(batch, stages, stats, keys, output.quarantine)
        if batch.num_rows:
            keys.written(batch, output.rows)
            output.write(with_tokens(count, batch) if count else batch)
    output.close()
    keys.close()
    for stage, stage_stats in zip(stages, stats):
        if stage.is_global:
            # Its documents are counted where its decisions apply; here it only annotated them.
            stage_stats.docs_in = stage_stats.docs_out = 0
    applied = [found.stats for found in decided]
    record = {
        "unit": task.unit.key,
        "path": task.unit.path,
        "documents_out": output.rows,
        "setup_seconds": round(setup_seconds, 3),
    }
    record["stages"] = [s.to_dict() for s in applied + stats]
    if task.source is None:
        read = _input_record(task.unit, read_result)
        if read["status"] == "failed":
            return read
        record = read | record
        record["stages"] = [read_result.stats.to_dict()] + record["stages"]
    else:
        record["status"] = "ok"
    return record | {"worker_pid": os.getpid()}


def _unit_output(
    config: PipelineConfig, plan: Pass, tokenizers: list[Tokenizer], tmp: str
) -> tuple[UnitOutput, list[Tokenizer]]:
    """Where the pass's documents go, and the tokenizers that count them there (the last pass
    counts the documents it keeps, in parallel, rather than the input file's one write task)."""
    end = plan.stages[-1] + 1
    # The page's HTML (and other transient columns) is kept only for later passes that read it.
    later = {column for spec in config.stages[end:] for column in spec.stage_class.reads}
    schema = output_schema(pipeline_schema([spec.stage_class for spec in config.stages[:end]]), keep=later)
    count = tokenizers if end == len(config.stages) else []
    if count:
        schema = schema.append(tokens_field(count))
    return UnitOutput(config, tmp, schema), count


def _closing_before(config: PipelineConfig, plan: Pass) -> list[int]:
    """Positions of the global stages just before this pass's first stage."""
    positions = []
    position = plan.stages[0] - 1
    while position >= 0 and config.stages[position].stage_class.is_global:
        positions.insert(0, position)
        position -= 1
    return positions


def _read_input(config: PipelineConfig, unit: Unit, read_result: ReadResult) -> Iterator[pa.RecordBatch]:
    batches = reader_for(config.input).read(unit.path, read_result, unit.span)
    while True:
        with Timer(read_result.stats):
            try:
                batch = next(batches, None)
            except MemoryError:
                raise
            except Exception as error:  # noqa: BLE001 - whatever the reader raises, the file is at fault
                raise InputUnreadable(str(error)) from error
        if batch is None:
            return
        yield batch


def _read_survivors(
    config: PipelineConfig, source: str, decided: list[StageDecisions], sampler: Sampler
) -> Iterator[pa.RecordBatch]:
    """The unit's documents from the pass before, with its global decisions applied."""
    docs = pq.ParquetFile(os.path.join(source, DOCS_FILE))
    start = 0
    for batch in docs.iter_batches(batch_size=config.input.batch_size):
        rows = np.arange(start, start + batch.num_rows)
        start += batch.num_rows
        batch, _ = apply_decisions(decided, batch, rows, sampler)
        yield batch


def _run_stages(
    batch: pa.RecordBatch, stages: list[Stage], stats: list[StageStats], keys: KeyWriter, quarantine: QuarantineWriter
) -> pa.RecordBatch:
    for index, (stage, stage_stats) in enumerate(zip(stages, stats)):
        if batch.num_rows == 0:
            break
        keys.observe(index, batch)
        batch = stage.apply(batch, stage_stats)
        for table in stage.quarantined:
            quarantine.write(table)
        stage.quarantined.clear()
    return batch


def _unit_size(unit: Unit) -> int | None:
    """The bytes the unit reads: its file's size, or its range's."""
    size = storage.file_size(unit.path)
    if size is None:
        return None
    return (size if unit.end is None else unit.end) - unit.start


def _range(unit: Unit) -> dict[str, Any]:
    """The record's ``range`` when the unit is a range of its file."""
    return {} if unit.span.whole else {"range": {"start": unit.start, "end": unit.end}}


def _input_record(unit: Unit, read_result: ReadResult) -> dict[str, Any]:
    errors = read_result.errors
    listed = [e.to_dict() for e in errors[:MAX_ERRORS_LISTED]]
    if errors and read_result.records == 0:
        # Not a single record could be read: the file is not a WARC file (or is empty garbage).
        failed = failed_unit_record(unit, f"unreadable input: {errors[0].error}", failure="input")
        return failed | {
            "sha256": storage.sha256(unit.path, unit.start, unit.end),
            "errors": listed,
            "error_count": read_result.error_count,
            "skipped_bytes": read_result.skipped_bytes,
        }
    record: dict[str, Any] = {"note": "the file holds no records"} if read_result.records == 0 else {}
    return (
        record
        | _range(unit)
        | {
            "size": _unit_size(unit),
            "sha256": storage.sha256(unit.path, unit.start, unit.end),
            "status": "ok" if not errors else "partial",
            "records": read_result.records,
            "error_count": read_result.error_count,
            "skipped_bytes": read_result.skipped_bytes,
            "errors": listed,
        }
    )
