"""Spam lexicons: no hits on clean news, hits on the real Common Crawl spam pages."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from conftest import common_crawl_chinese_pages, peoples_daily_documents, thucnews_titles

from curate.config_schema import ConfigError, build
from curate.stage import StageStats
from stages.spam_lexicon import BUILTIN_CATEGORIES, BUILTIN_DIR, SpamLexicon, SpamLexiconConfig, read_terms


def run(texts: list[str], config: SpamLexiconConfig | None = None):
    stage = SpamLexicon(config or SpamLexiconConfig())
    stats = StageStats("spam_lexicon")
    return stage.apply(pa.RecordBatch.from_pydict({"text": texts}), stats), stats


def test_lists_are_well_formed() -> None:
    for category in BUILTIN_CATEGORIES:
        terms = read_terms(str(Path(BUILTIN_DIR) / f"{category}.txt"))
        assert len(terms) >= 80
        assert len(terms) == len(set(terms))
        assert all(len(t) >= 2 for t in terms)


def test_clean_news_and_titles_are_kept() -> None:
    texts = peoples_daily_documents(2000) + thucnews_titles(5000)
    out, stats = run(texts)
    assert stats.drops == {}
    assert out.num_rows == len(texts)


def test_real_spam_pages_are_caught() -> None:
    pages = common_crawl_chinese_pages()
    out, stats = run([p["text"] for p in pages])
    assert stats.drops["quality.spam_gambling"] >= 2
    assert stats.drops["quality.spam_porn"] >= 2
    low, high = stats.drop_values["quality.spam_gambling"]
    assert 2.0 <= low <= high


def test_thresholds_need_both_variety_and_density() -> None:
    news = "\n".join(peoples_daily_documents(4))
    assert len(news) > 2000
    mention = news + "\n警方近日破获一起利用六合彩和百家乐网站实施诈骗的案件，提醒市民远离澳门赌场类广告。"
    page = "时时彩 百家乐 六合彩 真人娱乐 体育投注 开户送彩金\n" * 10
    out, stats = run([mention, page])
    assert out.num_rows == 1 and out.column("text")[0].as_py() == mention
    signals = run([page], SpamLexiconConfig(gambling=build_thresholds(100, 0)))[0].column("quality_spam")[0].as_py()
    assert signals["gambling_distinct"] >= 5 and signals["line_share"] == 1.0


def build_thresholds(distinct: int, per_1000: float):
    from stages.spam_lexicon import SpamThresholds

    return SpamThresholds(distinct, per_1000)


def test_user_lists_add_categories(tmp_path: Path) -> None:
    extra = tmp_path / "crypto.txt"
    extra.write_text("# our own list\n空气币\n拉盘喊单\n百倍币\n", encoding="utf-8")
    config = SpamLexiconConfig(extra_lists=[str(extra)], other=build_thresholds(2, 1.0))
    out, stats = run(["空气币 百倍币 拉盘喊单，今晚上车！" * 5, peoples_daily_documents(1)[0]], config)
    assert stats.drops == {"quality.spam_crypto": 1}
    with pytest.raises(ConfigError, match="extra_lists"):
        build(SpamLexiconConfig, {"builtin_lists": False}, "stages[2].spam_lexicon")
