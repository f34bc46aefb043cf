"""Gopher quality rules (Rae et al. 2021, as in datatrove), counted in jieba words for Chinese.

Words are jieba words for zh/ja and whitespace tokens otherwise; punctuation
tokens (，。) are words for the ratios, as datatrove counts them, but not for
the word count and mean word length. A word "has a letter" when its first
character is a letter (Han included): jieba does not mix classes in a word. Mean word length is in characters, so
Chinese words are 1-4 characters long where English ones are 3-10.

Drops (``quality.gopher_*``, each with the measured value):
- ``gopher_word_count``: fewer than ``min_words`` or more than ``max_words`` words;
- ``gopher_mean_word_length``: mean word length outside the bounds (character
  soup or run-together strings);
- ``gopher_hash_ratio`` / ``gopher_ellipsis_ratio``: too many ``#`` or ``…``/``...``
  per word (hashtag spam, teaser lists);
- ``gopher_bullet_lines``: too many lines start with a bullet (link lists);
- ``gopher_ellipsis_lines``: too many lines end with an ellipsis (truncated teasers);
- ``gopher_alpha_words``: too few words are words at all (a letter, a Han
  character or a digit; not punctuation or symbols). Gopher counts words with a
  letter; in Chinese news, statistics and reports, numbers, dates and
  percentages are words too (``2015年``, ``6.6%``), and counting them as
  non-words dropped number-heavy text (FineWeb-2's cmn_Hani value, 0.735 of
  letter words, assumed its own tokenizer);
- ``gopher_stopwords``: fewer than ``min_stopwords`` distinct stopwords, i.e. no
  running prose (keyword lists, tables, navigation).

Adds the ``quality_gopher`` struct column. Every default is calibrated on
labelled Chinese text of many genres (``benchmarks/calibrate_quality.py``; see
``configs/zh_web.yaml``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pyarrow as pa

from curate.config_schema import bounds
from curate.stage import SignalFilter, Threshold
from stages._text_kernels import edge_lines
from stages.text_profile import PUNCT, hashes_of_words, profile

# FineWeb-2's stopword list for cmn_Hani.
CHINESE_STOPWORDS = [
    "的",
    "年",
    "在",
    "月",
    "是",
    "和",
    "日",
    "了",
    "於",
    "·",
    "為",
    "有",
    "被",
    "人",
    "中",
    "为",
    "他",
    "與",
    "後",
    "也",
    "而",
    "由",
]
BULLETS = ("•", "-", "·", "●", "■", "◆", "▪", "*", "→", "►")
"""What a bullet line starts with (counted in C: ``stages._text_kernels.edge_lines``)."""


@dataclass
class GopherQualityConfig:
    min_words: int = field(default=21, metadata=bounds(0))
    """Calibrated (``benchmarks/calibrate_quality.py``): at most 0.5 % of any genre's known-good
    documents fail it; set by encyclopedic. Published: FineWeb-2 cmn_Hani 50."""
    max_words: int = field(default=100_000, metadata=bounds(1))
    """Published (FineWeb-2 cmn_Hani 100,000); calibration keeps it: no genre of the dev data needs
    more."""
    min_mean_word_length: float = field(default=1.0, metadata=bounds(0))
    """Published (FineWeb-2 cmn_Hani 1); calibration keeps it: no genre of the dev data needs more."""
    max_mean_word_length: float = field(default=5.13, metadata=bounds(0))
    """Calibrated (``benchmarks/calibrate_quality.py``): at most 0.5 % of any genre's known-good
    documents fail it; set by technical. Published: FineWeb-2 cmn_Hani 5."""
    max_hash_ratio: float = field(default=0.1, metadata=bounds(0))
    """Published (Gopher 0.1); calibration keeps it: no genre of the dev data needs more."""
    max_ellipsis_ratio: float = field(default=0.1, metadata=bounds(0))
    """Published (Gopher 0.1); calibration keeps it: no genre of the dev data needs more."""
    max_bullet_lines: float = field(default=0.983, metadata=bounds(0, 1))
    """Calibrated (``benchmarks/calibrate_quality.py``): at most 0.5 % of any genre's known-good
    documents fail it; set by encyclopedic. Published: Gopher 0.9."""
    max_ellipsis_lines: float = field(default=0.3, metadata=bounds(0, 1))
    """Published (Gopher 0.3); calibration keeps it: no genre of the dev data needs more."""
    min_alpha_words: float = field(default=0.479, metadata=bounds(0, 1))
    """Share of words (punctuation tokens included in the count) with a letter, Han character or
    digit. Calibrated (``benchmarks/calibrate_quality.py``): at most 0.5 % of any genre's known-good
    documents fail it; set by technical."""
    min_stopwords: int = field(default=0, metadata=bounds(0))
    """Calibrated (``benchmarks/calibrate_quality.py``): at most 0.5 % of any genre's known-good
    documents fail it; set by forum_qa. Published: FineWeb-2 cmn_Hani 2."""
    stopwords: list[str] = field(default_factory=lambda: list(CHINESE_STOPWORDS))
    """FineWeb-2's cmn_Hani list."""
    segmenter: Literal["rjieba", "jieba"] = "rjieba"


