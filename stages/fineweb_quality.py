"""FineWeb's own line rules (Penedo et al. 2024, as in datatrove), re-derived for Chinese.

Drops (``quality.fineweb_*``, each with the measured value):
- ``fineweb_line_punct``: too little of the text is in sentences (menus,
  tables, keyword lists). FineWeb counts lines that *end* in terminal
  punctuation; Chinese pages put whole articles on one line, headings and
  bylines on others, and a long line cut mid-sentence counts as unpunctuated,
  so here it is the share of characters in sentence lines: lines holding any
  sentence or clause mark (。！？；，、：… and ASCII forms), or, unpunctuated as
  dialogue, chat and subtitles are, a pronoun, particle, negation or copula
  (我 你 吗 呢 了 是 不 ...), which menus, product names and link lists lack;
- ``fineweb_short_lines``: too many lines of at most ``short_line_chars``
  characters that are not sentence lines. FineWeb counts all short lines; a
  poem's or a dialogue's lines are short sentences, a menu's are neither;
- ``fineweb_dup_line_chars``: characters of repeated lines over all characters;
- ``fineweb_newlines_per_word``: more line breaks per word than prose has (lists).

Words are jieba words for zh/ja (punctuation tokens included, as datatrove
counts them), whitespace tokens otherwise. Adds the ``quality_fineweb`` struct
column. Every default is calibrated on labelled Chinese text of many genres
(``benchmarks/calibrate_quality.py``; see ``configs/zh_web.yaml``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pyarrow as pa

from curate.config_schema import bounds
from curate.stage import SignalFilter, Threshold
from stages._text_kernels import sentence_lines
from stages.gopher_repetition import duplicates
from stages.text_profile import profile
from stages.words import lines

SENTENCE_MARKS = "。！？；，、：…!?;:,｡．" + "我你您他她它咱们吗呢吧啊呀嘛了是不没别要会能想这那就都也还很再又才"
SENTENCE_LINE = re.compile(f"[{re.escape(SENTENCE_MARKS)}]|\\.(?:\\s|$)")
"""A sentence or clause mark (an ASCII full stop only before a space or the line end, not in
3.5), or a function character of a sentence: pronouns, particles, negation, copula, modals,
demonstratives and common adverbs. On the labelled dev data, 84-97 % of the short lines of
subtitles and 71 % of a poem's hold one; 0-32 % of the short lines of spam and portal pages."""
_SENTENCE_TABLE = np.zeros(0x10000, dtype=np.uint8)
_SENTENCE_TABLE[[ord(c) for c in SENTENCE_MARKS]] = 1


@dataclass
class FinewebQualityConfig:
    min_line_punct: float = field(default=0.261, metadata=bounds(0, 1))
    """Minimum share of characters in sentence lines (a punctuation mark or a function character).
    Calibrated (``benchmarks/calibrate_quality.py``): at most 0.5 % of any genre's known-good
    documents fail it; set by encyclopedic."""
    max_short_lines: float = field(default=0.915, metadata=bounds(0, 1))
    """Maximum share of lines that are short and not sentence lines. Calibrated
    (``benchmarks/calibrate_quality.py``): at most 0.5 % of any genre's known-good documents fail
    it; set by encyclopedic."""
    short_line_chars: int = field(default=30, metadata=bounds(1))
    """FineWeb/datatrove: 30 characters."""
    max_dup_line_chars: float = field(default=0.42, metadata=bounds(0, 1))
    """Calibrated (``benchmarks/calibrate_quality.py``): at most 0.5 % of any genre's known-good
    documents fail it; set by technical. Published: FineWeb 0.01."""
    max_newlines_per_word: float = field(default=0.204, metadata=bounds(0))
    """Calibrated (``benchmarks/calibrate_quality.py``): at most 0.5 % of any genre's known-good
    documents fail it; set by literature. Published: FineWeb-2 cmn_Hani 0.178."""
    segmenter: Literal["rjieba", "jieba"] = "rjieba"


class FinewebQuality(SignalFilter):
    name = "fineweb_quality"
    config_class = FinewebQualityConfig
    signal_column = "quality_fineweb"
    reason_prefix = "quality.fineweb_"
    writes = (
        pa.field(
            "quality_fineweb",
            pa.struct(
                [
                    pa.field(n, pa.float32())
                    for n in ("sentence_line_chars", "short_other_lines", "dup_line_chars", "newlines_per_word")
                ]
            ),
        ),
    )
    thresholds = (
        Threshold("quality.fineweb_line_punct", "sentence_line_chars", "min_line_punct", "min"),
        Threshold("quality.fineweb_short_lines", "short_other_lines", "max_short_lines", "max"),
        Threshold("quality.fineweb_dup_line_chars", "dup_line_chars", "max_dup_line_chars", "max", published=0.01),
        Threshold(
            "quality.fineweb_newlines_per_word", "newlines_per_word", "max_newlines_per_word", "max", published=0.178
        ),
    )

    def signals(self, text: str, lang: str | None) -> dict[str, float]:
        text_lines = lines(text)
        n_lines = max(len(text_lines), 1)
        chars = max(sum(map(len, text_lines)), 1)
        # SENTENCE_LINE, tested in C (one pass over the lines instead of a regex search each).
        sentences = list(sentence_lines(text_lines, _SENTENCE_TABLE))
        _, dup_chars = duplicates(text_lines)
        n_words = max(len(profile(text, lang, self.config.segmenter).word_lengths), 1)
        short = self.config.short_line_chars
        return {
            "sentence_line_chars": sum(len(line) for line, sentence in zip(text_lines, sentences) if sentence) / chars,
            "short_other_lines": sum(
                len(line) <= short and not sentence for line, sentence in zip(text_lines, sentences)
            )
            / n_lines,
            "dup_line_chars": dup_chars / max(len(text.replace("\n", "")), 1),
            "newlines_per_word": text.count("\n") / n_words,
        }
