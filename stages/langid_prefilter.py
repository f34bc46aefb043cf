"""Language-first routing: a cheap pass that keeps only pages that can be in a target language.

Full extraction (trafilatura, ~20-40 ms a page) is most of a pipeline's cost,
and in a Common Crawl dump only a few percent of pages are Chinese. Before
extraction, each page gets a cheap reading: resiliparse's plain-text rendering
of the decoded HTML (~1 ms; every text node, no boilerplate removal). A page
stays a candidate on any positive evidence:

- Common Crawl's ``WARC-Identified-Content-Language`` names a target language;
- the HTTP ``Content-Language`` or ``<html lang>`` names one;
- Han characters make up at least ``min_han_share`` of the cheap text's letters
  (for Chinese targets);
- lid.176 on the first ``max_chars`` of the cheap text gives a target language
  (or a Chinese variety) at least ``min_score`` (lenient: the full language ID
  after extraction decides).

Headers only ever add candidates: many Chinese sites declare ``en`` or nothing.

When Chinese is the only target, a page whose decoded HTML holds no Han character at all (and
no numeric character reference that could stand for one) is dropped before it is rendered:
its text could hold none either, and a Chinese page without a single Han character cannot pass
the language ID and ``zh_quality``'s CJK share downstream. Most of a crawl is such pages, and
the check (~0.15 ms on a 146 KB page) costs a fifth of the rendering and lid.176 it replaces
(``benchmarks/whole_process.py``); on 2,000 non-Chinese pages of the benchmark WARC, lid.176
passed none of the 1,837 it applies to.

Drops ``langid.prefilter`` (the recorded value is the page's Han share): pages
with no evidence of a target language. A Japanese page with many kanji stays a
candidate; the language ID after extraction drops it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from curate.config_schema import bounds, path_field
from curate.decoded_columns import column_values
from curate.stage import Drop, Reason, Stage
from stages.charset import decode_html
from stages.cjk import han_mask
from stages.langid import CHINESE_VARIETIES, bundled_model_path, check_model_file, load_model
from stages.text_profile import LETTER, char_kinds

# ISO 639-3 codes Common Crawl writes, for the ISO 639-1 codes of the config.
ISO_639_3 = {"zh": ("zho", "cmn", "yue", "wuu", "lzh"), "ja": ("jpn",), "ko": ("kor",), "en": ("eng",)}
_HTML_LANG = re.compile(rb"<html[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3})", re.IGNORECASE)
_HAN_REFERENCE = re.compile(
    r"&#(?:[xX]0*(?:[3-9a-fA-F][0-9a-fA-F]{3}|[23][0-9a-fA-F]{4})|0*(?:[1-9][0-9]{4}|[12][0-9]{5}))"
)
"""A numeric character reference that may stand for a Han character: hex U+3000-U+FFFF and
U+20000-U+3FFFF, decimal 10000-299999 (wider than the Han blocks, so none is missed)."""


@dataclass
class LangIdPrefilterConfig:
    languages: list[str] = field(default_factory=lambda: ["zh"])
    """Target languages (ISO 639-1, as lid.176 names them)."""
    min_han_share: float = field(default=0.05, metadata=bounds(0, 1))
    """Our choice: Chinese pages measured here have Han shares from ~0.3 up; English pages with a
    Chinese link or name stay under 0.05."""
    min_score: float = field(default=0.05, metadata=bounds(0, 1))
    """Lenient on purpose: the language ID after extraction has the final word."""
    max_chars: int = field(default=2000, metadata=bounds(100))
    """Characters of the cheap text given to lid.176 (0.4 ms for 2,000; ~1 ms for a whole page)."""
    use_headers: bool = True
    """Let Content-Language, <html lang> and WARC-Identified-Content-Language add candidates."""
    model_path: str | None = field(default=None, metadata=path_field())
    """lid.176.bin instead of the bundled lid.176.ftz."""

    def check_files(self, path: str) -> None:
        if self.model_path:
            check_model_file(f"{path}.model_path", self.model_path)


def cheap_text(html: bytes, content_type: str | None) -> str:
    """Every text node of the page (resiliparse), decoded with the page's charset."""
    return render_text(decode_html(html, content_type).text)


