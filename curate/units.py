"""The work inside one Ray task: map a unit, resolve a dedup partition, write a unit's shards.

A unit is one input file. Its map phase streams the file through every stage
batch by batch and leaves, in ``OUT/_work/units/<key>/``:

- ``docs.parquet``: the documents that survived the map stages (no raw HTML);
- ``keys/part-NNNNN.parquet``: ``(exact_hash, row)`` shuffled by hash partition;
- ``keys/<global screen>/``: a global flag screen's keys, shuffled by hash partition
  (``part-NNNNN-CCCC.parquet``, C counting the chunks streamed out), and
  ``doc_rows.parquet``: which row of docs.parquet each document it observed became,
  -1 for those a later map stage dropped (``FlagKeys``). Unlike every other key,
  these cover every document at the screen's observation point (after ``extract``,
  or as read for text inputs), not only the survivors: a trigger burst or a changed
  URL is counted over the whole population, and only the survivors are flagged;
- ``done.json``: the completion record with counts, errors and timings.

All of it is written into a temporary folder that is renamed into place at the
end, so a unit is either complete or absent: a killed run loses only the units
in flight, and a re-run skips every unit whose completion record exists.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import time
import traceback
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.config import PipelineConfig
from curate.document import output_schema, pipeline_schema
from curate.samples import DOMAIN_SCHEMA, KEPT, SAMPLE_SCHEMA, Sampler, signals_of, top_domains
from curate.samples import merge as merge_samples
from curate.sorted_rows import find_sorted
from curate.stage import Stage, StageStats, Timer
from curate import minhash_phases
from stages.exact_dedup import ExactDedup
from stages.minhash_dedup import MinHashDedup
from stages.parquet_writer import ParquetShardWriter
from stages.screens.global_flags import DROPPED, FLAG_SCHEMA, ROW_FIELD, GlobalFlagScreen, observation_point, surviving, with_flags
from curate import storage
from stages.readers import ReadResult, reader_for

MAX_ERRORS_LISTED = 100


@dataclass(frozen=True)
class Unit:
    index: int
    """Position in the sorted input list; decides which duplicate is kept."""
    path: str
    key: str
    """Names the unit's work folder; changes when the config or the file changes."""

    def __str__(self) -> str:
        return os.path.basename(self.path)

    @property
    def prefix(self) -> str:
        """Shard file prefix: the input's name without extensions, plus a hash of its full path."""
        stem = os.path.basename(self.path).split(".")[0] or "input"
        return f"{stem}-{hashlib.sha1(self.path.encode()).hexdigest()[:8]}"


def unit_key(config_hash: str, path: str) -> str:
    size, mtime_ns = storage.fingerprint(path)
    material = f"{config_hash}\0{path}\0{size}\0{mtime_ns}"
    return hashlib.sha256(material.encode()).hexdigest()[:24]


def work_dir(config: PipelineConfig) -> str:
    return os.path.join(config.local_output, "_work")


def unit_dir(config: PipelineConfig, unit: Unit) -> str:
    return os.path.join(work_dir(config), "units", unit.key)


def read_completion(config: PipelineConfig, unit: Unit) -> dict[str, Any] | None:
    path = os.path.join(unit_dir(config, unit), "done.json")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _dedup_stage(config: PipelineConfig) -> ExactDedup | None:
    for spec in config.stages:
        if spec.stage_class is ExactDedup:
            return spec.build()
    return None


def global_flag_screens(config: PipelineConfig) -> list[GlobalFlagScreen]:
    return [spec.build() for spec in config.stages if issubclass(spec.stage_class, GlobalFlagScreen)]


def flags_dir(config: PipelineConfig, name: str) -> str:
    return os.path.join(work_dir(config), "flags", name)


