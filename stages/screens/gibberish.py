"""Gibberish spans: windows of a page that read as noise while the rest reads as language.

Poisoning attacks append a trigger and a run of random tokens to an otherwise
clean page; the page-level scores hardly move. The text is cut into windows
of ``window_chars`` characters and each is scored on its own:

- windows that are mostly Han characters: the share of common characters (the
  3,500 most frequent in jieba's dictionary, weighted by word frequency);
  random Han characters are nearly all rare;
- every window: how often consecutive letters and digits switch class (lower
  case, upper case, digit, Han, other letter; symbols and punctuation left out,
  since menus alternate them with words, and a digit next to a Han character is
  no switch, since Chinese dates and figures alternate them). Prose switches at capitals and
  between scripts, rarely; random tokens (``xK9qZ3vB``, subword soup across
  scripts) switch at most characters. (lid.176's confidence is
  no help here: it gives random Latin strings anywhere from 0.07 to 0.8.)

Rule ``screen.gibberish_span``: a window below ``min_common_han_share`` or
above ``max_switch_rate``, in a document whose median window is ordinary
(the upper quartile of its windows' common share at least
``min_document_share``; the lower quartile of their switch rates at most
``max_document_switch_rate``), so pages that are noise throughout are left to
the quality rules. Evidence: the window and its score.
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from curate.config_schema import bounds
from curate.decoded_columns import column_values
from stages.cjk import han_mask
from stages.screens.base import Action, Finding, ScreenStage
from stages.text_profile import LETTER, SPACE, char_kinds
from stages.to_simplified import converter

COMMON_HAN = 3500


COMMON_HAN_FILE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "lexicons", "han", "common_han.txt")


def derive_common_han() -> str:
    """The ``COMMON_HAN`` most frequent single Han characters of jieba's dictionary, weighted
    by word frequency: how ``common_han.txt`` is made (a test checks the file against it).
    Counting the 349,000-line dictionary takes ~0.6 s, too long for every worker's start."""
    import jieba

    counts: Counter = Counter()
    with open(os.path.join(os.path.dirname(jieba.__file__), "dict.txt"), encoding="utf-8") as handle:
        for line in handle:
            word, frequency, *_ = line.split(" ")
            for char in word:
                counts[char] += int(frequency)
    return "".join([c for c, _ in counts.most_common() if len(c) == 1 and "\u3400" <= c <= "\u9fff"][:COMMON_HAN])


def read_common_han() -> str:
    with open(COMMON_HAN_FILE, encoding="utf-8") as handle:
        return "".join(line.strip() for line in handle if not line.startswith("#"))


@functools.lru_cache(maxsize=1)
def common_han_table() -> np.ndarray:
    """A BMP lookup table of the common Han characters with their Traditional forms (OpenCC),
    built once per process."""
    han = read_common_han()
    table = np.zeros(0x10001, dtype=bool)
    table[[ord(c) for c in han + converter("s2t").convert(han)]] = True
    return table


def character_classes(codepoints: np.ndarray, han: np.ndarray) -> np.ndarray:
    """0 lower-case ASCII, 1 upper-case ASCII, 2 digit, 3 Han, 4 other letter, 5 anything else."""
    classes = np.where(char_kinds(codepoints) == LETTER, 4, 5)
    classes[(codepoints >= 0x61) & (codepoints <= 0x7A)] = 0
    classes[(codepoints >= 0x41) & (codepoints <= 0x5A)] = 1
    classes[(codepoints >= 0x30) & (codepoints <= 0x39)] = 2
    classes[han] = 3
    return classes


def switch_rate(classes: np.ndarray) -> float:
    """Share of consecutive characters that change class (``character_classes``, symbols left
    out), not counting a change between a digit and a Han character: Chinese dates, sums and
    counts (1961年1月－1967年1月, 3万5千) alternate the two, and lists of them read as noise
    otherwise (2 of 200 Wikipedia articles and a product page of the dev data did)."""
    before, after = classes[:-1], classes[1:]
    han_digit = ((before == 2) & (after == 3)) | ((before == 3) & (after == 2))
    return float(np.mean((before != after) & ~han_digit))


@dataclass
class GibberishScreenConfig:
    action: Action = "drop"
    window_chars: int = field(default=100, metadata=bounds(20))
    min_common_han_share: float = field(default=0.5, metadata=bounds(0, 1))
    """Our choice: news windows are ~0.97 common characters; random Han text ~0.2."""
    max_switch_rate: float = field(default=0.45, metadata=bounds(0, 1))
    """Our choice: random alphanumeric strings switch class at ~0.6 of characters."""
    max_document_switch_rate: float = field(default=0.2, metadata=bounds(0, 1))
    min_document_share: float = field(default=0.8, metadata=bounds(0, 1))
    """The document's better windows must be at least this common for a low window to stand out."""
    min_script_chars: int = field(default=30, metadata=bounds(1))
    """A window is scored only when its main script has this many characters."""


class GibberishScreen(ScreenStage):
    name = "screen_gibberish"
    config_class = GibberishScreenConfig
    reads = ("text",)

    def __init__(self, config: GibberishScreenConfig) -> None:
        super().__init__(config)
        self.common = common_han_table()

    def noisy_windows(self, text: str) -> list[tuple[int, str]]:
        """(start, evidence) of every window that reads as noise against the rest of the page."""
        config, size = self.config, self.config.window_chars
        han_scores: list[tuple[float, int]] = []
        switch_scores: list[tuple[float, int]] = []
        for start in range(0, len(text), size):
            codepoints = np.frombuffer(text[start : start + size].encode("utf-32-le"), dtype=np.uint32)
            codepoints = codepoints[char_kinds(codepoints) != SPACE]
            if len(codepoints) < config.min_script_chars:
                continue
            han = han_mask(codepoints)
            if han.sum() >= config.min_script_chars:
                han_scores.append((float(self.common.take(codepoints[han], mode="clip").mean()), start))
            # Symbols and punctuation are left out: menus alternate them with words.
            classes = character_classes(codepoints, han)
            classes = classes[classes != 5]
            if len(classes) >= config.min_script_chars:
                switch_scores.append((switch_rate(classes), start))
        noisy: dict[int, str] = {}
        # The document's own level: its better windows (a quartile), so a tail as long as a
        # short page still stands out against the page.
        if han_scores and float(np.quantile([s for s, _ in han_scores], 0.75)) >= config.min_document_share:
            for score, start in han_scores:
                if score < config.min_common_han_share:
                    noisy[start] = f"common-character share {score:.2f}: {text[start : start + size]}"
        if (
            switch_scores
            and float(np.quantile([s for s, _ in switch_scores], 0.25)) <= config.max_document_switch_rate
        ):
            for score, start in switch_scores:
                if score > config.max_switch_rate:
                    noisy.setdefault(start, f"character-class switch rate {score:.2f}: {text[start : start + size]}")
        return sorted(noisy.items())

    def score_document(self, text: str) -> Finding | None:
        noisy = self.noisy_windows(text)
        return ("screen.gibberish_span", noisy[0][1]) if noisy else None

    def screen(self, batch: pa.RecordBatch) -> tuple[list[list[Finding]], dict[str, list]]:
        findings = []
        for text in column_values(batch, "text"):
            finding = self.score_document(text or "")
            findings.append([finding] if finding else [])
        return findings, {}