def render_text(decoded: str) -> str:
    """Every text node of decoded HTML (resiliparse's plain-text rendering)."""
    from resiliparse.extract.html2text import extract_plain_text

    return extract_plain_text(decoded, main_content=False, alt_texts=False, links=False)


def may_hold_han(decoded: str) -> bool:
    """Whether decoded HTML holds a Han character, or a character reference that may be one."""
    if not decoded.isascii() and han_mask(np.frombuffer(decoded.encode("utf-32-le"), dtype=np.uint32)).any():
        return True
    return _HAN_REFERENCE.search(decoded) is not None


def han_share(text: str) -> float:
    codepoints = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    letters = int(np.count_nonzero(char_kinds(codepoints) == LETTER))
    return int(han_mask(codepoints).sum()) / letters if letters else 0.0


class LangIdPrefilter(Stage):
    name = "langid_prefilter"
    config_class = LangIdPrefilterConfig
    reads = ("html", "http_content_type")
    needs_html = True

    def __init__(self, config: LangIdPrefilterConfig) -> None:
        super().__init__(config)
        self.model = load_model(config.model_path or bundled_model_path())
        self.targets = set(config.languages) | (set(CHINESE_VARIETIES) if "zh" in config.languages else set())
        self.cc_codes = {code for lang in config.languages for code in ISO_639_3.get(lang, ())}
        self.han_only = set(config.languages) == {"zh"}
        """Chinese is the only target: a page without Han characters cannot be one."""

    @classmethod
    def model_files(cls, config: LangIdPrefilterConfig) -> list[str]:
        return [config.model_path or bundled_model_path()]

    def header_says_target(self, html: bytes, content_language: str | None, identified: str | None) -> bool:
        if identified and any(code in self.cc_codes for code in identified.lower().replace(" ", "").split(",")):
            return True
        declared = [content_language or ""]
        match = _HTML_LANG.search(html[:4096])
        if match:
            declared.append(match.group(1).decode("ascii", "replace"))
        return any(d.strip().lower()[:2] in self.config.languages for d in declared if d)

    def annotate(self, batch: pa.RecordBatch) -> tuple[dict[str, list], list[Reason]]:
        names = batch.schema.names
        htmls = batch.column("html").to_pylist()
        content_types = column_values(batch, "http_content_type")
        languages = (
            column_values(batch, "http_content_language")
            if "http_content_language" in names
            else [None] * batch.num_rows
        )
        identified = (
            column_values(batch, "warc_identified_language")
            if "warc_identified_language" in names
            else [None] * batch.num_rows
        )
        reasons: list[Reason] = [None] * batch.num_rows
        undecided, texts = [], []
        for i, html in enumerate(htmls):
            if html is None:
                continue  # text records (WET) have no HTML to judge: the language ID decides
            if self.config.use_headers and self.header_says_target(html, languages[i], identified[i]):
                continue
            decoded = decode_html(html, content_types[i]).text
            if self.han_only and not may_hold_han(decoded):
                reasons[i] = Drop("langid.prefilter", 0.0)
                continue
            text = render_text(decoded)
            share = han_share(text)
            if "zh" in self.config.languages and share >= self.config.min_han_share:
                continue
            undecided.append((i, share))
            texts.append(text[: self.config.max_chars].replace("\n", " "))
        if texts:
            labels, probabilities = self.model.predict(texts, k=3)
            for (i, share), label_list, probs in zip(undecided, labels, probabilities):
                score = sum(
                    float(p) for label, p in zip(label_list, probs) if label.removeprefix("__label__") in self.targets
                )
                if score < self.config.min_score:
                    reasons[i] = Drop("langid.prefilter", share)
        return {}, reasons
