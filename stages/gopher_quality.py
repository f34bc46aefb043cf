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
- ``gopher_alpha_words``: too few words contain a letter or Han character;
- ``gopher_stopwords``: fewer than ``min_stopwords`` distinct stopwords, i.e. no
  running prose (keyword lists, tables, navigation).

Adds the ``quality_gopher`` struct column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pyarrow as pa

from curate.config_schema import bounds
from curate.stage import Check, SignalFilter
from stages.text_profile import LETTER, hashes_of_words, profile

# FineWeb-2's stopword list for cmn_Hani.
CHINESE_STOPWORDS = ["的", "年", "在", "月", "是", "和", "日", "了", "於", "·", "為", "有", "被", "人", "中", "为", "他", "與", "後", "也", "而", "由"]
BULLETS = ("•", "-", "·", "●", "■", "◆", "▪", "*", "→", "►")


@dataclass
class GopherQualityConfig:
    min_words: int = field(default=50, metadata=bounds(0))
    """FineWeb-2 cmn_Hani: 50."""
    max_words: int = field(default=100_000, metadata=bounds(1))
    """FineWeb-2 cmn_Hani: 100,000."""
    min_mean_word_length: float = field(default=1.0, metadata=bounds(0))
    """FineWeb-2 cmn_Hani: 1 character."""
    max_mean_word_length: float = field(default=5.0, metadata=bounds(0))
    """FineWeb-2 cmn_Hani: 5 characters."""
    max_hash_ratio: float = field(default=0.1, metadata=bounds(0))
    """Gopher/datatrove: 0.1 per word."""
    max_ellipsis_ratio: float = field(default=0.1, metadata=bounds(0))
    """Gopher/datatrove: 0.1 per word."""
    max_bullet_lines: float = field(default=0.9, metadata=bounds(0, 1))
    """Gopher/datatrove: 0.9."""
    max_ellipsis_lines: float = field(default=0.3, metadata=bounds(0, 1))
    """Gopher/datatrove: 0.3."""
    min_alpha_words: float = field(default=0.735, metadata=bounds(0, 1))
    """FineWeb-2 cmn_Hani: 0.735 of words with a letter or Han character."""
    min_stopwords: int = field(default=2, metadata=bounds(0))
    """FineWeb-2 cmn_Hani: 2, here counted as distinct stopwords."""
    stopwords: list[str] = field(default_factory=lambda: list(CHINESE_STOPWORDS))
    """FineWeb-2's cmn_Hani list."""
    segmenter: Literal["rjieba", "jieba"] = "rjieba"


class GopherQuality(SignalFilter):
    name = "gopher_quality"
    config_class = GopherQualityConfig
    signal_column = "quality_gopher"
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
                    pa.field("alpha_words", pa.float32()),
                    pa.field("stopwords", pa.int32()),
                ]
            ),
        ),
    )

    def __init__(self, config: GopherQualityConfig) -> None:
        super().__init__(config)
        self._stopword_hashes = hashes_of_words(sorted(set(config.stopwords)))

    def signals(self, text: str, lang: str | None) -> dict[str, float]:
        p = profile(text, lang, self.config.segmenter)
        n_words = max(len(p.word_lengths), 1)
        content = p.word_lengths[p.content_mask]
        text_lines = text.splitlines() or [""]
        return {
            "words": len(content),
            "mean_word_length": float(content.mean()) if len(content) else 0.0,
            "hash_ratio": text.count("#") / n_words,
            "ellipsis_ratio": (text.count("...") + text.count("…")) / n_words,
            "bullet_lines": sum(line.lstrip().startswith(BULLETS) for line in text_lines) / len(text_lines),
            "ellipsis_lines": sum(line.rstrip().endswith(("...", "…")) for line in text_lines) / len(text_lines),
            "alpha_words": int((p.word_kinds == LETTER).sum()) / n_words,
            "stopwords": len(np.unique(p.word_hashes[np.isin(p.word_hashes, self._stopword_hashes)])),
        }

    def checks(self, s: dict[str, float], lang: str | None) -> tuple[Check, ...]:
        c = self.config
        return (
            ("quality.gopher_word_count", s["words"], not c.min_words <= s["words"] <= c.max_words),
            ("quality.gopher_mean_word_length", s["mean_word_length"],
             not c.min_mean_word_length <= s["mean_word_length"] <= c.max_mean_word_length),
            ("quality.gopher_hash_ratio", s["hash_ratio"], s["hash_ratio"] > c.max_hash_ratio),
            ("quality.gopher_ellipsis_ratio", s["ellipsis_ratio"], s["ellipsis_ratio"] > c.max_ellipsis_ratio),
            ("quality.gopher_bullet_lines", s["bullet_lines"], s["bullet_lines"] > c.max_bullet_lines),
            ("quality.gopher_ellipsis_lines", s["ellipsis_lines"], s["ellipsis_lines"] > c.max_ellipsis_lines),
            ("quality.gopher_alpha_words", s["alpha_words"], s["alpha_words"] < c.min_alpha_words),
            ("quality.gopher_stopwords", s["stopwords"], s["stopwords"] < c.min_stopwords),
        )
