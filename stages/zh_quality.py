"""Chinese document rules: length, script mix, and the tell-tales of Chinese web spam.

Drops (``quality.*``, each with the measured value in the manifest):
- ``short_text``: fewer than ``min_chars`` non-whitespace characters;
- ``low_cjk_ratio``: CJK characters under ``min_cjk_ratio`` of non-whitespace
  characters (code, URLs, numbers with a Chinese veneer); CJK languages only;
- ``bracket_share``: more than ``max_bracket_share`` of the characters inside
  【】 (SEO title stuffing: 【最新】【官方】【免费】);
- ``digit_share``: more than ``max_digit_share`` digits (price lists, phone
  numbers, lottery draws);
- ``low_entropy``: character entropy under ``min_char_entropy`` bits (the
  same few characters over and over);
- ``low_unique_chars``: distinct characters under ``min_unique_char_ratio`` of all;
- ``ui_lines``: more than ``max_ui_line_share`` of the lines are interface text
  (short lines with 展开, 更多, 阅读全文, 点击查看 ...);
- ``short_lines``: average line shorter than ``min_avg_line_chars``.

Optionally removes paragraphs with fewer than ``min_paragraph_han_chars`` Han
characters from Chinese documents (rewrites ``text``; 0 turns it off).

Reports, without dropping, ``hant_share``: Traditional-only characters among
the characters that differ between Simplified and Traditional.

Adds the ``quality_zh`` struct column with every value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from curate.config_schema import bounds
from curate.stage import Check, Reason, SignalFilter, first_failure
from stages.cjk import HAN, HAN_RANGES, HANGUL_RANGES, KANA_RANGES, in_ranges, script_tables
from stages.phrase_matcher import phrase_lines
from stages.text_profile import CharSet

CJK_LANGUAGES = ("zh", "ja", "ko")
UI_PHRASES = ("展开", "展開", "收起", "更多", "阅读全文", "閱讀全文", "点击查看", "點擊查看", "查看更多", "加载更多", "載入更多", "查看全文", "全文阅读")
_WHITESPACE = (" ", "\n", "\t", "\r", "\u3000", "\xa0")


@dataclass
class ZhQualityConfig:
    min_chars: int = field(default=200, metadata=bounds(0))
    """Our choice: below ~200 characters a Chinese page is a headline, a notice or a fragment."""
    min_cjk_ratio: float = field(default=0.3, metadata=bounds(0, 1))
    """Our choice, for zh/ja/ko documents."""
    max_bracket_share: float = field(default=0.1, metadata=bounds(0, 1))
    """Our choice: news titles use 【】 sparingly; SEO pages fill lines with it."""
    max_digit_share: float = field(default=0.2, metadata=bounds(0, 1))
    """Our choice: People's Daily 1998 text stays far below."""
    min_char_entropy: float = field(default=4.0, metadata=bounds(0))
    """Bits per character. People's Daily 1998 articles: minimum 6.0, 5th percentile 6.3 (measured here)."""
    min_unique_char_ratio: float = field(default=0.05, metadata=bounds(0, 1))
    """Distinct / all characters. People's Daily articles over 200 characters: minimum 0.30 (measured here)."""
    max_ui_line_share: float = field(default=0.2, metadata=bounds(0, 1))
    """Our choice: share of lines that contain 展开/更多/阅读全文/点击查看-style interface text."""
    ui_line_max_chars: int = field(default=20, metadata=bounds(1))
    """Our choice: only lines with at most this many visible characters count as interface text."""
    min_avg_line_chars: float = field(default=10.0, metadata=bounds(0))
    """Our choice: pages whose lines average under 10 characters are lists of links or labels."""
    min_paragraph_han_chars: int = field(default=0, metadata=bounds(0))
    """Remove paragraphs of Chinese documents with fewer Han characters; 0 = off (C4 line rules already run)."""


_WHITESPACE_SET = CharSet("".join(_WHITESPACE))
_DIGIT_RANGES = ((0x30, 0x39), (0xFF10, 0xFF19))
_CJK_RANGES = HAN_RANGES + KANA_RANGES + HANGUL_RANGES


def char_entropy(codepoints: np.ndarray) -> float:
    """Shannon entropy in bits of the character distribution."""
    return _entropy(np.unique(codepoints, return_counts=True)[1])


def _entropy(counts: np.ndarray) -> float:
    if not len(counts):
        return 0.0
    shares = counts / counts.sum()
    return float(-(shares * np.log2(shares)).sum())


