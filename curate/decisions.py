"""The write side of global stages: a unit's decisions applied to its documents, batch by batch.

Used wherever a unit's documents are read after a pass: by the next pass's map task
and by the write task. In config order, each global stage of the pass removes the rows
it drops (reason: its ``rule``; offered to the sampler with their evidence) among those
the stages before it kept; then each one ``mark``s the rows kept, and its kept rows with
evidence count as flagged under its ``rule``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.decoded_columns import column_values
from curate.global_stage import GlobalStage, read_decisions
from curate.samples import Sampler, signals_of
from curate.stage import StageStats
from curate.tokens import counted_tokens

SAMPLED_COLUMNS = ("id", "url", "domain", "source", "text")


@dataclass
class StageDecisions:
    stage: GlobalStage
    rows: np.ndarray
    """Sorted rows with a decision."""
    drop: np.ndarray
    evidence: list[str | None]
    kept: pa.Table
    """The decisions about rows the stage keeps (marks and flags)."""
    stats: StageStats


def load_decisions(stages: list[GlobalStage], folders: list[str], unit: int) -> list[StageDecisions]:
    """The decisions of a pass's global stages (work ``folders`` alongside) about one unit."""
    loaded = []
    for stage, folder in zip(stages, folders):
        table = read_decisions(folder, unit, stage.decision_schema())
        drop = table.column("drop").to_numpy(zero_copy_only=False)
        kept = table.filter(pc.invert(table.column("drop")))
        loaded.append(
            StageDecisions(
                stage,
                table.column("row").to_numpy(),
                drop,
                table.column("evidence").to_pylist(),
                kept,
                StageStats(stage.name),
            )
        )
    return loaded


def apply_decisions(
    decided: list[StageDecisions], batch: pa.RecordBatch, rows: np.ndarray, sampler: Sampler | None
) -> tuple[pa.RecordBatch, np.ndarray]:
    """``batch`` (its rows numbered ``rows``) without the rows the stages drop, marked; and the
    numbers of the rows kept."""
    removed = np.zeros(len(rows), dtype=bool)
    for found in decided:
        dropped_rows = found.rows[found.drop]
        drops = np.isin(rows, dropped_rows) & ~removed if len(dropped_rows) else np.zeros(len(rows), dtype=bool)
        found.stats.docs_in += int((~removed).sum())
        found.stats.docs_out += int((~removed).sum() - drops.sum())
        if drops.any():
            found.stats.drops[found.stage.rule] += int(drops.sum())
            if found.stage.tokenizers and "text" in batch.schema.names:
                texts = column_values(batch, "text")
                dropped = np.flatnonzero(drops).tolist()
                # The last pass's documents arrive counted (the text marks change comes after the drops).
                known = {t.name: counted_tokens(batch, t.name) for t in found.stage.tokenizers}
                counted = {name: c[dropped].tolist() for name, c in known.items() if c is not None}
                found.stats.count_drop_tokens(
                    found.stage.tokenizers, [texts[i] for i in dropped], [found.stage.rule] * len(dropped), counted
                )
            if sampler is not None:
                offer(
                    sampler,
                    found.stage.name,
                    found.stage.rule,
                    batch,
                    drops,
                    _evidence(found, rows[drops], found.stage.evidence_as),
                )
        removed |= drops
    kept_rows = rows[~removed]
    batch = batch.filter(pa.array(~removed)) if removed.any() else batch
    for found in decided:
        if not found.kept.num_rows:
            continue
        batch = found.stage.mark(batch, kept_rows, found.kept)
        flagged = found.kept.filter(pc.is_valid(found.kept.column("evidence"))).column("row").to_numpy()
        if len(flagged):
            found.stats.flags[found.stage.rule] += int(np.isin(kept_rows, flagged).sum())
    return batch, kept_rows


def _evidence(found: StageDecisions, rows: np.ndarray, field: str) -> list[dict]:
    positions = np.searchsorted(found.rows, rows)
    return [{field: found.evidence[p]} for p in positions.tolist()]


def offer(
    sampler: Sampler, stage: str, reason: str, batch: pa.RecordBatch, mask: np.ndarray, extra: list[dict] | None = None
) -> None:
    """Offer the rows of ``batch`` in ``mask`` to the sampler under ``reason`` (with ``extra``
    fields per row)."""
    chosen = pa.Table.from_batches([batch.filter(pa.array(mask))])
    found = chosen.select([c for c in SAMPLED_COLUMNS if c in batch.schema.names]).to_pylist()
    for row, signals in zip(found, signals_of(chosen)):
        row["signals"] = signals
    for row, fields in zip(found, extra or []):
        row.update(fields)
    sampler.offer(stage, reason, found)
