"""Throughput of the flagship pipeline on the shipped sample crawl.

Copies the sample WARC N times under different names (so units run in
parallel; all but the first copy's documents become exact duplicates) and runs
`configs/zh_web.yaml` on them through the same code path as `curate run`.
Reports HTML documents per second end to end (Ray start-up included) and per
stage from the manifest's timings.

    python benchmarks/sample_run.py --copies 8 --workers 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

from bench_results import write_result  # a sibling module: benchmarks run as scripts

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--result", default=os.path.join(REPO, "benchmarks", "results", "sample_run.json"))
    args = parser.parse_args()

    from curate.config import load_config
    from curate.runner import run_pipeline

    with tempfile.TemporaryDirectory() as tmp:
        sample = os.path.join(REPO, "samples", "zh_web_sample.warc.gz")
        inputs = []
        for i in range(args.copies):
            path = os.path.join(tmp, f"copy-{i:03d}.warc.gz")
            shutil.copy(sample, path)
            inputs.append(path)
        config = load_config(
            os.path.join(REPO, "configs", "zh_web.yaml"),
            input_override=inputs,
            output_override=os.path.join(tmp, "out"),
        )
        started = time.perf_counter()
        summary = run_pipeline(config, workers=args.workers)
        wall = time.perf_counter() - started

    manifest = summary.manifest
    stages = {s["name"]: s for s in manifest["stages"]}
    html_docs = stages["read"]["docs_out"]
    map_seconds = sum(i["seconds"] or 0 for i in manifest["inputs"])
    result = {
        "copies": args.copies,
        "workers": args.workers,
        "warc_records": stages["read"]["docs_in"],
        "html_documents": html_docs,
        "documents_out": manifest["outputs"]["rows"],
        "wall_seconds_end_to_end": round(wall, 2),
        "html_docs_per_second_end_to_end": round(html_docs / wall, 1),
        "html_docs_per_second_per_core_map_phase": round(html_docs / map_seconds, 1),
        "per_stage_ms_per_input_doc": {
            name: round(1000 * s["cpu_seconds"] / s["docs_in"], 3) if s["docs_in"] else None
            for name, s in stages.items()
        },
    }
    write_result(args.result, result)


if __name__ == "__main__":
    main()
