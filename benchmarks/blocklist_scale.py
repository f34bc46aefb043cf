"""screen_blocklist at production size: the real UT1 lists (../shared/data/blocklists/ut1).

Measures, each in a fresh process so memory and caches are honest:
- compile: parse UT1 (4.56 M domains, 19.6 k URL prefixes) into the memory-mapped index;
- load: one worker building the stage from the compiled cache (time, RSS before and after,
  and after lookups have touched the pages they need);
- lookup: µs per URL on the real URLs of ../shared/data/warc (every WARC-Target-URI), with
  the built-in lists alone and with UT1;
then the flagship ``configs/zh_web.yaml`` on copies of the sample crawl, with and without UT1
(a temporary config: the repo's config cannot point at ../shared), best of ``--passes``.

    python benchmarks/blocklist_scale.py --passes 3 --copies 4
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from bench_results import write_result  # a sibling module: benchmarks run as scripts

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(REPO), "shared", "data")
UT1 = os.path.join(SHARED, "blocklists", "ut1", "url_filterblacklistsv0_3_0.tar.gz")
LOOKUP_ROUNDS = 20


def rss_mb() -> float:
    with open("/proc/self/status") as handle:
        line = next(line for line in handle if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def real_urls() -> list[str]:
    """Every WARC-Target-URI of the WARC files in ../shared/data/warc and the sample crawl."""
    from fastwarc.warc import ArchiveIterator

    paths = sorted(glob.glob(os.path.join(SHARED, "warc", "*", "*.warc*")))
    paths.append(os.path.join(REPO, "samples", "zh_web_sample.warc.gz"))
    urls = []
    for path in paths:
        try:
            with open(path, "rb") as handle:
                for record in ArchiveIterator(handle, parse_http=False):
                    uri = record.headers.get("WARC-Target-URI")
                    if uri:
                        urls.append(uri.strip("<>"))
        except Exception:  # noqa: BLE001 - the edge-case files are broken on purpose; take what reads
            continue
    return urls


def child_compile(cache: str) -> dict:
    from curate.config_schema import build as build_config
    from stages.screens.blocklist import BlocklistScreenConfig
    from stages.screens.blocklist_index import build

    # the sources as the stage (and the flagship) configures them: the built-in lists and UT1
    config = build_config(BlocklistScreenConfig, {"sources": [{"path": UT1, "format": "ut1"}]}, "screen_blocklist")
    started = time.perf_counter()
    folder = build(config.specs(), cache)
    seconds = time.perf_counter() - started
    import resource

    sizes = {name: os.path.getsize(os.path.join(folder, name)) for name in sorted(os.listdir(folder))}
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "bytes": sizes,
    }


def child_load(cache: str, with_ut1: bool) -> dict:
    from curate.config_schema import build
    from stages.screens.blocklist import BlocklistScreen, BlocklistScreenConfig

    urls = real_urls()
    options = {"cache_dir": cache, "sources": [{"path": UT1, "format": "ut1"}] if with_ut1 else []}
    config = build(BlocklistScreenConfig, options, "screen_blocklist")
    before = rss_mb()
    started = time.perf_counter()
    stage = BlocklistScreen(config)
    load = time.perf_counter() - started
    after_load = rss_mb()
    blocked = sum(1 for url in urls if stage.match(url))
    started = time.perf_counter()
    for _ in range(LOOKUP_ROUNDS):
        for url in urls:
            stage.match(url)
    per_url = (time.perf_counter() - started) / (LOOKUP_ROUNDS * len(urls))
    return {
        "load_seconds": round(load, 4),
        "rss_mb_before": round(before, 1),
        "rss_mb_after_load": round(after_load, 1),
        "rss_mb_after_lookups": round(rss_mb(), 1),
        "urls": len(urls),
        "urls_blocked": blocked,
        "lookup_us_per_url": round(per_url * 1e6, 2),
    }


def in_child(*args: str) -> dict:
    env = dict(os.environ, PYTHONPATH=REPO)
    out = subprocess.run([sys.executable, __file__, "--child", *args], env=env, check=True, capture_output=True)
    return json.loads(out.stdout)


def flagship_config(folder: str, cache: str, with_ut1: bool) -> str:
    """configs/zh_web.yaml with the block list's sources (and cache) set, written to ``folder``."""
    with open(os.path.join(REPO, "configs", "zh_web.yaml"), encoding="utf-8") as handle:
        text = handle.read()
    extra = f"      cache_dir: {cache}\n"
    if with_ut1:
        extra += f"      sources: [{{path: {UT1}, format: ut1}}]\n"
    marker = "  - screen_blocklist:\n      action: drop\n"
    assert marker in text
    path = os.path.join(folder, f"zh_web_{'ut1' if with_ut1 else 'builtin'}.yaml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text.replace(marker, marker + extra))
    return path


def flagship(cache: str, copies: int, passes: int, workers: int) -> dict:
    from curate.config import load_config
    from curate.runner import run_pipeline

    times: dict[str, list[float]] = {"builtin": [], "ut1": []}
    rows: dict[str, int] = {}
    screen: dict[str, list[float]] = {name: [] for name in times}  # the stage's CPU µs per document
    with tempfile.TemporaryDirectory() as tmp:
        inputs = []
        for i in range(copies):
            inputs.append(os.path.join(tmp, f"copy-{i:03d}.warc.gz"))
            shutil.copy(os.path.join(REPO, "samples", "zh_web_sample.warc.gz"), inputs[-1])
        configs = {name: flagship_config(tmp, cache, name == "ut1") for name in times}
        for _ in range(passes):
            for name, path in configs.items():  # alternated, so drift hits both alike
                config = load_config(path, input_override=inputs, output_override=os.path.join(tmp, f"out-{name}"))
                started = time.perf_counter()
                summary = run_pipeline(config, workers=workers, fresh=True)
                times[name].append(round(time.perf_counter() - started, 2))
                rows[name] = summary.manifest["outputs"]["rows"]
                stage = next(s for s in summary.manifest["stages"] if s["name"] == "screen_blocklist")
                screen[name].append(round(1e6 * stage["cpu_seconds"] / max(stage["docs_in"], 1), 1))
    best = {name: min(values) for name, values in times.items()}
    return {
        "copies": copies,
        "workers": workers,
        "seconds": times,
        "best_seconds": best,
        "rows_out": rows,
        "screen_blocklist_cpu_us_per_doc": screen,
        "ut1_over_builtin": round(best["ut1"] / best["builtin"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-flagship", action="store_true")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--result", default=os.path.join(REPO, "benchmarks", "results", "blocklist_scale.json"))
    args = parser.parse_args()
    if args.child:
        kind, cache, *rest = args.child
        print(json.dumps(child_compile(cache) if kind == "compile" else child_load(cache, rest == ["ut1"])))
        return
    with tempfile.TemporaryDirectory() as cache:
        result = {
            "ut1": {"path": os.path.relpath(UT1, REPO), "bytes": os.path.getsize(UT1)},
            "compile": in_child("compile", cache),
            "compile_again_cached": in_child("compile", cache),
            "worker_builtin_only": in_child("load", cache, "builtin"),
            "worker_with_ut1": in_child("load", cache, "ut1"),
        }
        if not args.skip_flagship:
            result["flagship"] = flagship(cache, args.copies, args.passes, args.workers)
    write_result(args.result, result)


if __name__ == "__main__":
    main()
