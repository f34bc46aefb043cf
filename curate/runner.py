"""Run a pipeline on Ray: map units, resolve global dedup, write shards, write the manifest.

Phases, each a set of Ray tasks with a bounded number in flight:

1. map: one task per input file (skipped when its completion record exists);
2. dedup: one task per hash partition, over all units' key files;
3. write: one task per unit, writing its final Parquet shards.

The driver only moves small records (counts, paths); documents stay in files.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow.parquet as pq

from curate import storage
from curate.config import PipelineConfig
from curate.storage import is_uri
from curate.document import output_schema, pipeline_schema
from curate.manifest import build_manifest, model_records, write_manifest
from curate.progress import Progress
from curate.stage import StageStats
from curate.units import (
    Unit,
    failed_unit_record,
    map_unit,
    merged_top_domains,
    publish_samples,
    read_completion,
    resolve_dedup_partition,
    resolve_flag_partition,
    unit_dir,
    unit_key,
    work_dir,
    write_unit,
)
from curate import minhash_phases as phases
from stages.exact_dedup import ExactDedup
from stages.minhash_dedup import MinHashDedup, MinHashDedupConfig, describe_bands
from stages.screens.global_flags import GlobalFlagScreen

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
    for skipped in config.skipped_stages:
        log.warning("stage %s left out: %s", skipped["stage"], skipped["reason"])
    out = config.local_output
    if fresh and os.path.isdir(out):
        shutil.rmtree(out)
    if is_uri(config.output.path):
        # Until this run uploads its own, the remote folder holds no valid manifest either.
        storage.delete_file(storage.join(config.output.path, "manifest.json"))
    units_dir = os.path.join(work_dir(config), "units")
    os.makedirs(units_dir, exist_ok=True)
    # Until this run writes its own, the folder holds no valid manifest (its shards will change).
    stale_manifest = os.path.join(out, "manifest.json")
    if os.path.exists(stale_manifest):
        os.remove(stale_manifest)
    # Hashed before the workers load them: the manifest names the files this run read.
    models = model_records(config)
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

        documents = sum(records[u.key].get("documents_out", 0) for u in good_units)
        phase = GlobalPhase(
            in_process=documents <= config.run.local_phases_max_documents, max_in_flight=max_in_flight, retries=retries
        )

        # Phase 2: exact dedup, partition by partition.
        dedup_spec = next((s for s in config.stages if s.stage_class is ExactDedup), None)
        partitions = dedup_spec.config.partitions if dedup_spec else 0
        shutil.rmtree(os.path.join(work_dir(config), "dedup"), ignore_errors=True)
        dedup_started = time.perf_counter()
        if dedup_spec is not None:
            phase.run("dedup", resolve_dedup_partition, [(p, (config, good_units, p)) for p in range(partitions)])
        dedup_seconds = time.perf_counter() - dedup_started

        # Global screens, partition by partition.
        shutil.rmtree(os.path.join(work_dir(config), "flags"), ignore_errors=True)
        for spec in config.stages:
            if issubclass(spec.stage_class, GlobalFlagScreen):
                phase.run(spec.name, resolve_flag_partition, [(p, (config, spec.name, good_units, p)) for p in range(spec.config.partitions)])

        # Phase 3: near-duplicates, in their own phases.
        minhash_work, minhash_summary = None, None
        minhash_spec = next((s for s in config.stages if s.stage_class is MinHashDedup), None)
        if minhash_spec is not None:
            minhash_started = time.perf_counter()
            minhash_work = minhash_work_dir(config, good_units)
            minhash_summary = _minhash_dedup(
                minhash_spec.config, minhash_work, good_units, config, phase,
                exact_drops=os.path.join(work_dir(config), "dedup") if dedup_spec is not None else None,
            )
            minhash_summary["seconds"] = round(time.perf_counter() - minhash_started, 3)

        # Phase 4: final shards, unit by unit.
        writes: dict[str, dict[str, Any]] = {}
        _remove_stale_shards(out)
        with Progress("write", len(good_units)) as progress:
            _run_tasks(
                write_task,
                [(unit, (config_ref, unit, partitions, minhash_work)) for unit in good_units],
                max_in_flight=max_in_flight,
                progress=progress,
                on_result=lambda unit, result: writes.__setitem__(unit.key, result),
                on_error=_raise_phase_error("write"),
            )
    finally:
        if started_ray:
            ray.shutdown()

    stage_stats = _merge_stage_stats(
        config, [records[u.key] for u in good_units], [writes[u.key] for u in good_units], dedup_seconds,
        minhash_summary["seconds"] if minhash_summary else 0.0,
    )
    shards = [shard for unit in good_units for shard in writes[unit.key]["shards"]]
    # The schema as Parquet stores it (seconds become milliseconds, list items are "element"),
    # so that readers and `curate verify` see what the manifest says.
    schema = pq.read_schema(os.path.join(out, shards[0]["path"])) if shards else output_schema(pipeline_schema([spec.stage_class for spec in config.stages]))
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
        minhash=minhash_summary,
        quarantine=[writes[u.key]["quarantine"] for u in good_units if writes[u.key]["quarantine"]],
        samples=publish_samples(config, good_units),
        top_domains=merged_top_domains(config, good_units),
        models=models,
    )
    path = write_manifest(out, manifest)
    if is_uri(config.output.path):
        storage.upload_folder(out, config.output.path, replace=["data", "quarantine", "samples"], last=["manifest.json"])
        path = storage.join(config.output.path, "manifest.json")
        log.info("uploaded the output to %s", config.output.path)
    return RunSummary(path, manifest)


def _raise_phase_error(phase: str) -> Callable[[Any, BaseException], None]:
    def fail(job: Any, error: BaseException) -> None:
        raise RunError(f"{phase} task {job} failed: {error}") from error

    return fail


def _remove_stale_shards(out: str) -> None:
    # Shard names are deterministic; a previous run's files would otherwise mix with this one's.
    for folder in ("data", "quarantine", "samples"):
        if os.path.isdir(os.path.join(out, folder)):
            shutil.rmtree(os.path.join(out, folder))


def _merge_stage_stats(
    config: PipelineConfig,
    records: Iterable[dict[str, Any]],
    writes: Iterable[dict[str, Any]],
    dedup_seconds: float,
    minhash_seconds: float,
) -> list[StageStats]:
    names = ["read"] + [spec.name for spec in config.stages]
    merged = {name: StageStats(name) for name in names}
    for record in records:
        for stats in record["stages"]:
            merged[stats["name"]].merge(StageStats.from_dict(stats))
    global_specs = [spec for spec in config.stages if spec.stage_class.is_global]
    write_stats = StageStats("write")
    for result in writes:
        # Global stages drop in the write phase, in config order: each one's count starts
        # after the documents the global stages before it removed.
        removed = {ExactDedup.name: ("dedup.exact", result["dedup_dropped"]), MinHashDedup.name: ("dedup.minhash", result["minhash_dropped"])}
        before = 0
        for spec in global_specs:
            stats = merged[spec.name]
            reason, count = removed.get(spec.name, ("", 0))
            stats.docs_in -= before
            stats.docs_out -= before + count
            if count:
                stats.drops[reason] += count
            before += count
        for spec in global_specs:
            count = result["screen_flagged"].get(spec.name, 0)
            if count:
                merged[spec.name].flags[spec.stage_class.rule] += count
        kept = result["rows_in"] - result["dedup_dropped"] - result.get("minhash_dropped", 0)
        write_stats.docs_in += kept
        write_stats.docs_out += sum(s["rows"] for s in result["shards"])
        write_stats.wall_seconds += result["wall_seconds"]
        write_stats.cpu_seconds += result["cpu_seconds"]
    if ExactDedup.name in merged:
        merged[ExactDedup.name].wall_seconds += dedup_seconds
    if MinHashDedup.name in merged:
        merged[MinHashDedup.name].wall_seconds += minhash_seconds
    return [merged[name] for name in names] + [write_stats]


def minhash_work_dir(config: PipelineConfig, units: list[Unit]) -> str:
    """The MinHash phases' folder, named by what they read (the config and every unit), so a
    re-run over the same units resumes it and any change starts afresh; other runs' folders go."""
    key = hashlib.sha256("\0".join([config.hash] + [u.key for u in units]).encode()).hexdigest()[:16]
    parent = os.path.join(work_dir(config), "minhash")
    if os.path.isdir(parent):
        for name in os.listdir(parent):
            if name != key:
                shutil.rmtree(os.path.join(parent, name), ignore_errors=True)
    return os.path.join(parent, key)


