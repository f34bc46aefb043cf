"""MinHash near-duplicate removal: recall and precision by true Jaccard, speed per phase, memory,
against datatrove's MinHash dedup on the same documents in the same run.

Quality and speed (default): originals are People's Daily 1998 articles
(../shared/data/zh_text), copies are edited with tests/near_duplicates.py
(insertions, deletions, substitutions, paragraph shuffles, boilerplate,
Traditional script) at several strengths; the true Jaccard of each copy is
measured on our shingle sets. Both tools run on one core: ours in this process
(map signatures, then the LSH, components and keeper phases as plain calls),
datatrove's four stages with one task in its own virtual environment
(benchmarks/dedup_datatrove.py, character 5-grams, 14 bands × 8 rows as ours).
A copy counts as found when it or its original is removed; a removal is
correct when the removed document has a copy or original in the set.

    python benchmarks/dedup.py [--originals 3000] [--datatrove-venv PATH | --datatrove PYTHON | --skip-datatrove]

Scale (--scale N): N documents of People's Daily paragraphs, 500-3,000 characters, 8 % of
them near copies of an earlier one (``generated_document``), generated inside the map tasks
from (seed, index) alone, 50,000 per input; the map tasks and every phase of the stage's
global side run as Ray tasks on ``--workers`` CPUs. Wall time per phase, the peak resident
memory of every task (its worker's, reset as the task starts) and of the driver, bytes the
shuffles wrote, the stage's counts, and recall and precision on the planted copies; the
result goes to results/dedup_scale_<N>.json (1m, 3m, 10m ...).

    python benchmarks/dedup.py --scale 1000000 [--distributed] [--workers 2] [--partitions P]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from bench_results import write_result  # a sibling module: benchmarks run as scripts
from datatrove_venv import ensure_venv

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the real-data loaders and the near-duplicate builder

BUCKETS = ((0.0, 0.5), (0.5, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.01))


def key_writers(folder: str, partitions: int) -> tuple[Any, dict]:
    """The stage and one streaming writer per kind of key rows (band keys, node attributes)."""
    from curate.global_stage import key_folder
    from curate.shuffle import PartitionedWriter
    from stages.minhash import MinHashDedup, MinHashDedupConfig

    stage = MinHashDedup(MinHashDedupConfig(partitions=partitions))
    writers = {
        kind: PartitionedWriter(key_folder(folder, stage.name, kind), schema, stage.partitions)
        for kind, schema in stage.key_schemas().items()
    }
    return stage, writers


def emit_keys(stage: Any, writers: dict, ids: list[str], texts: list[str], first_row: int, unit_index: int) -> None:
    """One batch's key rows (``MinHashDedup.annotate`` then ``emit``) to the writers."""
    batch = pa.RecordBatch.from_pydict({"id": ids, "text": texts})
    columns, _ = stage.annotate(batch)
    batch = batch.append_column("minhash_bands", columns["minhash_bands"])
    for kind, (rows, partition_of_row) in stage.emit(batch, first_row, unit_index).items():
        writers[kind].add(rows, partition_of_row)


def map_unit_keys(
    unit_index: int, folder: str, ids: list[str], texts: list[str], partitions: int, batch_size: int = 2000
) -> dict:
    """The map side of one input: the stage's key rows (``MinHashDedup.emit``: band keys and node
    attributes) streamed to partition files as a pipeline unit's map task leaves them
    (``<folder>/keys/minhash_dedup/<kind>/part-PPPPP-CCCC.parquet``)."""
    stage, writers = key_writers(folder, partitions)
    started = time.process_time()
    for start in range(0, len(texts), batch_size):
        chunk = slice(start, start + batch_size)
        emit_keys(stage, writers, ids[chunk], texts[chunk], start, unit_index)
    for writer in writers.values():
        writer.flush()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"cpu_seconds": time.process_time() - started, "max_rss_mb": peak_mb}


def minhash_job(settings: Any, unit_dirs: list[str], work: str) -> Any:
    """The global side's job over the mapped inputs: unit ``i`` is ``unit_dirs[i]`` (the index its
    map side numbered its nodes with); the phases work, and write decisions, in ``work``."""
    from curate.config import StageSpec
    from curate.global_stage import GlobalJob
    from curate.workdir import Unit
    from stages.minhash import MinHashDedup

    units = tuple(Unit(i, folder, os.path.basename(folder)) for i, folder in enumerate(unit_dirs))
    return GlobalJob(StageSpec(MinHashDedup.name, settings, MinHashDedup), units, dict(enumerate(unit_dirs)), work)


