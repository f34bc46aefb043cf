"""trafilatura's own settings in the extract stage: time per page against extraction quality.

Issue 7: where trafilatura settings buy speed without losing extraction quality
on real Chinese pages, measure and take them. Without ``fast=True`` trafilatura
runs its fallback extractors (its readability port and jusText) on every page
and compares them with its own result; that costs time on every page but
changes the result on few.

Pages (decoded with the pipeline's own ``stages.charset.decode_html``, as the
stage does, no HTTP charset):
- ``../shared/data/html/zh_gb2312``: 69 Chinese pages (GB2312/GBK/UTF-8) with
  hand-copied main text (``cleaned/<id>.txt``);
- the 4 Chinese readability test pages (gmw, qq, youth: zh-Hans; pixnet: zh-Hant),
  reference = Readability.js output (``expected.html.gz``, a silver standard);
- the 5 Chinese pages of trafilatura's evaluation set (``trafilatura_eval``),
  scored by its snippets: share of ``with`` snippets found and of ``without``
  (boilerplate) snippets absent.

Quality: precision/recall/F1 over the multisets of character bigrams of the
extracted and the reference text (NFKC, lower case, whitespace removed), which
suits Chinese (no word boundaries) and penalises both missing text and extra
boilerplate. Reported as the mean over the 73 referenced pages, the worst pages,
and the pages that lose most against the current default.

Time: CPU time (``time.process_time``) of the stage's ``extract_text`` (trafilatura
plus the table-cell rewrite) per page. ``--repeat`` passes over all 78 pages; within
a pass every page runs under every setting before the next page (settings in a
rotating order), so load changes on this shared VM (it wanders by 10-15 % between
passes) hit all settings alike. ms/page = the sum of each page's best time over the
passes, divided by the pages; the best whole pass is reported too.

Settings: ``full`` (trafilatura's default, fallbacks on every page: the stage before
issue 7), ``fast`` (``fast=True`` everywhere) and hybrids: fast first, the fallbacks
only when a cheap signal on the fast result (or on the page) says they might be
needed. ``hybrid`` is the stage's default (``fallbacks: when_needed``); the others vary
its signals. ``favor_precision`` variants are measured too.

``--eval-all`` also runs full, fast and four hybrids over all 990 pages of trafilatura's
evaluation set (mostly German and English; ``--eval-repeat`` passes, timed the same
way): a larger, language-agnostic check of the hybrid's signals, scored by snippets.

    python benchmarks/extract_settings.py [--repeat 7] [--eval-all [--eval-repeat 2]]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import re
import statistics
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench_results import write_result  # a sibling module: benchmarks run as scripts

REPO = Path(__file__).resolve().parents[1]
HTML = REPO.parent / "shared" / "data" / "html"
READABILITY_CHINESE = ("gmw", "qq", "youth", "pixnet")  # per readability_testpages/SOURCE.txt
_SPACE = re.compile(r"\s+")


@dataclass
class Page:
    name: str
    html: str
    reference: str | None = None  # full reference text, or
    with_snippets: list[str] = field(default_factory=list)  # trafilatura_eval snippets
    without_snippets: list[str] = field(default_factory=list)


def decode(raw: bytes) -> str:
    from stages.charset import decode_html

    return decode_html(raw, None).text


def referenced_pages() -> list[Page]:
    import lxml.html

    folder = HTML / "zh_gb2312"
    pages = [
        Page(
            f"zh_gb2312/{p.stem}",
            decode(p.read_bytes()),
            (folder / "cleaned" / f"{p.stem}.txt").read_text("utf-8", errors="replace"),
        )
        for p in sorted((folder / "original").glob("*.html"))
    ]
    for name in READABILITY_CHINESE:
        case = HTML / "readability_testpages" / name
        expected = lxml.html.fromstring(gzip.decompress((case / "expected.html.gz").read_bytes()).decode("utf-8"))
        pages.append(
            Page(
                f"readability/{name}",
                decode(gzip.decompress((case / "source.html.gz").read_bytes())),
                "\n".join(expected.itertext()),
            )
        )
    return pages


def eval_pages(language: str | None = "zh") -> list[Page]:
    """trafilatura_eval pages (``language`` as MANIFEST.tsv names it, None: all) with their snippets."""
    folder = HTML / "trafilatura_eval"
    evaldata = json.loads((folder / "evaldata.json").read_text("utf-8"))
    by_file = {entry["file"]: entry for entry in evaldata.values()}
    pages = []
    for line in (folder / "MANIFEST.tsv").read_text("utf-8").splitlines()[1:]:
        path, lang = line.split("\t")[:2]
        if language and lang != language:
            continue
        entry = by_file.get(Path(path).name.removesuffix(".gz"))
        if entry is None or not (folder / path).is_file():
            continue
        html = decode(gzip.decompress((folder / path).read_bytes()))
        pages.append(
            Page(f"trafilatura_eval/{Path(path).name}", html, None, entry.get("with", []), entry.get("without", []))
        )
    return pages


def bigrams(text: str) -> Counter:
    text = _SPACE.sub("", unicodedata.normalize("NFKC", text).lower())
    return Counter(text[i : i + 2] for i in range(len(text) - 1))


def bigram_prf(extracted: str | None, reference: str) -> tuple[float, float, float]:
    got, ref = bigrams(extracted or ""), bigrams(reference)
    overlap = sum((got & ref).values())
    precision = overlap / sum(got.values()) if got else 0.0
    recall = overlap / sum(ref.values()) if ref else 0.0
    return precision, recall, (2 * precision * recall / (precision + recall) if precision + recall else 0.0)


def snippet_scores(extracted: str | None, page: Page) -> tuple[int, int, int, int]:
    """(with found, with total, without absent, without total), whitespace-insensitive."""
    text = _SPACE.sub(" ", extracted or "")
    found = sum(_SPACE.sub(" ", s).strip() in text for s in page.with_snippets)
    absent = sum(_SPACE.sub(" ", s).strip() not in text for s in page.without_snippets)
    return found, len(page.with_snippets), absent, len(page.without_snippets)


def settings() -> dict[str, tuple[str, object, Callable[[str], str | None]]]:
    """name -> (description, the Extract instance (for its rerun count), page -> text)."""
    from trafilatura.external import SANITIZED_XPATH

    from stages.extract import Extract, ExtractConfig

    out = {}

    def add(name: str, description: str, extract: Extract, gate: Callable | None = None) -> None:
        if gate is not None:
            extract.needs_fallbacks = gate.__get__(extract)  # a variant of the stage's signal
        out[name] = (description, extract, extract.extract_text)

    def length_only(self, document, html: str) -> bool:
        return document is None or len(document.raw_text or "") < self.config.fallback_below_chars

    def with_unclean(self, document, html: str) -> bool:
        return type(self).needs_fallbacks(self, document, html) or bool(document.body.xpath(SANITIZED_XPATH))

    add(
        "full",
        "trafilatura default: fallback extractors on every page (fallbacks=always, the stage before issue 7)",
        Extract(ExtractConfig(fallbacks="always")),
    )
    add(
        "fast",
        "fast=True on every page: no fallback extractors (fallbacks=never)",
        Extract(ExtractConfig(fallbacks="never")),
    )
    add(
        "hybrid",
        "the stage's default, fallbacks=when_needed: fast, redone with the fallbacks if main text < 500 chars, "
        "or no <p> text, or more tables than <p>",
        Extract(ExtractConfig()),
    )
    for chars in (50, 200):
        add(
            f"hybrid_len{chars}",
            f"as hybrid, length threshold {chars}",
            Extract(ExtractConfig(fallback_below_chars=chars)),
        )
    for share in (0.1, 0.2):
        add(
            f"hybrid_share{share}",
            f"as hybrid, plus redo if main text < {share} of the page's resiliparse text (fallback_below_page_share)",
            Extract(ExtractConfig(fallback_below_page_share=share)),
        )
    add(
        "hybrid_len500_only",
        "fast, redone with the fallbacks only if main text < 500 chars (no other test)",
        Extract(ExtractConfig()),
        length_only,
    )
    add(
        "hybrid_unclean",
        "as hybrid, plus redo when the fast body holds elements that make trafilatura try jusText (SANITIZED_XPATH)",
        Extract(ExtractConfig()),
        with_unclean,
    )
    add(
        "precision_full",
        "favor_precision, fallbacks on every page",
        Extract(ExtractConfig(favor="precision", fallbacks="always")),
    )
    add("precision_fast", "favor_precision, fast=True", Extract(ExtractConfig(favor="precision", fallbacks="never")))
    add("precision_hybrid", "favor_precision, fallbacks=when_needed", Extract(ExtractConfig(favor="precision")))
    return out


def pre_issue7_text(html: str) -> str | None:
    """The stage's call before issue 7, verbatim, to check that ``fallbacks: always`` reproduces it."""
    import trafilatura

    from stages.extract import Extract, ExtractConfig, table_cells_to_lines

    settings_ = Extract(ExtractConfig())._settings
    text = trafilatura.extract(
        html,
        config=settings_,
        include_comments=True,
        include_tables=True,
        favor_precision=False,
        favor_recall=False,
        deduplicate=False,
        with_metadata=False,
    )
    return table_cells_to_lines(text) if text and "|" in text else text


