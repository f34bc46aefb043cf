"""curate's 2-worker run against its 1-worker run, against this machine's own ceiling.

On a small VM one run of each says little: passes differ by 10-20 %. This
benchmark interleaves, in each pass: curate on the benchmark WARC with one
worker (one input file), curate with two workers (the WARC split in two
files, as in vs_datatrove.py), and the machine's ceiling for any such figure
(trafilatura on 40 real pages in one process alone, then in two processes at
once). Ray start-up and shutdown are excluded, as in vs_datatrove.py. It
reports the medians and every pass.

    python benchmarks/scaling.py --zh-share 0.05 [--records 16000] [--passes 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from datetime import datetime, timezone

import vs_datatrove  # a sibling module: benchmarks run as scripts
from bench_results import write_result

REPO = vs_datatrove.REPO


def ceiling_pass() -> float:
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        (alone,) = pool.map(vs_datatrove._extract_pages, [0])
    with context.Pool(2) as pool:
        both = pool.map(vs_datatrove._extract_pages, [0, 1])
    return 2 * alone / max(both)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zh-share", type=float, default=0.05)
    parser.add_argument(
        "--records", type=int, default=None, help="records for build_bench_warc.py (its default, 4,000, otherwise)"
    )
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--work", default="/tmp/curate_scaling")
    parser.add_argument("--result", default=None)
    args = parser.parse_args()

    label = f"{args.zh_share:g}" + (f"_{args.records}" if args.records else "")
    warc = f"/tmp/bench_{label.replace('.', '')}.warc.gz"
    if not os.path.exists(warc):
        command = [
            sys.executable,
            os.path.join(REPO, "benchmarks", "build_bench_warc.py"),
            "--out",
            warc,
            "--zh-share",
            str(args.zh_share),
        ]
        subprocess.run(command + (["--records", str(args.records)] if args.records else []), check=True)
    os.makedirs(args.work, exist_ok=True)
    inputs, records = {}, 0
    for n in (1, 2):
        inputs[n], records, _ = vs_datatrove.shard_warc(warc, n, os.path.join(args.work, f"shards_n{n}"))

    passes = []
    for p in range(args.passes):
        row: dict[str, float] = {}
        for n in (1, 2):
            run = vs_datatrove.run_curate(inputs[n], os.path.join(args.work, f"out_n{n}"), n, args.work, records)
            row[f"curate_n{n}_seconds"] = run["elapsed_seconds_run_pipeline"]
            row[f"curate_n{n}_unit_seconds_sum"] = run["map_unit_seconds_sum"]
        row["curate_speedup"] = round(row["curate_n1_seconds"] / row["curate_n2_seconds"], 3)
        row["machine_ceiling"] = round(ceiling_pass(), 3)
        passes.append(row)
        print(
            f"pass {p + 1}: curate N=1 {row['curate_n1_seconds']} s, N=2 {row['curate_n2_seconds']} s, "
            f"speed-up {row['curate_speedup']}x; machine ceiling {row['machine_ceiling']}x",
            flush=True,
        )

    median = lambda key: round(statistics.median(r[key] for r in passes), 3)  # noqa: E731
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "warc": warc,
        "records": records,
        "zh_share": args.zh_share,
        "machine": {"cpus": os.cpu_count()},
        "method": "per pass: curate N=1 (1 file), curate N=2 (2 files), then the machine ceiling "
        "(trafilatura on 40 pages, 1 process vs 2 at once); Ray start-up excluded",
        "median": {
            "curate_n1_seconds": median("curate_n1_seconds"),
            "curate_n2_seconds": median("curate_n2_seconds"),
            "curate_speedup": median("curate_speedup"),
            "machine_ceiling": median("machine_ceiling"),
            "curate_speedup_share_of_ceiling": round(median("curate_speedup") / median("machine_ceiling"), 3),
        },
        "passes": passes,
    }
    write_result(args.result or os.path.join(REPO, "benchmarks", "results", f"scaling_{label}.json"), result)


if __name__ == "__main__":
    main()