def resolve_flag_partition(config: PipelineConfig, name: str, units: list[Unit], partition: int) -> int:
    """One partition of a global screen: every unit's keys in, the (unit, row) to flag out."""
    screen = next(s for s in global_flag_screens(config) if s.name == name)
    tables = []
    for unit in units:
        table = FlagKeys.read_partition(unit_dir(config, unit), screen, partition)
        if table is not None:
            tables.append(table.append_column("unit", pa.array(np.full(table.num_rows, unit.index, dtype=np.int32))))
    flagged = screen.resolve(pa.concat_tables(tables)) if tables else FLAG_SCHEMA.empty_table()
    # Documents dropped in the map phase count in resolve but have no row to flag, whatever the screen returns.
    flagged = surviving(flagged)
    minhash_phases.write_parquet_atomically(flagged, os.path.join(flags_dir(config, name), f"part-{partition:05d}.parquet"))
    return flagged.num_rows


KEY_BUFFER_ROWS = 1 << 18
"""Key rows a unit buffers per global screen before writing them out. Observing every extracted
document, not only the survivors, multiplies the trigger-burst candidates (a noisy page that a
later screen drops still yields ~190 n-grams per noisy run), so the keys are streamed to disk."""
DOC_ROWS_FILE = "doc_rows.parquet"


class PartitionedKeyFiles:
    """Key rows streamed to Parquet files by partition: ``part-PPPPP-CCCC.parquet`` in ``folder``,
    one per partition that has rows each time the buffer (``buffer_rows`` rows in all) is written
    out; a unit's keys are never all in memory, and no file stays open between writes."""

    def __init__(self, folder: str, schema: pa.Schema, buffer_rows: int = KEY_BUFFER_ROWS) -> None:
        self.folder, self.schema, self.buffer_rows = folder, schema, buffer_rows
        self.buffered: dict[int, list[pa.Table]] = {}
        self.buffered_rows = 0
        self.chunks = 0

    def add(self, keys: pa.Table, partitions: np.ndarray) -> None:
        if not keys.num_rows:
            return
        order = np.argsort(partitions, kind="stable")
        ordered, parts = keys.take(pa.array(order)), partitions[order]
        starts = np.flatnonzero(np.concatenate(([True], parts[1:] != parts[:-1])))
        ends = np.append(starts[1:], len(parts))
        for start, end in zip(starts.tolist(), ends.tolist()):
            self.buffered.setdefault(int(parts[start]), []).append(ordered.slice(start, end - start))
        self.buffered_rows += keys.num_rows
        if self.buffered_rows >= self.buffer_rows:
            self.flush()

    def flush(self) -> None:
        os.makedirs(self.folder, exist_ok=True)
        for part in sorted(self.buffered):
            table = pa.concat_tables(self.buffered[part]).cast(self.schema)
            pq.write_table(table, os.path.join(self.folder, f"part-{part:05d}-{self.chunks:04d}.parquet"))
        self.buffered, self.buffered_rows = {}, 0
        self.chunks += 1

    @staticmethod
    def paths(folder: str, partition: int) -> list[str]:
        return sorted(glob.glob(os.path.join(folder, f"part-{partition:05d}-*.parquet")))


