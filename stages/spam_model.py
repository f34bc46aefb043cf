"""Score every document with curate's fastText spam classifier and drop the spam.

The keyword lists of ``spam_lexicon`` catch a page only when its terms are in
the lists; real gambling operators name themselves with brands no list has
(the lexicon catches 16 % of the real operator pages in ../shared/data). This
model learns from the text instead: character pairs of the page's title and
the start of its text, which carry the trade (betting, deposits, draws, odds,
agents) whatever the brand. It is one signal among several: the lexicon, the
screens and the global signals stay.

Drops ``quality.spam_model`` when the probability of spam is at least
``threshold`` (the recorded value is that probability). Adds ``spam_score``
(float32, the probability of spam) for every document it sees.

The default model, ``stages/models/spam_zh.ftz`` (0.56 MB, quantised), ships
with curate; ``benchmarks/train_spam_model.py`` trains it reproducibly (same
inputs, same bytes) from the labelled pages in ../shared/data
(``benchmarks/dev_data.py``): spam is the gambling operator pages, the
betting-platform texts and the Common Crawl excerpt's gambling and porn pages;
not spam is human-written text of 16 genres, real article, forum, Q&A and
portal pages, and People's Daily news. 30 % of every source is held out, by
campaign or document. Its sha256 is in ``benchmarks/results/spam_model.json``
and in every run's manifest (``models``).

Measured by that script on the held-out pages, at the default threshold:
recall 93.9 % of 66 spam pages (operator pages 92.0 %, platform texts 100 %,
Common Crawl 2 of 2), precision 95.4 %; known-good documents flagged: news
0.6 %, every other budget genre 0 %, DuReader's uncurated web pages 1.1 %,
portal pages 2 of 10; 0.5 % of 2,136 People's Daily documents neither training
nor the threshold saw. Trained without one source and tested on all of it
(brands differ between sources): operator pages 85.0 %, platform texts 84.8 %,
Common Crawl 3 of 9 (its 3 porn pages: none; nothing else teaches porn).

What the model reads (``model_input``, the same in training): the title and
the first ``PREFIX_CHARS`` characters of the text, lower-cased, as tokens:
each CJK character or punctuation mark alone, each run of Latin letters and
digits as one token; fastText adds token pairs (``wordNgrams=2``), so Chinese
is read as character bigrams. Chosen over jieba words by leave-one-source-out
recall (operator / platform / Common Crawl pages, unquantised models at their
own budget thresholds: character pairs 0.86 / 0.89 / 0.22, jieba word pairs
0.69 / 0.63 / 0.44, with thresholds that swung with every change). It needs
no segmentation: ~0.13-0.16 ms per page on the real Chinese pages (5,100
characters on average), whatever the page's length.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import pyarrow as pa

from curate.config_schema import ConfigError, bounds, path_field
from curate.decoded_columns import column_values
from curate.stage import Drop, Reason, Stage
from stages._text_kernels import spaced_tokens
from stages.langid import check_model_file
from stages.quality_model import NEGATIVE_LABEL, POSITIVE_LABEL, load_classifier

SHIPPED_MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models", "spam_zh.ftz")
SPAM_LABEL = NEGATIVE_LABEL
"""The shipped model uses ``curate train-quality``'s labels: spam is the low-quality class."""
GOOD_LABEL = POSITIVE_LABEL

PREFIX_CHARS = 1000
"""Characters of the text the model reads (after the title): spam shows in the first lines,
and a bounded prefix keeps the cost per page flat. A 3,000-character prefix flagged more
portal pages at the same budget and did not raise recall; 500 lost recall."""
DEFAULT_THRESHOLD = 0.086
"""Derived by ``benchmarks/train_spam_model.py`` for the shipped model: see ``SpamModelConfig.threshold``."""

# One token per CJK character, punctuation mark or symbol; runs of Latin letters and digits
# (ASCII and full-width) stay whole, so "pk10" or a domain's labels are tokens, not letters.
_TOKEN = re.compile(r"[0-9a-z\uff10-\uff19\uff41-\uff5a]+|[^\s0-9a-z\uff10-\uff19\uff41-\uff5a]")


