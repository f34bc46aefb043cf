"""C4-style line cleaning, adapted to Chinese pages. This stage rewrites ``text``.

Removes lines that are not prose:
- boilerplate: copyright, ICP/公安 filing numbers, privacy and cookie notices,
  "contact us", "back to top", share bars, editor credits (Chinese and English
  phrases, only in lines shorter than ``boilerplate_max_line_chars`` so a real
  paragraph that mentions copyright stays);
- navigation: menus and breadcrumbs, three or more short items separated by
  spaces, |, /, > or · (首页 | 新闻 | 科技), without end punctuation;
- lines with fewer than ``min_words_per_line`` words (jieba words for Chinese):
  navigation labels, breadcrumbs, button text;
- lines mentioning "javascript" (enable-JavaScript notices);
- lines with a "word" longer than ``max_word_length`` (base64, minified code);
- lines without terminal punctuation, when ``filter_no_terminal_punct`` is on
  (off by default, as FineWeb does: Chinese headings rarely end with 。);
and strips citation marks like ``[1]`` and ``[编辑]``.

Drops the document (``quality.c4_*``):
- ``c4_lorem_ipsum``: placeholder text;
- ``c4_curly_bracket``: ``{`` anywhere (off by default: one ``{`` also drops a
  Wikipedia page with a ``-{zh-hans:...}-`` conversion mark; code is a policy,
  ``policy.code`` in ``stages/policy.py``, measured as a share of the text);
- ``c4_too_few_sentences``: fewer than ``min_sentences`` sentences left after cleaning
  (the value recorded is the sentence count; calibrated, see ``configs/zh_web.yaml``).

Adds ``quality_c4`` (lines kept/removed, characters removed, sentences).
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pyarrow as pa

from curate.config_schema import bounds
from curate.decoded_columns import column_values
from curate.stage import Check, Reason, Stage, Threshold, as_reason, first_failure
from stages._text_kernels import navigation_lines
from stages.cjk import han_mask
from stages.phrase_matcher import phrase_matcher
from stages.text_profile import CharSet, TextProfile, kept_lines_profile, profile, sentence_count
from stages.words import TERMINAL_PUNCTUATION

BOILERPLATE_PHRASES = (
    # Chinese and Traditional Chinese page furniture
    "版权所有",
    "版權所有",
    "版权归",
    "版權歸",
    "备案号",
    "備案號",
    "icp备",
    "icp證",
    "icp证",
    "公网安备",
    "网安备",
    "免责声明",
    "免責聲明",
    "隐私政策",
    "隱私權政策",
    "隐私条款",
    "使用条款",
    "使用條款",
    "服务条款",
    "服務條款",
    "联系我们",
    "聯絡我們",
    "聯繫我們",
    "关于我们",
    "關於我們",
    "返回顶部",
    "回到顶部",
    "回到頂端",
    "返回首頁",
    "分享到",
    "分享至",
    "责任编辑",
    "責任編輯",
    "未经授权",
    "未經授權",
    "转载请注明",
    "轉載請註明",
    "上一篇",
    "下一篇",
    "网站地图",
    "網站地圖",
    "当前位置",
    "當前位置",
    "您的位置",
    "目前位置",
    "扫一扫",
    "掃一掃",
    "扫码关注",
    "手机版",
    "手機版",
    # C4's English policy phrases
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
    "all rights reserved",
    "copyright ©",
    "copyright (c)",
)
# One pass over a page finds the boilerplate phrases, "javascript" and "lorem ipsum".
_NOT_BOILERPLATE = ("javascript", "lorem ipsum")
_PAGE_PHRASES = BOILERPLATE_PHRASES + _NOT_BOILERPLATE
_ENDS_WITH_TERMINAL = operator.methodcaller("endswith", TERMINAL_PUNCTUATION)
_NAV_SEPARATOR_CHARS = " \t\u3000\xa0|｜/>»›·•"
_NAV_SEPARATOR_SET = CharSet(_NAV_SEPARATOR_CHARS)
_CITATION = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]|\[编辑\]|\[編輯\]", re.IGNORECASE)


@dataclass
class C4LinesConfig:
    min_words_per_line: int = field(default=3, metadata=bounds(0))
    """C4: 3 words. Counted in jieba words for Chinese, so a nav label like 首页 has one."""
    min_sentences: int = field(default=1, metadata=bounds(0))
    """Calibrated (``benchmarks/calibrate_quality.py``): at most 0.5 % of any genre's known-good
    documents fail it; set by encyclopedic. Published: C4 5."""
    max_word_length: int = field(default=1000, metadata=bounds(1))
    """C4: 1000 characters."""
    filter_no_terminal_punct: bool = False
    """C4 removes lines without terminal punctuation; FineWeb and FineWeb-2 turn it off."""
    boilerplate_max_line_chars: int = field(default=100, metadata=bounds(0))
    """Our choice: boilerplate phrases remove a line only when it is this short."""
    filter_navigation: bool = True
    """Ours: remove menu lines, 3+ short items (at most ``nav_item_max_chars``) split by spaces, |, /, > or ·,
    without end punctuation."""
    nav_item_max_chars: int = field(default=6, metadata=bounds(1))
    filter_javascript: bool = True
    filter_lorem_ipsum: bool = True
    filter_curly_bracket: bool = False
    """C4 drops any page with ``{``; here off by default, code being ``policy.code``."""
    remove_citations: bool = True
    segmenter: Literal["rjieba", "jieba"] = "rjieba"


class C4Lines(Stage):
    name = "c4_lines"
    config_class = C4LinesConfig
    reads = ("text", "lang")
    writes = (
        pa.field("text", pa.string()),
        pa.field(
            "quality_c4",
            pa.struct(
                [
                    pa.field("lines_kept", pa.int32()),
                    pa.field("lines_removed", pa.int32()),
                    pa.field("chars_removed", pa.int32()),
                    pa.field("sentences", pa.int32()),
                ]
            ),
        ),
    )

    signal_column = "quality_c4"
    reason_prefix = "quality.c4_"
    thresholds = (Threshold("quality.c4_too_few_sentences", "sentences", "min_sentences", "min", published=5),)

    def navigation_lines(self, page: TextProfile, terminal: np.ndarray) -> np.ndarray:
        """Which lines are menus: no terminal punctuation (``terminal``: per line, whether it ends
        with some), 3+ items split by separators, each at most ``nav_item_max_chars``, at least
        half of them with a Han character. An item is a run of characters between separators
        or line ends; one pass in C (``stages/_text_kernels.c``)."""
        # Chinese prose does not put spaces between words, so spaced short items are a menu.
        # Only applied to CJK items: an English heading has spaces and short words too.
        codepoints = page.codepoints
        separators = _NAV_SEPARATOR_SET.mask(codepoints).view(np.uint8)
        found = navigation_lines(
            codepoints,
            separators,
            han_mask(codepoints).view(np.uint8),
            terminal.view(np.uint8),
            self.config.nav_item_max_chars,
        )
        return np.frombuffer(found, dtype=bool)

    def removed_lines(self, page: TextProfile, lines: list[str], found: list[tuple[int, str]]) -> np.ndarray:
        """Which of the page's lines (``lines``, stripped) to remove, decided with arrays.
        ``found``: the (start, phrase) matches of ``_PAGE_PHRASES`` in the page, from one pass."""
        config = self.config
        n = page.n_lines
        lengths = np.fromiter(map(len, lines), dtype=np.int64, count=n)
        remove = page.words_per_line() < config.min_words_per_line
        remove[page.word_lines[page.word_lengths > config.max_word_length]] = True
        if found:
            newlines = np.flatnonzero(page.codepoints == 10)
            boilerplate = np.searchsorted(
                newlines,
                np.array([start for start, phrase in found if phrase not in _NOT_BOILERPLATE], dtype=np.int64),
            )
            # A long line is never removed for a phrase: a paragraph may mention copyright.
            remove[boilerplate[lengths[boilerplate] <= config.boilerplate_max_line_chars]] = True
            if config.filter_javascript:
                remove[
                    np.searchsorted(
                        newlines,
                        np.array([start for start, phrase in found if phrase == "javascript"], dtype=np.int64),
                    )
                ] = True
        terminal = np.fromiter(map(_ENDS_WITH_TERMINAL, lines), dtype=bool, count=n)
        if config.filter_no_terminal_punct:
            remove |= ~terminal
        if config.filter_navigation:
            remove |= self.navigation_lines(page, terminal)
        return remove | (lengths == 0)

    def annotate(self, batch: pa.RecordBatch) -> tuple[dict[str, list], list[Reason]]:
        columns, checks = self.cleaned(batch)
        return columns, [first_failure(document) for document in checks]

    def failures(self, batch: pa.RecordBatch) -> tuple[dict[str, list], list[list[Reason]]]:
        columns, checks = self.cleaned(batch)
        return columns, [
            [as_reason(reason, value) for reason, value, failed in document if failed] for document in checks
        ]

    def cleaned(self, batch: pa.RecordBatch) -> tuple[dict[str, list], list[list[Check]]]:
        """The cleaned texts and their signals, and each document's rules."""
        config = self.config
        texts = column_values(batch, "text")
        langs = column_values(batch, "lang")
        out_texts: list[str] = []
        signals: list[dict[str, int]] = []
        checks: list[list[Check]] = []
        for text, lang in zip(texts, langs):
            # Citation marks never span lines: one substitution over the page.
            uncited = _CITATION.sub("", text) if config.remove_citations and "[" in text else text
            # One segmentation of the whole page gives every line's word count.
            page = profile(uncited, lang, config.segmenter)
            lines = [line.strip() for line in uncited.split("\n")]
            found = phrase_matcher(_PAGE_PHRASES).find(page.text)
            remove = self.removed_lines(page, lines, found)
            kept_numbers = np.flatnonzero(~remove).tolist()
            kept = [lines[number] for number in kept_numbers]
            removed = sum(1 for line in lines if line) - len(kept)
            cleaned_page = kept_lines_profile(page, kept_numbers, kept, lang, config.segmenter)
            cleaned = cleaned_page.text
            sentences = sentence_count(cleaned_page)
            out_texts.append(cleaned)
            signals.append(
                {
                    "lines_kept": len(kept),
                    "lines_removed": removed,
                    "chars_removed": len(text) - len(cleaned),
                    "sentences": sentences,
                }
            )
            checks.append(
                [
                    (
                        "quality.c4_lorem_ipsum",
                        None,
                        config.filter_lorem_ipsum and any(phrase == "lorem ipsum" for _, phrase in found),
                    ),
                    ("quality.c4_curly_bracket", None, config.filter_curly_bracket and "{" in text),
                    *(
                        (rule.reason, sentences, rule.fails(sentences, rule.value_in(config)))
                        for rule in self.thresholds
                    ),
                ]
            )
        return {"text": out_texts, "quality_c4": signals}, checks