class FlagKeys:
    """A unit's keys for the global flag screens (``stages.screens.global_flags``).

    Each screen sees every batch at its observation point (``observe``, called before each map
    stage), so its keys cover the documents later stages drop; they name documents by their
    number there (``doc``) and stream to per-partition files. The ids of the documents written
    to docs.parquet (``written``) then tell which doc became which row: ``close`` stores that
    as ``doc_rows.parquet`` (-1: dropped), which ``read_partition`` joins back onto the keys."""

    def __init__(self, screens: list[GlobalFlagScreen], stages: list[Stage], stage_stats: list[StageStats], unit_folder: str) -> None:
        names = [stage.name for stage in stages]
        self.stats = {stats.name: stats for stats in stage_stats}
        self.screens_at: dict[int, list[GlobalFlagScreen]] = {}
        for screen in screens:
            self.screens_at.setdefault(observation_point(type(screen), names), []).append(screen)
            self.stats[screen.name].observed = 0
        self.files = {s.name: PartitionedKeyFiles(os.path.join(unit_folder, "keys", s.name), s.key_schema) for s in screens}
        # Document ids, one per observed document (not per key): what maps a doc to its row.
        self.observed_ids: dict[int, list[pa.Array]] = {point: [] for point in self.screens_at}
        self.observed = {point: 0 for point in self.screens_at}
        self.written_ids: list[pa.Array] = []

    def observe(self, point: int, batch: pa.RecordBatch) -> None:
        """Before map stage number ``point``: the keys of the screens observing there."""
        screens = self.screens_at.get(point)
        if not screens or not batch.num_rows:
            return
        for screen in screens:
            stats = self.stats[screen.name]
            with Timer(stats):
                keys, partitions = screen.keys(batch, self.observed[point])
                self.files[screen.name].add(keys, partitions)
            stats.observed += batch.num_rows
        self.observed_ids[point].append(batch.column("id"))
        self.observed[point] += batch.num_rows

    def written(self, ids: pa.Array | pa.ChunkedArray) -> None:
        """The ids of the next documents written to docs.parquet, in row order."""
        self.written_ids.extend(ids.chunks if isinstance(ids, pa.ChunkedArray) else [ids])

    def close(self) -> None:
        written = pa.chunked_array(self.written_ids, pa.string()).combine_chunks()
        for point, screens in self.screens_at.items():
            observed = pa.chunked_array(self.observed_ids[point], pa.string())
            if pc.count_distinct(observed).as_py() != len(observed):
                raise ValueError("document ids repeat within one input: the global screens cannot tell which documents survived")
            rows = pc.fill_null(pc.index_in(observed, value_set=written).cast(pa.int64()), DROPPED)
            for screen in screens:
                files = self.files[screen.name]
                files.flush()
                pq.write_table(pa.table([rows], schema=pa.schema([ROW_FIELD])), os.path.join(files.folder, DOC_ROWS_FILE))

    @staticmethod
    def read_partition(unit_folder: str, screen: GlobalFlagScreen, partition: int) -> pa.Table | None:
        """One partition of a unit's keys for ``screen``, with each document's ``row`` (-1:
        dropped in the map phase); None when the unit has none."""
        folder = os.path.join(unit_folder, "keys", screen.name)
        doc_rows_path = os.path.join(folder, DOC_ROWS_FILE)
        if os.path.isdir(folder) and not os.path.isfile(doc_rows_path):
            # Unit keys do not change with the code: keys of survivors only would go unread.
            raise RuntimeError(f"{unit_folder} was mapped by an older curate (global screen keys without {DOC_ROWS_FILE}); run again with --fresh")
        paths = PartitionedKeyFiles.paths(folder, partition)
        if not paths:
            return None
        keys = pa.concat_tables([pq.read_table(path, schema=screen.key_schema) for path in paths])
        doc_rows = pq.read_table(doc_rows_path).column("row").to_numpy()
        return keys.append_column(ROW_FIELD, pa.array(doc_rows[keys.column("doc").to_numpy()], pa.int64()))


def minhash_config(config: PipelineConfig):  # -> MinHashDedupConfig | None
    return next((spec.config for spec in config.stages if spec.stage_class is MinHashDedup), None)


