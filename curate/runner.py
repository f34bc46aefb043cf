"""Run a pipeline: passes of map tasks and global stages, then the write, then the manifest.

The stage list splits into passes (``curate.passes``). Each pass has two phases:

1. map: one task per unit (``curate.map_task``); the first pass reads the input files
   and skips units whose completion record exists, later passes read the units'
   survivors of the pass before with its global decisions applied;
2. global: each global stage closing the pass resolves its keys into decisions
   (``curate.global_stage``), in config order, one task per partition (and phase).

A unit is a whole input file or a range of one (``curate.units``). Then one write task per
input file (``curate.write_task``) writes the final shards, and the driver writes the
manifest. Tasks run on an executor (``curate.executor``: Ray, or in this process); the
driver only moves small records, documents stay in files.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import pyarrow.parquet as pq

from curate import storage
from curate.config import PipelineConfig
from curate.document import output_schema, pipeline_schema
from curate.executor import Executor, LocalExecutor, RunError, make_executor, raise_on_error
from curate.global_stage import GlobalJob
from curate.manifest import build_manifest, list_records, model_records, write_manifest
from curate.map_task import DOCS_FILE, UnitTask, failed_unit_record, map_unit
from curate.output_folder import (
    WRITTEN_NAMES,
    check_output,
    claim_output,
    remove_card,
    remove_published,
    remove_written,
)
from curate.passes import Pass, plan_passes
from curate.samples import merged_top_domains, publish_samples
from curate.stage import StageStats
from curate.storage import is_uri
from curate.tokens import load_tokenizers, token_section, tokens_field
from curate.units import plan_units
from curate.workdir import (
    Unit,
    first_pass_dir,
    global_stage_dir,
    pass_unit_dir,
    read_completion,
    remove_stale_units,
    run_dir,
    run_key,
)
from curate.write_task import WriteTask, write_input

log = logging.getLogger("curate")

__all__ = ["RunError", "RunSummary", "run_pipeline"]


@dataclass
class RunSummary:
    manifest_path: str
    manifest: dict[str, Any]


def run_pipeline(
    config: PipelineConfig,
    *,
    address: str | None = None,
    workers: int | None = None,
    fresh: bool = False,
    executor: str | None = None,
) -> RunSummary:
    """Run ``config`` to completion and return its manifest."""
    started = time.time()
    for skipped in config.skipped_stages:
        log.warning("stage %s left out: %s", skipped["stage"], skipped["reason"])
    check_output(config.local_output, config.inputs)
    lock = claim_output(config.local_output)
    try:
        return _run(config, started, address=address, workers=workers, fresh=fresh, executor=executor)
    finally:
        lock.release()


def _run(
    config: PipelineConfig,
    started: float,
    *,
    address: str | None,
    workers: int | None,
    fresh: bool,
    executor: str | None,
) -> RunSummary:
    _prepare_output(config, fresh)
    # Hashed before the workers load them: the manifest names the files this run read.
    models = model_records(config)
    lists = list_records(config)
    units = plan_units(config)
    remove_stale_units(first_pass_dir(config.local_output), {unit.key for unit in units})
    workers = workers or config.run.workers
    tasks = make_executor(
        executor or config.run.executor,
        address=address,
        workers=workers,
        retries=config.run.task_retries,
        max_in_flight=config.run.max_units_in_flight,
    )
    try:
        run = PipelineRun(config, tasks, units)
        run.first_pass()
        for plan in run.passes:
            if not plan.first:
                run.later_pass(plan)
            run.resolve(plan)
        run.write()
    finally:
        tasks.close()
    return _finish(run, started, models, lists)


def _prepare_output(config: PipelineConfig, fresh: bool) -> None:
    out = config.local_output
    if fresh:
        remove_written(out)
    if is_uri(config.output.path):
        # Until this run uploads its own, the remote folder holds no valid manifest either.
        storage.delete_file(storage.join(config.output.path, "manifest.json"))
        remove_card(config.output.path)
    os.makedirs(first_pass_dir(out), exist_ok=True)
    # Until this run writes its own, the folder holds no valid manifest (its shards will change),
    # and no card of the old one.
    stale_manifest = os.path.join(out, "manifest.json")
    if os.path.exists(stale_manifest):
        os.remove(stale_manifest)
    remove_card(out)


@dataclass
class PipelineRun:
    """The state of one run between its phases: which units are good, their records, the
    folders of each pass, and what each stage and global phase reported."""

    config: PipelineConfig
    executor: Executor
    units: list[Unit]
    passes: list[Pass] = field(init=False)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The first pass's completion record of every unit."""
    good: list[Unit] = field(default_factory=list)
    folders: dict[str, list[str]] = field(default_factory=dict)
    """Per unit key, its folder in each pass run so far."""
    stage_records: list[dict[str, Any]] = field(default_factory=list)
    """Stage stats of every map and write task, merged for the manifest."""
    resolve_seconds: dict[str, float] = field(default_factory=dict)
    summaries: dict[str, tuple[str | None, dict[str, Any]]] = field(default_factory=dict)
    writes: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per input file, its write task's result."""
    resumed: int = 0
    key: str | None = None

    def __post_init__(self) -> None:
        self.passes = plan_passes([spec.stage_class.is_global for spec in self.config.stages])
        self.config_ref = self.executor.share(self.config)

    def first_pass(self) -> None:
        """Map every unit not already complete; the run goes on without the failed ones."""
        plan, output = self.passes[0], self.config.local_output
        todo = []
        for unit in self.units:
            folder = pass_unit_dir(output, None, 0, unit)
            done = read_completion(folder, outputs=(DOCS_FILE,))
            self.folders[unit.key] = [folder]
            if done is not None:
                self.records[unit.key] = done
            else:
                todo.append((unit, (self.config_ref, plan, UnitTask(unit, folder))))
        self.resumed = len(self.units) - len(todo)
        if self.resumed:
            log.info("resuming: %d of %d units already complete", self.resumed, len(self.units))
        self.executor.map(
            "map",
            map_unit,
            todo,
            on_result=lambda unit, record: self.records.__setitem__(unit.key, record),
            on_error=lambda unit, error: self.records.__setitem__(
                unit.key, failed_unit_record(unit, f"{type(error).__name__}: {error}")
            ),
        )
        self.good = [u for u in self.units if self.records[u.key]["status"] != "failed"]
        failed = [u for u in self.units if self.records[u.key]["status"] == "failed"]
        log.info("map: %d units ok, %d resumed, %d failed", len(self.good), self.resumed, len(failed))
        for unit in failed:
            log.warning("input failed: %s: %s", unit.path, self.records[unit.key]["error"])
        broken = [u for u in failed if self.records[u.key].get("failure") != "input"]
        if broken and not self.config.run.allow_failed_inputs:
            raise RunError(_broken_message(broken, self.records))
        if self.units and not self.good:
            raise RunError("every input failed; see the errors above")
        self.stage_records.extend(stats for u in self.good for stats in self.records[u.key]["stages"])
        self.key = run_key(self.config.hash, self.good)
        run_dir(output, self.key)

    def later_pass(self, plan: Pass) -> None:
        """Map every unit's survivors of the pass before, its global decisions applied."""
        before = self.passes[plan.index - 1]
        decided = tuple(self.stage_folder(before, position) for position in before.closing)
        jobs = []
        for unit in self.good:
            folder = pass_unit_dir(self.config.local_output, self.key, plan.index, unit)
            source = self.folders[unit.key][-1]
            self.folders[unit.key].append(folder)
            done = read_completion(folder, outputs=(DOCS_FILE,))
            if done is not None:
                self._pass_record(unit, done)
            else:
                jobs.append((unit, (self.config_ref, plan, UnitTask(unit, folder, source, decided))))
        self.executor.map(
            f"map {plan.index + 1}", map_unit, jobs, self._pass_record, raise_on_error(f"map {plan.index + 1}")
        )

    def _pass_record(self, unit: Unit, record: dict[str, Any]) -> None:
        if record["status"] == "failed":
            raise RunError(f"pass map task {unit} failed: {record['error']}\n{record.get('detail', '')}")
        self.stage_records.extend(record["stages"])
        self.records[unit.key]["documents_out"] = record["documents_out"]

    def stage_folder(self, plan: Pass, position: int) -> str:
        assert self.key is not None
        return global_stage_dir(self.config.local_output, self.key, plan.index, self.config.stages[position].name)

    def resolve(self, plan: Pass) -> None:
        """Resolve the global stages closing ``plan``, in config order; a small run's phases run
        here rather than as tasks (a task per partition would cost more than the work)."""
        if not plan.closing:
            return
        documents = sum(self._documents(unit, plan) for unit in self.good)
        small = documents <= self.config.run.local_phases_max_documents
        phases = LocalExecutor() if small and not isinstance(self.executor, LocalExecutor) else self.executor
        unit_dirs = {unit.index: self.folders[unit.key][plan.index] for unit in self.good}
        earlier: list[str] = []
        for position in plan.closing:
            spec = self.config.stages[position]
            folder = self.stage_folder(plan, position)
            job = GlobalJob(spec, tuple(self.good), unit_dirs, folder, tuple(earlier))
            resolve_started = time.perf_counter()
            summary = spec.build().resolve(job, phases.run)
            seconds = time.perf_counter() - resolve_started
            self.resolve_seconds[spec.name] = seconds
            if summary is not None:
                summary["phases_in"] = phases.name
                summary["seconds"] = round(seconds, 3)
                self.summaries[spec.name] = (spec.stage_class.summary_key, summary)
            earlier.append(folder)

    def _documents(self, unit: Unit, plan: Pass) -> int:
        if plan.first:
            return self.records[unit.key].get("documents_out", 0)
        return pq.ParquetFile(os.path.join(self.folders[unit.key][plan.index], "docs.parquet")).metadata.num_rows

    def write(self) -> None:
        """Every good unit's final shards, the last pass's decisions applied."""
        last = self.passes[-1]
        decided = tuple(self.stage_folder(last, position) for position in last.closing)
        # Shard names are deterministic; a previous run's files would otherwise mix with this one's.
        remove_published(self.config.local_output)
        jobs = []
        for path, units in self.good_by_input().items():
            folders = tuple(tuple(self.folders[unit.key]) for unit in units)
            jobs.append((path, (self.config_ref, WriteTask(tuple(units), folders, last.closing, decided))))
        self.executor.map(
            "write",
            write_input,
            jobs,
            lambda path, result: self.writes.__setitem__(path, result),
            raise_on_error("write"),
        )

    def good_by_input(self) -> dict[str, list[Unit]]:
        """The good units of each input file, in order: a file's shards are written together."""
        grouped: dict[str, list[Unit]] = {}
        for unit in self.good:
            grouped.setdefault(unit.path, []).append(unit)
        return grouped

    def stage_stats(self) -> list[StageStats]:
        names = ["read"] + [spec.name for spec in self.config.stages]
        merged = {name: StageStats(name) for name in names}
        for record in self.stage_records:
            merged[record["name"]].merge(StageStats.from_dict(record))
        write = StageStats("write")
        for result in self.writes.values():
            for record in result["stages"]:
                merged[record["name"]].merge(StageStats.from_dict(record))
            write.docs_in += _kept(result)
            write.docs_out += sum(s["rows"] for s in result["shards"])
            write.wall_seconds += result["wall_seconds"]
            write.cpu_seconds += result["cpu_seconds"]
        for name, seconds in self.resolve_seconds.items():
            merged[name].wall_seconds += seconds
        return [merged[name] for name in names] + [write]


