"""Character classes of the CJK scripts, shared by the stages that count them."""

from __future__ import annotations

import functools
import re

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
KANA = re.compile(r"[\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
CJK = re.compile(HAN.pattern[:-1] + KANA.pattern[1:-1] + HANGUL.pattern[1:])


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
