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
import itertools
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from stages.words import SEGMENTED_LANGUAGES, segmenter

SPACE, PUNCT, LETTER, OTHER = 0, 1, 2, 3


@functools.lru_cache(maxsize=1)
def _kind_table() -> np.ndarray:
    """Word class of every Basic Multilingual Plane code point, built once per process (~10 ms)."""
    chars = [chr(code) for code in range(0x10000)]
    table = np.full(0x10000, PUNCT, dtype=np.uint8)  # neither letter, digit nor space
    table[np.fromiter(map(str.isalnum, chars), dtype=bool, count=0x10000)] = OTHER
    table[np.fromiter(map(str.isalpha, chars), dtype=bool, count=0x10000)] = LETTER
    table[np.fromiter(map(str.isspace, chars), dtype=bool, count=0x10000)] = SPACE
    return table


class CharSet:
    """Membership of code points in a fixed set of BMP characters, as one table lookup."""

    def __init__(self, chars: str) -> None:
        self.table = np.zeros(0x10001, dtype=bool)  # the last slot stands for everything beyond the BMP
        self.table[[ord(c) for c in chars]] = True

    def mask(self, codepoints: np.ndarray) -> np.ndarray:
        return self.table[np.minimum(codepoints, 0x10000)]


def char_kinds(codepoints: np.ndarray) -> np.ndarray:
    # Beyond the BMP: CJK extensions and emoji; count them as letters.
    return np.where(codepoints > 0xFFFF, LETTER, _kind_table()[np.minimum(codepoints, 0xFFFF)]).astype(np.uint8)


@dataclass(frozen=True, eq=False)
class TextProfile:
    """A document as arrays; build it with ``profile()``."""

    text: str
    codepoints: np.ndarray
    """uint32 code point of every character."""
    words: tuple[str, ...]
    """Every word that is not whitespace, punctuation included."""
    word_lengths: np.ndarray
    word_kinds: np.ndarray
    word_lines: np.ndarray
    """Line number (counting newlines) of each word."""
    n_lines: int

    @property
    def content_mask(self) -> np.ndarray:
        """Words that are not punctuation."""
        return self.word_kinds != PUNCT

    def word_hashes(self) -> np.ndarray:
        """A 64-bit hash per word, for n-gram arithmetic (equal words, equal hashes)."""
        return np.fromiter(map(hash, self.words), dtype=np.int64, count=len(self.words))

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


def kept_lines_profile(page: TextProfile, kept: list[int], lines: list[str], lang: str | None, segmenter_name: str) -> TextProfile:
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
        words=tuple(itertools.compress(page.words, keep.tolist())),
        word_lengths=page.word_lengths[keep],
        word_kinds=page.word_kinds[keep],
        word_lines=new_lines[keep],
        n_lines=max(len(lines), 1),
    )
    return _remember((text, lang, segmenter_name), derived)


def _build(text: str, lang: str | None, segmenter_name: str) -> TextProfile:
    codepoints = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    newlines_before = np.concatenate(([0], np.cumsum(codepoints == 10)))
    if lang in SEGMENTED_LANGUAGES:
        # jieba's tokens, whitespace included, concatenate back to the text.
        tokens = segmenter(segmenter_name)(text)
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        starts = np.cumsum(lengths) - lengths
    else:
        tokens = text.split()
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        starts = np.fromiter(_whitespace_starts(text, tokens), dtype=np.int64, count=len(tokens))
    kinds = char_kinds(codepoints[starts]) if len(tokens) else np.zeros(0, dtype=np.uint8)
    keep = kinds != SPACE
    return TextProfile(
        text=text,
        codepoints=codepoints,
        words=tuple(itertools.compress(tokens, keep.tolist())),
        word_lengths=lengths[keep],
        word_kinds=kinds[keep],
        word_lines=newlines_before[starts][keep],
        n_lines=int(newlines_before[-1]) + 1,
    )


def _whitespace_starts(text: str, tokens: list[str]):
    position = 0
    for token in tokens:
        position = text.index(token, position)
        yield position
        position += len(token)


