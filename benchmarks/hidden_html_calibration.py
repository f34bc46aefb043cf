"""screen_hidden_html on real pages: what each rule measures on pages that are no attack, how often
it fires at the configured thresholds, its recall on attacks planted into the same pages, and the
screen's time per page (issue 13, item 4).

Pages (``../shared/data``, original bytes, read through ``dev_data.py``), extracted by the extract
stage with its defaults, which gives the text the screen compares with (in a pipeline the screen
sees that text after line cleaning, which only removes lines):

- ``chinese``: ``html/zh_sites`` (143: 102 article, forum and Q&A pages, 41 portal pages: news
  lists, product pages, search results, home and error pages), ``html/zh_gb2312`` (69), the four
  Chinese readability test pages (gmw, pixnet, qq, youth) and the Common Crawl excerpt's 11
  labelled Chinese pages: pages with no hidden-text attack;
- ``gambling``: the 144 gambling operator pages of ``spam/zh`` (hidden tabs and pop-ups; spam,
  but no hidden-text attack either);
- ``western`` (``--western``): trafilatura's evaluation pages (eval and cache), the scrapinghub
  pages and all 130 readability test pages: other languages and page types, a check that the
  thresholds do not hold only for the pages they were set on.

Per page, the signals as the screen measures them (``HiddenHtmlScreen.measure``); per set, the
highest values and the share of pages each rule flags. Attacks are planted into every zh_sites
page, hidden in the eight ways of ``tests/hidden_attacks.py`` in turn: templated instructions to a
model inside a hidden paragraph, a keyword-stuffing list, a link farm, a hidden article of five
People's Daily paragraphs (300 characters or more), and a hidden paragraph inside the article
body in the five ways trafilatura keeps (the page extracted again). The instruction sentences of
``tests/hidden_attacks.py`` are scored on their own (seen while writing the patterns, and unseen).

Time: the screen's CPU time per page on the zh_sites pages, best of ``--repeat`` passes.

    python benchmarks/hidden_html_calibration.py [--western] [--repeat 5] [--result PATH]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
import time
from pathlib import Path

import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO / "tests"))  # the real-data loaders and the attack builders
from dev_data import (  # noqa: E402  (a sibling module, importable only after the sys.path insert above)
    SHARED,
    Item,
    cc_excerpt_items,
    gb2312_items,
    spam_items,
    zh_sites_items,
)

READABILITY_CHINESE = ("gmw", "pixnet", "qq", "youth")


def readability_items(names: tuple[str, ...] | None) -> list[Item]:
    folder = SHARED / "html" / "readability_testpages"
    sources = (
        [folder / name / "source.html.gz" for name in names] if names else sorted(folder.glob("*/source.html.gz"))
    )
    return [
        Item(
            f"readability/{s.parent.name}",
            "good",
            "readability",
            "readability",
            f"http://www.{s.parent.name}.example.com/",
            gzip.decompress(s.read_bytes()),
        )
        for s in sources
    ]


def western_items() -> list[Item]:
    html = SHARED / "html"
    pages = sorted((html / "trafilatura_eval" / "eval").glob("*.html.gz")) + sorted(
        (html / "trafilatura_eval" / "cache").glob("*.html.gz")
    )
    pages += sorted((html / "scrapinghub_benchmark" / "html").glob("*.html.gz"))
    items = [
        Item(
            f"western/{p.name}",
            "good",
            "western",
            "western",
            f"http://page{n}.example.org/{p.name}",
            gzip.decompress(p.read_bytes()),
        )
        for n, p in enumerate(pages)
    ]
    return items + readability_items(None)


def page_sets(western: bool) -> dict[str, list[Item]]:
    sets = {
        "chinese": zh_sites_items() + gb2312_items() + readability_items(READABILITY_CHINESE) + cc_excerpt_items(),
        "gambling": [item for item in spam_items() if item.genre == "gambling_operator_pages"],
    }
    if western:
        sets["western"] = western_items()
    return sets


def extract(htmls: list[bytes], urls: list[str], content_types: list[str | None]) -> pa.RecordBatch:
    from hidden_attacks import page_batch

    from stages.extract import Extract, ExtractConfig

    # Every page kept (pages without text too), in order.
    return Extract(ExtractConfig()).evaluate(page_batch(htmls, urls, content_types))[0]


def measured(stage, batch: pa.RecordBatch) -> list:
    from stages.charset import decode_html

    columns = (batch.column(name).to_pylist() for name in ("html", "http_content_type", "text", "domain"))
    return [
        stage.measure(decode_html(html, content_type).text, text or "", domain)
        for html, content_type, text, domain in zip(*columns)
    ]


def describe(stage, items: list[Item], batch: pa.RecordBatch) -> dict:
    """The highest signal values of a page set and how often each rule fires."""
    signals = measured(stage, batch)
    findings = [stage.judge(s) for s in signals]
    ids = [item.id for item in items]
    portal = [item.label == "portal" for item in items]

    def top(values: list[float], n: int = 5) -> list:
        return sorted((round(v, 2), i) for v, i in zip(values, ids))[-n:][::-1]

    reached = [s.reached for s in signals]
    rules = sorted({rule for found in findings for rule, _ in found})
    return {
        "pages": len(items),
        "flagged": round(sum(bool(f) for f in findings) / len(items), 4),
        "portal_pages": sum(portal),
        "portal_flagged": sum(bool(f) and p for f, p in zip(findings, portal)),
        "per_rule": {
            rule: round(sum(any(r == rule for r, _ in f) for f in findings) / len(items), 4) for rule in rules
        },
        "flagged_pages": {i: [r for r, _ in f] for i, f in zip(ids, findings) if f},
        "top": {
            "hidden_prose_in_text": top(reached),
            "share_of_text_when_50_or_more": sorted(
                (round(r / max(s.text_chars, 1), 2), i) for r, s, i in zip(reached, signals, ids) if r >= 50
            )[::-1],
            "largest_hidden_block": top([s.block_chars for s in signals]),
            "compression": top([s.compression for s in signals]),
            "term_repetition": top([s.repetition for s in signals]),
            "other_sites": top([len(s.other_sites) for s in signals]),
        },
        "instructions": [i for s, i in zip(signals, ids) if s.instruction],
    }


def attacks(stage, sites: list[Item], batch: pa.RecordBatch) -> dict:
    """Recall of each rule on attacks planted into every zh_sites page."""
    from conftest import peoples_daily_documents
    from hidden_attacks import (
        KEPT_BY_TRAFILATURA,
        after_body_tag,
        hidden_block,
        inside_article,
        keyword_stuffing,
        link_farm,
        templated_instructions,
    )

    from stages.charset import decode_html

    rng = random.Random(13)
    n = batch.num_rows
    decoded = [
        decode_html(h, t).text
        for h, t in zip(batch.column("html").to_pylist(), batch.column("http_content_type").to_pylist())
    ]
    news = peoples_daily_documents(n + 400, paragraphs=5)
    filler = [d.split("\n")[0] for d in news]
    # Hidden articles of 300 characters or more (shorter ones are left to the other rules).
    articles = [d for d in news if len(d) >= 300]
    kinds = {
        "instructions": (
            "screen.hidden_instructions",
            [
                hidden_block(f"<p>{f[:60]}{p}{f[60:120]}</p>", i)
                for i, (p, f) in enumerate(zip(templated_instructions(rng, n), filler))
            ],
        ),
        "stuffing": ("screen.hidden_stuffing", [hidden_block(keyword_stuffing(rng), i) for i in range(n)]),
        "links": ("screen.hidden_links", [hidden_block(link_farm(rng), i) for i in range(n)]),
        "hidden_article": (
            "screen.hidden_text",
            [hidden_block("".join(f"<p>{p}</p>" for p in articles[-1 - i].split("\n")), i) for i in range(n)],
        ),
    }
    recall = {}
    for kind, (rule, blocks) in kinds.items():
        htmls = [after_body_tag(page, block).encode("utf-8") for page, block in zip(decoded, blocks)]
        planted = batch.set_column(
            batch.schema.get_field_index("html"), "html", pa.array(htmls, pa.binary())
        ).set_column(
            batch.schema.get_field_index("http_content_type"),
            "http_content_type",
            pa.array(["text/html; charset=utf-8"] * n, pa.string()),
        )
        found = [stage.judge(s) for s in measured(stage, planted)]
        recall[kind] = round(sum(any(r == rule for r, _ in f) for f in found) / n, 4)
    # A hidden paragraph inside the article, in the ways trafilatura keeps: extracted again.
    foreign = [p for p in (d.split("\n")[1] for d in news) if 60 <= len(p) <= 300]
    htmls, urls, plants, kept = [], [], [], []
    for i, (page, text, url) in enumerate(
        zip(decoded, batch.column("text").to_pylist(), batch.column("url").to_pylist())
    ):
        plant = foreign[i % len(foreign)]
        with_plant = inside_article(
            page, text or "", f"<p {KEPT_BY_TRAFILATURA[i % len(KEPT_BY_TRAFILATURA)]}>{plant}</p>"
        )
        if with_plant is not None:
            htmls.append(with_plant.encode("utf-8"))
            urls.append(url)
            plants.append(plant)
            kept.append(sites[i].id)
    again = extract(htmls, urls, ["text/html; charset=utf-8"] * len(htmls))
    reached = [
        plant in (text or "").replace("\n", "") for plant, text in zip(plants, again.column("text").to_pylist())
    ]
    found = [stage.judge(s) for s in measured(stage, again)]
    caught = [any(r == "screen.hidden_text" for r, _ in f) for f in found]
    recall["paragraph_in_article"] = {
        "pages": len(plants),
        "missed_on": [item for item, c, r in zip(kept, caught, reached) if r and not c],
        "in_extracted_text": sum(reached),
        "caught_of_those_in_text": round(sum(c for c, r in zip(caught, reached) if r) / max(sum(reached), 1), 4),
    }
    return recall


def instruction_sentences() -> dict:
    from hidden_attacks import INSTRUCTIONS_SEEN, INSTRUCTIONS_UNSEEN

    from stages.screens.hidden_html import instruction

    return {
        "seen_while_writing_patterns": (
            f"{sum(bool(instruction(s)) for s in INSTRUCTIONS_SEEN)} of {len(INSTRUCTIONS_SEEN)}"
        ),
        "unseen": f"{sum(bool(instruction(s)) for s in INSTRUCTIONS_UNSEEN)} of {len(INSTRUCTIONS_UNSEEN)}",
        "missed_unseen": [s for s in INSTRUCTIONS_UNSEEN if not instruction(s)],
    }


def ms_per_page(stage, batch: pa.RecordBatch, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        stage.screen(batch)
        best = min(best, time.process_time() - started)
    return round(best / batch.num_rows * 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--western", action="store_true", help="also the 1,343 mostly Western pages")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--result", default=str(REPO / "benchmarks" / "results" / "hidden_html_calibration.json"))
    args = parser.parse_args()

    from curate.config_schema import build
    from stages.screens.hidden_html import HiddenHtmlScreen, HiddenHtmlScreenConfig

    stage = HiddenHtmlScreen(build(HiddenHtmlScreenConfig, {"action": "flag"}, "screen_hidden_html"))
    result: dict = {"config": vars(stage.config), "sets": {}}
    for name, items in page_sets(args.western).items():
        batch = extract([i.html for i in items], [i.url for i in items], [i.content_type for i in items])
        result["sets"][name] = describe(stage, items, batch)
        if name == "chinese":
            sites = [i for i in items if i.genre == "zh_sites"]
            site_batch = batch.slice(0, len(sites))
            result["zh_sites"] = describe(stage, sites, site_batch)
            result["attacks_planted_in_zh_sites"] = attacks(stage, sites, site_batch)
            result["ms_per_page_zh_sites"] = ms_per_page(stage, site_batch, args.repeat)
    result["instruction_sentences"] = instruction_sentences()
    os.makedirs(os.path.dirname(args.result), exist_ok=True)
    with open(args.result, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=1, ensure_ascii=False, default=str)
        handle.write("\n")
    for name, summary in [("zh_sites", result["zh_sites"]), *result["sets"].items()]:
        print(
            f"{name}: {summary['pages']} pages, flagged {summary['flagged']:.1%} "
            f"(portal {summary['portal_flagged']}/{summary['portal_pages']}), per rule {summary['per_rule']}"
        )
    print("attacks planted in zh_sites:", json.dumps(result["attacks_planted_in_zh_sites"], ensure_ascii=False))
    print("instruction sentences:", json.dumps(result["instruction_sentences"], ensure_ascii=False))
    print("ms/page on zh_sites:", result["ms_per_page_zh_sites"])


if __name__ == "__main__":
    main()
