"""Gambling SEO injected into ordinary pages: caught by its shape on pages and across sites, never by brand."""

from __future__ import annotations

import collections
import random
import sys
from html import escape
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from conftest import REPO, peoples_daily_documents, real_chinese_page_batch, require_shared

from curate.config import load_config
from curate.runner import run_pipeline
from curate.stage import Drop, StageStats
from curate.warc_writer import write_response
from stages.spam_injection import SpamInjection, SpamInjectionConfig

sys.path.insert(0, str(REPO / "benchmarks"))
import dev_data  # noqa: E402  (the dev-data loaders and the injection generator of the benchmarks)


def stage() -> SpamInjection:
    return SpamInjection(SpamInjectionConfig())


def injected(title: str | None, text: str) -> list[str]:
    measured = stage().measure(title, text)
    return [reason for reason, _, failed in stage().checks(measured) if failed]


def genre_documents() -> list[dict]:
    folder = require_shared("zh_text", "genres")
    return [row for path in sorted(folder.glob("*.jsonl.gz")) for row in dev_data._jsonl(path)]


# Recall per template on 200 random injections into known-good documents each, with random brands
# (measured: 0.92, 0.925, 0.875, 0.91, 0.96; the misses are the generator's categories the rule does
# not know, such as 国际). A name with a category and no access word in the title reads as a portal's
# own name (_某某体育) on one page: 0.375, left to spam_name_bursts across sites.
TEMPLATE_RECALL = {
    "title_suffix": 0.88,
    "title_prefix": 0.88,
    "lead_bracket": 0.83,
    "lead_address": 0.87,
    "repeated_heading": 0.92,
}


def test_injections_into_known_good_documents_are_caught_by_template() -> None:
    rng = random.Random(5)
    sources = [
        row
        for row in genre_documents()
        if row["genre"] in {"finance_news", "encyclopedia", "forum", "legal", "essay", "web_document"}
        and len(row["text"]) >= 300
    ]
    for template, inject in dev_data.INJECTION_TEMPLATES.items():
        caught = 0
        for row in rng.sample(sources, 200):
            title, text = inject(
                dev_data.brand_name(rng),
                rng.choice(dev_data.INJECTION_CATEGORIES),
                rng.choice(dev_data.INJECTION_ACCESS),
                rng.choice(dev_data.LOTTERY_GAMES),
                row.get("title") or "",
                row["text"],
            )
            caught += bool(injected(title, text))
        if template in TEMPLATE_RECALL:
            assert caught / 200 >= TEMPLATE_RECALL[template], (template, caught)


def test_known_good_documents_with_their_titles_are_left_alone() -> None:
    flagged = collections.Counter()
    documents = genre_documents()
    for row in documents:
        if injected(row.get("title"), row["text"]):
            flagged[row["genre"]] += 1
    # Measured: 1 of 3,289 (an uncurated search-result page that opens with a game platform's answer).
    assert sum(flagged.values()) <= 2 and set(flagged) <= {"web_document"}, flagged
    # Real pages with their real titles (portal suffixes such as _网易财经 included): none.
    batch = real_chinese_page_batch()
    titles, texts = batch.column("title").to_pylist(), batch.column("text").to_pylist()
    assert sum(1 for t, x in zip(titles, texts) if t) >= 60
    assert [t for t, x in zip(titles, texts) if injected(t, x)] == []