def top_ngram_chars(hashes: np.ndarray, lengths: np.ndarray, n: int) -> int:
    """Characters covered by the most frequent n-gram (0 if no n-gram repeats)."""
    grams = ngram_hashes(hashes, n)
    if not len(grams):
        return 0
    values, counts = np.unique(grams, return_counts=True)
    best = counts.max()
    if best < 2:
        return 0
    # Among equally frequent n-grams, the one seen first, as collections.Counter.most_common picks.
    tied = values[counts == best]
    at_tied = grams == tied[0] if len(tied) == 1 else np.isin(grams, tied)
    position = int(np.argmax(at_tied))
    return int(ngram_chars(lengths, n)[position] * best)


def duplicate_ngram_chars_by_size(hashes: np.ndarray, lengths: np.ndarray, sizes: range) -> dict[int, int]:
    """For each n in ``sizes`` (consecutive), characters of n-grams seen earlier in the text,
    skipping past each repeat (datatrove's find_all_duplicate; here an n-gram first seen inside a
    skipped repeat also counts as seen).

    An n-gram can only repeat where its (n-1)-gram repeats, so after the smallest n only the
    positions of repeated (n-1)-grams are examined: a few in prose, not the whole text.
    """
    result = {}
    prefix = np.concatenate(([0], np.cumsum(lengths)))
    candidates = np.arange(len(hashes), dtype=np.int64)
    for n in sizes:
        candidates = candidates[candidates <= len(hashes) - n]
        if not len(candidates):
            result[n] = 0
            continue
        with np.errstate(over="ignore"):
            grams = hashes[candidates].copy()
            for k in range(1, n):
                grams = grams * np.int64(1_000_003) + hashes[candidates + k]
        _, first, inverse, counts = np.unique(grams, return_index=True, return_inverse=True, return_counts=True)
        inverse = inverse.reshape(-1)
        repeats = candidates[first[inverse] < np.arange(len(candidates))]
        total, next_free = 0, 0
        for position in repeats.tolist():
            if position >= next_free:
                total += int(prefix[position + n] - prefix[position])
                next_free = position + n
        result[n] = total
        candidates = candidates[counts[inverse] >= 2]
    return result


def ngram_hashes(hashes: np.ndarray, n: int) -> np.ndarray:
    """One hash per n-gram of consecutive words (wrapping 64-bit polynomial)."""
    if len(hashes) < n:
        return np.zeros(0, dtype=np.int64)
    with np.errstate(over="ignore"):
        combined = hashes[: len(hashes) - n + 1].copy()
        for k in range(1, n):
            combined = combined * np.int64(1_000_003) + hashes[k : len(hashes) - n + 1 + k]
    return combined


def ngram_chars(lengths: np.ndarray, n: int) -> np.ndarray:
    """Characters of each n-gram, joined without spaces."""
    if len(lengths) < n:
        return np.zeros(0, dtype=np.int64)
    prefix = np.concatenate(([0], np.cumsum(lengths)))
    return prefix[n:] - prefix[:-n]


_SENTENCE_MARKS = CharSet("。！？!?…")
_FULL_STOP = ord(".")


def sentence_count(page: TextProfile) -> int:
    """Sentences: runs of 。！？!?… and Western full stops after a letter or digit and before a
    space or the end; text after the last mark counts as one more sentence."""
    cp = page.codepoints
    if not len(cp) or not page.text.strip():
        return 0
    marks = _SENTENCE_MARKS.mask(cp)
    previous = np.concatenate(([0], cp[:-1]))
    following = np.concatenate((cp[1:], [32]))
    stops = (cp == _FULL_STOP) & (char_kinds(previous) >= LETTER) & (char_kinds(following) == SPACE)
    ends = marks | stops
    runs = int((ends & ~np.concatenate(([False], ends[:-1]))).sum())
    from stages.words import ends_with_terminal_punctuation

    return runs + (0 if ends_with_terminal_punctuation(page.text.strip()) else 1)
