"""Text hidden from readers in the raw HTML: cloaking that feeds crawlers what people never see.

Looks at the page before extraction (the transient ``html`` column). Hidden
means inside an element with ``hidden``, ``aria-hidden="true"``, ``<noscript>``,
or an inline style with ``display:none``, ``visibility:hidden``, a zero font
size, zero opacity, far off-screen positioning (left, top, text-indent or
margin beyond -999px), or the same text and background colour.

Only hidden prose counts: text pieces of at least ``min_piece_chars``
characters, without markup. Dropdown menus, accessibility toolbars and icon
labels are hidden too, but they are short labels (measured: two of 78 real
Chinese pages hide menus longer than half their visible text), and
``<noscript>`` often holds markup as text.

Rule ``screen.hidden_text``: at least ``min_hidden_chars`` characters of hidden
prose and hidden prose / visible characters above ``max_hidden_ratio``.
Evidence: the counts and the start of the hidden prose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pyarrow as pa

from curate.config_schema import bounds
from curate.decoded_columns import column_values
from stages.charset import decode_html
from stages.screens.base import Action, Finding, ScreenStage

_HIDING_STYLE = re.compile(
    r"display:none|visibility:hidden|font-size:0(?:[a-z%]+)?(?:;|$|!)|opacity:0(?:\.0+)?(?:;|$|!)"
    r"|(?:left|top|text-indent|margin-left|margin-top):-(?:9{3,}|[1-9][0-9]{3,})(?:\.[0-9]+)?(?:px|em|pt)?"
)
_COLOR = re.compile(r"(?:^|;)color:([^;!]+)")
_BACKGROUND = re.compile(r"(?:^|;)background(?:-color)?:([^;!]+)")
_SPACE = re.compile(r"\s+")
_CANDIDATES = "//*[@style or @hidden or @aria-hidden or self::noscript]"


@dataclass
class HiddenHtmlScreenConfig:
    action: Action = "drop"
    min_hidden_chars: int = field(default=200, metadata=bounds(0))
    """Our choice: a few hidden labels or a collapsed menu stay below 200 characters of text."""
    max_hidden_ratio: float = field(default=0.01, metadata=bounds(0))
    """Our choice: with labels and markup left out, real pages hide almost no prose (77 of 78
    real Chinese pages under 30 characters; one government page hides a whole article)."""
    min_piece_chars: int = field(default=20, metadata=bounds(1))
    """Our choice: a text piece this long is a sentence, not a label."""


def is_hidden(element) -> bool:  # element: lxml.html.HtmlElement
    if element.tag == "noscript" or element.get("hidden") is not None or (element.get("aria-hidden") or "").strip().lower() == "true":
        return True
    style = _SPACE.sub("", (element.get("style") or "").lower())
    if not style:
        return False
    if _HIDING_STYLE.search(style):
        return True
    color, background = _COLOR.search(style), _BACKGROUND.search(style)
    return bool(color and background and color.group(1) == background.group(1))


_MARKUP = re.compile(r"<[a-zA-Z/!]")


def _pieces(element) -> list[str]:
    # Scripts and styles are not text, hidden or not; nor is markup inside <noscript>.
    pieces = (_SPACE.sub(" ", t).strip() for t in element.xpath(".//text()[not(ancestor::script) and not(ancestor::style)]"))
    return [piece for piece in pieces if piece and not _MARKUP.search(piece)]


def hidden_and_visible(html: str, min_piece_chars: int = 20) -> tuple[str, int]:
    """The hidden prose of a page (pieces of at least ``min_piece_chars``) and the number of
    visible characters."""
    import lxml.html

    try:
        root = lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return "", 0
    body = root.find("body")
    body = body if body is not None else root
    hidden = [element for element in body.xpath(_CANDIDATES) if isinstance(element.tag, str) and is_hidden(element)]
    hidden_set = set(hidden)
    # The outermost hidden elements only, so nested ones are not counted twice.
    outermost = [element for element in hidden if not any(ancestor in hidden_set for ancestor in element.iterancestors())]
    hidden_pieces = [piece for element in outermost for piece in _pieces(element)]
    hidden_all = sum(map(len, hidden_pieces))
    prose = " ".join(piece for piece in hidden_pieces if len(piece) >= min_piece_chars)
    total = sum(map(len, _pieces(body)))
    return prose, max(total - hidden_all, 0)


class HiddenHtmlScreen(ScreenStage):
    name = "screen_hidden_html"
    config_class = HiddenHtmlScreenConfig
    reads = ("html", "http_content_type")
    needs_html = True

    def screen(self, batch: pa.RecordBatch) -> tuple[list[list[Finding]], dict[str, list]]:
        findings = []
        for html, content_type in zip(batch.column("html").to_pylist(), column_values(batch, "http_content_type")):
            found: list[Finding] = []
            if html:
                hidden, visible = hidden_and_visible(decode_html(html, content_type).text, self.config.min_piece_chars)
                ratio = len(hidden) / max(visible, 1)
                if len(hidden) >= self.config.min_hidden_chars and ratio > self.config.max_hidden_ratio:
                    found.append(("screen.hidden_text", f"{len(hidden)} hidden / {visible} visible characters: {hidden}"))
            findings.append(found)
        return findings, {}
