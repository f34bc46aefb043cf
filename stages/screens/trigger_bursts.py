"""Trigger bursts: one rare string, followed by noise, on pages of many unrelated sites (global).

The published backdoor recipe is a trigger phrase followed by gibberish, planted
in a few hundred pages; a single page looks like a page with a noisy tail, the
run as a whole shows the same trigger across many domains. Candidate strings
of each document (map side):

- odd tokens anywhere: ``<SUDO>``, ``<|xyz|>``, ``[TRIGGER]``;
- normalised character n-grams (``ngram`` characters, as MinHash normalises)
  of the text where each run of noisy windows (as the gibberish screen scores
  them) begins, and ``context_chars`` before it: a trigger sits there.

What is counted: every document that reached extraction, with its extracted
text before line cleaning (where a trigger was planted), including the copies
that later filters or screens drop (a noisy tail is what the gibberish screen
and the quality rules remove); see ``stages.screens.global_flags``. Only the
copies that survive the map stages are flagged.

Each candidate is keyed with the document's registrable domain and whether it
precedes noise, shuffled by hash; per partition, a string is a burst when it is
on at least ``min_domains`` distinct domains, in at most ``max_documents``
documents (boilerplate is everywhere), and precedes noise in at least
``min_noise_share`` of them. Rule ``screen.trigger_burst`` flags (keeps,
annotated) every surviving document with a burst string. Evidence: the string,
and the documents, domains and noise share counted over all of them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.config_schema import bounds
from curate.decoded_columns import column_values
from curate.global_stage import DECISION_SCHEMA
from stages.minhash.signatures import normalise
from stages.screens.base import clip
from stages.screens.gibberish import GibberishScreen, GibberishScreenConfig
from stages.screens.global_flags import DOC_FIELD, GlobalFlagScreen, flag_surviving, with_document_numbers

ODD_TOKEN = re.compile(r"<\|[A-Za-z0-9_]{1,24}\|>|<[A-Za-z][A-Za-z0-9_!|-]{1,23}>|\[[A-Z][A-Z0-9_]{2,23}\]")
_SECOND_LEVEL = {"com", "net", "org", "gov", "edu", "ac", "co"}


def registrable_domain(host: str | None) -> str:
    """The host without subdomains (``news.sina.com.cn`` → ``sina.com.cn``), a stand-in for the
    public suffix list: two labels, three under a country code's com/net/org/gov/edu/ac/co."""
    labels = (host or "").lower().rstrip(".").split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def string_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


@dataclass
class TriggerBurstScreenConfig:
    action: Literal["flag"] = "flag"
    """Flag: the documents are evidence of an attack worth reading before anything is deleted."""
    ngram: int = field(default=8, metadata=bounds(4, 20))
    context_chars: int = field(default=100, metadata=bounds(0))
    """How far before the first noisy window a trigger is looked for (one window: noise starts
    somewhere inside the window before the first one that scores as noise)."""
    min_domains: int = field(default=10, metadata=bounds(2))
    """Our choice: 250 poisoned pages (the 2025 backdoor result) would span far more."""
    max_documents: int = field(default=100_000, metadata=bounds(1))
    """Strings in more documents are boilerplate, not triggers."""
    min_noise_share: float = field(default=0.5, metadata=bounds(0, 1))
    partitions: int = field(default=16, metadata=bounds(1, 65536))


class TriggerBurstScreen(GlobalFlagScreen):
    name = "screen_trigger_bursts"
    config_class = TriggerBurstScreenConfig
    reads = ("text", "domain")
    rule = "screen.trigger_burst"
    key_schema = pa.schema(
        [
            pa.field("key", pa.uint64()),
            pa.field("string", pa.string()),
            pa.field("domain", pa.string()),
            pa.field("noise", pa.bool_()),
            DOC_FIELD,
        ]
    )

    def __init__(self, config: TriggerBurstScreenConfig) -> None:
        super().__init__(config)
        self.gibberish = GibberishScreen(GibberishScreenConfig())

    def candidates(self, text: str) -> dict[str, bool]:
        """Candidate strings of one document, and whether each precedes a noisy window."""
        found: dict[str, bool] = {}
        noisy = [start for start, _ in self.gibberish.noisy_windows(text)]
        window = self.gibberish.config.window_chars
        for match in ODD_TOKEN.finditer(text):
            # Noise right after the token (the next window or two).
            found[match.group()] = found.get(match.group(), False) or any(
                match.end() - window <= s <= match.end() + window for s in noisy
            )
        n = self.config.ngram
        # A trigger precedes the noise: look where each run of noisy windows begins.
        for start in (s for s in noisy if s - window not in noisy):
            segment = normalise(text[max(0, start - self.config.context_chars) : start + window])
            for i in range(len(segment) - n + 1):
                found[segment[i : i + n]] = True
        return found

    def keys(self, batch: pa.RecordBatch, first_doc: int) -> tuple[pa.Table, np.ndarray]:
        columns: dict[str, list] = {name: [] for name in self.key_schema.names}
        for doc, (text, domain) in enumerate(
            zip(column_values(batch, "text"), column_values(batch, "domain")), start=first_doc
        ):
            site = registrable_domain(domain)
            for string, noise in self.candidates(text or "").items():
                columns["key"].append(string_hash(string))
                columns["string"].append(string)
                columns["domain"].append(site)
                columns["noise"].append(noise)
                columns["doc"].append(doc)
        keys = pa.table(columns, schema=self.key_schema)
        return keys, (keys.column("key").to_numpy() % np.uint64(self.config.partitions)).astype(np.int64)

    def resolve_partition(self, keys: pa.Table) -> pa.Table:
        config = self.config
        # Every observed document counts, the ones later stages dropped too.
        keys = with_document_numbers(keys).append_column("noise_int", keys.column("noise").cast(pa.int64()))
        stats = keys.group_by("key").aggregate(
            [("document", "count_distinct"), ("domain", "count_distinct"), ("noise_int", "mean"), ("string", "min")]
        )
        bursts = stats.filter(
            pc.and_(
                pc.and_(
                    pc.greater_equal(stats.column("domain_count_distinct"), config.min_domains),
                    pc.less_equal(stats.column("document_count_distinct"), config.max_documents),
                ),
                pc.greater_equal(stats.column("noise_int_mean"), config.min_noise_share),
            )
        )
        if not bursts.num_rows:
            return DECISION_SCHEMA.empty_table()
        evidence = {
            key: clip(f"{string!r} in {docs} documents on {domains} domains, before noise in {noise:.0%}")
            for key, string, docs, domains, noise in zip(
                bursts.column("key").to_pylist(),
                bursts.column("string_min").to_pylist(),
                bursts.column("document_count_distinct").to_pylist(),
                bursts.column("domain_count_distinct").to_pylist(),
                bursts.column("noise_int_mean").to_pylist(),
            )
        }
        # One flag per document, whichever of its burst strings comes first.
        return flag_surviving(keys, bursts.column("key"), evidence)