@dataclass
class GlobalPhase:
    """Runs one global phase's jobs: as Ray tasks, or for a small run as plain calls here."""

    in_process: bool
    max_in_flight: int
    retries: int

    def run(self, name: str, function: Callable, jobs: list[tuple[Any, tuple]]) -> dict[Any, Any]:
        import ray

        results: dict[Any, Any] = {}
        with Progress(name, len(jobs)) as progress:
            if self.in_process:
                for job, args in jobs:
                    results[job] = function(*args)
                    progress.advance(str(job))
            else:
                _run_tasks(
                    ray.remote(num_cpus=1, max_retries=self.retries)(function), jobs, max_in_flight=self.max_in_flight,
                    progress=progress, on_result=results.__setitem__, on_error=_raise_phase_error(name),
                )
        return results


def _minhash_dedup(
    settings: MinHashDedupConfig,
    work: str,
    units: list[Unit],
    config: PipelineConfig,
    phase: GlobalPhase,
    *,
    exact_drops: str | None,
) -> dict[str, Any]:
    """Run the MinHash phases (see curate.minhash_phases) and return their manifest summary."""
    run = phase.run
    log.info("minhash: %s", describe_bands(settings.parameters()))
    partitions = range(settings.partitions)
    unit_dirs = [unit_dir(config, u) for u in units]
    lsh = run("minhash lsh", phases.lsh_partition, [(p, (unit_dirs, work, p, settings.partitions, exact_drops)) for p in partitions])
    pairs = run("minhash pairs", phases.unique_edges, [(p, (work, p)) for p in partitions])
    candidates = sum(r["candidate_pairs"] for r in pairs.values())
    edge_dir, verified = "edges", None
    if settings.verify:
        shingler = MinHashDedup(settings).shingles
        dirs = {u.index: unit_dir(config, u) for u in units}
        checked = run("minhash verify", phases.verify_partition, [(p, (dirs, work, p, shingler, settings.verify_threshold)) for p in partitions])
        edge_dir, verified = "verified", sum(r["verified_pairs"] for r in checked.values())
    edges = verified if verified is not None else candidates
    if edges <= settings.local_components_max_edges:
        components = run("minhash components", phases.local_components, [("all", (work, edge_dir, settings.partitions))])["all"]
    else:
        run("minhash adjacency", phases.adjacency_partition, [(p, (work, edge_dir, p, settings.partitions)) for p in partitions])
        iteration = 0
        while True:
            rounds = run(f"minhash components {iteration}", phases.propagation_round, [(p, (work, p, settings.partitions, iteration)) for p in partitions])
            if iteration > 0 and sum(r["changed"] for r in rounds.values()) == 0:
                break
            iteration += 1
        for p in partitions:
            phases.publish_labels(work, iteration, p)
        components = {"method": "distributed", "iterations": iteration + 1, "nodes": sum(r["nodes"] for r in rounds.values())}
    run("minhash members", phases.members_partition, [(p, (unit_dirs, work, p, settings.partitions)) for p in partitions])
    keepers = run("minhash keepers", phases.keepers_partition, [(p, (work, p, settings.keep)) for p in partitions])
    histogram: dict[str, int] = {}
    for record in keepers.values():
        for size, count in record["cluster_sizes"].items():
            histogram[size] = histogram.get(size, 0) + count
    return {
        "parameters": settings.parameters(),
        "band_keys": sum(r["band_keys"] for r in lsh.values()),
        "candidate_pairs": candidates,
        "verified_pairs": verified,
        "phases_in": "driver" if phase.in_process else "ray tasks",
        "components": {"method": components["method"], "iterations": components["iterations"], "nodes": components["nodes"]},
        "clusters": sum(r["clusters"] for r in keepers.values()),
        "cluster_sizes": dict(sorted(histogram.items(), key=lambda item: int(item[0]))),
        "documents_removed": sum(r["removed"] for r in keepers.values()),
    }