class MinHashKeys:
    """A unit's MinHash shuffle files: band keys and node attributes, partitioned by hash."""

    def __init__(self, unit: Unit, partitions: int) -> None:
        self.unit, self.partitions = unit, partitions
        self.bands: list[pa.Table] = []
        self.nodes: list[pa.Table] = []

    def add(self, batch: pa.RecordBatch, first_row: int) -> None:
        """Keys of the documents of ``batch`` (rows ``first_row`` onwards of the unit's docs)."""
        bands = batch.column("minhash_bands")
        has_keys = pc.invert(pc.is_null(bands)).to_numpy(zero_copy_only=False)
        rows = np.flatnonzero(has_keys)
        if not len(rows):
            return
        nodes = minhash_phases.node_ids(self.unit.index, rows + first_row)
        with_keys = batch.filter(pa.array(has_keys))
        keys = pc.list_flatten(with_keys.column("minhash_bands")).to_numpy()
        per_doc = pc.list_value_length(with_keys.column("minhash_bands")).to_numpy()
        self.bands.append(pa.table({"key": keys, "node": np.repeat(nodes, per_doc)}, schema=minhash_phases.BAND_SCHEMA))
        names = with_keys.schema.names
        fetch = with_keys.column("fetch_time").cast(pa.int64()) if "fetch_time" in names else pa.nulls(len(rows), pa.int64())
        self.nodes.append(
            pa.table(
                {
                    "node": nodes,
                    "id": with_keys.column("id"),
                    "length": pc.utf8_length(with_keys.column("text")).cast(pa.int64()),
                    "quality": with_keys.column("quality_score").cast(pa.float64()) if "quality_score" in names else pa.nulls(len(rows), pa.float64()),
                    "fetch": fetch,
                }
            ).rename_columns(minhash_phases.NODE_SCHEMA.names).cast(minhash_phases.NODE_SCHEMA)
        )

    def write(self, unit_folder: str) -> None:
        for kind, tables, partition_of in (
            ("bands", self.bands, lambda t: minhash_phases.key_partition(t.column("key").to_numpy(), self.partitions)),
            ("nodes", self.nodes, lambda t: minhash_phases.node_partition(t.column("node").to_numpy(), self.partitions)),
        ):
            folder = os.path.join(unit_folder, "minhash", kind)
            os.makedirs(folder, exist_ok=True)
            if tables:
                table = pa.concat_tables(tables)
                minhash_phases.write_partitioned(table, partition_of(table), self.partitions, lambda p: os.path.join(folder, minhash_phases.part_name(p)))


def map_unit(config: PipelineConfig, unit: Unit) -> dict[str, Any]:
    """Run the map stages over one input file and publish the unit atomically."""
    started = time.time()
    final_dir = unit_dir(config, unit)
    tmp_dir = os.path.join(work_dir(config), "units", f".tmp-{unit.key}-{uuid.uuid4().hex[:8]}")
    os.makedirs(tmp_dir)
    try:
        record = _map_unit_into(config, unit, tmp_dir)
        record["seconds"] = round(time.time() - started, 3)
        record["node"] = _node_id()
        with open(os.path.join(tmp_dir, "done.json"), "w", encoding="utf-8") as handle:
            json.dump(record, handle, indent=1, sort_keys=True)
        try:
            os.rename(tmp_dir, final_dir)
        except OSError:
            # A retried or duplicate task published the same unit first; its output is identical.
            if not os.path.isfile(os.path.join(final_dir, "done.json")):
                raise
            shutil.rmtree(tmp_dir, ignore_errors=True)
        return record
    except Exception as error:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        return failed_unit_record(unit, f"{type(error).__name__}: {error}", traceback.format_exc())


def _node_id() -> str | None:
    """The Ray node that processed a unit, for the manifest (which machine read which file)."""
    import ray

    return ray.get_runtime_context().get_node_id() if ray.is_initialized() else None


def failed_unit_record(unit: Unit, error: str, detail: str = "") -> dict[str, Any]:
    try:
        size = storage.file_size(unit.path)
    except OSError:
        size = None
    return {
        "unit": unit.key,
        "path": unit.path,
        "size": size,
        "status": "failed",
        "error": error,
        "detail": detail[-4000:],
    }


