"""What every screen shares: the flag and evidence columns, the drop-or-flag action, quarantine."""

from __future__ import annotations

from abc import abstractmethod
from collections import Counter
from typing import Any, ClassVar, Literal

import pyarrow as pa

from curate.stage import Reason, Stage, StageStats

Action = Literal["drop", "flag"]
EVIDENCE_CHARS = 200
"""Evidence is cut to this many characters: enough to read the span, bounded per document."""

FLAGS_FIELD = pa.field("screen_flags", pa.list_(pa.string()))
EVIDENCE_FIELD = pa.field(
    "screen_evidence", pa.list_(pa.struct([pa.field("rule", pa.string()), pa.field("evidence", pa.string())]))
)

Finding = tuple[str, str]
"""(rule, evidence): a rule such as ``screen.zero_width`` and what triggered it."""


def clip(text: str) -> str:
    return text if len(text) <= EVIDENCE_CHARS else text[: EVIDENCE_CHARS - 1] + "…"


class ScreenStage(Stage):
    """A screen: ``screen`` finds rules per document; this class adds them to the shared columns
    and drops (quarantines) or flags by each rule's action (``action_of``)."""

    writes = (FLAGS_FIELD, EVIDENCE_FIELD)
    quarantines = True
    extra_columns: ClassVar[tuple[str, ...]] = ()
    """Columns a screen rewrites besides the flags (e.g. ``text`` when it strips or redacts)."""

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self._flagged: Counter = Counter()

    @abstractmethod
    def screen(self, batch: pa.RecordBatch) -> tuple[list[list[Finding]], dict[str, list]]:
        """Per row, the findings; and any rewritten columns (named in ``extra_columns``)."""

    def action_of(self, rule: str, evidence: str = "") -> str:
        """``drop`` or ``flag`` for one finding; ``evidence`` lets a screen decide by what matched
        (screen_blocklist: by the list category the evidence names)."""
        return self.config.action

    def annotate(self, batch: pa.RecordBatch) -> tuple[dict[str, Any], list[Reason]]:
        findings, rewritten = self.screen(batch)
        names = batch.schema.names
        old_flags = batch.column("screen_flags").to_pylist() if "screen_flags" in names else [None] * batch.num_rows
        old_evidence = (
            batch.column("screen_evidence").to_pylist() if "screen_evidence" in names else [None] * batch.num_rows
        )
        flags, evidence, reasons = [], [], []
        for found, before_flags, before_evidence in zip(findings, old_flags, old_evidence):
            rules = list(dict.fromkeys(rule for rule, _ in found))
            flags.append((before_flags or []) + rules)
            evidence.append((before_evidence or []) + [{"rule": rule, "evidence": clip(text)} for rule, text in found])
            dropping = list(dict.fromkeys(rule for rule, text in found if self.action_of(rule, text) == "drop"))
            reasons.append(dropping[0] if dropping else None)
            if not dropping:
                self._flagged.update(rules)
        return {"screen_flags": flags, "screen_evidence": evidence, **rewritten}, reasons

    def failures(self, batch: pa.RecordBatch) -> tuple[dict[str, Any], list[list[Reason]]]:
        """Every rule found on each row, whether its action drops or flags."""
        before = (
            [len(f or []) for f in batch.column("screen_flags").to_pylist()]
            if "screen_flags" in batch.schema.names
            else [0] * batch.num_rows
        )
        columns, _ = self.annotate(batch)
        self._flagged.clear()
        return columns, [flags[start:] for flags, start in zip(columns["screen_flags"], before)]

    def apply(self, batch: pa.RecordBatch, stats: StageStats) -> pa.RecordBatch:
        out = super().apply(batch, stats)
        stats.flags.update(self._flagged)
        self._flagged.clear()
        return out
