"""Segmentation and the line/sentence helpers the quality rules share."""

from __future__ import annotations

from conftest import peoples_daily_documents

from stages.text_profile import profile, sentence_count
from stages.words import ends_with_terminal_punctuation, segmenter


def test_rjieba_gives_jieba_words_on_real_news() -> None:
    for text in peoples_daily_documents(40):
        assert segmenter("rjieba")(text) == segmenter("jieba")(text)
        assert profile(text, "zh", "rjieba").words == profile(text, "zh", "jieba").words


def test_space_separated_languages_split_on_whitespace() -> None:
    assert profile("The cat  sat.\nOn the mat", "en").words == ("The", "cat", "sat.", "On", "the", "mat")
    assert "公园" in profile("我们去公园散步。", "zh").words


def test_terminal_punctuation_and_sentences() -> None:
    for line in ("他说：“好的。”", "真的吗？", "就这样……", "结束；", "「完」", "『好』", "Done.", "Really!"):
        assert ends_with_terminal_punctuation(line), line
    for line in ("首页 新闻 科技", "2024-05-01", "关于我们"):
        assert not ends_with_terminal_punctuation(line), line
    assert sentence_count(profile("第一句。第二句！第三句？第四句", "zh")) == 4
    assert sentence_count(profile("第一句！！！第二句……", "zh")) == 2
    assert sentence_count(profile("It costs 3.5 yuan. Really", "en")) == 2
    assert sentence_count(profile("", "zh")) == 0
