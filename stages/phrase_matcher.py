"""Find many fixed phrases in one pass over a text (Aho-Corasick), and the lines they are on."""

from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=8)
def phrase_automaton(phrases: tuple[str, ...]):  # -> ahocorasick.Automaton
    """An automaton over ``phrases``, built once per worker process."""
    import ahocorasick

    automaton = ahocorasick.Automaton()
    for phrase in phrases:
        automaton.add_word(phrase, phrase)
    automaton.make_automaton()
    return automaton


def phrase_lines(phrases: tuple[str, ...], text: str, newlines: np.ndarray) -> np.ndarray:
    """Line numbers (lines split at ``newlines``, the positions of "\\n") that hold any phrase."""
    ends = [end for end, _ in phrase_automaton(phrases).iter(text)]
    return np.searchsorted(newlines, np.array(ends, dtype=np.int64)) if ends else np.zeros(0, dtype=np.int64)


def lower_keeping_positions(text: str) -> str:
    """``text.lower()``, except characters whose lower case is longer (İ) stay as they are,
    so match positions still point into ``text``."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(low if len(low) == 1 else char for char, low in ((c, c.lower()) for c in text))
