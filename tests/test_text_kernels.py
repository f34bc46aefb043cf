"""The C loops of stages/_text_kernels.c, each held to a plain Python reference on real text and edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import common_crawl_chinese_pages, peoples_daily_documents

from stages._text_kernels import char_entropy, code_line_candidates, edge_lines, sentence_ends, sentence_lines
from stages.cjk import HAN
from stages.code_lines import CODE_LINE, FENCE, code_share
from stages.fineweb_quality import _SENTENCE_TABLE, SENTENCE_LINE
from stages.gopher_quality import BULLETS
from stages.words import lines as stripped_lines

EDGES = [
    "",
    " ",
    "\n",
    "\n\n",
    "a",
    ".",
    "a.",
    "3.5",
    "a. b. c.",
    ".x",
    "Dr. Who! 好。。。",
    "x.\u3000y",
    "𠀀. 中𠀁",
    "• x\n  - y ...\n…\n..\n.. .",
    "a\r\nb\rc\x0bd\u2028e\x85f",
    "x\r\n",
    "  a = 1;\n```\nx\n```\n中文 && 中文",
    "\u3000int x;\u3000\n\x1c}",
    "İSTANBUL ab",
    "中文（注释）\n// 注释\nconst a = f();\n<div>\n</div>",
]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    pages = [p["text"] for p in common_crawl_chinese_pages() if p["text"]]
    return peoples_daily_documents(200) + pages + EDGES


def reference_entropy(text: str) -> tuple[int, float]:
    counts = np.unique(np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32), return_counts=True)[1]
    shares = counts / counts.sum() if len(counts) else counts
    return len(counts), float(-(shares * np.log2(shares)).sum()) if len(counts) else 0.0


def reference_sentence_ends(text: str) -> int:
    ends = [
        c in "。！？!?…"
        or (
            c == "."
            and i > 0
            and (text[i - 1].isalnum() or ord(text[i - 1]) > 0xFFFF)
            and (i + 1 == len(text) or text[i + 1].isspace())
        )
        for i, c in enumerate(text)
    ]
    return sum(1 for i, end in enumerate(ends) if end and (i == 0 or not ends[i - 1]))


def reference_edge_lines(text: str) -> tuple[int, int, int]:
    lines = text.splitlines() or [""]
    return (
        len(lines),
        sum(line.lstrip().startswith(BULLETS) for line in lines),
        sum(line.rstrip().endswith(("...", "…")) for line in lines),
    )


def reference_code_share(text: str) -> float:
    total = code = 0
    fenced = False
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped:
            continue
        total += len(stripped)
        if FENCE.match(line):
            fenced = not fenced
            code += len(stripped)
        elif fenced or (
            CODE_LINE.search(line)
            and (not HAN.search(line) or stripped.endswith((";", "{", "}")) or stripped.startswith(("//", "/*", "#")))
        ):
            code += len(stripped)
    return code / total if total else 0.0


def test_character_entropy_and_distinct_characters(texts: list[str]) -> None:
    for text in texts:
        distinct, entropy = char_entropy(np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32))
        expected = reference_entropy(text)
        assert distinct == expected[0] and entropy == pytest.approx(expected[1], abs=1e-9), text[:40]


def test_sentence_ends_sentence_lines_and_edge_lines(texts: list[str]) -> None:
    for text in texts:
        assert sentence_ends(text) == reference_sentence_ends(text), text[:40]
        assert edge_lines(text) == reference_edge_lines(text), text[:40]
        lines = stripped_lines(text)
        assert [bool(b) for b in sentence_lines(lines, _SENTENCE_TABLE)] == [
            SENTENCE_LINE.search(line) is not None for line in lines
        ], text[:40]


def test_code_lines(texts: list[str]) -> None:
    for text in texts:
        assert code_share(text) == pytest.approx(reference_code_share(text), abs=1e-12), text[:40]
        total, _ = code_line_candidates(text)
        assert total == sum(len(line.strip()) for line in text.split("\n")), text[:40]


def test_kernels_refuse_what_they_cannot_read() -> None:
    with pytest.raises(ValueError):
        char_entropy(b"abc")  # not whole uint32 values
    with pytest.raises(TypeError):
        sentence_lines([1], _SENTENCE_TABLE)
    with pytest.raises(ValueError):
        sentence_lines(["a"], b"short")
    with pytest.raises(TypeError):
        edge_lines(b"bytes")


def test_phrase_matching_lowers_past_the_bmp_as_python_does() -> None:
    from stages.phrase_matcher import PhraseMatcher

    # Deseret has case past the BMP: 𐐀 lowers to 𐐨, as str.lower has it.
    assert "𐐀".lower() == "𐐨"
    assert PhraseMatcher(["𐐨𐐨", "ab"]).find("x𐐀𐐀AB") == [(1, "𐐨𐐨"), (3, "ab")]
