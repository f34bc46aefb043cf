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

Scale (--scale N): N short documents (random runs of People's Daily sentences,
5 % of them near copies), split into inputs of 50,000; map and every phase run
as Ray tasks on this machine; wall time per phase and the peak resident memory
of any worker.

    python benchmarks/dedup.py --scale 1000000 [--distributed]
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
from bench_results import write_result  # a sibling module: benchmarks run as scripts
from datatrove_venv import ensure_venv

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the real-data loaders and the near-duplicate builder

BUCKETS = ((0.0, 0.5), (0.5, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.01))


def map_unit_keys(
    unit_index: int, folder: str, ids: list[str], texts: list[str], partitions: int, batch_size: int = 2000
) -> dict:
    """The map side of one input: the stage's key rows (``MinHashDedup.emit``: band keys and node
    attributes) streamed to partition files as a pipeline unit's map task leaves them
    (``<folder>/keys/minhash_dedup/<kind>/part-PPPPP-CCCC.parquet``)."""
    from curate.global_stage import key_folder
    from curate.shuffle import PartitionedWriter
    from stages.minhash import MinHashDedup, MinHashDedupConfig

    stage = MinHashDedup(MinHashDedupConfig(partitions=partitions))
    writers = {
        kind: PartitionedWriter(key_folder(folder, stage.name, kind), schema, stage.partitions)
        for kind, schema in stage.key_schemas().items()
    }
    started = time.process_time()
    for start in range(0, len(texts), batch_size):
        chunk = slice(start, start + batch_size)
        batch = pa.RecordBatch.from_pydict({"id": ids[chunk], "text": texts[chunk]})
        columns, _ = stage.annotate(batch)
        batch = batch.append_column("minhash_bands", columns["minhash_bands"])
        for kind, (rows, partition_of_row) in stage.emit(batch, start, unit_index).items():
            writers[kind].add(rows, partition_of_row)
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
            ours = pool.submit(curate_on_jsonl, jsonl, tmp, args.partitions).result()
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


def short_documents(count: int, seed: int = 3) -> tuple[list[str], list[str]]:
    """``count`` short documents: runs of 1-3 People's Daily sentences; 5 % are near copies
    (one character changed, or a sentence added) of an earlier document."""
    from conftest import _peoples_daily_paragraphs

    rng = random.Random(seed)
    sentences = [s + "。" for p in _peoples_daily_paragraphs() for s in p.split("。") if len(s) > 8]
    texts: list[str] = []
    for i in range(count):
        if i > 100 and rng.random() < 0.05:
            base = texts[rng.randrange(i)]
            position = rng.randrange(len(base))
            texts.append(
                base[:position] + "的" + base[position + 1 :] if rng.random() < 0.5 else base + rng.choice(sentences)
            )
        else:
            texts.append("".join(rng.choice(sentences) for _ in range(rng.randint(1, 3))))
    return [f"d{i}" for i in range(count)], texts


def scale(args: argparse.Namespace) -> dict:
    import ray

    from curate.config import RunConfig
    from curate.executor import Executor, LocalExecutor, RayExecutor
    from stages.minhash import MinHashDedupConfig

    started = time.perf_counter()
    ids, texts = short_documents(args.scale)
    built = time.perf_counter() - started
    out = Path(tempfile.mkdtemp(prefix="dedup-scale-"))
    try:
        per_unit = 50_000
        unit_dirs = [str(out / "units" / f"unit{i:04d}") for i in range((len(texts) + per_unit - 1) // per_unit)]
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, logging_level="WARNING")
        try:
            mapper = ray.remote(num_cpus=1)(map_unit_keys)
            map_started = time.perf_counter()
            parts = [slice(i * per_unit, (i + 1) * per_unit) for i in range(len(unit_dirs))]
            mapped = ray.get(
                [
                    mapper.remote(i, folder, ids[parts[i]], texts[parts[i]], args.partitions)
                    for i, folder in enumerate(unit_dirs)
                ]
            )
            map_seconds = time.perf_counter() - map_started
            phases_started = time.perf_counter()
            settings = MinHashDedupConfig(partitions=args.partitions)
            if args.distributed:
                settings.local_components_max_edges = 0
            # Where the pipeline runs them (``run.local_phases_max_documents``): a small run's phases
            # in this process, a larger one's as tasks on the Ray started above.
            if len(texts) <= RunConfig().local_phases_max_documents:
                executor: Executor = LocalExecutor()
            else:
                executor = RayExecutor(address=None, workers=None, retries=0, max_in_flight=2 * os.cpu_count())
            job = minhash_job(settings, unit_dirs, str(out / "work"))
            summary = job.build().resolve(job, executor.run)
            summary["phases_in"] = executor.name
            phase_seconds = time.perf_counter() - phases_started

            @ray.remote(num_cpus=1)
            def worker_peak() -> float:
                return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

            worker_peaks = ray.get([worker_peak.remote() for _ in range(4 * os.cpu_count())])
        finally:
            ray.shutdown()
        summary.pop("parameters")
        return {
            "documents": len(texts),
            "mean_chars": round(float(np.mean([len(t) for t in texts]))),
            "inputs": len(unit_dirs),
            "cores": os.cpu_count(),
            "seconds": {
                "build_documents": round(built, 1),
                "map_signatures": round(map_seconds, 1),
                "dedup_phases": round(phase_seconds, 1),
                "total": round(map_seconds + phase_seconds, 1),
            },
            "docs_per_second": round(len(texts) / (map_seconds + phase_seconds)),
            "peak_rss_mb": {
                "map_task": round(max(m["max_rss_mb"] for m in mapped)),
                "any_worker": round(max(worker_peaks)),
                "driver": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            },
            "dedup": summary,
        }
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--originals", type=int, default=3000, help="People's Daily documents (3 paragraphs each); half get a copy"
    )
    parser.add_argument("--partitions", type=int, default=16)
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
        "--scale", type=int, default=0, help="run the scale benchmark on this many short documents instead"
    )
    parser.add_argument(
        "--distributed",
        action="store_true",
        help="scale run: connected components by label propagation whatever the edge count",
    )
    parser.add_argument("--result", default=None)
    args = parser.parse_args()
    name = ("dedup_scale_distributed" if args.distributed else "dedup_scale") if args.scale else "dedup"
    result = scale(args) if args.scale else quality_and_speed(args)
    write_result(args.result or str(REPO / "benchmarks" / "results" / f"{name}.json"), result)


if __name__ == "__main__":
    main()