def test_the_shape_not_the_brand() -> None:
    news = peoples_daily_documents(1)[0]
    assert injected(None, news) == []
    # A portal's own name after the article title: a name with a category is no offer.
    assert injected("央行下调存款准备金率_某报体育", news) == []
    # An offer the body never mentions: in the title, or in brackets before the first paragraph.
    assert injected("央行下调存款准备金率_赫钧体育app下载", news) == ["quality.spam_title_injection"]
    assert injected("霁昇娱乐(中国)官方网站-央行下调存款准备金率", news) == ["quality.spam_title_injection"]
    assert injected(None, "【霁昇体育】" + news) == ["quality.spam_lead_injection"]
    assert injected(None, "zqx88现金网网址：zqx88现金网最新网址\n" + news) == ["quality.spam_lead_injection"]
    # The same brand named in the body: a page about it, not an injection; a page about betting
    # (a report on lottery sales) is the lexicon's and the classifier's, not this rule's.
    assert injected("赫钧体育app下载", news + "\n赫钧体育的客户端上周更新。") == []
    lottery = "福利彩票本期开奖，彩票销售额上升，投注站数量增加。" * 20
    assert injected("彩票销售数据_某报彩票频道", lottery) == []
    out = stage().apply(
        pa.RecordBatch.from_pydict({"text": [news, news], "title": ["x_赫钧体育app下载", None]}),
        stats := StageStats("spam_injection"),
    )
    assert out.num_rows == 1 and stats.drops == {"quality.spam_title_injection": 1}
    assert stats.drop_values["quality.spam_title_injection"] == [0.0, 0.0]
    _, failed = stage().failures(pa.RecordBatch.from_pydict({"text": [news], "title": ["x_赫钧体育app下载"]}))
    assert failed == [[Drop("quality.spam_title_injection", 0.0)]]


def page(title: str, text: str) -> bytes:
    body = "".join(f"<p>{escape(line)}</p>" for line in text.split("\n"))
    head = f"<head><meta charset='utf-8'><title>{escape(title)}</title></head>"
    return f"<html>{head}<body><article>{body}</article></body></html>".encode()


def test_one_name_on_many_sites_is_flagged_on_every_surviving_copy(tmp_path: Path) -> None:
    news = peoples_daily_documents(30, paragraphs=6)
    rng = random.Random(3)
    brand = dev_data.brand_name(rng)
    campaign = brand + "体育"  # a name with a category and no access word: no offer on one page
    two_sites = dev_data.brand_name(rng) + "体育"
    with open(tmp_path / "a.warc.gz", "wb") as a, open(tmp_path / "b.warc.gz", "wb") as b:
        for i, text in enumerate(news):
            title = f"第{i}篇报道"
            if i < 8:
                title += f"_{campaign}"
                if i < 3:
                    text = text[:30]  # too short for the policy: dropped, yet counted
            elif i < 10:
                title += f"_{two_sites}"
            elif i < 16:
                title += "_某报体育"  # a portal's own name, on its one site
            host = f"www.site{i}.com.cn" if i < 10 else "sports.paper.example.cn"
            write_response(a if i % 2 else b, f"http://{host}/news/{i}.html", page(title, text))
    config_path = tmp_path / "c.yaml"
    config_path.write_text(
        f"name: t\ninput:\n  paths: ['{tmp_path}/*.warc.gz']\n"
        "stages:\n  - extract: {}\n  - langid: {}\n  - spam_injection: {}\n"
        "  - policy: {}\n  - spam_name_bursts: {min_domains: 5, partitions: 3}\n"
        f"output:\n  path: {tmp_path / 'out'}\n"
    )
    manifest = run_pipeline(load_config(str(config_path)), executor="local").manifest
    rows = pq.read_table(tmp_path / "out" / "data").to_pylist()
    flagged = sorted(int(row["url"].rsplit("/", 1)[1].split(".")[0]) for row in rows if row["screen_flags"])
    assert flagged == [3, 4, 5, 6, 7]
    evidence = next(row["screen_evidence"][0]["evidence"] for row in rows if row["screen_flags"])
    assert (
        evidence
        == f"{brand.lower()!r} in the titles or first lines of 8 documents on 8 domains, never in their bodies"
    )
    stages = {s["name"]: s for s in manifest["stages"]}
    assert (
        stages["spam_name_bursts"]["flags"] == {"spam.name_burst": 5} and stages["spam_name_bursts"]["observed"] == 30
    )
    assert stages["policy"]["drops"] == {"policy.too_short": 3}
