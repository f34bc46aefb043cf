"""HTML to main text with trafilatura, after charset decoding.

Drops:
- ``extract.no_text``: trafilatura found no main content (empty pages, pure
  navigation, script-only pages);
- ``extract.error``: the HTML could not be parsed at all.

Rows that already carry text (WET conversion records) pass through untouched.
Adds ``charset`` (the codec that decoded the page) and ``charset_source``
(bom, http, meta, utf8_valid, detected, detected_repaired, lossy) so a curator
can audit decoding per document, and ``title``: the page's ``<title>``, which
trafilatura leaves out of the text but which is where SEO spam injects its
brand (``stages/spam_injection.py``).
"""

from __future__ import annotations

import html as html_lib
import logging
import re
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
    fallbacks: Literal["when_needed", "always", "never"] = "when_needed"
    """trafilatura's fallback extractors (its readability port and jusText), which it otherwise runs
    on every page to second-guess its own result. ``when_needed`` (ours): extract with ``fast=True``
    (no fallbacks) and redo the page with them only where they could overturn the fast result:
    main text under ``fallback_below_chars`` or under ``fallback_below_page_share`` of the page's
    text, or a body with no paragraph text or more tables than paragraphs (where trafilatura itself
    prefers readability's output). ``always`` is trafilatura's default (the stage before issue 7),
    ``never`` is ``fast=True`` everywhere.

    Why: the fallbacks cost ~20 % of trafilatura's time on every page but change the result on few.
    ``never`` is not safe: a page laid out with <br> loses its whole article (77fa9435 in zh_gb2312).
    Measured by ``benchmarks/extract_settings.py`` (results/extract_settings.json; CPU ms per page,
    each page's best of 7 interleaved passes, one core; mean character-bigram F1 against the
    hand-cleaned text of 69 zh_gb2312 pages + 4 Chinese readability test pages):

    ============  ========  ======  =====================================================
    fallbacks     ms/page   F1      notes
    ============  ========  ======  =====================================================
    always        19.7      0.8644  (trafilatura 2.3.1)
    when_needed   17.4      0.8633  -12 %; 12 of 78 pages redone; 1 page differs from
                                    ``always``: same article plus its nav lines (F1 0.99 -> 0.91)
    never         15.4      0.8369  -22 %; 6 pages differ, one loses its whole article
    ============  ========  ======  =====================================================

    Repeated runs agree within ~1 % on the ratios; single passes on this VM wander 10-15 %.
    trafilatura's own 990-page evaluation set (mostly German/English; "with" snippets found of
    2951): always 2782, when_needed 2761 (-14 % time), never 2711 (-27 %); see also
    ``fallback_below_page_share``."""
    fallback_below_chars: int = field(default=500, metadata=bounds(0))
    """``when_needed``: redo a fast result whose main text is shorter than this with the fallbacks.
    500 rather than 200 or 50: the same time and quality on the Chinese pages, and on trafilatura's
    990-page set 2761 "with" snippets found instead of 2737 (200) or 2714 (50)."""
    fallback_below_page_share: float = field(default=0.0, metadata=bounds(0, 1))
    """``when_needed``: also redo a fast result whose main text is under this share of all the page's
    text (resiliparse's plain text, as the language pre-pass renders it; ~0.9 ms, computed only when
    the share is within reach). 0 (default) turns the test off: it changes nothing on the Chinese
    test pages and costs half the speed-up there. On modern Western pages, where fast mode often
    keeps a teaser and readability finds the article, 0.1 recovers most of what the fallbacks add
    (trafilatura's 990-page evaluation set: "with" snippets found 2761 -> 2775 of 2951, full: 2782)
    but is no faster than ``always`` there."""


_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_SPACES = re.compile(r"\s+")
TITLE_MAX_CHARS = 500
_TITLE_SEARCH_CHARS = 200_000
"""A title sits in the page's head: a page with none there has none worth reading."""


def html_title(html: str) -> str | None:
    """The text of the page's first ``<title>``, entities decoded and whitespace collapsed."""
    match = _TITLE.search(html, 0, _TITLE_SEARCH_CHARS)
    if match is None:
        return None
    title = _SPACES.sub(" ", html_lib.unescape(match.group(1))).strip()[:TITLE_MAX_CHARS]
    return title or None