def _kept(result: dict[str, Any]) -> int:
    """Rows a write task kept: its rows in, less those its global stages dropped."""
    return result["rows_in"] - sum(sum(s["drops"].values()) for s in result["stages"])


def _broken_message(broken: list[Unit], records: dict[str, dict[str, Any]]) -> str:
    shown = "; ".join(f"{unit.path}: {records[unit.key]['error'][:300]}" for unit in broken[:5])
    more = f" (and {len(broken) - 5} more)" if len(broken) > 5 else ""
    return (
        f"{len(broken)} of {len(records)} inputs failed because the run broke around them, not because "
        f"they are unreadable: {shown}{more}. No manifest was written; re-run to retry them (completed "
        "inputs are kept), or set run.allow_failed_inputs: true to publish without them"
    )


def _token_section(
    config: PipelineConfig, stages: list[StageStats], writes: list[dict[str, Any]]
) -> dict[str, Any] | None:
    tokenizers = load_tokenizers(config.run.tokenizers)
    if not tokenizers:
        return None
    output = {t.name: sum(w.get("tokens", {}).get(t.name, 0) for w in writes) for t in tokenizers}
    quarantining = {spec.name for spec in config.stages if spec.stage_class.quarantines}
    han = sum(w.get("han_chars", 0) for w in writes)
    return token_section(tokenizers, stages, quarantining, output, han)


