"""Peer baseline: HuggingFace datatrove's 4-stage MinHash near-duplicate removal on a Chinese JSONL.

Runs datatrove's own MinhashDedupSignature -> MinhashDedupBuckets -> MinhashDedupCluster ->
MinhashDedupFilter with LocalPipelineExecutor, times each stage (wall seconds) and prints ONE JSON
object to stdout:

    {"datatrove_version", "docs", "seconds": {"signatures", "buckets", "cluster", "filter", "total"},
     "removed_ids": [...], "tokenization": "..."}

Everything else (datatrove/loguru logs, progress bars, child processes' output) goes to stderr,
and per-task logs go under WORK/logs/<stage>/.

It runs in datatrove's own virtual environment, never the project's. Started with an interpreter
that has no datatrove (e.g. the project's python), it creates/checks that venv with
benchmarks/datatrove_venv.py (``python3.11 -m venv`` + ``pip install`` of pinned packages, at
``--datatrove-venv``, default ``~/.cache/curate-bench/venv-datatrove``; setup messages go to
stderr) and re-executes itself with the venv's python (same process id). Started with a python
that has datatrove, it uses that one as is, unless ``--datatrove-venv`` is given explicitly.

Invocation (from the repo root):

    python benchmarks/dedup_datatrove.py --input DOCS.jsonl --work DIR \
        [--tasks 2] [--ngram 5] [--bands 14] [--rows 8] [--tokenizer char|jieba] [--datatrove-venv PATH]

DOCS.jsonl has one {"id", "text"} object per line. WORK is scratch space; the subfolders this
script owns (input, signatures, buckets, clusters, removed, logs) are wiped at start.

Tasks: signature and filter stages run --tasks tasks (the input is first split round-robin into
--tasks shards under WORK/input so every task gets data); the bucket stage must run one task per
band (datatrove asserts tasks % num_buckets == 0), so it runs --bands tasks; the cluster stage is
single-task by design. All stages use --tasks worker processes. "total" is the wall time of the
whole run, including sharding and reading back the removed ids.

Tokenization for Chinese (datatrove shingles = n consecutive word-tokenizer tokens of
simplify_text(text), joined with " " and hashed with xxhash64):
  * simplify_text (datatrove's default TextNormConfig): lowercase, every digit run -> "0",
    punctuation (incl. full-width CJK punctuation) -> space, whitespace collapsed.
  * --tokenizer char (default): datatrove's SpaCyTokenizer("zh") switched to spaCy's built-in
    offline "char" segmenter (one token per non-space character), so with --ngram 5 the shingles
    are character 5-grams of the normalised text (they span removed punctuation/spaces).
    Passed to MinhashDedupSignature as a WordTokenizer instance, which datatrove accepts.
  * --tokenizer jieba: datatrove's own Chinese setting, language=Languages.mandarin_chinese__hani
    ("cmn_Hani"): spaCy zh + jieba word segmentation (jieba's dictionary ships in its wheel, no
    download); shingles are word 5-grams. NB: in datatrove 0.10.1 language="zh" does NOT give
    this: tokenizer_assignment.csv maps "zh" to SpaCyTokenizer("xx"), which only splits on
    whitespace/punctuation, i.e. a whole Chinese clause becomes one "word".
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from contextlib import ExitStack
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

# datatrove is imported inside the functions: this file also starts under the project's python
# (without datatrove) to set up datatrove's venv and re-execute itself there.
if TYPE_CHECKING:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.utils.word_tokenizers import WordTokenizer

OWNED_SUBDIRS = ("input", "signatures", "buckets", "clusters", "removed", "logs")


def make_tokenizer(kind: str) -> tuple[str | WordTokenizer, str]:
    """Return (value for MinhashDedupSignature's `language`, human description of the shingles)."""
    from datatrove.utils.typeshelper import Languages
    from datatrove.utils.word_tokenizers import SpaCyTokenizer

    norm = "datatrove simplify_text (lowercase, digits->0, punctuation->space, whitespace collapsed)"
    if kind == "char":
        tok = SpaCyTokenizer("zh")
        tok.config = {"nlp": {"tokenizer": {"segmenter": "char"}}}  # spaCy's offline per-character segmenter
        return (
            tok,
            f"{norm}; spaCy zh 'char' segmenter via datatrove SpaCyTokenizer -> character n-grams",
        )
    if kind == "jieba":
        return (
            Languages.mandarin_chinese__hani,
            f"{norm}; datatrove language=cmn_Hani -> spaCy zh + jieba segmenter -> word n-grams",
        )
    raise ValueError(kind)


def shard_input(src: Path, dst: Path, shards: int) -> int:
    """Split a JSONL round-robin into `shards` files so every signature/filter task gets data."""
    dst.mkdir(parents=True)
    n = 0
    with ExitStack() as stack:
        outs = [stack.enter_context(open(dst / f"shard_{i:05d}.jsonl", "w", encoding="utf-8")) for i in range(shards)]
        with open(src, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    outs[n % shards].write(line if line.endswith("\n") else line + "\n")
                    n += 1
    return n


def reexec_in_venv(venv: str | None, argv: list[str]) -> None:
    """Unless this python has datatrove (and no other venv was asked for), exec this script in the venv."""
    if venv is None and find_spec("datatrove") is not None:
        return
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import datatrove_venv

    path = os.path.abspath(os.path.expanduser(venv or datatrove_venv.default_venv()))
    if os.path.realpath(sys.prefix) == os.path.realpath(path) and datatrove_venv.is_complete(path):
        return  # already running in it (e.g. after the exec below)
    python = datatrove_venv.ensure_venv(path)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(python, [python, os.path.abspath(__file__), *argv])


def run_stage(executor: LocalPipelineExecutor) -> float:
    t0 = time.perf_counter()
    executor.run()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", required=True, type=Path)
    ap.add_argument("--work", required=True, type=Path)
    ap.add_argument("--tasks", type=int, default=2)
    ap.add_argument("--ngram", type=int, default=5)
    ap.add_argument("--bands", type=int, default=14, help="MinhashConfig.num_buckets")
    ap.add_argument("--rows", type=int, default=8, help="MinhashConfig.hashes_per_bucket")
    ap.add_argument("--tokenizer", choices=("char", "jieba"), default="char")
    ap.add_argument(
        "--datatrove-venv",
        help="datatrove's venv, created/populated if missing, incomplete or outdated; used when this "
        "python has no datatrove or when given (default: benchmarks/datatrove_venv.py's, "
        "~/.cache/curate-bench/venv-datatrove)",
    )
    args = ap.parse_args(argv)
    reexec_in_venv(args.datatrove_venv, sys.argv[1:] if argv is None else argv)

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    # Route all fd-1 output (ours, datatrove's, worker processes') to stderr; keep real stdout for the JSON.
    sys.stdout.flush()
    real_stdout = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)

    work: Path = args.work.resolve()
    for sub in OWNED_SUBDIRS:
        shutil.rmtree(work / sub, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    d = {sub: str(work / sub) for sub in OWNED_SUBDIRS}

    config = MinhashConfig(n_grams=args.ngram, num_buckets=args.bands, hashes_per_bucket=args.rows)
    language, tokenization = make_tokenizer(args.tokenizer)
    tasks = args.tasks

    t_start = time.perf_counter()
    n_docs = shard_input(args.input, work / "input", tasks)

    def reader() -> JsonlReader:
        return JsonlReader(
            d["input"],
            glob_pattern="*.jsonl",
            compression=None,
            text_key="text",
            id_key="id",
        )

    secs: dict[str, float] = {}
    secs["signatures"] = run_stage(
        LocalPipelineExecutor(
            pipeline=[
                reader(),
                MinhashDedupSignature(output_folder=d["signatures"], config=config, language=language),
            ],
            tasks=tasks,
            workers=tasks,
            logging_dir=f"{d['logs']}/signatures",
        )
    )
    secs["buckets"] = run_stage(
        LocalPipelineExecutor(
            pipeline=[
                MinhashDedupBuckets(
                    input_folder=d["signatures"],
                    output_folder=d["buckets"],
                    config=config,
                )
            ],
            tasks=config.num_buckets,
            workers=tasks,
            logging_dir=f"{d['logs']}/buckets",
        )
    )
    secs["cluster"] = run_stage(
        LocalPipelineExecutor(
            pipeline=[
                MinhashDedupCluster(
                    input_folder=d["buckets"],
                    output_folder=d["clusters"],
                    config=config,
                )
            ],
            tasks=1,
            workers=1,
            logging_dir=f"{d['logs']}/cluster",
        )
    )
    secs["filter"] = run_stage(
        LocalPipelineExecutor(
            pipeline=[
                reader(),
                MinhashDedupFilter(
                    input_folder=d["clusters"],
                    exclusion_writer=JsonlWriter(d["removed"], output_filename="${rank}.jsonl", compression=None),
                ),
            ],
            tasks=tasks,
            workers=tasks,
            logging_dir=f"{d['logs']}/filter",
        )
    )

    removed: list[str] = []
    for path in sorted((work / "removed").glob("*.jsonl")):
        with open(path, encoding="utf-8") as f:
            removed.extend(str(json.loads(line)["id"]) for line in f if line.strip())
    secs["total"] = time.perf_counter() - t_start

    result = {
        "datatrove_version": version("datatrove"),
        "docs": n_docs,
        "seconds": {k: round(v, 3) for k, v in secs.items()},
        "removed_ids": sorted(removed),
        "tokenization": f"{tokenization}; n_grams={config.n_grams}, {config.num_buckets} bands x "
        f"{config.hashes_per_bucket} rows, {config.hash_config}",
    }
    real_stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    real_stdout.flush()


if __name__ == "__main__":
    main()
