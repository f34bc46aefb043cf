"""One large WARC file, whole process: `curate run` on 1 and 2 workers, and against datatrove.

A Common Crawl WARC file is ~1 GB (~40,000 records). Before units could be ranges of a file
(``run.unit_max_bytes``), one such file kept one core busy whatever the workers. This
benchmark measures, on one file built by ``build_bench_warc.py --records 40000`` (5 % Chinese
pages by default):

- curate's whole process, start to exit: ``curate run configs/zh_web.yaml --input WARC
  --workers N --fresh`` in a child process, timed around it (Python start, Ray start, every
  pass and global phase, the write, the manifest, Ray shutdown), at N = 1 and N = 2, passes
  interleaved; the 2-worker speed-up by the best and by the median pass;
- datatrove's whole FineWeb-style run (``vs_datatrove.run_datatrove``: the same pipeline and
  settings as ``vs_datatrove.py``) on 2 workers, timed as the whole process tree
  (``/usr/bin/time`` elapsed). datatrove's unit is a whole file too, so it gets the WARC split
  into 2 files (``vs_datatrove.shard_warc``): its best case; curate reads the single file;
- the ratio of documents (response records) per second, curate / datatrove, both whole
  processes on 2 workers;
- per pass, this machine's own ceiling for any 2-process speed-up (``scaling.ceiling_pass``:
  trafilatura on 40 real pages in two processes at once against one alone);
- one more 2-worker pass with ``unit_max_bytes: null``, the file as one unit (as before units
  could be ranges), whose shards must be the same bytes as every other pass's;
- with ``--profile``, the profile of the last 2-worker pass (``OUT/profile.txt``).

    python benchmarks/whole_process.py [--warc /tmp/bench_005_40k.warc.gz] [--passes 3]
        [--datatrove-passes 1 | --skip-datatrove] [--unit-max-bytes N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from typing import Any

import datatrove_venv  # sibling modules: benchmarks run as scripts
import scaling
import vs_datatrove
from bench_results import write_result

REPO = vs_datatrove.REPO
CONFIG = os.path.join(REPO, "configs", "zh_web.yaml")


def build_warc(path: str, records: int, share: float) -> None:
    script = os.path.join(REPO, "benchmarks", "build_bench_warc.py")
    command = [sys.executable, script, "--out", path, "--zh-share", str(share), "--records", str(records)]
    subprocess.run(command, check=True, cwd=REPO)


def config_with(config: str, unit_max_bytes: str) -> str:
    """A copy of ``config`` with ``run.unit_max_bytes`` set, next to it (its relative paths hold)."""
    text = open(config, encoding="utf-8").read()
    if "  unit_max_bytes: 268435456" not in text:
        raise SystemExit(f"{config}: no 'unit_max_bytes: 268435456' line to replace")
    path = os.path.join(os.path.dirname(config), f".whole_process_{os.getpid()}_{unit_max_bytes}.yaml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text.replace("  unit_max_bytes: 268435456", f"  unit_max_bytes: {unit_max_bytes}"))
    return path


def curate_pass(warc: str, workers: int, out: str, config: str, profile: bool) -> dict[str, Any]:
    """``curate run`` from start to exit; its wall seconds and what the manifest says."""
    command = [
        sys.executable, "-m", "curate.cli", "run", config, "--input", warc, "--output", out,
        "--workers", str(workers), "--fresh",
    ]  # fmt: skip
    if profile:
        command.append("--profile")
    time_path = out + ".time"
    started = time.perf_counter()
    completed = subprocess.run(
        ["/usr/bin/time", "-f", "%e %U %S %M", "-o", time_path, *command],
        capture_output=True,
        text=True,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"curate run failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as handle:
        manifest = json.load(handle)
    with open(time_path) as handle:
        _, user, system, _ = handle.read().split()[-4:]
    with open(out + ".log", "w", encoding="utf-8") as log:
        log.write(completed.stderr)
    return {
        "wall_seconds": round(wall, 2),
        "phases": phase_seconds(completed.stderr),
        "manifest_seconds": manifest["seconds"],
        "units": len(manifest["inputs"]),
        "rows": manifest["outputs"]["rows"],
        "shards": {s["path"]: s["sha256"] for s in manifest["outputs"]["shards"]},
        "driver_tree_cpu_seconds": round(float(user) + float(system), 2),
        "unit_seconds": [entry["seconds"] for entry in manifest["inputs"]],
    }


def phase_seconds(log: str) -> dict[str, float]:
    """Wall seconds of each phase the run logged (``<phase>: finished in X s``), summed by phase
    kind (``map``, ``map 2``, ``minhash lsh`` ...): where the whole process's time goes."""
    found: dict[str, float] = {}
    for phase, seconds in re.findall(r"INFO (.+?): finished in ([0-9.]+) s", log):
        found[phase] = round(found.get(phase, 0.0) + float(seconds), 2)
    return found


