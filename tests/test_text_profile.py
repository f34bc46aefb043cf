"""The shared text profile: word classes, lines, and the derived profile after line cleaning."""

from __future__ import annotations

import numpy as np

from stages.text_profile import LETTER, OTHER, PUNCT, _build, kept_lines_profile, profile

from conftest import common_crawl_chinese_pages, peoples_daily_documents


def test_words_classes_and_lines() -> None:
    page = profile("第一行文字。\n\n第二行 English words 123！\n  第三行", "zh")
    assert page.words == ("第一行", "文字", "。", "第二行", "English", "words", "123", "！", "第三行")
    assert page.word_kinds.tolist() == [LETTER, LETTER, PUNCT, LETTER, LETTER, LETTER, OTHER, PUNCT, LETTER]
    assert page.word_lines.tolist() == [0, 0, 0, 2, 2, 2, 2, 2, 3]
    assert page.words_per_line().tolist() == [2, 0, 4, 1]


def test_derived_profile_equals_segmenting_the_cleaned_text_again() -> None:
    texts = peoples_daily_documents(200) + [p["text"] for p in common_crawl_chinese_pages()]
    for text in texts:
        lines = text.split("\n")
        kept = [i for i, line in enumerate(lines) if i % 3 != 1 and line.strip()]
        derived = kept_lines_profile(profile(text, "zh"), kept, [lines[i].strip() for i in kept], "zh", "rjieba")
        fresh = _build(derived.text, "zh", "rjieba")
        assert derived.words == fresh.words
        assert np.array_equal(derived.word_lines, fresh.word_lines)
        assert np.array_equal(derived.word_kinds, fresh.word_kinds)
        assert derived.n_lines == fresh.n_lines
        assert profile(derived.text, "zh") is derived  # cached for the stages that follow
