"""One betting name injected into the titles and first lines of many unrelated sites (global).

A hacked-site campaign puts the same brand into the pages of hundreds of sites;
one page shows a name its body never mentions, the run shows that name on many
domains. Per document (at the observation point, after extraction, so pages a
later stage drops still count), the names of its head spans that read as a
betting offer or carry a gambling category and that the body never mentions
(``stages.spam_injection.injected_names``: ``_某某国际``, ``某某体育app``) are
keyed with the document's registrable domain and shuffled by hash. A name is a
burst when it is on at least ``min_domains`` distinct domains and in at most
``max_documents`` documents. Rule ``spam.name_burst`` flags (keeps, annotated)
every surviving document that carries a burst name. It needs no vocabulary hit
beyond a category, so it catches brands the per-page rule lets pass (a name
with a category and no access word looks like a portal's own name in one
page). Evidence: the name, its documents and domains.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.config_schema import bounds
from curate.decoded_columns import column_values
from curate.global_stage import DECISION_SCHEMA
from stages.screens.base import clip
from stages.screens.global_flags import DOC_FIELD, GlobalFlagScreen, flag_surviving, with_document_numbers
from stages.screens.trigger_bursts import registrable_domain, string_hash
from stages.spam_injection import SpamInjectionConfig, injected_names


@dataclass
class SpamNameBurstsConfig:
    action: Literal["flag"] = "flag"
    """Flag: the run's global phase annotates the documents it keeps."""
    min_domains: int = field(default=3, metadata=bounds(2))
    """Ours: on the labelled dev data (3,500 known-good pages, real site pages) no name read this
    way appears on more than two domains; a campaign spans hundreds."""
    max_documents: int = field(default=100_000, metadata=bounds(1))
    """Names in more documents are boilerplate, not a campaign."""
    max_name_chars: int = field(default=12, metadata=bounds(2))
    """A brand is a few characters; a longer residue is a sentence that happens to hold a category word."""
    partitions: int = field(default=16, metadata=bounds(1, 65536))


class SpamNameBursts(GlobalFlagScreen):
    name = "spam_name_bursts"
    config_class = SpamNameBurstsConfig
    reads = ("text", "domain")
    rule = "spam.name_burst"
    key_schema = pa.schema(
        [pa.field("key", pa.uint64()), pa.field("name", pa.string()), pa.field("domain", pa.string()), DOC_FIELD]
    )

    def __init__(self, config: SpamNameBurstsConfig) -> None:
        super().__init__(config)
        self.spans = SpamInjectionConfig()

    def keys(self, batch: pa.RecordBatch, first_doc: int) -> tuple[pa.Table, np.ndarray]:
        columns: dict[str, list] = {name: [] for name in self.key_schema.names}
        titles = column_values(batch, "title") if "title" in batch.schema.names else [None] * batch.num_rows
        for doc, (title, text, domain) in enumerate(
            zip(titles, column_values(batch, "text"), column_values(batch, "domain"))
        ):
            for name in sorted(injected_names(title, text or "", self.spans, self.config.max_name_chars)):
                columns["key"].append(string_hash(name))
                columns["name"].append(name)
                columns["domain"].append(registrable_domain(domain))
                columns["doc"].append(first_doc + doc)
        keys = pa.table(columns, schema=self.key_schema)
        return keys, (keys.column("key").to_numpy() % np.uint64(self.config.partitions)).astype(np.int64)

    def resolve_partition(self, keys: pa.Table) -> pa.Table:
        config = self.config
        keys = with_document_numbers(keys)
        stats = keys.group_by("key").aggregate(
            [("document", "count_distinct"), ("domain", "count_distinct"), ("name", "min")]
        )
        bursts = stats.filter(
            pc.and_(
                pc.greater_equal(stats.column("domain_count_distinct"), config.min_domains),
                pc.less_equal(stats.column("document_count_distinct"), config.max_documents),
            )
        )
        if not bursts.num_rows:
            return DECISION_SCHEMA.empty_table()
        evidence = {
            key: clip(
                f"{name!r} in the titles or first lines of {docs} documents "
                f"on {domains} domains, never in their bodies"
            )
            for key, name, docs, domains in zip(
                *(
                    bursts.column(c).to_pylist()
                    for c in ("key", "name_min", "document_count_distinct", "domain_count_distinct")
                )
            )
        }
        return flag_surviving(keys, bursts.column("key"), evidence)