def bracket_share(codepoints: np.ndarray) -> float:
    """Share of characters inside 【】 (brackets themselves not counted)."""
    if not len(codepoints):
        return 0.0
    opens, closes = codepoints == 0x3010, codepoints == 0x3011
    depth = np.cumsum(opens.astype(np.int64) - closes.astype(np.int64))
    inside = (depth > 0) & ~opens
    return float(inside.sum()) / len(codepoints)


def hant_share(codepoints: np.ndarray) -> float:
    simplified, traditional = script_tables()
    bmp = codepoints[codepoints < 0x10000]
    hans, hant = int(simplified[bmp].sum()), int(traditional[bmp].sum())
    return hant / (hans + hant) if hans + hant else 0.0


def codepoints_of(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


class ZhQuality(SignalFilter):
    name = "zh_quality"
    config_class = ZhQualityConfig
    signal_column = "quality_zh"
    writes = (
        pa.field("text", pa.string()),
        pa.field(
            "quality_zh",
            pa.struct(
                [
                    pa.field("chars", pa.int32()),
                    pa.field("cjk_ratio", pa.float32()),
                    pa.field("bracket_share", pa.float32()),
                    pa.field("digit_share", pa.float32()),
                    pa.field("char_entropy", pa.float32()),
                    pa.field("unique_char_ratio", pa.float32()),
                    pa.field("ui_line_share", pa.float32()),
                    pa.field("avg_line_chars", pa.float32()),
                    pa.field("hant_share", pa.float32()),
                ]
            ),
        ),
    )

    def signals(self, text: str, lang: str | None) -> dict[str, float]:
        codepoints = codepoints_of(text)
        is_visible = ~_WHITESPACE_SET.mask(codepoints)
        visible = codepoints[is_visible]
        chars = len(visible)
        distinct_counts = np.unique(visible, return_counts=True)[1]
        newlines = np.flatnonzero(codepoints == 10)
        # Visible characters per line; lines with none are blank.
        per_line = np.bincount(np.cumsum(codepoints == 10)[is_visible], minlength=len(newlines) + 1)
        n_lines = int((per_line > 0).sum())
        # Interface labels are short lines; 更多 inside a sentence is ordinary Chinese.
        ui_lines = np.unique(phrase_lines(UI_PHRASES, text, newlines))
        ui_lines = int((per_line[ui_lines] <= self.config.ui_line_max_chars).sum())
        return {
            "chars": chars,
            "cjk_ratio": int(in_ranges(visible, _CJK_RANGES).sum()) / chars if chars else 0.0,
            "bracket_share": bracket_share(codepoints),
            "digit_share": int(in_ranges(visible, _DIGIT_RANGES).sum()) / chars if chars else 0.0,
            "char_entropy": _entropy(distinct_counts),
            "unique_char_ratio": len(distinct_counts) / chars if chars else 0.0,
            "ui_line_share": ui_lines / n_lines if n_lines else 0.0,
            "avg_line_chars": chars / n_lines if n_lines else 0.0,
            "hant_share": hant_share(codepoints),
        }

    def checks(self, s: dict[str, float], lang: str | None) -> tuple[Check, ...]:
        c = self.config
        return (
            ("quality.short_text", s["chars"], s["chars"] < c.min_chars),
            ("quality.low_cjk_ratio", s["cjk_ratio"], lang in CJK_LANGUAGES and s["cjk_ratio"] < c.min_cjk_ratio),
            ("quality.bracket_share", s["bracket_share"], s["bracket_share"] > c.max_bracket_share),
            ("quality.digit_share", s["digit_share"], s["digit_share"] > c.max_digit_share),
            ("quality.low_entropy", s["char_entropy"], s["char_entropy"] < c.min_char_entropy),
            ("quality.low_unique_chars", s["unique_char_ratio"], s["unique_char_ratio"] < c.min_unique_char_ratio),
            ("quality.ui_lines", s["ui_line_share"], s["ui_line_share"] > c.max_ui_line_share),
            ("quality.short_lines", s["avg_line_chars"], s["avg_line_chars"] < c.min_avg_line_chars),
        )

    def annotate(self, batch: pa.RecordBatch) -> tuple[dict[str, list], list[Reason]]:
        texts = batch.column("text").to_pylist()
        langs = batch.column("lang").to_pylist()
        min_han = self.config.min_paragraph_han_chars
        out_texts, signals, reasons = [], [], []
        for text, lang in zip(texts, langs):
            if min_han and lang == "zh":
                text = "\n".join(line for line in text.split("\n") if len(HAN.findall(line)) >= min_han)
            values = self.signals(text, lang)
            out_texts.append(text)
            signals.append(values)
            reasons.append(first_failure(self.checks(values, lang)))
        return {"text": out_texts, "quality_zh": signals}, reasons
