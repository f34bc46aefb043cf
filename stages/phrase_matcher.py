"""Find every occurrence of many fixed phrases in one vectorised pass over a text.

A hashed table of the phrases' first two characters (the block-hash prefilter
of Wu and Manber's multi-pattern search) marks candidate start positions with
one numpy lookup per character; each candidate is then confirmed with
``str.startswith`` against the few phrases that begin with that character
pair. Prose has few candidates, so a 5,000-character page costs ~20 µs with
hundreds of phrases. (pyahocorasick, used before, took ~0.4 ms on the same
page with the 641 spam terms: its nodes look up children in a list, and the
root has hundreds.) Every occurrence is reported, overlapping ones included.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable

import numpy as np

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


def lower_codepoints(codepoints: np.ndarray) -> np.ndarray:
    """``codepoints`` in lower case, one for one (see the module docstring)."""
    lowered = _lower_table().take(np.minimum(codepoints, 0xFFFF))
    beyond = np.flatnonzero(codepoints > 0xFFFF)
    if len(beyond):
        # Past the BMP only a few scripts have case (Deseret, Osage, ...): lower those one by one.
        lowered[beyond] = [ord(c.lower()) if len(c.lower()) == 1 else ord(c) for c in map(chr, codepoints[beyond].tolist())]
    return lowered


class PhraseMatcher:
    """Occurrences of fixed phrases (none may contain a newline) in a text, ignoring case;
    build once per process."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self.by_block: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
        """Phrases of two or more characters (and their UTF-32 bytes), by their first two characters."""
        self.single: frozenset[str] = frozenset()
        singles = set()
        for phrase in dict.fromkeys(map(_lower_chars, phrases)):
            if not phrase:
                raise ValueError("empty phrase")
            if "\n" in phrase:
                raise ValueError(f"phrase {phrase!r} spans lines")
            if len(phrase) == 1:
                singles.add(phrase)
            else:
                self.by_block[phrase[:2]].append((phrase, phrase.encode("utf-32-le")))
        self.single = frozenset(singles)
        self.table = np.zeros(1 << _TABLE_BITS, dtype=bool)
        if self.by_block:
            blocks = np.array([[ord(b[0]), ord(b[1])] for b in self.by_block], dtype=np.uint32)
            self.table[_block_keys(blocks[:, 0], blocks[:, 1])] = True
        self.single_codes = np.array(sorted(map(ord, self.single)), dtype=np.uint32)

    def find(self, text: str, codepoints: np.ndarray | None = None) -> list[tuple[int, str]]:
        """(start, phrase) of every occurrence, by start. ``codepoints``: the text's code points
        (uint32), when the caller has them."""
        if codepoints is None:
            codepoints = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        lowered = lower_codepoints(codepoints)
        found = []
        if len(lowered) >= 2 and self.by_block:
            for start in np.flatnonzero(self.table.take(_block_keys(lowered[:-1], lowered[1:]))).tolist():
                for phrase, encoded in self.by_block.get(chr(lowered[start]) + chr(lowered[start + 1]), ()):
                    if lowered[start : start + len(phrase)].tobytes() == encoded:
                        found.append((start, phrase))
        if len(self.single_codes):
            found.extend((start, chr(lowered[start])) for start in np.flatnonzero(np.isin(lowered, self.single_codes)).tolist())
            found.sort()
        return found


def _lower_chars(text: str) -> str:
    """``text`` lowered one character at a time, as ``lower_codepoints`` lowers."""
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


@functools.lru_cache(maxsize=8)
def phrase_matcher(phrases: tuple[str, ...]) -> PhraseMatcher:
    """A matcher over ``phrases``, built once per worker process."""
    return PhraseMatcher(phrases)