# Which reported phase each of ``MinHashDedup.resolve``'s phases ("minhash <name>") counts under.
PHASE_GROUPS = {
    "lsh": "lsh",
    "pairs": "lsh",
    "verify": "verify",
    "adjacency": "components",
    "components": "components",
    "members": "keepers",
    "keepers": "keepers",
}


def run_phases_here(work: str, unit_dirs: list[str], partitions: int) -> dict[str, float]:
    """LSH, components and keepers (``MinHashDedup.resolve``) with every task a plain call in this
    process (one core); wall seconds per phase."""
    from stages.minhash import MinHashDedupConfig

    seconds: dict[str, float] = {}

    def run(phase: str, function: Callable, jobs: list[tuple[Any, tuple]]) -> dict[Any, Any]:
        started = time.perf_counter()
        results = {label: function(*arguments) for label, arguments in jobs}
        group = PHASE_GROUPS[phase.split()[1]]
        seconds[group] = seconds.get(group, 0.0) + time.perf_counter() - started
        return results

    job = minhash_job(MinHashDedupConfig(partitions=partitions), unit_dirs, work)
    job.build().resolve(job, run)
    return seconds


def signatures_against_datasketch(texts: list[str]) -> dict:
    """Signature cost per document, ours (normalise, shingle, batch signatures) against
    datasketch's ``MinHash.update`` loop over the same shingles, 112 permutations each."""
    import datasketch

    from stages.minhash import MinHashDedup, MinHashDedupConfig
    from stages.minhash.signatures import normalise

    stage = MinHashDedup(MinHashDedupConfig())
    stage.hasher.signatures([stage.shingles(texts[0])])  # per-process set-up (OpenCC, numpy) is not per document
    started = time.process_time()
    stage.hasher.signatures([stage.shingles(t) for t in texts])
    ours = time.process_time() - started
    started = time.process_time()
    for text in texts:
        normalised = normalise(text)
        sketch = datasketch.MinHash(num_perm=112, seed=1)
        for i in range(max(1, len(normalised) - 4)):
            sketch.update(normalised[i : i + 5].encode("utf-8"))
    theirs = time.process_time() - started
    return {
        "documents": len(texts),
        "mean_chars": round(float(np.mean([len(t) for t in texts]))),
        "curate_ms_per_doc": round(1000 * ours / len(texts), 3),
        "datasketch_update_loop_ms_per_doc": round(1000 * theirs / len(texts), 3),
        "speedup": round(theirs / ours, 1),
    }


def removed_rows(work: str, unit: int = 0) -> set[int]:
    """The rows of one input that the stage's decisions (in ``work``) remove."""
    from curate.global_stage import read_decisions
    from stages.minhash import MinHashDedup

    decisions = read_decisions(work, unit, MinHashDedup.decision_schema())
    return set(decisions.filter(decisions.column("drop")).column("row").to_pylist())


def scores(
    removed: set[str], copies: list, truth: list[float], ids_of_family: dict[str, int], family_sizes: dict[int, int]
) -> dict:
    """Recall per true-Jaccard bucket, and precision of the removals."""
    by_bucket = {}
    for low, high in BUCKETS:
        members = [k for k, j in enumerate(truth) if low <= j < high]
        found = [k for k in members if f"c{k}" in removed or f"o{copies[k].original}" in removed]
        by_bucket[f"{low:.1f}-{min(high, 1.0):.1f}"] = {
            "pairs": len(members),
            "recall": round(len(found) / len(members), 4) if members else None,
        }
    correct = sum(1 for doc in removed if family_sizes[ids_of_family[doc]] > 1)
    return {
        "removed": len(removed),
        "precision": round(correct / len(removed), 4) if removed else None,
        "recall_by_true_jaccard": by_bucket,
    }