def _finish(run: PipelineRun, started: float, models: list[dict[str, Any]], lists: list[dict[str, Any]]) -> RunSummary:
    config, out = run.config, run.config.local_output
    good = run.good
    writes = [run.writes[path] for path in run.good_by_input()]
    shards = [shard for write in writes for shard in write["shards"]]
    # The schema as Parquet stores it (seconds become milliseconds, list items are "element"),
    # so that readers and `curate verify` see what the manifest says.
    if shards:
        schema = pq.read_schema(os.path.join(out, shards[0]["path"]))
    else:
        schema = output_schema(pipeline_schema([spec.stage_class for spec in config.stages]))
        tokenizers = load_tokenizers(config.run.tokenizers)
        if tokenizers:
            schema = schema.append(tokens_field(tokenizers))
    unit_dirs = [folder for unit in good for folder in run.folders[unit.key]]
    stages = run.stage_stats()
    tokens = _token_section(config, stages, writes)
    manifest = build_manifest(
        config,
        run_id=uuid.uuid4().hex,
        started=started,
        finished=time.time(),
        inputs=[run.records[u.key] for u in run.units],
        stages=stages,
        shards=shards,
        schema=schema,
        resumed_units=run.resumed,
        summaries=run.summaries,
        quarantine=[write["quarantine"] for write in writes if write["quarantine"]],
        samples=publish_samples(out, unit_dirs, config.output.samples_per_reason),
        top_domains=merged_top_domains(unit_dirs),
        models=models,
        blocklists=lists,
        tokens=tokens,
    )
    path = write_manifest(out, manifest)
    if is_uri(config.output.path):
        storage.upload_folder(out, config.output.path, replace=WRITTEN_NAMES, last=["manifest.json"])
        path = storage.join(config.output.path, "manifest.json")
        log.info("uploaded the output to %s", config.output.path)
    return RunSummary(path, manifest)
