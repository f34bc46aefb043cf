"""``curate train-quality``: a fastText quality classifier from positive and negative texts.

Inputs are text files with one document per line (``.txt``, ``.txt.gz``),
JSON Lines with a ``text`` field (``.jsonl``, ``.jsonl.gz``, ``.jsonl.zst``),
or Parquet with a ``text`` column (curate's own output shards work). A
deterministic share of each class, chosen by a hash of the text, is held back
to measure precision and recall; training uses one thread so the same inputs
give the same model, and it runs in a fresh process (``fit_supervised``).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from stages.quality_model import NEGATIVE_LABEL, POSITIVE_LABEL, fasttext_tokens
from stages.readers.compressed import numbered_lines


class TrainingError(ValueError):
    pass


# The child imports fastText and nothing else: see fit_supervised.
_FIT_CHILD = """
import json, sys
import fasttext
job = json.loads(sys.argv[1])
model = fasttext.train_supervised(input=job["input"], thread=1, verbose=0, **job["params"])
if job["quantize"] is not None:
    model.quantize(input=job["input"], thread=1, verbose=0, **job["quantize"])
model.save_model(job["out"])
"""


def fit_supervised(train_path: str, out: str, params: dict, quantize: dict | None = None) -> None:
    """Train a fastText classifier on ``train_path`` (one ``__label__x tokens`` line per
    document) with one thread, optionally quantize it (``quantize``: ``FastText.quantize``
    keywords), and save it to ``out``, in a fresh Python process.

    Why a fresh process: fasttext-numpy2 (0.10.x) allocates the input matrix without zeroing
    it (posix_memalign) and, with one thread, initialises only its first tenth (fastText's
    ``uniform`` fills one tenth per thread); the other rows hold whatever the allocator hands
    back. A fresh process gets them from new, zeroed pages, so the same inputs give the same
    bytes; a second training in the same process reads the first one's freed matrix and gives
    another model, or fails with "Encountered NaN". ``MALLOC_MMAP_THRESHOLD_`` makes glibc map
    every large block fresh even so."""
    job = {"input": train_path, "out": out, "params": params, "quantize": quantize}
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    result = subprocess.run(
        [sys.executable, "-c", _FIT_CHILD, json.dumps(job)], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        stderr = result.stderr.strip()
        reason = stderr.splitlines()[-1] if stderr else result.returncode
        raise TrainingError(f"fastText training failed: {reason}")


def read_texts(path: str) -> Iterator[str]:
    """Documents of one input file, by its extension."""
    name = path.lower()
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        table = pq.read_table(path, columns=["text"])
        yield from (t for t in table.column("text").to_pylist() if t)
        return
    is_jsonl = ".jsonl" in name or ".json" in name
    for number, _, raw in numbered_lines(path):
        line = raw.decode("utf-8", errors="replace").strip()
        if not line:
            continue
        if is_jsonl:
            try:
                text = json.loads(line).get("text")
            except (json.JSONDecodeError, AttributeError) as error:
                raise TrainingError(f"{path}:{number}: not a JSON object with a text field ({error})") from error
            if isinstance(text, str) and text.strip():
                yield text
        else:
            yield line


@dataclass
class Evaluation:
    train_positive: int
    train_negative: int
    test_positive: int
    test_negative: int
    precision: float
    recall: float
    accuracy: float


def _held_out(text: str, share: float) -> bool:
    digest = hashlib.sha1(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < share


def train_quality_model(
    positive: list[str],
    negative: list[str],
    out: str,
    *,
    holdout: float = 0.1,
    epoch: int = 10,
    word_ngrams: int = 2,
    dim: int = 64,
    seed: int = 1,
) -> Evaluation:
    """Train, evaluate on the held-back share, and save the model to ``out``."""
    import fasttext

    if not hasattr(fasttext, "train_supervised"):
        raise TrainingError(
            "the installed `fasttext` module cannot train (it is fasttext-predict's); "
            "run: pip install --force-reinstall --no-deps fasttext-numpy2"
        )
    train, test, counts = _split_documents(positive, negative, holdout)
    random.Random(seed).shuffle(train)
    params = {"epoch": epoch, "lr": 0.5, "wordNgrams": word_ngrams, "dim": dim, "minCount": 1, "seed": seed}
    _fit_lines(train, out, params)
    return _evaluate(fasttext.load_model(out), test, counts)


def _split_documents(
    positive: list[str], negative: list[str], holdout: float
) -> tuple[list[str], list[tuple[str, str]], dict[str, dict[str, int]]]:
    """Training lines (``label tokens``), held-back (label, tokens) pairs, and documents per
    split and label; fails unless each label has some of both."""
    train: list[str] = []
    test: list[tuple[str, str]] = []
    counts = {"train": {POSITIVE_LABEL: 0, NEGATIVE_LABEL: 0}, "test": {POSITIVE_LABEL: 0, NEGATIVE_LABEL: 0}}
    for label, paths in ((POSITIVE_LABEL, positive), (NEGATIVE_LABEL, negative)):
        for path in paths:
            if not os.path.isfile(path):
                raise TrainingError(f"no such input file: {path}")
            for text in read_texts(path):
                tokens = fasttext_tokens(text)
                if not tokens:
                    continue
                split = "test" if _held_out(text, holdout) else "train"
                counts[split][label] += 1
                if split == "test":
                    test.append((label, tokens))
                else:
                    train.append(f"{label} {tokens}")
    for label in (POSITIVE_LABEL, NEGATIVE_LABEL):
        if counts["train"][label] == 0 or counts["test"][label] == 0:
            raise TrainingError(
                f"not enough {label.removeprefix('__label__')} documents to train and hold some back: {counts}"
            )
    return train, test, counts


def _fit_lines(train: list[str], out: str, params: dict) -> None:
    """Train on ``train`` lines through a temporary file (fastText reads its input from disk);
    ``.ftz`` output is quantized."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8", delete=False) as handle:
        handle.write("\n".join(train) + "\n")
        train_path = handle.name
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    try:
        fit_supervised(train_path, out, params, {"retrain": False} if out.endswith(".ftz") else None)
    finally:
        os.remove(train_path)


def _evaluate(model: Any, test: list[tuple[str, str]], counts: dict[str, dict[str, int]]) -> Evaluation:
    """Precision and recall of the positive label, and accuracy, on the held-back documents."""
    predicted = model.predict([tokens for _, tokens in test], k=1)[0]
    pairs = [(label, guess) for (label, _), (guess,) in zip(test, predicted)]
    tp = sum(1 for label, guess in pairs if label == POSITIVE_LABEL and guess == POSITIVE_LABEL)
    fp = sum(1 for label, guess in pairs if label == NEGATIVE_LABEL and guess == POSITIVE_LABEL)
    fn = sum(1 for label, guess in pairs if label == POSITIVE_LABEL and guess != POSITIVE_LABEL)
    correct = sum(1 for label, guess in pairs if label == guess)
    return Evaluation(
        train_positive=counts["train"][POSITIVE_LABEL],
        train_negative=counts["train"][NEGATIVE_LABEL],
        test_positive=counts["test"][POSITIVE_LABEL],
        test_negative=counts["test"][NEGATIVE_LABEL],
        precision=tp / (tp + fp) if tp + fp else 0.0,
        recall=tp / (tp + fn) if tp + fn else 0.0,
        accuracy=correct / len(test),
    )
