"""One input file's write task: its units' survivors of the last pass, decisions applied, as final shards."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.config import PipelineConfig
from curate.decisions import apply_decisions, load_decisions, offer
from curate.map_task import DOCS_FILE
from curate.quarantine import publish_quarantine
from curate.samples import KEPT, WRITE_DOMAINS_FILE, WRITE_SAMPLES_FILE, unit_sampler
from curate.tokens import TokenTotals, load_tokenizers
from curate.workdir import Unit
from stages.parquet_writer import ParquetShardWriter


@dataclass(frozen=True)
class WriteTask:
    """One input file's write: its units (the file whole, or its ranges in order)."""

    units: tuple[Unit, ...]
    folders: tuple[tuple[str, ...], ...]
    """Per unit, its folder in every pass, first to last."""
    closing: tuple[int, ...]
    """Positions of the global stages closing the last pass."""
    decided: tuple[str, ...]
    """Their work folders, in the same order."""


def write_input(config: PipelineConfig, task: WriteTask) -> dict[str, Any]:
    """Write one input file's kept documents as final shards; the shards' records and the counts.

    The units of a file cut into ranges write one stream of shards, in file order, re-cut into
    fixed row groups (``stages.parquet_writer``): the shards are the same bytes however the file
    was cut. The global stages' decisions are applied as the documents stream through, batch by
    batch: memory stays bounded however large the input was. The documents dropped here and the
    kept ones are offered to the file's sampler."""
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    stages = [config.stages[i].build() for i in task.closing]
    tokenizers = load_tokenizers(config.run.tokenizers)
    for stage in stages:
        stage.tokenizers = tokenizers
    sampler = unit_sampler(config.output.samples_per_reason, config.output.sample_seed)
    counted = TokenTotals(tokenizers, recount=any(stage.rewrites_text for stage in stages))
    files = [pq.ParquetFile(os.path.join(folders[-1], DOCS_FILE)) for folders in task.folders]
    applied: list[dict[str, Any]] = []

    def kept_batches() -> Iterator[pa.RecordBatch]:
        for unit, docs in zip(task.units, files):
            decided = load_decisions(stages, list(task.decided), unit.index)
            start = 0
            for batch in docs.iter_batches(batch_size=config.input.batch_size):
                rows = np.arange(start, start + batch.num_rows)
                start += batch.num_rows
                batch, _ = apply_decisions(decided, batch, rows, sampler)
                if batch.num_rows:
                    offer(sampler, "write", KEPT, batch, np.ones(batch.num_rows, dtype=bool))
                # Counted here, on the text as the last stage that rewrites it left it.
                yield counted.add_column(batch)
            applied.extend(found.stats.to_dict() for found in decided)

    writer = ParquetShardWriter(
        config.local_output,
        counted.schema(files[0].schema_arrow),
        max_rows=config.output.shard_max_rows,
        max_bytes=config.output.shard_max_bytes,
        compression_level=config.output.compression_level,
    )
    first = task.units[0]
    shards = writer.write(kept_batches(), first.prefix)
    sampler.write(
        os.path.join(task.folders[0][-1], WRITE_SAMPLES_FILE), os.path.join(task.folders[0][-1], WRITE_DOMAINS_FILE)
    )
    every_folder = [folder for folders in task.folders for folder in folders]
    return {
        "input": first.path,
        "quarantine": publish_quarantine(config.local_output, every_folder, first.prefix),
        "rows_in": sum(docs.metadata.num_rows for docs in files),
        "stages": applied,
        "shards": [s.to_dict() for s in shards],
        **counted.totals(),
        "wall_seconds": time.perf_counter() - started_wall,
        "cpu_seconds": time.process_time() - started_cpu,
    }