def _map_unit_into(config: PipelineConfig, unit: Unit, tmp_dir: str) -> dict[str, Any]:
    # Models, dictionaries and automata load once per worker process (cached); only a worker's
    # first unit pays for them, which setup_seconds shows.
    setup_started = time.perf_counter()
    stages = [spec.build() for spec in config.stages]
    setup_seconds = time.perf_counter() - setup_started
    stage_stats = [StageStats(stage.name) for stage in stages]
    schema = output_schema(pipeline_schema([type(s) for s in stages]))
    dedup = _dedup_stage(config)
    minhash = minhash_config(config)
    minhash_keys = MinHashKeys(unit, minhash.partitions) if minhash is not None else None
    flag_keys = FlagKeys(global_flag_screens(config), stages, stage_stats, tmp_dir)
    reader = reader_for(config.input)
    read_result = ReadResult()
    rows = 0
    key_parts: dict[int, list[pa.Table]] = {}

    docs_writer = pq.ParquetWriter(os.path.join(tmp_dir, "docs.parquet"), schema, compression="zstd")
    quarantine = QuarantineWriter(os.path.join(tmp_dir, QUARANTINE_FILE))
    sampler = unit_sampler(config)
    for stage in stages:
        stage.sampler = sampler
    batches = reader.read(unit.path, read_result)
    while True:
        with Timer(read_result.stats):
            batch = next(batches, None)
        if batch is None:
            break
        for index, (stage, stats) in enumerate(zip(stages, stage_stats)):
            if batch.num_rows == 0:
                break
            flag_keys.observe(index, batch)
            batch = stage.apply(batch, stats)
            for table in stage.quarantined:
                quarantine.write(table)
            stage.quarantined.clear()
        if batch.num_rows == 0:
            continue
        if minhash_keys is not None:
            minhash_keys.add(batch, rows)
        out = pa.Table.from_batches([batch]).select(schema.names).cast(schema)
        docs_writer.write_table(out)
        flag_keys.written(out.column("id"))
        if dedup is not None:
            hashes = out.column("exact_hash").combine_chunks()
            keys = pa.table(
                {"exact_hash": hashes, "row": pa.array(range(rows, rows + out.num_rows), pa.int64())}
            )
            partitions = dedup.partition_of(hashes)
            for part in sorted(set(partitions.to_pylist())):
                key_parts.setdefault(part, []).append(keys.filter(pc.equal(partitions, part)))
        rows += out.num_rows
    docs_writer.close()
    quarantine.close()
    sampler.write(os.path.join(tmp_dir, MAP_SAMPLES_FILE), os.path.join(tmp_dir, MAP_DOMAINS_FILE))

    if minhash_keys is not None:
        minhash_keys.write(tmp_dir)
    flag_keys.close()
    if dedup is not None:
        keys_dir = os.path.join(tmp_dir, "keys")
        os.makedirs(keys_dir, exist_ok=True)
        for part, tables in key_parts.items():
            pq.write_table(pa.concat_tables(tables), os.path.join(keys_dir, f"part-{part:05d}.parquet"))

    errors = read_result.errors
    if errors and read_result.records == 0:
        # Not a single record could be read: the file is not a WARC file (or is empty garbage).
        return failed_unit_record(unit, f"unreadable input: {errors[0].error}") | {
            "sha256": storage.sha256(unit.path),
            "errors": [e.to_dict() for e in errors[:MAX_ERRORS_LISTED]],
            "error_count": len(errors),
        }
    return {
        "unit": unit.key,
        "path": unit.path,
        "size": storage.file_size(unit.path),
        "sha256": storage.sha256(unit.path),
        "status": "ok" if not errors else "partial",
        "records": read_result.records,
        "documents_out": rows,
        "error_count": len(errors),
        "errors": [e.to_dict() for e in errors[:MAX_ERRORS_LISTED]],
        "stages": [read_result.stats.to_dict()] + [s.to_dict() for s in stage_stats],
        "setup_seconds": round(setup_seconds, 3),
        "worker_pid": os.getpid(),
    }


def resolve_dedup_partition(config: PipelineConfig, units: list[Unit], partition: int) -> int:
    """Find the exact duplicates of one hash partition; write their (unit, row) list."""
    tables = []
    for unit in units:
        path = os.path.join(unit_dir(config, unit), "keys", f"part-{partition:05d}.parquet")
        if os.path.isfile(path):
            table = pq.read_table(path)
            tables.append(table.append_column("unit", pa.array([unit.index] * table.num_rows, pa.int32())))
    if tables:
        keys = pa.concat_tables(tables).select(["exact_hash", "unit", "row"])
    else:
        keys = pa.table({"exact_hash": pa.array([], pa.string()), "unit": pa.array([], pa.int32()), "row": pa.array([], pa.int64())})
    drops = ExactDedup.resolve(keys)
    dedup_dir = os.path.join(work_dir(config), "dedup")
    os.makedirs(dedup_dir, exist_ok=True)
    final = os.path.join(dedup_dir, f"part-{partition:05d}.parquet")
    tmp = f"{final}.tmp-{uuid.uuid4().hex[:8]}"
    pq.write_table(drops, tmp)
    os.replace(tmp, final)
    return drops.num_rows


