"""One pass over a document that the quality rules share: code points, words, lines.

Quality rules run on every document, so their cost is per document and must
stay small next to extraction. A profile segments the text once (jieba words
for zh/ja through rjieba; whitespace tokens otherwise) and keeps everything as
numpy arrays, so the rules are array arithmetic rather than Python loops over
characters or words. Profiles are cached per process: stages that run one
after another on the same text share one.

Each word is classified by its first character: space, letter (any script,
Han included), other alphanumeric (digits, numerals) or punctuation (everything
else: marks, symbols). jieba never mixes punctuation into a word, so this is
the word's class.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from stages._text_kernels import sentence_ends, token_lengths
from stages.words import SEGMENTED_LANGUAGES, ends_with_terminal_punctuation, segmenter

SPACE, PUNCT, LETTER, OTHER = 0, 1, 2, 3


@functools.lru_cache(maxsize=1)
def _kind_table() -> np.ndarray:
    """Word class of every Basic Multilingual Plane code point, built once per process (~10 ms).
    The last slot stands for everything beyond the BMP: CJK extensions and emoji, counted as letters."""
    chars = [chr(code) for code in range(0x10000)]
    table = np.full(0x10001, PUNCT, dtype=np.uint8)  # neither letter, digit nor space
    table[:-1][np.fromiter(map(str.isalnum, chars), dtype=bool, count=0x10000)] = OTHER
    table[:-1][np.fromiter(map(str.isalpha, chars), dtype=bool, count=0x10000)] = LETTER
    table[:-1][np.fromiter(map(str.isspace, chars), dtype=bool, count=0x10000)] = SPACE
    table[0x10000] = LETTER
    return table


class CharSet:
    """Membership of code points in a fixed set of BMP characters, as one table lookup."""

    def __init__(self, chars: str) -> None:
        self.table = np.zeros(0x10001, dtype=bool)  # the last slot stands for everything beyond the BMP
        self.table[[ord(c) for c in chars]] = True

    def mask(self, codepoints: np.ndarray) -> np.ndarray:
        # mode="clip" sends every code point past the BMP to the last slot, in one pass.
        return self.table.take(codepoints, mode="clip")


def char_kinds(codepoints: np.ndarray) -> np.ndarray:
    return _kind_table().take(codepoints, mode="clip")


@dataclass(frozen=True, eq=False)
class TextProfile:
    """A document as arrays; build it with ``profile()``."""

    text: str
    codepoints: np.ndarray
    """uint32 code point of every character."""
    tokens: list[str]
    """The segmenter's tokens; ``words`` are those at ``word_tokens``."""
    word_tokens: np.ndarray
    """Index in ``tokens`` of each word (a token that is not whitespace)."""
    word_lengths: np.ndarray
    word_kinds: np.ndarray
    word_lines: np.ndarray
    """Line number (counting newlines) of each word."""
    word_hashes: np.ndarray
    """int64 hash of each word, for n-gram arithmetic: equal words, equal hashes (``substring_hashes``)."""
    n_lines: int

    @functools.cached_property
    def words(self) -> tuple[str, ...]:
        """Every word that is not whitespace, punctuation included. Built on first use: the
        rules work on the arrays, so the pipeline rarely needs the strings."""
        return tuple(map(self.tokens.__getitem__, self.word_tokens.tolist()))

    @property
    def content_mask(self) -> np.ndarray:
        """Words that are not punctuation."""
        return self.word_kinds != PUNCT

    def words_per_line(self) -> np.ndarray:
        """Non-punctuation words on each line."""
        return np.bincount(self.word_lines[self.content_mask], minlength=self.n_lines)


_CACHE: OrderedDict[tuple[str, str | None, str], TextProfile] = OrderedDict()
# Enough for a default batch (256 documents) and its cleaned versions to pass through the
# quality stages; about 50-100 MB for long pages. Larger batches only cost re-segmentation.
_CACHE_SIZE = 512


def _remember(key: tuple[str, str | None, str], value: TextProfile) -> TextProfile:
    _CACHE[key] = value
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return value


def clear_cache() -> None:
    _CACHE.clear()


def profile(text: str, lang: str | None, segmenter_name: str = "rjieba") -> TextProfile:
    """The profile of ``text``, from the per-process cache when a stage already built it."""
    key = (text, lang, segmenter_name)
    cached = _CACHE.get(key)
    if cached is not None:
        _CACHE.move_to_end(key)
        return cached
    return _remember(key, _build(text, lang, segmenter_name))


def kept_lines_profile(
    page: TextProfile, kept: list[int], lines: list[str], lang: str | None, segmenter_name: str
) -> TextProfile:
    """The profile of ``"\n".join(lines)``, where ``lines`` are the page's lines numbered ``kept``
    (stripped of outer whitespace), derived without segmenting again: words never cross lines.
    Cached, so the stages after line cleaning find it."""
    text = "\n".join(lines)
    line_map = np.full(page.n_lines, -1, dtype=np.int64)
    line_map[np.asarray(kept, dtype=np.int64)] = np.arange(len(kept))
    new_lines = line_map[page.word_lines] if len(page.word_lines) else page.word_lines
    keep = new_lines >= 0
    derived = TextProfile(
        text=text,
        codepoints=np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32),
        tokens=page.tokens,
        word_tokens=page.word_tokens[keep],
        word_lengths=page.word_lengths[keep],
        word_kinds=page.word_kinds[keep],
        word_lines=new_lines[keep],
        word_hashes=page.word_hashes[keep],
        n_lines=max(len(lines), 1),
    )
    return _remember((text, lang, segmenter_name), derived)


