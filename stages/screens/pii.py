"""Personal data: e-mail addresses, mainland mobile numbers, resident ID numbers, QQ numbers, IPs.

Rules (each counted in the manifest under ``flags`` when kept):
- ``screen.pii_email``;
- ``screen.pii_mobile``: 1[3-9] plus 9 digits, not inside a longer number;
- ``screen.pii_id_number``: 18-character resident ID numbers whose birth date
  is plausible and whose ISO 7064 MOD 11-2 check character is right (so most
  18-digit order numbers do not count);
- ``screen.pii_qq``: 5-11 digit numbers right after "QQ" (QQ号, QQ:);
- ``screen.pii_ip``: IPv4 addresses.

With ``redact: true`` (default) the matches are replaced in ``text`` by
placeholders (``<email>``, ``<mobile>``, ``<id_number>``, ``<qq>``, ``<ip>``) and
the document is kept; ``action: drop`` quarantines documents with any PII
instead. Evidence is the count per type, never the personal data itself.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import pyarrow as pa

from curate.decoded_columns import column_values
from stages.screens.base import Action, Finding, ScreenStage

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
PATTERNS = {
    "email": re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"),
    "id_number": re.compile(
        r"(?<![0-9])[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx](?![0-9Xx])"
    ),
    "mobile": re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9][0-9]{9}(?![0-9])"),
    "qq": re.compile(r"(?i)(?<=qq)(?:号码|號碼|号|號)?\s*[:：]?\s*([1-9][0-9]{4,10})(?![0-9])"),
    "ip": re.compile(
        r"(?<![0-9.])(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(?![0-9.])"
    ),
}
PLACEHOLDERS = {kind: f"<{kind}>" for kind in PATTERNS}


def valid_id_number(number: str) -> bool:
    """The ISO 7064 MOD 11-2 check character of an 18-character resident ID number."""
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == number[17].upper()


@dataclass
class PiiScreenConfig:
    action: Action = "flag"
    """Our choice: keep the page (redacted); personal data is a property of a span, not of a page."""
    redact: bool = True


class PiiScreen(ScreenStage):
    name = "screen_pii"
    config_class = PiiScreenConfig
    reads = ("text",)
    writes = ScreenStage.writes + (pa.field("text", pa.string()),)

    def find(self, text: str) -> list[tuple[str, int, int]]:
        """(kind, start, end) of every match, ID numbers before the mobile numbers inside them."""
        spans: list[tuple[str, int, int]] = []
        taken: list[tuple[int, int]] = []
        for kind, pattern in PATTERNS.items():
            for match in pattern.finditer(text):
                start, end = match.span(1) if kind == "qq" else match.span()
                if kind == "id_number" and not valid_id_number(match.group()):
                    continue
                if any(start < e and s < end for s, e in taken):
                    continue
                spans.append((kind, start, end))
                taken.append((start, end))
        return sorted(spans, key=lambda span: span[1])

    def screen(self, batch: pa.RecordBatch) -> tuple[list[list[Finding]], dict[str, list]]:
        findings, out_texts = [], []
        for text in column_values(batch, "text"):
            text = text or ""
            spans = self.find(text)
            counts = Counter(kind for kind, _, _ in spans)
            findings.append([(f"screen.pii_{kind}", f"{count} found") for kind, count in sorted(counts.items())])
            if spans and self.config.redact:
                pieces, position = [], 0
                for kind, start, end in spans:
                    pieces += [text[position:start], PLACEHOLDERS[kind]]
                    position = end
                text = "".join(pieces) + text[position:]
            out_texts.append(text)
        return findings, {"text": out_texts}
