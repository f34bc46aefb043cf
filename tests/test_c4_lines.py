"""C4-style line cleaning on real news with written page furniture around it."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
from conftest import common_crawl_chinese_pages, peoples_daily_documents

from curate.stage import Drop, StageStats
from stages.c4_lines import C4Lines, C4LinesConfig
from stages.text_profile import profile, sentence_count
from stages.words import TERMINAL_PUNCTUATION


def clean(texts: list[str], **options) -> tuple[pa.RecordBatch, StageStats, list]:
    stage = C4Lines(C4LinesConfig(**options))
    batch = pa.RecordBatch.from_pydict({"text": texts, "lang": ["zh"] * len(texts)})
    _, reasons = stage.annotate(batch)
    stats = StageStats("c4_lines")
    return stage.apply(batch, stats), stats, reasons


FURNITURE = [
    "首页 新闻 科技 财经",
    "当前位置：首页 > 新闻",
    "版权所有 © 2024 城市新闻网 京ICP备00012345号",
    "请启用JavaScript以获得最佳体验",
    "分享到：微信 微博",
    "上一篇：冬季如何养生",
    "Copyright © 2024 All Rights Reserved",
]


def test_furniture_lines_go_and_the_article_stays() -> None:
    news = next(d for d in peoples_daily_documents(100) if sentence_count(profile(d, "zh")) >= 10)
    page = "\n".join(FURNITURE[:3]) + "\n" + news + "[1]\n" + "\n".join(FURNITURE[3:])
    out, stats, _ = clean([page])
    text = out.column("text")[0].as_py()
    for line in FURNITURE:
        assert line not in text
    assert "[1]" not in text
    kept_news = [line for line in news.split("\n") if len(line) > 20]
    assert all(line in text for line in kept_news)
    signals = out.column("quality_c4")[0].as_py()
    assert signals["lines_removed"] >= len(FURNITURE)


def test_a_paragraph_that_mentions_copyright_is_not_boilerplate() -> None:
    paragraph = "记者了解到，不少网站在页面底部标注版权所有，但对转载行为缺乏有效约束，" * 3 + "专家建议完善相关法规。"
    out, _, _ = clean([paragraph], min_sentences=1)
    assert out.column("text")[0].as_py() == paragraph


def test_document_drops_and_their_values() -> None:
    news = peoples_daily_documents(3)[2]
    lorem = news + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit."
    code = news + "\nfunction f() { return 1; }"
    short = "只有一句话的页面。"
    _, stats, reasons = clean([lorem, code, short], filter_curly_bracket=True, min_sentences=5)
    assert reasons[0] == "quality.c4_lorem_ipsum"
    assert reasons[1] == "quality.c4_curly_bracket"
    # Off by default: code is a policy (stages/policy.py), a single { is no evidence.
    assert clean([code])[2] == [None]
    assert reasons[2] == Drop("quality.c4_too_few_sentences", 1)
    assert stats.drop_values["quality.c4_too_few_sentences"] == [1, 1]


def test_min_sentences_boundary() -> None:
    text = "第一句话很长。第二句话也很长。第三句话还是很长。"
    assert clean([text], min_sentences=3)[2] == [None]
    assert clean([text], min_sentences=4)[2] == [Drop("quality.c4_too_few_sentences", 3)]


def test_terminal_punctuation_rule_when_configured() -> None:
    text = "这是一个没有句号结尾的标题行\n这是正文的第一句话，它以句号结尾。"
    out, _, _ = clean([text], min_sentences=1, filter_no_terminal_punct=True)
    assert out.column("text")[0].as_py() == "这是正文的第一句话，它以句号结尾。"
    out, _, _ = clean([text], min_sentences=1)
    assert out.column("text")[0].as_py() == text


def test_navigation_rule_spares_english_headings() -> None:
    lines = [
        "首页 | 新闻 | 科技 | 财经",
        "當前位置 > 新聞 > 國際",
        "How to bake a cake at home",
        "我们 今天 去 公园。",
        "  ·首页·· 新闻 ·科技·  ",
        "",
        "首页 | 新闻 | 国际新闻深度报道",
    ]
    navigation = navigation_lines("\n".join(lines))
    assert navigation.tolist() == [True, True, False, False, True, False, False]


def navigation_lines(text: str) -> np.ndarray:
    terminal = np.array([line.strip().endswith(TERMINAL_PUNCTUATION) for line in text.split("\n")])
    page = profile(text, "zh")
    return C4Lines(C4LinesConfig()).navigation_lines(page, terminal)


def is_navigation_line(line: str, max_item_chars: int = 6) -> bool:
    """The rule written out per line, as a reference."""
    if line.strip().endswith(TERMINAL_PUNCTUATION):
        return False
    items = [item for item in re.split(r"[ \t\u3000\xa0|｜/>»›·•]+", line) if item]
    han = sum(
        bool(re.search(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]", item)) for item in items
    )
    return len(items) >= 3 and all(len(item) <= max_item_chars for item in items) and 2 * han >= len(items)


def test_navigation_lines_equal_the_per_line_rule_on_real_pages() -> None:
    furnished = [
        "\n".join(FURNITURE + document.split("\n") + FURNITURE[::-1]) for document in peoples_daily_documents(20)
    ]
    found = 0
    for text in [page["text"] for page in common_crawl_chinese_pages()] + furnished:
        expected = [is_navigation_line(line) for line in text.split("\n")]
        assert navigation_lines(text).tolist() == expected
        found += sum(expected)
    assert found >= 40


def test_boilerplate_lines_are_found_after_characters_that_grow_in_lower_case() -> None:
    text = "İİİ 这是第一句完整的话，内容很长很长。\n© 2024 版权所有\n这是第二句完整的话，内容也很长很长。"
    out, _, _ = clean([text], min_sentences=1)
    assert (
        out.column("text")[0].as_py() == "İİİ 这是第一句完整的话，内容很长很长。\n这是第二句完整的话，内容也很长很长。"
    )