def _build(text: str, lang: str | None, segmenter_name: str) -> TextProfile:
    codepoints = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    newlines_before = np.concatenate(([0], np.cumsum(codepoints == 10)))
    if lang in SEGMENTED_LANGUAGES:
        # jieba's tokens, whitespace included, concatenate back to the text.
        tokens = segmenter(segmenter_name)(text)
        lengths = np.frombuffer(token_lengths(tokens), dtype=np.int64)
        starts = np.cumsum(lengths) - lengths
    else:
        tokens = text.split()
        lengths = np.frombuffer(token_lengths(tokens), dtype=np.int64)
        starts = np.fromiter(_whitespace_starts(text, tokens), dtype=np.int64, count=len(tokens))
    kinds = char_kinds(codepoints[starts]) if len(tokens) else np.zeros(0, dtype=np.uint8)
    word_tokens = np.flatnonzero(kinds != SPACE)
    starts = starts[word_tokens]
    return TextProfile(
        text=text,
        codepoints=codepoints,
        tokens=tokens,
        word_tokens=word_tokens,
        word_lengths=lengths[word_tokens],
        word_kinds=kinds[word_tokens],
        word_lines=newlines_before[starts],
        word_hashes=substring_hashes(codepoints, starts, lengths[word_tokens]),
        n_lines=int(newlines_before[-1]) + 1,
    )


_HASH_BASE = np.uint64(0x100000001B3)  # odd, so invertible modulo 2**64
_HASH_BASE_INVERSE = np.uint64(pow(int(_HASH_BASE), -1, 2**64))
_LENGTH_MIX = np.uint64(0x9E3779B97F4A7C15)


def substring_hashes(codepoints: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """A polynomial hash (base B, modulo 2**64) of each substring, independent of where it
    starts, from one prefix sum over the text: sum(cp[s+t] * B**t) = (P[s+L] - P[s]) * B**-s,
    where P[k] = sum(cp[j] * B**j for j < k). About 20 µs for a 5,000-character page, where
    Python's hash() on each word string took ~150 µs. Polynomial hashes modulo 2**64 can be made
    to collide on purpose (Thue-Morse strings); here a collision only makes two words count as
    one in the repetition statistics."""
    with np.errstate(over="ignore"):
        powers, inverse_powers = _powers(len(codepoints))
        prefix = np.zeros(len(codepoints) + 1, dtype=np.uint64)
        np.cumsum(codepoints * powers, out=prefix[1:])
        lengths = lengths.astype(np.int64)
        hashes = (prefix[starts + lengths] - prefix[starts]) * inverse_powers[starts]
        hashes += lengths.astype(np.uint64) * _LENGTH_MIX  # "a" and "a\0" differ
    return hashes.view(np.int64)


_POWERS: list[np.ndarray] = [np.ones(0, np.uint64), np.ones(0, np.uint64)]
_MAX_CACHED_POWERS = 1 << 20


def _powers(count: int) -> tuple[np.ndarray, np.ndarray]:
    """B**0 ... B**(count - 1) and the same powers of B's inverse, modulo 2**64. Tables up to
    2**20 entries (16 MB) are kept per process and grown by doubling, so a page only slices
    them; longer texts compute their own."""
    if len(_POWERS[0]) >= count:
        return _POWERS[0][:count], _POWERS[1][:count]
    size = count if count > _MAX_CACHED_POWERS else min(max(count, 2 * len(_POWERS[0]), 4096), _MAX_CACHED_POWERS)
    tables = []
    for base in (_HASH_BASE, _HASH_BASE_INVERSE):
        table = np.full(size, base, dtype=np.uint64)
        table[0] = 1
        with np.errstate(over="ignore"):
            tables.append(np.cumprod(table, dtype=np.uint64))
    if size <= _MAX_CACHED_POWERS:
        _POWERS[:] = tables
    return tables[0][:count], tables[1][:count]


def _whitespace_starts(text: str, tokens: list[str]):
    position = 0
    for token in tokens:
        position = text.index(token, position)
        yield position
        position += len(token)


def sentence_count(page: TextProfile) -> int:
    """Sentences: runs of 。！？!?… and Western full stops after a letter or digit and before a
    space or the end (counted in C, ``stages._text_kernels.sentence_ends``); text after the
    last mark counts as one more sentence."""
    stripped = page.text.strip()
    if not stripped:
        return 0
    return sentence_ends(page.text) + (0 if ends_with_terminal_punctuation(stripped) else 1)


def hashes_of_words(words: list[str]) -> np.ndarray:
    """``word_hashes`` of the given words, to look them up in a profile."""
    text = "".join(words)
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    return substring_hashes(
        np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32), np.cumsum(lengths) - lengths, lengths
    )
