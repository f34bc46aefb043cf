"""Near-duplicate sets built from real Chinese news with controlled edits (tests and benchmarks).

Each original is a People's Daily 1998 article (../shared/data/zh_text); each
copy applies one kind of edit at a chosen strength. The true Jaccard similarity
of a pair is measured on the shingle sets the MinHash stage itself uses.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

EDITS = ("insert", "delete", "substitute", "shuffle", "boilerplate", "traditional")
BOILERPLATE_LINES = (
    "首页 | 新闻 | 国内 | 国际 | 评论",
    "版权所有 © 1998 人民日报社",
    "责任编辑：王明",
    "分享到：微信 微博 QQ空间",
    "上一篇：返回首页",
)


@dataclass(frozen=True)
class Copy:
    original: int
    """Index of the original document."""
    edit: str
    strength: float
    text: str


def _sentences(text: str) -> list[str]:
    parts, current = [], ""
    for char in text:
        current += char
        if char in "。！？\n":
            parts.append(current)
            current = ""
    return parts + ([current] if current else [])


def edited(text: str, edit: str, strength: float, rng: random.Random, donor: str) -> str:
    """``text`` with one kind of edit; ``strength`` (0..1) is the share of the text touched."""
    if edit == "insert":
        sentences, extra = _sentences(text), _sentences(donor)
        for _ in range(max(1, round(strength * len(sentences)))):
            sentences.insert(rng.randrange(len(sentences) + 1), rng.choice(extra))
        return "".join(sentences)
    if edit == "delete":
        sentences = _sentences(text)
        for _ in range(min(len(sentences) - 1, max(1, round(strength * len(sentences))))):
            sentences.pop(rng.randrange(len(sentences)))
        return "".join(sentences)
    if edit == "substitute":
        chars = list(text)
        han = [i for i, c in enumerate(chars) if "\u4e00" <= c <= "\u9fff"]
        for i in rng.sample(han, max(1, round(strength * len(han)))):
            chars[i] = chr(rng.randrange(0x4E00, 0x9FA6))
        return "".join(chars)
    if edit == "shuffle":
        paragraphs = text.split("\n")
        rng.shuffle(paragraphs)
        return "\n".join(paragraphs)
    if edit == "boilerplate":
        lines = rng.sample(BOILERPLATE_LINES, k=min(len(BOILERPLATE_LINES), max(1, round(strength * 10))))
        return "\n".join(lines[: len(lines) // 2] + [text] + lines[len(lines) // 2 :])
    if edit == "traditional":
        from stages.to_simplified import converter

        return converter("s2t").convert(text)
    raise ValueError(f"unknown edit {edit!r}")


def near_duplicate_set(
    originals: list[str],
    copies_per_original: int,
    seed: int = 0,
    strengths: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.35),
) -> list[Copy]:
    """For each original, ``copies_per_original`` edited copies of random kinds and strengths."""
    rng = random.Random(seed)
    copies = []
    for index, text in enumerate(originals):
        for _ in range(copies_per_original):
            edit, strength = rng.choice(EDITS), rng.choice(strengths)
            donor = originals[rng.randrange(len(originals))]
            copies.append(Copy(index, edit, strength, edited(text, edit, strength, rng, donor)))
    return copies
