"""Run a pipeline on Ray: map units, resolve global dedup, write shards, write the manifest.

Phases, each a set of Ray tasks with a bounded number in flight:

1. map: one task per input file (skipped when its completion record exists);
2. dedup: one task per hash partition, over all units' key files;
3. write: one task per unit, writing its final Parquet shards.

The driver only moves small records (counts, paths); documents stay in files.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from curate.config import PipelineConfig
from curate.document import output_schema, pipeline_schema
from curate.manifest import build_manifest, write_manifest
from curate.progress import Progress
from curate.stage import StageStats
from curate.units import (
    Unit,
    failed_unit_record,
    map_unit,
    read_completion,
    resolve_dedup_partition,
    unit_key,
    work_dir,
    write_unit,
)
from stages.exact_dedup import ExactDedup

log = logging.getLogger("curate")


class RunError(RuntimeError):
    """The run could not complete (as opposed to single inputs failing)."""


@dataclass
class RunSummary:
    manifest_path: str
    manifest: dict[str, Any]


def connect_ray(address: str | None, workers: int | None) -> bool:
    """Connect to a cluster, or start a local Ray; return True when we started it here."""
    import ray

    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=True)
    else:
        ray.init(num_cpus=workers or os.cpu_count(), include_dashboard=False, logging_level=logging.WARNING)
    return True


def _run_tasks(
    remote: Any,
    jobs: list[tuple[Any, tuple]],
    *,
    max_in_flight: int,
    progress: Progress,
    on_result: Callable[[Any, Any], None],
    on_error: Callable[[Any, BaseException], None],
) -> None:
    """Submit ``remote.remote(*args)`` for each job, at most ``max_in_flight`` at once."""
    import ray

    queue = list(jobs)
    queue.reverse()
    pending: dict[Any, Any] = {}
    while queue or pending:
        while queue and len(pending) < max_in_flight:
            job, args = queue.pop()
            pending[remote.remote(*args)] = job
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            job = pending.pop(ref)
            try:
                on_result(job, ray.get(ref))
            except (ray.exceptions.RayError, OSError) as error:
                on_error(job, error)
            progress.advance(str(job))


def run_pipeline(
    config: PipelineConfig,
    *,
    address: str | None = None,
    workers: int | None = None,
    fresh: bool = False,
) -> RunSummary:
    """Run ``config`` to completion and return its manifest."""
    import ray

    started = time.time()
    out = config.output.path
    if fresh and os.path.isdir(out):
        shutil.rmtree(out)
    units_dir = os.path.join(work_dir(config), "units")
    os.makedirs(units_dir, exist_ok=True)
    # Until this run writes its own, the folder holds no valid manifest (its shards will change).
    stale_manifest = os.path.join(out, "manifest.json")
    if os.path.exists(stale_manifest):
        os.remove(stale_manifest)
    units = [Unit(i, path, unit_key(config.hash, path)) for i, path in enumerate(config.inputs)]
    current = {unit.key for unit in units}
    for name in os.listdir(units_dir):
        # Half-written units of a killed run, and units of another config or changed inputs.
        if name not in current:
            shutil.rmtree(os.path.join(units_dir, name), ignore_errors=True)

    workers = workers or config.run.workers
    started_ray = connect_ray(address, workers)
    try:
        cluster_cpus = int(ray.cluster_resources().get("CPU", 1))
        parallel = workers or cluster_cpus
        max_in_flight = config.run.max_units_in_flight or 2 * parallel
        if workers and not started_ray:
            # On a cluster (or a Ray we did not size), --workers caps the tasks in flight.
            max_in_flight = min(max_in_flight, workers)
        retries = config.run.task_retries
        map_task = ray.remote(num_cpus=1, max_retries=retries)(map_unit)
        partition_task = ray.remote(num_cpus=1, max_retries=retries)(resolve_dedup_partition)
        write_task = ray.remote(num_cpus=1, max_retries=retries)(write_unit)

        config_ref = ray.put(config)

        # Phase 1: map every unit not already complete.
        records: dict[str, dict[str, Any]] = {}
        todo = []
        for unit in units:
            done = read_completion(config, unit)
            if done is not None:
                records[unit.key] = done
            else:
                todo.append(unit)
        resumed = len(units) - len(todo)
        if resumed:
            log.info("resuming: %d of %d units already complete", resumed, len(units))
        with Progress("map", len(todo)) as progress:
            _run_tasks(
                map_task,
                [(unit, (config_ref, unit)) for unit in todo],
                max_in_flight=max_in_flight,
                progress=progress,
                on_result=lambda unit, record: records.__setitem__(unit.key, record),
                on_error=lambda unit, error: records.__setitem__(unit.key, failed_unit_record(unit, str(error))),
            )
        good_units = [u for u in units if records[u.key]["status"] != "failed"]
        log.info("map: %d units ok, %d resumed, %d failed", len(good_units), resumed, len(units) - len(good_units))
        for unit in units:
            if records[unit.key]["status"] == "failed":
                log.warning("input failed: %s: %s", unit.path, records[unit.key]["error"])
        if units and not good_units:
            raise RunError("every input failed; see the errors above")

        # Phase 2: exact dedup, partition by partition.
        dedup_spec = next((s for s in config.stages if s.stage_class is ExactDedup), None)
        partitions = dedup_spec.config.partitions if dedup_spec else 0
        shutil.rmtree(os.path.join(work_dir(config), "dedup"), ignore_errors=True)
        dedup_started = time.perf_counter()
        if dedup_spec is not None:
            with Progress("dedup", partitions) as progress:
                _run_tasks(
                    partition_task,
                    [(p, (config_ref, good_units, p)) for p in range(partitions)],
                    max_in_flight=max_in_flight,
                    progress=progress,
                    on_result=lambda p, count: None,
                    on_error=_raise_phase_error("dedup partition"),
                )
        dedup_seconds = time.perf_counter() - dedup_started

        # Phase 3: final shards, unit by unit.
        writes: dict[str, dict[str, Any]] = {}
        _remove_stale_shards(out)
        with Progress("write", len(good_units)) as progress:
            _run_tasks(
                write_task,
                [(unit, (config_ref, unit, partitions)) for unit in good_units],
                max_in_flight=max_in_flight,
                progress=progress,
                on_result=lambda unit, result: writes.__setitem__(unit.key, result),
                on_error=_raise_phase_error("write"),
            )
    finally:
        if started_ray:
            ray.shutdown()

    stage_stats = _merge_stage_stats(config, [records[u.key] for u in good_units], [writes[u.key] for u in good_units], dedup_seconds)
    shards = [shard for unit in good_units for shard in writes[unit.key]["shards"]]
    schema = output_schema(pipeline_schema([spec.stage_class for spec in config.stages]))
    manifest = build_manifest(
        config,
        run_id=uuid.uuid4().hex,
        started=started,
        finished=time.time(),
        inputs=[records[u.key] for u in units],
        stages=stage_stats,
        shards=shards,
        schema=schema,
        resumed_units=resumed,
    )
    path = write_manifest(out, manifest)
    return RunSummary(path, manifest)


def _raise_phase_error(phase: str) -> Callable[[Any, BaseException], None]:
    def fail(job: Any, error: BaseException) -> None:
        raise RunError(f"{phase} task {job} failed: {error}") from error

    return fail


def _remove_stale_shards(out: str) -> None:
    # Shard names are deterministic; a previous run's shards would otherwise mix with this one's.
    data_dir = os.path.join(out, "data")
    if os.path.isdir(data_dir):
        shutil.rmtree(data_dir)


def _merge_stage_stats(
    config: PipelineConfig,
    records: Iterable[dict[str, Any]],
    writes: Iterable[dict[str, Any]],
    dedup_seconds: float,
) -> list[StageStats]:
    names = ["read"] + [spec.name for spec in config.stages]
    merged = {name: StageStats(name) for name in names}
    for record in records:
        for stats in record["stages"]:
            merged[stats["name"]].merge(StageStats.from_dict(stats))
    write_stats = StageStats("write")
    for result in writes:
        dedup = merged.get(ExactDedup.name)
        if dedup is not None:
            dedup.docs_out -= result["dedup_dropped"]
            if result["dedup_dropped"]:
                dedup.drops["dedup.exact"] += result["dedup_dropped"]
        kept = result["rows_in"] - result["dedup_dropped"]
        write_stats.docs_in += kept
        write_stats.docs_out += sum(s["rows"] for s in result["shards"])
        write_stats.wall_seconds += result["wall_seconds"]
        write_stats.cpu_seconds += result["cpu_seconds"]
    if ExactDedup.name in merged:
        merged[ExactDedup.name].wall_seconds += dedup_seconds
    return [merged[name] for name in names] + [write_stats]