def timed_passes(pages: list[Page], runs: dict, repeat: int) -> tuple[dict, dict, dict]:
    """Per setting: best pass (seconds), per-page best (seconds), and the texts and reruns of the last pass.

    Settings are interleaved page by page (in a rotating order), so a change in the machine's
    load hits all settings alike; the per-page minima over the passes are the stable figure."""
    names = list(runs)
    totals = {name: [0.0] * repeat for name in names}
    page_best = {name: [float("inf")] * len(pages) for name in names}
    texts = {name: [""] * len(pages) for name in names}
    reruns = {}
    for r in range(repeat):
        for name in names:
            runs[name][1].fallback_reruns = 0
        for i, page in enumerate(pages):
            k = (r + i) % len(names)
            for name in names[k:] + names[:k]:
                run = runs[name][2]
                started = time.process_time()
                text = run(page.html)
                elapsed = time.process_time() - started
                totals[name][r] += elapsed
                page_best[name][i] = min(page_best[name][i], elapsed)
                texts[name][i] = text.strip() if text else ""
        reruns = {name: runs[name][1].fallback_reruns for name in names}
        print(
            f"pass {r + 1}/{repeat} (ms/page this pass): "
            + ", ".join(f"{n} {1000 * totals[n][r] / len(pages):.1f}" for n in names),
            flush=True,
        )
    best_pass = {name: min(totals[name]) for name in names}
    return best_pass, page_best, {name: (texts[name], reruns[name]) for name in names}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="passes over the pages (each page's best time counts)")
    parser.add_argument(
        "--eval-all", action="store_true", help="also check full/fast/hybrid on all 990 trafilatura_eval pages"
    )
    parser.add_argument("--eval-repeat", type=int, default=2, help="passes for --eval-all")
    parser.add_argument("--result", default=str(REPO / "benchmarks" / "results" / "extract_settings.json"))
    args = parser.parse_args()
    if not HTML.is_dir():
        raise SystemExit(f"real pages not found at {HTML}")
    import trafilatura

    referenced = referenced_pages()
    snippet_pages = eval_pages("zh")
    pages = referenced + snippet_pages
    runs = settings()

    mismatched = [p.name for p in pages if pre_issue7_text(p.html) != runs["full"][2](p.html)]
    best_pass, page_best, last = timed_passes(pages, runs, args.repeat)

    n_ref = len(referenced)
    full_texts = last["full"][0]
    full_scores = [bigram_prf(full_texts[i], p.reference) for i, p in enumerate(referenced)]
    base_ms = 1000 * sum(page_best["full"]) / len(pages)
    table = {}
    for name, (description, _, _) in runs.items():
        texts, reruns = last[name]
        scores = [bigram_prf(texts[i], p.reference) for i, p in enumerate(referenced)]
        f1 = [s[2] for s in scores]
        drops = sorted(((full_scores[i][2] - f1[i], i) for i in range(n_ref)), reverse=True)
        lost_text = [
            referenced[i].name
            for i in range(n_ref)
            if full_scores[i][1] >= 0.3 and scores[i][1] < 0.5 * full_scores[i][1]
        ]
        snippets = [snippet_scores(texts[n_ref + j], p) for j, p in enumerate(snippet_pages)]
        ms = 1000 * sum(page_best[name]) / len(pages)
        table[name] = {
            "description": description,
            "ms_per_page": round(ms, 2),
            "ms_per_page_best_pass": round(1000 * best_pass[name] / len(pages), 2),
            "time_vs_full": round(ms / base_ms, 3),
            "best_pass_vs_full": round(best_pass[name] / best_pass["full"], 3),
            "fallback_reruns": reruns if "hybrid" in name else None,
            "pages_differing_from_full": sum(texts[i] != full_texts[i] for i in range(len(pages))),
            "mean_precision": round(statistics.fmean(s[0] for s in scores), 4),
            "mean_recall": round(statistics.fmean(s[1] for s in scores), 4),
            "mean_f1": round(statistics.fmean(f1), 4),
            "mean_f1_vs_full": round(statistics.fmean(f1) - statistics.fmean(s[2] for s in full_scores), 4),
            "min_f1": round(min(f1), 4),
            # 2 zh_gb2312 pages are <text>-wrapped archive dumps no setting extracts (F1 0 everywhere)
            "min_f1_where_full_extracts": round(min(f1[i] for i in range(n_ref) if full_scores[i][2] > 0), 4),
            "worst_pages": [
                [referenced[i].name, round(f1[i], 3)] for i in sorted(range(n_ref), key=f1.__getitem__)[:5]
            ],
            "largest_f1_drops_vs_full": [
                [referenced[i].name, round(full_scores[i][2], 3), round(f1[i], 3)] for d, i in drops[:5] if d > 0.001
            ],
            "largest_f1_gains_vs_full": [
                [referenced[i].name, round(full_scores[i][2], 3), round(f1[i], 3)]
                for d, i in sorted(drops)[:5]
                if d < -0.001
            ],
            "pages_losing_half_their_recall": lost_text,
            "zh_eval_snippets": {
                "with_found": f"{sum(s[0] for s in snippets)}/{sum(s[1] for s in snippets)}",
                "without_absent": f"{sum(s[2] for s in snippets)}/{sum(s[3] for s in snippets)}",
            },
        }

    result = {
        "trafilatura": trafilatura.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "pages_timed": len(pages),
        "pages_with_reference": n_ref,
        "zh_eval_pages": len(snippet_pages),
        "repeat": args.repeat,
        "fallbacks_always_reproduces_pre_issue7_call": not mismatched,
        "settings": table,
    }
    if mismatched:
        result["pre_issue7_mismatches"] = mismatched
    if args.eval_all:
        chosen = ("full", "fast", "hybrid", "hybrid_len200", "hybrid_share0.1", "hybrid_share0.2")
        result["trafilatura_eval_all"] = eval_all({name: runs[name] for name in chosen}, args.eval_repeat)

    write_result(args.result, result)
    print(
        "\n| setting | ms/page | vs full | best pass vs full | reruns | mean F1 | Δ F1 vs full "
        "| min F1 (71 pages) | pages ≠ full |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, row in table.items():
        print(
            f"| {name} | {row['ms_per_page']} | {row['time_vs_full']} | {row['best_pass_vs_full']} "
            f"| {row['fallback_reruns'] if row['fallback_reruns'] is not None else '-'} | {row['mean_f1']} "
            f"| {row['mean_f1_vs_full']:+.4f} | {row['min_f1_where_full_extracts']} "
            f"| {row['pages_differing_from_full']} |"
        )


def eval_all(runs: dict, repeat: int) -> dict:
    """All trafilatura_eval pages: snippet scores, time and reruns per setting (timed as above)."""
    pages = eval_pages(None)
    best_pass, page_best, last = timed_passes(pages, runs, repeat)
    out: dict = {"pages": len(pages), "repeat": repeat}
    full_texts = last["full"][0]
    for name in runs:
        texts, reruns = last[name]
        scores = [snippet_scores(t, p) for t, p in zip(texts, pages)]
        row = {
            "ms_per_page": round(1000 * sum(page_best[name]) / len(pages), 2),
            "ms_per_page_best_pass": round(1000 * best_pass[name] / len(pages), 2),
            "time_vs_full": round(sum(page_best[name]) / sum(page_best["full"]), 3),
            "with_found": f"{sum(s[0] for s in scores)}/{sum(s[1] for s in scores)}",
            "without_absent": f"{sum(s[2] for s in scores)}/{sum(s[3] for s in scores)}",
            "fallback_reruns": reruns if "hybrid" in name else None,
        }
        if name != "full":
            row["pages_differing_from_full"] = sum(a != b for a, b in zip(full_texts, texts))
            row["pages_under_half_of_full_length"] = [
                p.name for p, a, b in zip(pages, full_texts, texts) if len(b) < 0.5 * len(a)
            ]
        out[name] = row
        print(
            f"eval_all {name}: "
            + ", ".join(f"{k} {v}" for k, v in row.items() if k != "pages_under_half_of_full_length"),
            flush=True,
        )
    return out


if __name__ == "__main__":
    main()
