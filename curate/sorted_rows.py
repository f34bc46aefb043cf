"""Looking up a batch's row numbers in a sorted list of row numbers (decisions, flags)."""

from __future__ import annotations

import numpy as np


def find_sorted(sorted_rows: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``rows``: its position in ``sorted_rows`` and whether it is there."""
    position = np.searchsorted(sorted_rows, rows)
    inside = position < len(sorted_rows)
    found = np.zeros(len(rows), dtype=bool)
    found[inside] = sorted_rows[position[inside]] == rows[inside]
    return position, found