def summarise(walls: list[float], records: int) -> dict[str, Any]:
    return {
        "passes": walls,
        "best": min(walls),
        "median": round(statistics.median(walls), 2),
        "docs_per_s_best": round(records / min(walls), 1),
        "docs_per_s_median": round(records / statistics.median(walls), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warc", default="/tmp/bench_005_40k.warc.gz", help="built if missing")
    parser.add_argument("--records", type=int, default=40_000)
    parser.add_argument("--zh-share", type=float, default=0.05)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--datatrove-passes", type=int, default=1)
    parser.add_argument("--skip-datatrove", action="store_true")
    parser.add_argument("--datatrove-venv", default=datatrove_venv.default_venv())
    parser.add_argument("--config", default=CONFIG)
    parser.add_argument("--unit-max-bytes", type=int, help="override run.unit_max_bytes (else the config's)")
    parser.add_argument("--profile", action="store_true", help="keep the last 2-worker pass's profile.txt")
    parser.add_argument("--work", default="/tmp/whole_process")
    parser.add_argument("--result", default=None)
    args = parser.parse_args()
    if not os.path.exists(args.warc):
        build_warc(args.warc, args.records, args.zh_share)
    os.makedirs(args.work, exist_ok=True)
    config = args.config if args.unit_max_bytes is None else config_with(args.config, str(args.unit_max_bytes))
    whole_files = config_with(args.config, "null")
    _, records, _ = vs_datatrove.shard_warc(args.warc, 1, os.path.join(args.work, "count"))
    runs: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    ceilings: list[float] = []
    try:
        for index in range(args.passes):
            for workers in (1, 2):
                out = os.path.join(args.work, f"curate_n{workers}")
                last = args.profile and workers == 2 and index == args.passes - 1
                run = curate_pass(args.warc, workers, out, config, last)
                runs[workers].append(run)
                seconds, units = run["wall_seconds"], run["units"]
                print(f"pass {index + 1}, {workers} worker(s): {seconds} s, {units} units", flush=True)
            ceilings.append(round(scaling.ceiling_pass(), 3))
            print(f"pass {index + 1}, machine ceiling {ceilings[-1]}x", flush=True)
        # As before units could be ranges: the file is one unit, whatever the workers.
        one_unit = curate_pass(args.warc, 2, os.path.join(args.work, "curate_n2_one_unit"), whole_files, False)
        print(f"2 workers, the file as one unit: {one_unit['wall_seconds']} s", flush=True)
    finally:
        for written in {config, whole_files} - {args.config}:
            os.remove(written)
    digests = {json.dumps(run["shards"], sort_keys=True) for rs in [*runs.values(), [one_unit]] for run in rs}
    curate = {workers: summarise([r["wall_seconds"] for r in rs], records) for workers, rs in runs.items()}
    result: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "warc": args.warc,
        "warc_bytes": os.path.getsize(args.warc),
        "response_records": records,
        "config": os.path.relpath(args.config, REPO),
        "unit_max_bytes": args.unit_max_bytes,
        "cpus": os.cpu_count(),
        "curate": {str(w): s | {"units": runs[w][0]["units"], "rows": runs[w][0]["rows"]} for w, s in curate.items()},
        "same_shards_every_pass": len(digests) == 1,
        "one_unit_2_workers": {"wall_seconds": one_unit["wall_seconds"], "phases": one_unit["phases"]},
        "machine_ceiling": {"passes": ceilings, "median": statistics.median(ceilings)},
        "map_phase_speedup_per_pass": [
            round(one["phases"]["map"] / two["phases"]["map"], 3) for one, two in zip(runs[1], runs[2])
        ],
        "speedup_2_workers_per_pass": [
            round(one["wall_seconds"] / two["wall_seconds"], 3) for one, two in zip(runs[1], runs[2])
        ],
        "speedup_2_workers": {
            "best": round(curate[1]["best"] / curate[2]["best"], 3),
            "median": round(curate[1]["median"] / curate[2]["median"], 3),
        },
        "unit_seconds_last_2_worker_pass": runs[2][-1]["unit_seconds"],
        "phases_last_pass": {str(w): rs[-1]["phases"] for w, rs in runs.items()},
    }
    if args.profile:
        profile = os.path.join(args.work, "curate_n2", "profile.txt")
        if os.path.exists(profile):
            result["profile_2_workers"] = open(profile, encoding="utf-8").read()
    if not args.skip_datatrove:
        python = datatrove_venv.ensure_venv(args.datatrove_venv)
        shards_dir = os.path.join(args.work, "shards_n2")
        shutil.rmtree(shards_dir, ignore_errors=True)
        vs_datatrove.shard_warc(args.warc, 2, shards_dir)
        thresholds = vs_datatrove.datatrove_thresholds(-1)
        walls = []
        for index in range(args.datatrove_passes):
            run = vs_datatrove.run_datatrove(shards_dir, 2, args.work, records, python, thresholds)
            walls.append(run["process_tree_time"]["elapsed"])
            print(f"datatrove pass {index + 1}, 2 workers: {walls[-1]} s", flush=True)
        datatrove = summarise(walls, records)
        result["datatrove_2_workers_whole_process"] = datatrove
        result["curate_over_datatrove_whole_process"] = {
            "best": round(datatrove["best"] / curate[2]["best"], 2),
            "median": round(datatrove["median"] / curate[2]["median"], 2),
        }
    write_result(args.result or os.path.join(REPO, "benchmarks", "results", "whole_process.json"), result)


if __name__ == "__main__":
    main()
