"""HTML to main text with trafilatura, after charset decoding.

Drops:
- ``extract.no_text``: trafilatura found no main content (empty pages, pure
  navigation, script-only pages);
- ``extract.error``: the HTML could not be parsed at all.

Rows that already carry text (WET conversion records) pass through untouched.
Adds ``charset`` (the codec that decoded the page) and ``charset_source``
(bom, http, meta, utf8_valid, detected, detected_repaired, lossy) so a curator
can audit decoding per document.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

from curate.config_schema import bounds
from curate.decoded_columns import column_values
from curate.stage import Reason, Stage
from stages.charset import decode_html

logging.getLogger("trafilatura").setLevel(logging.CRITICAL)


@dataclass
class ExtractConfig:
    engine: Literal["trafilatura"] = "trafilatura"
    favor: Literal["balanced", "precision", "recall"] = "balanced"
    """trafilatura's precision/recall trade-off."""
    include_comments: bool = True
    """Keep comment sections: forum replies are often the content on Chinese BBS pages."""
    include_tables: bool = True
    table_cells_as_lines: bool = True
    """Ours: write each table cell as its own line. Older Chinese sites lay whole pages out in
    tables, which trafilatura renders as ``| cell | cell |`` rows that no line rule can read."""
    min_extracted_chars: int = field(default=50, metadata=bounds(0))
    """Below this, trafilatura tries its fallback extractors before giving up."""


def table_cells_to_lines(text: str) -> str:
    """Rewrite trafilatura's ``| a | b |`` table rows as one line per non-empty cell."""
    out = []
    for line in text.split("\n"):
        stripped = line.strip()
        if len(stripped) > 1 and stripped.startswith("|") and stripped.endswith("|"):
            out.extend(cell.strip() for cell in stripped[1:-1].split("|") if cell.strip())
        else:
            out.append(line)
    return "\n".join(out)


class Extract(Stage):
    name = "extract"
    config_class = ExtractConfig
    reads = ("html", "http_content_type", "text")
    writes = (
        pa.field("text", pa.string()),
        pa.field("charset", pa.string()),
        pa.field("charset_source", pa.string()),
    )

    def __init__(self, config: ExtractConfig) -> None:
        super().__init__(config)
        from trafilatura.settings import use_config

        # trafilatura's config object is built once per stage instance, not per page.
        self._settings = use_config()
        self._settings.set("DEFAULT", "MIN_EXTRACTED_SIZE", str(config.min_extracted_chars))
        self._settings.set("DEFAULT", "MIN_OUTPUT_SIZE", "1")
        self._settings.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")

    def extract_text(self, html: str) -> str | None:
        import trafilatura

        text = trafilatura.extract(
            html,
            config=self._settings,
            include_comments=self.config.include_comments,
            include_tables=self.config.include_tables,
            favor_precision=self.config.favor == "precision",
            favor_recall=self.config.favor == "recall",
            deduplicate=False,
            with_metadata=False,
        )
        if text and self.config.table_cells_as_lines and "|" in text:
            text = table_cells_to_lines(text)
        return text

    def annotate(self, batch: pa.RecordBatch) -> tuple[dict[str, list], list[Reason]]:
        htmls = column_values(batch, "html")
        content_types = column_values(batch, "http_content_type")
        texts = column_values(batch, "text")
        charsets: list[str | None] = []
        sources: list[str | None] = []
        reasons: list[Reason] = []
        for i, html in enumerate(htmls):
            if html is None:
                charsets.append("utf-8")
                sources.append("wet")
                reasons.append(None if texts[i] else "extract.no_text")
                continue
            decoded = decode_html(html, content_types[i])
            charsets.append(decoded.charset)
            sources.append(decoded.source)
            try:
                text = self.extract_text(decoded.text)
            except (ValueError, TypeError, RecursionError):
                texts[i] = None
                reasons.append("extract.error")
                continue
            texts[i] = text.strip() if text else None
            reasons.append(None if texts[i] else "extract.no_text")
        return {"text": texts, "charset": charsets, "charset_source": sources}, reasons
