"""Benchmark decontamination: documents that contain evaluation items.

Users name their eval sets (JSON lines, optionally .gz, or Parquet), with the
fields that make an item's text (question, answer, ...). Items and documents
are normalised as for MinHash (NFKC, lower case, Traditional folded to
Simplified, punctuation and whitespace removed) and cut into n-grams: 13
characters for Chinese and other unspaced text, 13 words for space-separated
text (an item with Han characters under a third of its letters is cut into
words). A document is cut both ways, since pages mix scripts. The index holds
every item n-gram hash, sorted, with its item; a document looks up all of its
n-grams at once.

Rule ``screen.eval_contamination``: the document holds at least
``min_overlap`` of some item's distinct n-grams. Evidence: the eval set, the
item id and the share. No benchmark ships with curate; tests write their own.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.config_schema import ConfigError, bounds, path_field
from curate.decoded_columns import column_values
from stages._text_kernels import token_lengths
from stages.cjk import han_mask
from stages.minhash.signatures import normalise
from stages.screens.base import Action, Finding, ScreenStage
from stages.text_profile import LETTER, char_kinds, substring_hashes

_WORD = re.compile(r"\w+")
_BASE = np.uint64(0x100000001B3)


@dataclass
class EvalSetConfig:
    path: str = field(default="", metadata=path_field())
    """A .jsonl / .jsonl.gz / .parquet file, one item per line or row."""
    name: str = ""
    """Shown in evidence; the file name without extensions when empty."""
    fields: list[str] = field(default_factory=lambda: ["question", "answer"])
    """Fields joined into the item's text; missing or null fields count as empty."""
    id_field: str = ""
    """Field with the item's id; the line or row number when empty."""

    def check(self, path: str) -> None:
        if not self.path:
            raise ConfigError(f"{path}.path", "required key is missing")
        if not self.fields:
            raise ConfigError(f"{path}.fields", "name at least one field of the item's text")


@dataclass
class DecontaminationScreenConfig:
    action: Action = "drop"
    eval_sets: list[EvalSetConfig] = field(default_factory=list)
    ngram: int = field(default=13, metadata=bounds(1, 64))
    """13, as GPT-3's and the Llama papers' contamination checks."""
    min_overlap: float = field(default=0.5, metadata=bounds(0, 1))
    """Share of an item's distinct n-grams that must appear in one document."""

    def check(self, path: str) -> None:
        if not self.eval_sets:
            raise ConfigError(f"{path}.eval_sets", "name at least one eval set file")

    def check_files(self, path: str) -> None:
        for i, eval_set in enumerate(self.eval_sets):
            try:
                items = read_items(eval_set)
            except (OSError, ValueError) as error:
                raise ConfigError(f"{path}.eval_sets[{i}].path", str(error)) from None
            if not any(text for _, text in items):
                raise ConfigError(
                    f"{path}.eval_sets[{i}].fields", f"no item of {eval_set.path} has text in {eval_set.fields}"
                )


def _records(path: str) -> list[dict]:
    if path.endswith(".parquet"):
        return pq.read_table(path).to_pylist()
    opener = gzip.open if path.endswith(".gz") else open
    records = []
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not JSON ({error.msg})") from None
            if not isinstance(record, dict):
                raise ValueError(f"{path}:{number}: expected a JSON object")
            records.append(record)
    return records


def read_items(eval_set: EvalSetConfig) -> list[tuple[str, str]]:
    """(item id, text) of every item of an eval set."""
    items = []
    for index, record in enumerate(_records(eval_set.path)):
        text = "\n".join(str(record[f]) for f in eval_set.fields if record.get(f) is not None)
        item_id = str(record.get(eval_set.id_field, index)) if eval_set.id_field else str(index)
        items.append((item_id, text))
    return items


def _ngrams(units: np.ndarray, n: int) -> np.ndarray:
    if not len(units):
        return np.zeros(0, dtype=np.uint64)
    n = min(n, len(units))
    with np.errstate(over="ignore"):
        hashes = units[: len(units) - n + 1].copy()
        for k in range(1, n):
            hashes = hashes * _BASE + units[k : len(units) - n + 1 + k]
    return hashes


def char_ngrams(text: str, n: int) -> np.ndarray:
    return _ngrams(np.frombuffer(normalise(text).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64), n)