def page_text(html: str) -> str:
    """All the page's text nodes (resiliparse), as the language pre-pass renders a page."""
    from resiliparse.extract.html2text import extract_plain_text

    return extract_plain_text(html, main_content=False, alt_texts=False, links=False)


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
    needs_html = True
    writes = (
        pa.field("text", pa.string()),
        pa.field("charset", pa.string()),
        pa.field("charset_source", pa.string()),
        pa.field("title", pa.string()),
    )

    def __init__(self, config: ExtractConfig) -> None:
        super().__init__(config)
        from trafilatura.settings import use_config

        # trafilatura's config object is built once per stage instance, not per page.
        self._settings = use_config()
        self._settings.set("DEFAULT", "MIN_EXTRACTED_SIZE", str(config.min_extracted_chars))
        self._settings.set("DEFAULT", "MIN_OUTPUT_SIZE", "1")
        self._settings.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")
        self._options = {fast: self._extractor_options(fast) for fast in (False, True)}
        self.fallback_reruns = 0
        """Pages the ``when_needed`` mode sent back to the fallback extractors (for benchmarks and tests)."""

    def _extractor_options(self, fast: bool):
        """The keyword arguments of ``trafilatura.extract`` as its options object, built once."""
        from trafilatura.settings import Extractor

        return Extractor(
            config=self._settings,
            output_format="txt",
            fast=fast,
            precision=self.config.favor == "precision",
            recall=self.config.favor == "recall",
            comments=self.config.include_comments,
            tables=self.config.include_tables,
            dedup=False,
            with_metadata=False,
        )

    def needs_fallbacks(self, document, html: str) -> bool:
        """Could trafilatura's fallback extractors overturn this fast result? Too little text, or
        too little of the page's text (jusText and readability then find more), or a body with no
        paragraph text or more tables than paragraphs (trafilatura then prefers readability)."""
        chars = len(document.raw_text or "") if document is not None else 0
        if chars < self.config.fallback_below_chars:
            return True
        body = document.body
        if not body.xpath(".//p//text()") or len(body.findall(".//table")) > len(body.findall(".//p")):
            return True
        share = self.config.fallback_below_page_share
        # The page's plain text is never longer than its HTML: skip it when the share is out of reach.
        return share > 0 and chars < share * len(html) and chars < share * len(page_text(html))

    def trafilatura_text(self, html: str) -> str | None:
        """trafilatura's plain text for one page, with its fallback extractors per ``fallbacks``."""
        import trafilatura
        from trafilatura.core import determine_returnstring

        fallbacks = self.config.fallbacks
        if fallbacks == "when_needed":
            options = self._options[True]
            document = trafilatura.bare_extraction(html, options=options)
            if not self.needs_fallbacks(document, html):
                # exactly what trafilatura.extract(fast=True) returns (the test pins it)
                return determine_returnstring(document, options)
            self.fallback_reruns += 1
        return trafilatura.extract(html, options=self._options[fallbacks == "never"])

    def extract_text(self, html: str) -> str | None:
        text = self.trafilatura_text(html)
        if text and self.config.table_cells_as_lines and "|" in text:
            text = table_cells_to_lines(text)
        return text

    def annotate(self, batch: pa.RecordBatch) -> tuple[dict[str, list], list[Reason]]:
        htmls = column_values(batch, "html")
        content_types = column_values(batch, "http_content_type")
        texts = column_values(batch, "text")
        charsets: list[str | None] = []
        sources: list[str | None] = []
        titles: list[str | None] = []
        reasons: list[Reason] = []
        for i, html in enumerate(htmls):
            if html is None:
                charsets.append("utf-8")
                sources.append("wet")
                titles.append(None)
                reasons.append(None if texts[i] else "extract.no_text")
                continue
            decoded = decode_html(html, content_types[i])
            charsets.append(decoded.charset)
            sources.append(decoded.source)
            titles.append(html_title(decoded.text))
            try:
                text = self.extract_text(decoded.text)
            except (ValueError, TypeError, RecursionError):
                texts[i] = None
                reasons.append("extract.error")
                continue
            texts[i] = text.strip() if text else None
            reasons.append(None if texts[i] else "extract.no_text")
        return {"text": texts, "charset": charsets, "charset_source": sources, "title": titles}, reasons
