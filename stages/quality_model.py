"""Score documents with a trained fastText quality classifier and drop the low scorers.

The model comes from ``curate train-quality`` (labels ``__label__hq`` and
``__label__lq``); it sees text the way training saw it: jieba words for
Chinese (whitespace tokens otherwise), lower-cased, on one line.

Drops ``quality.model_score`` when the probability of ``hq`` is below
``threshold`` (the recorded value is that probability). Adds ``quality_score``,
which dedup's ``highest_quality`` keep policy and the report use.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import pyarrow as pa

from curate.config_schema import bounds, path_field
from curate.decoded_columns import column_values
from curate.stage import Drop, Reason, Stage
from stages.cjk import HAN
from stages.langid import check_model_file
from stages.words import segmenter

POSITIVE_LABEL = "__label__hq"
NEGATIVE_LABEL = "__label__lq"
_SPACE = re.compile(r"\s+")


def fasttext_tokens(text: str, max_chars: int = 20_000) -> str:
    """One line of lower-cased tokens: jieba words when the text has Han characters."""
    text = text[:max_chars]
    if HAN.search(text):
        tokens = [w for w in segmenter("rjieba")(text) if not w.isspace()]
    else:
        tokens = text.split()
    return _SPACE.sub(" ", " ".join(tokens)).strip().lower()


@functools.lru_cache(maxsize=4)
def load_classifier(path: str):  # -> fasttext.FastText._FastText
    import fasttext

    return fasttext.load_model(path)


@dataclass
class QualityModelConfig:
    model_path: str = field(metadata=path_field())
    """A model written by ``curate train-quality``."""
    threshold: float = field(default=0.5, metadata=bounds(0, 1))
    """Minimum probability of the high-quality label."""

    def check_files(self, path: str) -> None:
        check_model_file(f"{path}.model_path", self.model_path)


class QualityModel(Stage):
    name = "quality_model"
    config_class = QualityModelConfig
    reads = ("text",)
    writes = (pa.field("quality_score", pa.float32()),)

    def __init__(self, config: QualityModelConfig) -> None:
        super().__init__(config)
        self.model = load_classifier(config.model_path)

    @classmethod
    def model_files(cls, config: QualityModelConfig) -> list[str]:
        return [config.model_path]

    def score(self, texts: list[str]) -> list[float]:
        labels, probs = self.model.predict([fasttext_tokens(t) for t in texts], k=2)
        return [float(dict(zip(lab, prob)).get(POSITIVE_LABEL, 0.0)) for lab, prob in zip(labels, probs)]

    def annotate(self, batch: pa.RecordBatch) -> tuple[dict[str, list], list[Reason]]:
        scores = self.score(column_values(batch, "text"))
        reasons: list[Reason] = [Drop("quality.model_score", s) if s < self.config.threshold else None for s in scores]
        return {"quality_score": scores}, reasons
