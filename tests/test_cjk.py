"""Han character classes: the table lookup agrees with the regex over every code point."""

from __future__ import annotations

import numpy as np

from stages.cjk import HAN, han_mask


def test_han_mask_equals_the_han_regex_everywhere() -> None:
    codepoints = np.arange(0x110000, dtype=np.uint32)
    codepoints = codepoints[(codepoints < 0xD800) | (codepoints > 0xDFFF)]  # surrogates are no characters
    expected = np.array([bool(HAN.match(chr(c))) for c in codepoints.tolist()])
    assert np.array_equal(han_mask(codepoints), expected)
    assert han_mask(np.zeros(0, dtype=np.uint32)).shape == (0,)