def model_input(text: str | None, title: str | None = None) -> str:
    """The one line the model reads for a page: its title, then the start of its text, as the
    tokens ``_TOKEN`` finds, space-separated (built in C, ``stages/_text_kernels.c``: the same
    line as joining ``_TOKEN.findall``, at a tenth of the cost)."""
    head = f"{title}\n" if title else ""
    return spaced_tokens((head + (text or "")[:PREFIX_CHARS]).lower())


def spam_probabilities(model, lines: list[str]) -> list[float]:  # model: fasttext.FastText._FastText
    """The probability of spam of each input line. fastText reports exp(log(p + 1e-5)), so a
    certain label reads 1.00001: capped at 1."""
    labels, probs = model.predict(lines, k=2)
    return [min(float(dict(zip(label, prob)).get(SPAM_LABEL, 0.0)), 1.0) for label, prob in zip(labels, probs)]


@dataclass
class SpamModelConfig:
    model_path: str | None = field(default=None, metadata=path_field())
    """A fastText classifier with the labels ``__label__hq`` (not spam) and ``__label__lq``
    (spam) that reads ``model_input``'s line; by default the shipped ``stages/models/spam_zh.ftz``."""
    threshold: float = field(default=DEFAULT_THRESHOLD, metadata=bounds(0, 1))
    """Drop at this probability of spam or above. The default, 0.086, is derived for the shipped
    model by ``benchmarks/train_spam_model.py`` against an explicit false-positive budget: the
    lowest value (to 0.001) at which at most 1 % of the held-out known-good documents of every
    genre score at or above it (news binds: 1 of 159 documents above it; encyclopedic,
    forum/Q&A, government, legal, literature, subtitles, technical and Traditional-script
    documents: none). Low because spam is rare in training: the model's probabilities are not
    calibrated to 0.5. A model of your own (``model_path``) needs its own threshold."""

    def check_files(self, path: str) -> None:
        """The model loads and has both labels: a wrong file fails here, not in every worker."""
        check_model_file(f"{path}.model_path", self.model_file())  # before fastText reads it whole
        try:
            labels = set(load_classifier(self.model_file()).get_labels())
        except (ValueError, RuntimeError, OSError) as error:
            raise ConfigError(f"{path}.model_path", f"not a fastText model: {error}") from error
        missing = {SPAM_LABEL, GOOD_LABEL} - labels
        if missing:
            # A language model has 176 labels: name a few, not all.
            has = ", ".join(sorted(labels)[:6]) + (f", ... ({len(labels)} labels)" if len(labels) > 6 else "")
            raise ConfigError(
                f"{path}.model_path", f"the model has no {', '.join(sorted(missing))} label (it has {has})"
            )

    def model_file(self) -> str:
        return self.model_path or SHIPPED_MODEL


class SpamModel(Stage):
    name = "spam_model"
    config_class = SpamModelConfig
    reads = ("text",)
    writes = (pa.field("spam_score", pa.float32()),)

    def __init__(self, config: SpamModelConfig) -> None:
        super().__init__(config)
        self.model = load_classifier(config.model_file())

    @classmethod
    def model_files(cls, config: SpamModelConfig) -> list[str]:
        return [config.model_file()]

    def score(self, texts: list[str | None], titles: list[str | None] | None = None) -> list[float]:
        """The probability of spam of each document."""
        return spam_probabilities(
            self.model, [model_input(text, titles[i] if titles else None) for i, text in enumerate(texts)]
        )

    def annotate(self, batch: pa.RecordBatch) -> tuple[dict[str, list], list[Reason]]:
        # The extract stage writes the page's <title>; text inputs have none.
        titles = column_values(batch, "title") if "title" in batch.schema.names else None
        scores = self.score(column_values(batch, "text"), titles)
        threshold = self.config.threshold
        reasons: list[Reason] = [Drop("quality.spam_model", s) if s >= threshold else None for s in scores]
        return {"spam_score": scores}, reasons