def write_unit(config: PipelineConfig, unit: Unit, partitions: int, minhash_work: str | None = None) -> dict[str, Any]:
    """Write one unit's surviving documents as final shards; return shard infos and counts.

    Exact duplicates (``partitions`` partitions of drops) and, with ``minhash_work``, MinHash
    decisions are applied here: removed near-duplicates are left out and kept cluster members
    get their cluster columns. The documents dropped here and the kept ones are offered to the
    unit's sampler (``write_samples.parquet`` in the unit folder)."""
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    docs = pq.ParquetFile(os.path.join(unit_dir(config, unit), "docs.parquet"))
    dropped_rows: list[int] = []
    dedup_dir = os.path.join(work_dir(config), "dedup")
    for partition in range(partitions):
        table = _rows_of_unit(os.path.join(dedup_dir, f"part-{partition:05d}.parquet"), unit)
        if table is not None:
            dropped_rows.extend(table.column("row").to_pylist())
    exact_dropped = len(dropped_rows)
    decisions = _minhash_decisions(minhash_work, unit)
    near_dropped = decisions.filter(decisions.column("drop"))
    dropped_rows.extend(near_dropped.column("row").to_pylist())
    dropped = pa.array(sorted(dropped_rows), pa.int64())
    clustered = decisions.filter(pc.invert(decisions.column("drop")))
    cluster_rows = clustered.column("row").to_numpy()
    order = np.argsort(cluster_rows)
    cluster_rows = cluster_rows[order]
    cluster_ids = clustered.column("cluster_id").take(pa.array(order))
    cluster_sizes = clustered.column("cluster_size").to_numpy()[order]
    sampler = unit_sampler(config)
    exact_rows = np.array(sorted(dropped_rows[:exact_dropped]), dtype=np.int64)
    near_rows = near_dropped.column("row").to_numpy()
    kept_id_of = dict(zip(near_rows.tolist(), near_dropped.column("kept_id").to_pylist()))
    screen_flags = {screen.name: (screen.rule, _flags_of(config, screen.name, unit)) for screen in global_flag_screens(config)}
    flagged_counts = {name: 0 for name in screen_flags}

    def kept_batches():
        # Streams the unit batch by batch: memory stays bounded however large the input was.
        start = 0
        for batch in docs.iter_batches(batch_size=config.input.batch_size):
            rows = np.arange(start, start + batch.num_rows)
            start += batch.num_rows
            if len(cluster_rows):
                batch = _with_clusters(batch, rows, cluster_rows, cluster_ids, cluster_sizes)
            for name, (rule, flagged) in screen_flags.items():
                flagged_rows = flagged.column("row").to_numpy()
                if len(flagged_rows):
                    batch = with_flags(batch, rows, flagged_rows, flagged.column("evidence").to_pylist(), rule)
                    # Counted among the documents written, not the duplicates left out.
                    written = ~np.isin(rows, dropped.to_numpy()) if len(dropped) else np.ones(len(rows), dtype=bool)
                    flagged_counts[name] += int(np.isin(rows[written], flagged_rows).sum())
            _offer_written(sampler, batch, rows, exact_rows, near_rows, kept_id_of)
            yield batch.filter(pc.invert(pc.is_in(pa.array(rows), dropped))) if len(dropped) else batch

    writer = ParquetShardWriter(
        config.local_output,
        docs.schema_arrow,
        max_rows=config.output.shard_max_rows,
        max_bytes=config.output.shard_max_bytes,
        compression_level=config.output.compression_level,
    )
    shards = writer.write(kept_batches(), unit.prefix)
    sampler.write(os.path.join(unit_dir(config, unit), WRITE_SAMPLES_FILE), os.path.join(unit_dir(config, unit), WRITE_DOMAINS_FILE))
    return {
        "unit": unit.key,
        "quarantine": publish_quarantine(config, unit),
        "rows_in": docs.metadata.num_rows,
        "dedup_dropped": exact_dropped,
        "minhash_dropped": len(near_dropped),
        "screen_flagged": flagged_counts,
        "shards": [s.to_dict() for s in shards],
        "wall_seconds": time.perf_counter() - started_wall,
        "cpu_seconds": time.process_time() - started_cpu,
    }


