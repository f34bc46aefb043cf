"""The units cross-document line dedup counts: lines, and sentences of long paragraphs, with the
normalised form and the 64-bit hash that decide whether two of them are the same.

A unit is a line of the text; a line longer than ``max_unit_chars`` (a paragraph: Chinese pages
often put a whole paragraph, or a whole page, on one line) is cut after each sentence end
(。！？；… and their ASCII and full-width forms), so a boilerplate sentence glued to an article
paragraph is still found. Units keep their character span in the text, so removing one removes
exactly its characters.

Two units are the same when their normalised forms are: NFKC with full-width forms folded,
lower case, Traditional folded to Simplified, punctuation, symbols and spaces removed (MinHash's
``normalise``), then every digit masked as 0, so "第3页" and "第12页", or a footer that carries the
year, count as one line.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection
from typing import NamedTuple

import numpy as np

from stages.minhash.signatures import normalise

SENTENCE_END = re.compile(r"[。！？；…!?;]+[”’」』）)\"']*")
"""A sentence's end: its closing marks, then any closing quotes or brackets, which stay with it."""
_DIGIT = re.compile(r"\d")


class Unit(NamedTuple):
    start: int
    """Character offset of the unit in the text."""
    end: int
    """Offset just past it (its line break not included)."""
    line: int
    """Number of its line in ``text.split("\\n")``."""


def split_units(text: str, max_unit_chars: int) -> list[Unit]:
    """The units of ``text`` in order: its lines (without their breaks), those longer than
    ``max_unit_chars`` cut after each sentence end; blank pieces are left out."""
    units: list[Unit] = []
    start = 0
    for number, line in enumerate(text.split("\n")):
        end = start + len(line)
        if len(line) > max_unit_chars:
            units.extend(_sentences(line, start, number))
        elif line.strip():
            units.append(Unit(start, end, number))
        start = end + 1
    return units


def _sentences(line: str, offset: int, number: int) -> list[Unit]:
    pieces = []
    begin = 0
    for found in SENTENCE_END.finditer(line):
        pieces.append((begin, found.end()))
        begin = found.end()
    pieces.append((begin, len(line)))
    return [Unit(offset + a, offset + b, number) for a, b in pieces if line[a:b].strip()]


def normalise_unit(text: str) -> str:
    """The form two units must share to be the same line."""
    return _DIGIT.sub("0", normalise(text))


def unit_hash(normalised: str) -> int:
    """A 64-bit hash of a normalised unit (collisions: ~1 in 10^19 per pair of distinct lines)."""
    return int.from_bytes(hashlib.blake2b(normalised.encode("utf-8"), digest_size=8).digest(), "little")


def unit_hashes(
    text: str, units: list[Unit], min_chars: int, skip_lines: Collection[int] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """The hashes of the units whose normalised form has at least ``min_chars`` characters other
    than masked digits, and the positions of those units in ``units``: shorter ones (a date,
    "更多", a phone number, a price) are never counted, so never removed; neither are the units of
    the lines numbered in ``skip_lines``."""
    hashes, kept = [], []
    for position, unit in enumerate(units):
        if unit.line in skip_lines:
            continue
        normalised = normalise_unit(text[unit.start : unit.end])
        if len(normalised) - normalised.count("0") >= min_chars:
            hashes.append(unit_hash(normalised))
            kept.append(position)
    return np.array(hashes, dtype=np.uint64), np.array(kept, dtype=np.int64)


def sentence_flags(text: str, units: list[Unit], positions: np.ndarray) -> np.ndarray:
    """For the units at ``positions``: whether each holds a sentence end (its normalised form has
    none, so this is read from the text). One without (a headline, a link, a label, a row of
    navigation) is held to the lower ``min_pages_unpunctuated``."""
    return np.array(
        [SENTENCE_END.search(text, units[p].start, units[p].end) is not None for p in positions.tolist()], dtype=bool
    )


def remove_units(text: str, units: list[Unit], positions: np.ndarray) -> str:
    """``text`` without the units at ``positions``; a line they leave blank goes with its break,
    every other line (blank ones included) stays as it was."""
    if not len(positions):
        return text
    cut = sorted(units[p] for p in positions.tolist())
    lines, out, start, i = text.split("\n"), [], 0, 0
    for line in lines:
        end = start + len(line)
        pieces, cursor, touched = [], start, False
        while i < len(cut) and cut[i].start < end + 1:
            pieces.append(text[cursor : cut[i].start])
            cursor, touched, i = cut[i].end, True, i + 1
        pieces.append(text[cursor:end])
        kept = "".join(pieces)
        if not (touched and not kept.strip()):
            out.append(kept)
        start = end + 1
    return "\n".join(out)