def word_ngrams(text: str, n: int) -> np.ndarray:
    words = _WORD.findall(unicodedata.normalize("NFKC", text).lower())
    lengths = np.frombuffer(token_lengths(words), dtype=np.int64)
    joined = np.frombuffer("".join(words).encode("utf-32-le"), dtype=np.uint32)
    return _ngrams(substring_hashes(joined, np.cumsum(lengths) - lengths, lengths).view(np.uint64), n)


def item_ngrams(text: str, n: int) -> np.ndarray:
    """Distinct n-gram hashes of an eval item: characters when a third or more of its letters
    are Han, words otherwise."""
    codepoints = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    letters = int(np.count_nonzero(char_kinds(codepoints) == LETTER))
    unspaced = int(han_mask(codepoints).sum()) * 3 >= max(letters, 1)
    return np.unique(char_ngrams(text, n) if unspaced else word_ngrams(text, n))


def document_ngrams(text: str, n: int) -> np.ndarray:
    """Distinct n-gram hashes of a document in both forms, since pages mix scripts."""
    return np.unique(np.concatenate([char_ngrams(text, n), word_ngrams(text, n)]))


class ContaminationIndex:
    """Every n-gram of every item, sorted, with the item each belongs to."""

    def __init__(self, eval_sets: list[EvalSetConfig], n: int) -> None:
        self.items: list[tuple[str, str]] = []  # (eval set name, item id)
        sizes, grams, owners = [], [], []
        for eval_set in eval_sets:
            name = eval_set.name or os.path.basename(eval_set.path).split(".")[0]
            for item_id, text in read_items(eval_set):
                hashes = item_ngrams(text, n)
                if not len(hashes):
                    continue
                owners.append(np.full(len(hashes), len(self.items), dtype=np.int64))
                grams.append(hashes)
                sizes.append(len(hashes))
                self.items.append((name, item_id))
        grams_all = np.concatenate(grams) if grams else np.zeros(0, dtype=np.uint64)
        owners_all = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int64)
        order = np.argsort(grams_all, kind="stable")
        self.grams, self.owners = grams_all[order], owners_all[order]
        self.sizes = np.array(sizes, dtype=np.int64)

    def overlaps(self, hashes: np.ndarray) -> list[tuple[int, float]]:
        """(item, share of its n-grams) for every item sharing an n-gram with ``hashes`` (distinct)."""
        if not len(self.grams) or not len(hashes):
            return []
        left = np.searchsorted(self.grams, hashes, side="left")
        right = np.searchsorted(self.grams, hashes, side="right")
        hit = right > left
        if not hit.any():
            return []
        owners = np.concatenate([self.owners[a:b] for a, b in zip(left[hit].tolist(), right[hit].tolist())])
        items, counts = np.unique(owners, return_counts=True)
        return [(int(i), float(c) / int(self.sizes[i])) for i, c in zip(items, counts)]


@functools.lru_cache(maxsize=2)
def _index(key: tuple) -> ContaminationIndex:
    eval_sets = [
        EvalSetConfig(path=p, name=name, fields=list(fields), id_field=id_field)
        for p, name, fields, id_field in key[1:]
    ]
    return ContaminationIndex(eval_sets, key[0])


class DecontaminationScreen(ScreenStage):
    name = "screen_decontamination"
    config_class = DecontaminationScreenConfig
    reads = ("text",)

    def __init__(self, config: DecontaminationScreenConfig) -> None:
        super().__init__(config)
        # Built once per worker process for the same eval sets.
        key = (config.ngram, *((e.path, e.name, tuple(e.fields), e.id_field) for e in config.eval_sets))
        self.index = _index(key)

    def screen(self, batch: pa.RecordBatch) -> tuple[list[list[Finding]], dict[str, list]]:
        findings = []
        for text in column_values(batch, "text"):
            matches = [
                (item, share)
                for item, share in self.index.overlaps(document_ngrams(text or "", self.config.ngram))
                if share >= self.config.min_overlap
            ]
            found: list[Finding] = []
            if matches:
                item, share = max(matches, key=lambda m: m[1])
                name, item_id = self.index.items[item]
                found.append(
                    (
                        "screen.eval_contamination",
                        f"{name} item {item_id}: {share:.0%} of its {self.config.ngram}-grams"
                        + (f" (+{len(matches) - 1} more items)" if len(matches) > 1 else ""),
                    )
                )
            findings.append(found)
        return findings, {}
