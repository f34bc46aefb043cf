"""The units of a run: each input file whole, or cut into ranges of about ``run.unit_max_bytes``
at record starts (``stages.readers.splits``), so one large file keeps every worker busy.

Units follow the sorted inputs, and each file's ranges in file order: their index orders the
documents for the global stages (which duplicate is kept) exactly as the file read whole would.
"""

from __future__ import annotations

import logging

from curate import storage
from curate.config import PipelineConfig
from curate.workdir import Unit, unit_key
from stages.readers.splits import cut_points

log = logging.getLogger("curate")


UNIT_MIN_BYTES = 16 * 1024 * 1024
"""Units are never cut smaller than this to reach ``run.min_units``: a unit's fixed costs (its
task, its folder, its key files for every global stage) stay small beside its work."""


def plan_units(config: PipelineConfig) -> list[Unit]:
    """Every unit of the run, in order."""
    sizes = {path: storage.file_size(path) for path in config.inputs}
    every = unit_bytes(config, sum(size or 0 for size in sizes.values()))
    units: list[Unit] = []
    for path in config.inputs:
        starts = _starts(config, path, sizes[path], every)
        for start, end in zip(starts, [*starts[1:], None]):
            units.append(Unit(len(units), path, unit_key(config.hash, path, start, end), start, end))
    return units


def unit_bytes(config: PipelineConfig, total: int) -> int | None:
    """The size to cut files at: ``run.unit_max_bytes``, or less for a run whose inputs would
    make fewer than ``run.min_units`` units (never under UNIT_MIN_BYTES). It depends on the
    inputs alone, not on the workers, so a re-run on another cluster resumes the same units."""
    largest = config.run.unit_max_bytes
    if not largest:
        return None
    return min(largest, max(UNIT_MIN_BYTES, -(-total // config.run.min_units)))


def _starts(config: PipelineConfig, path: str, size: int | None, every: int | None) -> list[int]:
    if not every or size is None or size <= every:
        return [0]
    try:
        starts = cut_points(config.input, path, size, every)
    except Exception as error:  # noqa: BLE001 - the file's own map task reports what is wrong with it
        log.warning("%s is read as one unit: looking for places to cut it failed: %s", path, error)
        return [0]
    if len(starts) > 1:
        log.info("%s: %d units of about %d MiB", storage.display_name(path), len(starts), size // len(starts) >> 20)
    return starts