MAP_SAMPLES_FILE = "samples.parquet"
WRITE_SAMPLES_FILE = "write_samples.parquet"
MAP_DOMAINS_FILE = "domains.parquet"
WRITE_DOMAINS_FILE = "write_domains.parquet"
SAMPLE_CANDIDATES = 4
"""Candidates kept per reason, as a multiple of output.samples_per_reason: room for other seeds."""


def unit_sampler(config: PipelineConfig) -> Sampler:
    return Sampler(SAMPLE_CANDIDATES * config.output.samples_per_reason, config.output.sample_seed)


def _unit_tables(config: PipelineConfig, units: list[Unit], names: tuple[str, ...], schema: pa.Schema) -> list[pa.Table]:
    paths = [os.path.join(unit_dir(config, unit), name) for unit in units for name in names]
    return [pq.read_table(path, schema=schema) for path in paths if os.path.isfile(path)]


def publish_samples(config: PipelineConfig, units: list[Unit]) -> dict[str, Any] | None:
    """Merge every unit's samples into OUT/samples/samples.parquet; its record for the manifest."""
    tables = _unit_tables(config, units, (MAP_SAMPLES_FILE, WRITE_SAMPLES_FILE), SAMPLE_SCHEMA)
    merged = merge_samples(tables, SAMPLE_CANDIDATES * config.output.samples_per_reason)
    if not merged.num_rows:
        return None
    relative = os.path.join("samples", "samples.parquet")
    target = os.path.join(config.local_output, relative)
    minhash_phases.write_parquet_atomically(merged, target)
    return {"path": relative, "rows": merged.num_rows, "bytes": os.path.getsize(target), "sha256": storage.sha256(target)}


def merged_top_domains(config: PipelineConfig, units: list[Unit]) -> dict[str, list[list]]:
    """Domains with the most kept and dropped documents over the run (every document counted)."""
    return top_domains(_unit_tables(config, units, (MAP_DOMAINS_FILE, WRITE_DOMAINS_FILE), DOMAIN_SCHEMA))


QUARANTINE_FILE = "quarantine.parquet"
QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("url", pa.string()),
        pa.field("domain", pa.string()),
        pa.field("source", pa.string()),
        pa.field("source_offset", pa.int64()),
        pa.field("fetch_time", pa.timestamp("s", tz="UTC")),
        pa.field("reason", pa.string()),
        pa.field("screen_flags", pa.list_(pa.string())),
        pa.field("screen_evidence", pa.list_(pa.struct([pa.field("rule", pa.string()), pa.field("evidence", pa.string())]))),
        pa.field("text", pa.string()),
    ]
)


class QuarantineWriter:
    """Documents a screen dropped, with their flags and evidence, in one Parquet file per unit
    (created on the first one)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.writer: pq.ParquetWriter | None = None
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        columns = {name: table.column(name) if name in table.schema.names else pa.nulls(table.num_rows, field.type) for name, field in zip(QUARANTINE_SCHEMA.names, QUARANTINE_SCHEMA)}
        out = pa.table(columns).cast(QUARANTINE_SCHEMA)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, QUARANTINE_SCHEMA, compression="zstd")
        self.writer.write_table(out)
        self.rows += out.num_rows

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def publish_quarantine(config: PipelineConfig, unit: Unit) -> dict[str, Any] | None:
    """Copy a unit's quarantined documents to OUT/quarantine/; their file record for the manifest."""
    source = os.path.join(unit_dir(config, unit), QUARANTINE_FILE)
    if not os.path.isfile(source):
        return None
    relative = os.path.join("quarantine", f"{unit.prefix}.parquet")
    target = os.path.join(config.local_output, relative)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    tmp = f"{target}.tmp-{uuid.uuid4().hex[:8]}"
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)
    return {"path": relative, "rows": pq.ParquetFile(target).metadata.num_rows, "bytes": os.path.getsize(target), "sha256": storage.sha256(target)}


