"""Find every occurrence of many fixed phrases in one pass over a text.

A hashed table of the phrases' first two characters (the block-hash prefilter
of Wu and Manber's multi-pattern search) marks candidate start positions; each
candidate is then confirmed against the few phrases that begin with that
character pair (a binary search on the pair, then a comparison). The pass runs
in C (``stages/_text_kernels.c``): ~5-10 µs for a 5,000-character page with
hundreds of phrases, where numpy passes plus a Python loop over the candidates
took 20-45 µs. (pyahocorasick, used before that, took ~0.4 ms: its nodes look
up children in a list, and the root has hundreds.) Every occurrence is
reported, overlapping ones included.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import numpy as np

from stages._text_kernels import phrase_find

_TABLE_BITS = 16  # 64 KB; a few hundred phrases fill under 1 % of it
_MIX = np.uint32(40503)  # odd multiplier spreading the first character across the table


def _block_keys(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Table slots of character pairs (uint32 code points; the product wraps on purpose)."""
    with np.errstate(over="ignore"):
        return ((first * _MIX) ^ second) & np.uint32((1 << _TABLE_BITS) - 1)


@functools.lru_cache(maxsize=1)
def _lower_table() -> np.ndarray:
    """Lower-case code point of every BMP character (itself when its lower case is not one character)."""
    table = np.arange(0x10000, dtype=np.uint32)
    for code in range(0x10000):
        lowered = chr(code).lower()
        if len(lowered) == 1:
            table[code] = ord(lowered)
    return table


class PhraseMatcher:
    """Occurrences of fixed phrases (none may contain a newline) in a text, ignoring case;
    build once per process. The search runs in C (``stages/_text_kernels.c``, ``phrase_find``)
    over the tables built here: numpy took a dozen passes and a Python loop over candidates."""

    def __init__(self, phrases: Iterable[str]) -> None:
        multi: list[str] = []
        singles = set()
        for phrase in dict.fromkeys(map(_lower_chars, phrases)):
            if not phrase:
                raise ValueError("empty phrase")
            if "\n" in phrase:
                raise ValueError(f"phrase {phrase!r} spans lines")
            if len(phrase) == 1:
                singles.add(phrase)
            else:
                multi.append(phrase)
        # Phrases by their first two characters (then in the order given), for a binary search.
        keyed = sorted(((ord(p[0]) << 32 | ord(p[1])), index, p) for index, p in enumerate(multi))
        self.phrases = [p for _, _, p in keyed] + sorted(singles)
        """Every phrase, numbered as the C search reports it: two or more characters first."""
        self.has_singles = bool(singles)
        blocks = np.zeros(1 << _TABLE_BITS, dtype=np.uint8)
        if keyed:
            pairs = np.array([[ord(p[0]), ord(p[1])] for _, _, p in keyed], dtype=np.uint32)
            blocks[_block_keys(pairs[:, 0], pairs[:, 1])] = 1
        lengths = np.array([len(p) for _, _, p in keyed], dtype=np.int64)
        self._tables = (
            _lower_table(),
            blocks,
            np.array([key for key, _, _ in keyed], dtype=np.uint64),
            np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64) if len(lengths) else lengths,
            lengths,
            np.frombuffer("".join(p for _, _, p in keyed).encode("utf-32-le"), dtype=np.uint32).copy(),
            np.array(sorted(map(ord, singles)), dtype=np.uint32),
        )

    def find(self, text: str) -> list[tuple[int, str]]:
        """(start, phrase) of every occurrence, by start (for one start: longer phrases in the
        order given, then a one-character phrase)."""
        pairs = np.frombuffer(phrase_find(text, *self._tables), dtype=np.int64).reshape(-1, 2)
        phrases = self.phrases
        found = [(start, phrases[number]) for start, number in pairs.tolist()]
        if self.has_singles:
            found.sort()
        return found


def _lower_chars(text: str) -> str:
    """``text`` lowered one character at a time (a character whose lower case is longer stays
    itself), as the C search lowers the text: positions stay positions in the text."""
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


@functools.lru_cache(maxsize=8)
def phrase_matcher(phrases: tuple[str, ...]) -> PhraseMatcher:
    """A matcher over ``phrases``, built once per worker process."""
    return PhraseMatcher(phrases)
