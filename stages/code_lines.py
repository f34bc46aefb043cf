"""Which lines of a text are source code: the lines of Markdown code fences (fences included),
and lines that read as code (ending in ``;``/``{``/``}``, starting with a closing bracket, a
keyword such as ``import``/``const``/``def``, or a comment marker, holding ``=>``/``===``/``&&``,
or one lone markup tag). A line with Han characters is prose unless it ends like a statement or
starts with a comment marker.

``policy`` measures how much of a page is code; ``line_dedup`` leaves code lines alone (an idiom
such as ``import { useState } from 'react';`` repeats across a site's pages as content, not as
boilerplate).
"""

from __future__ import annotations

import re

import numpy as np

from stages._text_kernels import code_line_candidates
from stages.cjk import HAN

FENCE = re.compile(r"^\s*(```|~~~)")
CODE_LINE = re.compile(
    r"[;{}]\s*$"  # statement ends and blocks
    r"|^\s*[}\])]"  # closing brackets
    r"|^\s*(?:import|from\s+\S+\s+import|export|const|let|var|function|def|class|return|public|private|protected|static|package|using|#include|#define)\b"
    r"|^\s*(?://|/\*|\*/|#!|<!--)"  # comment markers
    r"|=>|===|!==|&&|\|\||::|\(\)\s*[;{]"
    r"|^\s*</?[A-Za-z][\w.:-]*(?:\s[^<>]*)?/?>\s*$"  # a line that is one markup tag
)


def code_line_numbers(text: str) -> tuple[int, list[int]]:
    """The characters of the text's stripped lines, and the numbers (in ``text.split("\\n")``) of
    its non-blank code lines, in order."""
    total, candidates = code_line_candidates(text)
    if not total:
        return 0, []
    has_fences = "```" in text or "~~~" in text
    if not candidates and not has_fences:
        return total, []
    lines = text.split("\n")
    # A fence turns every line up to the next one into code; otherwise only the lines that can
    # match CODE_LINE (found in C) are looked at.
    numbers = range(len(lines)) if has_fences else np.frombuffer(candidates, dtype=np.int64).tolist()
    code = []
    fenced = False
    for number in numbers:
        line = lines[number]
        stripped = line.strip()
        if not stripped:
            continue
        if has_fences and FENCE.match(line):
            fenced = not fenced
            code.append(number)
        elif fenced or (
            CODE_LINE.search(line)
            # Chinese prose does not end a line with ; { } nor start it with a comment marker; a
            # Chinese line with a code-like middle (a && b) is prose.
            and (not HAN.search(line) or stripped.endswith((";", "{", "}")) or stripped.startswith(("//", "/*", "#")))
        ):
            code.append(number)
    return total, code


def code_share(text: str) -> float:
    """Share of the characters of the (stripped) lines that are in code lines."""
    total, numbers = code_line_numbers(text)
    if not numbers:
        return 0.0
    lines = text.split("\n")
    return sum(len(lines[number].strip()) for number in numbers) / total
