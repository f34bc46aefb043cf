"""Writing a benchmark's result: JSON under benchmarks/results/, echoed to the terminal."""

from __future__ import annotations

import json
import os
from typing import Any


def write_result(path: str, result: dict[str, Any]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
        handle.write("\n")
    print(json.dumps(result, indent=2))