def quality_and_speed(args: argparse.Namespace) -> dict:
    from conftest import peoples_daily_documents
    from near_duplicates import near_duplicate_set

    from stages.minhash import MinHashDedup, MinHashDedupConfig, exact_jaccard

    originals = peoples_daily_documents(args.originals, paragraphs=3)
    copies = near_duplicate_set(originals[: len(originals) // 2], 1, seed=7)
    stage = MinHashDedup(MinHashDedupConfig())
    truth = [exact_jaccard(stage.shingles(originals[c.original]), stage.shingles(c.text)) for c in copies]
    ids = [f"o{i}" for i in range(len(originals))] + [f"c{k}" for k in range(len(copies))]
    texts = originals + [c.text for c in copies]
    family = {f"o{i}": i for i in range(len(originals))} | {f"c{k}": c.original for k, c in enumerate(copies)}
    family_sizes = {i: 1 for i in range(len(originals))}
    for c in copies:
        family_sizes[c.original] += 1

    result: dict = {
        "documents": len(texts),
        "originals": len(originals),
        "copies": len(copies),
        "mean_chars": round(float(np.mean([len(t) for t in texts]))),
    }
    # Longer pages for the signature comparison: eight paragraphs, ~800 characters.
    result["signatures_vs_datasketch"] = signatures_against_datasketch(peoples_daily_documents(300, paragraphs=8))
    with tempfile.TemporaryDirectory() as tmp:
        # Both tools read the same JSON lines in a fresh process of their own, so each one's
        # time and peak memory are its own.
        jsonl = os.path.join(tmp, "docs.jsonl")
        with open(jsonl, "w", encoding="utf-8") as handle:
            for doc_id, text in zip(ids, texts):
                handle.write(json.dumps({"id": doc_id, "text": text}, ensure_ascii=False) + "\n")
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            ours = pool.submit(curate_on_jsonl, jsonl, tmp, args.partitions or 16).result()
        result["curate"] = {
            "seconds": {k: round(v, 3) for k, v in ours["seconds"].items()},
            "docs_per_second_one_core": {k: round(len(texts) / v) for k, v in ours["seconds"].items() if v > 0},
            "peak_rss_mb": ours["peak_rss_mb"],
        } | scores(set(ours["removed_ids"]), copies, truth, family, family_sizes)

        if args.skip_datatrove:
            result["datatrove"] = "not run: --skip-datatrove"
        else:
            datatrove_python = args.datatrove or ensure_venv(args.datatrove_venv)
            # GNU time reports the peak memory of datatrove's process alone (this process's own
            # children would count the memory they shared with it before exec).
            completed = subprocess.run(
                [
                    "/usr/bin/time",
                    "-f",
                    "max_rss_kb=%M",
                    datatrove_python,
                    str(REPO / "benchmarks" / "dedup_datatrove.py"),
                    "--input",
                    jsonl,
                    "--work",
                    os.path.join(tmp, "dt"),
                    "--tasks",
                    "1",
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            peer = json.loads(completed.stdout)
            peer_rss_kb = int(completed.stderr.rsplit("max_rss_kb=", 1)[1].split()[0])
            result["datatrove"] = {
                "version": peer["datatrove_version"],
                "tokenization": peer["tokenization"],
                "seconds": peer["seconds"],
                "docs_per_second_one_core": {"end_to_end": round(len(texts) / peer["seconds"]["total"])},
                "peak_rss_mb": round(peer_rss_kb / 1024),
            } | scores(set(peer["removed_ids"]), copies, truth, family, family_sizes)
            result["speedup_end_to_end"] = round(peer["seconds"]["total"] / ours["seconds"]["end_to_end"], 2)
    return result


def curate_on_jsonl(jsonl: str, tmp: str, partitions: int) -> dict:
    """Our dedup of a JSON-lines file on one core, in a process of its own: wall seconds per
    phase (reading included in signatures), the ids removed, and this process's peak memory."""
    started = time.perf_counter()
    ids, texts = [], []
    with open(jsonl, encoding="utf-8") as handle:
        for line in handle:
            doc = json.loads(line)
            ids.append(doc["id"])
            texts.append(doc["text"])
    unit, work = os.path.join(tmp, "unit"), os.path.join(tmp, "work")
    map_unit_keys(0, unit, ids, texts, partitions)
    seconds = {"signatures": time.perf_counter() - started} | run_phases_here(work, [unit], partitions)
    seconds["end_to_end"] = time.perf_counter() - started
    return {
        "seconds": seconds,
        "removed_ids": [ids[row] for row in removed_rows(work)],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


# --- Scale: documents generated inside the map tasks; map and phases as Ray tasks ---------------

SCALE_SEED = 3
DOCS_PER_UNIT = 50_000
COPY_SHARE = 0.08
LENGTH_RANGE = (500, 3000)
PIECE_CHARS = 200
BATCH_ROWS = 256  # the readers' default batch_size: what a pipeline map task annotates at a time
# A planted copy's edit (tests/near_duplicates.py ``edited``), one kind per copy, drawn uniformly;
# strengths at which the true Jaccard stays above ~0.8 (measured on unit 0's copies, in the result).
COPY_EDITS = (
    ("substitute", 0.005),  # 0.5 % of the Han characters replaced
    ("insert", 0.02),  # one sentence inserted (2 % of the sentences, at least one)
    ("delete", 0.02),  # one sentence removed
    ("shuffle", 0.0),  # paragraphs reordered
    ("boilerplate", 0.2),  # two boilerplate lines around the text
    ("traditional", 1.0),  # converted to Traditional script
)


def tests_on_path() -> None:
    """Ray workers start without the benchmark's ``sys.path`` additions."""
    if str(REPO / "tests") not in sys.path:
        sys.path.insert(0, str(REPO / "tests"))


_PIECES: dict[str, tuple[str, ...]] = {}  # not functools.lru_cache: Ray pickles this module's functions by value


def paragraph_pieces() -> tuple[str, ...]:
    """The building blocks of generated documents (loaded once per process): People's Daily
    paragraphs, those longer than ``PIECE_CHARS`` (11 %) cut between sentences into pieces of at
    most that, and the rare longer sentence cut every ``PIECE_CHARS`` characters. At 10 M
    documents every piece recurs ~10,000 times; a long one would make the short documents
    that share it accidental near-duplicates (Jaccard 0.4-0.7, as found at 300,000 documents
    before the sentences were cut)."""
    if "pieces" in _PIECES:
        return _PIECES["pieces"]
    tests_on_path()
    from conftest import _peoples_daily_paragraphs
    from near_duplicates import _sentences

    pieces = []
    for paragraph in _peoples_daily_paragraphs():
        current = ""
        for sentence in _sentences(paragraph):
            if current and len(current) + len(sentence) > PIECE_CHARS:
                pieces.append(current)
                current = ""
            current += sentence
            while len(current) > PIECE_CHARS:
                pieces.append(current[:PIECE_CHARS])
                current = current[PIECE_CHARS:]
        if current:
            pieces.append(current)
    _PIECES["pieces"] = tuple(pieces)
    return _PIECES["pieces"]


def _document_rng(seed: int, index: int) -> random.Random:
    return random.Random((seed << 40) | index)


def is_planted_copy(seed: int, index: int) -> bool:
    """Whether document ``index`` is a near copy: the first draw of its own generator."""
    return index > 0 and _document_rng(seed, index).random() < COPY_SHARE


def _original_text(rng: random.Random, pieces: tuple[str, ...]) -> str:
    low, high = LENGTH_RANGE
    target, parts, length = rng.randint(low, high), [], 0
    while length < target:
        parts.append(pieces[rng.randrange(len(pieces))])
        length += len(parts[-1]) + 1
    return "\n".join(parts)[:high]


def generated_document(seed: int, index: int) -> tuple[str, int, int]:
    """Document ``index`` of the scale corpus, from (seed, index) alone: its text, the document it
    is a near copy of (-1 for an original) and the copy's edit (index into ``COPY_EDITS``, -1).

    An original is a target length drawn uniformly from ``LENGTH_RANGE``, then random paragraph
    pieces (newline-separated) until it is reached, cut at the upper bound: lengths are
    near-uniform on 500-3,000 characters (the overshoot adds ~50). ``COPY_SHARE`` of the
    documents are instead an edited copy of an earlier original (an earlier index drawn
    until it is not itself a copy, so copies never chain), regenerated from its index."""
    pieces = paragraph_pieces()
    rng = _document_rng(seed, index)
    if index == 0 or rng.random() >= COPY_SHARE:
        return _original_text(rng, pieces), -1, -1
    draws = (rng.randrange(index) for _ in range(32))
    original = next((j for j in draws if not is_planted_copy(seed, j)), 0)
    original_rng = _document_rng(seed, original)
    original_rng.random()  # the copy-or-not draw
    edit = rng.randrange(len(COPY_EDITS))
    kind, strength = COPY_EDITS[edit]
    donor = "\n".join(pieces[rng.randrange(len(pieces))] for _ in range(4))  # sentences to insert
    return edited(_original_text(original_rng, pieces), kind, strength, rng, donor), original, edit


def edited(text: str, kind: str, strength: float, rng: random.Random, donor: str) -> str:
    tests_on_path()
    from near_duplicates import edited as near_duplicate_edit

    return near_duplicate_edit(text, kind, strength, rng, donor)


def reset_peak_rss() -> bool:
    """Set this process's peak resident memory (``VmHWM``) back to its current size (Linux >= 4.0),
    so that the peak read after a task is the task's own, in a worker Ray reuses."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


def _status_mb(field: str) -> float | None:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return None


def peak_rss_mb() -> float:
    """``VmHWM``: peak resident memory since the process started or ``reset_peak_rss``."""
    peak = _status_mb("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measured(function: Callable, args: tuple) -> dict:
    """Run one phase task; its result with its wall seconds and the worker's peak memory during it."""
    reset = reset_peak_rss()
    rss_before, started = _status_mb("VmRSS") or 0.0, time.perf_counter()
    result = function(*args)
    return {
        "result": result,
        "seconds": time.perf_counter() - started,
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": rss_before,
        "peak_is_task_own": reset,
        "pid": os.getpid(),
    }


def map_generated_unit(
    unit_index: int, folder: str, first: int, count: int, partitions: int, seed: int, jaccard_sample: int
) -> dict:
    """One input's map task: documents ``first .. first+count-1`` generated here, their key rows
    written as ``map_unit_keys`` writes them; the planted copies' (copy, original, edit), a length
    histogram, CPU seconds of generation and of signatures+keys, and the task's peak memory.
    With ``jaccard_sample``, the true Jaccard of up to that many of its copies to their originals."""
    reset = reset_peak_rss()
    rss_before = _status_mb("VmRSS") or 0.0
    started, wall_started, generating = time.process_time(), time.perf_counter(), 0.0
    stage, writers = key_writers(folder, partitions)
    planted: list[tuple[int, int, int]] = []
    lengths = np.zeros(LENGTH_RANGE[1] + 400, dtype=np.int64)
    for start in range(0, count, BATCH_ROWS):
        before = time.process_time()
        indices = range(first + start, first + min(count, start + BATCH_ROWS))
        documents = [generated_document(seed, i) for i in indices]
        generating += time.process_time() - before
        texts = [text for text, _, _ in documents]
        planted += [(i, original, edit) for i, (_, original, edit) in zip(indices, documents) if original >= 0]
        np.add.at(lengths, np.minimum([len(t) for t in texts], len(lengths) - 1), 1)
        emit_keys(stage, writers, [str(i) for i in indices], texts, start, unit_index)
    for writer in writers.values():
        writer.flush()
    cpu, wall = time.process_time() - started, time.perf_counter() - wall_started
    table = np.array(planted, dtype=np.int64).reshape(-1, 3)
    jaccards = [copy_jaccard(stage, seed, int(i), int(j)) for i, j, _ in table[:jaccard_sample]]
    return {
        "cpu_seconds": cpu,
        "wall_seconds": wall,
        "generate_cpu_seconds": generating,
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": rss_before,
        "peak_is_task_own": reset,
        "pid": os.getpid(),
        "planted": table,
        "lengths": lengths,
        "jaccards": np.array(jaccards),
    }


def copy_jaccard(stage: Any, seed: int, copy: int, original: int) -> float:
    from stages.minhash import exact_jaccard

    texts = generated_document(seed, copy)[0], generated_document(seed, original)[0]
    return exact_jaccard(stage.shingles(texts[0]), stage.shingles(texts[1]))


def scale_partitions(documents: int) -> int:
    """Partitions of every shuffle for a scale run: 16, or one per 250,000 documents (3.5 M band
    keys) when that is more, so that a phase task's share stays bounded as documents grow."""
    return max(16, -(-documents // 250_000))


PHASE_FIELDS = ("seconds", "task_seconds_max", "peak_rss_mb", "peak_rise_mb")


class PhaseMeter:
    """``resolve``'s phase runner: runs every phase on an executor, each task wrapped by
    ``measured``; per phase, wall seconds, tasks, and the largest task peak memory (the worker's,
    which holds what its earlier tasks left) and rise above the worker's memory as the task
    started (the iterations of label propagation, ``components N``, count as one phase)."""

    def __init__(self, executor: Any) -> None:
        self.executor = executor
        self.phases: dict[str, dict] = {}
        self.pids: set[int] = set()

    def run(self, phase: str, function: Callable, jobs: list[tuple[Any, tuple]]) -> dict[Any, Any]:
        started = time.perf_counter()
        records = self.executor.run(phase, measured, [(label, (function, args)) for label, args in jobs])
        name = phase.removeprefix("minhash ").split()[0]
        entry = self.phases.setdefault(name, dict.fromkeys(PHASE_FIELDS, 0.0) | {"rounds": 0, "tasks": 0})
        entry["seconds"] += time.perf_counter() - started
        entry["rounds"] += 1
        entry["tasks"] += len(records)
        for record in records.values():
            entry["task_seconds_max"] = max(entry["task_seconds_max"], record["seconds"])
            entry["peak_rss_mb"] = max(entry["peak_rss_mb"], record["peak_rss_mb"])
            entry["peak_rise_mb"] = max(entry["peak_rise_mb"], record["peak_rss_mb"] - record["rss_before_mb"])
            entry["peak_is_task_own"] = entry.get("peak_is_task_own", True) and record["peak_is_task_own"]
            self.pids.add(record["pid"])
        return {label: record["result"] for label, record in records.items()}

    def report(self) -> dict[str, dict]:
        return {
            name: {k: round(v, 1) if isinstance(v, float) else v for k, v in entry.items()}
            for name, entry in self.phases.items()
        }


def folder_bytes(root: str | Path) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(root) for f in files)


def spill_bytes(out: Path) -> dict[str, int]:
    """Bytes on disk that the shuffles wrote, by folder: the map side's key files (band keys,
    node attributes) over all units, then each folder of the stage's work folder (bucket-edges,
    edges, labels, cc, members, keepers' records, decisions). Nothing is deleted between phases,
    so this is also the peak disk use."""
    from stages.minhash import MinHashDedup

    written = {
        f"keys/{kind}": sum(
            folder_bytes(unit / "keys" / MinHashDedup.name / kind) for unit in (out / "units").iterdir()
        )
        for kind in ("bands", "nodes")
    }
    for entry in sorted((out / "work").iterdir()):
        written[entry.name] = folder_bytes(entry) if entry.is_dir() else entry.stat().st_size
    written["total"] = sum(written.values())
    return written


def object_store_spill() -> dict | None:
    """Ray's object-store spilling, from the raylet's ``debug_state.txt`` (rewritten every 10 s;
    Ray's ``memory_summary`` needs grpc, which this install lacks): cumulative spill requests and
    bytes spilled at the end. None when the file cannot be read."""
    import ray

    time.sleep(11)  # let the raylet write its state once more after the last phase
    try:
        session = ray._private.worker._global_node.get_session_dir_path()
        with open(os.path.join(session, "logs", "debug_state.txt"), encoding="utf-8") as handle:
            lines = [line.strip() for line in handle]
    except (AttributeError, OSError):
        return None
    wanted = {"cumulative spill requests": "spill_requests", "num bytes currently spilled": "bytes_spilled_at_end"}
    found = {}
    for line in lines:
        name, _, value = line.lstrip("- ").partition(": ")
        if name in wanted and value.strip().isdigit():
            found[wanted[name]] = int(value)
    return found or None


def _decided(work: str, units: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(document, cluster, dropped) of every document the stage decided on (the cluster members),
    sorted by document; a cluster is named by its kept document's index."""
    from curate.global_stage import read_decisions
    from stages.minhash import MinHashDedup

    parts = []
    for unit in range(units):
        table = read_decisions(work, unit, MinHashDedup.decision_schema())
        parts.append(
            (
                unit * DOCS_PER_UNIT + table.column("row").to_numpy(),
                pc.cast(table.column("dup_cluster_id"), pa.int64()).to_numpy(),
                table.column("drop").to_numpy(zero_copy_only=False),
            )
        )
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))  # type: ignore[return-value]


def _lookup(keys: np.ndarray, values: np.ndarray, wanted: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """``values`` at ``wanted`` in the sorted ``keys``; ``missing`` where absent."""
    if not len(keys):
        return missing
    position = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return np.where(keys[position] == wanted, values[position], missing)


def planted_copy_scores(work: str, units: int, planted: np.ndarray) -> dict:
    """Recall: planted copies that ended in their original's cluster. Precision: removed documents
    whose kept document is of the same planted family (an original and its copies)."""
    documents, clusters, dropped = _decided(work, units)
    copies, originals, edits = planted[:, 0], planted[:, 1], planted[:, 2]
    found = _lookup(documents, clusters, copies, -1 - copies) == _lookup(documents, clusters, originals, -2 - copies)
    heads = np.unique(originals)
    family_keys = np.concatenate([copies, heads])
    order = np.argsort(family_keys)
    family_keys, family = family_keys[order], np.concatenate([originals, heads])[order]
    removed, kept_instead = documents[dropped], clusters[dropped]
    family_removed = _lookup(family_keys, family, removed, np.full(len(removed), -1))
    family_kept = _lookup(family_keys, family, kept_instead, np.full(len(removed), -2))
    correct = family_removed == family_kept
    return {
        "planted_copies": len(copies),
        "originals_with_copies": len(heads),
        "planted_copy_recall": round(float(found.mean()), 5) if len(found) else None,
        "recall_by_edit": {
            kind: round(float(found[edits == k].mean()), 5)
            for k, (kind, _) in enumerate(COPY_EDITS)
            if (edits == k).any()
        },
        "removed": int(dropped.sum()),
        "removed_in_planted_family": int(correct.sum()),
        "removed_outside_planted_families": int((family_removed < 0).sum()),
        "removed_precision": round(float(correct.mean()), 5) if len(correct) else None,
    }


def length_summary(histogram: np.ndarray) -> dict:
    count = int(histogram.sum())
    cumulative = np.cumsum(histogram)
    return {
        "mean": round(float((np.arange(len(histogram)) * histogram).sum() / count), 1),
        "median": int(np.searchsorted(cumulative, (count + 1) // 2)),
        "p5": int(np.searchsorted(cumulative, 0.05 * count)),
        "p95": int(np.searchsorted(cumulative, 0.95 * count)),
        "min": int(np.flatnonzero(histogram)[0]),
        "max": int(np.flatnonzero(histogram)[-1]),
    }


def run_map_tasks(unit_dirs: list[str], documents: int, partitions: int, workers: int) -> list[dict]:
    """Every unit's map task on Ray (one CPU each), results in unit order; progress on stderr."""
    import ray

    mapper = ray.remote(num_cpus=1, max_retries=0)(map_generated_unit)
    refs = [
        mapper.remote(
            i,
            folder,
            i * DOCS_PER_UNIT,
            min(DOCS_PER_UNIT, documents - i * DOCS_PER_UNIT),
            partitions,
            SCALE_SEED,
            4000 if i == 0 else 0,
        )
        for i, folder in enumerate(unit_dirs)
    ]
    started, pending, reported = time.perf_counter(), list(refs), 0
    while pending:
        _, pending = ray.wait(pending, num_returns=1)
        finished = len(refs) - len(pending)
        if finished >= reported + 10 or not pending:
            reported = finished
            print(f"map: {finished}/{len(refs)} units, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return ray.get(refs)


def map_summary(mapped: list[dict], seconds: float, documents: int) -> dict:
    cpu = sum(m["cpu_seconds"] for m in mapped)
    generate = sum(m["generate_cpu_seconds"] for m in mapped)
    jaccards = np.concatenate([m["jaccards"] for m in mapped])
    task_wall = sum(m["wall_seconds"] for m in mapped)
    return {
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "task_wall_seconds": round(task_wall, 1),
        # below 1: the tasks waited for a CPU (other processes on the machine)
        "cpu_share_of_task_wall": round(cpu / task_wall, 3),
        "generate_ms_per_doc": round(1000 * generate / documents, 4),
        "signatures_and_keys_ms_per_doc": round(1000 * (cpu - generate) / documents, 4),
        "peak_rss_mb": round(max(m["peak_rss_mb"] for m in mapped)),
        "peak_rise_mb": round(max(m["peak_rss_mb"] - m["rss_before_mb"] for m in mapped)),
        "first_task_rss_before_mb": round(mapped[0]["rss_before_mb"]),
        "peak_is_task_own": all(m["peak_is_task_own"] for m in mapped),
        "worker_processes": len({m["pid"] for m in mapped}),
        "copy_true_jaccard_sample": {
            "copies": len(jaccards),
            "min": round(float(jaccards.min()), 3),
            "p1": round(float(np.percentile(jaccards, 1)), 3),
            "p5": round(float(np.percentile(jaccards, 5)), 3),
            "median": round(float(np.median(jaccards)), 3),
        }
        if len(jaccards)
        else None,
    }


def driver_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scale(args: argparse.Namespace) -> dict:
    import ray

    from curate.executor import RayExecutor
    from stages.minhash import MinHashDedupConfig

    documents, workers = args.scale, args.workers
    partitions = args.partitions or scale_partitions(documents)
    out = Path(tempfile.mkdtemp(prefix="dedup-scale-", dir=args.work_root))
    unit_dirs = [str(out / "units" / f"unit{i:04d}") for i in range(-(-documents // DOCS_PER_UNIT))]
    # The driver's peak memory (never reset) after each step, and the machine's load average.
    run: dict[str, Any] = {"driver_mb": {}, "load_average": {"start": os.getloadavg()}}
    try:
        ray.init(num_cpus=workers, include_dashboard=False, logging_level="WARNING")
        try:
            started = time.perf_counter()
            mapped = run_map_tasks(unit_dirs, documents, partitions, workers)
            run["map_seconds"], run["driver_mb"]["map"] = time.perf_counter() - started, driver_peak_mb()
            settings = MinHashDedupConfig(partitions=partitions)
            if args.distributed:
                settings.local_components_max_edges = 0
            meter = PhaseMeter(RayExecutor(address=None, workers=None, retries=0, max_in_flight=2 * workers))
            job = minhash_job(settings, unit_dirs, str(out / "work"))
            started = time.perf_counter()
            summary = job.build().resolve(job, meter.run)
            run["resolve_seconds"], run["driver_mb"]["phases"] = time.perf_counter() - started, driver_peak_mb()
            run["load_average"]["end"] = os.getloadavg()
            object_spill = object_store_spill()
        finally:
            ray.shutdown()
        planted = np.concatenate([m["planted"] for m in mapped])
        scored = planted_copy_scores(str(out / "work"), len(unit_dirs), planted)
        run["driver_mb"]["scoring"] = driver_peak_mb()
        written = spill_bytes(out)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return scale_result(args, partitions, mapped, meter, run, summary, scored) | {
        "spill_bytes": written | {"ray_object_store": object_spill}
    }


def scale_result(
    args: argparse.Namespace,
    partitions: int,
    mapped: list[dict],
    meter: PhaseMeter,
    run: dict,
    summary: dict,
    scored: dict,
) -> dict:
    documents = args.scale
    phases = meter.report()
    map_seconds, resolve_seconds = run["map_seconds"], run["resolve_seconds"]
    total = map_seconds + resolve_seconds
    summary.pop("parameters")
    return {
        "documents": documents,
        "length_chars": length_summary(sum(m["lengths"] for m in mapped)),
        "copy_share": COPY_SHARE,
        "inputs": len(mapped),
        "documents_per_input": DOCS_PER_UNIT,
        "workers": args.workers,
        "partitions": partitions,
        "load_average": {k: [round(x, 2) for x in v] for k, v in run["load_average"].items()},
        "map": map_summary(mapped, map_seconds, documents),
        "phases": phases,
        "seconds": {
            "map_signatures": round(map_seconds, 1),
            **{name: entry["seconds"] for name, entry in phases.items()},
            # publish_labels (distributed components) and resolve's own work, in the driver
            "driver_between_phases": round(resolve_seconds - sum(e["seconds"] for e in meter.phases.values()), 1),
            "total": round(total, 1),
        },
        "docs_per_second": round(documents / total),
        "core_ms_per_doc": round(1000 * args.workers * total / documents, 4),
        "peak_rss_mb": {
            "map_task": round(max(m["peak_rss_mb"] for m in mapped)),
            "phase_task": round(max(e["peak_rss_mb"] for e in meter.phases.values())),
            # after the map tasks, after the phases, after this benchmark's own scoring
            "driver": {step: round(mb) for step, mb in run["driver_mb"].items()},
        },
        "phase_worker_processes": len(meter.pids),
        "dedup": summary,
        "planted": scored,
    }


def scale_label(documents: int) -> str:
    """1000000 -> "1m", 3000000 -> "3m", 20000 -> "20k" (the result file's suffix)."""
    for unit, suffix in ((1_000_000, "m"), (1_000, "k")):
        if documents >= unit and documents % unit == 0:
            return f"{documents // unit}{suffix}"
    return str(documents)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--originals", type=int, default=3000, help="People's Daily documents (3 paragraphs each); half get a copy"
    )
    parser.add_argument(
        "--partitions", type=int, default=None, help="shuffle partitions (default: 16; scale: scale_partitions())"
    )
    parser.add_argument(
        "--datatrove", default=None, help="python of a venv with datatrove installed (default: the venv below)"
    )
    parser.add_argument(
        "--datatrove-venv",
        default=None,
        help="datatrove's own venv, built on first use (default: benchmarks/datatrove_venv.py's)",
    )
    parser.add_argument("--skip-datatrove", action="store_true", help="measure curate only")
    parser.add_argument(
        "--scale", type=int, default=0, help="run the scale benchmark on this many generated documents instead"
    )
    parser.add_argument(
        "--distributed",
        action="store_true",
        help="scale run: connected components by label propagation whatever the edge count",
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="scale run: Ray CPUs (default: all)")
    parser.add_argument("--work-root", default=None, help="scale run: where the work folder goes (default: /tmp)")
    parser.add_argument("--result", default=None)
    args = parser.parse_args()
    name = (
        f"dedup_scale_{scale_label(args.scale)}{'_distributed' if args.distributed else ''}" if args.scale else "dedup"
    )
    result = scale(args) if args.scale else quality_and_speed(args)
    write_result(args.result or str(REPO / "benchmarks" / "results" / f"{name}.json"), result)


if __name__ == "__main__":
    main()
