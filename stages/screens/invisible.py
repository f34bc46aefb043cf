"""Invisible and deceptive characters: text that reads differently to people and to models.

Rules:
- ``screen.bidi_control``: bidirectional overrides and isolates (U+202A-U+202E,
  U+2066-U+2069) reorder what is displayed ("Trojan Source");
- ``screen.tag_characters``: Unicode tag characters (U+E0000-U+E007F) carry
  invisible ASCII, a known way to smuggle instructions;
- ``screen.zero_width``: more than ``max_zero_width_per_100`` zero-width
  characters (U+200B-U+200D, U+2060, U+FEFF) in some 100-character window
  (emoji sequences use a few zero-width joiners; padding and watermarks use
  runs of them, which a page-wide density would dilute on a long page);
- ``screen.mixed_script``: at least ``min_mixed_script_words`` words mixing
  Latin with Cyrillic or Greek letters (homoglyph spoofing such as "pаypal"
  with a Cyrillic а).

The character rules look at the text and at the raw HTML when the document
has it (trafilatura removes these characters while extracting, so the text of
an HTML page never shows them); mixed-script words are looked for in the text.

Evidence: the count, the positions and the characters' code points, or the words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from curate.config_schema import bounds
from curate.decoded_columns import column_values
from stages.charset import decode_html
from stages.screens.base import Action, Finding, ScreenStage

_ZERO_WIDTH = (0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF)
_WORD = re.compile(r"[^\W\d_]{2,}")
_LATIN = re.compile(r"[A-Za-z\u00C0-\u024F]")
_CYRILLIC_GREEK = re.compile(r"[\u0370-\u03FF\u0400-\u04FF]")


@dataclass
class InvisibleScreenConfig:
    action: Action = "drop"
    max_zero_width_per_100: int = field(default=8, metadata=bounds(0))
    """Our choice: a family emoji has two joiners; four of them in a row stay at 8."""
    min_mixed_script_words: int = field(default=2, metadata=bounds(1))
    """Our choice: one mixed word can be a typo or a formula; two are a pattern."""


def _positions(mask: np.ndarray, codepoints: np.ndarray) -> str:
    where = np.flatnonzero(mask)
    shown = ", ".join(f"U+{int(codepoints[i]):04X}@{int(i)}" for i in where[:5])
    return f"{len(where)} characters: {shown}" + (" …" if len(where) > 5 else "")


class InvisibleScreen(ScreenStage):
    name = "screen_invisible"
    config_class = InvisibleScreenConfig
    reads = ("text",)

    def screen(self, batch: pa.RecordBatch) -> tuple[list[list[Finding]], dict[str, list]]:
        findings = []
        names = batch.schema.names
        htmls = batch.column("html").to_pylist() if "html" in names else [None] * batch.num_rows
        content_types = (
            column_values(batch, "http_content_type") if "http_content_type" in names else [None] * batch.num_rows
        )
        for text, html, content_type in zip(column_values(batch, "text"), htmls, content_types):
            text = text or ""
            found: list[Finding] = []
            # Positions count in the text and then in the page's HTML.
            source = text + "\n" + decode_html(html, content_type).text if html else text
            codepoints = np.frombuffer(source.encode("utf-32-le"), dtype=np.uint32)
            bidi = ((codepoints >= 0x202A) & (codepoints <= 0x202E)) | (
                (codepoints >= 0x2066) & (codepoints <= 0x2069)
            )
            if bidi.any():
                found.append(("screen.bidi_control", _positions(bidi, codepoints)))
            tags = (codepoints >= 0xE0000) & (codepoints <= 0xE007F)
            if tags.any():
                hidden = "".join(chr(int(c) - 0xE0000) for c in codepoints[tags] if 0x20 <= int(c) - 0xE0000 < 0x7F)
                found.append(("screen.tag_characters", f"{int(tags.sum())} tag characters spelling {hidden!r}"))
            zero_width = np.isin(codepoints, _ZERO_WIDTH)
            if zero_width.sum() > self.config.max_zero_width_per_100:
                counts = np.concatenate(([0], np.cumsum(zero_width)))
                densest = int((counts[100:] - counts[:-100]).max()) if len(codepoints) > 100 else int(counts[-1])
                if densest > self.config.max_zero_width_per_100:
                    found.append(
                        ("screen.zero_width", f"{densest} in 100 characters; " + _positions(zero_width, codepoints))
                    )
            if _CYRILLIC_GREEK.search(text):
                mixed = [w for w in _WORD.findall(text) if _LATIN.search(w) and _CYRILLIC_GREEK.search(w)]
                if len(mixed) >= self.config.min_mixed_script_words:
                    found.append(("screen.mixed_script", f"{len(mixed)} words: " + ", ".join(mixed[:5])))
            findings.append(found)
        return findings, {}
