"""Cost of the quality suite per document, against trafilatura on the same pages.

Real Chinese pages (the 69 GB2312/GBK pages and the Chinese readability test
pages in ../shared/data/html) are extracted with the pipeline's own extract
stage, timing trafilatura per page; then the quality stages of
configs/zh_web.yaml (or ``--config``) run on the extracted texts in one process on one core,
chained as in the pipeline, with rjieba (default) and with Python jieba;
times are per document entering the suite. Segmentation is timed alone too, and so is token
counting with each built-in tokenizer (``run.tokenizers``), with tokens per Han character.
Both sides are timed as the best of ``--repeat`` passes (CPU time): this VM's
timings wander by 10-15 % between passes, and the best pass is the stable figure.

    python benchmarks/quality_suite.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import gzip
import time
from pathlib import Path

import pyarrow as pa
from bench_results import write_result  # a sibling module: benchmarks run as scripts

REPO = Path(__file__).resolve().parents[1]
HTML = REPO.parent / "shared" / "data" / "html"
QUALITY_STAGES = (
    "spam_lexicon",
    "spam_injection",
    "spam_model",
    "c4_lines",
    "policy",
    "zh_quality",
    "gopher_quality",
    "gopher_repetition",
    "fineweb_quality",
)


def chinese_pages() -> list[tuple[bytes, str | None]]:
    pages = [(p.read_bytes(), None) for p in sorted((HTML / "zh_gb2312" / "original").glob("*.html"))]
    for folder in sorted((HTML / "readability_testpages").iterdir()):
        source = folder / "source.html.gz"
        if source.is_file():
            html = gzip.decompress(source.read_bytes())
            if sum("\u4e00" <= c <= "\u9fff" for c in html.decode("utf-8", "ignore")[:20000]) > 300:
                pages.append((html, "text/html; charset=utf-8"))
    return pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="passes over the pages (the best pass counts)")
    parser.add_argument("--result", default=str(REPO / "benchmarks" / "results" / "quality_suite.json"))
    parser.add_argument("--config", default=str(REPO / "configs" / "zh_web.yaml"), help="whose quality stages to time")
    args = parser.parse_args()
    if not HTML.is_dir():
        raise SystemExit(f"real pages not found at {HTML}")

    from curate.config import load_config
    from curate.stage import StageStats
    from stages.charset import decode_html
    from stages.extract import Extract, ExtractConfig, html_title
    from stages.langid import LangId, LangIdConfig
    from stages.text_profile import clear_cache
    from stages.words import segmenter as load_segmenter

    pages = [decode_html(html, content_type).text for html, content_type in chinese_pages()]
    extract = Extract(ExtractConfig())
    extract_seconds = []
    for _ in range(args.repeat):
        started = time.process_time()
        texts = [extract.extract_text(page) for page in pages]
        extract_seconds.append(time.process_time() - started)
    # The page titles go along: the injection rule reads them (taking them is extraction's cost).
    titled = [(text, html_title(page)) for text, page in zip(texts, pages) if text]
    langid = LangId(LangIdConfig())
    langs = [g.lang for g in langid.classify([text for text, _ in titled])]
    chinese = [text for (text, _), lang in zip(titled, langs) if lang == "zh"]
    titles = [title for (_, title), lang in zip(titled, langs) if lang == "zh"]

    config = load_config(args.config)
    result = {
        "pages": len(pages),
        "chinese_documents": len(chinese),
        "mean_chars": round(sum(map(len, chinese)) / len(chinese)),
        "trafilatura_ms_per_page": round(1000 * min(extract_seconds) / len(pages), 2),
    }
    for segmenter in ("rjieba", "jieba"):
        stages = []
        for spec in config.stages:
            if spec.name in QUALITY_STAGES:
                if hasattr(spec.config, "segmenter"):
                    spec.config.segmenter = segmenter
                stages.append(spec.build())
        passes = []
        segment_seconds = []
        cut = load_segmenter(segmenter)
        # Warm-up pass, not timed: per-process tables and models load once per worker.
        warm = pa.RecordBatch.from_pydict(
            {"text": chinese, "title": titles, "lang": ["zh"] * len(chinese), "script": ["Hans"] * len(chinese)}
        )
        for stage in stages:
            warm = stage.apply(warm, StageStats(stage.name))
        for _ in range(args.repeat):
            started = time.process_time()
            for text in chinese:
                cut(text)
            segment_seconds.append(time.process_time() - started)
            clear_cache()
            # Chained as in the pipeline: each stage sees what the previous one kept and rewrote.
            batch = pa.RecordBatch.from_pydict(
                {"text": chinese, "title": titles, "lang": ["zh"] * len(chinese), "script": ["Hans"] * len(chinese)}
            )
            per_stage = {}
            for stage in stages:
                stats = StageStats(stage.name)
                batch = stage.apply(batch, stats)
                per_stage[stage.name] = stats.cpu_seconds
            passes.append(per_stage)
        per_stage = min(passes, key=lambda p: sum(p.values()))
        docs = len(chinese)  # per input document of the suite
        result[f"{segmenter}_kept"] = batch.num_rows
        total_ms = 1000 * sum(per_stage.values()) / docs
        result[segmenter] = {
            "quality_suite_ms_per_doc": round(total_ms, 3),
            "quality_docs_per_second_one_core": round(1000 / total_ms, 1),
            "segmentation_ms_per_doc_alone": round(1000 * min(segment_seconds) / docs, 3),
            "segmentation_share_of_suite": round(1000 * min(segment_seconds) / docs / total_ms, 3),
            "per_stage_ms_per_doc": {name: round(1000 * s / docs, 3) for name, s in per_stage.items()},
            "share_of_trafilatura_time": round(total_ms / result["trafilatura_ms_per_page"], 4),
        }
    result["tokens"] = token_costs(chinese, result["trafilatura_ms_per_page"], args.repeat)
    write_result(args.result, result)


def token_costs(texts: list[str], trafilatura_ms: float, repeat: int) -> dict:
    """Token counting per document (``curate.tokens``) for each built-in tokenizer, as the write
    task counts kept documents, and tokens per Han character on these pages."""
    from curate.tokens import BUILTIN, han_chars, load_tokenizer

    han = han_chars(texts)
    out = {}
    for spec in BUILTIN:
        tokenizer = load_tokenizer(spec)
        tokenizer.count(texts)  # warm-up
        seconds = []
        for _ in range(repeat):
            started = time.process_time()
            counts = tokenizer.count(texts)
            seconds.append(time.process_time() - started)
        ms = 1000 * min(seconds) / len(texts)
        out[tokenizer.name] = {
            "ms_per_doc": round(ms, 3),
            "share_of_trafilatura_time": round(ms / trafilatura_ms, 4),
            "tokens_per_han_char": round(int(counts.sum()) / han, 4),
            "tokens_per_char": round(int(counts.sum()) / sum(map(len, texts)), 4),
        }
    return out


if __name__ == "__main__":
    main()
