"""The shared text profile: word classes, lines, and the derived profile after line cleaning."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import common_crawl_chinese_pages, peoples_daily_documents

from stages._text_kernels import token_lengths
from stages.text_profile import LETTER, OTHER, PUNCT, _build, kept_lines_profile, profile, substring_hashes


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
        assert np.array_equal(derived.word_hashes, fresh.word_hashes)
        assert derived.n_lines == fresh.n_lines
        assert profile(derived.text, "zh") is derived  # cached for the stages that follow


def test_word_hashes_are_equal_exactly_for_equal_words() -> None:
    for text in (
        peoples_daily_documents(50) + [p["text"] for p in common_crawl_chinese_pages()] + ["The cat  sat.\nthe cat"]
    ):
        page = profile(text, "zh")
        by_hash: dict[int, str] = {}
        for word, value in zip(page.words, page.word_hashes.tolist()):
            assert by_hash.setdefault(value, word) == word
        assert len(by_hash) == len(set(page.words))


def test_substring_hashes_do_not_depend_on_position() -> None:
    text = "\x00ab字ab字\x00"
    codepoints = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    starts, lengths = np.array([1, 4, 0, 1, 3]), np.array([3, 3, 3, 2, 1])
    first, second, with_nul, short, single = substring_hashes(codepoints, starts, lengths).tolist()
    assert first == second
    assert len({first, with_nul, short, single}) == 4


def test_token_lengths_count_code_points() -> None:
    tokens = ["第一行", "", "English", "😀𠀀", "\u0301"]
    assert np.frombuffer(token_lengths(tokens), dtype=np.int64).tolist() == [3, 0, 7, 2, 1]
    with pytest.raises(TypeError, match=r"tokens\[1\] is int"):
        token_lengths(["a", 1])
    with pytest.raises(TypeError, match="list of str"):
        token_lengths(("a",))
