"""One unit's write task: its survivors of the last pass, decisions applied, as final shards."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
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
    unit: Unit
    folders: tuple[str, ...]
    """The unit's folder in every pass, first to last."""
    closing: tuple[int, ...]
    """Positions of the global stages closing the last pass."""
    decided: tuple[str, ...]
    """Their work folders, in the same order."""


def write_unit(config: PipelineConfig, task: WriteTask) -> dict[str, Any]:
    """Write one unit's kept documents as final shards; the shards' records and the counts.

    The global stages' decisions are applied as the documents stream through, batch by batch:
    memory stays bounded however large the input was. The documents dropped here and the kept
    ones are offered to the unit's sampler."""
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    last = task.folders[-1]
    docs = pq.ParquetFile(os.path.join(last, DOCS_FILE))
    decided = load_decisions([config.stages[i].build() for i in task.closing], list(task.decided), task.unit.index)
    tokenizers = load_tokenizers(config.run.tokenizers)
    for found in decided:
        found.stage.tokenizers = tokenizers
    sampler = unit_sampler(config.output.samples_per_reason, config.output.sample_seed)
    counted = TokenTotals(tokenizers)

    def kept_batches():
        start = 0
        for batch in docs.iter_batches(batch_size=config.input.batch_size):
            rows = np.arange(start, start + batch.num_rows)
            start += batch.num_rows
            batch, _ = apply_decisions(decided, batch, rows, sampler)
            if batch.num_rows:
                offer(sampler, "write", KEPT, batch, np.ones(batch.num_rows, dtype=bool))
            # Counted here, on the text as the last stage that rewrites it left it.
            yield counted.add_column(batch)

    writer = ParquetShardWriter(
        config.local_output,
        counted.schema(docs.schema_arrow),
        max_rows=config.output.shard_max_rows,
        max_bytes=config.output.shard_max_bytes,
        compression_level=config.output.compression_level,
    )
    shards = writer.write(kept_batches(), task.unit.prefix)
    sampler.write(os.path.join(last, WRITE_SAMPLES_FILE), os.path.join(last, WRITE_DOMAINS_FILE))
    return {
        "unit": task.unit.key,
        "quarantine": publish_quarantine(config.local_output, list(task.folders), task.unit.prefix),
        "rows_in": docs.metadata.num_rows,
        "stages": [found.stats.to_dict() for found in decided],
        "shards": [s.to_dict() for s in shards],
        **counted.totals(),
        "wall_seconds": time.perf_counter() - started_wall,
        "cpu_seconds": time.process_time() - started_cpu,
    }
