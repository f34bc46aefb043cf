"""Character classes of the CJK scripts, shared by the stages that count them."""

from __future__ import annotations

import functools
import re

import numpy as np

HAN_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F))
KANA_RANGES = ((0x3040, 0x309F), (0x30A0, 0x30FF), (0x31F0, 0x31FF), (0xFF66, 0xFF9F))
HANGUL_RANGES = ((0xAC00, 0xD7AF), (0x1100, 0x11FF), (0x3130, 0x318F))


def _character_class(*ranges: tuple[int, int]) -> re.Pattern[str]:
    return re.compile("[" + "".join(f"{re.escape(chr(low))}-{re.escape(chr(high))}" for low, high in ranges) + "]")


HAN = _character_class(*HAN_RANGES)
KANA = _character_class(*KANA_RANGES)
HANGUL = _character_class(*HANGUL_RANGES)
CJK = _character_class(*HAN_RANGES, *KANA_RANGES, *HANGUL_RANGES)


def in_ranges(codepoints: np.ndarray, ranges: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Mask of the code points inside any of the inclusive ranges."""
    mask = np.zeros(len(codepoints), dtype=bool)
    for low, high in ranges:
        mask |= (codepoints >= low) & (codepoints <= high)
    return mask


@functools.lru_cache(maxsize=1)
def _bmp_han_table() -> np.ndarray:
    return in_ranges(np.arange(0x10001, dtype=np.uint32), HAN_RANGES[:-1])


def han_mask(codepoints: np.ndarray) -> np.ndarray:
    """Mask of the Han characters: one table lookup in the BMP (the table's last slot stands
    for everything beyond it), a range test for the supplementary-plane extensions."""
    mask = _bmp_han_table().take(codepoints, mode="clip")
    beyond = np.flatnonzero(codepoints > 0xFFFF)
    if len(beyond):
        low, high = HAN_RANGES[-1]
        mask[beyond] = (codepoints[beyond] >= low) & (codepoints[beyond] <= high)
    return mask


@functools.lru_cache(maxsize=1)
def script_tables() -> tuple[np.ndarray, np.ndarray]:
    """``script_sets`` as boolean lookup tables over the BMP."""
    simplified, traditional = script_sets()
    tables = np.zeros((2, 0x10000), dtype=bool)
    tables[0, [ord(c) for c in simplified]] = True
    tables[1, [ord(c) for c in traditional]] = True
    return tables[0], tables[1]


@functools.lru_cache(maxsize=1)
def script_sets() -> tuple[frozenset[str], frozenset[str]]:
    """Han characters encodable only in GB2312 (Simplified) and only in Big5 (Traditional)."""
    simplified, traditional = set(), set()
    for code in range(0x4E00, 0xA000):
        char = chr(code)
        in_gb = encodable(char, "gb2312")
        in_big5 = encodable(char, "big5")
        if in_gb and not in_big5:
            simplified.add(char)
        elif in_big5 and not in_gb:
            traditional.add(char)
    return frozenset(simplified), frozenset(traditional)


def encodable(text: str, codec: str) -> bool:
    """Whether ``text`` can be encoded with ``codec``."""
    try:
        text.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def chinese_script(text: str) -> str:
    """``Hant`` when Traditional-only characters outnumber Simplified-only ones, else ``Hans``."""
    simplified, traditional = script_sets()
    hans = sum(1 for c in text if c in simplified)
    hant = sum(1 for c in text if c in traditional)
    return "Hant" if hant > hans else "Hans"
