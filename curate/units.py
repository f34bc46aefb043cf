"""The units of a run: each input file whole, or cut into ranges of about ``run.unit_max_bytes``
at record starts (``stages.readers.splits``), so one large file keeps every worker busy.

Units follow the sorted inputs, and each file's ranges in file order: their index orders the
documents for the global stages (which duplicate is kept) exactly as the file read whole would.

The run's tail is cut finer (guided scheduling): the last ``TAIL_UNITS`` units' worth of bytes
become units of a ``TAIL_DIVISOR``-th of the size, so that the workers finish together rather
than all but one waiting on the last large unit. Like the unit size, this depends on the
inputs alone.
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


TAIL_UNITS = 2
TAIL_DIVISOR = 4
"""On the 40k-record WARC (16 units of 66 MiB; benchmarks/whole_process.py), 2 workers: the
last 2 units' worth cut in quarters took 0.8 s off a 33 s map phase (3 A/B runs)."""


def plan_units(config: PipelineConfig) -> list[Unit]:
    """Every unit of the run, in order."""
    sizes = {path: storage.file_size(path) for path in config.inputs}
    total = sum(size or 0 for size in sizes.values())
    every = unit_bytes(config, total)
    tail_every = max(UNIT_MIN_BYTES, -(-(every or 0) // TAIL_DIVISOR))
    # Where the run's tail starts, counted in bytes over the inputs in order (none: no tail).
    tail_from = total - TAIL_UNITS * every if every and tail_every < every else None
    units: list[Unit] = []
    offset = 0
    for path in config.inputs:
        size = sizes[path] or 0
        in_tail = tail_from is not None and offset + size > tail_from
        starts = _starts(config, path, sizes[path], every, tail_from - offset if in_tail else None, tail_every)
        offset += size
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


def _starts(
    config: PipelineConfig, path: str, size: int | None, every: int | None, tail_from: int | None, tail_every: int
) -> list[int]:
    """Where ``path`` is cut; ``tail_from``: where in it the run's tail starts (None: not in it)."""
    if not every or size is None or (size <= every and tail_from is None):
        return [0]
    try:
        starts = cut_points(config.input, path, size, every, tail_from, tail_every)
    except Exception as error:  # noqa: BLE001 - the file's own map task reports what is wrong with it
        log.warning("%s is read as one unit: looking for places to cut it failed: %s", path, error)
        return [0]
    if len(starts) > 1:
        lengths = [end - start for start, end in zip(starts, [*starts[1:], size])]
        low, high = min(lengths) >> 20, max(lengths) >> 20
        sizes = f"{high} MiB" if low == high else f"{low}-{high} MiB"
        log.info("%s: %d units of %s", storage.display_name(path), len(starts), sizes)
    return starts