class GopherQuality(SignalFilter):
    name = "gopher_quality"
    config_class = GopherQualityConfig
    signal_column = "quality_gopher"
    reason_prefix = "quality.gopher_"
    writes = (
        pa.field(
            "quality_gopher",
            pa.struct(
                [
                    pa.field("words", pa.int32()),
                    pa.field("mean_word_length", pa.float32()),
                    pa.field("hash_ratio", pa.float32()),
                    pa.field("ellipsis_ratio", pa.float32()),
                    pa.field("bullet_lines", pa.float32()),
                    pa.field("ellipsis_lines", pa.float32()),
                    pa.field("alnum_words", pa.float32()),
                    pa.field("stopwords", pa.int32()),
                ]
            ),
        ),
    )

    thresholds = (
        Threshold("quality.gopher_word_count", "words", "min_words", "min", published=50),
        Threshold("quality.gopher_word_count", "words", "max_words", "max", published=100_000),
        Threshold("quality.gopher_mean_word_length", "mean_word_length", "min_mean_word_length", "min", published=1),
        Threshold("quality.gopher_mean_word_length", "mean_word_length", "max_mean_word_length", "max", published=5),
        Threshold("quality.gopher_hash_ratio", "hash_ratio", "max_hash_ratio", "max", published=0.1),
        Threshold("quality.gopher_ellipsis_ratio", "ellipsis_ratio", "max_ellipsis_ratio", "max", published=0.1),
        Threshold("quality.gopher_bullet_lines", "bullet_lines", "max_bullet_lines", "max", published=0.9),
        Threshold("quality.gopher_ellipsis_lines", "ellipsis_lines", "max_ellipsis_lines", "max", published=0.3),
        Threshold("quality.gopher_alpha_words", "alnum_words", "min_alpha_words", "min"),
        Threshold("quality.gopher_stopwords", "stopwords", "min_stopwords", "min", published=2),
    )

    def __init__(self, config: GopherQualityConfig) -> None:
        super().__init__(config)
        self._stopword_hashes = np.sort(hashes_of_words(sorted(set(config.stopwords))))

    def signals(self, text: str, lang: str | None) -> dict[str, float]:
        p = profile(text, lang, self.config.segmenter)
        n_words = max(len(p.word_lengths), 1)
        content = p.word_lengths[p.content_mask]
        n_lines, bullet_lines, ellipsis_lines = edge_lines(text)
        # Word hashes found among the stopwords' (sorted): a binary search, cheaper than np.isin.
        found = np.minimum(np.searchsorted(self._stopword_hashes, p.word_hashes), len(self._stopword_hashes) - 1)
        stopwords = (
            p.word_hashes[self._stopword_hashes[found] == p.word_hashes]
            if len(self._stopword_hashes)
            else p.word_hashes[:0]
        )
        return {
            "words": len(content),
            "mean_word_length": float(content.mean()) if len(content) else 0.0,
            "hash_ratio": text.count("#") / n_words,
            "ellipsis_ratio": (text.count("...") + text.count("…")) / n_words,
            "bullet_lines": bullet_lines / n_lines,
            "ellipsis_lines": ellipsis_lines / n_lines,
            "alnum_words": int((p.word_kinds != PUNCT).sum()) / n_words,
            "stopwords": len(np.unique(stopwords)),
        }
