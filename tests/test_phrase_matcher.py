"""The multi-phrase matcher finds exactly what a brute-force search finds."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import common_crawl_chinese_pages, peoples_daily_documents

from stages.phrase_matcher import PhraseMatcher
from stages.spam_lexicon import BUILTIN_CATEGORIES, BUILTIN_DIR, read_terms


def brute_force(phrases: list[str], text: str) -> list[tuple[int, str]]:
    found = []
    for phrase in set(phrases):
        start = text.find(phrase)
        while start >= 0:
            found.append((start, phrase))
            start = text.find(phrase, start + 1)
    return sorted(found)


def test_every_occurrence_including_overlapping_and_nested() -> None:
    phrases = ["六合彩", "六合彩开奖", "彩开", "aa", "a", "开"]
    text = "今天六合彩开奖结果，aaa 六合彩开奖。"
    assert PhraseMatcher(phrases).find(text) == brute_force(phrases, text)


def test_spam_terms_on_real_pages_match_brute_force() -> None:
    terms = [t for c in BUILTIN_CATEGORIES for t in read_terms(str(Path(BUILTIN_DIR) / f"{c}.txt"))]
    matcher = PhraseMatcher(terms)
    texts = [p["text"] for p in common_crawl_chinese_pages()] + peoples_daily_documents(200)
    hits = 0
    for text in texts:
        found = matcher.find(text)
        assert found == brute_force(terms, text.lower())
        hits += len(found)
    assert hits >= 30  # the spam pages do hit (39 here)


def test_matching_ignores_case_one_character_for_one() -> None:
    matcher = PhraseMatcher(["JavaScript", "lorem ipsum", "σοφία"])
    text = "Enable JAVASCRIPT. İİ Lorem Ipsum ΣΟΦΊΑ"
    assert matcher.find(text) == [(7, "javascript"), (22, "lorem ipsum"), (34, "σοφία")]
    # İ lowers to two characters; it stays itself so positions still point into the text.
    assert PhraseMatcher(["i̇x", "İx"]).find("İx İX") == [(0, "İx"), (3, "İx")]
    assert PhraseMatcher(["\U00010428😀"]).find("a\U00010400😀") == [(1, "\U00010428😀")]


def test_short_texts_and_characters_beyond_the_bmp() -> None:
    matcher = PhraseMatcher(["𠀀字", "字", "ab"])
    assert matcher.find("") == []
    assert matcher.find("a") == []
    assert matcher.find("字") == [(0, "字")]
    assert matcher.find("x𠀀字ab") == [(1, "𠀀字"), (2, "字"), (3, "ab")]


@pytest.mark.parametrize("phrase", ["", "两行\n文字"])
def test_phrases_must_be_single_line_and_not_empty(phrase: str) -> None:
    with pytest.raises(ValueError):
        PhraseMatcher([phrase])