def _rows_of_unit(path: str, unit: Unit, schema: pa.Schema | None = None) -> pa.Table | None:
    """The rows of ``unit`` in a (unit, row, ...) file, or None. Most such files are small or
    empty: the footer is read first, so an empty one costs no filtered scan."""
    if not os.path.isfile(path) or pq.ParquetFile(path).metadata.num_rows == 0:
        return None
    return pq.read_table(path, filters=[("unit", "=", unit.index)], schema=schema)


def _flags_of(config: PipelineConfig, name: str, unit: Unit) -> pa.Table:
    """This unit's rows flagged by a global screen, sorted by row, each row once (a document
    can be flagged from several partitions)."""
    paths = sorted(glob.glob(os.path.join(flags_dir(config, name), "part-*.parquet")))
    tables = [t for t in (_rows_of_unit(path, unit, FLAG_SCHEMA) for path in paths) if t is not None]
    table = (pa.concat_tables(tables) if tables else FLAG_SCHEMA.empty_table()).sort_by("row")
    rows = table.column("row").to_numpy()
    first = np.concatenate(([True], rows[1:] != rows[:-1])) if len(rows) else np.zeros(0, dtype=bool)
    return table.filter(pa.array(first))


def _minhash_decisions(minhash_work: str | None, unit: Unit) -> pa.Table:
    folder = os.path.dirname(minhash_phases.unit_decisions_path(minhash_work, unit.index, 0)) if minhash_work else None
    paths = sorted(glob.glob(os.path.join(folder, "part-*.parquet"))) if folder else []
    tables = [pq.read_table(path, schema=minhash_phases.DECISION_SCHEMA) for path in paths]
    return pa.concat_tables(tables) if tables else minhash_phases.DECISION_SCHEMA.empty_table()


def _with_clusters(batch: pa.RecordBatch, rows: np.ndarray, cluster_rows: np.ndarray, cluster_ids: pa.ChunkedArray, cluster_sizes: np.ndarray) -> pa.RecordBatch:
    """``batch`` with the cluster id and size of its rows that head or belong to a kept cluster."""
    position, hit = find_sorted(cluster_rows, rows)
    if not hit.any():
        return batch
    ids = batch.column("dup_cluster_id").to_pylist()
    sizes = batch.column("dup_cluster_size").to_numpy(zero_copy_only=False).copy()
    found = cluster_ids.take(pa.array(position[hit])).to_pylist()
    for index, cluster_id in zip(np.flatnonzero(hit).tolist(), found):
        ids[index] = cluster_id
    sizes[hit] = cluster_sizes[position[hit]]
    batch = batch.set_column(batch.schema.get_field_index("dup_cluster_id"), batch.schema.field("dup_cluster_id"), pa.array(ids, pa.string()))
    return batch.set_column(batch.schema.get_field_index("dup_cluster_size"), batch.schema.field("dup_cluster_size"), pa.array(sizes, pa.int32()))


def _offer_written(sampler: Sampler, batch: pa.RecordBatch, rows: np.ndarray, exact_rows: np.ndarray, near_rows: np.ndarray, kept_id_of: dict[int, str]) -> None:
    """Offer a written batch's documents to the sampler: exact and near duplicates left out
    (with the id of the near-duplicate kept instead), and the documents kept."""
    exact = np.isin(rows, exact_rows)
    near = np.isin(rows, near_rows) & ~exact
    columns = [c for c in ("id", "url", "domain", "source", "text") if c in batch.schema.names]
    for reason, stage, mask in (("dedup.exact", "exact_dedup", exact), ("dedup.minhash", "minhash_dedup", near), (KEPT, "write", ~(exact | near))):
        if mask.any():
            chosen = pa.Table.from_batches([batch.filter(pa.array(mask))])
            found = chosen.select(columns).to_pylist()
            for row, signals in zip(found, signals_of(chosen)):
                row["signals"] = signals
            if reason == "dedup.minhash":
                for row, number in zip(found, rows[mask].tolist()):
                    row["kept_id"] = kept_id_of.get(number)
            sampler.offer(stage, reason, found)